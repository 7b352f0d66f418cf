"""Size arithmetic of convolutions and transposed convolutions.

Pure integer arithmetic, in one place: the ops, the modules and the analysis
tools all call these functions, so no formula is written twice. Every function
takes an int or a per-dim tuple and returns the same form.

Per spatial dim, with kernel size ``k``, stride ``s``, padding ``p``, dilation
``d`` and output padding ``a`` (Dumoulin & Visin 2016, relationships 6 and 14;
PyTorch's ``Conv*d`` and ``ConvTranspose*d`` docs)::

    conv:            L_out = floor((L_in + 2p - d(k-1) - 1) / s) + 1
    conv_transpose:  L_out = (L_in - 1) s - 2p + d(k-1) + a + 1

Asymmetric padding replaces ``2p`` by ``lo + hi``: a ``padding`` of per-dim
``(lo, hi)`` pairs pads a convolution's input by ``lo`` at the start and ``hi``
at the end, and crops a transposed convolution's full output (``y[j] =
full[j + lo]``) by ``lo`` at the start and ``hi`` at the end; a negative crop
appends zeros on that side. ``padding='same'`` of a transposed convolution
gives ``L_out = L_in s`` (:func:`conv_transpose_same_padding`), and
``padding_mode='circular'`` folds its full output onto that size.

The lecture's round trip (a conv, then the transposed conv of the same
parameters) follows from the two: with the dilated kernel ``e = d(k-1) + 1``
and the remainder ``r = (L + 2p - e) mod s``, it maps ``L`` to ``L - r``, the
*observed size*. ``L`` comes back iff ``r = 0``, i.e. ``L + 2p = e + s q``
(the lecture's ``W = w + s q`` for ``p = 0, d = 1``); otherwise
``output_padding = r`` restores it (Dumoulin & Visin, relationship 14).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, Union, cast, overload

import numpy as np

from . import _args

IntOrTuple = Union[int, Sequence[int]]
#: an int, one int per dim (symmetric), per-dim ``(lo, hi)`` pairs, or a string
Padding = Union[int, Sequence[Union[int, Sequence[int]]], str]
Pairs = tuple[tuple[int, int], ...]
Ints = tuple[int, ...]
T = TypeVar("T")

__all__ = [
    "ConvGeometry",
    "check_output_padding",
    "check_padding_mode",
    "check_transpose_padding",
    "conv_geometry",
    "conv_output_size",
    "conv_padding",
    "conv_transpose_geometry",
    "conv_transpose_output_size",
    "conv_transpose_same_padding",
    "ignored_inputs",
    "observed_size",
    "output_padding_for",
    "output_size_range",
    "preserves_size",
    "same_padding",
    "suggest_transpose_params",
]


def _form(*args: Any) -> tuple[int, bool]:
    """The number of spatial dims of a shapes call and whether it was all ints.

    ``size`` (the first argument) sets the rank when it is a tuple, as the input's
    rank does for the ops; otherwise the longest tuple among the others, or 1. The
    per-argument checks (:func:`tconv._args.ntuple`) then refuse tuples of another
    length with the ops' message.
    """
    first = args[0]
    if isinstance(first, (Sequence, np.ndarray)) and not isinstance(first, (str, bytes)):
        return len(first), False
    lengths = [
        len(a)
        for a in args[1:]
        if isinstance(a, (Sequence, np.ndarray)) and not isinstance(a, (str, bytes))
    ]
    return (max(lengths), False) if lengths else (1, True)


def _spatial(
    fn: str, n: int, size: Any, kernel_size: Any
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``size`` and ``kernel_size`` of a shapes call as validated n-tuples (positive ints;
    bools and floats are refused, as the ops refuse them in their other arguments)."""
    return (
        _args.positive(_args.ntuple(size, n, "size", fn), "size", fn),
        _args.positive_ntuple(kernel_size, n, "kernel_size", fn),
    )


def _ret(values: tuple[T, ...], scalar: bool) -> T | tuple[T, ...]:
    return values[0] if scalar else values


def _conv_out(size: int, k: int, s: int, p: int, d: int, hi: int | None = None) -> int:
    """The convolution's formula, unchecked (pooling and the planners use it directly):
    ``floor((L + lo + hi - d(k-1) - 1) / s) + 1`` with ``lo = p`` and ``hi = p`` unless given."""
    return (size + p + (p if hi is None else hi) - d * (k - 1) - 1) // s + 1


def _tconv_out(size: int, k: int, s: int, p: int, a: int, d: int, hi: int | None = None) -> int:
    """The transposed convolution's formula, unchecked:
    ``(L - 1) s + d(k-1) + a + 1 - lo - hi`` with ``lo = p`` and ``hi = p`` unless given."""
    return (size - 1) * s + d * (k - 1) + a + 1 - p - (p if hi is None else hi)


def _period(size: int, s: int) -> int:
    """The output size of a 'same' or circular transposed convolution: ``L s``."""
    return size * s


@overload
def conv_output_size(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int: ...
@overload
def conv_output_size(
    size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
) -> int | tuple[int, ...]: ...
def conv_output_size(
    size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
) -> int | tuple[int, ...]:
    """Output size of a convolution: ``floor((L + lo + hi - d(k-1) - 1) / s) + 1``.

    ``lo = hi = p`` for an int padding; per-dim ``(lo, hi)`` pairs pad asymmetrically.
    Validated as ``conv{n}d`` validates (:func:`conv_geometry`, the same messages):
    positive ints for size, kernel, stride and dilation, non-negative paddings (or
    ``'same'``/``'valid'``), and a dilated kernel that fits the padded input.

    >>> conv_output_size(7, 3)      # the lecture's conv1d example
    5
    >>> conv_output_size((32, 31), 3, stride=2, padding=1)
    (16, 16)
    >>> conv_output_size((32, 31), 3, stride=2, padding=((0, 1), (1, 1)))
    (16, 16)
    >>> conv_output_size(4, 5)
    Traceback (most recent call last):
        ...
    ValueError: conv_output_size: kernel larger than the padded input: padded input size (4,) \
(input (4,) + padding) is smaller than the dilated kernel size (5,) (kernel_size=(5,), \
dilation=(1,)); pad more, or use a smaller kernel or dilation
    """
    fn = "conv_output_size"
    n, scalar = _form(size, kernel_size, stride, padding, dilation)
    sz, k = _spatial(fn, n, size, kernel_size)
    return _ret(conv_geometry(fn, sz, k, stride, padding, dilation, 1).out_size, scalar)


def conv_transpose_output_size(
    size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    output_padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    *,
    padding_mode: str = "zeros",
) -> int | tuple[int, ...]:
    """Output size of a transposed convolution: ``(L - 1) s + d(k-1) + a + 1 - lo - hi``.

    ``lo = hi = p`` for an int padding; per-dim ``(lo, hi)`` pairs crop asymmetrically
    (a negative value appends zeros); ``padding='same'`` and
    ``padding_mode='circular'`` give ``L s``.
    Validated as ``conv_transpose{n}d`` validates (:func:`conv_transpose_geometry`):
    ``output_padding`` smaller than its stride or dilation, a non-empty output.

    >>> conv_transpose_output_size(7, 3)      # the lecture's conv_transpose1d example
    9
    >>> conv_transpose_output_size((16, 16), 4, stride=2, padding=1)
    (32, 32)
    >>> conv_transpose_output_size(16, 3, stride=2, padding=1, output_padding=1)
    32
    >>> conv_transpose_output_size(16, 3, stride=2, padding=((1, 0),))
    (32,)
    >>> conv_transpose_output_size(7, 1, stride=3, padding="same")    # zeros appended
    21
    >>> conv_transpose_output_size(16, 3, stride=2, output_padding=5)
    Traceback (most recent call last):
        ...
    ValueError: conv_transpose_output_size: output_padding must be smaller than stride or \
dilation, got output_padding=(5,), stride=(2,), dilation=(1,)
    """
    fn = "conv_transpose_output_size"
    n, scalar = _form(size, kernel_size, stride, padding, output_padding, dilation)
    sz, k = _spatial(fn, n, size, kernel_size)
    g = conv_transpose_geometry(
        fn, sz, k, stride, padding, output_padding, 1, dilation, padding_mode=padding_mode
    )
    return _ret(g.out_size, scalar)


def output_size_range(
    input_size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    *,
    padding_mode: str = "zeros",
) -> tuple[int, int] | tuple[tuple[int, int], ...]:
    """The sizes a transposed convolution can produce via ``output_size``:
    ``(max(L_min, 1), L_min + s - 1)``.

    ``L_min`` is the size with ``output_padding = 0``; PyTorch's
    ``ConvTranspose*d.forward(x, output_size=...)`` accepts exactly this range (and
    no empty output). Raises as ``conv_transpose{n}d`` does when even
    ``output_padding = s - 1`` leaves the output empty. ``padding='same'`` and
    ``padding_mode='circular'`` reach ``L s`` only.

    >>> output_size_range(16, 3, stride=2, padding=1)
    (31, 32)
    >>> output_size_range(16, 3, stride=2, padding=((1, 0),))
    ((32, 33),)
    >>> output_size_range(16, 3, stride=2, padding="same")
    (32, 32)
    """
    fn = "output_size_range"
    n, scalar = _form(input_size, kernel_size, stride, padding, dilation)
    sz, k = _spatial(fn, n, input_size, kernel_size)
    s = _args.positive_ntuple(stride, n, "stride", fn)
    if _fixed_size(padding, padding_mode):
        g = conv_transpose_geometry(
            fn, sz, k, s, padding, 0, 1, dilation, padding_mode=padding_mode
        )
        pairs = tuple((o, o) for o in g.out_size)
    else:
        top = tuple(si - 1 for si in s)
        g = conv_transpose_geometry(
            fn, sz, k, s, padding, top, 1, dilation, padding_mode=padding_mode
        )
        pairs = tuple((max(hi - a, 1), hi) for hi, a in zip(g.out_size, top))
    return cast("tuple[int, int] | tuple[tuple[int, int], ...]", _ret(pairs, scalar))


def _fixed_size(padding: Any, padding_mode: str) -> bool:
    """Whether a transposed convolution's output size is ``L s`` whatever else is given."""
    return (isinstance(padding, str) and padding == "same") or padding_mode == "circular"


def suggest_transpose_params(
    input_size: int, output_size: int, kernel_size: int, stride: int, dilation: int = 1
) -> str:
    """A hint naming padding and output_padding that map ``input_size`` to ``output_size``.

    O(1): the smallest ``output_padding`` ``a < max(s, d)`` that makes
    ``2p = (L - 1) s + d(k-1) + 1 + a - out`` even and non-negative.

    >>> suggest_transpose_params(16, 32, 3, 2)
    'for 16 -> 32 with k=3, s=2 use padding=1, output_padding=1'
    """
    fn = "suggest_transpose_params"
    L = _args.positive_int(input_size, "input_size", fn)
    out = _args.positive_int(output_size, "output_size", fn)
    k = _args.positive_int(kernel_size, "kernel_size", fn)
    s = _args.positive_int(stride, "stride", fn)
    d = _args.positive_int(dilation, "dilation", fn)
    base = (L - 1) * s + d * (k - 1) + 1 - out  # 2p - a
    a = max(0, -base)
    a += (base + a) % 2
    if a < max(s, d):
        return (
            f"for {L} -> {out} with k={k}, s={s}"
            + (f", d={d}" if d != 1 else "")
            + f" use padding={(base + a) // 2}, output_padding={a}"
        )
    # Too large a target for this stride: the smallest stride that reaches it.
    need = out - d * (k - 1) - 1
    if L > 1 and need > 0:
        s_new = -(-need // (L - 1))
        return (
            f"{out} is out of reach from {L} with k={k}, s={s}; "
            f"a stride of at least {s_new} (or a larger kernel) is needed"
        )
    return f"{out} is out of reach from {L} with k={k}, s={s}"


def output_padding_for(
    input_size: IntOrTuple,
    output_size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    *,
    padding_mode: str = "zeros",
) -> int | tuple[int, ...]:
    """The ``output_padding`` that makes a transposed convolution produce ``output_size``.

    Validated as ``conv_transpose{n}d(..., output_size=...)`` validates. Raises a
    ValueError that states the reachable range, and suggests parameters that reach
    the target, when no output_padding does. With ``(lo, hi)`` pairs the same rule
    holds with ``L_min`` their size at ``output_padding = 0``; ``padding='same'`` and
    ``padding_mode='circular'`` take only ``output_size = L s`` (output_padding 0).

    >>> output_padding_for(16, 32, 3, stride=2, padding=1)
    1
    >>> output_padding_for((16, 15), (32, 30), 4, stride=2, padding=1)
    (0, 0)
    >>> output_padding_for(16, 33, 3, stride=2, padding=((1, 0),))
    (1,)
    >>> output_padding_for(16, 34, 3, stride=2, padding=1)
    Traceback (most recent call last):
        ...
    ValueError: output_padding_for: output_size 34 is out of range: ... reaches sizes 31 to 32 \
(output_padding 0 to 1); for 16 -> 34 with k=3, s=2 use padding=0, output_padding=1
    """
    fn = "output_padding_for"
    n, scalar = _form(input_size, output_size, kernel_size, stride, padding, dilation)
    sz, k = _spatial(fn, n, input_size, kernel_size)
    g = conv_transpose_geometry(
        fn, sz, k, stride, padding, 0, 1, dilation, output_size, non_spatial_dims=0,
        padding_mode=padding_mode,
    )  # fmt: skip
    return _ret(g.output_padding, scalar)


def _output_padding(
    fn: str,
    size: tuple[int, ...],
    req: tuple[int, ...],
    k: tuple[int, ...],
    s: tuple[int, ...],
    lo: tuple[int, ...],
    hi: tuple[int, ...],
    d: tuple[int, ...],
) -> tuple[int, ...]:
    """The output_padding per dim that reaches ``req`` (PyTorch's ``_output_padding``)."""
    result = []
    for size_i, out, ki, si, li, hi_i, di in zip(size, req, k, s, lo, hi, d):
        least = _tconv_out(size_i, ki, si, li, 0, di, hi_i)
        most = least + si - 1
        if not least <= out <= most:
            first = max(least, 1)
            pad = li if li == hi_i else (li, hi_i)
            raise ValueError(
                f"{fn}: output_size {out} is out of range: from input size {size_i} with "
                f"kernel_size={ki}, stride={si}, padding={pad}, dilation={di} a transposed "
                f"convolution reaches sizes {first} to {most} (output_padding {first - least} "
                f"to {si - 1}); " + suggest_transpose_params(size_i, max(out, 1), ki, si, di)
            )
        result.append(out - least)
    return tuple(result)


def _observed(size: int, out: int, k: int, s: int, lo: int, d: int, hi: int) -> int:
    return _tconv_out(out, k, s, lo, 0, d, hi)


def observed_size(
    size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
) -> int | tuple[int, ...]:
    """Size of the area a convolution observes, as its round trip reports it.

    The lecture: a strided convolution "may ignore parts of the signal. Its
    composition with the corresponding transposed convolution generates a map
    of the size of the observed area". That size is

        conv_transpose_output_size(conv_output_size(L, k, s, p, d), k, s, p, 0, d)
        = L - ((L + 2p - d(k-1) - 1) mod s)

    i.e. the span of the padded input that the windows read, ``(L_out - 1) s +
    d(k-1) + 1``, less the ``2p`` the transposed convolution crops. The
    trailing ``r = (L + 2p - d(k-1) - 1) mod s`` padded positions are never
    read; when ``r > p`` they include the last ``r - p`` inputs. (Holes inside
    the span, which dilation can leave, are listed by :func:`ignored_inputs`.)
    The convolution's arguments are validated as ``conv{n}d`` validates them; the
    result is the formula's value, which is 0 or less when the padding crops all that
    the windows read (the transposed convolution then refuses to run).

    >>> observed_size(8, 3, stride=2)      # index 7 is never read
    7
    >>> observed_size(9, 3, stride=2)      # 9 = 3 + 2 * 3
    9
    >>> observed_size((8, 9), 3, stride=2)
    (7, 9)
    """
    fn = "observed_size"
    n, scalar = _form(size, kernel_size, stride, padding, dilation)
    sz, k = _spatial(fn, n, size, kernel_size)
    g = conv_geometry(fn, sz, k, stride, padding, dilation, 1)
    obs = tuple(_observed(*a) for a in zip(sz, g.out_size, k, g.stride, g.lo, g.dilation, g.hi))
    return _ret(obs, scalar)


def preserves_size(
    size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
) -> bool | tuple[bool, ...]:
    """Whether a conv, then the transposed conv of the same parameters, gives back ``size``.

    True iff ``L + 2p = d(k-1) + 1 + s q`` for some integer ``q >= 0``; for
    ``p = 0`` and ``d = 1`` that is the lecture's ``exists q in N, W = w + s q``.
    When False, ``output_padding = L - observed_size(L, ...)`` restores the size.
    Validated as :func:`observed_size`.

    >>> preserves_size(9, 3, stride=2)      # 9 = 3 + 2 * 3
    True
    >>> preserves_size(8, 3, stride=2)
    False
    >>> preserves_size((32, 31), 4, stride=2, padding=1)
    (True, False)
    """
    fn = "preserves_size"
    n, scalar = _form(size, kernel_size, stride, padding, dilation)
    sz, k = _spatial(fn, n, size, kernel_size)
    g = conv_geometry(fn, sz, k, stride, padding, dilation, 1)
    same = tuple(
        _observed(*a) == a[0] for a in zip(sz, g.out_size, k, g.stride, g.lo, g.dilation, g.hi)
    )
    return _ret(same, scalar)


def _ignored(size: int, out: int, k: int, s: int, p: int, d: int) -> tuple[int, ...]:
    """Inputs of one dim that no tap reads; only taps that reach the input are visited."""
    read = np.zeros(size, dtype=bool)
    # tap t of output o reads input o s + t d - p; t d must lie in [p - (out-1) s, p + size - 1]
    t_lo = max(0, -(-(p - (out - 1) * s) // d))
    t_hi = min(k - 1, (p + size - 1) // d)
    for t in range(t_lo, t_hi + 1):
        first = t * d - p  # input read by output 0
        o_lo = max(0, -(first // s))  # first output reading an index >= 0
        o_hi = min(out - 1, (size - 1 - first) // s)
        if o_lo <= o_hi:
            start = first + o_lo * s
            read[start : first + o_hi * s + 1 : s] = True
    return tuple(int(i) for i in np.flatnonzero(~read))


def ignored_inputs(
    size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
) -> tuple[int, ...] | tuple[tuple[int, ...], ...]:
    """The input indices that no output of the convolution reads.

    Output ``o`` reads the input indices ``o s + t d - p`` for taps
    ``0 <= t < k`` and ``0 <= o < L_out``; every other index in ``[0, L)`` is
    ignored: the tail that no window reaches when ``L + 2p`` is not
    ``d(k-1) + 1 + s q``, and holes when ``s > d`` skips over inputs (for
    instance a 1x1 kernel with stride 2). For a per-dim tuple the result is one
    tuple per dim (an N-d input element is read iff each of its coordinates is).
    Validated as ``conv{n}d`` validates; the result holds up to ``L`` indices, so a
    size whose flags would not fit in memory is refused as the ops refuse outputs.

    >>> ignored_inputs(8, 3, stride=2)      # the last sample is never read
    (7,)
    >>> ignored_inputs(7, 1, stride=2)      # a 1x1 kernel skips every other sample
    (1, 3, 5)
    >>> ignored_inputs((9, 8), 3, stride=2)
    ((), (7,))
    """
    fn = "ignored_inputs"
    n, scalar = _form(size, kernel_size, stride, padding, dilation)
    sz, k = _spatial(fn, n, size, kernel_size)
    g = conv_geometry(fn, sz, k, stride, padding, dilation, 1)
    for L in sz:
        _args.check_output_size(fn, (L,), np.bool_, f"size={_args._show(sz)}", "read mask")
    result = tuple(_ignored(*a) for a in zip(sz, g.out_size, k, g.stride, g.lo, g.dilation))
    return cast("tuple[int, ...] | tuple[tuple[int, ...], ...]", _ret(result, scalar))


# -- the validated description of one (transposed) convolution --------------------------


def same_padding(
    kernel_size: IntOrTuple, dilation: IntOrTuple = 1
) -> tuple[int, int] | tuple[tuple[int, int], ...]:
    """The ``(left, right)`` padding of ``padding='same'`` (stride 1): ``d(k-1)`` in all,
    the extra one on the right, as PyTorch pads. Kernel sizes and dilations must be
    positive ints, as for the ops.

    >>> same_padding(3)
    (1, 1)
    >>> same_padding((4, 3), dilation=(1, 2))
    ((1, 2), (2, 2))
    """
    fn = "same_padding"
    n, scalar = _form(kernel_size, dilation)
    k = _args.positive_ntuple(kernel_size, n, "kernel_size", fn)
    d = _args.positive_ntuple(dilation, n, "dilation", fn)
    pairs = tuple(_same_pair(ki, di) for ki, di in zip(k, d))
    return cast("tuple[int, int] | tuple[tuple[int, int], ...]", _ret(pairs, scalar))


def _same_pair(k: int, d: int) -> tuple[int, int]:
    total = d * (k - 1)
    return total // 2, total - total // 2


def conv_transpose_same_padding(
    kernel_size: IntOrTuple, stride: IntOrTuple = 1, dilation: IntOrTuple = 1
) -> tuple[int, int] | tuple[tuple[int, int], ...]:
    """The ``(lo, hi)`` crop of ``padding='same'`` for a transposed convolution.

    The output is ``L s``, so the full output (``(L - 1) s + k_eff``, with ``k_eff =
    d(k-1) + 1``) loses ``total = k_eff - s`` elements: ``lo = total // 2`` at the
    start, the odd one at the end (``hi = total - lo``), as TF's and JAX's 'SAME' and
    ONNX's SAME_UPPER crop. When ``k_eff < s`` the total is negative: nothing is
    cropped at the start and ``s - k_eff`` zeros are appended at the end
    (``lo = 0, hi = k_eff - s``), as TF and JAX do (ONNX's SAME_UPPER, as onnx's
    reference evaluator splits a negative total, puts ``ceil((s - k_eff) / 2)`` of them
    at the start instead).

    >>> conv_transpose_same_padding(4, stride=2)      # k4 s2: crop 1 at each end
    (1, 1)
    >>> conv_transpose_same_padding(3, stride=2)      # odd total: the extra at the end
    (0, 1)
    >>> conv_transpose_same_padding((1, 5), stride=(3, 2), dilation=(1, 2))
    ((0, -2), (3, 4))
    """
    fn = "conv_transpose_same_padding"
    n, scalar = _form(kernel_size, stride, dilation)
    k = _args.positive_ntuple(kernel_size, n, "kernel_size", fn)
    s = _args.positive_ntuple(stride, n, "stride", fn)
    d = _args.positive_ntuple(dilation, n, "dilation", fn)
    pairs = tuple(_transpose_same_pair(ki, si, di) for ki, si, di in zip(k, s, d))
    return cast("tuple[int, int] | tuple[tuple[int, int], ...]", _ret(pairs, scalar))


def _transpose_same_pair(k: int, s: int, d: int) -> tuple[int, int]:
    total = d * (k - 1) + 1 - s  # full - L s
    lo = max(total, 0) // 2
    return lo, total - lo


def check_output_padding(
    output_padding: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...], fn: str
) -> tuple[int, ...]:
    """PyTorch's rule: each ``output_padding`` is smaller than its stride or its dilation
    (a larger one would add outputs that no input reaches). Returns ``output_padding``.

    >>> check_output_padding((1,), (2,), (1,), "conv_transpose1d")
    (1,)
    >>> check_output_padding((2,), (2,), (1,), "conv_transpose1d")
    Traceback (most recent call last):
        ...
    ValueError: conv_transpose1d: output_padding must be smaller than stride or dilation, \
got output_padding=(2,), stride=(2,), dilation=(1,)
    """
    for a, s, d in zip(output_padding, stride, dilation, strict=True):
        if not (a < s or a < d):
            raise ValueError(
                f"{fn}: output_padding must be smaller than stride or dilation, got "
                f"output_padding={output_padding}, stride={stride}, dilation={dilation}"
            )
    return output_padding


_TRANSPOSE_MODES = ("zeros", "circular")


def check_padding_mode(padding_mode: Any, fn: str) -> str:
    """A transposed convolution's ``padding_mode``: ``'zeros'`` (PyTorch's only one) or
    ``'circular'`` (Flax's: the full output folded periodically onto ``L s``).

    >>> check_padding_mode("circular", "conv_transpose1d")
    'circular'
    >>> check_padding_mode("reflect", "ConvTranspose2d")
    Traceback (most recent call last):
        ...
    ValueError: ConvTranspose2d: padding_mode must be 'zeros' or 'circular' for a transposed \
convolution, got padding_mode='reflect' (reflect and replicate pad an input; a transposed \
convolution crops its output)
    """
    if not isinstance(padding_mode, str) or padding_mode not in _TRANSPOSE_MODES:
        raise ValueError(
            f"{fn}: padding_mode must be 'zeros' or 'circular' for a transposed convolution, "
            f"got padding_mode={padding_mode!r} (reflect and replicate pad an input; a "
            "transposed convolution crops its output)"
        )
    return padding_mode


def _is_seq(v: Any) -> bool:
    return (
        isinstance(v, (Sequence, np.ndarray))
        and not isinstance(v, (str, bytes))
        and getattr(v, "ndim", 1) > 0
    )


def _shown(padding: Any) -> Any:
    """``padding`` as the user wrote it, arrays as lists (for messages)."""
    return padding.tolist() if isinstance(padding, np.ndarray) else padding


def _pairs(padding: Any, n: int, fn: str, transposed: bool) -> Pairs:
    """Per-dim ``(lo, hi)`` pairs (an int entry is ``(p, p)``); a convolution's must be
    non-negative, a transposed convolution's may be negative (zeros appended)."""
    items = tuple(padding)
    if len(items) != n:
        raise ValueError(
            f"{fn}: padding pairs must give one (lo, hi) pair per spatial dim, {n} in all, "
            f"got {len(items)} entries in padding={_shown(padding)!r}"
        )
    pairs = []
    for e in items:
        if _args._is_int(e):
            pairs.append((int(e), int(e)))
            continue
        if not _is_seq(e) or not all(_args._is_int(v) for v in e):
            raise TypeError(
                f"{fn}: padding entries must be ints or (lo, hi) pairs of ints, got "
                f"{type(e).__name__} {_shown(e)!r} in padding={_shown(padding)!r}"
            )
        if len(e) != 2:
            raise ValueError(
                f"{fn}: each padding pair must hold 2 ints (lo, hi), got {len(e)} values "
                f"{_shown(e)!r} in padding={_shown(padding)!r}"
            )
        pairs.append((int(e[0]), int(e[1])))
    result = tuple(pairs)
    flat = tuple(v for pair in result for v in pair)
    _args.ntuple(flat, len(flat), "padding", fn)  # the int64 bound, with the ops' message
    if not transposed and any(v < 0 for v in flat):
        raise ValueError(
            f"{fn}: padding pairs of a convolution must be non-negative (they pad the "
            f"input), got padding={result}; to crop the input, slice it before the call"
        )
    return result


def conv_padding(
    padding: Any,
    n: int,
    fn: str,
    stride: tuple[int, ...],
    kernel_size: tuple[int, ...],
    dilation: tuple[int, ...],
    transposed: bool = False,
) -> tuple[int, ...] | Pairs | str:
    """Validate ``padding`` and return it normalised: non-negative ints (one per dim,
    symmetric, as PyTorch), per-dim ``(lo, hi)`` pairs, or the strings ``'same'`` and
    ``'valid'`` (for convolutions ``'same'`` needs stride 1; for transposed ones it
    gives ``L s`` at any stride). A convolution's pairs pad its input and must be
    non-negative; a transposed convolution's crop its output, and a negative value
    appends zeros. A 1-d pair is written ``((lo, hi),)``.

    >>> conv_padding("same", 1, "conv1d", (1,), (3,), (1,))
    'same'
    >>> conv_padding(1, 2, "conv2d", (2, 2), (3, 3), (1, 1))
    (1, 1)
    >>> conv_padding([(0, 1), 2], 2, "conv2d", (2, 2), (3, 3), (1, 1))
    ((0, 1), (2, 2))
    >>> conv_padding(((1, -2),), 1, "conv_transpose1d", (2,), (3,), (1,), transposed=True)
    ((1, -2),)
    """
    if not isinstance(padding, str):
        if _is_seq(padding) and any(_is_seq(e) for e in padding):
            return _pairs(padding, n, fn, transposed)
        if _is_seq(padding) and len(padding) == 2 * n:
            # per-side values given flat, as F.pad takes them (last dim first)
            example = (
                f"(({padding[0]}, {padding[1]}),)" if n == 1 else "((lo0, hi0), (lo1, hi1), ...)"
            )
            raise ValueError(
                f"{fn}: padding must be an int or a tuple of {n} ints (one per spatial dim, "
                f"symmetric), got {2 * n} values {_shown(padding)!r}; for per-side padding "
                f"give one (lo, hi) pair per dim, first spatial dim first, e.g. "
                f"padding={example}"
            )
        return _args.non_negative_ntuple(padding, n, "padding", fn)
    if padding not in ("same", "valid"):
        raise ValueError(f"{fn}: padding string must be 'same' or 'valid', got padding={padding!r}")
    if padding == "same" and not transposed and any(v != 1 for v in stride):
        hint = tuple(_same_pair(ki, di)[0] for ki, di in zip(kernel_size, dilation))
        raise ValueError(
            f"{fn}: padding='same' is not supported for strided convolutions "
            f"(stride={stride}); use an explicit padding, e.g. padding={hint}"
        )
    return padding


def _conv_pads(pad: tuple[int, ...] | Pairs | str, k: Ints, d: Ints) -> tuple[Ints, Ints]:
    """A validated convolution padding as per-dim (lo, hi) tuples."""
    if pad == "same":
        pairs = tuple(_same_pair(ki, di) for ki, di in zip(k, d))
    elif pad == "valid":
        pairs = tuple((0, 0) for _ in k)
    else:
        pairs = tuple(v if isinstance(v, tuple) else (v, v) for v in cast("tuple[Any, ...]", pad))
    return tuple(a for a, _ in pairs), tuple(b for _, b in pairs)


def _transpose_pads(
    pad: tuple[int, ...] | Pairs | str, k: Ints, s: Ints, d: Ints
) -> tuple[Ints, Ints]:
    """A validated transposed-convolution padding as per-dim (lo, hi) crops."""
    if pad == "same":
        pairs = tuple(_transpose_same_pair(ki, si, di) for ki, si, di in zip(k, s, d))
        return tuple(a for a, _ in pairs), tuple(b for _, b in pairs)
    return _conv_pads(pad, k, d)


def check_transpose_padding(
    pad: tuple[int, ...] | Pairs | str,
    output_padding: tuple[int, ...],
    padding_mode: str,
    fn: str,
) -> None:
    """The combinations a transposed convolution refuses rather than guess at:
    ``output_padding`` with ``padding='same'`` or ``padding_mode='circular'`` (whose
    output size is ``L s`` by definition; frameworks disagree on what it would
    shift), and ``(lo, hi)`` pairs with ``'circular'`` (its only offset is ``lo``).

    >>> check_transpose_padding("same", (1,), "zeros", "conv_transpose1d")
    Traceback (most recent call last):
        ...
    ValueError: conv_transpose1d: padding='same' gives the output size input * stride and \
takes no output_padding, got output_padding=(1,); give explicit (lo, hi) pairs for another \
crop or size
    """
    what = (
        "padding='same'"
        if pad == "same"
        else ("padding_mode='circular'" if padding_mode == "circular" else "")
    )
    if what and any(a != 0 for a in output_padding):
        raise ValueError(
            f"{fn}: {what} gives the output size input * stride and takes no output_padding, "
            f"got output_padding={output_padding}; give explicit (lo, hi) pairs for another "
            "crop or size"
        )
    if padding_mode == "circular" and not isinstance(pad, str) and _is_seq(pad[0]):
        raise ValueError(
            f"{fn}: padding_mode='circular' takes an int padding (where the fold starts in "
            f"the full output) or 'same'/'valid', got pairs padding={pad}; the output is "
            "input * stride whatever the end crop"
        )


@dataclass(frozen=True)
class ConvGeometry:
    """Validated geometry of one conv or transposed-conv call, per spatial dim.

    ``lo`` is the start padding of a convolution, or the start crop of a transposed
    convolution (negative: zeros before the full output); ``hi`` the same at the
    end; ``out_size`` is the output's spatial size. ``in_size`` and ``kernel_size``
    complete the picture so that gradients (and the explicit matrix) can be computed
    from the geometry alone; ``output_padding`` is set for transposed convolutions
    only. ``padding_mode='circular'`` (transposed only): the output ``y[j] = sum_m
    full[j + lo + m out]`` folds the full output periodically (:meth:`unwrapped`).
    """

    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    lo: tuple[int, ...]
    in_size: tuple[int, ...]
    kernel_size: tuple[int, ...]
    out_size: tuple[int, ...]
    output_padding: tuple[int, ...] = ()  # a transposed convolution's, once output_size is read
    hi: tuple[int, ...] = ()
    padding_mode: str = "zeros"

    def unwrapped(self) -> ConvGeometry:
        """The zeros-mode geometry whose output, cut into blocks of ``out_size`` and
        summed block by block, is this circular one's (itself when not circular).

        The fold starts at full index ``lo`` (mod the period ``P``): a crop of ``-r``,
        ``r = -lo mod P``, puts full index ``f`` at ``f + r``, which is ``f - lo`` mod
        ``P``; whole periods cover the full output.

        >>> g = conv_transpose_geometry("f", (3,), (4,), 2, 1, 0, 1, 1, padding_mode="circular")
        >>> g.out_size, g.unwrapped().lo, g.unwrapped().out_size
        ((6,), (-5,), (18,))
        """
        if self.padding_mode != "circular":
            return self
        lo, out, hi = [], [], []
        for L, k, s, d, start, period in zip(
            self.in_size, self.kernel_size, self.stride, self.dilation, self.lo, self.out_size
        ):
            full = _tconv_out(L, k, s, 0, 0, d)
            r = -start % period
            size = -(-(full + r) // period) * period
            lo.append(-r)
            out.append(size)
            hi.append(full + r - size)
        zeros = (0,) * len(lo)
        return ConvGeometry(
            self.stride, self.dilation, self.groups, tuple(lo), self.in_size,
            self.kernel_size, tuple(out), zeros, tuple(hi),
        )  # fmt: skip


def conv_geometry(
    fn: str,
    size: tuple[int, ...],
    kernel_size: tuple[int, ...],
    stride: IntOrTuple,
    padding: Padding,
    dilation: IntOrTuple,
    groups: int,
) -> ConvGeometry:
    """Validate a convolution's arguments for an input of spatial ``size``.

    ``L_out = floor((L + lo + hi - d(k-1) - 1) / s) + 1`` with ``lo = hi = p``, the
    given pairs, the :func:`same_padding` split, or 0 for ``'valid'``.

    >>> conv_geometry("conv1d", (7,), (3,), 1, "same", 1, 1).out_size
    (7,)
    >>> conv_geometry("conv1d", (7,), (3,), 2, ((0, 2),), 1, 1).out_size
    (4,)
    """
    n = len(size)
    size = _args.positive(tuple(size), "size", fn)
    k = _args.positive(tuple(kernel_size), "kernel_size", fn)
    s = _args.positive_ntuple(stride, n, "stride", fn)
    d = _args.positive_ntuple(dilation, n, "dilation", fn)
    g = _args.positive_int(groups, "groups", fn)
    lo, hi = _conv_pads(conv_padding(padding, n, fn, s, k, d), k, d)
    padded = tuple(L + a + b for L, a, b in zip(size, lo, hi))
    eff = tuple(di * (ki - 1) + 1 for di, ki in zip(d, k))
    if any(pi < ei for pi, ei in zip(padded, eff)):
        raise ValueError(
            f"{fn}: kernel larger than the padded input: padded input size {padded} "
            f"(input {size} + padding) is smaller than the dilated kernel size {eff} "
            f"(kernel_size={k}, dilation={d}); pad more, or use a smaller kernel or dilation"
        )
    out = tuple(_conv_out(*v) for v in zip(size, k, s, lo, d, hi))
    return ConvGeometry(s, d, g, lo, size, k, out, (), hi)


def _spatial_output_size(output_size: Any, n: int, non_spatial_dims: int, fn: str) -> Any:
    """Drop the leading (N, C) or (C) entries of a full ``output_size``, as PyTorch's
    ``_ConvTransposeNd._output_padding`` does with ``num_non_spatial_dims``."""
    if isinstance(output_size, (str, bytes)) or not isinstance(output_size, (Sequence, np.ndarray)):
        return output_size  # an int (our extension), or a type ntuple reports
    m = len(output_size)
    if m == n + non_spatial_dims:
        return tuple(output_size)[non_spatial_dims:]
    if m not in (1, n):
        lead = "(N, C)" if non_spatial_dims == 2 else "(C)"
        kind = "batched" if non_spatial_dims == 2 else "unbatched"
        raise ValueError(
            f"{fn}: output_size must have {n} entries (spatial) or {n + non_spatial_dims} "
            f"(with {lead}) for {kind} input, got {m} values {tuple(output_size)!r}"
        )
    return output_size


def conv_transpose_geometry(
    fn: str,
    size: tuple[int, ...],
    kernel_size: tuple[int, ...],
    stride: IntOrTuple,
    padding: Padding,
    output_padding: IntOrTuple,
    groups: int,
    dilation: IntOrTuple,
    output_size: IntOrTuple | None = None,
    non_spatial_dims: int = 2,
    padding_mode: str = "zeros",
) -> ConvGeometry:
    """Validate a transposed convolution's arguments for an input of spatial ``size``.

    ``L_out = (L - 1) s + d(k-1) + a + 1 - lo - hi`` with ``lo = hi = p``, the given
    pairs (negative: zeros appended), the :func:`conv_transpose_same_padding` split
    (``L_out = L s``) or 0 for ``'valid'``; ``output_size`` (spatial, or with the
    ``non_spatial_dims`` leading entries (N, C) or (C)) picks ``a`` instead. With
    ``padding_mode='circular'``, ``L_out = L s`` and ``lo`` is where the fold starts.

    >>> conv_transpose_geometry("conv_transpose2d", (4, 4), (3, 3), 2, 1, 0, 1, 1,
    ...                         output_size=(1, 8, 8), non_spatial_dims=1).out_size
    (8, 8)
    >>> g = conv_transpose_geometry("conv_transpose1d", (4,), (3,), 2, "same", 0, 1, 1)
    >>> g.lo, g.hi, g.out_size
    ((0,), (1,), (8,))
    """
    n = len(size)
    size = _args.positive(tuple(size), "size", fn)
    k = _args.positive(tuple(kernel_size), "kernel_size", fn)
    s = _args.positive_ntuple(stride, n, "stride", fn)
    d = _args.positive_ntuple(dilation, n, "dilation", fn)
    mode = check_padding_mode(padding_mode, fn)
    pad = conv_padding(padding, n, fn, s, k, d, transposed=True)
    a = _args.non_negative_ntuple(output_padding, n, "output_padding", fn)
    g = _args.positive_int(groups, "groups", fn)
    check_transpose_padding(pad, a, mode, fn)
    lo, hi = _transpose_pads(pad, k, s, d)
    if mode == "circular":  # the end crop follows from the size L s
        hi = tuple(
            _tconv_out(L, ki, si, li, 0, di, 0) - _period(L, si)
            for L, ki, si, li, di in zip(size, k, s, lo, d)
        )
    if output_size is not None:
        if any(ai != 0 for ai in a):
            raise ValueError(
                f"{fn}: give output_size or output_padding, not both "
                f"(got output_size={output_size}, output_padding={a})"
            )
        spatial = _spatial_output_size(output_size, n, non_spatial_dims, fn)
        req = _args.ntuple(spatial, n, "output_size", fn)
        if _fixed_size(pad, mode):
            period = tuple(_period(L, si) for L, si in zip(size, s))
            if req != period:
                what = "padding='same'" if pad == "same" else "padding_mode='circular'"
                raise ValueError(
                    f"{fn}: {what} gives the output size input * stride = {period}, got "
                    f"output_size={req}; for another size give explicit (lo, hi) pairs"
                )
        else:
            a = _output_padding(fn, size, req, k, s, lo, hi, d)
    check_output_padding(a, s, d, fn)
    out = tuple(_tconv_out(*v) for v in zip(size, k, s, lo, a, d, hi))
    if any(o <= 0 for o in out):
        raise ValueError(
            f"{fn}: empty output: input size {size} with kernel_size={k}, stride={s}, "
            f"padding={lo if lo == hi else tuple(zip(lo, hi))}, "
            f"output_padding={a}, dilation={d} gives output size {out}; "
            "padding crops the output, so use a smaller padding"
        )
    return ConvGeometry(s, d, g, lo, size, k, out, a, hi, mode)


# The window an output range of a chain of layers reads (windows, not sizes: tconv._window).
from ._window import *  # noqa: E402, F403
