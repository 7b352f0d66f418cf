"""The optional numba depthwise kernels (tconv.kernels._jit) against the NumPy
kernels in tconv.kernels.conv (groups=C) and against PyTorch.

Randomized geometry over 1-3 spatial dims, stride 1-3, dilation 1-2, kernel
1-4, a leading offset ``lo`` from negative to past the kernel span, and output
sizes that crop or run past the natural size; float64 rel. error <= 1e-10,
float32 <= 1e-5. Any geometry maps onto torch by padding or cropping explicitly
around a padding-0 torch call; where it maps onto torch's own padding and
output_padding, that call is checked too.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("numba")

from helpers import rel_err
from tconv.kernels import _jit
from tconv.kernels import settings as _config
from tconv.kernels.conv import conv_nd, conv_transpose_nd, conv_weight_grad_nd

TOL = {np.float64: 1e-10, np.float32: 1e-5}


@pytest.fixture(autouse=True, scope="module")
def _numpy_references() -> Iterator[None]:
    """conv.py hands depthwise calls to these very kernels: keep its NumPy paths
    as the reference."""
    with _config.jit(False):
        yield


@dataclass(frozen=True)
class Geo:
    n: int
    c: int
    size: tuple[int, ...]
    k: tuple[int, ...]
    s: tuple[int, ...]
    d: tuple[int, ...]
    lo: tuple[int, ...]
    out: tuple[int, ...]
    seed: int

    def arrays(self, dtype: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """x, w, and gy shaped as the output (the output gradient of the convolution)."""
        rng = np.random.default_rng(self.seed)
        x = rng.standard_normal((self.n, self.c, *self.size)).astype(dtype)
        w = rng.standard_normal((self.c, 1, *self.k)).astype(dtype)
        gy = rng.standard_normal((self.n, self.c, *self.out)).astype(dtype)
        return x, w, gy


@st.composite
def geos(draw: Any, transposed: bool) -> Geo:
    nd = draw(st.integers(1, 3))
    smax = {1: 9, 2: 6, 3: 4}[nd]
    k = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    size = tuple(draw(st.integers(1, smax)) for _ in range(nd))
    # lo from negative to past the kernel span
    lo = tuple(draw(st.integers(-4, di * (ki - 1) + 4)) for ki, di in zip(k, d))
    out = []
    for n_in, ki, si, di, li in zip(size, k, s, d, lo):
        if transposed:  # natural size with output_padding 0
            nat = (n_in - 1) * si + di * (ki - 1) + 1 - 2 * li
        else:
            nat = (n_in + 2 * li - di * (ki - 1) - 1) // si + 1
        # mostly near the natural size (crops and extensions), sometimes anywhere
        out.append(
            draw(st.one_of(st.integers(max(1, nat - 2), max(1, nat + 3)), st.integers(1, 12)))
        )
    return Geo(
        draw(st.integers(1, 3)),
        draw(st.integers(1, 3)),
        size,
        k,
        s,
        d,
        lo,
        tuple(out),
        draw(st.integers(0, 2**31 - 1)),
    )


dtypes = st.sampled_from([np.float64, np.float32])


def _window(a: np.ndarray, lo: tuple[int, ...], size: tuple[int, ...]) -> np.ndarray:
    """``b[..., j] = a[..., j - lo]`` for j < size, zero where that leaves ``a``
    (zero padding on the left for lo > 0, cropping for lo < 0)."""
    b = np.zeros(a.shape[:2] + tuple(size), dtype=a.dtype)
    src, dst = [], []
    for p, n, m in zip(lo, a.shape[2:], size):
        i0, i1 = max(0, -p), min(n, m - p)
        if i1 <= i0:
            return b
        src.append(slice(i0, i1))
        dst.append(slice(i0 + p, i1 + p))
    b[(slice(None), slice(None)) + tuple(dst)] = a[(slice(None), slice(None)) + tuple(src)]
    return b


def _torch_conv_transpose(torch: Any, g: Geo, x: np.ndarray, w: np.ndarray) -> list[np.ndarray]:
    """Torch's results for the geometry: padding 0 then crop/extend, and torch's own
    padding and output_padding where the geometry maps onto them."""
    import torch.nn.functional as TF

    f = getattr(TF, f"conv_transpose{len(g.k)}d")
    tx, tw = torch.from_numpy(x.astype(np.float64)), torch.from_numpy(w.astype(np.float64))
    full = f(tx, tw, None, g.s, 0, 0, g.c, g.d).numpy()
    refs = [_window(full, tuple(-p for p in g.lo), g.out)]  # y[j] = full[j + lo]
    op = [
        o - ((n - 1) * s - 2 * p + d * (k - 1) + 1)
        for o, n, s, p, d, k in zip(g.out, g.size, g.s, g.lo, g.d, g.k)
    ]
    if all(p >= 0 for p in g.lo) and all(0 <= a < max(s, d) for a, s, d in zip(op, g.s, g.d)):
        refs.append(f(tx, tw, None, g.s, g.lo, tuple(op), g.c, g.d).numpy())
    return refs


def _conv_maps_onto_torch(g: Geo) -> bool:
    """torch's padding=lo gives exactly the requested output size."""
    return all(p >= 0 for p in g.lo) and all(
        (n + 2 * p - d * (k - 1) - 1) // s + 1 == o
        for n, p, d, k, s, o in zip(g.size, g.lo, g.d, g.k, g.s, g.out)
    )


def _conv_input(g: Geo, x: np.ndarray) -> np.ndarray:
    """The padded/cropped input whose padding-0 convolution has ``g.out`` outputs."""
    need = tuple((o - 1) * s + d * (k - 1) + 1 for o, s, d, k in zip(g.out, g.s, g.d, g.k))
    return _window(x.astype(np.float64), g.lo, need)


def _torch_conv(torch: Any, g: Geo, x: np.ndarray, w: np.ndarray) -> list[np.ndarray]:
    import torch.nn.functional as TF

    f = getattr(TF, f"conv{len(g.k)}d")
    tw = torch.from_numpy(w.astype(np.float64))
    refs = [f(torch.from_numpy(_conv_input(g, x)), tw, None, g.s, 0, g.d, g.c).numpy()]
    if _conv_maps_onto_torch(g):
        tx = torch.from_numpy(x.astype(np.float64))
        refs.append(f(tx, tw, None, g.s, g.lo, g.d, g.c).numpy())
    return refs


def _torch_weight_grad(torch: Any, g: Geo, x: np.ndarray, gy: np.ndarray) -> list[np.ndarray]:
    f = getattr(torch.nn.grad, f"conv{len(g.k)}d_weight")
    shape = (g.c, 1, *g.k)
    tgy = torch.from_numpy(gy.astype(np.float64))
    xp = torch.from_numpy(_conv_input(g, x))
    refs = [f(xp, shape, tgy, g.s, 0, g.d, g.c).numpy()]
    if _conv_maps_onto_torch(g):
        tx = torch.from_numpy(x.astype(np.float64))
        refs.append(f(tx, shape, tgy, g.s, g.lo, g.d, g.c).numpy())
    return refs


def _check(got: np.ndarray, refs: list[np.ndarray], dtype: Any, g: Geo, size: np.ndarray) -> None:
    """Errors relative to the largest output, or to the largest sum of the
    magnitudes of its terms (``size``: the op on |inputs|) when that is larger:
    float32 may not keep 1e-5 of a lone output that is a cancellation."""
    assert got.dtype == np.dtype(dtype)
    scale = max(float(np.abs(refs[0]).max(initial=0.0)), float(size.max(initial=0.0)), 1e-30)
    for ref in refs:
        assert got.shape == ref.shape, g
        err = float(np.abs(got.astype(np.float64) - ref).max(initial=0.0))
        assert err <= TOL[dtype] * scale, g


@settings(max_examples=150)
@given(geos(transposed=True), dtypes)
def test_conv_transpose_matches_numpy_and_torch(torch: Any, g: Geo, dtype: Any) -> None:
    x, w, _ = g.arrays(dtype)
    got = _jit.depthwise_conv_transpose(x, w, g.s, g.d, g.lo, g.out)
    ref = conv_transpose_nd(x, w, g.s, g.d, g.c, g.lo, g.out)
    size = conv_transpose_nd(np.abs(x), np.abs(w), g.s, g.d, g.c, g.lo, g.out)
    _check(got, [ref, *_torch_conv_transpose(torch, g, x, w)], dtype, g, size)


@settings(max_examples=150)
@given(geos(transposed=False), dtypes)
def test_conv_matches_numpy_and_torch(torch: Any, g: Geo, dtype: Any) -> None:
    x, w, _ = g.arrays(dtype)
    got = _jit.depthwise_conv(x, w, g.s, g.d, g.lo, g.out)
    ref = conv_nd(x, w, g.s, g.d, g.c, g.lo, g.out)
    size = conv_nd(np.abs(x), np.abs(w), g.s, g.d, g.c, g.lo, g.out)
    _check(got, [ref, *_torch_conv(torch, g, x, w)], dtype, g, size)


@settings(max_examples=150)
@given(geos(transposed=False), dtypes)
def test_weight_grad_matches_numpy_and_torch(torch: Any, g: Geo, dtype: Any) -> None:
    x, _, gy = g.arrays(dtype)
    got = _jit.depthwise_conv_weight_grad(x, gy, g.k, g.s, g.d, g.lo)
    ref = conv_weight_grad_nd(x, gy, g.k, g.s, g.d, g.c, g.lo)
    size = conv_weight_grad_nd(np.abs(x), np.abs(gy), g.k, g.s, g.d, g.c, g.lo)
    _check(got, [ref, *_torch_weight_grad(torch, g, x, gy)], dtype, g, size)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dcgan_layer_and_its_backward(torch: Any, dtype: Any) -> None:
    """The benchmark case: k4 s2 p1 up-sampling 16x16 -> 32x32, and the
    convolution and weight gradient of its backward, against autograd."""
    import torch.nn.functional as TF

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 8, 16, 16)).astype(dtype)
    w = rng.standard_normal((8, 1, 4, 4)).astype(dtype)
    gy = rng.standard_normal((2, 8, 32, 32)).astype(dtype)
    tx, tw = (torch.from_numpy(a.astype(np.float64)).requires_grad_() for a in (x, w))
    TF.conv_transpose2d(tx, tw, None, 2, 1, 0, 8).backward(torch.from_numpy(gy))
    s, d, lo = (2, 2), (1, 1), (1, 1)
    y = _jit.depthwise_conv_transpose(x, w, s, d, lo, (32, 32))
    ref = TF.conv_transpose2d(tx, tw, None, 2, 1, 0, 8).detach().numpy()
    assert rel_err(y, ref) <= TOL[dtype]
    # the transposed convolution's input gradient is the convolution of gy ...
    gx = _jit.depthwise_conv(gy, w, s, d, lo, (16, 16))
    assert rel_err(gx, tx.grad.numpy()) <= TOL[dtype]
    # ... and its weight gradient the correlation of gy with x (roles swapped)
    gw = _jit.depthwise_conv_weight_grad(gy, x, (4, 4), s, d, lo)
    assert rel_err(gw, tw.grad.numpy()) <= TOL[dtype]


def test_references_are_the_numpy_kernels() -> None:
    """The comparisons above mean something only if conv.py ran NumPy."""
    assert not _config.get_jit()


def test_empty_batch() -> None:
    x = np.zeros((0, 3, 5, 4), np.float32)
    w = np.ones((3, 1, 2, 3), np.float32)
    y = _jit.depthwise_conv_transpose(x, w, (2, 1), (1, 2), (1, 0), (7, 6))
    assert y.shape == (0, 3, 7, 6) and y.dtype == np.float32
    y = _jit.depthwise_conv(x, w, (2, 1), (1, 2), (1, 0), (3, 2))
    assert y.shape == (0, 3, 3, 2) and y.dtype == np.float32
    gw = _jit.depthwise_conv_weight_grad(
        x, np.zeros((0, 3, 3, 2), np.float32), (2, 3), (2, 1), (1, 2), (1, 0)
    )
    assert gw.shape == (3, 1, 2, 3) and gw.dtype == np.float32
    assert not gw.any()
    # no channels
    y = _jit.depthwise_conv(np.ones((2, 0, 5)), np.ones((0, 1, 2)), (1,), (1,), (0,), (4,))
    assert y.shape == (2, 0, 4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_many_planes_share_scratch_buffers(dtype: Any) -> None:
    """Enough planes that the parallel tasks take blocks of them, which reuse
    one set of buffers: stale values must not leak from plane to plane."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((5, 70, 5, 7)).astype(dtype)
    w = rng.standard_normal((70, 1, 3, 2)).astype(dtype)
    assert _jit._block(5 * 70) > 1
    s, d, lo = (3, 2), (2, 1), (-1, 2)
    got = _jit.depthwise_conv_transpose(x, w, s, d, lo, (17, 13))
    assert rel_err(got, conv_transpose_nd(x, w, s, d, 70, lo, (17, 13))) <= TOL[dtype]
    got = _jit.depthwise_conv(x, w, s, d, lo, (2, 5))
    assert rel_err(got, conv_nd(x, w, s, d, 70, lo, (2, 5))) <= TOL[dtype]
    gy = rng.standard_normal((5, 70, 2, 5)).astype(dtype)
    got = _jit.depthwise_conv_weight_grad(x, gy, (3, 2), s, d, lo)
    assert rel_err(got, conv_weight_grad_nd(x, gy, (3, 2), s, d, 70, lo)) <= TOL[dtype]


def test_nothing_interacts_gives_zeros() -> None:
    """lo far past the input (or before it): every contribution is cropped."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 5))
    w = rng.standard_normal((2, 1, 3))
    for lo in (40, -40):
        np.testing.assert_array_equal(
            _jit.depthwise_conv_transpose(x, w, (2,), (1,), (lo,), (6,)), 0
        )
        np.testing.assert_array_equal(_jit.depthwise_conv(x, w, (2,), (1,), (lo,), (6,)), 0)
        gy = rng.standard_normal((2, 2, 6))
        np.testing.assert_array_equal(
            _jit.depthwise_conv_weight_grad(x, gy, (3,), (2,), (1,), (lo,)), 0
        )


def test_far_offsets_stay_small_and_exact() -> None:
    """Large |lo| and outputs far past the natural size: the kernels trim to what
    interacts, so buffers stay small, and still match the reference."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 2, 6, 5, 4))
    w = rng.standard_normal((2, 1, 3, 2, 4))
    s, d = (2, 3, 1), (2, 1, 2)
    for lo, out in [((-300, 2, 400), (320, 9, 7)), ((5, -200, -3), (4, 220, 30))]:
        got = _jit.depthwise_conv_transpose(x, w, s, d, lo, out)
        assert rel_err(got, conv_transpose_nd(x, w, s, d, 2, lo, out)) <= 1e-12
        got = _jit.depthwise_conv(x, w, s, d, lo, out)
        assert rel_err(got, conv_nd(x, w, s, d, 2, lo, out)) <= 1e-12
        gy = rng.standard_normal((1, 2, *out))
        got = _jit.depthwise_conv_weight_grad(x, gy, (3, 2, 4), s, d, lo)
        assert rel_err(got, conv_weight_grad_nd(x, gy, (3, 2, 4), s, d, 2, lo)) <= 1e-12


def test_non_contiguous_inputs_and_float32_output() -> None:
    rng = np.random.default_rng(3)
    x64 = rng.standard_normal((4, 3, 9, 7)).transpose(1, 0, 3, 2)[:, :, ::2]  # (3, 4, 4, 9)
    w64 = rng.standard_normal((3, 4, 1, 2)).transpose(1, 2, 3, 0)  # (4, 1, 2, 3)
    assert not x64.flags.c_contiguous and not w64.flags.c_contiguous
    x32 = x64.astype(np.float32)
    s, d, lo = (2, 1), (1, 2), (1, 1)
    for x in (x64, x32):
        tol = TOL[x.dtype.type]
        # the weight in float64 with a float32 input: results follow the input
        got = _jit.depthwise_conv_transpose(x, w64, s, d, lo, (9, 20))
        assert got.dtype == x.dtype
        ref = conv_transpose_nd(np.ascontiguousarray(x64), w64, s, d, 4, lo, (9, 20))
        assert rel_err(got, ref) <= tol
        got = _jit.depthwise_conv(x, w64, s, d, lo, (2, 5))
        assert got.dtype == x.dtype
        assert rel_err(got, conv_nd(x64, w64, s, d, 4, lo, (2, 5))) <= tol
        gy = rng.standard_normal((4, 3, 5, 4)).transpose(1, 0, 3, 2)[:, :, ::2]  # (3, 4, 2, 5)
        got = _jit.depthwise_conv_weight_grad(x, gy, (2, 3), s, d, lo)
        assert got.dtype == x.dtype
        assert rel_err(got, conv_weight_grad_nd(x64, gy, (2, 3), s, d, 4, lo)) <= tol


def test_inputs_are_not_modified() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 6, 6))
    w = rng.standard_normal((3, 1, 3, 3))
    gy = rng.standard_normal((2, 3, 3, 3))
    x0, w0, gy0 = x.copy(), w.copy(), gy.copy()
    _jit.depthwise_conv_transpose(x, w, (2, 2), (1, 1), (1, 1), (11, 11))
    _jit.depthwise_conv(x, w, (2, 2), (1, 1), (1, 1), (3, 3))
    _jit.depthwise_conv_weight_grad(x, gy, (3, 3), (2, 2), (1, 1), (1, 1))
    for a, a0 in ((x, x0), (w, w0), (gy, gy0)):
        np.testing.assert_array_equal(a, a0)


def test_other_dtypes_are_refused() -> None:
    with pytest.raises(TypeError, match="float32 or float64"):
        _jit.depthwise_conv(
            np.ones((1, 1, 4), np.int64), np.ones((1, 1, 2)), (1,), (1,), (0,), (3,)
        )


def test_imports_and_computes_without_numba(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without numba the module still imports (AVAILABLE False) and its kernels,
    plain Python then, compute the same results (slowly)."""
    monkeypatch.setitem(sys.modules, "numba", None)  # makes `import numba` fail
    spec = importlib.util.spec_from_file_location("_jit_no_numba", _jit.__file__)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.AVAILABLE is False and _jit.AVAILABLE is True
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 2, 3, 4))
    w = rng.standard_normal((2, 1, 2, 3))
    for s, lo in itertools.product([(1, 2), (2, 3)], [(0, 1), (-1, 3)]):
        out_t = tuple((n - 1) * si + k + 1 for n, si, k in zip(x.shape[2:], s, w.shape[2:]))
        got = mod.depthwise_conv_transpose(x, w, s, (1, 1), lo, out_t)
        assert rel_err(got, conv_transpose_nd(x, w, s, (1, 1), 2, lo, out_t)) <= 1e-12
        got = mod.depthwise_conv(x, w, s, (1, 1), lo, (2, 2))
        assert rel_err(got, conv_nd(x, w, s, (1, 1), 2, lo, (2, 2))) <= 1e-12
        gy = rng.standard_normal((1, 2, 2, 2))
        got = mod.depthwise_conv_weight_grad(x, gy, (2, 3), s, (1, 1), lo)
        assert rel_err(got, conv_weight_grad_nd(x, gy, (2, 3), s, (1, 1), 2, lo)) <= 1e-12
