"""The input window that an output range of a chain of layers needs (public as
``tconv.shapes.input_window``).

Windows, not sizes: per spatial dim, which inputs a range of outputs reads, and where
that range sits in what the layer computes from them. Tiling (``tconv.dask``) and
the explorer's hover both ask this question; the sizes themselves stay in
:mod:`tconv.shapes`.

Per dim, for one layer with kernel ``k``, stride ``s``, left padding (or, for a
transposed convolution, left crop) ``p`` and dilation ``d``, the dilated kernel
``w = d(k-1) + 1`` and the outputs ``[a, b)``:

conv
    output ``o`` reads ``o s + t d - p`` for taps ``0 <= t < k``; so ``[a, b)`` reads
    ``[a s - p, (b-1) s + w - p)``, a span of ``W = w + s q`` inputs with
    ``q = b - a - 1`` (the lecture's ``W = w + s q``). Phase 0: the window starts on
    output ``a``'s first tap.
conv_transpose
    input ``i`` lands on ``i s + t d`` of the uncropped result, which the padding
    crops by ``p``: output ``j`` is position ``j + p``. The window holds the inputs
    that land in ``[a + p, b + p)``; the phase is ``a + p - start s``: where output
    ``a`` lies in the transposed convolution of the window alone (its "stride phase";
    it can be negative, or the window empty, where no tap lands: those outputs are
    bias only). ``output_padding`` only appends outputs; it moves no window.
nearest / pixel_shuffle (factor ``r``)
    output ``j`` reads ``floor(j / r)``; phase ``a - start r = a mod r``.
linear (factor ``r``, ``align_corners=False``)
    output ``j`` reads ``floor(c)`` and ``floor(c) + 1`` at ``c = (j + 1/2)/r - 1/2``
    (only ``floor(c)`` where ``c`` is an integer); phase ``a - start r``.
pixel_unshuffle (factor ``r``)
    output ``j`` reads ``[j r, j r + r)``; phase 0.

A window may reach outside the layer's input (below 0 or past its end): those
positions are the layer's padding (zeros, or the padding mode's values; for linear,
the clamped edge). For a chain, the windows are chained from the last layer back to
the first; each layer's phase then says where the range the next layer needs lies in
that layer's result over its own window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Union

from . import _args

__all__ = ["Layer", "Window", "input_window", "input_windows"]

_KINDS = ("conv", "conv_transpose", "nearest", "linear", "pixel_shuffle", "pixel_unshuffle")
IntOrTuple = Union[int, Sequence[int]]


class Window(NamedTuple):
    """The inputs ``[start, stop)`` an output range reads (one spatial dim), and ``phase``:
    the index of the range's first output in the layer's result over those inputs alone."""

    start: int
    stop: int
    phase: int


@dataclass(frozen=True)
class Layer:
    """One layer, as :func:`input_window` sees it: its kind and its per-dim parameters.

    ``kind`` is one of ``'conv'``, ``'conv_transpose'``, ``'nearest'``, ``'linear'``
    (linear/bilinear/trilinear, ``align_corners=False``), ``'pixel_shuffle'`` or
    ``'pixel_unshuffle'``. Parameters are ints or per-dim tuples; a padding entry may
    be a ``(lo, hi)`` pair (only ``lo`` moves a window). ``factor`` is the integer
    scale of the up-sampling and shuffle kinds. Build them with the class methods.

    >>> Layer.conv_transpose(4, stride=2, padding=1)
    Layer(kind='conv_transpose', kernel_size=4, stride=2, padding=1, dilation=1, \
output_padding=0, factor=1)
    """

    kind: str
    kernel_size: IntOrTuple = 1
    stride: IntOrTuple = 1
    padding: Any = 0
    dilation: IntOrTuple = 1
    output_padding: IntOrTuple = 0
    factor: IntOrTuple = 1

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(
                f"Layer: kind must be one of {', '.join(_KINDS)}, got kind={self.kind!r}"
            )

    @classmethod
    def conv(
        cls,
        kernel_size: IntOrTuple,
        stride: IntOrTuple = 1,
        padding: Any = 0,
        dilation: IntOrTuple = 1,
    ) -> Layer:
        """A convolution (``conv{1,2,3}d``'s parameters)."""
        return cls("conv", kernel_size, stride, padding, dilation)

    @classmethod
    def conv_transpose(
        cls,
        kernel_size: IntOrTuple,
        stride: IntOrTuple = 1,
        padding: Any = 0,
        output_padding: IntOrTuple = 0,
        dilation: IntOrTuple = 1,
    ) -> Layer:
        """A transposed convolution (``conv_transpose{1,2,3}d``'s parameters)."""
        return cls("conv_transpose", kernel_size, stride, padding, dilation, output_padding)

    @classmethod
    def upsample(cls, factor: IntOrTuple, mode: str = "nearest") -> Layer:
        """Up-sampling by an integer ``factor``: ``mode`` nearest, or linear, bilinear or
        trilinear (all ``'linear'`` here: separable, one dim at a time)."""
        linear = ("linear", "bilinear", "trilinear")
        if mode not in ("nearest", *linear):
            raise ValueError(
                f"Layer.upsample: mode must be nearest, linear, bilinear or trilinear (the "
                f"modes whose windows move with the output), got mode={mode!r}"
            )
        return cls("linear" if mode in linear else "nearest", factor=factor)

    @classmethod
    def pixel_shuffle(cls, upscale_factor: int) -> Layer:
        """``pixel_shuffle``: each spatial dim up by ``upscale_factor``."""
        return cls("pixel_shuffle", factor=upscale_factor)

    @classmethod
    def pixel_unshuffle(cls, downscale_factor: int) -> Layer:
        """``pixel_unshuffle``: each spatial dim down by ``downscale_factor``."""
        return cls("pixel_unshuffle", factor=downscale_factor)

    def window(self, out_start: int, out_stop: int, dim: int = 0, n: int = 1) -> Window:
        """The window of outputs ``[out_start, out_stop)`` along spatial dim ``dim`` of
        ``n``.

        >>> Layer.conv(3, stride=2, padding=1).window(4, 8)   # W = 3 + 2 * 3 inputs
        Window(start=7, stop=16, phase=0)
        """
        fn = "input_window"
        k = _args.positive_ntuple(self.kernel_size, n, "kernel_size", fn)[dim]
        s = _args.positive_ntuple(self.stride, n, "stride", fn)[dim]
        d = _args.positive_ntuple(self.dilation, n, "dilation", fn)[dim]
        r = _args.positive_ntuple(self.factor, n, "factor", fn)[dim]
        p = _lo(self.padding, n, fn, self.kind == "conv_transpose")[dim]
        _args.non_negative_ntuple(self.output_padding, n, "output_padding", fn)
        a, b = out_start, out_stop
        if b <= a:
            raise ValueError(
                f"{fn}: the output range must be non-empty, got out_start={a}, out_stop={b}"
            )
        w = d * (k - 1) + 1
        if self.kind == "conv":
            return Window(a * s - p, (b - 1) * s + w - p, 0)
        if self.kind == "conv_transpose":
            start, stop = _landing(a + p, b + p, k, s, d)
            return Window(start, stop, a + p - start * s)
        if self.kind in ("nearest", "pixel_shuffle"):
            start = a // r
            return Window(start, (b - 1) // r + 1, a - start * r)
        if self.kind == "linear":
            # c = (2j + 1 - r) / (2r); floor(c) and ceil(c) are read (equal when c is whole)
            start = (2 * a + 1 - r) // (2 * r)
            return Window(start, -((r + 1 - 2 * b) // (2 * r)) + 1, a - start * r)
        return Window(a * r, b * r, 0)  # pixel_unshuffle

    def split(self, index: int, dim: int = 0, n: int = 1) -> int:
        """The first output that input ``index`` starts: for a convolution the first
        output whose window centre ``o s - p + d floor((k-1)/2)`` is at ``index`` or after,
        for a transposed convolution the mirror rule, the first output ``o`` whose centre
        input ``(o + p - d floor((k-1)/2)) / s`` is (so a 'same' layer keeps the chunks, and
        an up-sampling one, such as k4 s2 p1, gives chunks of ``s c``), for pixel_unshuffle
        the first block at or after it, otherwise the first output that input ``index``
        lands on. Cutting the input before ``index`` cuts the output before this one: an
        input chunk's image.

        >>> Layer.conv_transpose(4, stride=2, padding=1).split(5)
        10
        >>> Layer.conv(3, stride=2, padding=1).split(5), Layer.conv(3, padding=1).split(5)
        (3, 5)
        """
        fn = "input_window"
        s = _args.positive_ntuple(self.stride, n, "stride", fn)[dim]
        r = _args.positive_ntuple(self.factor, n, "factor", fn)[dim]
        p = _lo(self.padding, n, fn, self.kind == "conv_transpose")[dim]
        if self.kind in ("conv", "conv_transpose"):
            k = _args.positive_ntuple(self.kernel_size, n, "kernel_size", fn)[dim]
            d = _args.positive_ntuple(self.dilation, n, "dilation", fn)[dim]
            if self.kind == "conv":
                return -((-(index + p - d * (k - 1) // 2)) // s)
            return index * s - p + d * ((k - 1) // 2)
        if self.kind == "pixel_unshuffle":
            return -((-index) // r)
        return index * r


def _lo(padding: Any, n: int, fn: str, negative: bool = False) -> tuple[int, ...]:
    """The start paddings of ``padding``: ints, or ``(lo, hi)`` pairs, per dim (a transposed
    convolution's crop may be negative: zeros before its result)."""
    if isinstance(padding, str):
        raise ValueError(
            f"{fn}: padding must be ints or (lo, hi) pairs, got padding={padding!r}; "
            "resolve 'same' with tconv.shapes.same_padding first"
        )
    if isinstance(padding, Sequence) and any(isinstance(v, Sequence) for v in padding):
        pairs = list(padding) * n if len(padding) == 1 else list(padding)
        if len(pairs) != n:
            raise ValueError(
                f"{fn}: padding must have one entry per spatial dim ({n}), got {padding!r}"
            )
        lo = tuple(_args.ntuple(q, 2, "padding", fn)[0] for q in pairs)
    else:
        lo = _args.ntuple(padding, n, "padding", fn)
    return lo if negative else _args.non_negative(lo, "padding", fn)


def _landing(f0: int, f1: int, k: int, s: int, d: int) -> tuple[int, int]:
    """The hull of the inputs ``i`` with ``i s + t d`` in ``[f0, f1)`` for some tap ``t``
    (empty ``(i, i)`` when no tap lands there). A loop over the taps."""
    lo: int | None = None
    hi: int | None = None
    for t in range(k):
        first = -((t * d - f0) // s)  # ceil((f0 - t d) / s)
        last = (f1 - 1 - t * d) // s
        if first <= last:
            lo = first if lo is None else min(lo, first)
            hi = last if hi is None else max(hi, last)
    if lo is None or hi is None:
        at = -((d * (k - 1) - f0) // s)
        return at, at
    return lo, hi + 1


def _as_dims(value: IntOrTuple, name: str) -> tuple[tuple[int, ...], bool]:
    if isinstance(value, Sequence):
        return _args.ntuple(value, len(value), name, "input_window"), False
    return _args.ntuple(value, 1, name, "input_window"), True


def input_windows(
    layers: Layer | Sequence[Layer], out_start: IntOrTuple, out_stop: IntOrTuple
) -> tuple[Any, ...]:
    """One :class:`Window` per layer (first layer first) for the chain's outputs
    ``[out_start, out_stop)``; per spatial dim a tuple of them when the range is given
    per dim. Each layer's window is the range the next layer reads.

    >>> chain = [Layer.conv_transpose(4, stride=2, padding=1), Layer.conv(3, padding=1)]
    >>> input_windows(chain, 10, 14)
    (Window(start=4, stop=8, phase=2), Window(start=9, stop=15, phase=0))
    """
    chain = [layers] if isinstance(layers, Layer) else list(layers)
    bad = [v for v in chain if not isinstance(v, Layer)]
    if not chain or bad:
        raise TypeError(
            "input_window: layers must be a Layer or a non-empty sequence of Layers "
            f"(tconv.shapes.Layer.conv, ...), got {bad[0] if bad else layers!r}"
        )
    starts, one = _as_dims(out_start, "out_start")
    stops, _ = _as_dims(out_stop, "out_stop")
    if len(starts) != len(stops):
        raise ValueError(
            f"input_window: out_start and out_stop must have one entry per spatial dim each, "
            f"got out_start={out_start!r}, out_stop={out_stop!r}"
        )
    n = len(starts)
    per_dim = []
    for dim, (a, b) in enumerate(zip(starts, stops)):
        found = []
        empty = False
        for layer in reversed(chain):
            win = layer.window(a, b, dim, n)
            if empty:  # the later layer reads nothing: neither does this range
                win = Window(win.start, win.start, 0)
            found.append(win)
            empty = win.stop <= win.start
            a, b = win.start, max(win.stop, win.start + 1)
        per_dim.append(tuple(reversed(found)))
    if one:
        return per_dim[0]
    return tuple(tuple(ws[i] for ws in per_dim) for i in range(len(chain)))


def input_window(
    layers: Layer | Sequence[Layer], out_start: IntOrTuple, out_stop: IntOrTuple
) -> Window | tuple[Window, ...]:
    """The input window ``(start, stop, phase)`` that outputs ``[out_start, out_stop)`` of
    a chain of layers read (per dim, a tuple of windows for per-dim ranges).

    Each layer maps an output range to the inputs its taps read: a convolution's
    ``W = w + s q`` span shifted by its padding, a transposed convolution's landing
    positions ``i s + t d`` less its crop, an up-sampling's ``floor(j / r)`` (see the
    module docstring for each kind). The phase is the first layer's (see
    :func:`input_windows` for every layer's). Positions below 0 or past the input's
    end are padding; the window is the hull of what the taps read, so tiles cut on
    it reproduce the whole-array result exactly.

    >>> input_window(Layer.conv(3), 0, 5)                   # 5 outputs of a k=3 conv
    Window(start=0, stop=7, phase=0)
    >>> input_window(Layer.conv_transpose(3, stride=2), 5, 7)   # odd phase
    Window(start=2, stop=4, phase=1)
    >>> input_window([Layer.upsample(2), Layer.conv(3, padding=1)], (4, 0), (8, 2))
    (Window(start=1, stop=5, phase=1), Window(start=-1, stop=2, phase=1))
    """
    windows = input_windows(layers, out_start, out_stop)
    return windows[0]
