"""Pooling: average, max and adaptive pooling in 1, 2 and 3 spatial dims, as PyTorch.

Every function takes an array or a :class:`~tconv.autograd.Tensor` of shape
``(N, C, *spatial)`` or unbatched ``(C, *spatial)``; an array in gives an array
out, a Tensor in gives a Tensor recorded on the tape. float32 and float64 are
preserved (integers compute in float64, float16 in float32), as elsewhere in tconv.

Output size per spatial dim, for the windowed pools (PyTorch's
``pooling_output_shape``)::

    out = floor((in + 2 p - d (k - 1) - 1 + (ceil_mode ? s - 1 : 0)) / s) + 1
    (with ceil_mode, out -= 1 when the last window would start at or past in + p)

and ``padding <= kernel_size // 2`` ("pad should be at most half of effective
kernel size"). The adaptive pools give ``output_size`` and window ``i`` covers
``[floor(i in / out), ceil((i + 1) in / out))``.

The kernels loop over the kernel taps (at most ``prod(kernel_size)`` strided
slices of the padded input), never over pixels. Max pooling keeps, in each
window, the first maximum in window order (row-major over the taps), and a NaN
wins over any number, as PyTorch's CPU kernels; its gradient goes to that
element, and ``return_indices=True`` gives its position in the flattened
spatial input (int64; a Tensor when the input is a Tensor).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, Union

import numpy as np

from .. import _args, shapes
from .._args import _show
from ..autograd import Tensor, record
from ..kernels import resample as _r

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
]

IntOrTuple = Union[int, Sequence[int]]
OutputSize = Union[int, None, Sequence[Union[int, None]]]


# -- argument handling -------------------------------------------------------------------


def _prepare(input: Any, n: int, fn: str) -> tuple[np.ndarray, bool, np.dtype]:
    """Validated input as a (N, C, *spatial) array in its compute dtype, whether the
    input was batched, and the result dtype."""
    arr = _args.as_array(input.data if isinstance(input, Tensor) else input, "input", fn)
    batched = _args.spatial_dims_of(arr, n, "input", fn)
    x = arr if batched else arr[None]
    if any(v == 0 for v in x.shape[1:]):
        raise ValueError(
            f"{fn}: input must have non-zero size in every non-batch dim (C and the spatial "
            f"dims), got input of shape {arr.shape}"
        )
    compute, result = _args.compute_dtype(arr)
    return x.astype(compute, copy=False), batched, result


def _window_args(
    n: int,
    fn: str,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any = 1,
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    k = _args.positive_ntuple(kernel_size, n, "kernel_size", fn)
    if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0):
        s = k
    else:
        s = _args.positive_ntuple(stride, n, "stride", fn)
    p = _args.non_negative_ntuple(padding, n, "padding", fn)
    d = _args.positive_ntuple(dilation, n, "dilation", fn)
    if any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise ValueError(
            f"{fn}: padding must be at most half of kernel_size (pad should be at most half "
            f"of effective kernel size), got padding={_show(p)} with kernel_size={_show(k)}"
        )
    return k, s, p, d


def _on_axis(v: np.ndarray, axis: int, n: int) -> np.ndarray:
    """A 1-D array along spatial ``axis`` of ``n``, shaped to broadcast over the others."""
    shape = [1] * n
    shape[axis] = -1
    return v.reshape(shape)


def _out_size(i: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's ``pooling_output_shape``: the convolution's size, rounded up
    with ``ceil_mode`` unless the last window would start in the right padding."""
    o = shapes._conv_out(i + (s - 1 if ceil_mode else 0), k, s, p, d)
    if ceil_mode and (o - 1) * s >= i + p:
        o -= 1
    return o


def _output_shape(
    spatial: tuple[int, ...],
    k: tuple[int, ...],
    s: tuple[int, ...],
    p: tuple[int, ...],
    d: tuple[int, ...],
    ceil_mode: bool,
    fn: str,
) -> tuple[int, ...]:
    out = tuple(_out_size(*a, ceil_mode) for a in zip(spatial, k, s, p, d))
    if any(o < 1 for o in out):
        raise ValueError(
            f"{fn}: the output would be empty: input spatial size {spatial} with "
            f"kernel_size={_show(k)}, stride={_show(s)}, padding={_show(p)}, "
            f"dilation={_show(d)}, ceil_mode={ceil_mode} gives output size {out}; the "
            "dilated kernel d*(k-1)+1 must fit in the padded input in + 2*padding"
        )
    return out


def _because(
    k: tuple[int, ...], s: tuple[int, ...], p: tuple[int, ...], d: tuple[int, ...], ceil: Any
) -> str:
    return (
        f"kernel_size={_show(k)}, stride={_show(s)}, padding={_show(p)}, "
        f"dilation={_show(d)}, ceil_mode={bool(ceil)}"
    )


def _axis_taps(i: int, o: int, k: int, s: int, p: int, d: int) -> list[tuple[int, slice, slice]]:
    """The taps of one spatial axis that read the input, as ``(t, outputs, inputs)``.

    Tap ``t`` of output ``j`` reads input ``j s + t d - p``. Only the outputs whose read
    lands in ``[0, i)`` are listed (a slice of the output axis, and the strided slice of
    the input it reads); taps that read padding only are left out, so the cost follows
    the input and the output, never ``kernel_size`` or ``padding`` (padding reads a
    zero for the average, ``-inf`` for the maximum: neither changes the result).

    >>> _axis_taps(5, 2, 3, 2, 1, 1)
    [(0, slice(1, 2, None), slice(1, 2, 2)), (1, slice(0, 2, None), slice(0, 3, 2)), \
(2, slice(0, 2, None), slice(1, 4, 2))]
    """
    t_lo = max(0, -((((o - 1) * s) - p) // d))  # t d >= p - (o - 1) s
    t_hi = min(k - 1, (p + i - 1) // d)  # t d <= p + i - 1
    taps = []
    for t in range(t_lo, t_hi + 1):
        first = t * d - p  # the input output 0 reads
        j_lo = max(0, -(first // s))
        j_hi = min(o - 1, (i - 1 - first) // s)
        if j_lo <= j_hi:
            taps.append(
                (t, slice(j_lo, j_hi + 1), slice(first + j_lo * s, first + j_hi * s + 1, s))
            )
    return taps


def _taps(
    spatial: tuple[int, ...],
    out: tuple[int, ...],
    k: tuple[int, ...],
    s: tuple[int, ...],
    p: tuple[int, ...],
    d: tuple[int, ...],
) -> list[tuple[tuple[int, ...], tuple[slice, ...], tuple[slice, ...]]]:
    """The kernel taps that read the input, in row-major tap order, each with the
    (N, C, *out) slice it writes and the (N, C, *spatial) slice it reads."""
    axes = [_axis_taps(*a) for a in zip(spatial, out, k, s, p, d)]
    both = (slice(None), slice(None))
    return [
        (
            tuple(t for t, _, _ in combo),
            both + tuple(o for _, o, _ in combo),
            both + tuple(i for _, _, i in combo),
        )
        for combo in itertools.product(*axes)
    ]


def _flat_index(coords: Sequence[np.ndarray], spatial: tuple[int, ...]) -> np.ndarray:
    """Row-major flattened position of the grid ``coords[0] x coords[1] x ...``."""
    n = len(coords)
    flat = np.zeros((1,) * n, dtype=np.int64)
    step = 1
    for i in reversed(range(n)):
        flat = flat + _on_axis(coords[i].astype(np.int64), i, n) * step
        step *= spatial[i]
    return flat


def _finish(y: np.ndarray, batched: bool, result: np.dtype, input: Any, vjp: Any) -> Any:
    y = _args.owned((y if batched else y[0]).astype(result, copy=False), input)
    if not isinstance(input, Tensor):
        return y

    def unbatched_vjp(g: np.ndarray) -> tuple[np.ndarray]:
        gx = vjp(g if batched else g[None])
        return (gx if batched else gx[0],)

    return record(y, (input,), unbatched_vjp)


def _scatter(
    g: np.ndarray,
    idx: np.ndarray,
    shape: tuple[int, ...],
    dtype: np.dtype,
    valid: np.ndarray | None = None,
) -> np.ndarray:
    """Gradient of a gather: ``g`` added at the flattened spatial positions ``idx``;
    outputs where ``valid`` is False (windows with no input element) add nothing."""
    nc = shape[0] * shape[1]
    size = math.prod(shape[2:])
    where = idx.reshape(nc, -1) + np.arange(nc, dtype=np.int64)[:, None] * size
    weights = g.reshape(nc, -1).astype(np.float64)
    if valid is not None:
        keep = np.broadcast_to(valid, g.shape).reshape(nc, -1)
        where, weights = where[keep], weights[keep]
    gx = np.bincount(where.ravel(), weights=weights.ravel(), minlength=nc * size)
    return gx.astype(dtype, copy=False).reshape(shape)


def _indices(idx: np.ndarray, batched: bool, input: Any) -> Any:
    idx = idx if batched else idx[0]
    return Tensor(idx) if isinstance(input, Tensor) else idx


# -- average pooling ---------------------------------------------------------------------


def _avg_pool(
    fn: str,
    n: int,
    input: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: int | None,
) -> Any:
    x, batched, result = _prepare(input, n, fn)
    k, s, p, d = _window_args(n, fn, kernel_size, stride, padding)
    if divisor_override is not None:
        if not _args._is_int(divisor_override):
            raise TypeError(
                f"{fn}: divisor_override must be an int or None, got "
                f"{type(divisor_override).__name__} {divisor_override!r}"
            )
        if divisor_override == 0:
            raise ValueError(f"{fn}: divisor_override must be non-zero, got 0")
    spatial = tuple(x.shape[2:])
    if n == 3 and any(i < ki for i, ki in zip(spatial, k)):
        # PyTorch's avg_pool3d (only) also requires the unpadded input to hold a window.
        raise ValueError(
            f"{fn}: the input must be at least kernel_size in every spatial dim, got input "
            f"spatial size {spatial} with kernel_size={_show(k)}"
        )
    out = _output_shape(spatial, k, s, p, d, bool(ceil_mode), fn)
    _args.check_output_size(fn, x.shape[:2] + out, result, _because(k, s, p, d, ceil_mode))
    taps = _taps(spatial, out, k, s, p, d)
    acc = np.zeros(x.shape[:2] + out, dtype=x.dtype)
    for _, osl, isl in taps:
        acc[osl] += x[isl]
    if divisor_override is not None:
        div: Any = x.dtype.type(divisor_override)
    else:
        div = np.ones((1,) * n, dtype=x.dtype)
        for axis, (i, o, ki, si, pi) in enumerate(zip(spatial, out, k, s, p)):
            start = np.arange(o) * si - pi
            end = np.minimum(start, i + pi - ki) + ki  # no int64 overflow for huge kernels
            count = end - start if count_include_pad else np.minimum(end, i) - np.maximum(start, 0)
            div = div * _on_axis(count, axis, n).astype(x.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = acc / div

    def vjp(g: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            gd = np.broadcast_to(g.astype(x.dtype, copy=False) / div, acc.shape)
        gx = np.zeros(x.shape, dtype=x.dtype)
        for _, osl, isl in taps:
            gx[isl] += gd[osl]
        return gx

    return _finish(y, batched, result, input, vjp)


def avg_pool1d(
    input: Any,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Any:
    """Average over windows of ``kernel_size`` samples, as ``torch.nn.functional.avg_pool1d``.

    (N, C, L) or (C, L) -> (N, C, L_out) with
    ``L_out = floor((L + 2 padding - kernel_size) / stride) + 1`` (ceil with
    ``ceil_mode``); ``stride`` defaults to ``kernel_size``. Padded zeros count in
    the divisor unless ``count_include_pad=False``.

    >>> avg_pool1d(np.array([[[1.0, 2.0, 3.0, 4.0, 5.0]]]), 2)
    array([[[1.5, 3.5]]])
    >>> avg_pool1d(np.array([[1.0, 2.0, 3.0]]), 2, padding=1, count_include_pad=False)
    array([[1. , 2.5]])
    """
    return _avg_pool(
        "avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None
    )


def avg_pool2d(
    input: Any,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Any:
    """Average over ``kH x kW`` windows, as ``torch.nn.functional.avg_pool2d``.

    (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out), per dim
    ``out = floor((in + 2 padding - kernel_size) / stride) + 1`` (ceil with
    ``ceil_mode``, windows then clipped at ``in + padding``); ``stride`` defaults
    to ``kernel_size``; ``divisor_override`` replaces the window size as divisor.

    >>> avg_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2)
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]])
    >>> avg_pool2d(np.ones((1, 3, 3)), 3, stride=1, padding=1)[0]
    array([[0.444..., 0.666..., 0.444...],
           [0.666..., 1.       , 0.666...],
           [0.444..., 0.666..., 0.444...]])
    """
    return _avg_pool(
        "avg_pool2d",
        2,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


def avg_pool3d(
    input: Any,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Any:
    """Average over ``kD x kH x kW`` windows, as ``torch.nn.functional.avg_pool3d``.

    (N, C, D, H, W) or (C, D, H, W) -> (N, C, D_out, H_out, W_out), per dim
    ``out = floor((in + 2 padding - kernel_size) / stride) + 1`` (ceil with
    ``ceil_mode``); ``stride`` defaults to ``kernel_size``.

    >>> avg_pool3d(np.arange(8.0).reshape(1, 1, 2, 2, 2), 2)
    array([[[[[3.5]]]]])
    """
    return _avg_pool(
        "avg_pool3d",
        3,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


# -- max pooling -------------------------------------------------------------------------


def _max_pool(
    fn: str,
    n: int,
    input: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    return_indices: bool,
) -> Any:
    x, batched, result = _prepare(input, n, fn)
    k, s, p, d = _window_args(n, fn, kernel_size, stride, padding, dilation)
    spatial = tuple(x.shape[2:])
    out = _output_shape(spatial, k, s, p, d, bool(ceil_mode), fn)
    _args.check_output_size(fn, x.shape[:2] + out, result, _because(k, s, p, d, ceil_mode))
    starts = [np.arange(o) * si - pi for o, si, pi in zip(out, s, p)]
    # PyTorch starts each window's arg-max at its first in-bounds tap.
    # (-(st // d)) * d + st, not st + ceil(-st / d) * d: the products may wrap in int64
    # for huge dilations, the sums then wrap back to the exact result.
    first = [np.where(st < 0, st - (st // di) * di, st) for st, di in zip(starts, d)]
    idx = np.broadcast_to(_flat_index(first, spatial), x.shape[:2] + out).copy()
    # With dilation, a window can hold padding only: its output is -inf, its index
    # PyTorch's (outside the input), and it passes no gradient.
    valid: np.ndarray | None = None
    if any((f >= i).any() for f, i in zip(first, spatial)):
        valid = np.ones((1,) * n, dtype=bool)
        for axis, (f, i) in enumerate(zip(first, spatial)):
            valid = valid & _on_axis(f < i, axis, n)
    best = np.full(x.shape[:2] + out, -np.inf, dtype=x.dtype)
    for tap, osl, isl in _taps(spatial, out, k, s, p, d):
        v = x[isl]
        b = best[osl]
        take = (v > b) | np.isnan(v)
        np.copyto(b, v, where=take)
        coords = [st[o] + t * di for st, o, t, di in zip(starts, osl[2:], tap, d)]
        np.copyto(idx[osl], _flat_index(coords, spatial), where=take)

    def vjp(g: np.ndarray) -> np.ndarray:
        return _scatter(g, idx, x.shape, x.dtype, valid)

    y = _finish(best, batched, result, input, vjp)
    return (y, _indices(idx, batched, input)) if return_indices else y


def max_pool1d(
    input: Any,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """Maximum over windows of ``kernel_size`` samples, as ``torch.nn.functional.max_pool1d``.

    (N, C, L) or (C, L) -> (N, C, L_out) with
    ``L_out = floor((L + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1``
    (ceil with ``ceil_mode``); ``stride`` defaults to ``kernel_size``; padding is
    ``-inf``. ``return_indices=True`` also returns the arg-max positions in L.

    >>> max_pool1d(np.array([[[1.0, 3.0, 2.0, 5.0, 4.0]]]), 2)
    array([[[3., 5.]]])
    >>> max_pool1d(np.array([[1.0, 3.0, 2.0]]), 2, stride=1, return_indices=True)
    (array([[3., 3.]]), array([[1, 1]]))
    """
    return _max_pool(
        "max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool2d(
    input: Any,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """Maximum over ``kH x kW`` windows, as ``torch.nn.functional.max_pool2d``.

    (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out), per dim
    ``out = floor((in + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1``
    (ceil with ``ceil_mode``); indices are positions in the flattened H x W plane.

    >>> max_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2)
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    >>> max_pool2d(np.arange(16.0).reshape(1, 4, 4), 2, return_indices=True)[1]
    array([[[ 5,  7],
            [13, 15]]])
    """
    return _max_pool(
        "max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool3d(
    input: Any,
    kernel_size: IntOrTuple,
    stride: IntOrTuple | None = None,
    padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """Maximum over ``kD x kH x kW`` windows, as ``torch.nn.functional.max_pool3d``.

    (N, C, D, H, W) or (C, D, H, W) -> (N, C, D_out, H_out, W_out), per dim
    ``out = floor((in + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1``
    (ceil with ``ceil_mode``); indices are positions in the flattened D x H x W volume.

    >>> max_pool3d(np.arange(8.0).reshape(1, 1, 2, 2, 2), 2)
    array([[[[[7.]]]]])
    """
    return _max_pool(
        "max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


# -- adaptive pooling --------------------------------------------------------------------


def _adaptive_size(output_size: Any, spatial: tuple[int, ...], fn: str) -> tuple[int, ...]:
    """``output_size`` as one int per spatial dim; None, alone or as an entry, keeps
    that dim's input size (PyTorch's ``_list_with_default``)."""
    n = len(spatial)
    if output_size is None:
        return spatial
    entries = isinstance(output_size, (list, tuple))
    given = tuple(0 if v is None else v for v in output_size) if entries else output_size
    out = _args.non_negative_ntuple(given, n, "output_size", fn)
    if not entries:
        return out
    # ntuple broadcasts the None marks as it broadcast the values.
    keep = _args.ntuple([int(v is None) for v in output_size], n, "output_size", fn)
    return tuple(i if kept else o for o, i, kept in zip(out, spatial, keep))


def _adaptive_windows(i: int, o: int) -> tuple[np.ndarray, np.ndarray]:
    """Window starts ``floor(j i / o)`` and ends ``ceil((j + 1) i / o)`` of output ``j``."""
    j = np.arange(o, dtype=np.int64)
    return (j * i) // o, -((-(j + 1) * i) // o)


def _apply_along(x: np.ndarray, matrices: Sequence[np.ndarray]) -> np.ndarray:
    """Contract spatial dim ``i`` of (N, C, *spatial) with ``matrices[i]`` (out_i, in_i)."""
    for axis, m in enumerate(matrices):
        x = np.moveaxis(np.tensordot(m, x, axes=([1], [axis + 2])), 0, axis + 2)
    return x


def _window_table(i: int, o: int) -> _r.AxisTable:
    """The adaptive windows of one axis as weight-1 taps (``live``: inside a window)."""
    start, end = _adaptive_windows(i, o)
    length = end - start
    offs = np.arange(int(length.max()))[None, :]
    valid = offs < length[:, None]
    idx = np.where(valid, start[:, None] + offs, start[:, None])
    return _r.AxisTable(i, o, idx, valid.astype(np.float64), None if valid.all() else valid)


def _sum_windows(x: np.ndarray, shape: Sequence[tuple[int, int]], adjoint: bool) -> np.ndarray:
    """The window sums (or their adjoint) of (N, C, *spatial) for ``shape`` (in, out)
    per axis, over each window's taps only: a NaN or an inf stays in the windows
    that hold it, where the dense matrices would multiply it by their zeros."""
    apply = _r.apply_axis_adjoint if adjoint else _r.apply_axis
    for axis, (i, o) in enumerate(shape):
        x = apply(x, _window_table(i, o), axis + 2, False)
    return x


def _adaptive_avg_pool(fn: str, n: int, input: Any, output_size: Any) -> Any:
    x, batched, result = _prepare(input, n, fn)
    spatial = tuple(x.shape[2:])
    out = _adaptive_size(output_size, spatial, fn)
    _args.check_output_size(fn, x.shape[:2] + out, result, f"output_size={output_size!r}")
    mats, count = [], np.ones((1,) * n, dtype=x.dtype)
    for axis, (i, o) in enumerate(zip(spatial, out)):
        start, end = _adaptive_windows(i, o)
        pos = np.arange(i)
        mats.append(((pos >= start[:, None]) & (pos < end[:, None])).astype(x.dtype))
        count = count * _on_axis(end - start, axis, n).astype(x.dtype)
    # dense matrices for finite values; sums over the windows where a NaN or an inf is
    axes = list(zip(spatial, out))
    finite = 0 in out or bool(np.isfinite(x).all())  # (no window: nothing to read)
    y = (_apply_along(x, mats) if finite else _sum_windows(x, axes, False)) / count

    def vjp(g: np.ndarray) -> np.ndarray:
        gc = g.astype(x.dtype, copy=False) / count
        if 0 in out or np.isfinite(gc).all():
            return _apply_along(gc, [m.T for m in mats])
        return _sum_windows(gc, axes, True)

    return _finish(y, batched, result, input, vjp)


def adaptive_avg_pool1d(input: Any, output_size: OutputSize) -> Any:
    """Average over ``output_size`` windows that tile L, as
    ``torch.nn.functional.adaptive_avg_pool1d``.

    (N, C, L) or (C, L) -> (N, C, output_size); window ``i`` covers
    ``[floor(i L / out), ceil((i + 1) L / out))``.

    >>> adaptive_avg_pool1d(np.array([[[1.0, 2.0, 3.0, 4.0, 5.0]]]), 2)
    array([[[2., 4.]]])
    """
    return _adaptive_avg_pool("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Any, output_size: OutputSize) -> Any:
    """Average over an ``output_size`` grid of windows, as
    ``torch.nn.functional.adaptive_avg_pool2d``.

    (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out) with ``output_size`` an int
    or (H_out, W_out) (None keeps that input size); window ``i`` of a dim covers
    ``[floor(i in / out), ceil((i + 1) in / out))``. ``output_size=1`` is global
    average pooling.

    >>> adaptive_avg_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 1)
    array([[[[7.5]]]])
    >>> adaptive_avg_pool2d(np.arange(6.0).reshape(1, 2, 3), (1, None))
    array([[[1.5, 2.5, 3.5]]])
    """
    return _adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)


def adaptive_avg_pool3d(input: Any, output_size: OutputSize) -> Any:
    """Average over an ``output_size`` grid of windows, as
    ``torch.nn.functional.adaptive_avg_pool3d``.

    (N, C, D, H, W) or (C, D, H, W) -> (N, C, D_out, H_out, W_out); window ``i`` of
    a dim covers ``[floor(i in / out), ceil((i + 1) in / out))``.

    >>> adaptive_avg_pool3d(np.arange(8.0).reshape(1, 1, 2, 2, 2), 1)
    array([[[[[3.5]]]]])
    """
    return _adaptive_avg_pool("adaptive_avg_pool3d", 3, input, output_size)


def _adaptive_max_pool(fn: str, n: int, input: Any, output_size: Any, return_indices: bool) -> Any:
    x, batched, result = _prepare(input, n, fn)
    spatial = tuple(x.shape[2:])
    out = _adaptive_size(output_size, spatial, fn)
    _args.check_output_size(fn, x.shape[:2] + out, result, f"output_size={output_size!r}")
    windows = [_adaptive_windows(i, o) for i, o in zip(spatial, out)]
    widths = [int((end - start).max(initial=0)) for start, end in windows]
    idx = np.broadcast_to(_flat_index([st for st, _ in windows], spatial), x.shape[:2] + out)
    idx = idx.copy()
    best = np.full(x.shape[:2] + out, -np.inf, dtype=x.dtype)
    # Windows differ in length: tap t reads start + t, clamped to the window's last
    # element (a repeat, which never changes the first-maximum choice).
    for tap in itertools.product(*(range(w) for w in widths)):
        coords = [np.minimum(st + t, end - 1) for (st, end), t in zip(windows, tap)]
        v = x[(slice(None), slice(None)) + np.ix_(*coords)]
        take = (v > best) | np.isnan(v)
        best = np.where(take, v, best)
        idx = np.where(take, _flat_index(coords, spatial), idx)

    def vjp(g: np.ndarray) -> np.ndarray:
        return _scatter(g, idx, x.shape, x.dtype)

    y = _finish(best, batched, result, input, vjp)
    return (y, _indices(idx, batched, input)) if return_indices else y


def adaptive_max_pool1d(input: Any, output_size: OutputSize, return_indices: bool = False) -> Any:
    """Maximum over ``output_size`` windows that tile L, as
    ``torch.nn.functional.adaptive_max_pool1d``.

    (N, C, L) or (C, L) -> (N, C, output_size); window ``i`` covers
    ``[floor(i L / out), ceil((i + 1) L / out))``.

    >>> adaptive_max_pool1d(np.array([[[1.0, 5.0, 3.0, 4.0, 2.0]]]), 2)
    array([[[5., 4.]]])
    """
    return _adaptive_max_pool("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input: Any, output_size: OutputSize, return_indices: bool = False) -> Any:
    """Maximum over an ``output_size`` grid of windows, as
    ``torch.nn.functional.adaptive_max_pool2d``.

    (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out); window ``i`` of a dim covers
    ``[floor(i in / out), ceil((i + 1) in / out))``; indices are positions in the
    flattened H x W plane.

    >>> adaptive_max_pool2d(np.arange(16.0).reshape(1, 1, 4, 4), 2)
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    """
    return _adaptive_max_pool("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool3d(input: Any, output_size: OutputSize, return_indices: bool = False) -> Any:
    """Maximum over an ``output_size`` grid of windows, as
    ``torch.nn.functional.adaptive_max_pool3d``.

    (N, C, D, H, W) or (C, D, H, W) -> (N, C, D_out, H_out, W_out); window ``i`` of
    a dim covers ``[floor(i in / out), ceil((i + 1) in / out))``.

    >>> adaptive_max_pool3d(np.arange(8.0).reshape(1, 1, 2, 2, 2), 1)
    array([[[[[7.]]]]])
    """
    return _adaptive_max_pool("adaptive_max_pool3d", 3, input, output_size, return_indices)
