"""``tconv.upsampling.interpolate`` against ``torch.nn.functional.interpolate``.

Every mode and option is drawn at random (hypothesis): size or scale_factor
(scalar or per dim, integer, non-integer, down-scaling), align_corners,
recompute_scale_factor, antialias, float32 and float64. Values must agree to
1e-10 (float64) and gradients to 1e-9.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import tconv
from helpers import rel_err
from tconv.upsampling import interpolate

RANKS = {
    "nearest": (1, 2, 3),
    "nearest-exact": (1, 2, 3),
    "area": (1, 2, 3),
    "linear": (1,),
    "bilinear": (2,),
    "bicubic": (2,),
    "trilinear": (3,),
    "lanczos": (2,),
}
MAX_SIZE = {1: 40, 2: 24, 3: 9}


@st.composite
def configs(draw, modes=tuple(RANKS)):
    mode = draw(st.sampled_from(modes))
    n = draw(st.sampled_from(RANKS[mode]))
    top = MAX_SIZE[n]
    shape = (
        draw(st.integers(1, 2)),
        draw(st.integers(1, 3)),
        *draw(st.tuples(*[st.integers(1, top)] * n)),
    )
    interp = mode in ("linear", "bilinear", "bicubic", "trilinear")
    align = draw(st.sampled_from([None, False, True])) if interp else None
    antialias = draw(st.booleans()) if mode in ("bilinear", "bicubic") else mode == "lanczos"
    kw: dict = dict(mode=mode, align_corners=align, antialias=antialias)
    if draw(st.booleans()):
        sizes = draw(st.tuples(*[st.integers(1, 2 * top)] * n))
        kw["size"] = sizes[0] if n == 1 or (draw(st.booleans()) and len(set(sizes)) == 1) else sizes
    else:
        factor = st.one_of(
            st.integers(1, 4),
            st.floats(0.25, 3.5).map(lambda v: round(v, 2)),
        )
        factors = draw(st.tuples(*[factor] * n))
        kw["scale_factor"] = factors[0] if draw(st.booleans()) else factors
        kw["recompute_scale_factor"] = draw(st.sampled_from([None, False, True]))
        sf = kw["scale_factor"]
        sfs = sf if isinstance(sf, tuple) else (sf,) * n
        assume(all(int(L * s) >= 1 for L, s in zip(shape[2:], sfs)))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    return shape, kw, dtype


def _out_size(shape, kw):
    n = len(shape) - 2
    if "size" in kw:
        s = kw["size"]
        return tuple(s) if isinstance(s, tuple) else (s,) * n
    sf = kw["scale_factor"]
    sfs = sf if isinstance(sf, tuple) else (sf,) * n
    return tuple(int(L * s) for L, s in zip(shape[2:], sfs))


def _torch_bug(shape, kw):
    """PyTorch's anti-aliased CPU kernel returns wrong values (every row equal to the first)
    when the output width is 1 and the height changes; tconv computes the right values."""
    out = _out_size(shape, kw)
    return kw["antialias"] and out[-1] == 1 and out[-2] != shape[-2]


def _compare(torch, shape, kw, dtype, rng, grad=True):
    x = rng.standard_normal(shape).astype(dtype)
    xt = torch.tensor(x, requires_grad=grad)
    ref = torch.nn.functional.interpolate(xt, **kw)
    got = interpolate(tconv.tensor(x, requires_grad=True) if grad else x, **kw)
    y = got.data if grad else got
    assert y.dtype == dtype
    assert y.shape == tuple(ref.shape)
    tol = 1e-10 if dtype == np.float64 else 2e-5
    assert rel_err(y, ref.detach().numpy()) <= tol, kw
    if grad:
        g = rng.standard_normal(y.shape).astype(dtype)
        ref.backward(torch.tensor(g))
        xg = tconv.tensor(x, requires_grad=True)
        (interpolate(xg, **kw) * g).sum().backward()
        assert xg.grad.dtype == dtype
        gtol = 1e-9 if dtype == np.float64 else 2e-5
        assert rel_err(xg.grad, xt.grad.numpy()) <= gtol, kw


@given(configs())
def test_matches_torch_random(torch, cfg):
    shape, kw, dtype = cfg
    assume(not _torch_bug(shape, kw))
    _compare(torch, shape, kw, dtype, np.random.default_rng(0))


@pytest.mark.parametrize("mode", list(RANKS))
@given(data=st.data())
def test_matches_torch_per_mode(torch, mode, data):
    shape, kw, dtype = data.draw(configs(modes=(mode,)))
    assume(not _torch_bug(shape, kw))
    _compare(torch, shape, kw, dtype, np.random.default_rng(1))


@pytest.mark.parametrize(
    "mode,shape,kw",
    [
        ("nearest", (2, 3, 7), dict(scale_factor=2.01)),  # size 2*in: PyTorch's shortcut
        ("nearest", (2, 3, 30, 30), dict(scale_factor=2.01)),  # ... only in the backward
        ("nearest", (2, 5, 9, 9), dict(scale_factor=1.07)),  # size unchanged, scale != 1
        ("nearest-exact", (2, 3, 39), dict(scale_factor=2.7)),  # float32 rounding of floorf
        ("nearest-exact", (1, 2, 100, 3), dict(size=(41, 14))),
        ("nearest", (1, 2, 90, 80), dict(size=(171, 139))),  # large output: generic kernel
        ("bicubic", (1, 2, 5, 6), dict(scale_factor=1.1)),  # same size, backward copies
        ("bilinear", (1, 2, 8, 5), dict(scale_factor=(1.1, 0.4), antialias=True)),
        ("linear", (2, 2, 9), dict(scale_factor=1.05)),  # same size: copied
        ("area", (2, 3, 10, 7, 5), dict(scale_factor=0.5)),
        ("trilinear", (1, 2, 3, 4, 5), dict(size=(6, 1, 11), align_corners=True)),
        ("bicubic", (1, 1, 1, 1), dict(size=(3, 4), align_corners=True)),
    ],
)
def test_edge_cases(torch, rng, mode, shape, kw):
    kw = dict(kw, mode=mode)
    for dtype in (np.float64, np.float32):
        _compare(torch, shape, kw, dtype, rng)


def test_tensor_in_tensor_out_and_no_alias(rng):
    x = rng.standard_normal((1, 2, 4, 4))
    keep = x.copy()
    y = interpolate(x, size=(4, 4), mode="bilinear")  # same size: still a new array
    assert isinstance(y, np.ndarray) and not np.shares_memory(y, x)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(x, keep)
    t = interpolate(tconv.tensor(x), scale_factor=2)
    assert isinstance(t, tconv.Tensor) and t.shape == (1, 2, 8, 8)
    # lists and ints are accepted, promoted to float64
    assert interpolate([[[1, 2]]], scale_factor=2).dtype == np.float64


def test_nearest_gradient_counts_copies():
    x = tconv.tensor(np.ones((1, 1, 3, 3)), requires_grad=True)
    interpolate(x, scale_factor=(2, 3)).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((1, 1, 3, 3), 6.0))


BAD = [
    (dict(size=4, scale_factor=2), ValueError, "only one of size or scale_factor"),
    (dict(), ValueError, "either size or scale_factor"),
    (dict(size=4, mode="bilinear"), ValueError, "Got 3D input, but bilinear mode needs 4D"),
    (dict(size=4, mode="trilinear"), ValueError, "needs 5D"),
    (dict(size=4, mode="bicubic"), ValueError, "needs 4D"),
    (dict(size=4, align_corners=True), ValueError, "align_corners option can only be set"),
    (dict(size=4, mode="area", align_corners=False), ValueError, "interpolating modes"),
    (dict(size=4, mode="linear", antialias=True), ValueError, "Anti-alias"),
    (dict(size=4, mode="cubic"), ValueError, "unknown mode='cubic'"),
    (dict(size=0), ValueError, "size must be positive"),
    (dict(scale_factor=0.1), ValueError, "empty output"),
    (dict(scale_factor=-2.0), ValueError, "positive"),
    (dict(size=(4, 4)), ValueError, "one entry per spatial dim"),
    (dict(scale_factor=(2, 2)), ValueError, "one entry per spatial dim"),
    (dict(size=4.5), TypeError, "size must be an int"),
    (dict(scale_factor="2"), TypeError, "scale_factor must be a float"),
    (dict(size=8, recompute_scale_factor=True), ValueError, "recompute_scale_factor"),
    (dict(size=4, mode="linear", align_corners="yes"), TypeError, "align_corners"),
]


@pytest.mark.parametrize("kw,exc,msg", BAD)
def test_bad_arguments(kw, exc, msg):
    with pytest.raises(exc, match=msg):
        interpolate(np.ones((1, 2, 5)), **kw)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"3-D .* 4-D .* or 5-D"):
        interpolate(np.ones((2, 5)), size=4)
    with pytest.raises(ValueError, match="x\\[None\\]"):
        interpolate(np.ones((3, 5, 5)), size=4, mode="bilinear")
    with pytest.raises(ValueError, match="lanczos mode requires antialias=True"):
        interpolate(np.ones((1, 1, 5, 5)), size=4, mode="lanczos")
    with pytest.raises(TypeError, match="real numbers"):
        interpolate(np.array([[["a"]]]), size=4)


def test_antialias_output_width_one_is_separable(torch, rng):
    # Where PyTorch's one-call result is wrong (see _torch_bug), two PyTorch calls that each
    # resize the last axis (the second on the transposed image) give the right answer, and
    # tconv agrees with them.
    x = rng.standard_normal((1, 2, 6, 4))
    F = torch.nn.functional
    for mode in ("bilinear", "bicubic"):
        kw = dict(mode=mode, antialias=True)
        w_pass = F.interpolate(torch.tensor(x), size=(6, 1), **kw).transpose(-1, -2)
        two = F.interpolate(w_pass, size=(1, 3), **kw).transpose(-1, -2)
        got = interpolate(x, size=(3, 1), **kw)
        assert rel_err(got, two.numpy()) <= 1e-12
        assert _torch_bug(x.shape, dict(kw, size=(3, 1)))


@pytest.mark.parametrize(
    "mode,kw",
    [
        ("nearest", {}),
        ("nearest-exact", {}),
        ("area", {}),
        ("bilinear", {}),
        ("bilinear", dict(align_corners=True)),
        ("bicubic", {}),
        ("bilinear", dict(antialias=True)),
        ("bicubic", dict(antialias=True)),
    ],
)
@pytest.mark.parametrize("size", [(97, 651), (33, 120), (80, 300)])
def test_long_axes(torch, mode, kw, size):
    # Long axes take the gather / sort-and-reduce paths, wide ones the per-slice GEMMs.
    _compare(
        torch, (1, 2, 40, 300), dict(kw, mode=mode, size=size), np.float64, np.random.default_rng(2)
    )


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_long_1d_float32(torch, mode):
    _compare(
        torch, (2, 3, 500), dict(mode=mode, scale_factor=2.5), np.float32, np.random.default_rng(3)
    )
    _compare(
        torch, (2, 3, 500), dict(mode=mode, scale_factor=0.3), np.float32, np.random.default_rng(3)
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_multiply_add_is_rounded_once(dtype):
    """``_fma`` (the anti-aliased cubic filter's, as PyTorch's kernels compute it) is
    ``a b + c`` rounded once: exact rational arithmetic, then one rounding."""
    from fractions import Fraction

    from tconv.kernels.resample import _fma

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(500).astype(dtype) for _ in range(2))
    c = [float(dtype(v)) for v in rng.standard_normal(500)]
    # the case of PyTorch's filter near 1: ((a + 2) x - (a + 3)) x, then that x + 1
    a[0], b[0], c[0] = 1.5, 1 - np.finfo(dtype).eps, -2.5
    for i in range(500):
        exact = Fraction(float(a[i])) * Fraction(float(b[i])) + Fraction(c[i])
        got = _fma(a[i : i + 1], b[i : i + 1], c[i])[0]
        # one rounding of the exact value (float32 through float64: within one ulp)
        assert got == dtype(float(exact)) or (
            dtype == np.float32 and abs(got - dtype(float(exact))) <= np.spacing(got)
        ), i


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("mode", "antialias"), [("bicubic", True), ("bicubic", False),
                                                 ("bilinear", True), ("bilinear", False)])  # fmt: skip
def test_zero_weights_where_torch_has_them(torch, dtype, mode, antialias):
    """The weights are zero exactly where PyTorch's are, on every size pair up to 12:
    they decide whether an inf input meets a weight (inf) or a zero (NaN), or is not
    read. PyTorch's anti-aliased cubic filter rounds with fused multiply-adds (tiny
    weights of about 1e-32 at its support's edge), its linear and cubic windows start
    at ``floorf`` of the source coordinate (float32 even in float64), and its cubic
    coefficients are computed in the input's dtype."""
    for n_in in range(1, 13):
        for n_out in range(1, 13):
            for align_corners in (False, True):
                e = np.eye(n_in, dtype=dtype).reshape(n_in, 1, 1, n_in)
                kw = dict(mode=mode, antialias=antialias, align_corners=align_corners,
                          size=(1, n_out))  # fmt: skip
                ref = torch.nn.functional.interpolate(torch.tensor(e), **kw).numpy()
                got = np.asarray(interpolate(e, **kw))
                assert ((ref == 0) == (got == 0)).all(), (n_in, n_out, align_corners)


def test_an_inf_that_pytorchs_bilinear_window_does_not_read(torch):
    """2 -> 6, bilinear, float64: output 4's source coordinate is a hair below 1;
    PyTorch's window starts at floorf of it (1), so the inf at 0 is not read there."""
    x = np.array([[[[np.inf, 1.0]]]])
    ref = torch.nn.functional.interpolate(torch.tensor(x), size=(1, 6), mode="bilinear")
    with np.errstate(invalid="ignore"):
        got = np.asarray(interpolate(x, size=(1, 6), mode="bilinear"))
    np.testing.assert_array_equal(got, ref.numpy())  # NaN where PyTorch has NaN, 1 where 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_antialiased_bicubic_inf_in_the_output_gradient(torch, dtype):
    """The case hypothesis found: an inf in the output gradient of an anti-aliased
    bicubic 8 -> 4 meets PyTorch's tiny weights (inf), not zeros (NaN)."""
    kw = dict(mode="bicubic", antialias=True, align_corners=True, size=(1, 4))
    g = np.zeros((1, 1, 1, 4), dtype=dtype)
    g[0, 0, 0, 0] = np.inf
    xt = torch.zeros((1, 1, 1, 8), dtype=torch.float64 if dtype == np.float64 else torch.float32,
                     requires_grad=True)  # fmt: skip
    torch.nn.functional.interpolate(xt, **kw).backward(torch.tensor(g))
    xa = tconv.tensor(np.zeros((1, 1, 1, 8), dtype=dtype), requires_grad=True)
    with np.errstate(invalid="ignore"):
        interpolate(xa, **kw).backward(g)
    ours, theirs = np.asarray(xa.grad), xt.grad.numpy()
    assert (np.isnan(ours) == np.isnan(theirs)).all() and (np.isinf(ours) == np.isinf(theirs)).all()
