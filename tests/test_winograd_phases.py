"""The k4 s2 polyphase Winograd paths (tconv/kernels/winograd.py): a transposed
convolution as its 4 output phases (conv_transpose.winograd_phases_jit; 2-d, by the
adjoint of F(2x2, 2x2) on tiles of x: conv_transpose.winograd_adjoint_jit), a
convolution as its 4 tap parities (conv.winograd_phases_jit) and its weight gradient
(conv_weight.winograd_phases_jit), each phase a 2x2 correlation computed by Winograd
F(2x2, 2x2), against the definition (kernels/reference.py) and PyTorch.

Exact in exact arithmetic: float64 to 1e-10 on any padding, output padding, map
size (ragged last tiles), batch and channel count; float32 within the documented
bound ``winograd.PHASES_ERROR``, relative to the largest sum of |products| on small
random layers (whose sums may cancel) and to the largest output on realistic layers
(kaiming-scaled weights, up to 512 channels). Reached through the tables, serial and
on 2 worker threads, in small chunks under a small budget; ``tconv.winograd(False)``,
numba off or a NaN/inf keep the exact paths.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import tconv
import tconv.functional as F
from helpers import rel_err
from tconv import kernels
from tconv.kernels import conv as K
from tconv.kernels import reference as R
from tconv.kernels import tuning
from tconv.kernels import winograd as W
from test_reference import Geo, geometries
from test_winograd import _threads_on

pytestmark = pytest.mark.skipif(not tconv.jit_available(), reason="numba is not installed")
PATH = "conv_transpose.winograd_phases_jit"
ADJOINT = "conv_transpose.winograd_adjoint_jit"  # 2-d layers
TRANSPOSED = (PATH, ADJOINT)
K4S2 = dict(nd=(2, 3), groups=1, k=4, s=2, d=1, n=(1, 3), c_in_g=(1, 5), c_out_g=(1, 5),
            size=(1, 9), lo=(0, 3))  # fmt: skip


def test_f22_is_the_1d_correlation() -> None:
    """``A^T ((G g) * (B^T d))`` is the correlation of ``d`` (3,) with ``g`` (2,) for
    every pair of unit vectors, hence for all (the map is bilinear)."""
    bt, g, at = W.F22
    for i, j in itertools.product(range(3), range(2)):
        d, w = np.eye(3)[i], np.eye(2)[j]
        want = np.array([d[o : o + 2] @ w for o in range(2)])
        np.testing.assert_array_equal(at @ ((g @ w) * (bt @ d)), want)


@pytest.mark.parametrize("lo", range(4))
def test_each_phase_is_a_two_tap_correlation(lo: int, rng) -> None:
    """1-d: output phase ``r`` of the transposed convolution is ``x[q + s] w[g0] +
    x[q + s + 1] w[g1]`` with :func:`k4s2_phases`' start and taps, zeros outside x."""
    x, w = rng.standard_normal(7), rng.standard_normal(4)
    out = 2 * 6 - 2 * lo + 4
    ref = R.conv_transpose_nd(x[None, None], w[None, None], (2,), (1,), 1, (lo,), (out,))[0, 0]
    starts, taps = W.k4s2_phases(lo)
    xp = np.concatenate([np.zeros(3), x, np.zeros(3)])  # x[i] at xp[i + 3]
    for r in (0, 1):
        q = np.arange(len(ref[r::2]))
        got = xp[q + starts[r] + 3] * w[taps[r][0]] + xp[q + starts[r] + 4] * w[taps[r][1]]
        np.testing.assert_allclose(got, ref[r::2], rtol=1e-14, atol=1e-14)


def _close(got: np.ndarray, ref: np.ndarray, mag: np.ndarray) -> bool:
    """float64: within 1e-10 of the largest output; float32: within PHASES_ERROR of the
    largest sum of |products| (``mag``, the reference on |x|, |w|): on these small random
    layers a sum can cancel to near zero, and its float32 error relative to itself grows
    (the exact float32 paths' too: 2e-6 where this one has 8e-6 on a sum of 0.17 out of
    9.2). The realistic layers below hold the bound relative to the largest output."""
    if got.dtype == np.float64:
        return rel_err(got, ref) <= 1e-10
    return bool(np.abs(got - ref).max() <= W.PHASES_ERROR * np.abs(mag).max())


def _direct(
    x: np.ndarray, w: np.ndarray, geo: Geo, b: np.ndarray | None, kernel: Any
) -> np.ndarray:
    y = np.empty((geo.n, geo.c_out, *geo.out), dtype=x.dtype)
    kernel(x, w, y, geo.lo, b)
    return y


@pytest.mark.parametrize("kernel", [W.conv_transpose_k4s2, W.conv_transpose_k4s2_adjoint])
@settings(max_examples=60, deadline=None)
@given(geo=geometries(True, **K4S2), bias=st.booleans(), budget=st.sampled_from([None, 2**14]))
def test_the_kernel_matches_the_reference(
    kernel: Any, geo: Geo, bias: bool, budget: int | None
) -> None:
    """2-d and 3-d (the adjoint kernel: 2-d): any padding 0-3, output padding, map
    size (one depth slice, or output planes no slice reaches), batch, with and without
    bias; a small budget cuts the work into chunks of one tile row (the adjoint's:
    bands of one tile row, the one before computed again)."""
    assume(kernel is W.conv_transpose_k4s2 or len(geo.k) == 2)
    x, w, b, _ = geo.arrays()
    b = b if bias else None
    ref = R.conv_transpose_nd(x, w, *geo.args(), b)
    mag = R.conv_transpose_nd(abs(x), abs(w), *geo.args(), None if b is None else abs(b))
    b32 = None if b is None else b.astype(np.float32)
    for n_threads in (1, 2):
        with tconv.memory_budget(budget) if budget else contextlib.nullcontext():
            with _threads_on(n_threads):
                got = _direct(x, w, geo, b, kernel)
                got32 = _direct(x.astype(np.float32), w.astype(np.float32), geo, b32, kernel)
        assert got.dtype == np.float64 and rel_err(got, ref) <= 1e-10
        assert got32.dtype == np.float32 and _close(got32, ref, mag)


@contextlib.contextmanager
def _small_layers_too() -> Any:
    """The tables' size thresholds down to one channel and one output."""
    with (
        mock.patch.object(tuning, "WINOGRAD_PHASES_MIN_CHANNELS", 1),
        mock.patch.object(tuning, "WINOGRAD_PHASES_MIN_OUTPUTS", 1),
        mock.patch.object(tuning, "WINOGRAD_PHASES_CONV_MIN_OUTPUTS", 1),
        mock.patch.object(tuning, "WINOGRAD_PHASES_WEIGHT_MIN_OUTPUTS", 1),
        mock.patch.object(tuning, "JIT_MIN_SIZE", 0),
    ):
        yield


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(geo=geometries(True, **K4S2), dtype=st.sampled_from([np.float32, np.float64]))
def test_the_table_takes_it_and_its_switches_keep_the_exact_paths(geo: Geo, dtype) -> None:
    """Through ``conv_transpose_nd``: the trace shows the path (2-d: the adjoint's),
    float64 to 1e-10 and float32 within the bound; ``tconv.winograd(False)`` and
    ``tconv.jit(False)`` take an exact path."""
    x, w, b, _ = geo.arrays(dtype)
    path = ADJOINT if len(geo.k) == 2 else PATH
    x64, w64, b64 = (a.astype(np.float64) for a in (x, w, b))
    ref = R.conv_transpose_nd(x64, w64, *geo.args(), b64)
    mag = R.conv_transpose_nd(abs(x64), abs(w64), *geo.args(), abs(b64))
    with _small_layers_too():
        assume(kernels.route("conv_transpose", x, w, *geo.args(), b) == path)
        for n_threads in (1, 2):
            with _threads_on(n_threads), kernels.trace() as names:
                got = K.conv_transpose_nd(x, w, *geo.args(), b)
            assert names == [path]
            assert got.dtype == dtype and _close(got, ref, mag)
        for switch in (tconv.winograd(False), tconv.jit(False)):
            with switch, kernels.trace() as names:
                exact = K.conv_transpose_nd(x, w, *geo.args(), b)
            assert names and names[0] not in TRANSPOSED
            assert rel_err(exact, ref) <= (1e-10 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize(
    ("op", "c_in", "c_out", "size", "paths"),
    [  # a DCGAN generator's layer and a discriminator's: both gradients by Winograd too
        ("conv_transpose2d", 128, 64, 16, [ADJOINT, "conv_weight.winograd_phases_jit"]),
        ("conv2d", 64, 128, 32, ["conv.winograd_phases_jit", ADJOINT,
                                 "conv_weight.winograd_phases_jit"]),
    ],
)  # fmt: skip
def test_a_layer_and_its_gradients_are_pytorchs(op, c_in, c_out, size, paths, torch, rng):
    """float32 through autograd, k4 s2 p1: the forward and both gradients take the
    polyphase paths (the trace says so); output and gradients against PyTorch's
    float64 within the bound."""
    out = 2 * size if op == "conv_transpose2d" else size // 2
    ws = (c_in, c_out, 4, 4) if op == "conv_transpose2d" else (c_out, c_in, 4, 4)
    # 8 samples: the weight gradient's path from 2048 outputs over the batch
    x, w = rng.standard_normal((8, c_in, size, size)), rng.standard_normal(ws)
    w *= np.sqrt(2 / (16 * c_in))
    b, gy = rng.standard_normal(c_out), rng.standard_normal((8, c_out, out, out))
    xt, wt, bt = (tconv.tensor(a.astype(np.float32), requires_grad=True) for a in (x, w, b))
    with kernels.trace() as names:
        y = getattr(F, op)(xt, wt, bt, stride=2, padding=1)
        y.backward(gy.astype(np.float32))
    assert names == paths
    tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    ty = getattr(torch.nn.functional, op)(tx, tw, tb, stride=2, padding=1)
    ty.backward(torch.from_numpy(gy))
    assert rel_err(y.data, ty.detach().numpy()) <= W.PHASES_ERROR
    for got, want in ((xt.grad, tx.grad), (wt.grad, tw.grad), (bt.grad, tb.grad)):
        assert rel_err(got, want.numpy()) <= W.PHASES_ERROR


def test_non_finite_inputs_take_an_exact_path(rng) -> None:
    """A tile's transform subtracts its inputs: an inf would give inf - inf = NaN
    where the definition has inf, so a NaN or inf sends the call down an exact path."""
    x = rng.standard_normal((8, 32, 16, 16)).astype(np.float32)
    w = rng.standard_normal((32, 32, 4, 4)).astype(np.float32)
    args = ((2, 2), (1, 1), 1, (1, 1), (32, 32))
    assert kernels.route("conv_transpose", x, w, *args) == ADJOINT
    x[0, 3, 5, 7] = np.inf
    with kernels.trace() as names, np.errstate(invalid="ignore"):
        got = K.conv_transpose_nd(x, w, *args)
    assert not set(TRANSPOSED) & set(names)
    ref = R.conv_transpose_nd(x.astype(np.float64), w.astype(np.float64), *args)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))


@pytest.mark.parametrize("kernel", [W.conv_transpose_k4s2, W.conv_transpose_k4s2_adjoint])
@pytest.mark.parametrize(("c_in", "c_out", "size"), [(3, 16, 16), (64, 64, 16), (256, 128, 8),
                                                     (512, 256, 8), (128, 64, 32)])  # fmt: skip
def test_float32_error_on_realistic_layers(kernel, c_in: int, c_out: int, size: int, rng) -> None:
    """Normal and uniform inputs (and the normal's ReLU), kaiming-scaled weights:
    the documented bound holds on DCGAN-like layers up to 512 input channels."""
    x = rng.standard_normal((4, c_in, size, size))
    w = rng.standard_normal((c_in, c_out, 4, 4)) * np.sqrt(2 / (16 * c_in))
    args = ((2, 2), (1, 1), 1, (1, 1), (2 * size, 2 * size))
    for xi in (x, np.maximum(x, 0), rng.uniform(0, 1, x.shape)):
        ref = R.conv_transpose_nd(xi, w, *args)
        y = np.empty(ref.shape, dtype=np.float32)
        kernel(xi.astype(np.float32), w.astype(np.float32), y, (1, 1), None)
        assert rel_err(y, ref) <= W.PHASES_ERROR


@pytest.mark.parametrize(
    ("xs", "c_out", "dtype", "path"),
    [
        ((64, 256, 8, 8), 128, np.float32, ADJOINT),  # the suite's dcgan2
        ((64, 128, 16, 16), 64, np.float64, ADJOINT),  # dcgan3, float64 too
        ((4, 128, 16, 16), 64, np.float32, ADJOINT),
        ((1, 64, 32, 32), 64, np.float32, ADJOINT),  # one sample
        ((2, 32, 8, 8), 32, np.float32, "conv_transpose.flat_phases"),  # too few outputs
        ((64, 64, 32, 32), 3, np.float32, "conv_transpose.flat_phases_jit"),  # dcgan4: C_out 3
        ((64, 512, 4, 4), 256, np.float32, "conv_transpose.channels_last"),  # dcgan1: tiny
        # the weights' transform (36 C_in C_out) outgrows the cache: more outputs needed
        ((4, 512, 8, 8), 512, np.float32, "conv_transpose.flat_phases_jit"),
        ((64, 512, 8, 8), 512, np.float32, ADJOINT),
        ((8, 64, 8, 16, 16), 32, np.float32, PATH),  # 3-d: the phases kernel
    ],
)
def test_which_layers_take_it(xs, c_out, dtype, path) -> None:
    """The measured thresholds (tconv.kernels.tuning.WINOGRAD_PHASES_*), on
    shape-only calls; never without numba, never groups > 1, never past the budget."""
    nd = len(xs) - 2
    x, w = np.empty(xs, dtype), np.empty((xs[1], c_out, *(4,) * nd), dtype)
    args = ((2,) * nd, (1,) * nd, 1, (1,) * nd, tuple(2 * s for s in xs[2:]))
    assert kernels.route("conv_transpose", x, w, *args) == path
    with tconv.jit(False):
        assert kernels.route("conv_transpose", x, w, *args) not in TRANSPOSED
    with tconv.memory_budget(2**16):  # the weight transform alone exceeds it
        assert kernels.route("conv_transpose", x, w, *args) not in TRANSPOSED
    w2 = np.empty((xs[1], c_out // 2, *(4,) * nd), dtype)
    grouped = kernels.route("conv_transpose", x, w2, args[0], args[1], 2, *args[3:])
    assert grouped not in TRANSPOSED


# --------------------------------------------------------------------------
# The k4 s2 convolution and its weight gradient (conv.winograd_phases_jit,
# conv_weight.winograd_phases_jit): the transposed layer's backward, a
# discriminator's down-convolution

CONV = "conv.winograd_phases_jit"
WEIGHT = "conv_weight.winograd_phases_jit"
K4S2_CONV = dict(nd=(2, 3), groups=1, k=4, s=2, d=1, n=(1, 3), c_in_g=(1, 5), c_out_g=(1, 5),
                 size=(1, 11), lo=(0, 3))  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(geo=geometries(False, **K4S2_CONV), bias=st.booleans(), with_w=st.booleans(),
       budget=st.sampled_from([None, 2**14]))  # fmt: skip
def test_the_conv_and_its_weight_gradient_match_the_reference(
    geo: Geo, bias: bool, with_w: bool, budget: int | None
) -> None:
    """2-d and 3-d: padding 0-3 (so odd sizes and ragged last tiles, depth slices of
    one parity only, or none that a tap reaches), batch, with and without bias; the
    weight gradient alone and with the convolution in the same pass."""
    x, w, b, gy = geo.arrays()
    b = b if bias else None
    geom = (geo.k, geo.s, geo.d, geo.groups, geo.lo)
    ref_y, ref_gw = R.conv_nd(x, w, *geo.args(), b), R.conv_weight_grad_nd(x, gy, *geom)
    mag_y = R.conv_nd(abs(x), abs(w), *geo.args(), None if b is None else abs(b))
    mag_gw = R.conv_weight_grad_nd(abs(x), abs(gy), *geom)
    for n_threads, dtype in itertools.product((1, 2), (np.float64, np.float32)):
        xd, wd, gyd = x.astype(dtype), w.astype(dtype), gy.astype(dtype)
        bd = None if b is None else b.astype(dtype)
        with tconv.memory_budget(budget) if budget else contextlib.nullcontext():
            with _threads_on(n_threads):
                y = np.empty((geo.n, geo.c_out, *geo.out), dtype=dtype)
                W.conv_k4s2(xd, wd, y, geo.lo, bd)
                gw, y2 = W.conv_and_weight_k4s2(xd, gyd, geo.lo, wd if with_w else None)
        assert y.dtype == dtype and _close(y, ref_y, mag_y)
        assert gw.dtype == dtype and _close(gw, ref_gw, mag_gw)
        if with_w:
            assert y2 is not None and _close(y2, R.conv_nd(x, w, *geo.args()), mag_y)
        else:
            assert y2 is None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(geo=geometries(False, **K4S2_CONV), dtype=st.sampled_from([np.float32, np.float64]),
       with_w=st.booleans())  # fmt: skip
def test_the_tables_take_them_and_the_switches_keep_the_exact_paths(geo, dtype, with_w) -> None:
    """Through ``conv_nd`` and ``conv_and_weight_grad_nd``: the traces show the paths;
    ``tconv.winograd(False)`` and ``tconv.jit(False)`` take exact ones."""
    x, w, b, gy = geo.arrays(dtype)
    x64, w64, b64, gy64 = geo.arrays()
    geom = (geo.k, geo.s, geo.d, geo.groups, geo.lo)
    wg = w if with_w else None
    ref_y, ref_gw = R.conv_nd(x64, w64, *geo.args(), b64), R.conv_weight_grad_nd(x64, gy64, *geom)
    mag_y = R.conv_nd(abs(x64), abs(w64), *geo.args(), abs(b64))
    mag_gw = R.conv_weight_grad_nd(abs(x64), abs(gy64), *geom)
    with _small_layers_too():
        assume(kernels.route("conv", x, w, *geo.args(), b) == CONV)
        assert kernels.route("conv_weight", x, gy, *geom, wg) == WEIGHT
        with kernels.trace() as names:
            y = K.conv_nd(x, w, *geo.args(), b)
            gw, y2 = K.conv_and_weight_grad_nd(x, gy, *geom, wg)
        assert names == [CONV, WEIGHT]
        assert _close(y, ref_y, mag_y) and _close(gw, ref_gw, mag_gw)
        assert (y2 is None) == (not with_w)
        for switch in (tconv.winograd(False), tconv.jit(False)):
            with switch, kernels.trace() as names:
                K.conv_nd(x, w, *geo.args(), b)
                K.conv_and_weight_grad_nd(x, gy, *geom, wg)
            assert CONV not in names and WEIGHT not in names


def test_a_transposed_layers_backward_takes_the_weight_path(rng) -> None:
    """A DCGAN generator layer's backward is one ``conv_and_weight_grad_nd`` call (the
    input gradient with the weights, the weight gradient with the roles swapped):
    ``conv_weight.winograd_phases_jit`` does both in one pass, against the definition."""
    x = rng.standard_normal((8, 64, 16, 16))
    w = rng.standard_normal((64, 32, 4, 4)) * np.sqrt(2 / (16 * 64))
    gy = rng.standard_normal((8, 32, 32, 32))
    xt, wt = (tconv.tensor(a.astype(np.float32), requires_grad=True) for a in (x, w))
    with kernels.trace() as names:
        F.conv_transpose2d(xt, wt, stride=2, padding=1).backward(gy.astype(np.float32))
    assert names == [ADJOINT, WEIGHT]
    args = ((2, 2), (1, 1), 1, (1, 1))
    assert rel_err(xt.grad, R.conv_nd(gy, w, *args, (16, 16))) <= W.PHASES_ERROR
    gw = R.conv_weight_grad_nd(gy, x, (4, 4), *args)  # (C_in, C_out, 4, 4): x's role
    assert rel_err(wt.grad, gw) <= W.PHASES_ERROR


def test_non_finite_convs_take_an_exact_path(rng) -> None:
    x = rng.standard_normal((8, 32, 32, 32)).astype(np.float32)
    w = rng.standard_normal((32, 32, 4, 4)).astype(np.float32)
    gy = rng.standard_normal((8, 32, 16, 16)).astype(np.float32)
    args = ((2, 2), (1, 1), 1, (1, 1), (16, 16))
    geom = ((4, 4), (2, 2), (1, 1), 1, (1, 1))
    assert kernels.route("conv", x, w, *args) == CONV
    assert kernels.route("conv_weight", x, gy, *geom, None) == WEIGHT
    x[0, 3, 5, 7] = np.inf
    with kernels.trace() as names, np.errstate(invalid="ignore"):
        got = K.conv_nd(x, w, *args)
        gw, _ = K.conv_and_weight_grad_nd(x, gy, *geom, None)
    assert CONV not in names and WEIGHT not in names
    x64 = x.astype(np.float64)
    ref = R.conv_nd(x64, w.astype(np.float64), *args)
    ref_gw = R.conv_weight_grad_nd(x64, gy.astype(np.float64), *geom)
    for a, b in ((got, ref), (gw, ref_gw)):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_array_equal(np.isinf(a), np.isinf(b))


@pytest.mark.parametrize(
    ("c_in", "c_out", "size", "n"),
    [(3, 16, 32, 4), (64, 128, 32, 8), (128, 256, 16, 16), (256, 512, 8, 16)],
)
def test_the_convs_float32_error_on_realistic_layers(c_in, c_out, size, n, rng) -> None:
    """The convolution and its weight gradient on discriminator-like layers, normal
    and uniform inputs (and the normal's ReLU), kaiming-scaled weights."""
    x = rng.standard_normal((n, c_in, size, size))
    w = rng.standard_normal((c_out, c_in, 4, 4)) * np.sqrt(2 / (16 * c_in))
    gy = rng.standard_normal((n, c_out, size // 2, size // 2))
    args = ((2, 2), (1, 1), 1, (1, 1))
    for xi in (x, np.maximum(x, 0), rng.uniform(0, 1, x.shape)):
        x32, w32, gy32 = xi.astype(np.float32), w.astype(np.float32), gy.astype(np.float32)
        gw, y = W.conv_and_weight_k4s2(x32, gy32, (1, 1), w32)
        assert rel_err(y, R.conv_nd(xi, w, *args, (size // 2,) * 2)) <= W.PHASES_ERROR
        assert rel_err(gw, R.conv_weight_grad_nd(xi, gy, (4, 4), *args)) <= W.PHASES_ERROR


@pytest.mark.parametrize(
    ("xs", "c_out", "dtype", "path"),
    [
        ((64, 128, 16, 16), 256, np.float32, CONV),  # dcgan2's input gradient
        ((64, 64, 32, 32), 128, np.float64, CONV),  # dcgan3's, float64 too
        ((16, 128, 16, 16), 256, np.float32, CONV),  # 1024 outputs: the weight's not
        ((32, 128, 16, 16), 256, np.float32, CONV),  # 2048: the weight gradient's too
        ((4, 64, 16, 16), 64, np.float32, "conv.im2col_jit"),  # too few outputs
        ((64, 3, 64, 64), 64, np.float32, "conv.im2col_jit"),  # dcgan4's: C_in 3
        # dcgan1's: the weights' transform outgrows the cache, more outputs needed
        ((64, 256, 8, 8), 512, np.float32, "conv.im2col_folded"),
    ],
)
def test_which_convs_take_it(xs, c_out, dtype, path) -> None:
    """The measured thresholds (tuning.WINOGRAD_PHASES_*), on shape-only calls; the
    weight gradient on the same; never without numba or past the budget."""
    x, w = np.empty(xs, dtype), np.empty((c_out, xs[1], 4, 4), dtype)
    out = tuple(s // 2 for s in xs[2:])
    gy = np.empty((xs[0], c_out, *out), dtype)
    args = ((2, 2), (1, 1), 1, (1, 1), out)
    geom = ((4, 4), (2, 2), (1, 1), 1, (1, 1))
    assert kernels.route("conv", x, w, *args) == path
    weight = path == CONV and xs[0] * math.prod(out) >= tuning.WINOGRAD_PHASES_WEIGHT_MIN_OUTPUTS
    assert (kernels.route("conv_weight", x, gy, *geom, w) == WEIGHT) == weight
    with tconv.jit(False):
        assert kernels.route("conv", x, w, *args) != CONV
        assert kernels.route("conv_weight", x, gy, *geom, None) != WEIGHT
    with tconv.memory_budget(2**16):
        assert kernels.route("conv", x, w, *args) != CONV
        assert kernels.route("conv_weight", x, gy, *geom, None) != WEIGHT


# --------------------------------------------------------------------------
# 3-d: each depth slice transformed as a 2-d map, the depth taps as GEMM columns


def _depths(transposed: bool, d_in: int, lo: int) -> int:
    return 2 * (d_in - 1) - 2 * lo + 4 if transposed else (d_in + 2 * lo - 4) // 2 + 1


@pytest.mark.parametrize(
    ("lo", "d_in", "transposed"),
    [(lo, d, t) for lo, d, t in itertools.product(range(4), (1, 2, 3, 4, 7), (True, False))
     if _depths(t, d, lo) > 0],
)  # fmt: skip
def test_the_depth_plan_is_the_definition(lo: int, d_in: int, transposed: bool) -> None:
    """:class:`winograd._Depth`: output plane ``o`` sums exactly the (slice, tap)
    pairs of the definition (transposed: ``o = 2 d + kd - lo``; convolution: ``d = 2 o
    + kd - lo``), each pair once; a slice's tap reaches one plane only (the kernels sum
    into the first pair's products); the weight gradient's targets are the inverse."""
    d_out = _depths(transposed, d_in, lo)
    plan = W._Depth.of(transposed, (lo, 0, 0), d_in, d_out)
    where = {int(p): d for d, p in enumerate(plan.pos)}
    used = set()
    for o in range(d_out):
        want = {
            (d, k) for d in range(d_in) for k in range(4)
            if (2 * d + k - lo == o if transposed else d == 2 * o + k - lo)
        }  # fmt: skip
        got = set()
        for p, j in zip(plan.src[o], plan.blk[o]):
            if p < 0:
                continue
            d = where[int(p)]
            parity = (d + lo) % plan.stride
            got.add((d, parity + plan.stride * int(j)))
            assert (int(p), int(j)) not in used
            used.add((int(p), int(j)))
        assert got == want
        for k in range(4):
            assert (plan.tgt[o, k] >= 0) == any(kk == k for _, kk in want)
    for first, count, parity in plan.groups:  # each group's slices: one tap parity
        assert {(where[p] + lo) % plan.stride for p in range(first, first + count)} == {parity}


def test_a_3d_generators_layer_and_its_gradients_are_pytorchs(torch, rng) -> None:
    """The suite's volume3d layer (halved): forward and backward by the polyphase paths
    (the trace says so), against PyTorch's float64 within the bound."""
    x = rng.standard_normal((2, 64, 8, 16, 16))
    w = rng.standard_normal((64, 32, 4, 4, 4)) * np.sqrt(2 / (64 * 64))
    b, gy = rng.standard_normal(32), rng.standard_normal((2, 32, 16, 32, 32))
    xt, wt, bt = (tconv.tensor(a.astype(np.float32), requires_grad=True) for a in (x, w, b))
    with kernels.trace() as names:
        y = F.conv_transpose3d(xt, wt, bt, stride=2, padding=1)
        y.backward(gy.astype(np.float32))
    assert names == [PATH, WEIGHT]
    tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    ty = torch.nn.functional.conv_transpose3d(tx, tw, tb, stride=2, padding=1)
    ty.backward(torch.from_numpy(gy))
    assert rel_err(y.data, ty.detach().numpy()) <= W.PHASES_ERROR
    for got, want in ((xt.grad, tx.grad), (wt.grad, tw.grad), (bt.grad, tb.grad)):
        assert rel_err(got, want.numpy()) <= W.PHASES_ERROR


@pytest.mark.parametrize(("c_in", "c_out"), [(64, 32), (16, 128), (128, 64)])
def test_3d_float32_error_on_realistic_layers(c_in: int, c_out: int, rng) -> None:
    """Normal, ReLU'd and uniform inputs, kaiming-scaled weights: the transposed layer,
    its input gradient (the convolution) and its weight gradient within the bound."""
    x = rng.standard_normal((2, c_in, 4, 8, 8))
    w = rng.standard_normal((c_in, c_out, 4, 4, 4)) * np.sqrt(2 / (64 * c_in))
    gy = rng.standard_normal((2, c_out, 8, 16, 16))
    args = ((2,) * 3, (1,) * 3, 1, (1,) * 3)
    for xi in (x, np.maximum(x, 0), rng.uniform(0, 1, x.shape)):
        x32, w32, gy32 = xi.astype(np.float32), w.astype(np.float32), gy.astype(np.float32)
        y = np.empty(gy.shape, dtype=np.float32)
        W.conv_transpose_k4s2(x32, w32, y, (1,) * 3, None)
        assert rel_err(y, R.conv_transpose_nd(xi, w, *args, gy.shape[2:])) <= W.PHASES_ERROR
        gw, gx = W.conv_and_weight_k4s2(gy32, x32, (1,) * 3, w32)
        assert rel_err(gx, R.conv_nd(gy, w, *args, x.shape[2:])) <= W.PHASES_ERROR
        assert rel_err(gw, R.conv_weight_grad_nd(gy, xi, (4,) * 3, *args)) <= W.PHASES_ERROR


@pytest.mark.parametrize(
    ("xs", "c_out", "path"),
    [
        ((4, 64, 8, 16, 16), 32, PATH),  # the suite's volume3d
        ((1, 16, 8, 16, 16), 16, PATH),
        ((2, 32, 8, 8, 8), 16, PATH),  # small maps too (2-d 4x4 ones: channels-last)
        ((1, 8, 8, 16, 16), 16, "conv_transpose.flat_phases_blocked"),  # too few channels
    ],
)
def test_which_3d_layers_take_it(xs, c_out, path) -> None:
    """On shape-only calls: the transposed layer, its backward (one conv_weight call);
    the weights' transform and buffers count the depth (past the budget: not taken)."""
    x, w = np.empty(xs, np.float32), np.empty((xs[1], c_out, 4, 4, 4), np.float32)
    out = tuple(2 * s for s in xs[2:])
    gy = np.empty((xs[0], c_out, *out), np.float32)
    args = ((2,) * 3, (1,) * 3, 1, (1,) * 3)
    assert kernels.route("conv_transpose", x, w, *args, out) == path
    back = kernels.route("conv_weight", gy, x, (4,) * 3, *args, w)
    assert (back == WEIGHT) == (path == PATH)
    with tconv.winograd(False):
        assert kernels.route("conv_transpose", x, w, *args, out) != PATH
        assert kernels.route("conv_weight", gy, x, (4,) * 3, *args, w) != WEIGHT
    if path == PATH:  # the 2-d layer of one depth slice needs less than the 3-d one
        slim = W.k4s2_bytes(xs[1], c_out, -(-out[-1] // 4), 4)
        k4s2 = W.k4s2_bytes(xs[1], c_out, -(-out[-1] // 4), 4, xs[2], 4)
        assert k4s2 > slim
        with tconv.memory_budget(k4s2 - 1):
            assert kernels.route("conv_transpose", x, w, *args, out) != PATH
