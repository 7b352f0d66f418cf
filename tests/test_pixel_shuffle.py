"""``pixel_shuffle`` / ``pixel_unshuffle`` against PyTorch: values, gradients, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tconv
from helpers import rel_err
from tconv.upsampling import pixel_shuffle, pixel_unshuffle


@given(
    lead=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    c=st.integers(1, 3),
    r=st.integers(1, 3),
    h=st.integers(1, 4),
    w=st.integers(1, 4),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_matches_torch(torch, lead, c, r, h, w, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((*lead, c * r * r, h, w)).astype(dtype)
    ref = torch.nn.functional.pixel_shuffle(torch.tensor(x), r).numpy()
    y = pixel_shuffle(x, r)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y, ref)
    np.testing.assert_array_equal(pixel_unshuffle(y, r), x)
    ref_u = torch.nn.functional.pixel_unshuffle(torch.tensor(y), r).numpy()
    np.testing.assert_array_equal(pixel_unshuffle(y, r), ref_u)


def test_channel_order_formula(rng):
    # out[n, c, h r + i, w r + j] = in[n, c r^2 + i r + j, h, w]
    r, x = 3, rng.standard_normal((2, 2 * 9, 4, 5))
    y = pixel_shuffle(x, r)
    n, c, h, w, i, j = 1, 1, 2, 3, 2, 1
    assert y[n, c, h * r + i, w * r + j] == x[n, c * r * r + i * r + j, h, w]


def test_gradients(torch, rng):
    x = rng.standard_normal((2, 8, 3, 5))
    g = rng.standard_normal((2, 2, 6, 10))
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.pixel_shuffle(xt, 2).backward(torch.tensor(g))
    xs = tconv.tensor(x, requires_grad=True)
    (pixel_shuffle(xs, 2) * g).sum().backward()
    assert rel_err(xs.grad, xt.grad.numpy()) == 0.0
    yu = tconv.tensor(g, requires_grad=True)
    (pixel_unshuffle(yu, 2) * x).sum().backward()
    np.testing.assert_array_equal(yu.grad, pixel_shuffle(x, 2))


@pytest.mark.parametrize(
    "fn,shape,r,exc,msg",
    [
        (pixel_shuffle, (1, 5, 2, 2), 2, ValueError, "divisible by upscale_factor\\*\\*2 = 4"),
        (pixel_shuffle, (4, 2), 2, ValueError, "at least 3 dims"),
        (pixel_shuffle, (1, 4, 2, 2), 0, ValueError, "upscale_factor must be positive"),
        (pixel_shuffle, (1, 4, 2, 2), 2.0, TypeError, "upscale_factor must be an int"),
        (pixel_unshuffle, (1, 1, 5, 4), 2, ValueError, "height \\(5\\) must be divisible"),
        (pixel_unshuffle, (1, 1, 4, 3), 2, ValueError, "width \\(3\\) must be divisible"),
        (pixel_unshuffle, (1, 1, 4, 4), -1, ValueError, "downscale_factor must be positive"),
    ],
)
def test_errors(fn, shape, r, exc, msg):
    with pytest.raises(exc, match=msg):
        fn(np.ones(shape), r)
