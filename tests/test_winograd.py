"""conv.winograd (tconv/kernels/winograd.py): Winograd F(m x m, 3 x 3) against the
definition (tconv/kernels/reference.py).

Exact in exact arithmetic: float64 to 1e-10 for both F(2,3) and F(4,3); float32
to the documented bound ``winograd.ERROR[m]`` (relative to the largest output),
also on realistic layers (kaiming-scaled weights, up to 512 input channels).
The path is reached through its table (conv, and a stride-1 transposed conv
through ``conv_transpose.stride1_flipped``), in chunks of samples and of tile
rows, serial and on 2 worker threads; ``tconv.winograd(False)`` keeps the exact
paths.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import sys
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
from tconv.kernels import _threads, tuning
from tconv.kernels import conv as K
from tconv.kernels import reference as R
from tconv.kernels import winograd as W
from test_reference import Geo, geometries

M = sorted(W.TRANSFORMS)
# the transforms in NumPy, and as numba kernels where numba is installed
JITS = (False, True) if tconv.jit_available() else (False,)
PATHS = {False: "conv.winograd", True: "conv.winograd_jit"}
WINOGRAD = set(PATHS.values())
needs_jit = pytest.mark.skipif(not tconv.jit_available(), reason="numba is not installed")


@pytest.mark.parametrize("m", M)
def test_each_transform_is_the_1d_correlation(m: int) -> None:
    """``at ((g w) * (bt d))`` is the correlation of ``d`` with ``w`` for every
    pair of unit vectors, hence for all (the map is bilinear): every entry of
    the three matrices is checked."""
    tf = W.TRANSFORMS[m]
    assert tf.bt.shape == (m + 2, m + 2) and tf.g.shape == (m + 2, 3) and tf.at.shape == (m, m + 2)
    for i, j in itertools.product(range(m + 2), range(3)):
        d, w = np.eye(m + 2)[i], np.eye(3)[j]
        want = np.array([d[o : o + 3] @ w for o in range(m)])
        np.testing.assert_allclose(tf.at @ ((tf.g @ w) * (tf.bt @ d)), want, atol=1e-14)


def _direct(
    x: np.ndarray, w: np.ndarray, geo: Geo, b: np.ndarray | None, m: int, jit: bool
) -> np.ndarray:
    y = np.empty((geo.n, geo.c_out, *geo.out), dtype=x.dtype)
    W.conv3x3(x, w, y, geo.lo, geo.out, b, m, jit)
    return y


def _threads_on(n: int) -> Any:
    stack = contextlib.ExitStack()
    stack.enter_context(tconv.num_threads(n))
    if n > 1:  # small inputs split over the workers too
        stack.enter_context(mock.patch.object(_threads, "_MIN_WORK", 0))
    return stack


CONV3 = dict(nd=2, groups=1, k=3, s=1, d=1, n=(1, 3), c_in_g=(1, 5), c_out_g=(1, 5),
             size=(1, 14), lo=(0, 2))  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(geo=geometries(False, **CONV3), bias=st.booleans(), budget=st.sampled_from([None, 2**14]))
def test_both_transforms_match_the_reference(geo: Geo, bias: bool, budget: int | None) -> None:
    """Any map size (ragged last tiles), padding, batch, with and without bias;
    a small budget cuts the work into tile rows."""
    x, w, b, _ = geo.arrays()
    b = b if bias else None
    ref = R.conv_nd(x, w, *geo.args(), b)
    b32 = None if b is None else b.astype(np.float32)
    for m, n_threads, jit in itertools.product(M, (1, 2), JITS):
        with tconv.memory_budget(budget) if budget else contextlib.nullcontext():
            with _threads_on(n_threads):
                got = _direct(x, w, geo, b, m, jit)
                got32 = _direct(x.astype(np.float32), w.astype(np.float32), geo, b32, m, jit)
        assert got.dtype == np.float64 and rel_err(got, ref) <= 1e-10
        assert got32.dtype == np.float32 and rel_err(got32, ref) <= W.ERROR[m]


@contextlib.contextmanager
def _small_layers_too() -> Any:
    """The table's size thresholds down to one channel and one output."""
    with (
        mock.patch.object(tuning, "WINOGRAD_NUMPY", True),
        mock.patch.object(tuning, "WINOGRAD_MIN_CHANNELS", 1),
        mock.patch.object(tuning, "WINOGRAD_MIN_CHANNEL_PAIRS", 1),
        mock.patch.object(tuning, "WINOGRAD_MIN_OUTPUTS", 1),
        mock.patch.object(tuning, "WINOGRAD_JIT_MIN_CHANNELS", 1),
        mock.patch.object(tuning, "WINOGRAD_JIT_MIN_POSITIONS", 1),
        mock.patch.object(tuning, "JIT_MIN_SIZE", 0),
    ):
        yield


@pytest.mark.parametrize("jit", JITS)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(geo=geometries(False, **CONV3), budget=st.sampled_from([None, 2**14, 2**16]))
def test_the_conv_table_takes_winograd_for_float32(jit: bool, geo: Geo, budget: int | None) -> None:
    """Through ``conv_nd``: float32 runs ``conv.winograd`` (``conv.winograd_jit`` with
    numba on; the trace says so) within the bound; ``tconv.winograd(False)`` keeps an
    exact path."""
    x, w, b, _ = geo.arrays(np.float32)
    ref = R.conv_nd(*(a.astype(np.float64) for a in (x, w)), *geo.args(), b.astype(np.float64))
    budgeted = tconv.memory_budget(budget) if budget else contextlib.nullcontext()
    with _small_layers_too(), tconv.jit(jit), budgeted:
        assume(kernels.route("conv", x, w, *geo.args(), b) == PATHS[jit])
        for n_threads in (1, 2):
            with _threads_on(n_threads), kernels.trace() as names:
                got = K.conv_nd(x, w, *geo.args(), b)
            assert names == [PATHS[jit]]
            assert got.dtype == np.float32 and rel_err(got, ref) <= W.ERROR[tuning.WINOGRAD_M]
        with tconv.winograd(False), kernels.trace() as names:
            exact = K.conv_nd(x, w, *geo.args(), b)
        assert names and names[0] not in WINOGRAD
        assert rel_err(exact, ref) <= 1e-5


@needs_jit
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(geo=geometries(False, **CONV3))
def test_float64_takes_the_compiled_path_to_1e10(geo: Geo) -> None:
    """With numba on, float64 runs ``conv.winograd_jit`` too (from twice the channels
    of float32), as exact as the definition to 1e-10; the NumPy transforms never take
    float64."""
    x, w, b, _ = geo.arrays()
    ref = R.conv_nd(x, w, *geo.args(), b)
    with _small_layers_too():
        with tconv.jit(False):
            assert kernels.route("conv", x, w, *geo.args(), b) not in WINOGRAD
        with tconv.jit(True):
            assume(kernels.route("conv", x, w, *geo.args(), b) == "conv.winograd_jit")
            for n_threads in (1, 2):
                with _threads_on(n_threads), kernels.trace() as names:
                    got = K.conv_nd(x, w, *geo.args(), b)
                assert names == ["conv.winograd_jit"]
                assert got.dtype == np.float64 and rel_err(got, ref) <= 1e-10


@pytest.mark.parametrize("jit", JITS)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(geo=geometries(True, nd=2, groups=1, k=3, s=1, d=1, n=(1, 3), c_in_g=(1, 5),
                      c_out_g=(1, 5), size=(1, 12), lo=(0, 2)))  # fmt: skip
def test_a_stride1_transposed_conv_runs_winograd(jit: bool, geo: Geo) -> None:
    """``conv_transpose.stride1_flipped`` convolves with the flipped kernel: float32
    goes on to ``conv.winograd`` (or ``_jit``), within the bound, batches of small
    maps too (which the row-shift conv leaves to the phase paths)."""
    x, w, b, _ = geo.arrays(np.float32)
    ref = R.conv_transpose_nd(*(a.astype(np.float64) for a in (x, w)), *geo.args(),
                              b.astype(np.float64))  # fmt: skip
    with _small_layers_too(), tconv.jit(jit):
        with kernels.trace() as names:
            got = K.conv_transpose_nd(x, w, *geo.args(), b)
        assume(names[0] == "conv_transpose.stride1_flipped" and names[1:] == [PATHS[jit]])
    assert got.dtype == np.float32 and rel_err(got, ref) <= W.ERROR[tuning.WINOGRAD_M]


@_small_layers_too()  # numba off, the NumPy transforms switched on
def test_a_layers_backward_runs_winograd_within_the_bound(rng) -> None:
    """float32 conv2d through autograd: the forward and the input gradient (a
    stride-1 transposed conv, flipped) take conv.winograd, the weight gradient an
    exact path; each against the float64 definition."""
    x = rng.standard_normal((2, 128, 28, 28))
    w = rng.standard_normal((256, 128, 3, 3)) * np.sqrt(2 / (9 * 128))
    gy = rng.standard_normal((2, 256, 28, 28))
    xt = tconv.tensor(x.astype(np.float32), requires_grad=True)
    wt = tconv.tensor(w.astype(np.float32), requires_grad=True)
    with kernels.trace() as names:
        y = F.conv2d(xt, wt, padding=1)
        y.backward(gy.astype(np.float32))
    wino = PATHS[tconv.get_jit()]
    # the weight gradient by Winograd too where compiled (conv_weight.winograd_jit)
    wgrad = "conv_weight.winograd_jit" if tconv.get_jit() else "conv_weight.row_shift"
    assert names == [wino, "conv_transpose.stride1_flipped", wino, wgrad]
    geo = ((1, 1), (1, 1), 1, (1, 1), (28, 28))
    bound = W.ERROR[tuning.WINOGRAD_M]
    assert rel_err(y.data, R.conv_nd(x, w, *geo)) <= bound
    assert rel_err(xt.grad, R.conv_transpose_nd(gy, w, *geo)) <= bound
    gw = R.conv_weight_grad_nd(x, gy, (3, 3), (1, 1), (1, 1), 1, (1, 1))
    assert rel_err(wt.grad, gw) <= (W.WEIGHT_ERROR if tconv.get_jit() else 1e-5)


@_small_layers_too()
def test_non_finite_inputs_take_an_exact_path(rng) -> None:
    """A Winograd tile mixes its inputs: an inf would turn into NaN where the
    definition has inf, so a NaN or inf sends the call down the exact paths."""
    x = rng.standard_normal((1, 32, 20, 20)).astype(np.float32)
    w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
    assert kernels.route("conv", x, w, (1, 1), (1, 1), 1, (1, 1), (20, 20)) in WINOGRAD
    x[0, 3, 5, 7] = np.inf
    with kernels.trace() as names, np.errstate(invalid="ignore"):
        got = F.conv2d(x, w, padding=1)
    assert len(names) == 1 and names[0] not in WINOGRAD
    ref = R.conv_nd(x.astype(np.float64), w.astype(np.float64), (1, 1), (1, 1), 1, (1, 1),
                    (20, 20))  # fmt: skip
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))


@pytest.mark.parametrize(("c_in", "size"), [(3, 32), (64, 28), (256, 14), (512, 9)])
def test_float32_error_on_realistic_layers(c_in: int, size: int, rng) -> None:
    """Normal inputs (and their ReLU), kaiming-scaled weights: the documented bound
    holds where Winograd's float32 error is largest (many input channels)."""
    x = rng.standard_normal((2, c_in, size, size))
    w = rng.standard_normal((32, c_in, 3, 3)) * np.sqrt(2 / (9 * c_in))
    for xi in (x, np.maximum(x, 0)):
        ref = R.conv_nd(xi, w, (1, 1), (1, 1), 1, (1, 1), (size, size))
        for m, jit in itertools.product(M, JITS):
            y = np.empty((2, 32, size, size), dtype=np.float32)
            x32, w32 = xi.astype(np.float32), w.astype(np.float32)
            W.conv3x3(x32, w32, y, (1, 1), (size, size), None, m, jit)
            assert rel_err(y, ref) <= W.ERROR[m]


@pytest.mark.parametrize(
    ("jit", "xs", "c_out", "dtype", "path"),
    [
        # numba off: the NumPy transforms lost everywhere measured (tuning.WINOGRAD_NUMPY)
        (False, (4, 256, 28, 28), 256, np.float32, "conv.im2col_folded"),
        (False, (1, 128, 56, 56), 256, np.float32, "conv.row_shift"),
        (False, (1, 512, 32, 30), 512, np.float32, "conv.row_shift"),
        (False, (4, 256, 28, 28), 256, np.float64, "conv.im2col_folded"),  # float32 only
        (False, (16, 64, 56, 56), 64, np.float32, "conv.row_shift"),  # the suite's conv_k3
        (False, (4, 128, 28, 28), 128, np.float32, "conv.im2col_folded"),  # a tie
        (False, (8, 256, 14, 14), 256, np.float32, "conv.im2col_folded"),  # small maps
        pytest.param(True, (16, 64, 56, 56), 64, np.float32, "conv.winograd_jit", marks=needs_jit),
        pytest.param(True, (8, 32, 14, 14), 32, np.float32, "conv.winograd_jit", marks=needs_jit),
        pytest.param(True, (8, 16, 64, 64), 16, np.float32, "conv.winograd_jit", marks=needs_jit),
        pytest.param(True, (8, 8, 64, 64), 16, np.float32, "conv.row_shift", marks=needs_jit),
        pytest.param(True, (8, 64, 12, 12), 64, np.float32, "conv.winograd_jit", marks=needs_jit),
        pytest.param(True, (2, 64, 12, 12), 64, np.float32, "conv.im2col_folded", marks=needs_jit),
        pytest.param(True, (1, 256, 56, 56), 256, np.float32, "conv.winograd_jit", marks=needs_jit),
        # the weights' transform outgrows the cache: more positions needed
        pytest.param(True, (1, 256, 28, 28), 256, np.float32, "conv.row_shift", marks=needs_jit),
        pytest.param(True, (1, 512, 56, 56), 512, np.float32, "conv.row_shift", marks=needs_jit),
        pytest.param(True, (16, 64, 56, 56), 64, np.float64, "conv.winograd_jit", marks=needs_jit),
        pytest.param(True, (8, 32, 64, 64), 32, np.float64, "conv.winograd_jit", marks=needs_jit),
    ],
)
def test_which_layers_take_winograd(jit, xs, c_out, dtype, path) -> None:
    """The measured thresholds (tconv.kernels.tuning.WINOGRAD_*), on shape-only calls."""
    x, w = np.empty(xs, dtype), np.empty((c_out, xs[1], 3, 3), dtype)
    args = (x, w, (1, 1), (1, 1), 1, (1, 1), xs[2:])
    with tconv.jit(jit):
        assert kernels.route("conv", *args) == path
        with tconv.memory_budget(2**16):  # the weight transform alone exceeds it
            assert kernels.route("conv", *args) not in WINOGRAD


@pytest.mark.parametrize(
    ("xs", "c_out", "path"),
    [
        ((4, 256, 28, 28), 256, "conv.winograd"),
        ((1, 512, 32, 30), 512, "conv.winograd"),
        ((1, 64, 56, 56), 64, "conv.row_shift"),  # below WINOGRAD_MIN_CHANNELS
        ((4, 256, 14, 14), 256, "conv.im2col_folded"),  # below WINOGRAD_MIN_OUTPUTS
    ],
)
def test_the_numpy_transforms_only_where_switched_on(xs, c_out, path) -> None:
    """``conv.winograd`` (numba off) runs only with tuning.WINOGRAD_NUMPY, then from
    its thresholds; float32 only."""
    x, w = np.empty(xs, np.float32), np.empty((c_out, xs[1], 3, 3), np.float32)
    args = (x, w, (1, 1), (1, 1), 1, (1, 1), xs[2:])
    with tconv.jit(False):
        assert kernels.route("conv", *args) != "conv.winograd"
        with mock.patch.object(tuning, "WINOGRAD_NUMPY", True):
            assert kernels.route("conv", *args) == path
            x64, w64 = np.empty(xs), np.empty(w.shape)
            assert kernels.route("conv", x64, w64, *args[2:]) != "conv.winograd"


@needs_jit
@pytest.mark.parametrize(
    ("xs", "c_out", "path"),
    [
        ((16, 64, 28, 28), 64, "conv_transpose.stride1_flipped"),  # then winograd_jit
        ((16, 16, 28, 28), 16, "conv_transpose.stride1_flipped"),
        ((16, 64, 12, 12), 64, "conv_transpose.stride1_flipped"),
        ((16, 8, 28, 28), 8, "conv_transpose.flat_phases"),  # too few channels
        ((2, 64, 12, 12), 64, "conv_transpose.flat_phases"),  # too few positions
    ],
)
def test_which_transposed_layers_take_winograd(xs, c_out, path) -> None:
    """Batches of small maps go through the flipped kernel only where Winograd takes
    the convolution (measured 0.44-0.59 of the phase paths' time)."""
    x, w = np.empty(xs, np.float32), np.empty((xs[1], c_out, 3, 3), np.float32)
    with tconv.jit(True):
        assert kernels.route("conv_transpose", x, w, (1, 1), (1, 1), 1, (1, 1), xs[2:]) == path


@_small_layers_too()
def test_the_setting_and_its_environment_variable() -> None:
    x, w = np.empty((2, 8, 32, 32), np.float32), np.empty((8, 8, 3, 3), np.float32)
    args = (x, w, (1, 1), (1, 1), 1, (1, 1), (32, 32))
    assert tconv.get_winograd()
    assert kernels.route("conv", *args) in WINOGRAD
    with tconv.winograd(False):
        assert not tconv.get_winograd()
        assert kernels.route("conv", *args) == "conv.row_shift"
    assert tconv.get_winograd()
    with pytest.raises(TypeError, match="set_winograd takes a bool"):
        tconv.set_winograd("no")  # type: ignore[arg-type]
    code = "import tconv; print(tconv.get_winograd())"
    for value, want in (("0", "False"), ("off", "False"), ("1", "True")):
        env = {**os.environ, "TCONV_WINOGRAD": value}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True)  # fmt: skip
        assert out.stdout.strip() == want


# --------------------------------------------------------------------------
# The weight gradient: conv_weight.winograd_jit (winograd.weight_grad3x3)

WGRAD = "conv_weight.winograd_jit"


@needs_jit
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(geo=geometries(False, **CONV3), budget=st.sampled_from([None, 2**14, 2**16]))
def test_the_weight_gradient_matches_the_reference(geo: Geo, budget: int | None) -> None:
    """Through ``conv_weight_grad_nd``, numba on: any map size (ragged last tiles),
    padding, batch, a small budget cutting the work into tile rows, serially and on 2
    workers: float64 to 1e-10 and float32 within ``WEIGHT_ERROR`` of the definition;
    ``tconv.winograd(False)`` keeps an exact path."""
    x, _, _, gy = geo.arrays()
    geom = ((3, 3), (1, 1), (1, 1), 1, geo.lo)
    ref = R.conv_weight_grad_nd(x, gy, *geom)
    budgeted = tconv.memory_budget(budget) if budget else contextlib.nullcontext()
    with _small_layers_too(), tconv.jit(True), budgeted:
        assume(kernels.route("conv_weight", x, gy, *geom, None) == WGRAD)
        for dtype, n_threads in itertools.product((np.float64, np.float32), (1, 2)):
            xd, gyd = x.astype(dtype), gy.astype(dtype)
            with _threads_on(n_threads), kernels.trace() as names:
                got = K.conv_weight_grad_nd(xd, gyd, *geom)
            assert names == [WGRAD]
            assert got.dtype == dtype and got.shape == ref.shape
            assert rel_err(got, ref) <= (1e-10 if dtype == np.float64 else W.WEIGHT_ERROR)
        with tconv.winograd(False), kernels.trace() as names:
            K.conv_weight_grad_nd(x.astype(np.float32), gy.astype(np.float32), *geom)
        assert names and names[0] != WGRAD


@needs_jit
@pytest.mark.parametrize(("c_in", "c_out", "size", "n"), [(3, 16, 32, 4), (64, 64, 28, 4),
                                                          (256, 32, 14, 8), (512, 16, 9, 16)])  # fmt: skip
def test_the_weight_gradients_float32_error_on_realistic_layers(c_in, c_out, size, n, rng):
    """Normal inputs and their ReLU, normal output gradients, many tiles summed per
    weight: within ``WEIGHT_ERROR`` of the float64 definition (the exact path's
    error for scale), and PyTorch's gradient in float64 agrees with the definition."""
    x = rng.standard_normal((n, c_in, size, size))
    gy = rng.standard_normal((n, c_out, size, size))
    for xi in (x, np.maximum(x, 0)):
        ref = R.conv_weight_grad_nd(xi, gy, (3, 3), (1, 1), (1, 1), 1, (1, 1))
        got = W.weight_grad3x3(xi.astype(np.float32), gy.astype(np.float32), (1, 1))
        assert got.dtype == np.float32 and rel_err(got, ref) <= W.WEIGHT_ERROR
        assert rel_err(W.weight_grad3x3(xi, gy, (1, 1)), ref) <= 1e-10


@needs_jit
def test_the_weight_gradient_through_autograd_is_pytorchs(torch, rng) -> None:
    """A float32 conv2d's backward as a user runs it: the weight gradient takes
    conv_weight.winograd_jit and agrees with PyTorch's (float64) within the bound."""
    x = rng.standard_normal((4, 32, 20, 18))
    w = rng.standard_normal((48, 32, 3, 3)) * np.sqrt(2 / (9 * 32))
    gy = rng.standard_normal((4, 48, 20, 18))
    xt = tconv.tensor(x.astype(np.float32), requires_grad=True)
    wt = tconv.tensor(w.astype(np.float32), requires_grad=True)
    with tconv.jit(True), kernels.trace() as names:
        F.conv2d(xt, wt, padding=1).backward(gy.astype(np.float32))
    assert names[-1] == WGRAD
    tx, tw = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
    torch.nn.functional.conv2d(tx, tw, padding=1).backward(torch.from_numpy(gy))
    assert rel_err(wt.grad, tw.grad.numpy()) <= W.WEIGHT_ERROR
    assert rel_err(xt.grad, tx.grad.numpy()) <= W.ERROR[tuning.WINOGRAD_M]


@needs_jit
@_small_layers_too()
def test_a_non_finite_weight_gradient_takes_an_exact_path(rng) -> None:
    """An inf in the input: the weight gradient leaves Winograd (its tiles would mix
    the inf into NaN where the definition has inf) and agrees with the definition."""
    x = rng.standard_normal((1, 16, 12, 12)).astype(np.float32)
    gy = rng.standard_normal((1, 16, 12, 12)).astype(np.float32)
    geom = ((3, 3), (1, 1), (1, 1), 1, (1, 1))
    with tconv.jit(True):
        assert kernels.route("conv_weight", x, gy, *geom, None) == WGRAD
        x[0, 3, 5, 7] = np.inf
        with kernels.trace() as names, np.errstate(invalid="ignore"):
            got = K.conv_weight_grad_nd(x, gy, *geom)
    assert names and names[0] != WGRAD
    ref = R.conv_weight_grad_nd(x.astype(np.float64), gy.astype(np.float64), *geom)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))


@needs_jit
@pytest.mark.parametrize(
    ("xs", "c_out", "dtype", "path"),
    [
        ((16, 64, 56, 56), 64, np.float32, WGRAD),  # the suite's conv_k3
        ((16, 64, 56, 56), 64, np.float64, WGRAD),
        ((8, 32, 14, 14), 32, np.float32, WGRAD),
        ((8, 8, 64, 64), 16, np.float32, "conv_weight.row_shift"),  # 8 channels in
        ((1, 256, 28, 28), 256, np.float32, "conv_weight.row_shift"),  # its 36 C_in C_out sums
    ],
)
def test_which_weight_gradients_take_winograd(xs, c_out, dtype, path) -> None:
    """The forward's thresholds (tuning.WINOGRAD_JIT_*), on shape-only calls."""
    x, gy = np.empty(xs, dtype), np.empty((xs[0], c_out, *xs[2:]), dtype)
    geom = ((3, 3), (1, 1), (1, 1), 1, (1, 1))
    with tconv.jit(True):
        assert kernels.route("conv_weight", x, gy, *geom, None) == path
