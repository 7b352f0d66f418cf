"""Round trips through ONNX, each against an independent oracle:

- PyTorch models (a DCGAN generator, a U-Net with skip connections, a sub-pixel
  super-resolution net, an up-sampling decoder) -> ``torch.onnx.export`` ->
  ``tconv.onnx.load`` equals PyTorch;
- tconv models -> ``tconv.onnx.export`` -> onnxruntime equals tconv, and
  ``tconv.onnx.load`` of the export equals the original module;
- a PyTorch ``state_dict`` loaded into the tconv twin, exported by tconv, equals PyTorch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import rel_err

pytestmark = pytest.mark.slow
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import tconv  # noqa: E402
from tconv.autograd import unwrap  # noqa: E402
from tconv.onnx import export, load  # noqa: E402


def torch_models(torch: Any) -> dict[str, tuple[Any, tuple[int, ...]]]:
    tnn = torch.nn

    def randomise_bn(model: Any) -> Any:
        g = torch.Generator().manual_seed(0)
        for m in model.modules():
            if isinstance(m, tnn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=g))
                m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
                m.weight.data.copy_(torch.randn(c, generator=g))
                m.bias.data.copy_(torch.randn(c, generator=g))
        return model.eval()

    nz, ngf = 16, 8
    dcgan = tnn.Sequential(
        tnn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), tnn.BatchNorm2d(ngf * 4), tnn.ReLU(),
        tnn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), tnn.BatchNorm2d(ngf * 2),
        tnn.ReLU(),
        tnn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), tnn.BatchNorm2d(ngf), tnn.ReLU(),
        tnn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), tnn.Tanh(),
    )  # fmt: skip

    class UNet(tnn.Module):
        """Two levels; odd sizes, so the up-convolutions take output_size from the skips."""

        def __init__(self) -> None:
            super().__init__()
            self.enc1 = tnn.Sequential(tnn.Conv2d(3, 8, 3, padding=1), tnn.ReLU())
            self.enc2 = tnn.Sequential(tnn.Conv2d(8, 16, 3, padding=1), tnn.BatchNorm2d(16),
                                       tnn.ReLU())  # fmt: skip
            self.pool = tnn.MaxPool2d(2)
            self.mid = tnn.Sequential(tnn.Conv2d(16, 16, 3, padding=1), tnn.LeakyReLU(0.1))
            self.up2 = tnn.ConvTranspose2d(16, 16, 2, stride=2)
            self.dec2 = tnn.Sequential(tnn.Conv2d(32, 8, 3, padding=1), tnn.ReLU())
            self.up1 = tnn.ConvTranspose2d(8, 8, 4, stride=2, padding=1)
            self.dec1 = tnn.Sequential(tnn.Conv2d(16, 4, 3, padding=1), tnn.ReLU())
            self.head = tnn.Conv2d(4, 1, 1)

        def forward(self, x: Any) -> Any:
            e1 = self.enc1(x)
            e2 = self.enc2(self.pool(e1))
            m = self.mid(self.pool(e2))
            d2 = self.dec2(torch.cat([self.up2(m, output_size=e2.shape[2:]), e2], 1))
            d1 = self.dec1(torch.cat([self.up1(d2, output_size=e1.shape[2:]), e1], 1))
            return torch.sigmoid(self.head(d1))

    r = 3
    espcn = tnn.Sequential(  # Shi et al. 2016
        tnn.Conv2d(1, 16, 5, padding=2), tnn.Tanh(), tnn.Conv2d(16, 8, 3, padding=1), tnn.Tanh(),
        tnn.Conv2d(8, r * r, 3, padding=1), tnn.PixelShuffle(r),
    )  # fmt: skip
    resize = tnn.Sequential(  # the resize-convolution decoders' up-sampling modes
        tnn.Upsample(scale_factor=2, mode="nearest"), tnn.Conv2d(4, 4, 3, padding=1),
        tnn.Upsample(scale_factor=2, mode="bilinear"), tnn.Conv2d(4, 4, 3, padding=1),
        tnn.Upsample(size=(22, 18), mode="bicubic", align_corners=True), tnn.Conv2d(4, 2, 1),
        tnn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True),
    )  # fmt: skip
    return {
        "dcgan": (randomise_bn(dcgan), (2, nz, 1, 1)),
        "unet": (randomise_bn(UNet()), (2, 3, 22, 19)),
        "espcn": (espcn.eval(), (2, 1, 9, 11)),
        "resize": (resize.eval(), (2, 4, 3, 4)),
    }


@pytest.mark.parametrize("name", ["dcgan", "unet", "espcn", "resize"])
def test_pytorch_export_runs_on_tconv(torch: Any, name: str, tmp_path: Path) -> None:
    model, shape = torch_models(torch)[name]
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=17,
                      input_names=["x"], output_names=["y"])  # fmt: skip
    with torch.no_grad():
        want = model(x).numpy()
    session = load(path)
    ops = session.ops
    got = session.run(None, {"x": x.numpy()})[0]
    assert got.shape == want.shape and rel_err(got, want) <= 1e-5, ops
    if name == "unet":
        assert "Concat" in ops and "ConvTranspose" in ops
    if name == "espcn":
        assert "DepthToSpace" in ops or "Reshape" in ops


def test_align_corners_scales_of_a_fractional_length_are_refused(
    torch: Any, tmp_path: Path
) -> None:
    """torch.onnx.export writes ``scale_factor`` with align_corners as Resize scales. When
    input x scale is not an integer, ONNX's spec (and its node test
    resize_downsample_scales_linear_align_corners) divides by that real length minus 1,
    PyTorch by the integer output size minus 1: tconv refuses rather than pick one."""
    model = torch.nn.Upsample(scale_factor=1.5, mode="bilinear", align_corners=True)
    path = tmp_path / "up.onnx"
    torch.onnx.export(model, (torch.zeros(1, 1, 5, 4),), str(path), dynamo=False,
                      opset_version=17, input_names=["x"])  # fmt: skip
    with pytest.raises(ValueError, match="is not an integer"):
        load(path).run(None, {"x": np.zeros((1, 1, 5, 4), np.float32)})


def tconv_dcgan(torch_model: Any) -> Any:
    """The tconv twin of the PyTorch DCGAN, with its state_dict."""
    nn = tconv.nn
    layers = []
    for m in torch_model:
        kind = type(m).__name__
        if kind == "ConvTranspose2d":
            layers.append(nn.ConvTranspose2d(m.in_channels, m.out_channels, m.kernel_size,
                                             m.stride, m.padding, bias=False))  # fmt: skip
        elif kind == "BatchNorm2d":
            layers.append(nn.BatchNorm2d(m.num_features))
        else:
            layers.append(getattr(nn, kind)())
    net = nn.Sequential(*layers)
    net.load_state_dict({k: v.numpy() for k, v in torch_model.state_dict().items()})
    return net.eval()


def test_tconv_export_equals_pytorch_and_onnxruntime(torch: Any, tmp_path: Path) -> None:
    torch_model, shape = torch_models(torch)["dcgan"]
    net = tconv_dcgan(torch_model)
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        want = torch_model(torch.from_numpy(x)).numpy()
    mine = np.asarray(unwrap(net(x)))
    assert rel_err(mine, want) <= 1e-5
    path = tmp_path / "g.onnx"
    export(net, x, path)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert rel_err(sess.run(None, {"input": x})[0], mine) <= 1e-5
    assert rel_err(load(path).run(None, {"input": x})[0], mine) <= 1e-6


def test_subpixel_and_resize_conv_round_trip() -> None:
    nn = tconv.nn
    net = nn.Sequential(
        nn.Conv2d(1, 8, 5, padding=2), nn.Tanh(),
        nn.SubPixelConv2d(8, 4, 3, upscale_factor=2),
        nn.ResizeConv2d(4, 2, 3, scale_factor=2, mode="bilinear"),
        nn.Conv2d(2, 1, 3, padding="same", padding_mode="replicate"),
    ).eval()  # fmt: skip
    x = np.random.default_rng(4).standard_normal((3, 1, 6, 7)).astype(np.float32)
    model = export(net, x)
    want = np.asarray(unwrap(net(x)))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert rel_err(sess.run(None, {"input": x})[0], want) <= 1e-5
    assert rel_err(load(model).run(None, {"input": x})[0], want) <= 1e-6
    net64 = net.double()
    x64 = x.astype(np.float64)
    got = load(export(net64, x64)).run(None, {"input": x64})[0]
    assert rel_err(got, np.asarray(unwrap(net64(x64)))) <= 1e-12
