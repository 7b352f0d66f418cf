"""The memory budget: chunking keeps temporaries bounded and changes no result."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import tconv
import tconv.functional as F
from helpers import rel_err
from tconv import kernels
from tconv.kernels.conv import conv_and_weight_grad_nd, conv_transpose_nd, conv_weight_grad_nd

CASES = [
    ("conv_transpose2d", (8, 16, 32, 32), (16, 8, 4, 4), dict(stride=2, padding=1)),
    (
        "conv_transpose2d",
        (64, 64, 8, 8),
        (64, 16, 4, 4),
        dict(stride=2, padding=1),
    ),  # channels-last
    ("conv_transpose3d", (4, 16, 8, 16, 16), (16, 16, 4, 4, 4), dict(stride=2, padding=1)),
    ("conv2d", (8, 16, 64, 64), (16, 16, 3, 3), dict(padding=1)),
    ("conv2d", (64, 32, 16, 16), (32, 32, 3, 3), dict(stride=2, padding=1)),  # folded
    ("conv1d", (4, 16, 4000), (16, 16, 9), dict(padding=4)),
]


def _temporary_bytes(fn):
    """Peak bytes allocated during ``fn()`` beyond its result."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        y = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return peak - y.nbytes, y


@pytest.mark.parametrize(("op", "xs", "ws", "kw"), CASES)
def test_temporaries_stay_within_budget_and_results_do_not_change(op, xs, ws, kw, threads) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    fn = getattr(F, op)
    ref = fn(x, w, **kw)
    budget = 2**20
    with tconv.memory_budget(budget):
        temp, y = _temporary_bytes(lambda: fn(x, w, **kw))
    # slack: the small copies of the weight for each chunk
    assert temp <= 1.15 * budget + 2 * w.nbytes, f"{temp / 2**20:.2f} MiB of temporaries"
    assert rel_err(y, ref) <= 1e-5
    # the unchunked run really needed more than the budget (so the test means something)
    with tconv.num_threads(1):
        big, _ = _temporary_bytes(lambda: fn(x, w, **kw))
    assert big > 2 * budget


def test_weight_gradient_is_chunked_too(threads) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 16, 32, 32))
    gy = rng.standard_normal((8, 8, 32, 32))
    args = ((3, 3), (1, 1), (1, 1), 1, (1, 1))
    ref = conv_weight_grad_nd(x, gy, *args)
    with tconv.memory_budget(2**20):
        temp, got = _temporary_bytes(lambda: conv_weight_grad_nd(x, gy, *args))
    assert rel_err(got, ref) <= 1e-12
    assert temp <= 1.15 * 2**20 + gy.nbytes // 8 + 2**16


def test_strided_weight_gradient_on_the_rows_grid_stays_within_budget(threads) -> None:
    """A k4 s2 layer's weight gradient and input gradient (a transposed convolution's
    backward) through conv_weight.phase_rows: chunked to the budget, same result."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((16, 32, 16, 16)).astype(np.float32)
    gy = rng.standard_normal((16, 32, 8, 8)).astype(np.float32)
    w = rng.standard_normal((32, 32, 4, 4)).astype(np.float32)
    args = ((4, 4), (2, 2), (1, 1), 1, (1, 1))
    ref = conv_and_weight_grad_nd(x.astype(np.float64), gy.astype(np.float64), *args,
                                  w.astype(np.float64))  # fmt: skip
    budget = 2**20
    # numba off: the NumPy path (numba on, the compiled Winograd or columns paths take it)
    with tconv.memory_budget(budget), tconv.jit(False), kernels.trace() as names:
        temp, got = _temporary_bytes(lambda: conv_and_weight_grad_nd(x, gy, *args, w)[0])
    assert names == ["conv_weight.phase_rows"]
    assert rel_err(got, ref[0]) <= 1e-5
    assert temp <= 1.15 * budget + 2 * w.nbytes, f"{temp / 2**20:.2f} MiB of temporaries"
    with tconv.num_threads(1), tconv.jit(False):  # unchunked, more than the budget
        big, _ = _temporary_bytes(lambda: conv_and_weight_grad_nd(x, gy, *args, w)[0])
    assert big > 2 * budget


@pytest.mark.skipif(not tconv.jit_available(), reason="numba is not installed")
@pytest.mark.parametrize(
    ("xs", "c_out", "budget"),
    [((16, 64, 16, 16), 32, 2**20), ((1, 32, 8, 16, 16), 16, 2**21)],  # 3-d: by depth slices
)
def test_the_k4s2_winograd_paths_stay_within_budget(xs, c_out, budget, threads) -> None:
    """A DCGAN generator layer (k4 s2 p1) forward and backward by F(2x2, 2x2)
    (``*.winograd_phases_jit``), and a 3-d one: chunked to the budget, within it,
    same results as the exact paths."""
    rng = np.random.default_rng(5)
    nd = len(xs) - 2
    out = tuple(2 * s for s in xs[2:])
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal((xs[1], c_out, *(4,) * nd)).astype(np.float32)
    gy = rng.standard_normal((xs[0], c_out, *out)).astype(np.float32)
    geo = ((2,) * nd, (1,) * nd, 1, (1,) * nd)
    wargs = ((4,) * nd, *geo)
    with tconv.memory_budget(budget):  # numba's first calls (loading the kernels) first
        conv_transpose_nd(x, w, *geo, out)
        conv_and_weight_grad_nd(gy, x, *wargs, w)
    with tconv.memory_budget(budget), kernels.trace() as names:
        t_fwd, y = _temporary_bytes(lambda: conv_transpose_nd(x, w, *geo, out))
        pair = []  # (gw, gx): the input gradient counts as a temporary here
        t_bwd, gw = _temporary_bytes(
            lambda: pair.extend(conv_and_weight_grad_nd(gy, x, *wargs, w)) or pair[0]
        )
    gx = pair[1]
    forward = "winograd_adjoint_jit" if nd == 2 else "winograd_phases_jit"
    assert names == [f"conv_transpose.{forward}", "conv_weight.winograd_phases_jit"]
    with tconv.winograd(False):
        y_ref = conv_transpose_nd(x, w, *geo, out)
        gw_ref, gx_ref = conv_and_weight_grad_nd(gy, x, *wargs, w)
    for got, ref in ((y, y_ref), (gw, gw_ref), (gx, gx_ref)):
        assert rel_err(got, ref) <= 1e-5
    # the transformed weights (36 C_in C_out per depth tap) are within the budget too
    for which, temp in (("forward", t_fwd), ("backward", t_bwd - gx.nbytes)):
        assert temp <= 1.15 * budget, f"{which}: {temp / 2**20:.2f} MiB of temporaries"


def test_a_large_map_goes_in_blocks_of_rows_within_the_budget(threads) -> None:
    """One large sample whose phase buffers alone exceed the budget: the flat
    phases still take it, in blocks of rows, and stay within the budget."""
    from unittest import mock

    from tconv.kernels import phases

    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 8, 96, 96)).astype(np.float32)
    w = rng.standard_normal((8, 8, 4, 4)).astype(np.float32)
    ref = F.conv_transpose2d(x.astype(np.float64), w.astype(np.float64), stride=2, padding=1)
    budget = 2**20
    calls = []
    real = phases._shifted_sum

    def spy(slabs, offsets, z):
        calls.append(z.shape[-1] != slabs[0].shape[-1])  # a block's buffers
        return real(slabs, offsets, z)

    with tconv.memory_budget(budget), mock.patch.object(phases, "_shifted_sum", spy):
        with kernels.trace() as names, tconv.jit(False):  # numba on: flat_phases_jit
            temp, y = _temporary_bytes(lambda: F.conv_transpose2d(x, w, stride=2, padding=1))
    assert names == ["conv_transpose.flat_phases_blocked"]
    assert calls and all(calls)
    assert temp <= 1.15 * budget + 2 * w.nbytes, f"{temp / 2**20:.2f} MiB of temporaries"
    assert rel_err(y, ref) <= 1e-5


@pytest.mark.skipif(not tconv.jit_available(), reason="numba is not installed")
@pytest.mark.parametrize("budget", [2**19, 2**22])
def test_flat_phases_jit_stays_within_the_budget(threads, budget) -> None:
    """The compiled flat phases on one large sample: in blocks of rows (the
    smaller budget) or a GEMM per phase group, within the budget either way."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 8, 96, 96)).astype(np.float32)
    w = rng.standard_normal((8, 8, 4, 4)).astype(np.float32)
    ref = F.conv_transpose2d(x.astype(np.float64), w.astype(np.float64), stride=2, padding=1)
    with tconv.memory_budget(budget), tconv.jit(True), kernels.trace() as names:
        F.conv_transpose2d(x, w, stride=2, padding=1)  # numba's compile: not measured
        temp, y = _temporary_bytes(lambda: F.conv_transpose2d(x, w, stride=2, padding=1))
    assert names[0] == "conv_transpose.flat_phases_jit"
    assert temp <= 1.15 * budget + 2 * w.nbytes, f"{temp / 2**20:.2f} MiB of temporaries"
    assert rel_err(y, ref) <= 1e-5


@pytest.mark.skipif(not tconv.jit_available(), reason="numba is not installed")
def test_flat_phases_jit_goes_in_row_blocks_past_its_working_size(threads) -> None:
    """Within a large budget, a sample whose phase (padded input and slabs) is more
    than tuning.PHASES_JIT_BLOCK_BYTES goes in blocks of rows, not whole, its
    temporaries near the working size (per worker), its result the definition's."""
    from unittest import mock

    from tconv.kernels import phases

    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 8, 160, 160)).astype(np.float32)
    w = rng.standard_normal((8, 8, 4, 4)).astype(np.float32)
    ref = F.conv_transpose2d(x.astype(np.float64), w.astype(np.float64), stride=2, padding=1)
    rows = []
    real = phases._PhaseGather.__call__

    def spy(self, cols, y, group, first, a, e, shift, with_empty, *grid):
        rows.append(e - a)
        return real(self, cols, y, group, first, a, e, shift, with_empty, *grid)

    limit = 2**20  # one phase here: (8 + 4 * 8) * 162 * 162 * 4 bytes, about 4 MiB
    with tconv.jit(True), mock.patch.object(phases._PhaseGather, "__call__", spy):
        with mock.patch.object(phases, "PHASES_JIT_BLOCK_BYTES", limit):
            F.conv_transpose2d(x, w, stride=2, padding=1)  # numba's compile: not measured
            rows.clear()
            with kernels.trace() as names:
                temp, y = _temporary_bytes(lambda: F.conv_transpose2d(x, w, stride=2, padding=1))
        assert names == ["conv_transpose.flat_phases_jit"]
        assert rows and max(rows) < 160  # blocks of rows, not a whole sample
        assert rel_err(y, ref) <= 1e-5
        assert temp <= 2 * (limit + phases.PHASES_JIT_BYTES) + x[0].nbytes
        rows.clear()
        y2 = F.conv_transpose2d(x, w, stride=2, padding=1)
        assert rows and max(rows) == 160  # the default: whole samples here
        assert rel_err(y2, ref) <= 1e-5
