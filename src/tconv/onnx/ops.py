"""The ops a :class:`tconv.onnx.Session` runs: one small executor per ONNX op type, in
one table (:data:`OPS`), and the load-time checks of the attributes that tconv
cannot honour (:data:`CHECKS`).

Each executor takes the compiled :class:`Node` and its input arrays (None for an
omitted optional input) and returns its outputs, computed by tconv's own ops:
Conv and ConvTranspose through :mod:`tconv.compat.onnx` (ONNX's ``auto_pad``,
``pads`` and ``output_shape`` rules live there), Resize and Upsample through
:func:`tconv.functional.interpolate`, pooling, pixel shuffles, activations and
batch norm through :mod:`tconv.functional` and :mod:`tconv.nn`; the tensor plumbing
exporters emit around them (Reshape, Gather, Slice, ...) is NumPy indexing.

Where ONNX defines a behaviour that no tconv op has (a Resize mode PyTorch lacks,
an AveragePool dilation), the executor raises a ValueError naming the node, the
attribute and the value, never computes something else.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from .. import functional as F
from ..autograd import pad as _pad
from ..nn.norm import batch_norm
from . import _proto


@dataclass(frozen=True)
class Node:
    """One node of a loaded graph, its attributes decoded (see :func:`_proto.attribute`)."""

    op_type: str
    name: str
    inputs: tuple[str, ...]  # "" marks an omitted optional input
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    opset: int = 0

    def attr(self, name: str, default: Any = None) -> Any:
        return self.attrs.get(name, default)

    def error(self, message: str) -> ValueError:
        return ValueError(f"tconv.onnx: {self.op_type} node {self.name!r}: {message}")


Inputs = Sequence[Any]  # np.ndarray, or None for an omitted optional input
Executor = Callable[[Node, Inputs], tuple[np.ndarray, ...]]

#: op type -> executor
OPS: dict[str, Executor] = {}
#: op type -> load-time check of the node's attributes (raises what tconv cannot run)
CHECKS: dict[str, Callable[[Node], None]] = {}


def op(*names: str, check: Callable[[Node], None] | None = None) -> Callable[[Any], Any]:
    """Register an executor (and its load-time check) under ``names``."""

    def register(fn: Any) -> Any:
        for name in names:
            OPS[name] = fn
            if check is not None:
                CHECKS[name] = check
        return fn

    return register


def supported_ops() -> list[str]:
    """The ONNX op types (default domain) that :func:`tconv.onnx.load` runs.

    >>> "ConvTranspose" in supported_ops()
    True
    """
    return sorted(OPS)


def _same(y: Any, like: np.ndarray) -> np.ndarray:
    """``y`` as an array of ``like``'s dtype (ONNX ops keep the input's type; tconv's
    ops compute ints in float64)."""
    return np.asarray(y).astype(like.dtype, copy=False)


def _ints(a: Any) -> list[int]:
    return [int(v) for v in np.asarray(a).reshape(-1)]


def _given(a: Any) -> bool:
    """An optional input that is present and not empty."""
    return a is not None and np.asarray(a).size > 0


# --- convolutions: ONNX's rules are tconv.compat.onnx's -------------------------------

_CONV_ATTRS = ("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides")


def _compat() -> Any:
    from ..compat import onnx as compat_onnx

    return compat_onnx


def _same_pads(size: int, k_eff: int, stride: int, upper: bool) -> tuple[int, int]:
    from ..compat._lowering import same_pads

    return same_pads(size, k_eff, stride, upper)


def _conv_kwargs(node: Node, names: Sequence[str]) -> dict[str, Any]:
    return {
        k: (list(v) if isinstance(v, tuple) else v) for k, v in node.attrs.items() if k in names
    }


@op("Conv")
def _conv(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    x, w, b = (list(inputs) + [None, None])[:3]
    return (_compat().conv(x, w, b, **_conv_kwargs(node, _CONV_ATTRS)),)


@op("ConvTranspose")
def _conv_transpose(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    x, w, b = (list(inputs) + [None, None])[:3]
    names = (*_CONV_ATTRS, "output_padding", "output_shape")
    return (_compat().conv_transpose(x, w, b, **_conv_kwargs(node, names)),)


# --- Resize and Upsample onto tconv.functional.interpolate ---------------------------

_NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
_CTMS = (
    "half_pixel",
    "half_pixel_symmetric",
    "pytorch_half_pixel",
    "align_corners",
    "asymmetric",
    "tf_crop_and_resize",
    "tf_half_pixel_for_nn",
)
_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}
# PyTorch's coordinate maps (tconv.functional.interpolate) that ONNX names
_TCONV_RESIZE = (
    "nearest: coordinate_transformation_mode='asymmetric' with nearest_mode='floor' "
    "(PyTorch's 'nearest'); 'half_pixel' or 'pytorch_half_pixel' with 'round_prefer_ceil', "
    "'tf_half_pixel_for_nn' with 'floor' ('nearest-exact'); linear and cubic: 'half_pixel', "
    "'pytorch_half_pixel' or 'align_corners' (align_corners=False/True); cubic with "
    "cubic_coeff_a=-0.75 and exclude_outside=0 (PyTorch's bicubic); antialias with "
    "exclude_outside=1 and linear, or cubic with cubic_coeff_a=-0.5 (PyTorch's anti-aliased "
    "bilinear/bicubic); align_corners and half_pixel_symmetric (as half_pixel) where the "
    "output length input size x scale is an integer"
)


def _resize_settings(node: Node) -> tuple[str, str, str]:
    """(mode, coordinate_transformation_mode, nearest_mode) of a Resize or Upsample node."""
    mode = node.attr("mode", "nearest")
    if node.op_type == "Upsample" or node.opset < 11:
        # Upsample and Resize-10 map output x to input x / scale, and pick the floor
        return mode, "asymmetric", "floor"
    return (
        mode,
        node.attr("coordinate_transformation_mode", "half_pixel"),
        node.attr("nearest_mode", "round_prefer_floor"),
    )


def _check_resize(node: Node) -> None:
    mode, ctm, nearest = _resize_settings(node)
    if mode not in ("nearest", "linear", "cubic", "bilinear", "trilinear"):
        raise node.error(f"unknown mode {mode!r}; ONNX has nearest, linear and cubic")
    if ctm not in _CTMS:
        raise node.error(f"unknown coordinate_transformation_mode {ctm!r}")
    if nearest not in _NEAREST_MODES:
        raise node.error(f"unknown nearest_mode {nearest!r}")
    if node.op_type == "Upsample" and mode != "nearest":
        raise node.error(
            f"mode={mode!r} maps x to x / scale ('asymmetric'), which no tconv interpolate "
            f"mode does; tconv runs {_TCONV_RESIZE}"
        )
    policy = node.attr("keep_aspect_ratio_policy", "stretch")
    if policy != "stretch":
        raise node.error(
            f"keep_aspect_ratio_policy={policy!r} is not supported (only 'stretch': "
            "tconv's interpolate takes the sizes as given)"
        )
    _resize_mode(node, (), ())  # the attribute rules that do not depend on sizes


def _ties(n_in: int, n_out: int, scale: Fraction) -> bool:
    """Whether ``(x + 0.5) / scale - 0.5`` is a half-integer for some output ``x``
    (where ONNX's round_prefer_floor and PyTorch's nearest-exact part ways).

    With ``scale = p / q`` (lowest terms) the value is an integer plus 1/2 iff
    ``(2x + 1) q / (2 p)`` is an integer: with ``m = 2p / gcd(q, 2p)`` that needs
    ``m`` odd, and the first such ``x`` is ``(m - 1) / 2``.
    """
    p, q = scale.numerator, scale.denominator
    m = 2 * p // math.gcd(q, 2 * p)
    return m % 2 == 1 and (m - 1) // 2 < n_out


def _resize_mode(
    node: Node, changed: Sequence[tuple[int, int, Fraction]], shape: Sequence[int]
) -> tuple[str, bool, bool]:
    """tconv's (interpolate mode name without rank, align_corners, antialias) for the
    node; ``changed`` lists (in, out, scale) of the resized axes (empty at load time:
    only the size-independent rules are checked). Raises for the rest."""
    mode, ctm, nearest = _resize_settings(node)
    antialias = bool(node.attr("antialias", 0)) and mode != "nearest"
    a = float(node.attr("cubic_coeff_a", -0.75))
    exclude = int(node.attr("exclude_outside", 0))

    def refuse(what: str) -> ValueError:
        return node.error(f"{what} has no tconv interpolate mode; tconv runs {_TCONV_RESIZE}")

    if ctm == "tf_crop_and_resize":
        raise refuse("coordinate_transformation_mode='tf_crop_and_resize' (a crop by roi)")
    if ctm in ("half_pixel_symmetric", "align_corners"):
        # Both read the real-valued output length in * scale: PyTorch's maps (half_pixel;
        # align_corners' (in - 1) / (out - 1)) only where it is the integer output size
        if any(Fraction(i) * s != o for i, o, s in changed):
            raise refuse(
                f"coordinate_transformation_mode={ctm!r} with scales whose output length "
                "input size x scale is not an integer"
            )
        ctm = "half_pixel" if ctm == "half_pixel_symmetric" else ctm
    if ctm == "pytorch_half_pixel" and any(o == 1 and i > 1 for i, o, _ in changed):
        raise refuse(
            "coordinate_transformation_mode='pytorch_half_pixel' with an output size of 1 "
            "(it samples the first input, PyTorch the middle)"
        )
    half = ctm in ("half_pixel", "pytorch_half_pixel")
    if mode == "nearest":
        if (ctm, nearest) == ("asymmetric", "floor"):
            return "nearest", False, False
        if (half and nearest == "round_prefer_ceil") or (ctm, nearest) == (
            "tf_half_pixel_for_nn",
            "floor",
        ):
            return "nearest-exact", False, False
        if half and nearest == "round_prefer_floor":
            # nearest-exact rounds ties up: equal whenever no output lands on a tie
            if any(_ties(i, o, s) for i, o, s in changed):
                raise refuse(
                    "nearest_mode='round_prefer_floor' where an output lands half-way "
                    "between two inputs"
                )
            return "nearest-exact", False, False
        raise refuse(f"mode='nearest' with coordinate_transformation_mode={ctm!r} and "
                     f"nearest_mode={nearest!r}")  # fmt: skip
    if not (half or ctm == "align_corners"):
        raise refuse(f"mode={mode!r} with coordinate_transformation_mode={ctm!r}")
    if antialias and (ctm == "align_corners" or (mode == "cubic" and a != -0.5) or not exclude):
        # PyTorch's anti-aliased windows drop the taps outside the input (exclude_outside=1);
        # with 0, ONNX's repeat the border samples
        raise refuse(
            f"antialias with mode={mode!r}, coordinate_transformation_mode={ctm!r}, "
            f"cubic_coeff_a={a}, exclude_outside={exclude}"
        )
    if mode == "cubic" and not antialias and (a != -0.75 or exclude):
        raise refuse(f"mode='cubic' with cubic_coeff_a={a}, exclude_outside={exclude}")
    name = "bicubic" if mode == "cubic" else "linear"
    return name, ctm == "align_corners", antialias


def _resize(
    node: Node, x: np.ndarray, scales: np.ndarray | None, sizes: np.ndarray | None
) -> np.ndarray:
    r = x.ndim
    axes = [a % r for a in node.attr("axes", ())] if node.attr("axes") else list(range(r))
    scale = [Fraction(1)] * r
    out = list(x.shape)
    if sizes is not None:
        values = _ints(sizes)
        if len(values) != len(axes):
            raise node.error(f"sizes has {len(values)} values for {len(axes)} axes")
        for ax, v in zip(axes, values):
            out[ax] = v
            scale[ax] = Fraction(v, x.shape[ax]) if x.shape[ax] else Fraction(1)
    elif scales is not None:
        values_f = [float(v) for v in np.asarray(scales).reshape(-1)]
        if len(values_f) != len(axes):
            raise node.error(f"scales has {len(values_f)} values for {len(axes)} axes")
        for ax, f in zip(axes, values_f):
            if not (math.isfinite(f) and f > 0):
                raise node.error(f"scales must be positive and finite, got {values_f}")
            scale[ax] = Fraction(f)
            out[ax] = math.floor(x.shape[ax] * f)
    else:
        raise node.error("needs scales or sizes")
    changed = [ax for ax in range(r) if scale[ax] != 1]
    if not changed:
        return x.copy()
    lead = changed[0]
    mode, align, antialias = _resize_mode(
        node, [(x.shape[ax], out[ax], scale[ax]) for ax in changed], x.shape
    )
    n = r - lead
    if mode == "bicubic" or antialias:
        n = max(n, 2)  # PyTorch's bicubic and anti-aliased modes are 2-D
    if n > 3 or n > r or ((mode == "bicubic" or antialias) and n != 2):
        raise node.error(
            f"resizes axes {changed} of a {r}-D input: tconv interpolates the last "
            f"{'2' if mode == 'bicubic' or antialias else '1 to 3'} axes only"
        )
    lead = r - n
    if mode == "linear":
        mode = _LINEAR[n]
    x3 = x.reshape((1, math.prod(x.shape[:lead]), *x.shape[lead:]))
    kw: dict[str, Any] = {"mode": mode, "antialias": antialias}
    if mode not in ("nearest", "nearest-exact"):
        kw["align_corners"] = align
    if sizes is not None:
        y = F.interpolate(x3, size=tuple(out[lead:]), **kw)
    else:
        y = F.interpolate(x3, scale_factor=tuple(float(scale[ax]) for ax in range(lead, r)), **kw)
    if tuple(y.shape[2:]) != tuple(out[lead:]):  # ONNX's and PyTorch's floor agree; check
        raise node.error(f"output size {y.shape[2:]} differs from ONNX's {tuple(out[lead:])}")
    return _same(y.reshape(out), x)


@op("Resize", check=_check_resize)
def _resize_op(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    x = inputs[0]
    if node.opset < 11:
        return (_resize(node, x, inputs[1], None),)
    rest = (list(inputs) + [None] * 3)[1:4]
    scales, sizes = rest[1], rest[2]
    return (_resize(node, x, scales if _given(scales) else None, sizes if _given(sizes) else None),)


@op("Upsample", check=_check_resize)
def _upsample(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    scales = node.attr("scales") if node.opset < 9 else inputs[1]
    return (_resize(node, inputs[0], np.asarray(scales, dtype=np.float64), None),)


# --- pixel shuffles --------------------------------------------------------------------


def _check_block(node: Node) -> None:
    if node.attr("blocksize") is None or int(node.attr("blocksize")) < 1:
        raise node.error(f"needs a positive blocksize, got {node.attr('blocksize')!r}")
    if node.attr("mode", "DCR") not in ("DCR", "CRD"):
        raise node.error(f"mode must be 'DCR' or 'CRD', got {node.attr('mode')!r}")


def _dcr_order(c: int, b: int) -> np.ndarray:
    """The channel order that turns DCR into CRD: CRD channel ``c b^2 + q`` is DCR
    channel ``q C + c`` (C output channels, q = i b + j the place in the block)."""
    return (np.arange(b * b)[None, :] * c + np.arange(c)[:, None]).reshape(-1)


def _rank4(node: Node, x: np.ndarray) -> None:
    if x.ndim != 4:
        raise node.error(f"needs a 4-D (N, C, H, W) input, got shape {x.shape}")


@op("DepthToSpace", check=_check_block)
def _depth_to_space(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    x, b = inputs[0], int(node.attr("blocksize"))
    _rank4(node, x)
    if x.shape[1] % (b * b):
        raise node.error(f"channels {x.shape[1]} are not a multiple of blocksize^2 = {b * b}")
    if node.attr("mode", "DCR") == "DCR":
        x = x[:, _dcr_order(x.shape[1] // (b * b), b)]
    return (_same(F.pixel_shuffle(x, b), x),)


@op("SpaceToDepth", check=_check_block)
def _space_to_depth(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    x, b = inputs[0], int(node.attr("blocksize"))
    _rank4(node, x)
    if x.shape[2] % b or x.shape[3] % b:
        raise node.error(f"spatial size {x.shape[2:]} is not a multiple of blocksize {b}")
    crd = F.pixel_unshuffle(x, b)  # channel c b^2 + q; DCR's order is q C + c
    if node.attr("mode", "DCR") == "CRD":  # opset 28's mode
        return (_same(crd, x),)
    return (_same(crd[:, np.argsort(_dcr_order(x.shape[1], b))], x),)


# --- pooling ---------------------------------------------------------------------------


def _check_pool(node: Node) -> None:
    if node.attr("kernel_shape") is None:
        raise node.error("needs kernel_shape")
    if node.op_type == "AveragePool" and any(d != 1 for d in node.attr("dilations", ()) or ()):
        raise node.error(
            f"dilations={node.attr('dilations')}: tconv's avg_pool (PyTorch's) has no dilation"
        )
    if node.attr("auto_pad", "NOTSET") not in ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"):
        raise node.error(f"unknown auto_pad {node.attr('auto_pad')!r}")


def _pool_geometry(
    node: Node, spatial: Sequence[int]
) -> tuple[list[int], list[int], list[int], list[int], list[int], list[int]]:
    """(kernel, stride, dilation, pad_begin, pad_end, out) per spatial dim, by ONNX's
    pooling rules: SAME pads to ``ceil(in / s)`` outputs (the odd one at the end for
    SAME_UPPER), and with ``ceil_mode`` a window that would start in the end padding
    is dropped."""
    n = len(spatial)
    k = list(node.attr("kernel_shape"))
    s = list(node.attr("strides", ()) or (1,) * n)
    d = list(node.attr("dilations", ()) or (1,) * n)
    auto = node.attr("auto_pad", "NOTSET")
    eff = [di * (ki - 1) + 1 for di, ki in zip(d, k)]
    if auto in ("SAME_UPPER", "SAME_LOWER"):  # ONNX's SAME rule, tconv.compat's
        pairs = [
            _same_pads(i, e, si, upper=auto == "SAME_UPPER") for i, e, si in zip(spatial, eff, s)
        ]
        out = [-(-i // si) for i, si in zip(spatial, s)]
        return k, s, d, [a for a, _ in pairs], [b for _, b in pairs], out
    pads = [0] * 2 * n if auto == "VALID" else list(node.attr("pads", ()) or (0,) * 2 * n)
    lo, hi = pads[:n], pads[n:]
    ceil = bool(node.attr("ceil_mode", 0))
    out = []
    for i, si, e, a, b in zip(spatial, s, eff, lo, hi):
        span = i + a + b - e
        o = (-(-span // si) if ceil else span // si) + 1
        if ceil and (o - 1) * si >= i + a:
            o -= 1
        out.append(o)
    if any(o < 1 for o in out):
        raise node.error(f"the output would be empty: input {tuple(spatial)}, kernel {k}")
    return k, s, d, lo, hi, out


def _pool_fn(kind: str, n: int) -> Any:
    if not 1 <= n <= 3:
        raise ValueError(f"tconv.onnx: {kind} pooling over {n} spatial dims (tconv has 1 to 3)")
    return getattr(F, f"{kind}_pool{n}d")


def _crop(node: Node, y: np.ndarray, out: Sequence[int]) -> np.ndarray:
    """The first ``out`` windows per dim: tconv's pools start the windows where ONNX's
    do; only the count can differ (a window starting in explicit end padding)."""
    if any(h < o for h, o in zip(y.shape[2:], out)):  # never a silently smaller output
        raise node.error(f"pooling gave {y.shape[2:]} windows where ONNX has {tuple(out)}")
    return y[(slice(None), slice(None)) + tuple(slice(0, o) for o in out)]


@op("AveragePool", check=_check_pool)
def _average_pool(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    x = inputs[0]
    n = x.ndim - 2
    k, s, _, lo, hi, out = _pool_geometry(node, x.shape[2:])
    pool = _pool_fn("avg", n)
    ceil = bool(node.attr("ceil_mode", 0))
    include = bool(node.attr("count_include_pad", 0))
    if lo == hi and all(2 * p <= ki for p, ki in zip(lo, k)):
        y = pool(x, k, s, lo, ceil, include)  # PyTorch's padding: the same windows
        return (_same(_crop(node, y, out), x),)
    # Asymmetric (or wide) padding: pad explicitly; windows keep their starts.
    widths = [v for a, b in zip(reversed(lo), reversed(hi)) for v in (a, b)]
    xp = _pad(x, widths)
    y = pool(xp, k, s, 0, ceil, True)
    if not include:  # the mean of the real samples: window sums over window counts
        ones = _pad(np.ones((1, 1, *x.shape[2:]), dtype=y.dtype), widths)
        y = y / pool(ones, k, s, 0, ceil, True)
    return (_same(_crop(node, y, out), x),)


def _onnx_indices(
    idx: np.ndarray, x_shape: Sequence[int], padded: Sequence[int], lo: Sequence[int], order: int
) -> np.ndarray:
    """tconv's (PyTorch's) arg-max index in each (padded) plane as ONNX's index in the
    whole tensor: row-major (``storage_order=0``) or column-major over the spatial dims."""
    coords = np.unravel_index(idx, tuple(padded))
    spatial = list(x_shape[2:])
    real = [c - a for c, a in zip(coords, lo)]
    if order:
        flat = np.ravel_multi_index(tuple(reversed(real)), tuple(reversed(spatial)))
    else:
        flat = np.ravel_multi_index(tuple(real), tuple(spatial))
    nc = np.arange(x_shape[0] * x_shape[1]).reshape(x_shape[0], x_shape[1], *([1] * len(spatial)))
    return (nc * math.prod(spatial) + flat).astype(np.int64)


@op("MaxPool", check=_check_pool)
def _max_pool(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    x = inputs[0]
    n = x.ndim - 2
    k, s, d, lo, hi, out = _pool_geometry(node, x.shape[2:])
    pool = _pool_fn("max", n)
    ceil = bool(node.attr("ceil_mode", 0))
    indices = len(node.outputs) > 1 and node.outputs[1] != ""
    if lo == hi and all(2 * p <= ki for p, ki in zip(lo, k)):
        xp, pads = x, lo
    else:  # pad with the lowest value explicitly; windows keep their starts
        low = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        widths = [v for a, b in zip(reversed(lo), reversed(hi)) for v in (a, b)]
        xp, pads = _pad(x, widths, value=low), [0] * n
    res = pool(xp, k, s, pads, d, ceil_mode=ceil, return_indices=indices)
    if not indices:
        return (_same(_crop(node, res, out), x),)
    y, idx = res
    plane = xp.shape[2:]
    real_lo = [0] * n if xp is x else lo
    ix = _onnx_indices(
        _crop(node, idx, out), x.shape, plane, real_lo, int(node.attr("storage_order", 0))
    )
    return _same(_crop(node, y, out), x), ix


@op("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    x = inputs[0]
    n = x.ndim - 2
    kind = "avg" if node.op_type == "GlobalAveragePool" else "max"
    if 1 <= n <= 3:
        return (_same(getattr(F, f"adaptive_{kind}_pool{n}d")(x, 1), x),)
    axes = tuple(range(2, x.ndim))
    return ((np.mean if kind == "avg" else np.max)(x, axis=axes, keepdims=True).astype(x.dtype),)


# --- normalisation ---------------------------------------------------------------------


def _check_batch_norm(node: Node) -> None:
    live = [o for o in node.outputs[1:] if o]
    if node.attr("training_mode", 0) or live:
        raise node.error(
            "training mode (batch statistics, running-statistics outputs) is not supported: "
            "tconv runs batch normalisation's inference form"
        )
    if node.opset < 9 and node.attr("spatial", 1) != 1:
        raise node.error("spatial=0 (per-position statistics) is not supported")


@op("BatchNormalization", check=_check_batch_norm)
def _batch_norm(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    x, scale, bias, mean, var = inputs[:5]
    eps = float(node.attr("epsilon", 1e-5))
    y = batch_norm(x, mean, var, scale, bias, training=False, eps=eps)
    return (_same(y.data, x),)


@op("InstanceNormalization")
def _instance_norm(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    x, scale, bias = inputs[:3]
    eps = float(node.attr("epsilon", 1e-5))
    axes = tuple(range(2, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=axes, keepdims=True)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    y = centred / np.sqrt(var + eps) * scale.reshape(shape) + bias.reshape(shape)
    return (_same(y, x),)


# --- activations -------------------------------------------------------------------------


def _floating(fn: Callable[..., Any]) -> Executor:
    """An executor applying tconv's activation ``fn`` (with the node's attributes)."""

    def run(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
        x = inputs[0]
        return (_same(fn(node, x), x),)

    return run


OPS["Relu"] = _floating(lambda node, x: F.relu(x) if x.dtype.kind == "f" else np.maximum(x, 0))
OPS["LeakyRelu"] = _floating(lambda node, x: F.leaky_relu(x, float(node.attr("alpha", 0.01))))
OPS["Sigmoid"] = _floating(lambda node, x: F.sigmoid(x))
OPS["Tanh"] = _floating(lambda node, x: F.tanh(x))
OPS["Softplus"] = _floating(lambda node, x: F.softplus(x))


def _gelu(node: Node, x: np.ndarray) -> Any:
    approximate = node.attr("approximate", "none")
    if approximate not in ("none", "tanh"):
        raise node.error(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    return F.gelu(x, approximate)


OPS["Gelu"] = _floating(_gelu)


def _softmax(log: bool) -> Callable[[Node, np.ndarray], Any]:
    def run(node: Node, x: np.ndarray) -> Any:
        fn = F.log_softmax if log else F.softmax
        if node.opset >= 13:
            return fn(x, int(node.attr("axis", -1)))
        # before opset 13: over the 2-D view (prod(shape[:axis]), prod(shape[axis:]))
        axis = int(node.attr("axis", 1)) % max(x.ndim, 1)
        flat = x.reshape(math.prod(x.shape[:axis]), -1)
        return np.asarray(fn(flat, 1)).reshape(x.shape)

    return run


OPS["Softmax"] = _floating(_softmax(False))
OPS["LogSoftmax"] = _floating(_softmax(True))


# --- arithmetic ----------------------------------------------------------------------------


def _int_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer division truncated toward zero (C's, ONNX's), not NumPy's floor."""
    q = np.floor_divide(a, b)
    return np.where((q < 0) & (q * b != a), q + 1, q).astype(np.result_type(a, b))


_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "Add": np.add,
    "Sub": np.subtract,
    "Mul": np.multiply,
    "Div": lambda a, b: np.divide(a, b) if a.dtype.kind in "fc" else _int_div(a, b),
}


def _binary(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    a, b = np.asarray(inputs[0]), np.asarray(inputs[1])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        y = _BINARY[node.op_type](a, b)
    return (np.asarray(y).astype(np.result_type(a, b), copy=False),)


for _name in _BINARY:
    OPS[_name] = _binary


@op("MatMul")
def _matmul(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    return (np.matmul(inputs[0], inputs[1]),)


@op("Gemm")
def _gemm(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    a, b = inputs[0], inputs[1]
    c = inputs[2] if len(inputs) > 2 else None
    a = a.T if node.attr("transA", 0) else a
    b = b.T if node.attr("transB", 0) else b
    alpha, beta = float(node.attr("alpha", 1.0)), float(node.attr("beta", 1.0))
    y = np.matmul(a, b)
    if alpha != 1.0:
        y = y * alpha
    if c is not None and beta != 0.0:
        y = y + (c * beta if beta != 1.0 else c)
    return (_same(y, inputs[0]),)


# --- tensor plumbing ---------------------------------------------------------------------


@op("Identity")
def _identity(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    return (inputs[0],)


def _check_dropout(node: Node) -> None:
    if node.opset < 7 and not node.attr("is_test", 0):
        raise node.error("training mode is not supported (tconv runs inference)")


@op("Dropout", check=_check_dropout)
def _dropout(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    x = inputs[0]
    training = len(inputs) > 2 and _given(inputs[2]) and bool(np.asarray(inputs[2]))
    if training:
        raise node.error("training_mode=True is not supported (tconv runs inference)")
    if len(node.outputs) > 1 and node.outputs[1]:
        return x, np.ones(x.shape, dtype=bool)
    return (x,)


def _constant_value(node: Node) -> np.ndarray:
    for key, dtype in (
        ("value", None),
        ("value_float", np.float32),
        ("value_floats", np.float32),
        ("value_int", np.int64),
        ("value_ints", np.int64),
        ("value_string", object),
        ("value_strings", object),
    ):
        if key in node.attrs:
            v = node.attrs[key]
            return np.asarray(v) if dtype is None else np.asarray(v, dtype=dtype)
    raise node.error(f"has none of the attributes tconv reads ({sorted(node.attrs)})")


def _check_constant(node: Node) -> None:
    _constant_value(node)


@op("Constant", check=_check_constant)
def _constant(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    return (_constant_value(node),)


@op("Shape")
def _shape(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    shape = inputs[0].shape
    start, end = node.attr("start", 0), node.attr("end")
    return (np.array(shape[start:end], dtype=np.int64),)


@op("Reshape")
def _reshape(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    x = inputs[0]
    shape = _ints(node.attr("shape") if node.opset < 5 else inputs[1])
    if not node.attr("allowzero", 0):
        shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
    try:
        return (x.reshape(shape),)
    except ValueError:
        raise node.error(f"cannot reshape an input of shape {x.shape} to {shape}") from None


@op("Flatten")
def _flatten(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    x = inputs[0]
    axis = int(node.attr("axis", 1))
    axis = axis + x.ndim if axis < 0 else axis
    return (x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:])),)


@op("Transpose")
def _transpose(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    perm = node.attr("perm")
    return (np.transpose(inputs[0], perm if perm else None),)


@op("Concat")
def _concat(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    return (np.concatenate([a for a in inputs if a is not None], axis=int(node.attr("axis"))),)


def _axes(node: Node, inputs: Inputs, index: int) -> list[int] | None:
    """The ``axes`` of Squeeze/Unsqueeze: an attribute before opset 13, then an input."""
    if node.opset < 13:
        axes = node.attr("axes")
        return None if axes is None else list(axes)
    return _ints(inputs[index]) if len(inputs) > index and _given(inputs[index]) else None


@op("Unsqueeze")
def _unsqueeze(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    axes = _axes(node, inputs, 1)
    if not axes:
        raise node.error("needs axes")
    return (np.expand_dims(inputs[0], tuple(axes)),)


@op("Squeeze")
def _squeeze(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    x, axes = inputs[0], _axes(node, inputs, 1)
    try:
        return (np.squeeze(x, axis=None if axes is None else tuple(axes)),)
    except ValueError:
        raise node.error(f"cannot squeeze axes {axes} of shape {x.shape}") from None


@op("Gather")
def _gather(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    x, idx = inputs[0], np.asarray(inputs[1])
    axis = int(node.attr("axis", 0))
    try:
        return (np.take(x, idx.astype(np.int64), axis=axis),)
    except IndexError as exc:
        raise node.error(f"index out of range: {exc}") from None


@op("Slice")
def _slice(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    x = inputs[0]
    if node.opset < 10:
        starts, ends = list(node.attr("starts")), list(node.attr("ends"))
        axes = list(node.attr("axes", ()) or range(len(starts)))
        steps = [1] * len(starts)
    else:
        rest = (list(inputs) + [None] * 4)[1:5]
        starts, ends = _ints(rest[0]), _ints(rest[1])
        axes = _ints(rest[2]) if _given(rest[2]) else list(range(len(starts)))
        steps = _ints(rest[3]) if _given(rest[3]) else [1] * len(starts)
    index: list[slice] = [slice(None)] * x.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps):
        if step == 0:
            raise node.error("steps must be non-zero")
        axis = axis + x.ndim if axis < 0 else axis
        dim = x.shape[axis]
        start = start + dim if start < 0 else start
        end = end + dim if end < 0 else end
        if step > 0:  # ONNX's clamping
            start, end = min(max(start, 0), dim), min(max(end, 0), dim)
            index[axis] = slice(start, end, step)
        else:
            start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
            index[axis] = slice(start, None if end < 0 else end, step)
    return (x[tuple(index)],)


def _check_cast(node: Node) -> None:
    to = node.attr("to")
    if to is None:
        raise node.error("needs the attribute 'to'")
    _proto.np_dtype(int(to), "tconv.onnx.load", f"Cast node {node.name!r}")


@op("Cast", check=_check_cast)
def _cast(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    dtype = _proto.np_dtype(int(node.attr("to")), "tconv.onnx", f"Cast node {node.name!r}")
    x = inputs[0]
    if dtype.kind == "O":
        return (np.vectorize(str, otypes=[object])(x),)
    return (x.astype(dtype),)


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


def _check_pad(node: Node) -> None:
    mode = node.attr("mode", "constant")
    if mode not in _PAD_MODES:
        raise node.error(f"mode must be one of {sorted(_PAD_MODES)}, got {mode!r}")


@op("Pad", check=_check_pad)
def _pad_op(node: Node, inputs: Inputs) -> tuple[np.ndarray, ...]:
    x = inputs[0]
    r = x.ndim
    if node.opset < 11:
        pads, value = list(node.attr("pads")), float(node.attr("value", 0.0))
        axes = list(range(r))
    else:
        rest = (list(inputs) + [None] * 3)[1:4]
        pads = _ints(rest[0])
        value = np.asarray(rest[1]).reshape(-1)[0] if _given(rest[1]) else 0
        axes = [a % r for a in _ints(rest[2])] if _given(rest[2]) else list(range(r))
    if len(pads) != 2 * len(axes):
        raise node.error(f"pads has {len(pads)} values for {len(axes)} axes (2 per axis)")
    lo, hi = [0] * r, [0] * r
    for i, ax in enumerate(axes):
        lo[ax], hi[ax] = pads[i], pads[i + len(axes)]
    # negative pads crop
    x = x[tuple(slice(max(-a, 0), x.shape[i] - max(-b, 0)) for i, (a, b) in enumerate(zip(lo, hi)))]
    widths = [max(v, 0) for i in reversed(range(r)) for v in (lo[i], hi[i])]
    mode = _PAD_MODES[node.attr("mode", "constant")]
    if not any(widths):
        return (x.copy(),)
    if mode == "constant":
        return (_same(_pad(x, widths, value=value), x),)
    return (_same(_pad(x, widths, mode=mode), x),)
