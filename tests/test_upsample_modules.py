"""Up-scaling layers against PyTorch's, resize-convolution sizes, sub-pixel conv + ICNR."""

from __future__ import annotations

import numpy as np
import pytest

import tconv
import tconv.functional as F
from helpers import rel_err
from tconv import nn
from tconv.nn.init import icnr_
from tconv.upsampling import interpolate, pixel_shuffle


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.Upsample(scale_factor=2),
        lambda m: m.Upsample(size=(5, 7), mode="bilinear", align_corners=True),
        lambda m: m.Upsample(scale_factor=(1.5, 2.0), mode="bicubic"),
        lambda m: m.Upsample(scale_factor=0.5, mode="nearest-exact", recompute_scale_factor=True),
        lambda m: m.UpsamplingNearest2d(scale_factor=3),
        lambda m: m.UpsamplingBilinear2d(size=(6, 9)),
        lambda m: m.PixelShuffle(2),
        lambda m: m.PixelUnshuffle(2),
    ],
)
def test_layers_match_torch(torch, rng, make):
    ours, ref = make(nn), make(torch.nn)
    assert repr(ours) == repr(ref)
    x = rng.standard_normal((2, 4, 4, 6))
    xt = torch.tensor(x, requires_grad=True)
    y_ref = ref(xt)
    xs = tconv.tensor(x, requires_grad=True)
    y = ours(xs)
    assert rel_err(y.data, y_ref.detach().numpy()) <= 1e-12
    g = rng.standard_normal(y.shape)
    y_ref.backward(torch.tensor(g))
    (y * g).sum().backward()
    assert rel_err(xs.grad, xt.grad.numpy()) <= 1e-12


@pytest.mark.parametrize(
    "n,cls", [(1, nn.ResizeConv1d), (2, nn.ResizeConv2d), (3, nn.ResizeConv3d)]
)
@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_resize_conv_output_is_scale_times_input(rng, n, cls, k, mode):
    size = (5, 4, 3)[:n]
    m = cls(2, 3, k, scale_factor=2, mode=mode, dtype=np.float64)
    x = rng.standard_normal((2, 2, *size))
    y = m(x)
    assert y.shape == (2, 3, *(2 * L for L in size))
    # it is interpolate + 'same' conv, and the parameters are the conv's
    conv = (F.conv1d, F.conv2d, F.conv3d)[n - 1]
    full = {1: "linear", 2: "bilinear", 3: "trilinear"}[n] if mode == "linear" else mode
    ref = conv(
        interpolate(x, scale_factor=2, mode=full),
        m.conv.weight.data,
        m.conv.bias.data,
        padding="same",
    )
    assert rel_err(y.data, ref) <= 1e-12
    assert [name for name, _ in m.named_parameters()] == ["conv.weight", "conv.bias"]


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
def test_resize_conv_matches_torch_sequential(torch, rng):
    m = nn.ResizeConv2d(3, 4, 4, scale_factor=2, mode="bilinear", dtype=np.float64)
    ref = torch.nn.Sequential(
        torch.nn.Upsample(scale_factor=2, mode="bilinear"),
        torch.nn.Conv2d(3, 4, 4, padding="same").double(),
    )
    ref.load_state_dict(
        {"1." + k.split(".", 1)[1]: torch.tensor(v) for k, v in m.state_dict().items()}
    )
    x = rng.standard_normal((2, 3, 5, 6))
    xs, xt = tconv.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, y_ref = m(xs), ref(xt)
    assert rel_err(y.data, y_ref.detach().numpy()) <= 1e-12
    y.sum().backward()
    y_ref.sum().backward()
    assert rel_err(xs.grad, xt.grad.numpy()) <= 1e-10
    assert rel_err(m.conv.weight.grad, ref[1].weight.grad.numpy()) <= 1e-10


def test_resize_conv_rejects_wrong_modes():
    with pytest.raises(ValueError, match="mode must be one of"):
        nn.ResizeConv1d(1, 1, 3, mode="bilinear")
    with pytest.raises(ValueError, match="mode must be one of"):
        nn.ResizeConv3d(1, 1, 3, mode="bicubic")


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("r", [2, 3])
def test_subpixel_conv_with_icnr_is_nearest_resize_conv(rng, k, r):
    m = nn.SubPixelConv2d(3, 2, kernel_size=k, upscale_factor=r, dtype=np.float64)
    w, b = m.conv.weight.data, m.conv.bias.data
    w0, b0 = w[:: r * r], b[:: r * r]
    assert np.all(w == np.repeat(w0, r * r, axis=0)) and np.all(b == np.repeat(b0, r * r))
    x = rng.standard_normal((2, 3, 4, 5))
    y = m(x).data
    assert y.shape == (2, 2, 4 * r, 5 * r)
    p = (k - 1) // 2
    # = a convolution, then nearest up-scaling ...
    conv_then_nearest = interpolate(F.conv2d(x, w0, b0, padding=p), scale_factor=r)
    assert rel_err(y, conv_then_nearest) <= 1e-12
    # = nearest up-scaling, then the same kernel dilated by r (a nearest resize-convolution)
    resize_conv = F.conv2d(interpolate(x, scale_factor=r), w0, b0, padding=r * p, dilation=r)
    assert rel_err(y, resize_conv) <= 1e-12
    # no checkerboard at initialisation: every r x r block is constant
    blocks = y.reshape(2, 2, 4, r, 5, r)
    assert np.all(blocks == blocks[:, :, :, :1, :, :1])


def test_subpixel_conv_trains_and_can_skip_icnr(rng):
    m = nn.SubPixelConv2d(2, 2, 3, upscale_factor=2, icnr=False)
    w = m.conv.weight.data
    assert not np.all(w == np.repeat(w[::4], 4, axis=0))
    x = tconv.tensor(rng.standard_normal((1, 2, 3, 3)).astype(np.float32), requires_grad=True)
    out = m(x)
    out.sum().backward()
    assert m.conv.weight.grad.shape == (8, 2, 3, 3) and x.grad.shape == (1, 2, 3, 3)
    # pixel shuffle after the conv, as the layer says
    ref = pixel_shuffle(F.conv2d(x.data, w, m.conv.bias.data, padding=1), 2)
    assert rel_err(out.data, ref) <= 1e-6


def test_icnr_init():
    nn.init.manual_seed(0)
    w = icnr_(np.empty((12, 2, 3, 3)), upscale_factor=2)
    assert np.all(w == np.repeat(w[::4], 4, axis=0))
    assert np.abs(w).max() <= 1 / np.sqrt(2 * 9)  # PyTorch's conv bound, fan_in = 18
    assert len(np.unique(w[::4])) == 3 * 2 * 9
    t = nn.Parameter(np.empty((9, 1, 2)))
    assert icnr_(t, 3, initializer=lambda a: a.fill(2.0)) is t and np.all(t.data == 2.0)
    with pytest.raises(ValueError, match="divisible by upscale_factor\\*\\*2 = 4"):
        icnr_(np.empty((6, 2, 3, 3)), 2)
    with pytest.raises(ValueError, match="upscale_factor must be a positive int"):
        icnr_(np.empty((4, 2, 3, 3)), 0)
