"""conv.im2col_jit and conv_weight.im2col_jit (tconv/kernels/columns.py): im2col
columns written by a compiled pass in cache-sized blocks, against the definition
(tconv/kernels/reference.py) and PyTorch.

Every way a call is cut is reached by shrinking the block size
(``tuning.COLUMNS_JIT_BYTES``): bands of output rows of one sample, several whole
samples a block, and whole samples with a GEMM each or one GEMM a block
(``tuning.COLUMNS_JIT_SAMPLE_GEMM``); serially and on 2 worker threads, 1-3 d,
groups, dilation, padding, bias, both dtypes.
"""

from __future__ import annotations

import contextlib
import itertools
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import tconv
import tconv.functional as F
from helpers import rel_err
from tconv import kernels
from tconv.kernels import _threads, columns, tuning
from tconv.kernels import conv as K
from tconv.kernels import reference as R
from test_reference import Geo, geometries

pytestmark = pytest.mark.skipif(not tconv.jit_available(), reason="numba is not installed")
TOL = {np.float64: 1e-10, np.float32: 1e-5}


def _on(block_bytes: int, sample_gemm: int, n_threads: int) -> contextlib.ExitStack:
    """A context: numba on for small inputs, these block sizes, ``n_threads`` workers."""
    patches = [
        tconv.jit(True),
        tconv.num_threads(n_threads),
        mock.patch.object(tuning, "JIT_MIN_SIZE", 0),
        mock.patch.object(tuning, "COLUMNS_JIT_BYTES", block_bytes),
        mock.patch.object(tuning, "COLUMNS_JIT_SAMPLE_GEMM", sample_gemm),
        mock.patch.object(_threads, "_MIN_WORK", 0),
    ]
    stack = contextlib.ExitStack()
    for p in patches:
        stack.enter_context(p)
    return stack


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    geo=geometries(False, s=(2, 3), size=(3, 9)),
    block_bytes=st.sampled_from([1, 2**9, 2**12, 2**21]),
    sample_gemm=st.sampled_from([1, 2**30]),
    with_w=st.booleans(),
)
def test_columns_match_the_reference(geo: Geo, block_bytes: int, sample_gemm: int,
                                     with_w: bool) -> None:  # fmt: skip
    """The convolution (with bias) and the weight gradient (alone, and with the
    convolution from the same columns), however the call is cut into blocks."""
    x64, w64, b64, gy64 = geo.arrays()
    geom = (geo.k, geo.s, geo.d, geo.groups, geo.lo)
    with _on(block_bytes, sample_gemm, 1):
        assume(kernels.route("conv", x64, w64, *geo.args(), b64) == "conv.im2col_jit")
    ref_y = R.conv_nd(x64, w64, *geo.args(), b64)
    ref_y0 = R.conv_nd(x64, w64, *geo.args())
    ref_gw = R.conv_weight_grad_nd(x64, gy64, *geom)
    for dtype, n_threads in itertools.product((np.float64, np.float32), (1, 2)):
        x, w, b, gy = geo.arrays(dtype)
        with _on(block_bytes, sample_gemm, n_threads), kernels.trace() as names:
            y = K.conv_nd(x, w, *geo.args(), b)
            gw, y2 = K.conv_and_weight_grad_nd(x, gy, *geom, w if with_w else None)
        assert names == ["conv.im2col_jit", "conv_weight.im2col_jit"]
        assert y.dtype == dtype and rel_err(y, ref_y) <= TOL[dtype]
        assert gw.dtype == dtype and rel_err(gw, ref_gw) <= TOL[dtype]
        if with_w:
            assert y2 is not None and rel_err(y2, ref_y0) <= TOL[dtype]
        else:
            assert y2 is None


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 9),
    positions=st.integers(1, 40),
    size=st.integers(1, 5000),
    workers=st.integers(1, 4),
    target=st.integers(1, 2**16),
)
def test_column_blocks_cover_every_position_of_every_sample_once(
    n, positions, size, workers, target
) -> None:
    blocks = columns.column_blocks(n, positions, size, workers, target)
    seen = np.zeros((n, positions), dtype=int)
    for n0, n1, p0, p1 in blocks:
        assert 0 <= n0 < n1 <= n and 0 <= p0 < p1 <= positions
        assert n1 - n0 == 1 or (p0, p1) == (0, positions)  # several samples: whole ones
        assert (n1 - n0) * (p1 - p0) * size <= max(target, size)  # within the block size
        seen[n0:n1, p0:p1] += 1
    assert (seen == 1).all()
    if workers <= n * positions:  # a block for every worker, where the positions allow
        assert len(blocks) >= workers
    sizes = {n1 - n0 for n0, n1, p0, p1 in blocks if (p0, p1) == (0, positions)}
    if workers > 1 and all(p1 - p0 == positions for _, _, p0, p1 in blocks):
        # whole samples: within one of each other, and as many blocks for every worker
        assert max(sizes) - min(sizes) <= 1
        assert len(blocks) % workers == 0 or len(blocks) == n


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("shape", "c_out", "k", "s", "p"),
    [
        ((4, 16, 15, 13), 24, 3, 2, 1),  # conv_k3s2-like, odd sizes
        ((3, 3, 20, 18), 8, 4, 2, 1),  # dcgan4's backward: 3 channels in
        ((2, 4, 24, 22, 20), 5, 4, 2, 1),  # 3-d
        ((3, 8, 161), 6, 16, 8, 4),  # audio-like 1-d
    ],
)
def test_columns_through_autograd_match_pytorch(torch, dtype, shape, c_out, k, s, p) -> None:
    """A strided convolution and a transposed convolution with their backward as a
    user runs them (numba on; the small inputs let in): the paths are taken and
    the values and gradients are PyTorch's."""
    rng = np.random.default_rng(0)
    nd = len(shape) - 2
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((c_out, shape[1]) + (k,) * nd).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    conv = getattr(F, f"conv{nd}d")
    tconv_t = getattr(F, f"conv_transpose{nd}d")
    tf = getattr(torch.nn.functional, f"conv{nd}d")
    tft = getattr(torch.nn.functional, f"conv_transpose{nd}d")
    with _on(2**12, 64, 2), kernels.trace() as names:
        y = conv(x, w, b, stride=s, padding=p)
        # the transposed conv of y's shape back: its backward runs the strided conv
        yt = rng.standard_normal(y.shape).astype(dtype)
        X, W = tconv.tensor(yt, requires_grad=True), tconv.tensor(w, requires_grad=True)
        out = tconv_t(X, W, stride=s, padding=p)
        g = rng.standard_normal(out.shape).astype(dtype)
        out.backward(g)
    assert names[0] == "conv.im2col_jit" and "conv_weight.im2col_jit" in names, names
    t64 = [torch.from_numpy(a.astype(np.float64)) for a in (x, w, b, yt, g)]
    ty = tf(t64[0], t64[1], t64[2], stride=s, padding=p).numpy()
    TX, TW = t64[3].requires_grad_(), t64[1].clone().requires_grad_()
    tout = tft(TX, TW, stride=s, padding=p)
    tout.backward(t64[4])
    tol = TOL[dtype]
    assert rel_err(y, ty) <= tol
    assert rel_err(out.data if hasattr(out, "data") else out, tout.detach().numpy()) <= tol
    assert rel_err(X.grad, TX.grad.numpy()) <= tol
    assert rel_err(W.grad, TW.grad.numpy()) <= tol


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN in the workers' GEMMs
@pytest.mark.parametrize("in_w", [True, False])
def test_columns_with_nonfinite_values_match_pytorch(torch, in_w) -> None:
    """The columns hold the padding's zeros, as PyTorch's products do: a NaN, an inf
    and a -inf land where PyTorch puts them (no finiteness check on this path)."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((3, 4, 11, 10)), rng.standard_normal((5, 4, 3, 3))
    flat = (w if in_w else x).reshape(-1)
    flat[[1, flat.size // 2, flat.size - 2]] = [np.nan, np.inf, -np.inf]
    gy = rng.standard_normal((3, 5, 6, 5))
    with _on(2**10, 1, 2), kernels.trace() as names, np.errstate(invalid="ignore"):
        y = F.conv2d(x, w, stride=2, padding=1)
        gw, _ = K.conv_and_weight_grad_nd(x, gy, (3, 3), (2, 2), (1, 1), 1, (1, 1), None)
    assert names == ["conv.im2col_jit", "conv_weight.im2col_jit"]
    tx, tw, tgy = (torch.from_numpy(a) for a in (x, w, gy))
    ty = torch.nn.functional.conv2d(tx, tw, stride=2, padding=1).numpy()
    tgw = torch.nn.grad.conv2d_weight(tx, tw.shape, tgy, stride=2, padding=1).numpy()
    for got, ref in ((y, ty), (gw, tgw)):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
        np.testing.assert_array_equal(np.isposinf(got), np.isposinf(ref))
        finite = np.isfinite(ref)
        assert rel_err(got[finite], ref[finite]) <= 1e-10
