"""``tconv.onnx.export``: a :mod:`tconv.nn` model as an ONNX graph.

The module tree is walked with an example input: each supported layer writes its
nodes (one exporter per layer family, in the table :data:`EXPORTERS`) and is run on
the example so that the next layer knows its input's shape. Weights become
initializers under their ``state_dict`` names. Nothing is traced: a custom module
whose ``forward`` tconv cannot read is refused with its class and its path in the
model, as is a layer with no faithful ONNX form (an ``area`` up-sampling, a
BatchNorm in training mode).

PyTorch's conventions map onto ONNX's as follows (every rule is ONNX's or tconv's,
read from the layer; nothing is re-derived):

- ``padding_mode`` reflect / replicate / circular: a ``Pad`` node (reflect / edge /
  wrap), then ``Conv`` without padding; 'same' and asymmetric padding: ``pads``.
- ``ConvTranspose``: ``pads`` = the crop at each end and ``output_padding`` the
  extension past the crop, so that onnxruntime's ``output_padding < stride`` rule
  holds whenever PyTorch's output is inside the full output; zeros prepended (a
  negative crop) or appended past a stride become a ``Pad`` node, then the bias;
  ``padding_mode='circular'`` is the full output folded by Pad, Slice, Add, Concat.
- ``Upsample``: ``Resize`` with nearest -> (asymmetric, floor), nearest-exact ->
  (half_pixel, round_prefer_ceil), linear modes -> half_pixel or align_corners,
  bicubic -> cubic with ``cubic_coeff_a=-0.75``; ``scale_factor`` as ``scales`` (the
  coordinate map uses 1/scale, as PyTorch), ``size`` as ``sizes``.
- ``PixelShuffle`` -> ``DepthToSpace`` (CRD); ``PixelUnshuffle`` -> ``SpaceToDepth``
  then a ``Gather`` of its DCR channels into PyTorch's CRD order.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import shapes
from ..autograd import no_grad, unwrap
from ..nn import (
    GELU,
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    BatchNorm1d,
    BatchNorm2d,
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
    Module,
    PixelShuffle,
    PixelUnshuffle,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Softplus,
    SubPixelConv2d,
    Tanh,
    Unflatten,
    Upsample,
)
from ..nn.conv import _Conv, _ConvTranspose
from ..nn.upsample import _ResizeConvNd
from . import _proto

_FN = "tconv.onnx.export"
#: the opset written when none is asked for
DEFAULT_OPSET = 19
MIN_OPSET = 13


class _Graph:
    """The graph being written: nodes, initializers and fresh names."""

    def __init__(self, opset: int, dtype: np.dtype, dynamic_batch: bool) -> None:
        self.onnx = _proto.require(_FN)
        self.opset = opset
        self.dtype = dtype
        self.dynamic_batch = dynamic_batch
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._names: set[str] = set()

    def fresh(self, hint: str) -> str:
        name, i = hint, 1
        while name in self._names:
            i += 1
            name = f"{hint}_{i}"
        self._names.add(name)
        return name

    def const(self, hint: str, value: Any, dtype: Any = None) -> str:
        arr = np.asarray(value, dtype=dtype if dtype is not None else self.dtype)
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def ints(self, hint: str, values: Any) -> str:
        return self.const(hint, np.asarray(values, dtype=np.int64).reshape(-1), np.int64)

    def node(self, op: str, inputs: list[str], path: str, **attrs: Any) -> str:
        out = self.fresh(f"{path or 'model'}/{op}")
        name = self.fresh(f"/{path.replace('.', '/')}/{op}" if path else f"/{op}")
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [out], name=name, **attrs))
        return out


def _where(path: str) -> str:
    return f"at {path!r}" if path else "(the model itself)"


def _refuse(m: Module, path: str, why: str) -> ValueError:
    return ValueError(f"{_FN}: {type(m).__name__} {_where(path)}: {why}")


def _run(m: Module, value: np.ndarray, **kwargs: Any) -> np.ndarray:
    with no_grad():
        return np.asarray(unwrap(m(value, **kwargs)))


def _param(g: _Graph, m: Module, name: str, path: str) -> str | None:
    p = getattr(m, name, None)
    if p is None:
        return None
    return g.const(f"{path}.{name}" if path else name, unwrap(p))


Emit = Callable[..., tuple[str, np.ndarray]]
#: layer class -> exporter(g, module, path, x_name, x_value, **call_kwargs) -> (y_name, y)
EXPORTERS: dict[type, Emit] = {}


def exports(*classes: type) -> Callable[[Emit], Emit]:
    def register(fn: Emit) -> Emit:
        for c in classes:
            EXPORTERS[c] = fn
        return fn

    return register


def _emit(g: _Graph, m: Module, path: str, x: str, v: np.ndarray, **kw: Any) -> tuple[str, Any]:
    for cls in type(m).__mro__:
        if cls in EXPORTERS:
            return EXPORTERS[cls](g, m, path, x, v, **kw)
    names = sorted({c.__name__ for c in EXPORTERS if not c.__name__.startswith("_")})
    raise TypeError(
        f"{_FN}: {type(m).__name__} {_where(path)} has no ONNX export (a custom forward "
        f"cannot be read); tconv exports Conv1d-3d, ConvTranspose1d-3d, ResizeConv1d-3d and "
        f"{', '.join(names)}, and Sequential models of them"
    )


# --- containers and composites -----------------------------------------------------------


def _children(g: _Graph, m: Module, path: str, x: str, v: np.ndarray, order: list[str]) -> Any:
    for name in order:
        child = getattr(m, name)
        x, v = _emit(g, child, f"{path}.{name}" if path else name, x, v)
    return x, v


@exports(Sequential)
def _sequential(g: _Graph, m: Module, path: str, x: str, v: np.ndarray) -> Any:
    return _children(g, m, path, x, v, [n for n, _ in m.named_children()])


@exports(_ResizeConvNd)
def _resize_conv(g: _Graph, m: Module, path: str, x: str, v: np.ndarray) -> Any:
    return _children(g, m, path, x, v, ["upsample", "conv"])


@exports(SubPixelConv2d)
def _subpixel(g: _Graph, m: Module, path: str, x: str, v: np.ndarray) -> Any:
    return _children(g, m, path, x, v, ["conv", "shuffle"])


# --- convolutions ----------------------------------------------------------------------------


def _pairs(m: Any, n: int) -> list[tuple[int, int]]:
    """A convolution's (lo, hi) input padding per spatial dim."""
    p = m.padding
    if p == "same":
        return [tuple(pair) for pair in _pair_list(shapes.same_padding(m.kernel_size, m.dilation))]
    if p == "valid":
        return [(0, 0)] * n
    return [(int(a), int(a)) if np.ndim(a) == 0 else (int(a[0]), int(a[1])) for a in p]


def _pair_list(pairs: Any) -> list[Any]:
    return list(pairs) if isinstance(pairs[0], tuple) else [pairs]


_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@exports(_Conv)
def _conv(g: _Graph, m: Any, path: str, x: str, v: np.ndarray) -> Any:
    n = len(m.kernel_size)
    pairs = _pairs(m, n)
    if m.padding_mode != "zeros" and any(a or b for a, b in pairs):
        mode = _PAD_MODES[m.padding_mode]
        if mode == "wrap" and g.opset < 19:
            raise _refuse(m, path, f"padding_mode='circular' needs opset 19 or newer (Pad "
                                   f"mode 'wrap'), got opset {g.opset}")  # fmt: skip
        pads = [0, 0] + [a for a, _ in pairs] + [0, 0] + [b for _, b in pairs]
        x = g.node("Pad", [x, g.ints(f"{path}.pads", pads)], path, mode=mode)
        pairs = [(0, 0)] * n
    inputs = [x, _param(g, m, "weight", path), _param(g, m, "bias", path)]
    y = g.node(
        "Conv",
        [i for i in inputs if i],
        path,
        kernel_shape=list(m.kernel_size),
        strides=list(m.stride),
        dilations=list(m.dilation),
        group=m.groups,
        pads=[a for a, _ in pairs] + [b for _, b in pairs],
    )
    return y, _run(m, v)


@exports(_ConvTranspose)
def _conv_transpose(
    g: _Graph, m: Any, path: str, x: str, v: np.ndarray, output_size: Any = None
) -> Any:
    mode = getattr(m, "padding_mode", "zeros")
    if mode not in ("zeros", "circular"):
        raise _refuse(m, path, f"padding_mode={mode!r} has no ONNX ConvTranspose form")
    y_value = _run(m, v, output_size=output_size)
    n = len(m.kernel_size)
    # ONNX's begin crop is the layer's; the end adjustment follows from the output size.
    if isinstance(m.padding, str):
        same = getattr(shapes, "conv_transpose_same_padding", None)
        if m.padding != "same" or same is None:
            raise _refuse(m, path, f"padding={m.padding!r} has no ONNX export")
        lo = [a for a, _ in _pair_list(same(m.kernel_size, m.stride, m.dilation))]
    else:
        lo = [int(a) if np.ndim(a) == 0 else int(a[0]) for a in m.padding]
    if mode == "circular":
        periods = tuple(L * s for L, s in zip(v.shape[2:], m.stride))
        if tuple(y_value.shape[2:]) != periods:  # the fold makes L s outputs, no more
            raise _refuse(m, path, f"circular output {y_value.shape[2:]} is not input x stride")
        return _circular(g, m, path, x, v, lo), y_value
    spatial_in, spatial_out = v.shape[-n:], y_value.shape[-n:]
    end, extra = [], []
    for L, o, k, s, d, a in zip(spatial_in, spatial_out, m.kernel_size, m.stride, m.dilation, lo):
        e = (L - 1) * s + d * (k - 1) + 1 - a - o  # cropped at the end (< 0: appended zeros)
        end.append(max(e, 0))
        extra.append(max(-e, 0))
    attrs: dict[str, Any] = {
        "kernel_shape": list(m.kernel_size),
        "strides": list(m.stride),
        "dilations": list(m.dilation),
        "group": m.groups,
        "pads": [max(a, 0) for a in lo] + end,
    }
    weight, bias = _param(g, m, "weight", path) or "", _param(g, m, "bias", path)
    if all(a >= 0 for a in lo) and all(e < s for e, s in zip(extra, m.stride)):
        if any(extra):
            attrs["output_padding"] = extra
        inputs = [x, weight] + ([bias] if bias else [])
        return g.node("ConvTranspose", inputs, path, **attrs), y_value
    # Zeros prepended (a negative start crop) or output_padding >= stride (onnxruntime
    # refuses it): the zeros as a Pad node, then the bias, which covers them too
    y = g.node("ConvTranspose", [x, weight], path, **attrs)
    pads = [0, 0] + [max(-a, 0) for a in lo] + [0, 0] + extra
    y = g.node("Pad", [y, g.ints(f"{path}.pads", pads)], path)
    if bias:
        b = unwrap(m.bias).reshape((-1,) + (1,) * n)
        y = g.node("Add", [y, g.const(f"{path}.bias_nd", b)], path)
    return y, y_value


def _circular(g: _Graph, m: Any, path: str, x: str, v: np.ndarray, lo: list[int]) -> str:
    """tconv's circular transposed convolution (Flax's): the full output folded with
    period ``P = L s`` per axis, ``y[j] = sum_m full[j + lo + m P]``: the full output
    (ConvTranspose without padding), zeros to whole periods (Pad), the periods summed
    (Slice, Add), the start rolled to ``lo mod P`` (Slice, Concat), then the bias."""
    n = len(m.kernel_size)
    weight = _param(g, m, "weight", path) or ""
    y = g.node("ConvTranspose", [x, weight], path, kernel_shape=list(m.kernel_size),
               strides=list(m.stride), dilations=list(m.dilation), group=m.groups,
               pads=[0] * (2 * n))  # fmt: skip

    def part(t: str, axis: int, start: int, stop: int) -> str:
        ends = [g.ints(f"{path}.{name}", [val]) for name, val in (("start", start), ("stop", stop))]
        return g.node("Slice", [t, *ends, g.ints(f"{path}.axis", [axis])], path)

    for i, (L, k, s, d) in enumerate(zip(v.shape[2:], m.kernel_size, m.stride, m.dilation)):
        axis, period, full = 2 + i, L * s, (L - 1) * s + d * (k - 1) + 1
        count = -(-full // period)
        if count * period > full:
            pads = [0] * (2 * v.ndim)
            pads[v.ndim + axis] = count * period - full
            y = g.node("Pad", [y, g.ints(f"{path}.pads", pads)], path)
        z = part(y, axis, 0, period) if count > 1 else y
        for c in range(1, count):
            z = g.node("Add", [z, part(y, axis, c * period, (c + 1) * period)], path)
        r = lo[i] % period
        if r:
            halves = [part(z, axis, r, period), part(z, axis, 0, r)]
            z = g.node("Concat", halves, path, axis=axis)
        y = z
    if m.bias is not None:
        b = unwrap(m.bias).reshape((-1,) + (1,) * n)
        y = g.node("Add", [y, g.const(f"{path}.bias_nd", b)], path)
    return y


# --- dense, normalisation, activations ------------------------------------------------------


@exports(Linear)
def _linear(g: _Graph, m: Any, path: str, x: str, v: np.ndarray) -> Any:
    if v.ndim == 2:
        inputs = [x, _param(g, m, "weight", path)]
        if m.bias is not None:
            inputs.append(_param(g, m, "bias", path))
        return g.node("Gemm", [i for i in inputs if i], path, transB=1), _run(m, v)
    w_t = g.const(f"{path}.weight_t" if path else "weight_t", unwrap(m.weight).T)
    y = g.node("MatMul", [x, w_t], path)
    if m.bias is not None:
        y = g.node("Add", [y, _param(g, m, "bias", path) or ""], path)
    return y, _run(m, v)


@exports(BatchNorm1d, BatchNorm2d)
def _batch_norm(g: _Graph, m: Any, path: str, x: str, v: np.ndarray) -> Any:
    if m.training:
        raise _refuse(m, path, "is in training mode: call .eval() before export (ONNX "
                               "BatchNormalization is the inference form)")  # fmt: skip
    if m.running_mean is None:
        raise _refuse(m, path, "has no running statistics (track_running_stats=False): "
                               "its eval mode uses batch statistics, which ONNX's "
                               "BatchNormalization has not")  # fmt: skip
    c = m.num_features
    scale = unwrap(m.weight) if m.weight is not None else np.ones(c)
    bias = unwrap(m.bias) if m.bias is not None else np.zeros(c)
    base = f"{path}." if path else ""
    inputs = [
        x,
        g.const(base + "weight", scale),
        g.const(base + "bias", bias),
        g.const(base + "running_mean", m.running_mean),
        g.const(base + "running_var", m.running_var),
    ]
    return g.node("BatchNormalization", inputs, path, epsilon=float(m.eps)), _run(m, v)


def _simple(op: str, **attrs: Callable[[Any], Any]) -> Emit:
    def emit(g: _Graph, m: Any, path: str, x: str, v: np.ndarray) -> Any:
        return g.node(op, [x], path, **{k: f(m) for k, f in attrs.items()}), _run(m, v)

    return emit


EXPORTERS[ReLU] = _simple("Relu")
EXPORTERS[Sigmoid] = _simple("Sigmoid")
EXPORTERS[Tanh] = _simple("Tanh")
EXPORTERS[Identity] = _simple("Identity")
EXPORTERS[LeakyReLU] = _simple("LeakyRelu", alpha=lambda m: float(m.negative_slope))
EXPORTERS[Softmax] = _simple("Softmax", axis=lambda m: int(m.dim))
EXPORTERS[LogSoftmax] = _simple("LogSoftmax", axis=lambda m: int(m.dim))


@exports(Softplus)
def _softplus(g: _Graph, m: Any, path: str, x: str, v: np.ndarray) -> Any:
    if m.beta != 1 or m.threshold < 20:
        raise _refuse(m, path, f"beta={m.beta}, threshold={m.threshold}: ONNX's Softplus is "
                               "log(1 + exp(x)) (beta 1, no threshold)")  # fmt: skip
    return g.node("Softplus", [x], path), _run(m, v)


@exports(GELU)
def _gelu(g: _Graph, m: Any, path: str, x: str, v: np.ndarray) -> Any:
    if g.opset < 20:
        raise _refuse(m, path, f"needs opset 20 or newer (the Gelu op), got opset {g.opset}")
    return g.node("Gelu", [x], path, approximate=m.approximate), _run(m, v)


@exports(Dropout)
def _dropout(g: _Graph, m: Any, path: str, x: str, v: np.ndarray) -> Any:
    if m.training and m.p > 0:
        raise _refuse(m, path, "is in training mode: call .eval() before export")
    return g.node("Identity", [x], path), _run(m, v)


# --- pooling -----------------------------------------------------------------------------------


def _tuple(value: Any, n: int) -> list[int]:
    return [int(a) for a in (value if isinstance(value, (tuple, list)) else (value,) * n)]


@exports(AvgPool1d, AvgPool2d, AvgPool3d)
def _avg_pool(g: _Graph, m: Any, path: str, x: str, v: np.ndarray) -> Any:
    if m.divisor_override is not None:
        raise _refuse(m, path, "divisor_override has no ONNX AveragePool form")
    n = v.ndim - 2
    k, s, p = _tuple(m.kernel_size, n), _tuple(m.stride, n), _tuple(m.padding, n)
    y = g.node(
        "AveragePool",
        [x],
        path,
        kernel_shape=k,
        strides=s,
        pads=p + p,
        ceil_mode=int(m.ceil_mode),
        count_include_pad=int(m.count_include_pad),
    )
    return y, _run(m, v)


@exports(MaxPool1d, MaxPool2d, MaxPool3d)
def _max_pool(g: _Graph, m: Any, path: str, x: str, v: np.ndarray) -> Any:
    if m.return_indices:
        raise _refuse(m, path, "return_indices=True: export the values only")
    n = v.ndim - 2
    k, s, p = _tuple(m.kernel_size, n), _tuple(m.stride, n), _tuple(m.padding, n)
    y = g.node(
        "MaxPool",
        [x],
        path,
        kernel_shape=k,
        strides=s,
        pads=p + p,
        dilations=_tuple(m.dilation, n),
        ceil_mode=int(m.ceil_mode),
    )
    return y, _run(m, v)


@exports(
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
)
def _adaptive_pool(g: _Graph, m: Any, path: str, x: str, v: np.ndarray) -> Any:
    if getattr(m, "return_indices", False):
        raise _refuse(m, path, "return_indices=True: export the values only")
    kind = "Average" if "Avg" in type(m).__name__ else "Max"
    y_value = _run(m, v)
    n = v.ndim - 2
    ins, outs = v.shape[-n:], y_value.shape[-n:]
    if all(o == 1 for o in outs):
        return g.node(f"Global{kind}Pool", [x], path), y_value
    if any(i % o for i, o in zip(ins, outs)):
        raise _refuse(m, path, f"output size {tuple(outs)} does not divide the input size "
                               f"{tuple(ins)}: the windows differ in size, which ONNX pooling "
                               "cannot express")  # fmt: skip
    k = [i // o for i, o in zip(ins, outs)]
    return g.node(f"{kind}Pool", [x], path, kernel_shape=k, strides=k), y_value


# --- shapes --------------------------------------------------------------------------------------


@exports(Flatten)
def _flatten(g: _Graph, m: Any, path: str, x: str, v: np.ndarray) -> Any:
    y_value = _run(m, v)
    start = m.start_dim % v.ndim
    end = m.end_dim % v.ndim
    if start == 1 and end == v.ndim - 1:
        return g.node("Flatten", [x], path, axis=1), y_value
    if start == 0 and g.dynamic_batch:
        raise _refuse(m, path, "merges the batch dim: export with dynamic_batch=False")
    shape = [0] * start + [-1] + list(v.shape[end + 1 :])
    return g.node("Reshape", [x, g.ints(f"{path}.shape", shape)], path), y_value


@exports(Unflatten)
def _unflatten(g: _Graph, m: Any, path: str, x: str, v: np.ndarray) -> Any:
    y_value = _run(m, v)
    d = m.dim % v.ndim
    if d == 0 and g.dynamic_batch:
        raise _refuse(m, path, "splits the batch dim: export with dynamic_batch=False")
    shape = [0] * d + list(m.unflattened_size) + list(v.shape[d + 1 :])
    return g.node("Reshape", [x, g.ints(f"{path}.shape", shape)], path), y_value


# --- up-scaling --------------------------------------------------------------------------------

# PyTorch's interpolate mode -> Resize attributes (align_corners picks the linear maps')
_RESIZE: dict[str, dict[str, Any]] = {
    "nearest": {"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
                "nearest_mode": "floor"},
    "nearest-exact": {"mode": "nearest", "coordinate_transformation_mode": "half_pixel",
                      "nearest_mode": "round_prefer_ceil"},
    "linear": {"mode": "linear"},
    "bilinear": {"mode": "linear"},
    "trilinear": {"mode": "linear"},
    "bicubic": {"mode": "cubic", "cubic_coeff_a": -0.75, "exclude_outside": 0},
}  # fmt: skip


@exports(Upsample)
def _upsample(g: _Graph, m: Any, path: str, x: str, v: np.ndarray) -> Any:
    if m.mode not in _RESIZE:
        raise _refuse(m, path, f"mode={m.mode!r} has no ONNX Resize form (Resize has "
                               "nearest, linear and cubic)")  # fmt: skip
    y_value = _run(m, v)
    attrs: dict[str, Any] = dict(_RESIZE[m.mode])
    if attrs["mode"] != "nearest":
        attrs["coordinate_transformation_mode"] = (
            "align_corners" if m.align_corners else "half_pixel"
        )
    n = v.ndim - 2
    if m.size is None and not m.recompute_scale_factor and not m.align_corners:
        # the coordinate map uses 1 / scale_factor, as Resize's scales do (align_corners
        # uses the sizes only, in PyTorch as in ONNX)
        sf = m.scale_factor
        sfs = list(sf) if isinstance(sf, tuple) else [sf] * n
        scales = g.const(f"{path}.scales", [1.0, 1.0, *sfs], np.float32)
        if any(float(np.float32(s)) != float(s) for s in sfs):
            raise _refuse(m, path, f"scale_factor={sf!r} is not a float32 number, which "
                                   "Resize's scales are: use a size")  # fmt: skip
        return g.node("Resize", [x, "", scales], path, **attrs), y_value
    out = list(y_value.shape[-n:])
    if g.opset >= 18:
        sizes = g.ints(f"{path}.sizes", out)
        attrs["axes"] = list(range(2, 2 + n))
    else:
        if g.dynamic_batch:
            raise _refuse(m, path, "an up-sampling to a size needs opset 18 or newer (Resize "
                                   "axes) with dynamic_batch=True")  # fmt: skip
        sizes = g.ints(f"{path}.sizes", list(v.shape[:2]) + out)
    return g.node("Resize", [x, "", "", sizes], path, **attrs), y_value


@exports(PixelShuffle)
def _pixel_shuffle(g: _Graph, m: Any, path: str, x: str, v: np.ndarray) -> Any:
    if v.ndim != 4:
        raise _refuse(m, path, f"needs a 4-D input for DepthToSpace, got shape {v.shape}")
    r = int(m.upscale_factor)
    return g.node("DepthToSpace", [x], path, blocksize=r, mode="CRD"), _run(m, v)


@exports(PixelUnshuffle)
def _pixel_unshuffle(g: _Graph, m: Any, path: str, x: str, v: np.ndarray) -> Any:
    if v.ndim != 4:
        raise _refuse(m, path, f"needs a 4-D input for SpaceToDepth, got shape {v.shape}")
    r, c = int(m.downscale_factor), v.shape[1]
    if g.opset >= 28:  # SpaceToDepth's CRD mode
        return g.node("SpaceToDepth", [x], path, blocksize=r, mode="CRD"), _run(m, v)
    y = g.node("SpaceToDepth", [x], path, blocksize=r)
    # SpaceToDepth's channel q C + c (q = i r + j) is PyTorch's channel c r^2 + q
    order = (np.arange(r * r)[None, :] * c + np.arange(c)[:, None]).reshape(-1)
    return g.node("Gather", [y, g.ints(f"{path}.channels", order)], path, axis=1), _run(m, v)


# --- the model -------------------------------------------------------------------------------


def _value_info(g: _Graph, name: str, shape: tuple[int, ...]) -> Any:
    onnx = g.onnx
    dims: list[Any] = list(shape)
    if g.dynamic_batch and dims:
        dims[0] = "batch"
    elem = onnx.helper.np_dtype_to_tensor_dtype(g.dtype)
    return onnx.helper.make_tensor_value_info(name, elem, dims)


def _check_dtypes(module: Module, x: np.ndarray) -> None:
    for name, t in [*module.state_dict().items()]:
        a = np.asarray(t)
        if a.dtype.kind == "f" and a.dtype != x.dtype:
            raise TypeError(
                f"{_FN}: {name} is {a.dtype} but the example input is {x.dtype}: ONNX types "
                f"must agree; cast the model (.float() / .double()) or the input"
            )


def export(
    module: Module,
    example_input: Any,
    path: str | os.PathLike[str] | None = None,
    *,
    opset: int | None = None,
    dynamic_batch: bool = True,
) -> Any:
    """Export a :mod:`tconv.nn` model to ONNX; return the ``ModelProto`` (and write it to
    ``path`` when given).

    ``example_input``: an array of the input's shape and dtype (float32 or float64),
    or ``(array, {"output_size": ...})`` for a transposed convolution called with an
    output size. ``opset``: the ONNX opset written (13 to the newest onnx knows;
    default 19). ``dynamic_batch``: dim 0 of the input and output is the symbol
    ``batch``. The model passes ``onnx.checker.check_model(full_check=True)``; its
    output equals the module's (onnxruntime and :func:`tconv.onnx.load` run it).

    Exported: Sequential models of Conv1d-3d (every padding_mode), ConvTranspose1d-3d,
    Linear, BatchNorm1d/2d (eval), the activations, pooling, Flatten, Unflatten,
    Dropout (eval), Upsample, PixelShuffle/Unshuffle, ResizeConv1d-3d and
    SubPixelConv2d. Anything else raises a TypeError naming the layer and its path.

    >>> import pytest; onnx = pytest.importorskip("onnx")
    >>> import tconv
    >>> net = tconv.nn.Sequential(tconv.nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1),
    ...                           tconv.nn.Tanh())
    >>> model = export(net, np.zeros((1, 4, 8, 8), np.float32))
    >>> [n.op_type for n in model.graph.node]
    ['ConvTranspose', 'Tanh']
    >>> [i.name for i in model.graph.initializer]
    ['0.weight', '0.bias']
    """
    onnx = _proto.require(_FN)
    if not isinstance(module, Module):
        raise TypeError(f"{_FN}: module must be a tconv.nn.Module, got {type(module).__name__}")
    kwargs: dict[str, Any] = {}
    if (
        isinstance(example_input, tuple)
        and len(example_input) == 2
        and isinstance(example_input[1], dict)
    ):
        example_input, kwargs = example_input
    x = np.asarray(unwrap(example_input))
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{_FN}: example_input must be float32 or float64, got {x.dtype}")
    newest = int(onnx.defs.onnx_opset_version())
    opset = DEFAULT_OPSET if opset is None else opset
    if not isinstance(opset, int) or isinstance(opset, bool) or not MIN_OPSET <= opset <= newest:
        raise ValueError(f"{_FN}: opset must be an int in {MIN_OPSET}..{newest}, got {opset!r}")
    _check_dtypes(module, x)
    g = _Graph(opset, x.dtype, dynamic_batch)
    g.fresh("input")
    y, y_value = _emit(g, module, "", "input", x, **kwargs)
    # the graph's output is called "output": the last node's, renamed
    out = "output"
    if g.nodes and g.nodes[-1].output[0] == y and y != "input":
        g.nodes[-1].output[0] = out
    else:
        g.nodes.append(onnx.helper.make_node("Identity", [y], [out], name="/output"))
    graph = onnx.helper.make_graph(
        g.nodes,
        "tconv",
        [_value_info(g, "input", x.shape)],
        [_value_info(g, out, y_value.shape)],
        g.initializers,
    )
    opsets = [onnx.helper.make_opsetid("", opset)]
    model = onnx.helper.make_model(
        graph,
        opset_imports=opsets,
        producer_name="tconv",
        ir_version=onnx.helper.find_min_ir_version_for(opsets),
    )
    onnx.checker.check_model(model, full_check=True)
    if path is not None:
        onnx.save(model, os.fspath(path))
    return model
