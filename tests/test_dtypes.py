"""Mixed dtypes: NumPy's promotion among floats, ints and bools compute in float64.

The rule (:func:`tconv._args.compute_dtype`; PyTorch would refuse mixed float dtypes,
tconv promotes):

* the result dtype is the promoted dtype of the *floating* operands (input, weight,
  bias): float32 with float64 gives float64, float16 with float32 gives float32;
* bool and integer operands follow a float operand (int input, float32 weight:
  float32); with no float operand at all the result is float64 (the lecture's lists);
* float16 results are computed in float32 and rounded once;
* complex, object, string and longdouble operands are refused with a TypeError that
  names the op, the argument and the dtype.

Every dtype pair over conv, conv_transpose, interpolate, pooling, linear and the
modules: the result's dtype, its values against the float64 computation, and the errors.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

import tconv
import tconv.functional as F
from tconv import nn

OK = [np.bool_, np.int8, np.uint8, np.int64, np.float16, np.float32, np.float64]
REFUSED = [np.complex64, np.complex128, np.object_, np.longdouble, np.str_]


def expected(*dtypes: Any) -> np.dtype:
    floats = [np.dtype(d) for d in dtypes if d is not None and np.dtype(d).kind == "f"]
    return np.dtype(np.result_type(*floats)) if floats else np.dtype(np.float64)


def tol(dtype: np.dtype) -> dict[str, float]:
    return {2: {"rtol": 2e-2, "atol": 2e-2}, 4: {"rtol": 1e-5, "atol": 1e-5}}.get(
        dtype.itemsize, {"rtol": 1e-12, "atol": 1e-12}
    )


def values(shape: tuple[int, ...], dtype: Any, seed: int) -> np.ndarray:
    """Small non-negative integers: exact in every accepted dtype (bools: 0 and 1)."""
    v = np.random.default_rng(seed).integers(0, 2 if dtype is np.bool_ else 4, shape)
    return v.astype(dtype)


PAIRS = list(itertools.product(OK, OK, [None, *OK]))


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize(
    "xd,wd,bd",
    PAIRS,
    ids=[f"{a.__name__}-{b.__name__}-{getattr(c, '__name__', 'nobias')}" for a, b, c in PAIRS],
)
def test_conv_and_conv_transpose_pairs(xd, wd, bd, transposed) -> None:
    x = values((2, 2, 5), xd, 0)
    w = values((2, 2, 3), wd, 1)
    b = None if bd is None else values((2,), bd, 2)
    fn = F.conv_transpose1d if transposed else F.conv1d
    y = fn(x, w, b, stride=2, padding=1)
    want = expected(xd, wd, bd)
    assert y.dtype == want
    ref = fn(
        x.astype(np.float64),
        w.astype(np.float64),
        None if b is None else b.astype(np.float64),
        stride=2,
        padding=1,
    )
    np.testing.assert_allclose(y.astype(np.float64), ref, **tol(want))


@pytest.mark.parametrize("xd", OK)
def test_interpolate_and_pools(xd) -> None:
    x = values((1, 2, 4, 4), xd, 3)
    x64 = x.astype(np.float64)
    want = expected(xd)
    calls = [
        lambda a: F.interpolate(a, scale_factor=2, mode="bilinear"),
        lambda a: F.interpolate(a, size=(3, 5), mode="nearest"),
        lambda a: F.interpolate(a, size=(2, 2), mode="area"),
        lambda a: F.max_pool2d(a, 2),
        lambda a: F.avg_pool2d(a, 3, stride=1, padding=1),
        lambda a: F.adaptive_avg_pool2d(a, 3),
        lambda a: F.adaptive_max_pool2d(a, 3),
        lambda a: F.pixel_shuffle(np.concatenate([a, a]).reshape(1, 4, 4, 4), 2),
    ]
    for call in calls:
        y = call(x)
        if call is calls[-1]:
            assert y.dtype == x.dtype  # a rearrangement keeps the dtype as it is
            continue
        assert y.dtype == want, call
        np.testing.assert_allclose(y.astype(np.float64), call(x64), **tol(want))


@pytest.mark.parametrize("xd,wd", list(itertools.product(OK, [np.float16, np.float32, np.float64])))
def test_linear_float_weights(xd, wd) -> None:
    """``F.linear`` (NumPy's matmul) for float weights, and ``nn.Linear`` for any input."""
    x = values((3, 4), xd, 4)
    w = values((2, 4), wd, 5)
    m = nn.Linear(4, 2, dtype=wd)
    m.weight.data[...] = w
    m.bias.data[...] = 1
    y = m(x)
    want = expected(xd, wd)
    assert y.dtype == want
    ref = x.astype(np.float64) @ w.astype(np.float64).T + 1
    np.testing.assert_allclose(y.data.astype(np.float64), ref, **tol(want))
    y = F.linear(x, w, np.ones(2, dtype=xd))
    assert y.dtype == want
    np.testing.assert_allclose(y.astype(np.float64), ref, **tol(want))


def test_linear_integers_compute_in_float64_and_complex_is_refused() -> None:
    y = F.linear([[1, 2]], [[3, 4]])
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [[11.0]])
    with pytest.raises(TypeError, match=r"linear.*weight"):
        F.linear(np.ones((1, 2)), np.ones((1, 2), complex))


@pytest.mark.parametrize("xd", OK)
@pytest.mark.parametrize("module_dtype", [np.float32, np.float64])
def test_modules(xd, module_dtype) -> None:
    x = values((1, 2, 6, 6), xd, 6)
    for m in (
        nn.Conv2d(2, 3, 3, padding=1, dtype=module_dtype),
        nn.ConvTranspose2d(2, 3, 4, stride=2, padding=1, dtype=module_dtype),
        nn.Upsample(scale_factor=2, mode="bilinear"),
        nn.MaxPool2d(2),
    ):
        y = m(x)
        params = [p.dtype for p in m.parameters()]
        assert y.dtype == expected(xd, *params), (m, xd)


def test_lecture_lists_keep_working() -> None:
    y = F.conv_transpose1d([[[0, 0, 1, 0]]], [[[1, 2, 3]]])
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [[[0, 0, 1, 2, 3, 0]]])
    assert F.conv1d([[[True, False, True]]], [[[1, 1]]]).dtype == np.float64


@pytest.mark.parametrize("bad", REFUSED, ids=[d.__name__ for d in REFUSED])
def test_refused_dtypes_name_op_argument_and_dtype(bad) -> None:
    x, w = np.ones((1, 1, 4)), np.ones((1, 1, 2))
    b = np.ones(1)
    bad_x = x.astype(bad)
    cases = [
        ("conv1d", "input", lambda: F.conv1d(bad_x, w)),
        ("conv1d", "weight", lambda: F.conv1d(x, w.astype(bad))),
        ("conv_transpose1d", "bias", lambda: F.conv_transpose1d(x, w, b.astype(bad))),
        ("interpolate", "input", lambda: F.interpolate(bad_x, scale_factor=2)),
        ("max_pool1d", "input", lambda: F.max_pool1d(bad_x, 2)),
        ("adaptive_avg_pool1d", "input", lambda: F.adaptive_avg_pool1d(bad_x, 2)),
        ("pixel_shuffle", "input", lambda: F.pixel_shuffle(np.ones((1, 4, 1, 1)).astype(bad), 2)),
        ("Linear", "input", lambda: nn.Linear(4, 1)(np.ones((1, 4)).astype(bad))),
    ]
    for op, arg, call in cases:
        with pytest.raises(TypeError) as info:
            call()
        msg = str(info.value)
        assert msg.startswith(f"{op}: {arg} must hold real numbers"), msg
        assert f"got dtype {bad_x.dtype}" in msg, msg


def test_tensor_inputs_follow_the_same_rule() -> None:
    x = tconv.tensor(np.ones((1, 1, 5), np.float32), requires_grad=True)
    w = tconv.tensor(np.ones((1, 1, 3), np.float64), requires_grad=True)
    y = F.conv1d(x, w)
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float64
