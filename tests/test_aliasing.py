"""Results never alias inputs: writing to a result never changes an input.

For every public op and module family, hypothesis draws inputs -- including the
cases where a rearrangement or an identity would naturally be a view (pixel shuffle
with r = 1 or 1x1 images, same-size interpolation, 1x1 pools, adaptive pools to the
input's size, flatten, dropout in eval) -- and checks ``np.shares_memory`` between the
result and every input array (Tensor results and inputs by their ``.data``), and that
no input changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import tconv
import tconv.functional as F
from tconv import grad, nn

FLOATS = st.sampled_from([np.float32, np.float64])


def _arrays(result: Any) -> list[np.ndarray]:
    items = result if isinstance(result, tuple) else (result,)
    return [r.data if isinstance(r, tconv.Tensor) else np.asarray(r) for r in items]


def check(fn: Callable[..., Any], *inputs: Any, **kwargs: Any) -> Any:
    """Call ``fn``; assert no result shares memory with an input and inputs are unchanged."""
    arrays = [i.data if isinstance(i, tconv.Tensor) else i for i in inputs]
    arrays = [a for a in arrays if isinstance(a, np.ndarray)]
    before = [a.copy() for a in arrays]
    result = fn(*inputs, **kwargs)
    for out in _arrays(result):
        for a in arrays:
            assert not np.shares_memory(out, a), (fn, out.shape, a.shape)
    for a, b in zip(arrays, before, strict=True):
        np.testing.assert_array_equal(a, b)
    return result


def _maybe_tensor(x: np.ndarray, as_tensor: bool) -> Any:
    return tconv.tensor(x, requires_grad=True) if as_tensor else x


@settings(max_examples=30)
@given(
    r=st.integers(1, 3),
    c=st.integers(1, 2),
    h=st.integers(1, 3),
    w=st.integers(1, 3),
    dtype=FLOATS,
    as_tensor=st.booleans(),
    unbatched=st.booleans(),
)
def test_pixel_shuffle_and_unshuffle(r, c, h, w, dtype, as_tensor, unbatched) -> None:
    shape = (c * r * r, h, w) if unbatched else (1, c * r * r, h, w)
    x = _maybe_tensor(np.arange(np.prod(shape), dtype=dtype).reshape(shape), as_tensor)
    y = check(F.pixel_shuffle, x, r)
    check(F.pixel_unshuffle, y.data if as_tensor else y, r)
    check(nn.PixelShuffle(r), x)


def test_pixel_shuffle_known_views() -> None:
    """The issue's cases: r = 1; r = 2 on (1, 4, 2, 2); (1, 16, 1, 1)."""
    for shape, r in (((1, 4, 2, 2), 1), ((1, 4, 2, 2), 2), ((1, 16, 1, 1), 4)):
        x = np.ones(shape)
        y = check(F.pixel_shuffle, x, r)
        y[...] = 5
        assert (x == 1).all()
        check(F.pixel_unshuffle, np.ones((1, 1, 2, 2)), r if r < 4 else 2)


@settings(max_examples=30)
@given(
    nd=st.integers(1, 3),
    size=st.integers(1, 4),
    mode=st.sampled_from(["nearest", "nearest-exact", "area", "linear"]),
    scale=st.sampled_from([None, 1.0, 2.0]),
    dtype=FLOATS,
    as_tensor=st.booleans(),
)
def test_interpolate_including_identity_sizes(nd, size, mode, scale, dtype, as_tensor) -> None:
    if mode == "linear":
        mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[nd]
    x = _maybe_tensor(np.ones((1, 2) + (size,) * nd, dtype=dtype), as_tensor)
    kwargs: dict[str, Any] = {"mode": mode}
    if scale is None:
        kwargs["size"] = (size,) * nd  # the same size: an identity
    else:
        kwargs["scale_factor"] = scale
    check(F.interpolate, x, **kwargs)
    check(nn.Upsample(**kwargs), x)


@settings(max_examples=40)
@given(
    nd=st.integers(1, 3),
    size=st.integers(1, 4),
    kind=st.sampled_from(["avg", "max", "adaptive_avg", "adaptive_max"]),
    dtype=FLOATS,
    as_tensor=st.booleans(),
    unbatched=st.booleans(),
)
def test_pools_including_1x1_and_identity(nd, size, kind, dtype, as_tensor, unbatched) -> None:
    shape = (2,) + (size,) * nd
    x = _maybe_tensor(np.ones(shape if unbatched else (1, *shape), dtype=dtype), as_tensor)
    if kind.startswith("adaptive"):
        check(getattr(F, f"{kind}_pool{nd}d"), x, (size,) * nd)  # the input's own size
        check(getattr(F, f"{kind}_pool{nd}d"), x, None)
        module = getattr(nn, f"Adaptive{'Avg' if 'avg' in kind else 'Max'}Pool{nd}d")((size,) * nd)
    else:
        check(getattr(F, f"{kind}_pool{nd}d"), x, 1)  # 1x1 windows: an identity
        module = getattr(nn, f"{'Avg' if kind == 'avg' else 'Max'}Pool{nd}d")(1)
    check(module, x)
    if kind == "max":
        check(F.max_pool1d if nd == 1 else getattr(F, f"max_pool{nd}d"), x, 1, return_indices=True)


@settings(max_examples=40)
@given(
    nd=st.integers(1, 3),
    transposed=st.booleans(),
    size=st.integers(1, 3),
    c=st.integers(1, 2),
    bias=st.booleans(),
    dtype=FLOATS,
    as_tensor=st.booleans(),
    unbatched=st.booleans(),
)
def test_convolutions_1x1_and_scalar(nd, transposed, size, c, bias, dtype, as_tensor, unbatched):
    shape = (c,) + (size,) * nd
    x = np.ones(shape if unbatched else (1, *shape), dtype=dtype)
    w = np.full((c, c) + (1,) * nd, 2.0, dtype=dtype)
    b = np.zeros(c, dtype=dtype) if bias else None
    fn = getattr(F, f"conv_transpose{nd}d" if transposed else f"conv{nd}d")
    xs, ws = _maybe_tensor(x, as_tensor), _maybe_tensor(w, as_tensor)
    check(fn, xs, ws, b)
    gy = np.ones_like(x)
    full = x.shape if not unbatched else (1, *x.shape)
    gy = gy if not unbatched else gy[None]
    name = "conv_transpose" if transposed else "conv"
    check(getattr(grad, f"{name}{nd}d_input"), full, w, gy)
    check(getattr(grad, f"{name}{nd}d_weight"), x if not unbatched else x[None], w.shape, gy)


@settings(max_examples=20)
@given(dtype=FLOATS, as_tensor=st.booleans(), p=st.sampled_from([0.0, 0.5]))
def test_shape_layers_and_identities(dtype, as_tensor, p) -> None:
    x = _maybe_tensor(np.ones((2, 3, 4), dtype=dtype), as_tensor)
    check(nn.Flatten(), x)
    check(nn.Unflatten(2, (2, 2)), x)
    check(nn.Identity(), x)
    check(nn.Dropout(p).eval(), x)
    if p == 0.0:
        check(nn.Dropout(p), x)  # training, but nothing dropped
    check(nn.Sequential(nn.Identity(), nn.Flatten(0, -1)), x)


@settings(max_examples=20)
@given(dtype=FLOATS, as_tensor=st.booleans())
def test_layers_with_parameters(dtype, as_tensor) -> None:
    x = _maybe_tensor(np.ones((1, 2, 3, 3), dtype=dtype), as_tensor)
    for m in (
        nn.Conv2d(2, 2, 1),
        nn.ConvTranspose2d(2, 2, 1),
        nn.ResizeConv2d(2, 2, 1, scale_factor=1),
        nn.Linear(3, 3),
    ):
        m = m.float() if dtype == np.float32 else m.double()
        y = check(m, x)
        for param in m.parameters():
            assert not np.shares_memory(y.data, param.data)


def test_identity_keeps_the_gradient() -> None:
    x = tconv.tensor(np.arange(3.0), requires_grad=True)
    y = nn.Identity()(x)
    assert y is not x and not np.shares_memory(y.data, x.data)
    (y * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])
