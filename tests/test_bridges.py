"""The bridges between resize-convolution and transposed convolution (issue 4).

* nearest up-scaling by s, then ``conv(w, padding=p)``  ==  ``conv_transpose`` with
  stride s, padding d(k-1) - p and kernel box_s * flip(w): exactly, borders included;
* linear up-scaling by 2 (align_corners=False)  ==  ``conv_transpose`` with kernel
  [.25, .75, .75, .25], stride 2, padding 1, except the first and last outputs
  (separably for bilinear and trilinear: except the border rows / planes).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tconv.functional as F
from helpers import rel_err
from tconv.nn import ResizeConv1d, ResizeConv2d
from tconv.upsampling import as_conv_transpose, interpolate, interpolation_kernel

CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}


@st.composite
def resize_convs(draw):
    n = draw(st.integers(1, 3))
    g = draw(st.integers(1, 2))
    c_in, c_out = g * draw(st.integers(1, 2)), g * draw(st.integers(1, 2))
    k = draw(st.tuples(*[st.integers(1, 4)] * n))
    d = draw(st.tuples(*[st.integers(1, 2)] * n))
    s = draw(st.tuples(*[st.integers(1, 3)] * n))
    size = draw(st.tuples(*[st.integers(1, {1: 9, 2: 6, 3: 4}[n])] * n))
    # the up-scaled input must cover the dilated kernel; the transposed padding must be >= 0
    p = tuple(
        draw(st.integers(max(0, (di * (ki - 1) + 1 - si * L + 1) // 2), di * (ki - 1)))
        for ki, di, si, L in zip(k, d, s, size)
    )
    return n, g, c_in, c_out, k, d, s, size, p


@given(resize_convs(), st.booleans())
def test_nearest_resize_conv_is_a_transposed_conv(cfg, with_bias):
    n, g, c_in, c_out, k, d, s, size, p = cfg
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, c_in, *size))
    w = rng.standard_normal((c_out, c_in // g, *k))
    b = rng.standard_normal(c_out) if with_bias else None
    up = interpolate(x, scale_factor=s, mode="nearest")
    ref = CONV[n](up, w, b, padding=p, dilation=d, groups=g)
    w_t, stride, pad_t = as_conv_transpose(w, s, p, groups=g, dilation=d)
    assert w_t.shape == (c_in, c_out // g, *(si + di * (ki - 1) for si, di, ki in zip(s, d, k)))
    assert stride == s and pad_t == tuple(di * (ki - 1) - pi for di, ki, pi in zip(d, k, p))
    got = CONV_T[n](x, w_t, b, stride=stride, padding=pad_t, groups=g)
    assert got.shape == ref.shape
    assert rel_err(got, ref) <= 1e-12


def test_nearest_bridge_with_torch_as_oracle(torch, rng):
    # The same identity with PyTorch's own conv and conv_transpose.
    x = rng.standard_normal((2, 3, 5, 7))
    w = rng.standard_normal((4, 3, 3, 2))
    tf = torch.nn.functional
    ref = tf.conv2d(
        tf.interpolate(torch.tensor(x), scale_factor=(2, 3)), torch.tensor(w), padding=(1, 0)
    )
    w_t, stride, pad_t = as_conv_transpose(w, (2, 3), (1, 0))
    got = tf.conv_transpose2d(torch.tensor(x), torch.tensor(w_t), stride=stride, padding=pad_t)
    assert rel_err(got.numpy(), ref.numpy()) <= 1e-12


def test_box_times_flipped_kernel_by_hand():
    w_t, stride, pad = as_conv_transpose(np.array([[[1.0, 2.0, 3.0]]]), 2, padding=1)
    np.testing.assert_array_equal(w_t[0, 0], np.convolve([1.0, 1.0], [3.0, 2.0, 1.0]))
    assert (stride, pad) == ((2,), (1,))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_linear_x2_is_the_quarter_kernel_except_borders(rng, n):
    k, pad = interpolation_kernel(2, "linear")
    np.testing.assert_array_equal(k, [0.25, 0.75, 0.75, 0.25])
    assert pad == 1
    c = 3
    x = rng.standard_normal((2, c, *(5, 4, 3)[:n]))
    kern = k
    for _ in range(n - 1):
        kern = np.multiply.outer(kern, k)  # tensor product: separable
    w = np.broadcast_to(kern, (c, 1, *kern.shape))
    got = CONV_T[n](x, w, stride=2, padding=1, groups=c)
    ref = interpolate(x, scale_factor=2, mode=LINEAR[n])
    assert got.shape == ref.shape
    inner = (slice(None), slice(None), *([slice(1, -1)] * n))
    assert rel_err(got[inner], ref[inner]) <= 1e-14
    # ... and on every border slab they differ: there interpolate clamps, the conv sees a zero
    for axis in range(2, 2 + n):
        for end in (0, -1):
            sl = [slice(None)] * (n + 2)
            sl[axis] = end
            assert np.all(np.abs(got[tuple(sl)] - ref[tuple(sl)]) > 1e-6)


@pytest.mark.parametrize("s", [2, 3, 4, 5])
def test_linear_integer_scale_band(rng, s):
    k, pad = interpolation_kernel(s, "linear")
    x = rng.standard_normal((1, 1, 7))
    got = F.conv_transpose1d(x, k[None, None], stride=s, padding=pad)
    ref = interpolate(x, scale_factor=s, mode="linear")
    band = s // 2
    assert got.shape == ref.shape
    assert rel_err(got[..., band : 7 * s - band], ref[..., band : 7 * s - band]) <= 1e-14
    if band:
        assert np.all(np.abs(got[..., :band] - ref[..., :band]) > 1e-9)


@given(st.integers(1, 3), st.integers(1, 4), st.integers(0, 3), st.integers(2, 3))
def test_linear_resize_conv_bridge_inside_the_band(n, k, p, s):
    p = min(p, k - 1 + s // 2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, *(6, 5, 4)[:n]))
    w = rng.standard_normal((3, 2, *(k,) * n))
    ref = CONV[n](interpolate(x, scale_factor=s, mode=LINEAR[n]), w, padding=p)
    w_t, stride, pad_t = as_conv_transpose(w, s, p, mode=LINEAR[n])
    got = CONV_T[n](x, w_t, stride=stride, padding=pad_t)
    assert got.shape == ref.shape
    band = s // 2 + p
    inner = (slice(None), slice(None), *([slice(band, -band or None)] * n))
    if all(L > 2 * band for L in ref.shape[2:]):
        assert rel_err(got[inner], ref[inner]) <= 1e-12


def test_resize_conv_modules_export_the_bridge(rng):
    f64 = np.float64
    for m, shape in (
        (ResizeConv1d(2, 3, 5, scale_factor=3, dtype=f64), (2, 2, 6)),
        (ResizeConv2d(2, 3, 3, scale_factor=(2, 3), dtype=f64), (1, 2, 4, 5)),
    ):
        x = rng.standard_normal(shape)
        w_t, stride, pad_t = m.as_conv_transpose()
        conv_t = CONV_T[len(shape) - 2]
        got = conv_t(x, w_t, m.conv.bias.data, stride=stride, padding=pad_t)
        assert rel_err(got, m(x).data) <= 1e-12
    with pytest.raises(ValueError, match="symmetric"):
        ResizeConv1d(2, 3, 4).as_conv_transpose()


def test_bridge_errors():
    w = np.ones((1, 1, 3))
    with pytest.raises(ValueError, match=r"padding=.* too large"):
        as_conv_transpose(w, 2, padding=3)
    with pytest.raises(ValueError, match="mode must be 'nearest' or 'linear'"):
        as_conv_transpose(w, 2, mode="bicubic")
    with pytest.raises(ValueError, match="scale_factor must be positive"):
        as_conv_transpose(w, 0)
    with pytest.raises(TypeError, match="scale_factor must contain ints"):
        as_conv_transpose(np.ones((1, 1, 3, 3)), (2, 1.5))
    with pytest.raises(ValueError, match="groups=2 must divide out_channels=3"):
        as_conv_transpose(np.ones((3, 1, 3)), 2, groups=2)
