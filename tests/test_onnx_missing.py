"""Without the 'onnx' extra, ``tconv.onnx`` imports, and each entry point says what to
install (the core stays NumPy-only); ``tconv onnx`` reports it in one line."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

import tconv
import tconv.onnx
from tconv.onnx import _proto
from test_cli_hostile import assert_fails_in_one_line


@pytest.fixture
def no_onnx(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def import_module(name: str, package: str | None = None) -> object:
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError(f"No module named {name!r}")
        return real(name, package)

    monkeypatch.setattr(_proto.importlib, "import_module", import_module)


def test_entry_points_name_the_extra(no_onnx: None, tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"")
    for call in (
        lambda: tconv.onnx.load(path),
        lambda: tconv.onnx.check(path),
        lambda: tconv.onnx.export(tconv.nn.ReLU(), np.zeros((1, 2), np.float32)),
    ):
        with pytest.raises(ImportError, match=r"pip install 'tconv\[onnx\]'"):
            call()
    assert "ConvTranspose" in tconv.onnx.supported_ops()  # needs nothing


def test_cli_says_so_in_one_line(no_onnx: None, tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"")
    np.save(tmp_path / "x.npy", np.zeros(2))
    for argv in (["onnx", "info", str(path)],
                 ["onnx", "run", str(path), "--input", str(tmp_path / "x.npy")]):  # fmt: skip
        line = assert_fails_in_one_line(argv)
        assert "tconv[onnx]" in line
