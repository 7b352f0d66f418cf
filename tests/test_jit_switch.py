"""The switch between the NumPy kernels and the optional numba kernels, and the
public ops through both: the same results (and PyTorch's) either way."""

from __future__ import annotations

import numpy as np
import pytest

import tconv
import tconv.functional as F
from helpers import rel_err
from tconv.kernels import _jit, _numba, tuning
from tconv.kernels import settings as _config

# depthwise layers (groups = channels), the ones the numba kernels take
CASES = [
    ("conv_transpose1d", (2, 3, 9), (3, 1, 4), dict(stride=2, padding=1, groups=3)),
    ("conv_transpose2d", (2, 4, 5, 6), (4, 1, 4, 4), dict(stride=2, padding=1, groups=4)),
    ("conv_transpose2d", (1, 2, 5, 4), (2, 1, 3, 2), dict(stride=(3, 1), dilation=2, groups=2)),
    ("conv_transpose3d", (2, 2, 3, 4, 5), (2, 1, 2, 3, 2), dict(stride=2, groups=2)),
    ("conv1d", (2, 3, 11), (3, 1, 5), dict(stride=2, padding=2, groups=3)),
    ("conv2d", (2, 4, 9, 8), (4, 1, 3, 3), dict(stride=2, padding=1, groups=4)),
    ("conv3d", (1, 2, 5, 6, 4), (2, 1, 3, 2, 2), dict(padding=1, dilation=(1, 2, 1), groups=2)),
]


def test_set_jit_takes_a_bool_and_the_context_restores_it() -> None:
    before = _config.get_jit()
    with pytest.raises(TypeError, match="set_jit takes a bool"):
        _config.set_jit(1)  # type: ignore[arg-type]
    with _config.jit(False):
        assert _config.get_jit() is False
    assert _config.get_jit() == before
    assert tconv.jit_available() == _config.jit_available()


@pytest.mark.parametrize(("op", "xs", "ws", "kw"), CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_depthwise_ops_agree_with_and_without_numba(
    op, xs, ws, kw, dtype, rng, torch, monkeypatch
) -> None:
    pytest.importorskip("numba")
    monkeypatch.setattr(tuning, "JIT_MIN_SIZE", 0)  # these inputs are tiny
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[1] * kw["groups"] if "transpose" in op else ws[0]).astype(dtype)
    ref = getattr(torch.nn.functional, op)(
        torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), **kw
    ).numpy()
    tol = 1e-10 if dtype == np.float64 else 1e-5
    grads = {}
    for on in (True, False):
        with _config.jit(on):
            got = getattr(F, op)(x, w, b, **kw)
            assert got.dtype == dtype
            assert rel_err(got, ref) <= tol
            X, W, B = (tconv.tensor(a, requires_grad=True) for a in (x, w, b))
            gy = np.cos(np.arange(got.size)).reshape(got.shape).astype(dtype)
            getattr(F, op)(X, W, B, **kw).backward(gy)
            grads[on] = (X.grad, W.grad, B.grad)
    for a, c in zip(grads[True], grads[False]):
        assert rel_err(a, c) <= tol


def test_small_inputs_stay_on_numpy(monkeypatch, rng) -> None:
    """Lecture-sized calls never wait for a numba compile; large ones use it."""

    def refuse(*args, **kwargs):
        raise AssertionError("the numba kernel was called")

    monkeypatch.setattr(_jit, "depthwise_conv_transpose", refuse)
    x, w = rng.standard_normal((1, 1, 8)), rng.standard_normal((1, 1, 3))
    with _config.jit(True):
        F.conv_transpose1d(x, w, stride=2)
        if _config.get_jit():
            big = rng.standard_normal((1, 1, tuning.JIT_MIN_SIZE))
            with pytest.raises(AssertionError, match="numba kernel was called"):
                F.conv_transpose1d(big, w, stride=2)


def test_a_numba_that_does_not_import_means_numpy_not_a_crash(monkeypatch) -> None:
    import sys

    monkeypatch.setattr(_numba, "importable", lambda: True)
    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` raises ImportError
    _numba.available.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="numba is installed but does not import"):
            assert _config.jit_available() is False
        assert _config.get_jit() is False  # so conv.py keeps its NumPy kernels
    finally:
        _numba.available.cache_clear()
