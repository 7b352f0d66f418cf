"""Separable resampling kernels: PyTorch's ``interpolate`` modes and pixel shuffle.

No validation happens here: :mod:`tconv.upsampling` checks the arguments and
calls these functions with plain ints and floats.

Every interpolation mode is separable. Along one spatial axis it is described
by an :class:`AxisTable`: for each output sample ``o``, ``taps`` source indices
``index[o, t]`` and weights ``weight[o, t]``, so that

    y[o] = sum_t weight[o, t] * x[index[o, t]]

The N-d operation applies one table per spatial axis (in any order: the axes
commute). Each table is also a small ``(out, in)`` matrix ``M``; the forward
pass is ``M`` applied along the axis and the backward pass (the adjoint) is
``M^T``. Small axes use the dense matrix and one GEMM; long axes gather the
``taps`` columns (forward) or sum them back with a sort + ``np.add.reduceat``
(adjoint): no per-pixel Python loops either way.

Non-finite values: a dense matrix multiplies its zeros by an inf (NaN across
the axis), so an axis whose operand holds a NaN or an inf is applied as the
gathers instead, over the taps PyTorch reads: its kernels multiply a linear or
cubic tap of weight 0 too (``0 * inf`` is NaN there as well), but never the
slots past a window's end (``live``) of ``area`` and the anti-aliased modes.

The coordinate maps follow ``aten/src/ATen/native/UpSample.h`` and the CPU
kernels of ``UpSampleKernel.cpp`` (PyTorch 2.x), including their float32
arithmetic where it decides an index (nearest modes).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from . import _threads

# An axis whose input is at most this long (or 64 per tap, up to 8 taps) is
# resampled with a dense (out, in) matrix and GEMMs.
_DENSE_MAX_IN = 192
# Above this many taps per output (an area or anti-aliased window of a large
# down-scale), one gather of all taps and a reduction per window replace the
# loop over taps.
_MANY_TAPS = 64
# Below this many columns, a GEMM per slice is too thin; transpose instead.
_MIN_GEMM_WIDTH = 32


@dataclass(frozen=True)
class AxisTable:
    """Index/weight table of one axis: ``y[o] = sum_t weight[o, t] x[index[o, t]]``.

    ``weight`` is None for a pure gather (the nearest modes, one tap of weight 1).
    ``live`` marks the taps PyTorch reads when windows differ in length (the
    rest pad the table with weight 0 and must not meet a NaN or an inf); None:
    every tap.
    """

    in_size: int
    out_size: int
    index: np.ndarray  # (out, taps) int64, each in [0, in_size)
    weight: np.ndarray | None  # (out, taps) float64, or None
    live: np.ndarray | None = None  # (out, taps) bool, or None
    #: the table computes ``1 x[o] + 0 x[o]``: a copy of a finite ``x`` (PyTorch's
    #: linear modes when the size is unchanged; an inf there gives NaN)
    copies: bool = False

    @property
    def is_identity(self) -> bool:
        return (
            self.weight is None
            and self.in_size == self.out_size
            and bool(np.array_equal(self.index[:, 0], np.arange(self.out_size)))
        )

    @property
    def repeat_factor(self) -> int:
        """``s`` when this axis is a plain repetition ``y[o] = x[o // s]``, else 0."""
        s = self.out_size // self.in_size
        if self.weight is None and s >= 1 and self.out_size == s * self.in_size:
            if np.array_equal(self.index[:, 0], np.arange(self.out_size) // s):
                return s
        return 0

    @property
    def taps(self) -> int:
        return int(self.index.shape[1])

    def matrix(self, dtype: np.dtype | type = np.float64) -> np.ndarray:
        """The dense ``(out, in)`` matrix of this axis."""
        m = np.zeros((self.out_size, self.in_size), dtype=np.float64)
        rows = np.broadcast_to(np.arange(self.out_size)[:, None], self.index.shape)
        w = np.ones(self.index.shape) if self.weight is None else self.weight
        np.add.at(m, (rows.ravel(), self.index.ravel()), w.ravel())
        return m.astype(dtype, copy=False)


def identity_table(n: int) -> AxisTable:
    """The table of an axis left as it is."""
    return AxisTable(n, n, np.arange(n)[:, None], None)


# ---------------------------------------------------------------------------
# Coordinate maps (UpSample.h)


def _scale_value(scale: float | None, n_in: int, n_out: int, dtype: type) -> float:
    """``compute_scales_value``: ``1/scale_factor`` as given, else ``in/out`` (in ``dtype``)."""
    if scale is not None and scale > 0:
        return float(dtype(1.0 / scale))
    return float(dtype(n_in) / dtype(n_out))


def _area_scale(
    n_in: int, n_out: int, align_corners: bool, scale: float | None, dtype: type
) -> float:
    """``area_pixel_compute_scale``: ``(in-1)/(out-1)`` (0 when out = 1) with
    align_corners, else :func:`_scale_value`."""
    if align_corners:
        return float(dtype(n_in - 1) / dtype(n_out - 1)) if n_out > 1 else 0.0
    return _scale_value(scale, n_in, n_out, dtype)


def _floor_index(src: np.ndarray, n_in: int) -> np.ndarray:
    """The first tap of a linear or cubic window, as PyTorch's ``guard_index_and_lambda``
    takes it: ``floorf`` of the source coordinate, in float32 whatever the dtype (a
    float64 coordinate a hair below an integer rounds up to it, and the tap below, of
    weight 1e-16, is not read: an inf there stays out), at most the last input."""
    return np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), n_in - 1)


def _source_coord(
    n_out: int, scale: float, align_corners: bool, cubic: bool, dtype: type
) -> np.ndarray:
    """``area_pixel_compute_source_index`` for every output index, rounded to ``dtype``."""
    dst = np.arange(n_out, dtype=np.float64)
    if align_corners:
        src = (dtype(scale) * dst.astype(dtype)).astype(np.float64)
    elif dtype == np.float64:
        # PyTorch's kernels are built with FMA: ``scale (dst + 0.5) - 0.5`` rounds
        # once (a source index of exactly 0 or just above decides 0 * inf)
        fused = np.longdouble(scale) * (dst + 0.5).astype(np.longdouble) - 0.5
        src = fused.astype(np.float64)
        if not cubic:
            src = np.maximum(src, 0.0)
    else:  # float32: the float64 product is exact, one rounding as the fused op
        src = np.asarray(scale * (dst + 0.5) - 0.5, dtype=dtype).astype(np.float64)
        if not cubic:
            src = np.maximum(src, 0.0)
    return src


def nearest_table(
    n_in: int,
    n_out: int,
    scale: float | None,
    exact: bool,
    dtype: type = np.float64,
    legacy: bool = False,
) -> AxisTable:
    """``nearest`` (``src = floor(dst * scale)``) or ``nearest-exact``
    (``src = floor((dst + 0.5) * scale)``), clamped to ``in - 1``.

    PyTorch has two index functions that differ only where rounding decides:
    its generic CPU kernel computes the scale and the coordinate in ``dtype``
    and rounds to float32 before the floor (``floorf``); its ``nearest_idx``
    (the backward pass, and the forward pass of small 2-D outputs) uses a
    float32 scale and short-cuts ``out == in`` and ``out == 2 in``
    (``legacy=True``).

    >>> nearest_table(3, 7, None, exact=False).index[:, 0]
    array([0, 0, 0, 1, 1, 2, 2])
    >>> nearest_table(3, 7, None, exact=True).index[:, 0]
    array([0, 0, 1, 1, 1, 2, 2])
    """
    dst = np.arange(n_out)
    if legacy:
        s32 = np.float32(_scale_value(scale, n_in, n_out, np.float32))
        if exact:
            src = ((dst + 0.5) * np.float64(s32)).astype(np.float32)
        elif n_out == n_in:
            src = dst
        elif n_out == 2 * n_in:
            src = dst >> 1
        else:
            src = dst.astype(np.float32) * s32
    else:
        s = dtype(_scale_value(scale, n_in, n_out, dtype))
        if exact:
            src = np.maximum(np.asarray(np.float64(s) * (dst + 0.5) - 0.5, dtype=dtype), 0)
            src = src.astype(np.float64) + 0.5
        else:
            src = s * dst.astype(dtype)
    idx = np.floor(np.asarray(src).astype(np.float32)).astype(np.int64)
    idx = np.minimum(idx, n_in - 1)
    return AxisTable(n_in, n_out, idx[:, None], None)


def linear_table(
    n_in: int, n_out: int, scale: float | None, align_corners: bool, dtype: type = np.float64
) -> AxisTable:
    """Linear interpolation, two taps (``upsample_linear1d`` and its 2-D/3-D kin).

    >>> t = linear_table(2, 4, None, align_corners=False)
    >>> t.matrix()
    array([[1.  , 0.  ],
           [0.75, 0.25],
           [0.25, 0.75],
           [0.  , 1.  ]])
    """
    if n_out == n_in:  # PyTorch's "copy": both taps at o, weights 1 and 0
        idx = np.repeat(np.arange(n_in)[:, None], 2, axis=1)
        return AxisTable(n_in, n_out, idx, np.array([[1.0, 0.0]] * n_in), copies=True)
    s = _area_scale(n_in, n_out, align_corners, scale, dtype)
    src = _source_coord(n_out, s, align_corners, False, dtype)
    i0 = _floor_index(src, n_in)
    lam1 = np.clip((src - i0).astype(dtype), 0.0, 1.0).astype(np.float64)
    i1 = i0 + (i0 < n_in - 1)
    idx = np.stack([i0, i1], axis=1)
    w = np.stack([1.0 - lam1, lam1], axis=1)
    return AxisTable(n_in, n_out, idx, w)


def _fma(a: np.ndarray, b: np.ndarray, c: float) -> np.ndarray:
    """``a b + c`` rounded once to ``a``'s dtype, as PyTorch's kernels (built with
    FMA) compute it: float32 exactly through float64 (the product is exact there);
    float64 by Dekker's error-free product and sum (the error terms added last)."""
    if a.dtype != np.float64:
        return np.asarray(a.astype(np.float64) * b.astype(np.float64) + c, dtype=a.dtype)
    p = a * b
    split = 134217729.0  # 2^27 + 1: Veltkamp's split of a double into two halves
    ah = a * split - (a * split - a)
    bh = b * split - (b * split - b)
    err = ((ah * bh - p) + ah * (b - bh) + (a - ah) * bh) + (a - ah) * (b - bh)
    total = p + c
    back = total - p
    lost = (p - (total - back)) + (c - back)  # p + c = total + lost, exactly
    return total + (lost + err)


def _keys_near(x: np.ndarray, a: float, fused: bool = False) -> np.ndarray:
    """Keys' cubic kernel on ``|x| <= 1``, in PyTorch's order of operations
    (``cubic_convolution1``); ``fused``: with the fused multiply-adds of its
    anti-aliased filter, whose rounding near ``|x| = 1`` leaves the tiny weights
    PyTorch has there (an inf that meets one is an inf, not a NaN)."""
    if not fused:
        return ((a + 2) * x - (a + 3)) * x * x + 1
    return _fma(_fma(np.full_like(x, a + 2), x, -(a + 3)) * x, x, 1.0)


def _keys_far(x: np.ndarray, a: float, fused: bool = False) -> np.ndarray:
    """Keys' cubic kernel on ``1 < |x| < 2``, in PyTorch's order of operations
    (``cubic_convolution2``); ``fused`` as in :func:`_keys_near`."""
    if not fused:
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return _fma(_fma(_fma(np.full_like(x, a), x, -5 * a), x, 8 * a), x, -4 * a)


def _cubic_coeffs(t: np.ndarray, a: float) -> np.ndarray:
    """Keys' cubic convolution weights of the taps at offsets -1, 0, 1, 2 (``t`` in
    [0, 1]), in ``t``'s dtype as PyTorch's ``get_cubic_upsample_coefficients``: a
    float32 weight computed in float64 can be 1e-8 where PyTorch's is 0."""
    one, two = t.dtype.type(1), t.dtype.type(2)
    taps = (_keys_far(t + one, a), _keys_near(t, a), _keys_near(one - t, a), _keys_far(two - t, a))
    return np.stack(taps, axis=1)


def cubic_table(
    n_in: int, n_out: int, scale: float | None, align_corners: bool, dtype: type = np.float64
) -> AxisTable:
    """Bicubic interpolation (A = -0.75), four taps clamped to the border.

    >>> cubic_table(4, 8, None, False).weight[2]
    array([-0.03515625,  0.26171875,  0.87890625, -0.10546875])
    """
    s = _area_scale(n_in, n_out, align_corners, scale, dtype)
    src = _source_coord(n_out, s, align_corners, True, dtype)
    i0 = _floor_index(src, n_in)
    t = np.clip((src - i0).astype(dtype), 0.0, 1.0)
    idx = np.clip(i0[:, None] + np.arange(-1, 3)[None, :], 0, n_in - 1)
    return AxisTable(n_in, n_out, idx, _cubic_coeffs(t, -0.75).astype(np.float64))


def area_table(n_in: int, n_out: int) -> AxisTable:
    """``area``: adaptive average pooling, windows ``[floor(o in/out), ceil((o+1) in/out))``.

    >>> area_table(5, 2).matrix()
    array([[0.33333333, 0.33333333, 0.33333333, 0.        , 0.        ],
           [0.        , 0.        , 0.33333333, 0.33333333, 0.33333333]])
    """
    o = np.arange(n_out)
    start = (o * n_in) // n_out
    end = ((o + 1) * n_in + n_out - 1) // n_out
    length = end - start
    taps = int(length.max())
    offs = np.arange(taps)[None, :]
    valid = offs < length[:, None]
    idx = np.where(valid, start[:, None] + offs, start[:, None])
    w = np.where(valid, 1.0 / length[:, None], 0.0)
    return AxisTable(n_in, n_out, idx, w, None if valid.all() else valid)


def _triangle(x: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, 1.0 - np.abs(x))


def _keys_half(x: np.ndarray) -> np.ndarray:
    """Keys' cubic kernel with a = -0.5, PyTorch's anti-aliased bicubic filter."""
    x = np.abs(x)
    near, far = _keys_near(x, -0.5, fused=True), _keys_far(x, -0.5, fused=True)
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def _sinc(x: np.ndarray) -> np.ndarray:
    """PyTorch's ``sin(x pi) / (x pi)``, 1 at 0, in ``x``'s precision: near the
    zeros the sign of a tiny weight decides the sign of an inf it meets."""
    px = np.asarray(x.astype(np.float64) * np.pi, dtype=x.dtype)
    safe = np.where(x == 0, x.dtype.type(1), px)
    return np.where(x == 0, x.dtype.type(1), np.sin(safe) / safe)


def _lanczos3(x: np.ndarray) -> np.ndarray:
    return np.where(np.abs(x) < 3.0, _sinc(x) * _sinc(x / x.dtype.type(3)), 0.0)


# mode -> (filter, interp_size): the filter's support is interp_size / 2
AA_FILTERS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], int]] = {
    "bilinear": (_triangle, 2),
    "bicubic": (_keys_half, 4),
    "lanczos": (_lanczos3, 6),
}


def aa_table(
    n_in: int,
    n_out: int,
    scale: float | None,
    align_corners: bool,
    mode: str,
    dtype: type = np.float64,
    skip_same: bool = True,
) -> AxisTable:
    """Anti-aliased resampling (``_compute_indices_weights_aa``): when down-scaling, the
    filter is stretched by the scale (support ``interp_size/2 * scale``), and the
    weights of each output are normalised to sum to 1. PyTorch's forward pass
    skips the axes whose size is unchanged, its backward pass does not
    (``skip_same``).

    >>> aa_table(4, 2, None, False, "bilinear").matrix()
    array([[0.42857143, 0.42857143, 0.14285714, 0.        ],
           [0.        , 0.14285714, 0.42857143, 0.42857143]])
    """
    if n_in == n_out and skip_same:  # PyTorch's forward skips an axis whose size is unchanged
        return identity_table(n_in)
    filt, interp_size = AA_FILTERS[mode]
    s = _area_scale(n_in, n_out, align_corners, scale, dtype)
    # center, support and the window bounds rounded to ``dtype`` as PyTorch's
    # scalar_t arithmetic does: they decide which taps are read (live)
    support = float(dtype(interp_size * 0.5 * s if s >= 1.0 else interp_size * 0.5))
    max_taps = math.ceil(support) * 2 + 1
    invscale = float(dtype(1.0 / s)) if s >= 1.0 else 1.0
    center: np.ndarray = np.asarray(s * (np.arange(n_out) + 0.5), dtype=dtype)
    sup = dtype(support)
    lo = np.asarray(center - sup, dtype=dtype).astype(np.float64)
    hi = np.asarray(center + sup, dtype=dtype).astype(np.float64)
    xmin = np.maximum((lo + 0.5).astype(np.int64), 0)
    xmax = np.minimum((hi + 0.5).astype(np.int64), n_in)
    xsize = np.clip(xmax - xmin, 0, max_taps)
    offs = np.arange(max_taps)[None, :]
    valid = offs < xsize[:, None]
    idx = np.minimum(xmin[:, None] + offs, n_in - 1)
    # (j + xmin) - center in dtype, then + 0.5 and * invscale in double
    taps_at: np.ndarray = (xmin[:, None] + offs).astype(dtype)
    arg: np.ndarray = np.asarray(taps_at - center[:, None], dtype=dtype)
    arg = np.asarray((arg.astype(np.float64) + 0.5) * invscale, dtype=dtype)
    w = np.where(valid, filt(arg).astype(np.float64), 0.0)
    total = w.sum(axis=1, keepdims=True)
    w = np.divide(w, total, out=np.zeros_like(w), where=total != 0)
    return AxisTable(n_in, n_out, idx, w, None if valid.all() else valid)


# ---------------------------------------------------------------------------
# Applying tables along axes


def _use_dense(t: AxisTable) -> bool:
    """Dense GEMM when ``in`` is short compared with the work of the taps: a GEMM does
    ``in`` multiply-adds per output at BLAS speed, the gathers ``taps`` at memory speed."""
    return t.weight is not None and t.in_size <= max(_DENSE_MAX_IN, 64 * min(t.taps, 8))


def _matmul_axis(x: np.ndarray, m: np.ndarray, axis: int) -> np.ndarray:
    """``m`` (out, in) applied along ``axis`` of ``x``: GEMMs, without transposing ``x``."""
    n_in, n_out = x.shape[axis], m.shape[0]
    lead = x.shape[:axis]
    if axis == x.ndim - 1:
        y = _threads.matmul(np.ascontiguousarray(x).reshape(-1, n_in), m.T)
        return y.reshape(*lead, n_out)
    tail = x.shape[axis + 1 :]
    pre, post = math.prod(lead), math.prod(tail)
    x3 = np.ascontiguousarray(x).reshape(pre, n_in, post)
    if post < _MIN_GEMM_WIDTH:  # narrow: move the axis last, one GEMM, move it back
        y2 = _threads.matmul(x3.transpose(0, 2, 1).reshape(-1, n_in), m.T)
        y3 = np.ascontiguousarray(y2.reshape(pre, post, n_out).transpose(0, 2, 1))
        return y3.reshape(*lead, n_out, *tail)
    # np.matmul broadcasting m over a stack does not call BLAS: one GEMM per slice does
    y = np.empty((pre, n_out, post), dtype=np.result_type(x, m))
    nw = _threads.workers(pre * n_out * n_in * post)
    _threads.map_chunks(lambda b: np.matmul(m, x3[b], out=y[b]), range(pre), nw)
    return y.reshape(*lead, n_out, *tail)


def _bshape(ndim: int, axis: int, n: int) -> tuple[int, ...]:
    return tuple(n if a == axis else 1 for a in range(ndim))


def _finite(a: np.ndarray) -> bool:
    return bool(np.isfinite(a).all())


def apply_axis(x: np.ndarray, t: AxisTable, axis: int, finite: bool | None = None) -> np.ndarray:
    """``y[..., o, ...] = sum_t weight[o, t] x[..., index[o, t], ...]`` along ``axis``.

    ``finite``: whether ``x`` holds no NaN or inf, if known (else checked where
    it matters). A non-finite ``x`` takes the gathers over the live taps only.
    """
    if t.is_identity:
        return x
    if t.weight is None:
        return np.take(x, t.index[:, 0], axis=axis)
    if finite is None and (_use_dense(t) or t.live is not None or t.copies):
        finite = _finite(x)
    if t.copies and finite:
        return x
    if finite is None and (_use_dense(t) or t.live is not None):
        finite = _finite(x)
    if _use_dense(t) and finite:
        return _matmul_axis(x, t.matrix(x.dtype), axis)
    if t.taps > _MANY_TAPS:
        return _window_sums(x, t, axis)
    y: np.ndarray | None = None
    for k in range(t.taps):
        w = t.weight[:, k].astype(x.dtype).reshape(_bshape(x.ndim, axis, t.out_size))
        term = np.take(x, t.index[:, k], axis=axis)
        term *= w
        if t.live is not None and not finite and not t.live[:, k].all():
            # slots past their window's end: PyTorch reads nothing there
            dead = ~t.live[:, k].reshape(_bshape(x.ndim, axis, t.out_size))
            term = np.where(dead, x.dtype.type(0), term)
        y = term if y is None else np.add(y, term, out=y)
    assert y is not None
    return y


def _window_sums(x: np.ndarray, t: AxisTable, axis: int) -> np.ndarray:
    """:func:`apply_axis` over the live taps only, as one gather of them all and
    one ``np.add.reduceat`` per output window: a reduction whose cost follows the
    table (output x live taps), where a loop over the taps pays a Python step
    and a pass over the output per tap (an area window of 2**20 inputs)."""
    keep = None if t.live is None else t.live.ravel()
    src = t.index.ravel() if keep is None else t.index.ravel()[keep]
    rows = np.repeat(np.arange(t.out_size), t.taps)
    rows = rows if keep is None else rows[keep]
    assert t.weight is not None
    w = t.weight.ravel() if keep is None else t.weight.ravel()[keep]
    terms = np.take(x, src, axis=axis)
    terms *= w.astype(x.dtype).reshape(_bshape(x.ndim, axis, w.size))
    starts = np.flatnonzero(np.diff(rows, prepend=-1))  # rows ascend: where each begins
    present = rows[starts]
    sums = np.add.reduceat(terms, starts, axis=axis)
    if present.size == t.out_size:
        return sums
    shape = list(x.shape)
    shape[axis] = t.out_size
    y = np.zeros(shape, dtype=sums.dtype)  # a window without a live tap reads nothing
    where: list[slice | np.ndarray] = [slice(None)] * x.ndim
    where[axis] = present
    y[tuple(where)] = sums
    return y


def apply_axis_adjoint(
    g: np.ndarray, t: AxisTable, axis: int, finite: bool | None = None
) -> np.ndarray:
    """The adjoint of :func:`apply_axis`:
    ``x[..., i, ...] = sum over index[o, t] = i of weight[o, t] g[..., o, ...]``
    (over the live taps; ``finite`` as for :func:`apply_axis`)."""
    if t.is_identity:
        return g
    if t.copies and (finite if finite is not None else _finite(g)):
        return g
    s = t.repeat_factor
    if s:  # the adjoint of repeating each sample s times: add the s strided phases
        sl: list[slice] = [slice(None)] * g.ndim
        sl[axis] = slice(0, None, s)
        acc = g[tuple(sl)].copy()
        for j in range(1, s):
            sl[axis] = slice(j, None, s)
            acc += g[tuple(sl)]
        return acc
    if _use_dense(t) and (finite if finite is not None else _finite(g)):
        return _matmul_axis(g, np.ascontiguousarray(t.matrix(g.dtype).T), axis)
    src = t.index.ravel()
    rows = np.repeat(np.arange(t.out_size), t.taps)
    weight = None if t.weight is None else t.weight.ravel()
    if t.live is not None:  # the padding slots add 0 where g is finite, NaN where not
        keep = t.live.ravel()
        src, rows = src[keep], rows[keep]
        weight = None if weight is None else weight[keep]
    order = np.argsort(src, kind="stable")
    src, rows = src[order], rows[order]
    gathered = np.take(g, rows, axis=axis)
    if weight is not None:
        w = weight[order].astype(g.dtype)
        gathered *= w.reshape(_bshape(g.ndim, axis, w.size))
    present, starts = np.unique(src, return_index=True)
    sums = np.add.reduceat(gathered, starts, axis=axis)
    if present.size == t.in_size:
        return sums
    shape = list(g.shape)
    shape[axis] = t.in_size
    out = np.zeros(shape, dtype=g.dtype)
    where: list[slice | np.ndarray] = [slice(None)] * g.ndim
    where[axis] = present
    out[tuple(where)] = sums
    return out


def _order(tables: Sequence[AxisTable]) -> list[int]:
    # Shrinking axes first, growing axes last: the intermediate arrays stay small.
    return sorted(range(len(tables)), key=lambda i: tables[i].out_size / tables[i].in_size)


def _by_planes(
    fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, n_sp: int, out_sp: tuple[int, ...]
) -> np.ndarray:
    """``fn`` (which maps the trailing ``n_sp`` axes) applied to chunks of the
    leading planes, on the worker threads when the call is large: the planes are
    independent, and chunks of a few MiB keep each one's intermediates in cache."""
    lead = x.shape[: x.ndim - n_sp]
    planes = math.prod(lead)
    per_plane = max(math.prod(x.shape[x.ndim - n_sp :]), math.prod(out_sp))
    nw = _threads.workers(4 * planes * per_plane)
    step = max(1, (4 * 2**20 // x.itemsize) // max(1, per_plane))
    if nw > 1:
        step = min(step, -(-planes // nw))
    if planes <= step:
        return fn(x)
    xf = x.reshape(planes, *x.shape[x.ndim - n_sp :])
    y = np.empty((planes, *out_sp), dtype=x.dtype)

    def run(sl: slice) -> None:
        y[sl] = fn(xf[sl])

    _threads.map_chunks(run, [slice(i, i + step) for i in range(0, planes, step)], nw)
    return y.reshape(*lead, *out_sp)


def _checked(
    run: Callable[[np.ndarray, bool | None], np.ndarray],
    a: np.ndarray,
    tables: Sequence[AxisTable],
    adjoint: bool,
) -> np.ndarray:
    """``run(a, finite)`` with one finiteness pass over the smaller of its operand
    and its result: the dense GEMMs are exact when ``a`` is finite, and they
    multiply every input by every weight (zeros too), so a result without a NaN
    or an inf came from a finite ``a`` or never read its NaNs and infs. Otherwise
    the axes are applied again as gathers over the taps PyTorch reads."""
    n_in = math.prod(t.in_size for t in tables)
    n_out = math.prod(t.out_size for t in tables)
    if adjoint:
        n_in, n_out = n_out, n_in
    if n_out < n_in:
        y = run(a, True)
        return y if _finite(y) else run(a, None)
    return run(a, True if _finite(a) else None)


def resample(x: np.ndarray, tables: Sequence[AxisTable]) -> np.ndarray:
    """Apply one table per trailing axis of ``x`` (N, C, *spatial) -> (N, C, *out)."""

    def run(a: np.ndarray, finite: bool | None) -> np.ndarray:
        first = a.ndim - len(tables)
        y = a
        for i in _order(tables):
            y = apply_axis(y, tables[i], first + i, finite)
        return y

    def fn(a: np.ndarray) -> np.ndarray:
        y = _checked(run, a, tables, adjoint=False)
        return y if y is not a else y.copy()

    return _by_planes(fn, x, len(tables), tuple(t.out_size for t in tables))


def resample_adjoint(g: np.ndarray, tables: Sequence[AxisTable]) -> np.ndarray:
    """The gradient of :func:`resample` with respect to its input, given ``g`` = dL/dy."""

    def run(a: np.ndarray, finite: bool | None) -> np.ndarray:
        first = a.ndim - len(tables)
        x = a
        for i in reversed(_order(tables)):
            x = apply_axis_adjoint(x, tables[i], first + i, finite)
        return x

    def fn(a: np.ndarray) -> np.ndarray:
        x = _checked(run, a, tables, adjoint=True)
        return x if x is not a else x.copy()

    return _by_planes(fn, g, len(tables), tuple(t.in_size for t in tables))


# ---------------------------------------------------------------------------
# Pixel shuffle


def pixel_shuffle(x: np.ndarray, r: int) -> np.ndarray:
    """``out[..., c, h r + i, w r + j] = x[..., c r^2 + i r + j, h, w]``.

    >>> pixel_shuffle(np.arange(4.0).reshape(4, 1, 1), 2)
    array([[[0., 1.],
            [2., 3.]]])
    """
    *lead, c, h, w = x.shape
    c_out = c // (r * r)
    y = x.reshape(*lead, c_out, r, r, h, w)
    n = len(lead)
    y = y.transpose(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return np.ascontiguousarray(y).reshape(*lead, c_out, h * r, w * r)


def pixel_unshuffle(x: np.ndarray, r: int) -> np.ndarray:
    """The inverse (and the adjoint) of :func:`pixel_shuffle`.

    >>> pixel_unshuffle(np.arange(4.0).reshape(1, 2, 2), 2)[:, 0, 0]
    array([0., 1., 2., 3.])
    """
    *lead, c, h, w = x.shape
    y = x.reshape(*lead, c, h // r, r, w // r, r)
    n = len(lead)
    y = y.transpose(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return np.ascontiguousarray(y).reshape(*lead, c * r * r, h // r, w // r)
