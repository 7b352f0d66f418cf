"""Porting a transposed-convolution layer between frameworks.

:func:`port` reads a layer in one framework's terms (a :class:`Layer`), lowers it with
that framework's ``lower`` (its convention, written once in
:mod:`tconv.compat`), and writes it in each other framework's terms: the layer and
its padding arguments, the weight re-laid (and mirrored where the conventions
differ), and, where the target cannot express the crop (PyTorch crops symmetrically
only; TensorFlow and Keras reach few crops), the exact recipe: the nearest layer
plus a slice or a zero padding. Each recipe is Python code that reads ``x`` and
``w`` (the target's layouts) and sets ``y``; the tests run every one of them in
its framework.

Frameworks: ``torch``, ``tf``, ``keras``, ``jax``, ``onnx`` and ``tconv``. Layers
have one group (TensorFlow and Keras have no grouped transposed convolutions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import _args
from . import _lowering as _l
from . import jax as _jax
from . import keras as _keras
from . import onnx as _onnx
from . import tf as _tf
from ._lowering import Lowering

__all__ = ["FRAMEWORKS", "Layer", "Port", "Target", "port"]

FRAMEWORKS = ("torch", "tf", "keras", "jax", "onnx", "tconv")
"""The frameworks ``port`` writes a layer for (its ``to=`` and ``Layer.framework`` values)."""
_SP = {1: "W", 2: "HW", 3: "DHW"}
_JAX_SP = {1: "H", 2: "HW", 3: "HWD"}


@dataclass(frozen=True)
class Layer:
    """A transposed convolution in one framework's terms.

    ``padding``: the framework's own value: an int or per-dim ints for ``torch``;
    'SAME'/'VALID' (or a TF explicit list) for ``tf``; 'same'/'valid' for ``keras``;
    'SAME'/'VALID' or ``(lo, hi)`` pairs for ``jax``; an ``auto_pad`` string or a
    ``pads`` list for ``onnx``; ``(lo, hi)`` pairs (crops) or ints for ``tconv``.
    ``output_shape``: the spatial output sizes (TF's required argument, ONNX's
    attribute); TF defaults to ``L s`` ('SAME') or ``(L - 1) s + k_eff`` ('VALID').
    """

    framework: str
    kernel_size: Sequence[int] | int
    stride: Sequence[int] | int = 1
    padding: Any = 0
    input_size: Sequence[int] | int = 8
    dilation: Sequence[int] | int = 1
    output_padding: Sequence[int] | int | None = None
    output_shape: Sequence[int] | None = None
    in_channels: int = 1
    out_channels: int = 1
    transpose_kernel: bool = False


@dataclass(frozen=True)
class Target:
    """A layer in one framework's terms: ``code`` (reads ``x``, ``w``; sets ``y``), the
    weight conversion ``weight`` (an expression of the source weight ``w``), the input
    conversion ``input`` (of the source input ``x``) and whether one layer call
    reproduces the source (``exact``; otherwise ``code`` adds a slice or zeros)."""

    framework: str
    code: str
    weight: str
    input: str
    output: str
    exact: bool
    note: str = ""


@dataclass(frozen=True)
class Port:
    """The result of :func:`port`: the source's lowering, the targets, the disagreements."""

    layer: Layer
    lowering: Lowering
    targets: dict[str, Target] = field(default_factory=dict)
    conventions: dict[str, tuple[tuple[int, ...], tuple[tuple[int, int], ...]]] = field(
        default_factory=dict
    )

    @property
    def out_size(self) -> tuple[int, ...]:
        return self.lowering.out_size

    @property
    def crop(self) -> tuple[tuple[int, int], ...]:
        return self.lowering.padding

    def text(self) -> str:
        """The report ``tconv port`` prints."""
        low = self.lowering
        lines = [
            f"source ({self.layer.framework}): input {low.in_size} -> output {low.out_size}",
            f"  full output (L-1)s + d(k-1) + 1 = {low.full_size}; crop (start, end) = "
            f"{low.padding} (a negative crop appends zeros)",
        ]
        for name, t in self.targets.items():
            lines.append(f"{name}:{'' if t.exact else '  (recipe: no single layer does this)'}")
            lines += ["    " + c for c in t.code.splitlines()]
            lines.append(f"    weight: w = {t.weight}")
            if t.note:
                lines.append(f"    note: {t.note}")
        same = {k: v for k, v in self.conventions.items() if v != (low.out_size, low.padding)}
        if same:
            lines.append("frameworks' named paddings for this kernel, stride and input:")
            for k, (o, c) in self.conventions.items():
                mark = "" if (o, c) == (low.out_size, low.padding) else "   <- differs"
                lines.append(f"  {k:<24} output {o}, crop {c}{mark}")
        return "\n".join(lines)


def _ntuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    return _args.ntuple(value, n, name, "compat.port")


def _source(layer: Layer) -> Lowering:
    """The source layer's lowering, through its framework's convention."""
    fw = layer.framework
    size: Any = layer.input_size
    L = (int(size),) if _args._is_int(size) else tuple(int(v) for v in size)
    n = len(L)
    k = _ntuple(layer.kernel_size, n, "kernel_size")
    s = _ntuple(layer.stride, n, "stride")
    d = _ntuple(layer.dilation, n, "dilation")
    ci, co = layer.in_channels, layer.out_channels
    if fw in ("torch", "tconv"):
        pad = layer.padding
        if fw == "tconv" and not _args._is_int(pad) and all(not _args._is_int(p) for p in pad):
            pairs = _l.as_pairs(pad, n, "padding", "compat.port")
        else:
            p = _args.non_negative_ntuple(pad, n, "padding", "compat.port")
            a = _args.non_negative_ntuple(layer.output_padding or 0, n, "output_padding", "port")
            pairs = tuple((pi, pi - ai) for pi, ai in zip(p, a))
        sp = _SP[n]
        return Lowering(True, s, d, 1, pairs, False, "NC" + sp, "IO" + sp, "NC" + sp, sp, L, k)
    if fw == "tf":
        out = layer.output_shape
        if out is None:
            e = tuple(_l.k_eff(*v) for v in zip(k, d))
            same = layer.padding == "SAME"
            out = tuple(Li * si if same else (Li - 1) * si + ei for Li, si, ei in zip(L, s, e))
        return _tf.lower(
            "conv_transpose", (1, *L, ci), (*k, co, ci), s, layer.padding, None, d, tuple(out)
        )
    if fw == "keras":
        return _keras.lower(
            "conv_transpose", (1, *L, ci), (*k, co, ci), s, layer.padding,
            layer.output_padding, None, d,
        )  # fmt: skip
    if fw == "jax":
        shape = (*k, co, ci) if layer.transpose_kernel else (*k, ci, co)
        pad = layer.padding
        if not isinstance(pad, str):
            pad = _l.as_pairs(pad, n, "padding", "compat.port")
        return as_transposed(
            _jax.lower_transpose((1, *L, ci), shape, s, pad, d, None, layer.transpose_kernel)
        )
    if fw == "onnx":
        pad = layer.padding
        auto = pad if isinstance(pad, str) else "NOTSET"
        pads = None if isinstance(pad, str) or pad in (0, None) else list(pad)
        return _onnx.lower(
            "ConvTranspose", (1, ci, *L), (ci, co, *k), auto_pad=auto, dilations=list(d),
            output_padding=None if layer.output_padding is None
            else list(_ntuple(layer.output_padding, n, "output_padding")),
            output_shape=None if layer.output_shape is None else list(layer.output_shape),
            pads=pads, strides=list(s),
        )  # fmt: skip
    raise ValueError(f"compat.port: framework must be one of {', '.join(FRAMEWORKS)}, got {fw!r}")


def _canon(fmt: str, spatial: str) -> str:
    """``fmt`` with its spatial letters renamed by their place in the op's order."""
    return fmt.translate(str.maketrans(spatial, "xyz"[: len(spatial)]))


def _convert(src: str, src_sp: str, dst: str, dst_sp: str, flip: bool, var: str) -> str:
    """A NumPy expression that re-lays ``var`` from ``src`` to ``dst`` (and mirrors the
    spatial axes when ``flip``)."""
    a, b = _canon(src, src_sp), _canon(dst, dst_sp)
    perm = tuple(a.index(c) for c in b)
    expr = var if perm == tuple(range(len(perm))) else f"np.transpose({var}, {perm})"
    if flip:
        idx = ", ".join("::-1" if c in "xyz" else ":" for c in b)
        expr = f"{expr}[{idx}]"
    return f"{expr}.copy()" if expr != var else var  # .copy(): positive strides, as torch needs


def _list(values: Sequence[int]) -> str:
    return ", ".join(str(v) for v in values)


def _pairs_text(pairs: Sequence[tuple[int, int]]) -> str:
    return (
        "("
        + ", ".join(f"({lo}, {hi})" for lo, hi in pairs)
        + ("," if len(pairs) == 1 else "")
        + ")"
    )


def _torch(low: Lowering, ci: int, co: int) -> tuple[str, bool, Lowering]:
    n = len(low.stride)
    p, a, rest = [], [], []
    for (lo, hi), si, di in zip(low.padding, low.stride, low.dilation):
        if lo >= 0 and 0 <= lo - hi < max(si, di):  # PyTorch's padding and output_padding
            p.append(lo)
            a.append(lo - hi)
            rest.append((0, 0))
        else:
            pi = max(min(lo, hi), 0)
            p.append(pi)
            a.append(0)
            rest.append((lo - pi, hi - pi))
    exact = not any(v for r in rest for v in r)
    p_, a_ = tuple(p), tuple(a)
    code = (
        f"layer = torch.nn.ConvTranspose{n}d({ci}, {co}, kernel_size={low.kernel_size}, "
        f"stride={low.stride}, padding={p_}, output_padding={a_}, dilation={low.dilation}, "
        "bias=False)\n"
        "with torch.no_grad():\n"
        "    layer.weight.copy_(torch.from_numpy(w))\n"
        "    y = layer(torch.from_numpy(x))"
    )
    if not exact:
        # F.pad crops where its amounts are negative and adds zeros where positive;
        # its amounts run from the last dim to the first.
        amounts = [v for lo, hi in reversed(rest) for v in (-lo, -hi)]
        code += f"\n    y = torch.nn.functional.pad(y, {tuple(amounts)})"
    sp = _SP[n]
    fmt = Lowering(True, low.stride, low.dilation, 1, low.padding, False, "NC" + sp, "IO" + sp,
                   "NC" + sp, sp, low.in_size, low.kernel_size)  # fmt: skip
    return code, exact, fmt


def _tf_target(low: Lowering, co: int) -> tuple[str, bool, Lowering]:
    n = len(low.stride)
    out = low.out_size
    full = low.full_size
    L = low.in_size
    for pad in ("SAME", "VALID"):
        try:
            cand = _tf.lower("conv_transpose", (1, *L, 1), (*low.kernel_size, co, 1), low.stride,
                             pad, None, low.dilation, out)  # fmt: skip
        except ValueError:
            continue
        if cand.padding == low.padding:
            code = (
                f"y = tf.nn.conv{n}d_transpose(x, w, "
                f"output_shape=[x.shape[0], {_list(out)}, {co}], strides={list(low.stride)}, "
                f"padding={pad!r}, dilations={list(low.dilation)})"
            )
            return code, True, cand
    base = _tf.lower("conv_transpose", (1, *L, 1), (*low.kernel_size, co, 1), low.stride,
                     "VALID", None, low.dilation, full)  # fmt: skip
    sl = ", ".join(f"{max(lo, 0)}:{f - max(hi, 0)}" for (lo, hi), f in zip(low.padding, full))
    zeros = [[0, 0]] + [[max(-lo, 0), max(-hi, 0)] for lo, hi in low.padding] + [[0, 0]]
    code = (
        f"y = tf.nn.conv{n}d_transpose(x, w, output_shape=[x.shape[0], {_list(full)}, {co}], "
        f"strides={list(low.stride)}, padding='VALID', dilations={list(low.dilation)})\n"
        f"y = tf.pad(y[:, {sl}, :], {zeros})"
    )
    return code, False, base


def _keras_target(low: Lowering, ci: int, co: int) -> tuple[str, bool, Lowering]:
    n = len(low.stride)
    L = low.in_size
    options: list[tuple[str, Any]] = [("same", None), ("valid", None)]
    options += [(p, a) for p in ("same", "valid") for a in range(max(low.stride))]
    layer = (
        f"y = keras.ops.conv_transpose(x, w, strides={low.stride}, padding={{pad!r}}, "
        f"output_padding={{op}}, dilation_rate={low.dilation})"
    )
    for pad, a in options:
        if a is not None and any(a >= si for si in low.stride):
            continue
        op = None if a is None else (a,) * n
        try:
            cand = _keras.lower("conv_transpose", (1, *L, ci), (*low.kernel_size, co, ci),
                                low.stride, pad, op, None, low.dilation)  # fmt: skip
        except ValueError:
            continue
        if cand.padding == low.padding:
            return layer.format(pad=pad, op=op), True, cand
    base = _keras.lower("conv_transpose", (1, *L, ci), (*low.kernel_size, co, ci), low.stride,
                        "valid", (0,) * n, None, low.dilation)  # fmt: skip
    code = layer.format(pad="valid", op=(0,) * n)
    crop = tuple((max(lo, 0), max(hi, 0)) for lo, hi in low.padding)
    zeros = tuple((max(-lo, 0), max(-hi, 0)) for lo, hi in low.padding)
    one = (lambda t: t[0]) if n == 1 else (lambda t: t)
    if any(v for p in crop for v in p):
        code += f"\ny = keras.layers.Cropping{n}D({one(crop)})(y)"
    if any(v for p in zeros for v in p):
        code += f"\ny = keras.layers.ZeroPadding{n}D({one(zeros)})(y)"
    return code, False, base


def _jax_target(low: Lowering) -> tuple[str, bool, Lowering]:
    n = len(low.stride)
    shape_in = (1, *low.in_size, 1)
    shape_w = (*low.kernel_size, 1, 1)
    for pad in ("SAME", "VALID"):
        cand = as_transposed(_jax.lower_transpose(shape_in, shape_w, low.stride, pad, low.dilation))
        if cand.padding == low.padding:
            break
    else:
        eff = tuple(_l.k_eff(*v) for v in zip(low.kernel_size, low.dilation))
        pad = tuple((e - 1 - lo, e - 1 - hi) for e, (lo, hi) in zip(eff, low.padding))  # type: ignore[assignment]
        cand = as_transposed(_jax.lower_transpose(shape_in, shape_w, low.stride, pad, low.dilation))
    text = repr(pad) if isinstance(pad, str) else _pairs_text(pad)
    code = (
        f"y = jax.lax.conv_transpose(x, w, strides={low.stride}, padding={text}, "
        f"rhs_dilation={low.dilation})"
    )
    del n
    return code, True, cand


def _onnx_target(low: Lowering) -> tuple[str, bool, Lowering]:
    n = len(low.stride)
    crop = low.padding
    pos = [max(lo, 0) for lo, _ in crop] + [max(hi, 0) for _, hi in crop]
    a = [0] * n
    for i, ((lo, hi), si) in enumerate(zip(crop, low.stride)):
        if lo >= 0 and hi < 0 and -hi < si:
            a[i] = -hi  # output_padding: zeros at the end that onnxruntime accepts
    zeros = [0, 0] + [max(-lo, 0) for lo, _ in crop] + [0, 0]
    zeros += [max(-hi, 0) - ai for (_, hi), ai in zip(crop, a)]
    attrs = f"strides={list(low.stride)}, dilations={list(low.dilation)}, pads={pos}" + (
        f", output_padding={a}" if any(a) else ""
    )
    code = f'nodes = [onnx.helper.make_node("ConvTranspose", ["x", "w"], ["y"], {attrs})]'
    exact = not any(zeros)
    if not exact:
        code = (
            f'nodes = [onnx.helper.make_node("ConvTranspose", ["x", "w"], ["t"], {attrs}),\n'
            f'         onnx.helper.make_node("Constant", [], ["pads"], value=onnx.numpy_helper'
            f".from_array(np.array({zeros}, np.int64))),\n"
            f'         onnx.helper.make_node("Pad", ["t", "pads"], ["y"])]'
        )
    sp = _SP[n]
    fmt = Lowering(True, low.stride, low.dilation, 1, crop, False, "NC" + sp, "IO" + sp,
                   "NC" + sp, sp, low.in_size, low.kernel_size)  # fmt: skip
    return code, exact, fmt


def _tconv_target(low: Lowering) -> tuple[str, bool, Lowering]:
    n = len(low.stride)
    code = (
        f"y = tconv.functional.conv_transpose{n}d(x, w, stride={low.stride}, "
        f"padding={_pairs_text(low.padding)}, dilation={low.dilation})"
    )
    sp = _SP[n]
    fmt = Lowering(True, low.stride, low.dilation, 1, low.padding, False, "NC" + sp, "IO" + sp,
                   "NC" + sp, sp, low.in_size, low.kernel_size)  # fmt: skip
    return code, True, fmt


def conventions(
    kernel_size: int, stride: int, dilation: int, size: int
) -> dict[str, tuple[tuple[int, ...], tuple[tuple[int, int], ...]]]:
    """Output size and crop of each framework's named paddings for one 1-D geometry, from
    the conventions in :mod:`tconv.compat` (the porting guide's table shows them measured).

    >>> conventions(1, 2, 1, 5)["tf SAME"], conventions(1, 2, 1, 5)["onnx SAME_UPPER"]
    (((10,), ((0, -1),)), ((10,), ((-1, 0),)))
    """
    k, s, d, L = kernel_size, stride, dilation, size
    e = _l.k_eff(k, d)
    lows = {
        "tf SAME": _tf.lower("conv_transpose", (1, L, 1), (k, 1, 1), s, "SAME", None, d, (L * s,)),
        "tf VALID": _tf.lower(
            "conv_transpose", (1, L, 1), (k, 1, 1), s, "VALID", None, d, ((L - 1) * s + e,)
        ),
        "keras same": _keras.lower(
            "conv_transpose", (1, L, 1), (k, 1, 1), s, "same", None, None, d
        ),
        "keras valid": _keras.lower(
            "conv_transpose", (1, L, 1), (k, 1, 1), s, "valid", None, None, d
        ),
        "jax SAME": as_transposed(_jax.lower_transpose((1, L, 1), (k, 1, 1), (s,), "SAME", (d,))),
        "jax VALID": as_transposed(
            _jax.lower_transpose((1, L, 1), (k, 1, 1), (s,), "VALID", (d,))
        ),
        "onnx SAME_UPPER": _onnx.lower(
            "ConvTranspose", (1, 1, L), (1, 1, k), auto_pad="SAME_UPPER", strides=[s],
            dilations=[d],
        ),
        "onnx SAME_LOWER": _onnx.lower(
            "ConvTranspose", (1, 1, L), (1, 1, k), auto_pad="SAME_LOWER", strides=[s],
            dilations=[d],
        ),
    }  # fmt: skip
    return {name: (low.out_size, low.padding) for name, low in lows.items()}


def port(layer: Layer | dict[str, Any], to: str | Sequence[str] | None = None) -> Port:
    """``layer`` (a :class:`Layer`, or a dict of its fields) in the terms of the
    frameworks ``to`` (default: all the others).

    >>> p = port(Layer("tf", 4, 2, "SAME", 7), to="torch")
    >>> p.out_size, p.crop
    ((14,), ((1, 1),))
    >>> port({"framework": "onnx", "kernel_size": 1, "stride": 2, "padding": "SAME_UPPER",
    ...       "input_size": 5}, to="jax").crop          # ONNX's spec: a zero first
    ((-1, 0),)
    >>> print(p.targets["torch"].code.splitlines()[0])
    layer = torch.nn.ConvTranspose1d(1, 1, kernel_size=(4,), stride=(2,), padding=(1,), \
output_padding=(0,), dilation=(1,), bias=False)
    >>> p.targets["torch"].weight
    'np.transpose(w, (2, 1, 0)).copy()'
    >>> print(port(Layer("tf", 3, 2, "SAME", 7), to="torch").targets["torch"].code)
    layer = torch.nn.ConvTranspose1d(1, 1, kernel_size=(3,), stride=(2,), padding=(0,), \
output_padding=(0,), dilation=(1,), bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
        y = layer(torch.from_numpy(x))
        y = torch.nn.functional.pad(y, (0, -1))
    """
    if isinstance(layer, dict):
        layer = Layer(**layer)
    if layer.framework not in FRAMEWORKS:
        raise ValueError(
            f"compat.port: framework must be one of {', '.join(FRAMEWORKS)}, "
            f"got {layer.framework!r}"
        )
    targets = [to] if isinstance(to, str) else list(to or FRAMEWORKS)
    bad = [t for t in targets if t not in FRAMEWORKS]
    if bad:
        raise ValueError(f"compat.port: to must name frameworks among {FRAMEWORKS}, got {bad}")
    low = _source(layer)
    if any(o <= 0 for o in low.out_size):
        raise ValueError(f"compat.port: the layer gives an empty output {low.out_size}")
    ci, co = layer.in_channels, layer.out_channels
    made: dict[str, Target] = {}
    for name in targets:
        if name == layer.framework:
            continue
        if name == "torch":
            code, exact, t = _torch(low, ci, co)
        elif name == "tf":
            code, exact, t = _tf_target(low, co)
        elif name == "keras":
            code, exact, t = _keras_target(low, ci, co)
        elif name == "jax":
            code, exact, t = _jax_target(low)
        elif name == "onnx":
            code, exact, t = _onnx_target(low)
        else:
            code, exact, t = _tconv_target(low)
        made[name] = Target(
            name,
            code,
            weight=_convert(
                low.kernel_format,
                low.spatial,
                t.kernel_format,
                t.spatial,
                _mirrored(low) != _mirrored(t),
                "w",
            ),
            input=_convert(low.data_format, low.spatial, t.data_format, t.spatial, False, "x"),
            output=_convert(t.out_format, t.spatial, low.out_format, low.spatial, False, "y"),
            exact=exact,
            note=_note(name, low),
        )
    # each dim on its own (every convention pads each spatial dim alike)
    dims = [conventions(*v) for v in zip(low.kernel_size, low.stride, low.dilation, low.in_size)]
    conv = {
        name: (
            tuple(o for d in dims for o in d[name][0]),
            tuple(c for d in dims for c in d[name][1]),
        )
        for name in dims[0]
    }
    return Port(layer, low, made, conv)


def _mirrored(low: Lowering) -> bool:
    """Whether the kernel is the transposed op's PyTorch weight mirrored in space (a
    convolution's kernel is, when its lowering does not mirror it)."""
    return low.flip == low.transposed


def as_transposed(low: Lowering) -> Lowering:
    """A stride-1 convolution's lowering as the equal transposed convolution: the crop
    ``k_eff - 1 - pad`` per side, the kernel mirrored and its channel axes regrouped.

    >>> as_transposed(_jax.lower((1, 1, 7), (1, 1, 3), (1,), [(0, 2)])).padding
    ((2, 0),)
    """
    if low.transposed:
        return low
    eff = tuple(_l.k_eff(*v) for v in zip(low.kernel_size, low.dilation))
    crop = tuple((e - 1 - lo, e - 1 - hi) for e, (lo, hi) in zip(eff, low.padding))
    return Lowering(
        True, low.stride, low.dilation, low.groups, crop, not low.flip, low.data_format,
        low.kernel_format, low.out_format, low.spatial, low.in_size, low.kernel_size, True,
        (1,) * len(low.stride),
    )  # fmt: skip


def _note(name: str, low: Lowering) -> str:
    if name == "keras":
        n = len(low.stride)
        text = (
            f"as a layer: keras.layers.Conv{n}DTranspose(filters, kernel_size, ..., use_bias=False)"
        )
        if any(d > 1 for d in low.dilation) and any(s > 1 for s in low.stride):
            text += ", which refuses strides > 1 with dilation_rate > 1 (keras.ops does not)"
        return text
    if name == "onnx" and any(lo < 0 or hi < 0 for lo, hi in low.padding):
        return (
            "zeros come from a Pad node: SAME_* auto_pad differs between the spec and onnxruntime"
        )
    return ""
