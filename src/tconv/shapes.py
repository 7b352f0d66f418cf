"""Size arithmetic of convolutions and transposed convolutions.

Pure integer arithmetic, in one place: the ops, the modules and the analysis
tools all call these functions, so no formula is written twice. Every function
takes an int or a per-dim tuple and returns the same form.

Per spatial dim, with kernel size ``k``, stride ``s``, padding ``p``, dilation
``d`` and output padding ``a`` (Dumoulin & Visin 2016, relationships 6 and 14;
PyTorch's ``Conv*d`` and ``ConvTranspose*d`` docs)::

    conv:            L_out = floor((L_in + 2p - d(k-1) - 1) / s) + 1
    conv_transpose:  L_out = (L_in - 1) s - 2p + d(k-1) + a + 1

The lecture's round trip (a conv, then the transposed conv of the same
parameters) follows from the two: with the dilated kernel ``e = d(k-1) + 1``
and the remainder ``r = (L + 2p - e) mod s``, it maps ``L`` to ``L - r``, the
*observed size*. ``L`` comes back iff ``r = 0``, i.e. ``L + 2p = e + s q``
(the lecture's ``W = w + s q`` for ``p = 0, d = 1``); otherwise
``output_padding = r`` restores it (Dumoulin & Visin, relationship 14).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, Union, cast, overload

import numpy as np

from . import _args

IntOrTuple = Union[int, Sequence[int]]
T = TypeVar("T")

__all__ = [
    "ConvGeometry",
    "check_output_padding",
    "conv_geometry",
    "conv_output_size",
    "conv_padding",
    "conv_transpose_geometry",
    "conv_transpose_output_size",
    "ignored_inputs",
    "observed_size",
    "output_padding_for",
    "output_size_range",
    "preserves_size",
    "same_padding",
    "suggest_transpose_params",
]


def _broadcast(*args: IntOrTuple) -> tuple[int, list[tuple[int, ...]]] | None:
    """Broadcast int-or-tuple arguments to a common length; None if all are ints."""
    lengths = {len(a) for a in args if not isinstance(a, int)}
    if not lengths:
        return None
    if len(lengths) > 1:
        raise ValueError(f"per-dim tuples of different lengths: {args}")
    n = lengths.pop()
    return n, [tuple(a) if not isinstance(a, int) else (a,) * n for a in args]


def _per_dim(f: Callable[..., T], *args: IntOrTuple) -> T | tuple[T, ...]:
    b = _broadcast(*args)
    if b is None:
        return f(*args)
    n, cols = b
    return tuple(f(*(c[i] for c in cols)) for i in range(n))


def _conv_out(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _tconv_out(size: int, k: int, s: int, p: int, a: int, d: int) -> int:
    return (size - 1) * s - 2 * p + d * (k - 1) + a + 1


@overload
def conv_output_size(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int: ...
@overload
def conv_output_size(
    size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
) -> int | tuple[int, ...]: ...
def conv_output_size(
    size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
) -> int | tuple[int, ...]:
    """Output size of a convolution: ``floor((L + 2p - d(k-1) - 1) / s) + 1``.

    The result may be zero or negative when the kernel does not fit; the ops
    check that, this function only computes.

    >>> conv_output_size(7, 3)      # the lecture's conv1d example
    5
    >>> conv_output_size((32, 31), 3, stride=2, padding=1)
    (16, 16)
    """
    return _per_dim(_conv_out, size, kernel_size, stride, padding, dilation)


def conv_transpose_output_size(
    size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
) -> int | tuple[int, ...]:
    """Output size of a transposed convolution: ``(L - 1) s - 2p + d(k-1) + a + 1``.

    >>> conv_transpose_output_size(7, 3)      # the lecture's conv_transpose1d example
    9
    >>> conv_transpose_output_size((16, 16), 4, stride=2, padding=1)
    (32, 32)
    >>> conv_transpose_output_size(16, 3, stride=2, padding=1, output_padding=1)
    32
    """
    return _per_dim(_tconv_out, size, kernel_size, stride, padding, output_padding, dilation)


def output_size_range(
    input_size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
) -> tuple[int, int] | tuple[tuple[int, int], ...]:
    """The sizes a transposed convolution can produce, ``(L_min, L_min + s - 1)``.

    ``L_min`` is the size with ``output_padding = 0``; PyTorch's
    ``ConvTranspose*d.forward(x, output_size=...)`` accepts exactly this range.

    >>> output_size_range(16, 3, stride=2, padding=1)
    (31, 32)
    """

    def one(size: int, k: int, s: int, p: int, d: int) -> tuple[int, int]:
        lo = _tconv_out(size, k, s, p, 0, d)
        return lo, lo + s - 1

    return _per_dim(one, input_size, kernel_size, stride, padding, dilation)


def suggest_transpose_params(
    input_size: int, output_size: int, kernel_size: int, stride: int, dilation: int = 1
) -> str:
    """A hint naming padding and output_padding that map ``input_size`` to ``output_size``.

    >>> suggest_transpose_params(16, 32, 3, 2)
    'for 16 -> 32 with k=3, s=2 use padding=1, output_padding=1'
    """
    k, s, d = kernel_size, stride, dilation
    for a in range(max(s, d)):
        twice_p = (input_size - 1) * s + d * (k - 1) + 1 + a - output_size
        if twice_p >= 0 and twice_p % 2 == 0:
            return (
                f"for {input_size} -> {output_size} with k={k}, s={s}"
                + (f", d={d}" if d != 1 else "")
                + f" use padding={twice_p // 2}, output_padding={a}"
            )
    # Too large a target for this stride: the smallest stride that reaches it.
    need = output_size - d * (k - 1) - 1
    if input_size > 1 and need > 0:
        s_new = -(-need // (input_size - 1))
        return (
            f"{output_size} is out of reach from {input_size} with k={k}, s={s}; "
            f"a stride of at least {s_new} (or a larger kernel) is needed"
        )
    return f"{output_size} is out of reach from {input_size} with k={k}, s={s}"


def output_padding_for(
    input_size: IntOrTuple,
    output_size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
) -> int | tuple[int, ...]:
    """The ``output_padding`` that makes a transposed convolution produce ``output_size``.

    Raises a ValueError that states the reachable range, and suggests
    parameters that reach the target, when no output_padding does.

    >>> output_padding_for(16, 32, 3, stride=2, padding=1)
    1
    >>> output_padding_for((16, 15), (32, 30), 4, stride=2, padding=1)
    (0, 0)
    >>> output_padding_for(16, 34, 3, stride=2, padding=1)
    Traceback (most recent call last):
        ...
    ValueError: output_size 34 is out of range: ... reaches sizes 31 to 32 \
(output_padding 0 to 1); for 16 -> 34 with k=3, s=2 use padding=0, output_padding=1
    """

    def one(size: int, out: int, k: int, s: int, p: int, d: int) -> int:
        lo = _tconv_out(size, k, s, p, 0, d)
        hi = lo + s - 1
        if not lo <= out <= hi:
            raise ValueError(
                f"output_size {out} is out of range: from input size {size} with "
                f"kernel_size={k}, stride={s}, padding={p}, dilation={d} a transposed "
                f"convolution reaches sizes {lo} to {hi} (output_padding 0 to {s - 1}); "
                + suggest_transpose_params(size, out, k, s, d)
            )
        return out - lo

    return _per_dim(one, input_size, output_size, kernel_size, stride, padding, dilation)


def _check_geometry(fn: str, size: int, k: int, s: int, p: int, d: int) -> int:
    """Validate one dim of a convolution's geometry; return its output size (>= 1)."""
    return conv_geometry(fn, (size,), (k,), s, p, d, 1).out_size[0]


def _observed(size: int, k: int, s: int, p: int, d: int) -> int:
    out = _check_geometry("observed_size", size, k, s, p, d)
    return _tconv_out(out, k, s, p, 0, d)


def observed_size(
    size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
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

    >>> observed_size(8, 3, stride=2)      # index 7 is never read
    7
    >>> observed_size(9, 3, stride=2)      # 9 = 3 + 2 * 3
    9
    >>> observed_size((8, 9), 3, stride=2)
    (7, 9)
    """
    return _per_dim(_observed, size, kernel_size, stride, padding, dilation)


def _preserves(size: int, k: int, s: int, p: int, d: int) -> bool:
    return _observed(size, k, s, p, d) == size


def preserves_size(
    size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
) -> bool | tuple[bool, ...]:
    """Whether a conv, then the transposed conv of the same parameters, gives back ``size``.

    True iff ``L + 2p = d(k-1) + 1 + s q`` for some integer ``q >= 0``; for
    ``p = 0`` and ``d = 1`` that is the lecture's ``exists q in N, W = w + s q``.
    When False, ``output_padding = L - observed_size(L, ...)`` restores the size.

    >>> preserves_size(9, 3, stride=2)      # 9 = 3 + 2 * 3
    True
    >>> preserves_size(8, 3, stride=2)
    False
    >>> preserves_size((32, 31), 4, stride=2, padding=1)
    (True, False)
    """
    return _per_dim(_preserves, size, kernel_size, stride, padding, dilation)


def _ignored(size: int, k: int, s: int, p: int, d: int) -> tuple[int, ...]:
    out = _check_geometry("ignored_inputs", size, k, s, p, d)
    read = np.zeros(size + 2 * p, dtype=bool)  # over the padded input
    for t in range(k):  # tap t of output o reads padded index o s + t d
        read[t * d : t * d + (out - 1) * s + 1 : s] = True
    return tuple(int(i) for i in np.flatnonzero(~read[p : p + size]))


def ignored_inputs(
    size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
) -> tuple[int, ...] | tuple[tuple[int, ...], ...]:
    """The input indices that no output of the convolution reads.

    Output ``o`` reads the input indices ``o s + t d - p`` for taps
    ``0 <= t < k`` and ``0 <= o < L_out``; every other index in ``[0, L)`` is
    ignored: the tail that no window reaches when ``L + 2p`` is not
    ``d(k-1) + 1 + s q``, and holes when ``s > d`` skips over inputs (for
    instance a 1x1 kernel with stride 2). For a per-dim tuple the result is one
    tuple per dim (an N-d input element is read iff each of its coordinates is).

    >>> ignored_inputs(8, 3, stride=2)      # the last sample is never read
    (7,)
    >>> ignored_inputs(7, 1, stride=2)      # a 1x1 kernel skips every other sample
    (1, 3, 5)
    >>> ignored_inputs((9, 8), 3, stride=2)
    ((), (7,))
    """
    result = _per_dim(_ignored, size, kernel_size, stride, padding, dilation)
    return cast("tuple[int, ...] | tuple[tuple[int, ...], ...]", result)


# -- the validated description of one (transposed) convolution --------------------------


def same_padding(
    kernel_size: IntOrTuple, dilation: IntOrTuple = 1
) -> tuple[int, int] | tuple[tuple[int, int], ...]:
    """The ``(left, right)`` padding of ``padding='same'`` (stride 1): ``d(k-1)`` in all,
    the extra one on the right, as PyTorch pads.

    >>> same_padding(3)
    (1, 1)
    >>> same_padding((4, 3), dilation=(1, 2))
    ((1, 2), (2, 2))
    """

    def one(k: int, d: int) -> tuple[int, int]:
        total = d * (k - 1)
        return total // 2, total - total // 2

    return _per_dim(one, kernel_size, dilation)


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


def conv_padding(
    padding: Any,
    n: int,
    fn: str,
    stride: tuple[int, ...],
    kernel_size: tuple[int, ...],
    dilation: tuple[int, ...],
    transposed: bool = False,
) -> tuple[int, ...] | str:
    """Validate ``padding``: non-negative ints, or (convolutions, stride 1 only) the
    strings ``'same'`` and ``'valid'``, returned as given.

    >>> conv_padding("same", 1, "conv1d", (1,), (3,), (1,))
    'same'
    >>> conv_padding(1, 2, "conv2d", (2, 2), (3, 3), (1, 1))
    (1, 1)
    """
    if not isinstance(padding, str):
        return _args.non_negative_ntuple(padding, n, "padding", fn)
    if transposed:
        raise ValueError(
            f"{fn}: padding must be an int or a tuple of ints, got padding={padding!r} "
            "(string paddings exist only for convolutions)"
        )
    if padding not in ("same", "valid"):
        raise ValueError(f"{fn}: padding string must be 'same' or 'valid', got padding={padding!r}")
    if padding == "same" and any(v != 1 for v in stride):
        pairs = cast("tuple[tuple[int, int], ...]", same_padding(kernel_size, dilation))
        hint = tuple(lo for lo, _ in pairs)
        raise ValueError(
            f"{fn}: padding='same' is not supported for strided convolutions "
            f"(stride={stride}); use an explicit padding, e.g. padding={hint}"
        )
    return padding


@dataclass(frozen=True)
class ConvGeometry:
    """Validated geometry of one conv or transposed-conv call, per spatial dim.

    ``lo`` is the left padding of a convolution, or the crop of a transposed
    convolution (its ``padding``); ``out_size`` is the output's spatial size.
    ``in_size`` and ``kernel_size`` complete the picture so that gradients (and
    the explicit matrix) can be computed from the geometry alone; ``output_padding``
    is set for transposed convolutions only.
    """

    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    lo: tuple[int, ...]
    in_size: tuple[int, ...]
    kernel_size: tuple[int, ...]
    out_size: tuple[int, ...]
    output_padding: tuple[int, ...] = ()  # a transposed convolution's, once output_size is read


def conv_geometry(
    fn: str,
    size: tuple[int, ...],
    kernel_size: tuple[int, ...],
    stride: IntOrTuple,
    padding: IntOrTuple | str,
    dilation: IntOrTuple,
    groups: int,
) -> ConvGeometry:
    """Validate a convolution's arguments for an input of spatial ``size``.

    ``L_out = floor((L + lo + hi - d(k-1) - 1) / s) + 1`` with ``lo = hi = p``, or
    the :func:`same_padding` split, or 0 for ``'valid'``.

    >>> conv_geometry("conv1d", (7,), (3,), 1, "same", 1, 1).out_size
    (7,)
    """
    n = len(size)
    size = _args.positive(tuple(size), "size", fn)
    k = _args.positive(tuple(kernel_size), "kernel_size", fn)
    s = _args.positive_ntuple(stride, n, "stride", fn)
    d = _args.positive_ntuple(dilation, n, "dilation", fn)
    g = _args.positive_int(groups, "groups", fn)
    pad = conv_padding(padding, n, fn, s, k, d)
    if pad == "same":
        pairs = cast("tuple[tuple[int, int], ...]", same_padding(k, d))
        lo, hi = tuple(a for a, _ in pairs), tuple(b for _, b in pairs)
    else:
        lo = hi = (0,) * n if pad == "valid" else cast("tuple[int, ...]", pad)
    padded = tuple(L + a + b for L, a, b in zip(size, lo, hi))
    eff = tuple(di * (ki - 1) + 1 for di, ki in zip(d, k))
    if any(pi < ei for pi, ei in zip(padded, eff)):
        raise ValueError(
            f"{fn}: kernel larger than the padded input: padded input size {padded} "
            f"(input {size} + padding) is smaller than the dilated kernel size {eff} "
            f"(kernel_size={k}, dilation={d}); pad more, or use a smaller kernel or dilation"
        )
    # 'same' may pad asymmetrically: fold the extra right pad into the input size.
    out = conv_output_size(tuple(L + b - a for L, a, b in zip(size, lo, hi)), k, s, lo, d)
    return ConvGeometry(s, d, g, lo, size, k, cast("tuple[int, ...]", out))


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
    padding: IntOrTuple,
    output_padding: IntOrTuple,
    groups: int,
    dilation: IntOrTuple,
    output_size: IntOrTuple | None = None,
    non_spatial_dims: int = 2,
) -> ConvGeometry:
    """Validate a transposed convolution's arguments for an input of spatial ``size``.

    ``L_out = (L - 1) s - 2p + d(k-1) + a + 1``; ``output_size`` (spatial, or with
    the ``non_spatial_dims`` leading entries (N, C) or (C)) picks ``a`` instead.

    >>> conv_transpose_geometry("conv_transpose2d", (4, 4), (3, 3), 2, 1, 0, 1, 1,
    ...                         output_size=(1, 8, 8), non_spatial_dims=1).out_size
    (8, 8)
    """
    n = len(size)
    s = _args.positive_ntuple(stride, n, "stride", fn)
    d = _args.positive_ntuple(dilation, n, "dilation", fn)
    p = cast("tuple[int, ...]", conv_padding(padding, n, fn, s, (), d, transposed=True))
    a = _args.non_negative_ntuple(output_padding, n, "output_padding", fn)
    g = _args.positive_int(groups, "groups", fn)
    k = tuple(kernel_size)
    if output_size is not None:
        if any(ai != 0 for ai in a):
            raise ValueError(
                f"{fn}: give output_size or output_padding, not both "
                f"(got output_size={output_size}, output_padding={a})"
            )
        spatial = _spatial_output_size(output_size, n, non_spatial_dims, fn)
        req = _args.ntuple(spatial, n, "output_size", fn)
        try:
            a = cast("tuple[int, ...]", output_padding_for(size, req, k, s, p, d))
        except ValueError as exc:
            raise ValueError(f"{fn}: {exc}") from None
    check_output_padding(a, s, d, fn)
    out = cast("tuple[int, ...]", conv_transpose_output_size(size, k, s, p, a, d))
    if any(o <= 0 for o in out):
        raise ValueError(
            f"{fn}: empty output: input size {size} with kernel_size={k}, stride={s}, "
            f"padding={p}, output_padding={a}, dilation={d} gives output size {out}; "
            "padding crops the output, so use a smaller padding"
        )
    return ConvGeometry(s, d, g, p, tuple(size), k, out, a)
