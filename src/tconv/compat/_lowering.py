"""What every framework face shares: the :class:`Lowering` of one call onto tconv's
core ops, the padding rules that several frameworks have in common, and the one
function that runs a lowering.

A framework's convolution is, per spatial dim, one of tconv's two ops with a stride,
a dilation, groups and a ``(lo, hi)`` padding pair, after the data and the kernel are
re-laid into PyTorch's axis order (and the kernel, for some conventions, mirrored in
space). Each face (:mod:`tconv.compat.onnx`, ``tf``, ``keras``, ``jax``) has one
function, ``lower``, that maps its framework's arguments onto a :class:`Lowering`;
that function *is* the documented description of the convention, and :func:`run`
executes it with :mod:`tconv.functional`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from .. import _args, shapes
from .. import functional as F

Pairs = tuple[tuple[int, int], ...]

__all__ = [
    "Lowering",
    "adjoint_crop",
    "as_pairs",
    "ceil_div",
    "check_channels",
    "k_eff",
    "permutation",
    "run",
    "same_pads",
]


@dataclass(frozen=True)
class Lowering:
    """One framework call in tconv's terms; per-dim tuples in the op's spatial order.

    ``transposed``: False lowers to ``F.conv{n}d``, True to ``F.conv_transpose{n}d``.
    ``padding``: one ``(lo, hi)`` pair per dim. For a convolution, zeros added to
    the input (a negative value drops input elements); for a transposed convolution,
    elements cropped from the full output of size ``(L - 1) s + d(k - 1) + 1`` (a
    negative value appends zeros). ``flip``: the framework's kernel is PyTorch's
    weight mirrored in every spatial dim. ``data_format``, ``kernel_format`` and
    ``out_format`` name the axes with letters: ``N`` batch, ``C`` channels, and for
    the kernel ``O`` the op's output channels and ``I`` its input channels; the
    other letters are the spatial dims, in the op's order given by ``spatial``.
    ``regroup``: the kernel of a transposed op is laid out as a convolution's (all
    output channels, the input channels of one group), so its channel axes are
    regrouped. ``subsample``: only every ``subsample``-th output is kept (JAX's
    window strides over an input dilated by ``lhs_dilation``).

    >>> low = Lowering(True, (2,), (1,), 1, ((1, 1),), False, "NWC", "WOI", "NWC", "W",
    ...                in_size=(4,), kernel_size=(4,))
    >>> low.out_size, low.full_size
    ((8,), (10,))
    """

    transposed: bool
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    padding: Pairs
    flip: bool
    data_format: str
    kernel_format: str
    out_format: str
    spatial: str
    in_size: tuple[int, ...] = ()
    kernel_size: tuple[int, ...] = ()
    regroup: bool = False
    subsample: tuple[int, ...] = field(default=())

    @property
    def full_size(self) -> tuple[int, ...]:
        """A transposed op's uncropped output ``(L - 1) s + d(k - 1) + 1``; a
        convolution's padded input ``L + lo + hi``."""
        if not self.transposed:
            return tuple(L + lo + hi for L, (lo, hi) in zip(self.in_size, self.padding))
        full = shapes.conv_transpose_output_size(
            self.in_size, self.kernel_size, self.stride, 0, 0, self.dilation
        )
        return cast("tuple[int, ...]", full)

    @property
    def out_size(self) -> tuple[int, ...]:
        """The spatial size of the result, in the op's order."""
        if self.transposed:
            out = tuple(f - lo - hi for f, (lo, hi) in zip(self.full_size, self.padding))
        else:
            out = tuple(
                shapes.conv_output_size(p, k, s, 0, d)
                for p, k, s, d in zip(self.full_size, self.kernel_size, self.stride, self.dilation)
            )
        if self.subsample:
            out = tuple(-(-o // s) for o, s in zip(out, self.subsample))
        return out

    @property
    def crop(self) -> Pairs:
        """Alias of ``padding`` for a transposed op: what is cropped from the full output."""
        return self.padding

    def describe(self) -> str:
        """One line in tconv's (PyTorch's) terms.

        >>> Lowering(False, (1,), (1,), 1, ((1, 2),), True, "NCW", "OIW", "NCW", "W",
        ...          (5,), (4,)).describe()
        'conv1d(stride=(1,), padding=((1, 2),), dilation=(1,), groups=1), kernel mirrored'
        """
        n = len(self.stride)
        name = f"conv_transpose{n}d" if self.transposed else f"conv{n}d"
        text = (
            f"{name}(stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, groups={self.groups})"
        )
        if self.flip:
            text += ", kernel mirrored"
        if self.subsample and any(s != 1 for s in self.subsample):
            text += f", then every {self.subsample} output kept"
        return text


def same_pads(size: int, k_eff: int, stride: int, upper: bool = True) -> tuple[int, int]:
    """The input padding of a strided 'SAME' convolution: output ``ceil(L / s)``,
    ``total = max((ceil(L / s) - 1) s + k_eff - L, 0)``, the odd element at the end
    (``upper``: TF, Keras, JAX 'SAME', ONNX SAME_UPPER) or at the start (JAX
    'SAME_LOWER', ONNX SAME_LOWER).

    >>> same_pads(7, 4, 2), same_pads(7, 4, 2, upper=False)
    ((1, 2), (2, 1))
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + k_eff - size, 0)
    lo = total // 2 if upper else total - total // 2
    return lo, total - lo


def adjoint_crop(
    in_size: int, k_eff: int, stride: int, out: int, pads: tuple[int, int]
) -> tuple[int, int]:
    """The crop of a transposed convolution defined as the adjoint (gradient) of the
    convolution that maps ``out`` elements, padded by ``pads``, to ``in_size``
    (TensorFlow's and Keras's definition): ``(lo, full - lo - out)``.

    >>> adjoint_crop(3, 3, 2, 6, (0, 1))      # TF SAME, 3 -> 6, k 3, s 2
    (0, 1)
    """
    full = (in_size - 1) * stride + k_eff
    return pads[0], full - pads[0] - out


def k_eff(kernel_size: int, dilation: int) -> int:
    """The dilated kernel's extent ``d(k - 1) + 1``."""
    return dilation * (kernel_size - 1) + 1


def check_fits(
    fn: str,
    size: Sequence[int],
    kernel_size: Sequence[int],
    dilation: Sequence[int],
    pairs: Pairs,
    framework: str,
) -> None:
    """Refuse a dilated kernel larger than the padded input (tconv.shapes' rule), saying
    what ``framework`` does there instead."""
    try:
        shapes.conv_geometry(fn, tuple(size), tuple(kernel_size), 1, pairs, tuple(dilation), 1)
    except ValueError as err:
        raise ValueError(f"{err}; {framework}") from None


def permutation(src: str, dst: str) -> tuple[int, ...]:
    """The axes of an array laid out as ``src`` in the order ``dst`` names them.

    >>> permutation("NHWC", "NCHW")
    (0, 3, 1, 2)
    """
    return tuple(src.index(c) for c in dst)


def torch_weight(low: Lowering, w: np.ndarray) -> np.ndarray:
    """The framework's kernel as PyTorch's weight: ``(O, I/g, *k)`` for a convolution,
    ``(I, O/g, *k)`` for a transposed one."""
    if not low.transposed or low.regroup:
        wt = w.transpose(permutation(low.kernel_format, "OI" + low.spatial))
        if low.transposed:  # (O, I/g, k) -> (g, O/g, I/g, k) -> (I, O/g, k)
            o, ig = wt.shape[:2]
            g = low.groups
            wt = wt.reshape((g, o // g, ig) + wt.shape[2:]).swapaxes(1, 2)
            wt = wt.reshape((g * ig, o // g) + wt.shape[3:])
    else:
        wt = w.transpose(permutation(low.kernel_format, "IO" + low.spatial))
    if low.flip:
        wt = wt[(slice(None), slice(None)) + (slice(None, None, -1),) * (wt.ndim - 2)]
    return np.ascontiguousarray(wt)


_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_TCONV = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _edges(y: np.ndarray, pairs: Pairs, sign: int) -> np.ndarray:
    """``result[j] = y[j + sign * lo]`` along each spatial dim, of size ``L - sign * (lo +
    hi)``, zeros where that index falls outside ``y``: with ``sign = -1``, an input
    padded by the pairs (elements dropped where negative)."""
    shape, src, dst = list(y.shape[:2]), [slice(None)] * 2, [slice(None)] * 2
    for (lo, hi), L in zip(pairs, y.shape[2:]):
        lo, hi = sign * lo, sign * hi
        size = L - lo - hi
        start, stop = max(lo, 0), min(L, lo + size)
        shape.append(size)
        if stop <= start:  # the result lies wholly outside y: zeros
            src.append(slice(0, 0))
            dst.append(slice(0, 0))
        else:
            src.append(slice(start, stop))
            dst.append(slice(start - lo, stop - lo))
    result = np.zeros(shape, dtype=y.dtype)
    result[tuple(dst)] = y[tuple(src)]
    return result


def run(low: Lowering, x: Any, w: Any, b: Any = None, fn: str = "compat") -> np.ndarray:
    """Execute ``low`` on the framework-laid ``x`` and ``w`` (and a bias ``b`` of the
    output channels) with :mod:`tconv.functional`; return the framework-laid result.

    >>> low = Lowering(False, (1,), (1,), 1, ((1, 1),), False, "NWC", "WIO", "NWC", "W")
    >>> run(low, np.ones((1, 3, 1)), np.ones((3, 1, 1)))[0, :, 0]
    array([2., 3., 2.])
    """
    x = _args.as_array(x, "input", fn)
    w = _args.as_array(w, "weight", fn)
    n = len(low.spatial)
    xt = np.ascontiguousarray(x.transpose(permutation(low.data_format, "NC" + low.spatial)))
    wt = torch_weight(low, w)
    bias = None if b is None else _args.as_array(b, "bias", fn)
    if low.transposed:
        # tconv's pairs crop the full output; negative ones append zeros, and the bias
        # is added everywhere, as every framework adds it
        y = _TCONV[n](xt, wt, bias, low.stride, low.padding, 0, low.groups, low.dilation)
    else:
        # tconv's pairs pad the input with zeros; a negative pad (JAX's) drops elements,
        # so the input is then cut and padded here (it may drop every original element)
        pads: Any = low.padding
        if any(v < 0 for p in pads for v in p):
            xt, pads = _edges(xt, pads, -1), 0
        y = _CONV[n](xt, wt, bias, low.stride, pads, low.dilation, low.groups)
    if low.subsample and any(s != 1 for s in low.subsample):
        y = y[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in low.subsample)]
    return np.ascontiguousarray(y.transpose(permutation("NC" + low.spatial, low.out_format)))


def as_pairs(value: Sequence[Sequence[int]], n: int, name: str, fn: str) -> Pairs:
    """``n`` ``(lo, hi)`` pairs of ints from a sequence of pairs."""
    try:
        pairs = tuple((lo, hi) for lo, hi in value)
    except (TypeError, ValueError):
        raise TypeError(
            f"{fn}: {name} must be a sequence of {n} (low, high) int pairs, got {value!r}"
        ) from None
    if len(pairs) != n or not all(_args._is_int(v) for p in pairs for v in p):
        raise ValueError(
            f"{fn}: {name} must be a sequence of {n} (low, high) int pairs (one per spatial "
            f"dim), got {value!r}"
        )
    return tuple((int(lo), int(hi)) for lo, hi in pairs)


def check_channels(fn: str, c_in: int, k_in: int, groups: int, what: str) -> None:
    """The input has ``groups`` times the channels the kernel reads per group."""
    if c_in != k_in * groups:
        raise ValueError(
            f"{fn}: the input has {c_in} channels but the kernel reads {k_in} per group "
            f"x {groups} group(s) = {k_in * groups} ({what})"
        )


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for ints."""
    return -(-a // b)
