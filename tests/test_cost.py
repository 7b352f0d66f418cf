"""Cost follows the output and the work, not the stride, the dilation or the
input size: huge strides and dilations in 1-3 d, forward and gradients, finish
well under a second with a peak of temporaries proportional to the output,
and equal PyTorch. A "never hangs" test, not a benchmark: the bounds are generous."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tconv
import tconv.functional as F
from helpers import rel_err
from tconv.kernels import route

SECONDS = 1.0
PEAK = 10 * 2**20  # bytes of temporaries (tracemalloc) of a forward call, inputs excluded

rng = np.random.default_rng(11)


def _r(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


# (name, op, x, w, kwargs): the reported cases first
CONVS: list[tuple[str, str, np.ndarray, np.ndarray, dict[str, Any]]] = [
    ("conv2d 5x5 stride 1000", "conv2d", _r(1, 2, 5, 5), _r(3, 2, 3, 3), dict(stride=1000)),
    ("conv2d 5x5 stride 10^6", "conv2d", _r(1, 2, 5, 5), _r(3, 2, 3, 3), dict(stride=10**6)),
    ("conv_transpose1d stride 10^7", "conv_transpose1d", _r(1, 1, 1), _r(1, 1, 3),
     dict(stride=10**7)),
    ("conv_transpose1d 2->3 stride 10^7", "conv_transpose1d", _r(1, 2, 1), _r(2, 3, 3),
     dict(stride=10**7, padding=1)),
    ("conv_transpose1d two inputs stride 3*10^4", "conv_transpose1d", _r(2, 2, 2), _r(2, 3, 3),
     dict(stride=30_000, output_padding=7)),
    ("conv1d stride 10^7", "conv1d", _r(2, 3, 50), _r(4, 3, 3), dict(stride=10**7, padding=2)),
    ("conv1d depthwise stride 10^7", "conv1d", _r(1, 2, 2**16), _r(2, 1, 3),
     dict(stride=10**7, groups=2)),
    ("conv3d stride 10^4", "conv3d", _r(1, 2, 3, 3, 3), _r(3, 2, 2, 2, 2), dict(stride=10**4)),
    ("conv_transpose2d stride 10^6", "conv_transpose2d", _r(1, 2, 1, 1), _r(2, 3, 2, 3),
     dict(stride=10**6)),
    ("conv_transpose2d stride 1000", "conv_transpose2d", _r(1, 2, 2, 1), _r(2, 2, 2, 2),
     dict(stride=(1000, 7))),
    ("conv_transpose3d stride 10^6", "conv_transpose3d", _r(1, 2, 1, 1, 1), _r(2, 3, 2, 2, 2),
     dict(stride=10**6)),
    ("conv_transpose3d depthwise stride 10^5", "conv_transpose3d", _r(2, 2, 1, 1, 1),
     _r(2, 1, 2, 2, 2), dict(stride=10**5, groups=2)),
    ("conv1d input 2*10^6 stride 10^6", "conv1d", _r(1, 1, 2 * 10**6), _r(2, 1, 3),
     dict(stride=10**6)),
    ("conv2d input 1500^2 stride 700", "conv2d", _r(1, 1, 1500, 1500), _r(2, 1, 3, 3),
     dict(stride=700, padding=1)),
    ("conv1d dilation 5*10^4", "conv1d", _r(1, 2, 100_001), _r(3, 2, 3), dict(dilation=50_000)),
    ("conv1d dilation and stride 5*10^4", "conv1d", _r(1, 2, 100_001), _r(3, 2, 3),
     dict(dilation=50_000, stride=50_000)),
    ("conv2d dilation 300", "conv2d", _r(1, 1, 601, 5), _r(2, 1, 3, 2), dict(dilation=(300, 2))),
    ("conv_transpose1d dilation 5*10^4", "conv_transpose1d", _r(1, 2, 1), _r(2, 3, 3),
     dict(dilation=50_000)),
    ("conv_transpose2d dilation 10^3 stride 10^3", "conv_transpose2d", _r(1, 1, 1, 1),
     _r(1, 2, 2, 1), dict(dilation=1000, stride=1000)),
]  # fmt: skip


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, int]:
    """``fn()``, its wall time and its peak of traced allocations."""
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return out, seconds, peak


def _forward_backward(op: str, x: np.ndarray, w: np.ndarray, kw: dict[str, Any]) -> tuple:
    X, W = tconv.tensor(x, requires_grad=True), tconv.tensor(w, requires_grad=True)
    y = getattr(F, op)(X, W, **kw)
    y.backward(np.cos(np.arange(y.data.size)).reshape(y.shape))
    return y.data, X.grad, W.grad


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    """Imports and first-call set-up out of the measured calls."""
    _forward_backward("conv2d", _r(1, 1, 4, 4), _r(1, 1, 2, 2), dict(stride=2))
    _forward_backward("conv_transpose2d", _r(1, 1, 2, 2), _r(1, 1, 2, 2), dict(stride=2))


@pytest.mark.parametrize(("op", "x", "w", "kw"), [c[1:] for c in CONVS], ids=[c[0] for c in CONVS])
def test_huge_strides_and_dilations_cost_the_output(op, x, w, kw, torch) -> None:
    _, seconds, peak = _timed(lambda: getattr(F, op)(x, w, **kw))
    assert seconds < SECONDS, f"forward: {seconds:.2f} s"
    assert peak < PEAK, f"forward: {peak / 2**20:.1f} MiB"
    got, seconds, peak = _timed(lambda: _forward_backward(op, x, w, kw))
    assert seconds < SECONDS, f"forward and backward: {seconds:.2f} s"
    # the input's gradient is the input's size, and the autograd holds a few of it
    assert peak < PEAK + 4 * x.nbytes, f"forward and backward: {peak / 2**20:.1f} MiB"
    X = torch.tensor(x, requires_grad=True)
    W = torch.tensor(w, requires_grad=True)
    y = getattr(torch.nn.functional, op)(X, W, **kw)
    y.backward(torch.cos(torch.arange(y.numel(), dtype=torch.float64)).reshape(y.shape))
    for g, r in zip(got, (y.detach(), X.grad, W.grad), strict=True):
        assert rel_err(g, r.numpy()) <= 1e-12


def test_a_huge_stride_takes_a_path_whose_cost_is_bounded() -> None:
    x, w = np.empty((1, 2, 1)), np.empty((2, 3, 3))
    args = ((10**7,), (1,), 1, (0,), (3,))
    assert route("conv_transpose", x, w, *args) == "conv_transpose.sparse_taps"
    assert route("conv_transpose", x, np.empty((2, 1, 3)), (10**7,), (1,), 2, (0,), (3,)) == (
        "conv_transpose.sparse_taps"
    )
    # moderate strides keep the phase paths
    assert route("conv_transpose", np.empty((1, 2, 8)), w, (2,), (1,), 1, (0,), (17,)) != (
        "conv_transpose.sparse_taps"
    )
    assert route("conv", np.empty((1, 1, 2 * 10**6)), np.empty((2, 1, 3)), (10**6,), (1,), 1,
                 (0,), (2,)) == "conv.gathered"  # fmt: skip
    assert route("conv_weight", np.empty((1, 1, 2 * 10**6)), np.empty((1, 2, 2)), (3,),
                 (10**6,), (1,), 1, (0,)) == "conv_weight.gathered"  # fmt: skip
    assert route("conv", np.empty((1, 2, 5, 5)), np.empty((3, 2, 3, 3)), (10**6,) * 2,
                 (1, 1), 1, (0, 0), (1, 1)) != "conv.phase_split"  # fmt: skip


RESAMPLES = [
    ("nearest 2^20 -> 1", _r(1, 1, 2**20), dict(size=1, mode="nearest")),
    ("linear 2^20 -> 1", _r(1, 1, 2**20), dict(size=1, mode="linear")),
    ("nearest-exact 2^20 -> 3", _r(1, 1, 2**20), dict(size=3, mode="nearest-exact")),
    ("area 2^20 -> 1", _r(1, 1, 2**20), dict(size=1, mode="area")),
    ("area 2^20 -> 5", _r(1, 1, 2**20), dict(size=5, mode="area")),
    ("area 2^10 x 2^10 -> 3 x 1", _r(1, 1, 2**10, 2**10), dict(size=(3, 1), mode="area")),
    # PyTorch's fused antialiased kernels are wrong where an output axis has size 1:
    # two columns kept
    ("antialiased bilinear 2 x 2^15 -> 2 x 1", _r(1, 1, 2, 2**15),
     dict(size=(2, 1), mode="bilinear", antialias=True)),
    ("antialiased bicubic 2^15 x 2 -> 3 x 2", _r(1, 1, 2**15, 2),
     dict(size=(3, 2), mode="bicubic", antialias=True)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "x", "kw"), RESAMPLES, ids=lambda v: v if isinstance(v, str) else ""
)
def test_interpolate_to_a_small_size_costs_the_output(name, x, kw, torch) -> None:
    def run() -> tuple[np.ndarray, np.ndarray]:
        t = tconv.tensor(x, requires_grad=True)
        y = F.interpolate(t, **kw)
        y.backward(np.ones(y.shape))
        return y.data, t.grad

    (y, gx), seconds, peak = _timed(run)
    assert seconds < SECONDS, f"{name}: {seconds:.2f} s"
    # a window of the whole input is a table of taps as long as it (index, weight,
    # output row per tap), and the gradient is the input's size
    assert peak < PEAK + 16 * x.nbytes, f"{name}: {peak / 2**20:.1f} MiB"
    X = torch.tensor(x, requires_grad=True)
    ref = torch.nn.functional.interpolate(X, **kw)
    ref.backward(torch.ones_like(ref))
    assert rel_err(y, ref.detach().numpy()) <= 1e-12
    assert rel_err(gx, X.grad.numpy()) <= 1e-12


def test_a_window_reduction_keeps_a_nan_in_its_window(torch) -> None:
    """The reduction over an area window's live taps: a NaN or an inf stays in
    the windows that read it, as PyTorch's (the windows of 1000 -> 3 overlap)."""
    x = _r(1, 2, 1000)
    x[0, 0, 333], x[0, 1, 700] = np.nan, np.inf
    got = F.interpolate(x, size=3, mode="area")
    ref = torch.nn.functional.interpolate(torch.tensor(x), size=3, mode="area").numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
    finite = np.isfinite(ref)
    assert rel_err(got[finite], ref[finite]) <= 1e-12
