"""NaN, +inf and -inf against PyTorch: the same positions, the same signs.

Hypothesis places a few non-finite values at random in inputs, weights and
output gradients of conv and conv_transpose (1-3 d, stride, padding, dilation,
groups), interpolate (every mode) and the pools; the result and the gradients
must agree with ``torch`` value for value (``equal_nan``) and class for class
(finite, NaN, +inf, -inf).

What PyTorch 2.13 (CPU) does, measured:

* conv: its native im2col multiplies the zero padding, so an inf weight tap
  that reads the padding gives NaN there (float64, and float32 on the native
  path). Its oneDNN float32 path (batches > 1, groups > 1, large kernels)
  skips the padding instead; tconv follows the native computation in both
  dtypes, so float32 is compared with oneDNN off.
* conv_transpose: only real products are added (0.8 * 0.5 stays 0.4 next to
  an inf tap); the zeros of a padded or stride-dilated grid never meet an inf.
* interpolate: the taps of weight 0 that its kernels read still multiply
  (linear at a border, bicubic at integer coordinates, ``1 x[o] + 0 x[o]``
  when a linear size is unchanged); the slots past a window (area, antialias)
  are never read.

Interpolation sizes are drawn as powers of two of the input's, where source
coordinates are exact: PyTorch rounds ``scale (o + 0.5) - 0.5`` mostly as one
fused multiply-add (tconv does so too), but not in every kernel, so a
coordinate within an ulp of an integer may decide ``0 * inf`` differently.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import tconv
import tconv.functional as F
from strategies import Config, configs
from tconv import kernels
from tconv.kernels import tuning
from tconv.upsampling import interpolate
from test_interpolate import RANKS, _torch_bug

torch = pytest.importorskip("torch")
# torch.backends.mkldnn.flags() warns about Intel GPUs on every use
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
TF = torch.nn.functional

SPECIALS = (np.nan, np.inf, -np.inf)
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                      HealthCheck.filter_too_much])  # fmt: skip


def _classes(a: np.ndarray) -> np.ndarray:
    """0 finite, 1 NaN, 2 +inf, 3 -inf."""
    a = np.asarray(a)
    return np.select([np.isnan(a), np.isposinf(a), np.isneginf(a)], [1, 2, 3], 0)


def assert_same(got: Any, ref: Any, dtype: Any) -> None:
    """Same shape, NaN/+inf/-inf masks equal, finite values close."""
    got, ref = np.asarray(got), np.asarray(ref)
    assert got.shape == ref.shape
    np.testing.assert_array_equal(_classes(got), _classes(ref))
    tol = 1e-9 if np.dtype(dtype) == np.float64 else 2e-4
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol, equal_nan=True)


@st.composite
def specials(draw: Any, shape: tuple[int, ...], at_most: int = 3) -> list[tuple[int, float]]:
    """A few (flat index, NaN/+inf/-inf) to place in an array of ``shape``."""
    size = math.prod(shape)
    if size == 0:
        return []
    n = draw(st.integers(0, at_most))
    return [(draw(st.integers(0, size - 1)), draw(st.sampled_from(SPECIALS))) for _ in range(n)]


def _place(a: np.ndarray, where: list[tuple[int, float]]) -> np.ndarray:
    a = a.copy()
    for i, v in where:
        a.reshape(-1)[i] = v
    return a


@contextlib.contextmanager
def _quiet() -> Any:
    """NumPy's 'invalid value' warnings (PyTorch is silent about them)."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore", over="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


# --------------------------------------------------------------------------
# conv and conv_transpose, values and gradients


def _conv_both(cfg: Config, x: np.ndarray, w: np.ndarray, g: np.ndarray | None,
               ) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:  # fmt: skip
    """(y, gx, gw) of tconv and of PyTorch (native, no oneDNN); the trace."""
    name = f"conv_transpose{cfg.nd}d" if cfg.transposed else f"conv{cfg.nd}d"
    kw = cfg.kwargs()
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    with torch.backends.mkldnn.flags(enabled=False):
        yt = getattr(TF, name)(xt, wt, None, **kw)
        if g is not None:
            yt.backward(torch.tensor(g.reshape(yt.shape)))
    ref = [yt.detach().numpy()]
    if g is not None:
        ref += [xt.grad.numpy(), wt.grad.numpy()]
    xa, wa = tconv.tensor(x, requires_grad=True), tconv.tensor(w, requires_grad=True)
    with _quiet(), kernels.trace() as names:
        ya = getattr(F, name)(xa, wa, None, **kw)
        if g is not None:
            ya.backward(g.reshape(ya.shape))
    got = [ya.data]
    if g is not None:
        got += [xa.grad, wa.grad]
    return got, ref, names


def _conv_case(data: Any, cfg: Config, dtype: Any, grads: bool) -> None:
    x, w, _ = cfg.arrays(dtype)
    x = _place(x, data.draw(specials(x.shape)))
    w = _place(w, data.draw(specials(w.shape, 2)))
    g = None
    if grads:
        with _quiet():
            shape = F.__dict__[("conv_transpose" if cfg.transposed else "conv") + f"{cfg.nd}d"](
                x, w, **cfg.kwargs()).shape  # fmt: skip
        rng = np.random.default_rng(cfg.seed)
        g = _place(rng.standard_normal(shape).astype(dtype), data.draw(specials(shape, 2)))
    got, ref, _ = _conv_both(cfg, x, w, g)
    for a, b in zip(got, ref):
        assert_same(a, b, dtype)


@settings(max_examples=70, **SETTINGS)
@given(cfg=configs(transposed=True), data=st.data())
def test_conv_transpose_matches_torch(cfg: Config, data: Any) -> None:
    _conv_case(data, cfg, np.float64, grads=True)


@settings(max_examples=70, **SETTINGS)
@given(cfg=configs(transposed=False), data=st.data())
def test_conv_matches_torch(cfg: Config, data: Any) -> None:
    _conv_case(data, cfg, np.float64, grads=True)


@settings(max_examples=40, **SETTINGS)
@given(cfg=configs(transposed=True), data=st.data(), transposed=st.booleans())
def test_float32_matches_torch_native(cfg: Config, data: Any, transposed: bool) -> None:
    _conv_case(data, cfg, np.float32, grads=False)


def test_the_issue_example() -> None:
    """A -inf weight tap next to the zero padding of the phase grid: no NaN."""
    x = np.array([[[[0.8], [-0.4]]]])
    w = np.array([[[[0.5], [-np.inf]], [[1.1], [0.6]]]])
    with _quiet():
        y = F.conv_transpose2d(x, w)
    np.testing.assert_allclose(y[0, 0, :, 0], [0.4, -np.inf, np.inf])
    np.testing.assert_allclose(y[0, 1, :, 0], [0.88, 0.04, -0.24])


# Geometries that reach the main paths, with a non-finite value (op, x shape,
# w shape, kwargs, the path expected first, the path of finite values).
PATH_CASES = [
    ("conv_transpose2d", (2, 8, 16, 16), (8, 4, 4, 4), dict(stride=2, padding=1),
     "conv_transpose.nonfinite", "conv_transpose.flat_phases"),
    ("conv_transpose2d", (1, 3, 6, 5), (3, 2, 3, 3), dict(),
     "conv_transpose.nonfinite", "conv_transpose.stride1_flipped"),
    ("conv_transpose2d", (2, 3, 4, 4), (3, 5, 2, 2), dict(stride=2),
     "conv_transpose.nonfinite", "conv_transpose.exact_cover"),
    ("conv_transpose2d", (2, 4, 2, 2), (4, 3, 3, 3), dict(stride=2),
     "conv_transpose.nonfinite", "conv_transpose.channels_last"),
    ("conv_transpose2d", (1, 4, 8, 8), (4, 1, 4, 4), dict(stride=2, padding=1, groups=4),
     "conv_transpose.depthwise", "conv_transpose.depthwise"),
    ("conv2d", (1, 3, 9, 8), (4, 3, 3, 3), dict(padding=1), "conv.row_shift", "conv.row_shift"),
    ("conv2d", (1, 3, 9, 8), (4, 3, 3, 3), dict(stride=2, padding=1),
     "conv.phase_split", "conv.phase_split"),
    ("conv1d", (3, 2, 9), (4, 2, 3), dict(padding=2), "conv.im2col_folded", "conv.im2col_folded"),
    ("conv2d", (2, 4, 8, 8), (4, 1, 3, 3), dict(padding=1, groups=4),
     "conv.depthwise", "conv.depthwise"),
]  # fmt: skip


@pytest.mark.parametrize(("op", "xs", "ws", "kw", "path", "finite_path"), PATH_CASES,
                         ids=[c[4] + "/" + c[5] for c in PATH_CASES])  # fmt: skip
@pytest.mark.parametrize("in_w", [True, False])
def test_main_paths_with_nonfinite_values(op, xs, ws, kw, path, finite_path, in_w) -> None:
    """Each path as traced: the finite call keeps its fast path, the same call
    with a NaN, an inf and a -inf takes ``path`` and agrees with PyTorch
    (values and both gradients)."""
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    with kernels.trace() as names:
        getattr(F, op)(x, w, **kw)
    assert names[0] == finite_path
    target = w if in_w else x
    flat = target.reshape(-1)
    flat[[1, target.size // 2, target.size - 2]] = [np.nan, np.inf, -np.inf]
    nd = len(xs) - 2
    cfg = Config(op.startswith("conv_transpose"), nd, xs[0], kw.get("groups", 1), xs[1],
                 ws[0] if not op.startswith("conv_transpose") else ws[1] * kw.get("groups", 1),
                 tuple(xs[2:]), tuple(ws[2:]), (kw.get("stride", 1),) * nd, (1,) * nd,
                 kw.get("padding", 0), (0,) * nd, False, 0)  # fmt: skip
    with _quiet():
        shape = getattr(F, op)(x, w, **kw).shape
    g = rng.standard_normal(shape)
    g.reshape(-1)[[0, g.size // 3]] = [np.inf, np.nan]
    got, ref, _ = _conv_both(cfg, x, w, g)
    for a, b in zip(got, ref):
        assert_same(a, b, np.float64)
    with _quiet(), kernels.trace() as fwd:
        getattr(F, op)(x, w, **kw)
    # the forward's result comes from the last path of its op (a finiteness check
    # deferred to the result may have run the fast path first: kernels.paths.run)
    family = path.split(".")[0] + "."
    assert [n for n in fwd if n.startswith(family)][-1] == path, fwd


@settings(max_examples=30)
@given(seed=st.integers(0, 2**32 - 1), where=st.integers(0, 2**31 - 1),
       value=st.sampled_from([np.nan, np.inf, -np.inf]), in_w=st.booleans())  # fmt: skip
def test_deferred_check_on_a_smaller_result(seed: int, where: int, value: float,
                                            in_w: bool) -> None:  # fmt: skip
    """Where the output is smaller than the operands (few output channels), the
    finiteness check looks at the result: a finite call runs its fast path alone; a
    NaN or an inf runs the fast path, then conv_transpose.nonfinite, and the output
    agrees with PyTorch value for value and class for class."""
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((2, 8, 8, 8)), rng.standard_normal((8, 1, 4, 4))
    with kernels.trace() as names:
        F.conv_transpose2d(x, w, stride=2, padding=1)
    assert names == ["conv_transpose.flat_phases"]
    target = w if in_w else x
    target.reshape(-1)[where % target.size] = value
    with _quiet(), kernels.trace() as names:
        got = F.conv_transpose2d(x, w, stride=2, padding=1)
    assert names[-1] == "conv_transpose.nonfinite", names
    ref = TF.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), stride=2, padding=1)
    assert_same(got, ref.numpy(), np.float64)


@pytest.mark.filterwarnings("error")  # the check's overflow is no warning of the user's
@pytest.mark.parametrize("c_out", [1, 8])
def test_finite_values_whose_squares_overflow(c_out: int) -> None:
    """The finiteness check sums squares: finite float32 values near 1e20 overflow it,
    which may only send the call down an exact path; the values stay PyTorch's."""
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((2, 8, 8, 8)) * 1e20).astype(np.float32)
    w = rng.standard_normal((8, c_out, 4, 4)).astype(np.float32)
    got = F.conv_transpose2d(x, w, stride=2, padding=1)
    ref = TF.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), stride=2, padding=1)
    assert np.isfinite(got).all()
    assert_same(got, ref.numpy(), np.float32)


@pytest.mark.skipif(not tconv.jit_available(), reason="numba is not installed")
@pytest.mark.parametrize("transposed", [True, False])
def test_depthwise_jit_keeps_finite_calls(transposed: bool, monkeypatch) -> None:
    """numba's loops skip the padding: a call with an inf goes to the NumPy
    depthwise path, as PyTorch multiplies the padding in a conv."""
    monkeypatch.setattr(tuning, "JIT_MIN_SIZE", 0)
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((4, 1, 3, 3))
    op = F.conv_transpose2d if transposed else F.conv2d
    name = "conv_transpose" if transposed else "conv"
    with tconv.jit(True):
        with kernels.trace() as names:
            op(x, w, stride=2, padding=1, groups=4)
        assert names == [f"{name}.depthwise_jit"]
        w[1, 0, 0, 0] = np.inf
        w[2, 0, 1, 1] = np.nan
        with _quiet(), kernels.trace() as names:
            got = op(x, w, stride=2, padding=1, groups=4)
    assert names == [f"{name}.depthwise"]
    fn = TF.conv_transpose2d if transposed else TF.conv2d
    ref = fn(torch.tensor(x), torch.tensor(w), stride=2, padding=1, groups=4).numpy()
    assert_same(got, ref, np.float64)
    # the gradients (conv_weight.depthwise_jit likewise takes finite calls only; the
    # compiled columns of conv_weight.im2col_jit hold the padding's zeros, and may)
    nd = 2
    cfg = Config(transposed, nd, 2, 4, 4, 4, (7, 6), (3, 3), (2, 2), (1, 1), 1, (0, 0), False, 0)
    g = rng.standard_normal(got.shape)
    g[0, 1, 2, 2] = -np.inf
    with tconv.jit(True):
        grads, ref_grads, traced = _conv_both(cfg, x, w, g)
    assert not any(t.endswith("depthwise_jit") for t in traced), traced
    for a, b in zip(grads, ref_grads):
        assert_same(a, b, np.float64)


def test_route_reads_no_values() -> None:
    """``route`` takes shape-only stand-ins: a NaN there changes nothing."""
    x, w = np.full((2, 8, 16, 16), np.nan), np.full((8, 4, 4, 4), np.nan)
    args = (x, w, (2, 2), (1, 1), 1, (1, 1), (32, 32))
    assert kernels.route("conv_transpose", *args) == "conv_transpose.flat_phases"


# --------------------------------------------------------------------------
# interpolate, values and gradients


@st.composite
def interp_configs(draw: Any) -> tuple[tuple[int, ...], dict[str, Any], Any]:
    mode = draw(st.sampled_from(list(RANKS)))
    n = draw(st.sampled_from(RANKS[mode]))
    sizes = tuple(draw(st.sampled_from([1, 2, 3, 4, 6, 8])) for _ in range(n))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), *sizes)
    interp = mode in ("linear", "bilinear", "bicubic", "trilinear")
    kw: dict[str, Any] = dict(mode=mode)
    if interp:
        kw["align_corners"] = draw(st.sampled_from([None, False, True]))
    if mode in ("bilinear", "bicubic"):
        kw["antialias"] = draw(st.booleans())
    if mode == "lanczos":
        kw["antialias"] = True
    # powers of two: exact source coordinates (see the module's docstring)
    factors = tuple(draw(st.sampled_from([0.5, 1, 2, 4])) for _ in range(n))
    assume(all(s * f == int(s * f) and s * f >= 1 for s, f in zip(sizes, factors)))
    if draw(st.booleans()):
        kw["size"] = tuple(int(s * f) for s, f in zip(sizes, factors))
    else:
        kw["scale_factor"] = factors
        kw["recompute_scale_factor"] = draw(st.sampled_from([None, True]))
    kw.setdefault("antialias", False)
    assume(not _torch_bug(shape, kw))
    return shape, kw, draw(st.sampled_from([np.float64, np.float32]))


@settings(max_examples=150, **SETTINGS)
@given(cfg=interp_configs(), data=st.data())
def test_interpolate_matches_torch(cfg: Any, data: Any) -> None:
    shape, kw, dtype = cfg
    rng = np.random.default_rng(0)
    x = _place(rng.standard_normal(shape).astype(dtype), data.draw(specials(shape)))
    ref = TF.interpolate(torch.tensor(x), **kw).numpy()
    with _quiet():
        got = interpolate(x, **kw)
    assert_same(got, ref, dtype)
    # the gradient, with non-finite values in the output gradient
    g = _place(rng.standard_normal(ref.shape).astype(dtype), data.draw(specials(ref.shape, 2)))
    xt = torch.tensor(np.nan_to_num(x), requires_grad=True)
    TF.interpolate(xt, **kw).backward(torch.tensor(g))
    xa = tconv.tensor(np.nan_to_num(x), requires_grad=True)
    with _quiet():
        interpolate(xa, **kw).backward(g)
    assert_same(xa.grad, xt.grad.numpy(), dtype)


def test_one_nan_pixel_bilinear() -> None:
    """One NaN pixel of a 4x4 image, bilinear x2: NaN only where PyTorch's taps read it."""
    for where in [(1, 2), (0, 0), (3, 3), (2, 1)]:
        x = np.zeros((1, 1, 4, 4))
        x[(0, 0) + where] = np.nan
        ref = TF.interpolate(torch.tensor(x), scale_factor=2, mode="bilinear").numpy()
        with _quiet():
            got = interpolate(x, scale_factor=2, mode="bilinear")
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
        assert np.isnan(got).sum() < 64


# --------------------------------------------------------------------------
# pooling, values and gradients


@st.composite
def pool_configs(draw: Any) -> tuple[str, tuple[int, ...], dict[str, Any]]:
    kind = draw(st.sampled_from(["avg", "max", "adaptive_avg", "adaptive_max"]))
    n = draw(st.integers(1, 3))
    sizes = tuple(draw(st.integers(1, 7 if n < 3 else 4)) for _ in range(n))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), *sizes)
    if kind.startswith("adaptive"):
        kw: dict[str, Any] = dict(output_size=tuple(draw(st.integers(1, 6)) for _ in range(n)))
    else:
        k = draw(st.integers(1, 3))
        assume(k <= min(sizes))
        kw = dict(kernel_size=k, stride=draw(st.integers(1, 3)),
                  padding=draw(st.integers(0, k // 2)), ceil_mode=draw(st.booleans()))  # fmt: skip
        if kind == "avg":
            kw["count_include_pad"] = draw(st.booleans())
    return f"{kind}_pool{n}d", shape, kw


@settings(max_examples=120, **SETTINGS)
@given(cfg=pool_configs(), data=st.data())
def test_pooling_matches_torch(cfg: Any, data: Any) -> None:
    name, shape, kw = cfg
    rng = np.random.default_rng(0)
    x = _place(rng.standard_normal(shape), data.draw(specials(shape)))
    xt = torch.tensor(x, requires_grad=True)
    yt = getattr(TF, name)(xt, **kw)
    g = _place(rng.standard_normal(yt.shape), data.draw(specials(tuple(yt.shape), 2)))
    yt.backward(torch.tensor(g))
    xa = tconv.tensor(x, requires_grad=True)
    with _quiet():
        ya = getattr(F, name)(xa, **kw)
        ya.backward(g)
    assert_same(ya.data, yt.detach().numpy(), np.float64)
    assert_same(xa.grad, xt.grad.numpy(), np.float64)


def test_adaptive_avg_pool_issue_example() -> None:
    with _quiet():
        y = F.adaptive_avg_pool1d(np.array([[[1.0, 2.0, np.nan, 4.0, 5.0, 6.0]]]), 3)
    np.testing.assert_array_equal(y.ravel(), [1.5, np.nan, 5.5])


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("size", [7, 2**23 + 5])  # one dot, and one per worker
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_finiteness_check_finds_every_position(size: int, dtype: type) -> None:
    """The check's dots (split over the workers for large arrays) see a NaN or an inf
    wherever it is, in each worker's part, and call an overflow non-finite."""
    from tconv.kernels.conv import _finite

    a = np.ones(size, dtype=dtype)
    assert _finite(a)
    for at in sorted({0, size // 2 - 1, size // 2, size // 2 + 1, size - 1}):
        for bad in (np.nan, np.inf, -np.inf):
            a[at] = bad
            assert not _finite(a), (at, bad)
            assert not _finite(a.reshape(-1, 1)[::1]), (at, bad)
            a[at] = 1
    a[size - 1] = np.finfo(dtype).max
    assert not _finite(a)  # its square overflows: an exact path, never a wrong one
