"""``tconv onnx info`` and ``tconv onnx run``: what they print and write, and bad files
and arguments reported in one line (the rule of tests/test_cli_hostile.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from helpers import rel_err
from test_cli_hostile import assert_fails_in_one_line, call

pytestmark = pytest.mark.slow
onnx = pytest.importorskip("onnx")

import tconv  # noqa: E402
from tconv.autograd import unwrap  # noqa: E402
from tconv.onnx import export  # noqa: E402


@pytest.fixture
def model(tmp_path: Path) -> tuple[Path, tconv.nn.Module, np.ndarray]:
    net = tconv.nn.Sequential(tconv.nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1),
                              tconv.nn.ReLU())  # fmt: skip
    x = np.random.default_rng(0).standard_normal((2, 4, 3, 3)).astype(np.float32)
    path = tmp_path / "net.onnx"
    export(net, x, path)
    return path, net, x


def test_info(model: tuple) -> None:
    path, net, _ = model
    code, out, err, _ = call(["onnx", "info", str(path)])
    assert code == 0 and not err
    n_params = sum(p.size for p in net.state_dict().values())
    assert f"parameters: {n_params:,}" in out
    assert "input  tensor(float)  [batch, 4, 3, 3]" in out
    assert "output  tensor(float)  [batch, 2, 6, 6]" in out
    assert "ConvTranspose x1, Relu x1" in out
    assert "tconv can run it: yes" in out


def test_info_names_what_tconv_cannot_run(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Erf", ["x"], ["y"], name="e")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])  # fmt: skip
    path = tmp_path / "erf.onnx"
    onnx.save(helper.make_model(g), str(path))
    code, out, _, _ = call(["onnx", "info", str(path)])
    assert code == 0 and "tconv can run it: no" in out and "'e': op Erf" in out


def test_run(model: tuple, tmp_path: Path) -> None:
    path, net, x = model
    np.save(tmp_path / "x.npy", x.astype(np.float64))  # converted to the model's float32
    code, out, err, _ = call(["onnx", "run", str(path), "--input", str(tmp_path / "x.npy"),
                              "--output", str(tmp_path / "y.npy")])  # fmt: skip
    assert code == 0 and not err, err
    y = np.load(tmp_path / "y.npy")
    assert y.dtype == np.float32 and rel_err(y, np.asarray(unwrap(net(x)))) <= 1e-6
    code, out, _, _ = call(["onnx", "run", str(path), "--input", f"input={tmp_path / 'x.npy'}",
                            "--output", str(tmp_path / "all.npz")])  # fmt: skip
    assert code == 0 and set(np.load(tmp_path / "all.npz").files) == {"output"}
    code, out, _, _ = call(["onnx", "run", str(path), "--input", str(tmp_path / "x.npy")])
    assert code == 0 and "output: shape (2, 2, 6, 6), float32, range [" in out


def test_bad_files_and_arguments(model: tuple, tmp_path: Path) -> None:
    path, _, x = model
    (tmp_path / "text.onnx").write_text("not a model")
    (tmp_path / "text.npy").write_text("not an array")
    np.save(tmp_path / "wrong.npy", np.zeros((2, 5, 3, 3), np.float32))
    np.save(tmp_path / "x.npy", x)
    good = str(tmp_path / "x.npy")
    cases = [
        (["onnx"], 2),
        (["onnx", "info"], 2),
        (["onnx", "info", str(tmp_path / "missing.onnx")], 2),
        (["onnx", "info", str(tmp_path)], 2),
        (["onnx", "info", "/dev/null"], 2),
        (["onnx", "info", str(tmp_path / "text.onnx")], 1),
        (["onnx", "run", str(path)], 2),
        (["onnx", "run", str(tmp_path / "text.onnx"), "--input", good], 1),
        (["onnx", "run", str(path), "--input", str(tmp_path / "text.npy")], 2),
        (["onnx", "run", str(path), "--input", str(tmp_path / "none.npy")], 2),
        (["onnx", "run", str(path), "--input", good, "--input", good], 2),
        (["onnx", "run", str(path), "--input", str(tmp_path / "wrong.npy")], 1),
        (["onnx", "run", str(path), "--input", good, "--output", "y.txt"], 2),
        (["onnx", "run", str(path), "--input", good, "--output", "/proc/x/y.npy"], 1),
    ]
    for argv, status in cases:
        line = assert_fails_in_one_line(argv)
        code = call(argv)[0]
        assert code == status, (argv, code, line)


def test_help_has_examples() -> None:
    for argv in (["onnx", "--help"], ["onnx", "info", "--help"], ["onnx", "run", "--help"]):
        code, out, _, _ = call(argv)
        assert code == 0 and "examples:" in out and "tconv onnx" in out
