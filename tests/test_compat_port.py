"""tconv.compat.port and `tconv port`: every printed recipe, run in its own framework,
reproduces the source layer's output computed by the source framework, for every
pair of frameworks (PyTorch, TensorFlow, Keras, JAX, ONNX via onnxruntime, tconv)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from helpers import rel_err
from tconv.compat import FRAMEWORKS, Layer, port

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
jax = pytest.importorskip("jax")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import tconv  # noqa: E402

pytestmark = pytest.mark.slow

LAYERS = [
    Layer("tf", 4, 2, "SAME", 7, in_channels=2, out_channels=3),
    Layer("tf", 3, 2, "SAME", 5),
    Layer("tf", 1, 2, "SAME", 5),
    Layer("tf", 3, 2, "VALID", 4, output_shape=(10,)),
    Layer("tf", (3, 4), (2, 3), "SAME", (4, 5), in_channels=2, out_channels=2),
    Layer("keras", 3, 2, "same", 5),
    Layer("keras", 2, 3, "valid", 4),
    Layer("keras", 3, 2, "same", 6, output_padding=0),
    Layer("jax", 4, 2, "SAME", 7, in_channels=2, out_channels=2),
    Layer("jax", 1, 3, "SAME", 4),
    Layer("jax", 3, 2, ((2, 0),), 5),
    Layer("jax", 4, 2, "VALID", 5, transpose_kernel=True),
    Layer("jax", 3, 1, "SAME", 5, dilation=2),
    Layer("onnx", 3, 2, "SAME_UPPER", 5),
    Layer("onnx", 4, 2, "SAME_LOWER", 5),
    Layer("onnx", 4, 2, [1, 2], 5),
    Layer("onnx", 3, 3, [0, 0], 4, output_padding=2),
    Layer("torch", 3, 2, 1, 8, output_padding=1),
    Layer("torch", 4, 2, 1, 7, in_channels=2, out_channels=3),
    Layer("torch", (5, 3), (3, 1), (0, 1), (4, 3)),
    Layer("torch", 3, 2, 2, 6, dilation=2),
    Layer("tconv", 3, 2, ((2, -1),), 5),
    Layer("tconv", 2, 3, ((-1, 1),), 4),
]


def _shape(fmt: str, low, ci: int, co: int, batch: int = 2) -> tuple[int, ...]:
    sizes = dict(zip(low.spatial, low.in_size)) | {"N": batch, "C": ci}
    return tuple(sizes[c] for c in fmt)


def _weight_shape(low, ci: int, co: int) -> tuple[int, ...]:
    sizes = dict(zip(low.spatial, low.kernel_size)) | {"I": ci, "O": co}
    return tuple(sizes[c] for c in low.kernel_format)


def _run_source(layer: Layer, low, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The source framework's own output."""
    fw, n = layer.framework, len(low.stride)
    if fw in ("torch", "tconv"):
        if fw == "tconv":
            return np.asarray(
                getattr(tconv.functional, f"conv_transpose{n}d")(
                    x, w, None, low.stride, low.padding, 0, 1, low.dilation
                )
            )
        a = layer.output_padding or 0
        y = getattr(torch.nn.functional, f"conv_transpose{n}d")(
            torch.from_numpy(x), torch.from_numpy(w), None, low.stride, layer.padding, a, 1,
            low.dilation,
        )  # fmt: skip
        return y.numpy()
    if fw == "tf":
        shape = [x.shape[0], *low.out_size, w.shape[-2]]
        return np.asarray(
            getattr(tf.nn, f"conv{n}d_transpose")(x, w, shape, low.stride, layer.padding)
        )
    if fw == "keras":
        return np.asarray(
            keras.ops.conv_transpose(x, w, low.stride, layer.padding, layer.output_padding)
        )
    if fw == "jax":
        pad = layer.padding
        return np.asarray(
            jax.lax.conv_transpose(
                x, w, low.stride, pad, low.dilation, transpose_kernel=layer.transpose_kernel
            )
        )
    # onnx: the spec's semantics (onnx's reference implementation; one group, no bias)
    from onnx import helper, reference

    pad = layer.padding
    attrs = {"strides": list(low.stride), "dilations": list(low.dilation)}
    if isinstance(pad, str):
        attrs["auto_pad"] = pad
    else:
        attrs["pads"] = list(pad)
    if layer.output_padding is not None:
        attrs["output_padding"] = [layer.output_padding] * n
    model = _onnx_model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], **attrs)], x, w)
    return np.asarray(reference.ReferenceEvaluator(model).run(None, {"x": x, "w": w})[0])


def _onnx_model(nodes, x, w):
    from onnx import helper

    f32 = onnx.TensorProto.FLOAT
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("x", f32, x.shape),
            helper.make_tensor_value_info("w", f32, w.shape),
        ],
        [helper.make_tensor_value_info("y", f32, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run_target(name: str, code: str, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Execute the printed recipe in its framework."""
    scope = {"np": np, "x": x, "w": w, "torch": torch, "tf": tf, "keras": keras, "jax": jax,
             "onnx": onnx, "tconv": tconv}  # fmt: skip
    exec(code, scope)
    if name == "onnx":
        model = _onnx_model(scope["nodes"], x, w)
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return sess.run(None, {"x": x, "w": w})[0]
    y = scope["y"]
    return y.detach().numpy() if name == "torch" else np.asarray(y)


@pytest.mark.parametrize(
    "layer", LAYERS, ids=lambda l: f"{l.framework}-{l.kernel_size}-{l.stride}-{l.padding}"
)
def test_every_recipe_reproduces_the_source(layer):
    rng = np.random.default_rng(7)
    result = port(layer)
    low = result.lowering
    ci, co = layer.in_channels, layer.out_channels
    x = rng.standard_normal(_shape(low.data_format, low, ci, co)).astype(np.float32)
    w = rng.standard_normal(_weight_shape(low, ci, co)).astype(np.float32)
    ref = _run_source(layer, low, x, w)
    out_sizes = [ref.shape[low.out_format.index(c)] for c in low.spatial]
    assert tuple(out_sizes) == low.out_size
    assert set(result.targets) == set(FRAMEWORKS) - {layer.framework}
    for name, t in result.targets.items():
        xt = eval(t.input, {"np": np, "x": x})
        wt = eval(t.weight, {"np": np, "w": w})
        y = _run_target(name, t.code, xt, wt)
        back = eval(t.output, {"np": np, "y": y})
        assert rel_err(back, ref) <= 1e-5, (name, t.code)


def test_disagreements_are_listed():
    text = port(Layer("onnx", 1, 2, "SAME_UPPER", 5)).text()
    assert "tf SAME" in text and "differs" in text
    assert "torch.nn.functional.pad(y, (1, 0))" in text
