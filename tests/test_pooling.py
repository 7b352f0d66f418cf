"""``tconv.functional.pooling`` and the ``tconv.nn`` pooling layers against PyTorch.

Random configurations (hypothesis): 1-3 spatial dims, batched and unbatched,
kernel / stride / padding / dilation per dim or scalar, ceil_mode,
count_include_pad, divisor_override, float32 and float64, data with ties (small
integers) half of the time. Values must agree to 1e-10 (float64) / 1e-5
(float32), gradients to 1e-9 (float64), max-pool indices exactly; where PyTorch
rejects a configuration, tconv must raise a ValueError.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tconv
from helpers import rel_err
from tconv import nn
from tconv.autograd.gradcheck import gradcheck
from tconv.functional import pooling as P

MAX_SIZE = {1: 14, 2: 9, 3: 5}
MAX_KERNEL = {1: 4, 2: 3, 3: 3}


def _per_dim(draw, values):
    if len(set(values)) == 1 and draw(st.booleans()):
        return values[0]
    return values


@st.composite
def windowed(draw):
    kind = draw(st.sampled_from(["avg", "max"]))
    n = draw(st.sampled_from([1, 2, 3]))
    k = draw(st.tuples(*[st.integers(1, MAX_KERNEL[n])] * n))
    p = tuple(draw(st.integers(0, ki // 2)) for ki in k)
    kw: dict = dict(kernel_size=_per_dim(draw, k), padding=_per_dim(draw, p))
    if draw(st.booleans()):
        kw["stride"] = _per_dim(draw, draw(st.tuples(*[st.integers(1, 3)] * n)))
    kw["ceil_mode"] = draw(st.booleans())
    if kind == "max":
        kw["dilation"] = _per_dim(draw, draw(st.tuples(*[st.integers(1, 2)] * n)))
        kw["return_indices"] = True
    else:
        kw["count_include_pad"] = draw(st.booleans())
        if n > 1 and draw(st.integers(0, 3)) == 0:
            kw["divisor_override"] = draw(st.sampled_from([1, 3, -2]))
    size = draw(st.tuples(*[st.integers(1, MAX_SIZE[n])] * n))
    batch = draw(st.sampled_from([None, 1, 2]))
    shape = (draw(st.integers(1, 3)), *size) if batch is None else (batch, 2, *size)
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    ties = draw(st.booleans())
    return kind, n, shape, kw, dtype, ties, draw(st.integers(0, 2**31))


@st.composite
def adaptive(draw):
    kind = draw(st.sampled_from(["avg", "max"]))
    n = draw(st.sampled_from([1, 2, 3]))
    size = draw(st.tuples(*[st.integers(1, MAX_SIZE[n])] * n))
    out = draw(st.tuples(*[st.one_of(st.integers(1, MAX_SIZE[n] + 2), st.none())] * n))
    if n == 1:
        output_size = out[0] if out[0] is not None else 3
    else:
        output_size = _per_dim(draw, out)
        if output_size is None:
            output_size = out
    batch = draw(st.sampled_from([None, 1, 2]))
    shape = (draw(st.integers(1, 3)), *size) if batch is None else (batch, 2, *size)
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    return kind, n, shape, output_size, dtype, draw(st.booleans()), draw(st.integers(0, 2**31))


def _data(shape, dtype, ties, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, shape) if ties else rng.standard_normal(shape)
    return x.astype(dtype), rng


def _check(torch, fn_t, fn, x, kw, rng, indices):
    """Values, gradients (and indices) of ``fn`` against ``fn_t``; both fail or neither."""
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    xx = tconv.tensor(x, requires_grad=True)
    try:
        yt = fn_t(xt, **kw)
    except RuntimeError:
        # PyTorch rejects the configuration: that draw checks that tconv does too.
        with pytest.raises(ValueError):
            fn(xx, **kw)
        with pytest.raises(ValueError):
            fn(x, **kw)
    else:
        _agree(torch, fn, x, xt, xx, yt, kw, rng, indices)


def _agree(torch, fn, x, xt, xx, yt, kw, rng, indices):
    y = fn(xx, **kw)
    plain = fn(x, **kw)
    if indices:
        (yt, it), (y, i), plain = yt, y, plain[0]
        assert isinstance(i, tconv.Tensor) and i.dtype == np.int64
        np.testing.assert_array_equal(i.data, it.numpy())
    assert isinstance(y, tconv.Tensor) and isinstance(plain, np.ndarray)
    assert y.shape == tuple(yt.shape) and y.dtype == x.dtype and plain.dtype == x.dtype
    tol = 1e-10 if x.dtype == np.float64 else 1e-5
    ref = yt.detach().numpy()
    finite = np.isfinite(ref)
    np.testing.assert_array_equal(y.data[~finite], ref[~finite])
    assert rel_err(np.where(finite, y.data, 0), np.where(finite, ref, 0)) <= tol
    np.testing.assert_array_equal(plain, y.data)
    if not finite.all():
        # windows of padding only (dilation): PyTorch's backward writes at an index
        # outside the input (into the next channel); tconv passes no gradient there.
        y.backward(np.ones_like(y.data))
        assert np.isfinite(xx.grad).all()
    else:
        g = rng.standard_normal(ref.shape).astype(x.dtype)
        yt.backward(torch.from_numpy(g))
        y.backward(g)
        assert xx.grad.dtype == x.dtype
        assert rel_err(xx.grad, xt.grad.numpy()) <= (1e-9 if x.dtype == np.float64 else 1e-5)


@settings(max_examples=120)
@given(windowed())
def test_windowed_pools_match_torch(torch, cfg) -> None:
    kind, n, shape, kw, dtype, ties, seed = cfg
    x, rng = _data(shape, dtype, ties, seed)
    name = f"{kind}_pool{n}d"
    _check(
        torch,
        getattr(torch.nn.functional, name),
        getattr(tconv.functional, name),
        x,
        kw,
        rng,
        indices=kind == "max",
    )


@settings(max_examples=80)
@given(adaptive())
def test_adaptive_pools_match_torch(torch, cfg) -> None:
    kind, n, shape, output_size, dtype, ties, seed = cfg
    x, rng = _data(shape, dtype, ties, seed)
    name = f"adaptive_{kind}_pool{n}d"
    kw: dict = dict(output_size=output_size)
    if kind == "max":
        kw["return_indices"] = True
    _check(
        torch,
        getattr(torch.nn.functional, name),
        getattr(tconv.functional, name),
        x,
        kw,
        rng,
        indices=kind == "max",
    )


def test_max_pool_ties_take_the_first_in_window_order(torch) -> None:
    """A constant input: every window's arg-max is its first in-bounds element."""
    x = np.ones((1, 1, 5, 6))
    _, idx = P.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, return_indices=True)
    _, it = torch.nn.functional.max_pool2d(
        torch.from_numpy(x), 3, stride=2, padding=1, ceil_mode=True, return_indices=True
    )
    np.testing.assert_array_equal(idx, it.numpy())
    np.testing.assert_array_equal(idx[0, 0], [[0, 1, 3, 5], [6, 7, 9, 11], [18, 19, 21, 23]])
    xt = tconv.tensor(x, requires_grad=True)
    P.max_pool2d(xt, 2, stride=1).sum().backward()
    expected = np.zeros((5, 6))
    expected[:4, :5] = 1  # each window's gradient goes to its top-left element
    np.testing.assert_array_equal(xt.grad[0, 0], expected)


def test_max_pools_propagate_nan_as_torch(torch) -> None:
    x = np.arange(20.0).reshape(1, 4, 5)
    x[0, 1, 1] = x[0, 2, 3] = x[0, 3, 4] = np.nan
    for fn, kw in [
        ("max_pool2d", dict(kernel_size=3, stride=1, padding=1)),
        ("adaptive_max_pool2d", dict(output_size=(3, 2))),
    ]:
        y, i = getattr(P, fn)(x, return_indices=True, **kw)
        yt, it = getattr(torch.nn.functional, fn)(torch.from_numpy(x), return_indices=True, **kw)
        np.testing.assert_array_equal(y, yt.numpy())  # NaNs in the same places
        np.testing.assert_array_equal(i, it.numpy())


def test_windows_of_padding_only(torch) -> None:
    """With dilation a window can miss the input: -inf out, PyTorch's index, no gradient."""
    x = np.array([[[0.5, 0.2, 0.1]], [[0.3, 0.9, 0.4]]])
    kw = dict(kernel_size=2, padding=1, dilation=3, return_indices=True)
    xt = tconv.tensor(x, requires_grad=True)
    y, i = P.max_pool1d(xt, **kw)
    yt, it = torch.nn.functional.max_pool1d(torch.from_numpy(x), **kw)
    np.testing.assert_array_equal(y.data, yt.numpy())
    np.testing.assert_array_equal(i.data, it.numpy())
    y.sum().backward()
    np.testing.assert_array_equal(xt.grad, [[[0, 0, 1]], [[0, 0, 1]]])
    y2, i2 = P.max_pool1d(np.array([[0.5], [0.7]]), 2, padding=1, dilation=2, return_indices=True)
    np.testing.assert_array_equal(y2, [[-np.inf], [-np.inf]])
    np.testing.assert_array_equal(i2, [[1], [1]])  # as PyTorch: past the end of the input
    t = tconv.tensor(np.array([[0.5], [0.7]]), requires_grad=True)
    P.max_pool1d(t, 2, padding=1, dilation=2).sum().backward()
    np.testing.assert_array_equal(t.grad, [[0.0], [0.0]])


def test_special_values(torch) -> None:
    """-inf windows, ceil_mode windows clipped at the border, count_include_pad=False."""
    x = np.full((1, 2, 4), -np.inf)
    x[0, 1] = [1.0, 2.0, 3.0, 4.0]
    y, i = P.max_pool1d(x, 3, stride=2, padding=1, ceil_mode=True, return_indices=True)
    yt, it = torch.nn.functional.max_pool1d(
        torch.from_numpy(x), 3, stride=2, padding=1, ceil_mode=True, return_indices=True
    )
    np.testing.assert_array_equal(y, yt.numpy())
    np.testing.assert_array_equal(i, it.numpy())
    a = np.arange(7.0).reshape(1, 1, 7)
    got = P.avg_pool1d(a, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=True)
    ref = torch.nn.functional.avg_pool1d(
        torch.from_numpy(a), 3, stride=2, padding=1, ceil_mode=True, count_include_pad=True
    )
    np.testing.assert_allclose(got, ref.numpy(), rtol=1e-15)


@pytest.mark.parametrize(
    ("fn", "shape", "kw"),
    [
        (P.avg_pool1d, (2, 2, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
        (P.avg_pool2d, (1, 2, 5, 4), dict(kernel_size=(3, 2), padding=(1, 0), stride=2)),
        (P.avg_pool2d, (2, 4, 5), dict(kernel_size=2, count_include_pad=False, padding=1)),
        (P.avg_pool2d, (1, 1, 4, 4), dict(kernel_size=3, stride=1, divisor_override=2)),
        (P.avg_pool3d, (1, 1, 3, 4, 3), dict(kernel_size=2, stride=1, padding=1)),
        (P.max_pool1d, (1, 2, 9), dict(kernel_size=3, stride=2, dilation=2, padding=1)),
        (P.max_pool2d, (1, 2, 5, 5), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
        (P.max_pool3d, (2, 3, 4, 3), dict(kernel_size=2, stride=(1, 2, 1))),
        (P.adaptive_avg_pool1d, (1, 2, 7), dict(output_size=3)),
        (P.adaptive_avg_pool2d, (1, 2, 5, 7), dict(output_size=(3, 4))),
        (P.adaptive_avg_pool3d, (1, 3, 4, 5), dict(output_size=(2, None, 3))),
        (P.adaptive_max_pool1d, (2, 7), dict(output_size=4)),
        (P.adaptive_max_pool2d, (1, 2, 5, 7), dict(output_size=(3, 4))),
        (P.adaptive_max_pool3d, (1, 1, 3, 4, 5), dict(output_size=2)),
    ],
)
def test_gradcheck(fn, shape, kw, rng) -> None:
    # distinct values, so that no max is tied and finite differences see one arg-max
    x = tconv.tensor(rng.permutation(np.prod(shape)).reshape(shape) * 0.1, requires_grad=True)
    assert gradcheck(lambda t: fn(t, **kw), (x,))


def test_dtypes_and_kinds() -> None:
    x = np.arange(16).reshape(1, 1, 4, 4)  # integers compute in float64, as elsewhere
    assert P.avg_pool2d(x, 2).dtype == np.float64
    assert P.max_pool2d(x.astype(np.float16), 2).dtype == np.float16
    assert P.adaptive_avg_pool2d(x.astype(np.float32), 3).dtype == np.float32
    with tconv.no_grad():
        y = P.max_pool2d(tconv.tensor(x * 1.0, requires_grad=True), 2)
    assert isinstance(y, tconv.Tensor) and not y.requires_grad
    assert P.adaptive_avg_pool2d(np.ones((1, 1, 3, 3)), 0).shape == (1, 1, 0, 0)
    assert P.max_pool2d(np.ones((0, 2, 4, 4)), 2).shape == (0, 2, 2, 2)


BAD = [
    (P.max_pool2d, (1, 1, 5, 5), dict(kernel_size=3, padding=2), ValueError, "at most half"),
    (P.avg_pool1d, (1, 1, 5), dict(kernel_size=2, padding=2), ValueError, "padding=2"),
    (P.avg_pool2d, (1, 1, 5, 5), dict(kernel_size=0), ValueError, "kernel_size must be positive"),
    (P.max_pool2d, (1, 1, 5, 5), dict(kernel_size=2, stride=0), ValueError, "stride must be pos"),
    (P.max_pool1d, (1, 1, 5), dict(kernel_size=2, dilation=0), ValueError, "dilation must be"),
    (P.avg_pool2d, (1, 1, 5, 5), dict(kernel_size=2, padding=-1), ValueError, "non-negative"),
    (P.avg_pool2d, (1, 1, 5, 5), dict(kernel_size=7), ValueError, "output would be empty"),
    (P.max_pool1d, (1, 1, 5), dict(kernel_size=3, dilation=3), ValueError, "output would be"),
    (P.avg_pool2d, (1, 1, 4, 4), dict(kernel_size=(2, 2, 2)), ValueError, "tuple of 2 ints"),
    (P.avg_pool2d, (1, 1, 4, 4), dict(kernel_size=2.0), TypeError, "kernel_size must be an int"),
    (P.avg_pool2d, (1, 1, 4, 4), dict(kernel_size=2, divisor_override=0), ValueError, "non-zero"),
    (P.avg_pool3d, (1, 1, 2, 2, 2), dict(kernel_size=2, divisor_override=1.5), TypeError, "int"),
    (P.max_pool2d, (1, 1, 1, 4, 4), dict(kernel_size=2), ValueError, "must be 4-D"),
    (P.max_pool1d, (4,), dict(kernel_size=2), ValueError, "or 2-D unbatched"),
    (P.max_pool2d, (1, 0, 4, 4), dict(kernel_size=2), ValueError, "non-zero size"),
    (P.avg_pool3d, (1, 1, 1, 3, 3), dict(kernel_size=2, padding=1), ValueError, "at least kernel"),
    (P.adaptive_avg_pool2d, (1, 1, 4, 4), dict(output_size=-1), ValueError, "non-negative"),
    (P.adaptive_max_pool2d, (1, 1, 4, 4), dict(output_size=(2, 2, 2)), ValueError, "tuple of 2"),
    (P.adaptive_avg_pool1d, (1, 1, 4), dict(output_size=2.5), TypeError, "output_size"),
    (P.adaptive_avg_pool3d, (1, 1, 2, 2, 2), dict(output_size="2"), TypeError, "output_size"),
]


@pytest.mark.parametrize(("fn", "shape", "kw", "exc", "match"), BAD)
def test_bad_arguments(fn, shape, kw, exc, match, torch) -> None:
    with pytest.raises(exc, match=match) as info:
        fn(np.zeros(shape), **kw)
    assert fn.__name__ in str(info.value)
    if exc is ValueError and "output_size" not in kw:
        with pytest.raises(RuntimeError):  # PyTorch rejects them too
            getattr(torch.nn.functional, fn.__name__)(torch.zeros(shape), **kw)


def test_non_numeric_input() -> None:
    with pytest.raises(TypeError, match="max_pool1d: input"):
        P.max_pool1d(np.array([["a", "b"]]), 2)


# -- modules -------------------------------------------------------------------------------

MODULES = [
    "AvgPool1d(3)",
    "AvgPool1d(3, 2, 1, ceil_mode=True, count_include_pad=False)",
    "AvgPool2d(2)",
    "AvgPool2d((3, 2), stride=(2, 1), padding=1, divisor_override=3)",
    "AvgPool3d(3, 1)",
    "MaxPool1d(3)",
    "MaxPool2d((2, 3))",
    "MaxPool2d(3, 2, 1, 2, True, True)",
    "MaxPool3d(2, padding=1, ceil_mode=True)",
    "AdaptiveAvgPool1d(3)",
    "AdaptiveAvgPool2d((2, None))",
    "AdaptiveAvgPool3d(2)",
    "AdaptiveMaxPool1d(2)",
    "AdaptiveMaxPool2d(2, return_indices=True)",
    "AdaptiveMaxPool3d((1, 2, 3))",
]


@pytest.mark.parametrize("spec", MODULES)
def test_modules_match_torch(spec, torch, rng) -> None:
    ours, theirs = eval("nn." + spec), eval("torch.nn." + spec)
    assert repr(ours) == repr(theirs)
    assert list(ours.parameters()) == [] and ours.state_dict() == {}
    n = int(spec.split("(")[0][-2])
    x = rng.standard_normal((2, 3, *[7] * n))
    y, yt = ours(x), theirs(torch.from_numpy(x))
    if isinstance(yt, tuple):
        np.testing.assert_array_equal(y[1], yt[1].numpy())
        y, yt = y[0], yt[0]
    assert rel_err(y, yt.numpy()) <= 1e-12


def test_modules_train_in_a_model(rng) -> None:
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.AvgPool2d(2, ceil_mode=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    x = tconv.tensor(rng.standard_normal((2, 1, 9, 9)).astype(np.float32), requires_grad=True)
    out = model(x)
    assert out.shape == (2, 4) and out.dtype == np.float32
    out.sum().backward()
    assert x.grad is not None and x.grad.dtype == np.float32
    assert all(p.grad is not None for p in model.parameters())


def test_exports() -> None:
    for name in P.__all__:
        assert getattr(tconv.functional, name) is getattr(P, name)
        assert name in tconv.functional.__all__
    for name in ("AvgPool2d", "MaxPool3d", "AdaptiveAvgPool1d", "AdaptiveMaxPool2d"):
        assert name in nn.__all__ and hasattr(nn, name)
