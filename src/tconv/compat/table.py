"""The porting guide's disagreement table, measured: what output size and crop each framework's
named paddings give for a transposed convolution, on a grid of ``(k, s, d, L)`` that
covers ``k_eff < s``, ``k_eff == s`` and ``k_eff > s``.

Each entry is measured by running the framework itself (TensorFlow, Keras, JAX,
onnxruntime, onnx's reference implementation, tconv): a 1-D layer with integer-valued
random input and kernel, whose output is matched against the full output
``(L - 1) s + k_eff`` of the same layer; the offset that matches is the crop at the
start. ``python -m tconv.compat.table`` prints the table; ``--write FILE`` replaces the
table between FILE's markers; ``--check FILE`` exits 1 when FILE's table is stale. The
table lives in ``docs/guides/porting.md``; a test checks it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import functional as F

__all__ = ["COLUMNS", "GRID", "main", "markdown", "measure"]

# (k, s, d, L): k_eff < s, == s and > s, odd and even totals, a dilation.
GRID: list[tuple[int, int, int, int]] = [
    (1, 2, 1, 5),
    (1, 3, 1, 4),
    (2, 3, 1, 5),
    (3, 4, 1, 4),
    (2, 2, 1, 5),
    (3, 3, 1, 4),
    (3, 2, 1, 5),
    (4, 2, 1, 7),
    (5, 2, 1, 4),
    (5, 3, 1, 4),
    (2, 3, 2, 5),
    (3, 2, 2, 5),
]
"""The measured ``(k, s, d, L)`` cases: effective kernel below, equal to and above the
stride, odd and even totals, a dilation."""
COLUMNS = [
    "TF SAME",
    "TF VALID",
    "Keras same",
    "Keras valid",
    "JAX SAME",
    "JAX VALID",
    "ONNX SAME_UPPER (spec)",
    "ONNX SAME_LOWER (spec)",
    "ORT SAME_UPPER",
    "ORT SAME_LOWER",
    "tconv 'same'",
]
"""The table's measured columns: each framework's named paddings, and tconv's 'same'."""
START, END = "<!-- compat-table:start -->", "<!-- compat-table:end -->"


def _crop(y: np.ndarray, full: np.ndarray) -> str:
    """``out [lo, hi]``: the offset at which ``y`` is ``full``, zeros outside it."""
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    n, f = len(y), len(full)
    for lo in range(-n, f + 1):
        j = np.arange(n) + lo
        inside = (j >= 0) & (j < f)
        ref = np.where(inside, full[np.clip(j, 0, f - 1)], 0.0)
        if np.array_equal(y, ref):
            return f"{n} [{lo},{f - lo - n}]"
    return f"{n} [no match]"


def _runners() -> dict[str, Callable[..., np.ndarray]]:
    """One function per column: (x, w, k, s, d, L) -> the framework's 1-D output, where
    ``w`` is PyTorch's weight of shape (k,)."""
    import jax
    import keras
    import onnx
    import onnxruntime as ort
    import tensorflow as tf
    from onnx import helper
    from onnx import reference as onnx_reference

    # The frameworks' own type hints (jax's Array, onnx's) are not NumPy's: Any here.
    lax: Any = jax.lax
    reference: Any = onnx_reference

    def tf_run(pad: str) -> Callable[..., np.ndarray]:
        def run(x: np.ndarray, w: np.ndarray, k: int, s: int, d: int, L: int) -> np.ndarray:
            e = d * (k - 1) + 1
            out = L * s if pad == "SAME" else (L - 1) * s + e
            y = tf.nn.conv1d_transpose(
                x.reshape(1, L, 1), w.reshape(k, 1, 1), [1, out, 1], s, pad, dilations=d
            )
            return np.asarray(y)

        return run

    def keras_run(pad: str) -> Callable[..., np.ndarray]:
        def run(x: np.ndarray, w: np.ndarray, k: int, s: int, d: int, L: int) -> np.ndarray:
            y = keras.ops.conv_transpose(
                x.reshape(1, L, 1), w.reshape(k, 1, 1), s, pad, dilation_rate=d
            )
            return np.asarray(y)

        return run

    def jax_run(pad: str) -> Callable[..., np.ndarray]:
        def run(x: np.ndarray, w: np.ndarray, k: int, s: int, d: int, L: int) -> np.ndarray:
            # JAX does not mirror the kernel: PyTorch's weight, mirrored.
            y = lax.conv_transpose(
                x.reshape(1, L, 1), w[::-1].reshape(k, 1, 1), (s,), pad, rhs_dilation=(d,)
            )
            return np.asarray(y)

        return run

    def onnx_model(auto_pad: str, k: int, s: int, d: int, L: int) -> Any:
        node = helper.make_node(
            "ConvTranspose", ["X", "W"], ["Y"], auto_pad=auto_pad, strides=[s], dilations=[d]
        )
        f32 = onnx.TensorProto.FLOAT
        graph = helper.make_graph(
            [node],
            "g",
            [
                helper.make_tensor_value_info("X", f32, [1, 1, L]),
                helper.make_tensor_value_info("W", f32, [1, 1, k]),
            ],
            [helper.make_tensor_value_info("Y", f32, None)],
        )
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])

    def onnx_run(auto_pad: str, spec: bool) -> Callable[..., np.ndarray]:
        def run(x: np.ndarray, w: np.ndarray, k: int, s: int, d: int, L: int) -> np.ndarray:
            model = onnx_model(auto_pad, k, s, d, L)
            feed = {"X": x.reshape(1, 1, L), "W": w.reshape(1, 1, k)}
            if spec:
                return np.asarray(reference.ReferenceEvaluator(model).run(None, feed)[0])
            sess = ort.InferenceSession(
                model.SerializeToString(), providers=["CPUExecutionProvider"]
            )
            return np.asarray(sess.run(None, feed)[0])

        return run

    def tconv_same(x: np.ndarray, w: np.ndarray, k: int, s: int, d: int, L: int) -> np.ndarray:
        return np.asarray(
            F.conv_transpose1d(x.reshape(1, 1, L), w.reshape(1, 1, k), None, s, "same", 0, 1, d)
        )

    runs = [
        tf_run("SAME"),
        tf_run("VALID"),
        keras_run("same"),
        keras_run("valid"),
        jax_run("SAME"),
        jax_run("VALID"),
        onnx_run("SAME_UPPER", True),
        onnx_run("SAME_LOWER", True),
        onnx_run("SAME_UPPER", False),
        onnx_run("SAME_LOWER", False),
        tconv_same,
    ]
    return dict(zip(COLUMNS, runs))


def measure(
    grid: Sequence[tuple[int, int, int, int]] = GRID, progress: bool = False
) -> list[list[str]]:
    """One row per ``(k, s, d, L)``: the geometry, then ``out [lo, hi]`` per column (the
    crop at the start and at the end; negative: zeros), or why the framework refused."""
    runners = _runners()
    rng = np.random.default_rng(0)
    rows = []
    for k, s, d, L in grid:
        x = rng.integers(1, 10, L).astype(np.float32)
        w = rng.integers(1, 10, k).astype(np.float32)
        full = np.asarray(F.conv_transpose1d(x.reshape(1, 1, L), w.reshape(1, 1, k), None, s,
                                             0, 0, 1, d)).reshape(-1)  # fmt: skip
        e = d * (k - 1) + 1
        rel = "<" if e < s else ("=" if e == s else ">")
        row = [str(k), str(s), str(d), str(L), f"{e} {rel} {s}", str(len(full))]
        for run in runners.values():
            try:
                row.append(_crop(run(x, w, k, s, d, L), full))
            except Exception as exc:  # a framework's refusal is a measurement too
                row.append(f"error ({type(exc).__name__})")
        rows.append(row)
        if progress:
            print(f"measured {len(rows)}/{len(grid)}: k={k} s={s} d={d} L={L}", file=sys.stderr)
    return rows


def markdown(rows: list[list[str]]) -> str:
    """The table, with its legend, between its markers (as ``docs/guides/porting.md`` has it)."""
    head = ["k", "s", "d", "L", "k_eff vs s", "full", *COLUMNS]
    lines = [
        START,
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        "Each entry: output size `[crop at the start, crop at the end]` of the full output "
        "`(L-1)s + k_eff` (negative: zeros added). TF is given `output_shape` `L*s` (SAME) or "
        "`(L-1)s + k_eff` (VALID); ONNX (spec) is onnx's reference implementation, ORT is "
        "onnxruntime. Where `k_eff >= s` every SAME agrees; where `k_eff < s` there are three "
        "behaviours: zeros at the end (TF, Keras, JAX, ONNX SAME_LOWER, tconv), the spec's "
        "`total // 2` at the start (ONNX SAME_UPPER), and no padding at all (onnxruntime). "
        "`tconv.compat` follows each framework's spec; generated by `python -m "
        "tconv.compat.table --write docs/guides/porting.md` from the frameworks themselves "
        "(versions pinned in the `compat` extra); a test fails when this table is stale.",
        END,
    ]
    return "\n".join(lines)


def _replace(text: str, table: str) -> str:
    if START not in text or END not in text:
        raise ValueError(f"the file has no {START} ... {END} markers")
    before, rest = text.split(START, 1)
    return before + table + rest.split(END, 1)[1]


def main(argv: list[str] | None = None) -> int:
    """``python -m tconv.compat.table``: print the table, ``--write FILE`` or ``--check FILE``.

    The table goes between the markers ``<!-- compat-table:start -->`` and
    ``<!-- compat-table:end -->`` of FILE; ``--check`` exits 1 when FILE's table differs
    from a fresh measurement. Needs the frameworks (the ``compat`` extra).
    """
    parser = argparse.ArgumentParser(
        prog="python -m tconv.compat.table",
        description="Measure the frameworks' transposed-convolution sizes and crops.",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path, help="replace the table in this Markdown file")
    group.add_argument("--check", type=Path, help="exit 1 if this file's table is stale")
    args = parser.parse_args(argv)
    table = markdown(measure(progress=True))
    if args.write:
        args.write.write_text(_replace(args.write.read_text(), table))
    elif args.check:
        text = args.check.read_text()
        if _replace(text, table) != text:
            print(f"{args.check}: the compat table is stale; run python -m tconv.compat.table "
                  f"--write {args.check}", file=sys.stderr)  # fmt: skip
            return 1
    else:
        print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
