"""The porting guide's disagreement table is the frameworks' measurement, and tconv.compat's
conventions predict every entry that a framework's spec defines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tconv import shapes
from tconv.compat import table
from tconv.compat.porting import conventions

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
for name in ("tensorflow", "keras", "jax", "onnx", "onnxruntime"):
    pytest.importorskip(name)

pytestmark = pytest.mark.slow

PORTING = Path(__file__).resolve().parents[1] / "docs" / "guides" / "porting.md"
# the table's columns that tconv.compat's conventions describe
NAMED = {
    "TF SAME": "tf SAME",
    "TF VALID": "tf VALID",
    "Keras same": "keras same",
    "Keras valid": "keras valid",
    "JAX SAME": "jax SAME",
    "JAX VALID": "jax VALID",
    "ONNX SAME_UPPER (spec)": "onnx SAME_UPPER",
    "ONNX SAME_LOWER (spec)": "onnx SAME_LOWER",
}


@pytest.fixture(scope="module")
def rows():
    return table.measure()


def test_porting_guide_table_is_the_measurement(rows):
    text = PORTING.read_text()
    block = text.split(table.START, 1)[1].split(table.END, 1)[0]
    assert table.START + block + table.END == table.markdown(rows), (
        "the porting guide's compat table is stale: run "
        "python -m tconv.compat.table --write docs/guides/porting.md"
    )


def test_compat_predicts_every_spec_column(rows):
    for (k, s, d, L), row in zip(table.GRID, rows):
        entries = dict(zip(table.COLUMNS, row[6:]))
        predicted = conventions(k, s, d, L)
        for column, key in NAMED.items():
            (out,), ((lo, hi),) = predicted[key]
            assert entries[column] == f"{out} [{lo},{hi}]", (k, s, d, L, column)
        lo, hi = shapes.conv_transpose_same_padding(k, stride=s, dilation=d)
        assert entries["tconv 'same'"] == f"{L * s} [{lo},{hi}]"


def test_three_behaviours_where_the_kernel_is_shorter_than_the_stride(rows):
    """k_eff < s: zeros at the end (TF), ONNX SAME_UPPER's spec puts them first, and
    onnxruntime pads nothing (L s - (s - k_eff) elements)."""
    for (k, s, d, L), row in zip(table.GRID, rows):
        e = d * (k - 1) + 1
        entries = dict(zip(table.COLUMNS, row[6:]))
        if e < s:
            assert (
                len(
                    {
                        entries["TF SAME"],
                        entries["ONNX SAME_UPPER (spec)"],
                        entries["ORT SAME_UPPER"],
                    }
                )
                == 3
            )
            assert entries["ORT SAME_UPPER"] == f"{(L - 1) * s + e} [0,0]"
        else:
            same = {
                entries[c]
                for c in (
                    "TF SAME",
                    "Keras same",
                    "JAX SAME",
                    "ONNX SAME_UPPER (spec)",
                    "ORT SAME_UPPER",
                    "tconv 'same'",
                )
            }
            assert len(same) == 1, (k, s, d, L)
