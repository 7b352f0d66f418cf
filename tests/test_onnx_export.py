"""``tconv.onnx.export``: every supported layer, written as ONNX, checked by
``onnx.checker`` (full check) and run by onnxruntime (the independent oracle) and by
``tconv.onnx.load``; both must give the module's output (float32 to 1e-5, float64
through ``load`` to 1e-10). Unsupported layers are refused with their class and path.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from helpers import rel_err

pytestmark = pytest.mark.slow
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from tconv import nn  # noqa: E402
from tconv.autograd import unwrap  # noqa: E402
from tconv.onnx import export, load  # noqa: E402


def ort_run(model: Any, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def reference(module: nn.Module, x: np.ndarray, **kw: Any) -> np.ndarray:
    return np.asarray(unwrap(module(x, **kw)))


def roundtrip(module: nn.Module, shape: tuple[int, ...], *, opset: int | None = None,
              batch: int | None = 3, seed: int = 0) -> Any:  # fmt: skip
    """Export ``module`` for inputs of ``shape``; onnxruntime and load must equal it,
    at the example's batch and at another one (the batch dim is dynamic)."""
    rng = np.random.default_rng(seed)
    module.eval()
    x = rng.standard_normal(shape).astype(np.float32)
    model = export(module, x, opset=opset)
    onnx.checker.check_model(model, full_check=True)
    want = reference(module, x)
    assert rel_err(ort_run(model, x), want) <= 1e-5
    got = load(model).run(None, {"input": x})[0]
    assert got.dtype == np.float32 and rel_err(got, want) <= 1e-5
    if batch is not None:
        xb = rng.standard_normal((batch, *shape[1:])).astype(np.float32)
        assert rel_err(ort_run(model, xb), reference(module, xb)) <= 1e-5
    # float64: the same model in double, run by tconv.onnx.load
    module64 = module.double()
    x64 = x.astype(np.float64)
    model64 = export(module64, x64, opset=opset)
    got64 = load(model64).run(None, {"input": x64})[0]
    assert got64.dtype == np.float64 and rel_err(got64, reference(module64, x64)) <= 1e-10
    module.float()
    return model


def bn(c: int, cls: type = nn.BatchNorm2d) -> nn.Module:
    """A BatchNorm in eval mode with non-trivial running statistics and affine terms."""
    m = cls(c)
    rng = np.random.default_rng(c)
    m.running_mean[...] = rng.standard_normal(c)
    m.running_var[...] = rng.uniform(0.5, 2.0, c)
    m.weight.data[...] = rng.standard_normal(c)
    m.bias.data[...] = rng.standard_normal(c)
    return m.eval()


CASES: dict[str, tuple[Any, tuple[int, ...]]] = {
    # convolutions, every padding mode and the string paddings
    **{f"conv2d-{mode}": (lambda mode=mode: nn.Conv2d(3, 4, 3, stride=2, padding=(1, 2),
                                                    padding_mode=mode), (2, 3, 9, 8))
       for mode in ("zeros", "reflect", "replicate", "circular")},
    "conv1d-same-dilated": (lambda: nn.Conv1d(2, 4, 4, padding="same", dilation=2), (2, 2, 11)),
    "conv3d-valid-groups": (lambda: nn.Conv3d(4, 6, (2, 3, 2), padding="valid", groups=2),
                            (2, 4, 4, 5, 4)),
    "conv2d-same-reflect": (lambda: nn.Conv2d(2, 2, 4, padding="same", padding_mode="reflect"),
                            (1, 2, 7, 6)),
    # transposed convolutions
    "convT1d-op": (lambda: nn.ConvTranspose1d(3, 2, 3, stride=3, padding=1, output_padding=2),
                   (2, 3, 5)),
    "convT2d-k4s2": (lambda: nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1), (2, 4, 5, 6)),
    "convT2d-groups-dilation": (lambda: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=2,
                                                           output_padding=1, groups=2,
                                                           dilation=2), (2, 4, 5, 4)),
    "convT2d-nobias": (lambda: nn.ConvTranspose2d(2, 2, (3, 2), stride=(1, 2), bias=False),
                       (1, 2, 4, 4)),
    "convT1d-zeros-prepended": (lambda: nn.ConvTranspose1d(2, 3, 3, stride=2,
                                                          padding=((-1, 2),)), (2, 2, 5)),
    "convT1d-op-past-stride": (lambda: nn.ConvTranspose1d(2, 2, 2, stride=2, dilation=3,
                                                         output_padding=2), (2, 2, 4)),
    "convT2d-same": (lambda: nn.ConvTranspose2d(2, 2, (3, 1), stride=(2, 3), padding="same"),
                     (1, 2, 4, 3)),
    "convT1d-circular": (lambda: nn.ConvTranspose1d(2, 3, 5, stride=2, padding=3, dilation=2,
                                                   padding_mode="circular"), (2, 2, 3)),
    "convT2d-circular-same": (lambda: nn.ConvTranspose2d(2, 2, 4, stride=(2, 3),
                                                        padding="same",
                                                        padding_mode="circular"), (1, 2, 3, 4)),
    "convT3d": (lambda: nn.ConvTranspose3d(2, 2, 3, stride=2, padding=1, output_padding=1),
                (1, 2, 3, 4, 3)),
    # dense and normalisation
    "linear": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 5)), (3, 3, 4)),
    "linear-3d": (lambda: nn.Linear(4, 3), (2, 5, 4)),
    "linear-nobias": (lambda: nn.Linear(4, 3, bias=False), (2, 4)),
    "batchnorm2d": (lambda: bn(3), (2, 3, 4, 5)),
    "batchnorm1d": (lambda: bn(3, nn.BatchNorm1d), (4, 3)),
    "batchnorm1d-3d": (lambda: bn(3, nn.BatchNorm1d), (4, 3, 5)),
    # activations
    "activations": (lambda: nn.Sequential(nn.ReLU(), nn.Linear(5, 5), nn.LeakyReLU(0.2),
                                          nn.Sigmoid(), nn.Linear(5, 5), nn.Tanh(),
                                          nn.Softplus(), nn.Identity(), nn.Softmax(dim=1),
                                          nn.LogSoftmax(dim=-1)), (2, 5)),
    "dropout-eval": (lambda: nn.Sequential(nn.Dropout(0.3), nn.ReLU()), (2, 4)),
    # pooling
    "avgpool1d": (lambda: nn.AvgPool1d(3, stride=2, padding=1), (2, 3, 8)),
    "avgpool2d-ceil-nopad": (lambda: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True,
                                                  count_include_pad=False), (2, 3, 8, 7)),
    "avgpool3d": (lambda: nn.AvgPool3d(2), (1, 2, 4, 4, 4)),
    "maxpool1d-dilated": (lambda: nn.MaxPool1d(3, stride=2, padding=1, dilation=2), (2, 3, 9)),
    "maxpool2d-ceil": (lambda: nn.MaxPool2d(3, stride=2, ceil_mode=True), (2, 3, 8, 8)),
    "maxpool3d": (lambda: nn.MaxPool3d(2, padding=1), (1, 2, 4, 5, 4)),
    "adaptive-avg-global": (lambda: nn.AdaptiveAvgPool2d(1), (2, 3, 5, 7)),
    "adaptive-avg-even": (lambda: nn.AdaptiveAvgPool2d((2, 3)), (2, 3, 4, 6)),
    "adaptive-max-1d": (lambda: nn.AdaptiveMaxPool1d(2), (2, 3, 6)),
    "adaptive-max-global-3d": (lambda: nn.AdaptiveMaxPool3d(1), (1, 2, 3, 3, 2)),
    # shapes
    "flatten-2": (lambda: nn.Flatten(2), (2, 3, 4, 5)),
    "unflatten": (lambda: nn.Sequential(nn.Flatten(), nn.Unflatten(1, (4, 3, 2))), (2, 4, 6)),
    # up-scaling
    **{f"upsample-{mode}": (lambda mode=mode: nn.Upsample(scale_factor=2, mode=mode),
                            (2, 3, 5, 4))
       for mode in ("nearest", "nearest-exact", "bilinear", "bicubic")},
    "upsample-bilinear-align": (lambda: nn.Upsample(scale_factor=(2, 3), mode="bilinear",
                                                    align_corners=True), (1, 2, 4, 3)),
    "upsample-bicubic-align": (lambda: nn.Upsample(size=(7, 9), mode="bicubic",
                                                   align_corners=True), (1, 2, 4, 3)),
    "upsample-nearest-size": (lambda: nn.Upsample(size=(7, 5), mode="nearest"), (2, 2, 3, 3)),
    "upsample-linear-1d": (lambda: nn.Upsample(scale_factor=3, mode="linear"), (2, 2, 5)),
    "upsample-trilinear": (lambda: nn.Upsample(scale_factor=2, mode="trilinear"),
                           (1, 2, 3, 2, 3)),
    "upsample-down-1.5": (lambda: nn.Upsample(scale_factor=1.5, mode="bilinear"), (1, 2, 5, 5)),
    "upsampling-nearest2d": (lambda: nn.UpsamplingNearest2d(scale_factor=3), (1, 2, 2, 3)),
    "upsampling-bilinear2d": (lambda: nn.UpsamplingBilinear2d(size=(5, 6)), (1, 2, 2, 3)),
    "pixel-shuffle": (lambda: nn.PixelShuffle(2), (2, 12, 3, 4)),
    "pixel-unshuffle": (lambda: nn.PixelUnshuffle(2), (2, 3, 4, 6)),
    "resize-conv1d": (lambda: nn.ResizeConv1d(2, 3, 3, scale_factor=2), (2, 2, 5)),
    "resize-conv2d-bilinear": (lambda: nn.ResizeConv2d(2, 3, 4, scale_factor=2,
                                                      mode="bilinear"), (2, 2, 5, 4)),
    "resize-conv3d": (lambda: nn.ResizeConv3d(2, 2, 3, scale_factor=(1, 2, 2)), (1, 2, 2, 3, 3)),
    "subpixel": (lambda: nn.SubPixelConv2d(3, 2, 3, upscale_factor=2, padding_mode="reflect"),
                 (2, 3, 5, 4)),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_layer(name: str) -> None:
    factory, shape = CASES[name]
    roundtrip(factory(), shape)


def dcgan(nz: int = 16, ngf: int = 8) -> nn.Module:
    """DCGAN's generator (Radford et al. 2016), 1x1 -> 32x32, eval mode."""
    return nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), bn(ngf * 4), nn.ReLU(),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), bn(ngf * 2), nn.ReLU(),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), bn(ngf), nn.ReLU(),
        nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh(),
    ).eval()  # fmt: skip


def test_dcgan_generator() -> None:
    model = roundtrip(dcgan(), (4, 16, 1, 1))
    assert [n.op_type for n in model.graph.node][:3] == [
        "ConvTranspose",
        "BatchNormalization",
        "Relu",
    ]
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


@pytest.mark.parametrize("opset", [13, 17, 18, 20, 28])
def test_opsets(opset: int) -> None:
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, padding_mode="replicate"),
                        nn.Upsample(scale_factor=2, mode="bilinear"), nn.PixelUnshuffle(2),
                        nn.ConvTranspose2d(12, 2, 3, stride=2, padding=1, output_padding=1))  # fmt: skip
    roundtrip(net, (2, 2, 4, 5), opset=opset)


@settings(max_examples=25)
@given(
    n=st.integers(1, 3),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    p=st.integers(0, 3),
    d=st.integers(1, 3),
    g=st.sampled_from([1, 2]),
    a=st.integers(0, 2),
    size=st.integers(2, 5),
    bias=st.booleans(),
    by_size=st.booleans(),
)
def test_conv_transpose_geometry(n: int, k: int, s: int, p: int, d: int, g: int, a: int,
                                 size: int, bias: bool, by_size: bool) -> None:  # fmt: skip
    assume(a < max(s, d))
    full = (size - 1) * s + d * (k - 1) + 1
    assume(full - 2 * p > 0)  # output_size: the op refuses a range that starts empty
    assume(not by_size or a < s)  # output_size reaches L_min + s - 1 at most
    cls = [nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d][n - 1]
    m = cls(2 * g, 2 * g, k, stride=s, padding=p, dilation=d, groups=g, bias=bias,
            output_padding=0 if by_size else a)  # fmt: skip
    x = np.random.default_rng(k).standard_normal((2, 2 * g) + (size,) * n).astype(np.float32)
    want_size = full - 2 * p + a
    example: Any = (x, {"output_size": (want_size,) * n}) if by_size else x
    model = export(m, example)
    want = reference(m, x, **({"output_size": (want_size,) * n} if by_size else {}))
    assert want.shape[2:] == (want_size,) * n
    assert rel_err(ort_run(model, x), want) <= 1e-5
    assert rel_err(load(model).run(None, {"input": x})[0], want) <= 1e-5


@settings(max_examples=20)
@given(
    mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
    k=st.integers(1, 4),
    s=st.integers(1, 3),
    p=st.integers(0, 2),
    d=st.integers(1, 2),
    size=st.integers(3, 7),
)
def test_conv_geometry(mode: str, k: int, s: int, p: int, d: int, size: int) -> None:
    assume(size + 2 * p >= d * (k - 1) + 1)
    assume(mode != "reflect" or p < size)
    m = nn.Conv2d(2, 3, k, stride=s, padding=p, dilation=d, padding_mode=mode)
    x = np.random.default_rng(size).standard_normal((2, 2, size, size + 1)).astype(np.float32)
    model = export(m, x)
    want = reference(m, x)
    assert rel_err(ort_run(model, x), want) <= 1e-5
    assert rel_err(load(model).run(None, {"input": x})[0], want) <= 1e-5


def test_write_and_load_external_data(tmp_path: Any) -> None:
    net = dcgan()
    x = np.random.default_rng(0).standard_normal((2, 16, 1, 1)).astype(np.float32)
    path = tmp_path / "g.onnx"
    export(net, x, path)
    assert rel_err(load(path).run(None, {"input": x})[0], reference(net, x)) <= 1e-5
    # weights in an external file, next to the model
    model = onnx.load(str(path))
    ext = tmp_path / "ext" / "g.onnx"
    ext.parent.mkdir()
    onnx.save(model, str(ext), save_as_external_data=True, all_tensors_to_one_file=True,
              location="weights.bin", size_threshold=0)  # fmt: skip
    assert (ext.parent / "weights.bin").stat().st_size > 0
    assert rel_err(load(ext).run(None, {"input": x})[0], reference(net, x)) <= 1e-5
    bare = onnx.load(str(ext), load_external_data=False)
    with pytest.raises(ValueError, match="external file"):
        load(bare)
    got = load(bare, base_dir=str(ext.parent)).run(None, {"input": x})[0]
    assert rel_err(got, reference(net, x)) <= 1e-5


class Custom(nn.Module):
    def forward(self, x: Any) -> Any:
        return x * 2


@pytest.mark.parametrize(
    ("module", "shape", "words"),
    [
        (nn.Sequential(nn.ReLU(), nn.Sequential(nn.Tanh(), Custom())), (2, 3),
         ["Custom", "'1.1'", "no ONNX export"]),
        (Custom(), (2, 3), ["Custom", "the model itself"]),
        (nn.Sequential(OrderedDict(enc=nn.Conv2d(1, 1, 1), bn=nn.BatchNorm2d(1))), (1, 1, 2, 2),
         ["BatchNorm2d", "'bn'", "training mode", ".eval()"]),
        (nn.Sequential(nn.Upsample(scale_factor=2, mode="area")), (1, 1, 2, 2),
         ["Upsample", "'0'", "area"]),
        (nn.AdaptiveAvgPool2d(3), (1, 1, 4, 4), ["AdaptiveAvgPool2d", "does not divide"]),
        (nn.AvgPool2d(2, divisor_override=3), (1, 1, 4, 4), ["divisor_override"]),
        (nn.Sequential(nn.Dropout(0.5)), (2, 3), ["Dropout", "training mode"]),
    ],
)  # fmt: skip
def test_refused_modules(module: nn.Module, shape: tuple[int, ...], words: list[str]) -> None:
    with pytest.raises((TypeError, ValueError)) as info:
        export(module, np.zeros(shape, np.float32))
    for w in words:
        assert w in str(info.value)


def test_refused_arguments() -> None:
    m = nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular")
    x = np.zeros((1, 1, 4, 4), np.float32)
    with pytest.raises(ValueError, match="opset 19"):
        export(m, x, opset=18)
    with pytest.raises(ValueError, match="opset must be an int in 13"):
        export(m, x, opset=12)
    with pytest.raises(TypeError, match="float64 but the example input is float32"):
        export(nn.Conv2d(1, 1, 3).double(), x)
    with pytest.raises(TypeError, match="float32 or float64"):
        export(m, x.astype(np.int64))
    with pytest.raises(ValueError, match="opset 18 or newer"):
        export(nn.Upsample(size=(5, 5)), x, opset=17)
    with pytest.raises(ValueError, match="dynamic_batch=False"):
        export(nn.Flatten(0), x)
    model = export(nn.Flatten(0), x, dynamic_batch=False)
    assert rel_err(ort_run(model, x), x.reshape(-1)) == 0


def test_gelu_needs_opset_20() -> None:
    net = nn.Sequential(nn.Linear(4, 4), nn.GELU(), nn.Linear(4, 3), nn.GELU("tanh"))
    roundtrip(net, (2, 4), opset=20)
    with pytest.raises(ValueError, match=r"GELU at '1': needs opset 20"):
        export(net, np.zeros((2, 4), np.float32))
