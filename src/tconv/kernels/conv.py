"""GEMM kernels for N-d convolution and transposed convolution.

No validation happens here: the public ops in :mod:`tconv.functional` check
their arguments and call these functions with plain tuples of ints.

Both kernels take the same geometry, per spatial dim: stride ``s``,
dilation ``d``, a leading offset ``lo`` and the output size. With that one
description they serve the forward ops and each other's gradients:

* ``conv_nd``: ``y[o] = sum_t x[o s + t d - lo] w[t]`` (cross-correlation,
  zeros outside ``x``). ``lo`` is the left padding; the right padding follows
  from the output size.
* ``conv_transpose_nd``: ``full[i s + t d] += x[i] w[t]``, ``y[j] = full[j + lo]``
  (scatter, then crop; zeros past ``full``). ``lo`` is PyTorch's ``padding``;
  output_padding is folded into the output size.

The transposed convolution is one GEMM ``W^T x`` giving the columns (one slab
per kernel tap), then an overlap-add (col2im) that loops over kernel taps only:
with a stride, each tap's slab is one contiguous add into its output phase
(:mod:`.phases`), and the phases are interleaved into the output once. The
convolution builds its columns (im2col) with one copy per tap — contiguous,
from the input's phase buffers, when strided; row-shifted views along the first
dim when not — then one GEMM. Which path takes a call depends on its geometry
alone (the rules and their measurements are at each choice). Temporaries are
chunked over the batch, then over kernel taps (or phases), to fit the memory
budget; the batch chunks run on the worker threads of :mod:`._threads`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _jit, _threads
from . import settings as _config
from ._layout import (
    _ALL2,
    Ints,
    _chunks,
    _padded,
    _phase_block,
    _put,
    _span,
    _tap_slices,
    _window_slices,
)
from .phases import _conv_phases, _conv_transpose_phases, _phase_grid
from .settings import get_memory_budget

# The flat phase buffers run their GEMMs over a zero-padded grid: when it is this
# many times the map or more (tiny maps: 4x4 -> 5x5 is 1.56, 2x2 -> 3x3 2.25) the
# waste outweighs the contiguous adds and copies, and the transposed convolution
# goes channels-last, the convolution to the strided im2col. Measured (k4 s2
# layers, 2 cores): channels-last 1.5-1.8x faster on 4x4 and 2x2 maps, phases
# 1.1-1.8x faster from 8x8 up (the 3-D volume too), a tie around 1.3; likewise
# for the strided convolutions of their backward passes.
_CL_PADDING = 1.4

# Below this many output positions per sample, the batch is folded into the
# GEMM columns (one large GEMM); above it, a batched GEMM per sample avoids the
# transposes that folding costs.
_FOLD_BELOW = 1024


def conv_transpose_nd(
    x: np.ndarray,
    w: np.ndarray,
    stride: Ints,
    dilation: Ints,
    groups: int,
    lo: Ints,
    out_size: Ints,
    bias: np.ndarray | None = None,
) -> np.ndarray:
    """Transposed convolution: x (N, C_in, *L), w (C_in, C_out/g, *k) -> (N, C_out, *out_size),
    plus ``bias`` (C_out,) if given, added where the output is written anyway
    (no extra pass over it)."""
    n, c_in = x.shape[:2]
    n_in = tuple(x.shape[2:])
    k = tuple(w.shape[2:])
    g = groups
    c_in_g, c_out_g = c_in // g, w.shape[1]
    c_out = c_out_g * g
    n_taps = math.prod(k)
    p_in = math.prod(n_in)
    # every path writes all of y, but for the adds straight into it (zeroed there)
    y = np.empty((n, g, c_out_g, *out_size), dtype=x.dtype)
    taps = list(_tap_slices(k, stride, dilation, lo, n_in, out_size))
    # the bias shaped for y (N, g, c_out_g, *out)
    by = None if bias is None else bias.reshape((1, g, c_out_g) + (1,) * len(out_size))
    if not taps or n == 0:
        y[...] = 0 if by is None else by
        return y.reshape(n, c_out, *out_size)

    if c_in_g == 1 and c_out_g == 1:
        if _jit_on(x):
            return _jit.depthwise_conv_transpose(x, w, stride, dilation, lo, out_size, bias)
        _conv_transpose_depthwise(x, w, y, taps, stride, bias)
        return y.reshape(n, c_out, *out_size)

    p_out = math.prod(out_size)
    # Stride 1: the transposed convolution is the convolution with the flipped
    # kernel and left padding d (k - 1) - lo, which the row-shifted columns of
    # conv_nd compute with fewer passes over memory than im2col's adjoint.
    if (
        g == 1
        and all(si == 1 for si in stride)
        and len(k) >= 2
        and k[0] > 1
        and (p_out >= _FOLD_BELOW or n == 1)
    ):
        flipped = np.ascontiguousarray(
            np.flip(w.swapaxes(0, 1), axis=tuple(range(2, w.ndim)))
        )
        lo_c = tuple(di * (kk - 1) - li for di, kk, li in zip(dilation, k, lo))
        return conv_nd(x, flipped, stride, dilation, 1, lo_c, out_size, bias)

    # Channels-last pays on tiny maps: its overlap-add runs over (batch x channels)
    # contiguously, at the price of transposing the input and the output, where
    # the flat phases would pad the map by a large share (see _CL_PADDING).
    cl_sample = (p_in * c_in + p_out * c_out + p_in * c_out) * x.itemsize
    if (
        g == 1
        and math.prod(_phase_grid(taps, stride, n_in, out_size)[2]) >= _CL_PADDING * p_in
        and cl_sample <= get_memory_budget()  # it chunks over the batch only
    ):
        _conv_transpose_channels_last(x, w, y.reshape(n, c_out, *out_size), taps, bias)
        return y.reshape(n, c_out, *out_size)

    # When every output gets exactly one tap (kernel = stride, as in U-Net's k2 s2:
    # a pixel shuffle of the columns), the slabs are copied straight into the
    # output: no zero fill, no adds, no phase buffers (U-Net's layers: 1.15-1.2x).
    exact = _exact_cover(k, stride, dilation, lo, n_in, out_size)
    if not exact and _conv_transpose_phases(x, w, y, taps, stride, by):
        return y.reshape(n, c_out, *out_size)

    # Rows ordered tap-major, so that each tap's slab of the columns is contiguous.
    wt = w.reshape(g, c_in_g, c_out_g, n_taps).transpose(0, 3, 2, 1)  # (g, K, c_out_g, c_in_g)
    fold = p_in < _FOLD_BELOW and n > 1
    per_sample = c_out * n_taps * p_in + (c_in * p_in if fold else 0)
    all3 = (slice(None),) * 3
    # an exact cover copies each slab into y once: the bias goes with it, in the
    # columns' axis order
    b_cols = None if by is None else (by[0, ..., None] if fold else by)
    fixed = c_in * p_in if fold else 0
    nw = _threads.workers(n * p_in * c_in_g * c_out * n_taps, (fixed + c_out * p_in) * x.itemsize)
    if not exact:
        y[...] = 0

    def chunk(nb: slice) -> None:
        b = nb.stop - nb.start
        xs = x[nb].reshape(b, g, c_in_g, p_in)
        # the output itself, with the same leading axes as the columns
        z = y[nb].transpose(1, 2, 0, *range(3, y.ndim)) if fold else y[nb]
        # Chunk the taps too when one sample's columns exceed the budget.
        held = c_in * p_in * b * x.itemsize if fold else 0
        for tb in _chunks(len(taps), c_out * p_in * b, x.itemsize, held, w.nbytes, nw):
            sel = taps[tb]
            ids = [j for j, _, _ in sel]
            wsel = wt[:, ids].reshape(g, len(ids) * c_out_g, c_in_g)
            if fold:
                xg = xs.transpose(1, 2, 0, 3).reshape(g, c_in_g, b * p_in)
                cols = np.matmul(wsel, xg).reshape(g, len(ids), c_out_g, b, *n_in)
            else:
                cols = np.matmul(wsel, xs).reshape(b, g, len(ids), c_out_g, *n_in)
            for m, (_, src, dst) in enumerate(sel):
                # the tap's slab: axes (g, tap, c_out_g, b) or (b, g, tap, c_out_g), then space
                tap: tuple[Any, ...] = (
                    (slice(None), m, slice(None), slice(None))
                    if fold
                    else (slice(None), slice(None), m, slice(None))
                )
                if exact:
                    _put(z[all3 + dst], cols[tap + src], b_cols)
                else:
                    z[all3 + dst] += cols[tap + src]
            del cols  # free before the next chunk's columns exist: the budget is a peak

    _threads.map_chunks(chunk, _chunks(n, per_sample, x.itemsize, 0, w.nbytes, nw), nw)
    if by is not None and not exact:
        y += by  # the slabs went straight into y
    return y.reshape(n, c_out, *out_size)


def _exact_cover(k: Ints, s: Ints, d: Ints, lo: Ints, n_in: Ints, out: Ints) -> bool:
    """Whether every output of the transposed convolution gets exactly one
    (input, tap) pair. The n-d count is the product of the per-dim counts, so
    each dim is counted on its own (a short loop over its taps)."""
    for kk, si, di, li, ni, no in zip(k, s, d, lo, n_in, out):
        count = np.zeros(no, dtype=np.int64)
        for t in range(kk):
            off = t * di - li
            i0, i1 = max(0, (-off + si - 1) // si), min(ni - 1, (no - 1 - off) // si)
            if i1 >= i0:
                count[i0 * si + off : i1 * si + off + 1 : si] += 1
        if not (count == 1).all():
            return False
    return True


# Inputs smaller than this stay on the NumPy kernels: they run in well under a
# millisecond there, and a numba kernel's first call compiles for about 5 s (once
# per machine: the result is cached on disk), which the lecture-sized examples of
# the tour should not wait for.
_JIT_MIN_SIZE = 2**15


def _jit_on(x: np.ndarray) -> bool:
    """Whether the numba kernels take this call: installed, enabled, float32/64,
    and large enough to pay."""
    return (
        x.size >= _JIT_MIN_SIZE and x.dtype in (np.float32, np.float64) and _config.get_jit()
    )


def _conv_transpose_channels_last(
    x: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    taps: Sequence[tuple[int, tuple[slice, ...], tuple[slice, ...]]],
    bias: np.ndarray | None,
) -> None:
    """The transposed convolution (groups=1) in channels-last layout: per tap one
    GEMM ``x (P*N, C_in) @ w_t (C_in, C_out)`` whose slab is added into the
    output ``(*out, N*C_out)`` with long contiguous rows, for short spatial rows."""
    n, c_in = x.shape[:2]
    n_in, out = tuple(x.shape[2:]), tuple(y.shape[2:])
    c_out = w.shape[1]
    p_in, p_out = math.prod(n_in), math.prod(out)
    wk = np.ascontiguousarray(w.reshape(c_in, c_out, -1).transpose(2, 0, 1))  # (K, C_in, C_out)
    per_sample = p_in * c_in + p_out * c_out + p_in * c_out
    nw = _threads.workers(n * p_in * c_in * c_out * len(taps), per_sample * x.itemsize)

    def chunk(nb: slice) -> None:
        b = nb.stop - nb.start
        xcl = np.ascontiguousarray(np.moveaxis(x[nb], (0, 1), (-2, -1))).reshape(p_in * b, c_in)
        ycl = np.zeros((*out, b * c_out), dtype=x.dtype)
        slab = np.empty((p_in * b, c_out), dtype=x.dtype)
        grid = slab.reshape(*n_in, b * c_out)
        for j, src, dst in taps:
            np.matmul(xcl, wk[j], out=slab)
            ycl[dst] += grid[src]
        _put(
            y[nb],
            np.moveaxis(ycl.reshape(*out, b, c_out), (-2, -1), (0, 1)),
            None if bias is None else bias.reshape((1, c_out) + (1,) * len(out)),
        )

    _threads.map_chunks(chunk, _chunks(n, per_sample, x.itemsize, 0, w.nbytes, nw), nw)


def _conv_transpose_depthwise(
    x: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    taps: Sequence[tuple[int, tuple[slice, ...], tuple[slice, ...]]],
    stride: Ints,
    bias: np.ndarray | None,
) -> None:
    """One input and one output channel per group: a scaled add per tap, no GEMM.

    Channels-last, so that each multiply-add runs over the channels
    contiguously, and polyphase, so that the adds go to contiguous phase
    buffers: 3x faster than per-tap strided adds in (N, C, *L) layout.
    """
    n, g = x.shape[:2]
    n_in, out = tuple(x.shape[2:]), tuple(y.shape[3:])
    wf = np.ascontiguousarray(w.reshape(g, -1).T)  # (K, C): a tap's scales, contiguous
    phase_shape = tuple(-(-o // si) for o, si in zip(out, stride))
    phases = list(itertools.product(*(range(si) for si in stride)))
    per_sample = g * (2 * math.prod(n_in) + len(phases) * math.prod(phase_shape))
    y3 = y.reshape(n, g, *out)
    b3 = None if bias is None else bias.reshape((1, g) + (1,) * len(out))
    if per_sample * x.itemsize > get_memory_budget():  # no room: strided adds in place
        y3[...] = 0
        for j, src, dst in taps:
            y3[_ALL2 + dst] += x[_ALL2 + src] * wf[j].reshape((1, g) + (1,) * len(n_in))
        if b3 is not None:
            y3 += b3
        return
    nw = _threads.workers(n * math.prod(n_in) * g * len(taps), per_sample * x.itemsize)

    def chunk(nb: slice) -> None:
        xb = np.ascontiguousarray(np.moveaxis(x[nb], 1, -1))  # (b, *L, C)
        z = np.zeros((len(phases), xb.shape[0], *phase_shape, g), dtype=x.dtype)
        scaled = np.empty_like(xb)
        for j, src, dst in taps:
            phase, block = _phase_block(dst, stride)
            part = scaled[(slice(None),) + src]
            np.multiply(xb[(slice(None),) + src], wf[j], out=part)
            z[(phase, slice(None)) + block] += part
        for phase, r in enumerate(phases):
            block = tuple(slice(0, -(-(o - ri) // si)) for o, ri, si in zip(out, r, stride))
            _put(
                y3[(nb, slice(None)) + tuple(slice(ri, None, si) for ri, si in zip(r, stride))],
                np.moveaxis(z[(phase, slice(None)) + block], -1, 1),
                b3,
            )

    _threads.map_chunks(chunk, _chunks(n, per_sample, x.itemsize, workers=nw), nw)


def conv_nd(
    x: np.ndarray,
    w: np.ndarray,
    stride: Ints,
    dilation: Ints,
    groups: int,
    lo: Ints,
    out_size: Ints,
    bias: np.ndarray | None = None,
) -> np.ndarray:
    """Convolution (cross-correlation).

    x (N, C_in, *L), w (C_out, C_in/g, *k) -> (N, C_out, *out_size), plus
    ``bias`` (C_out,) if given, added as the output is first written.
    """
    n, c_in = x.shape[:2]
    c_out = w.shape[0]
    k = tuple(w.shape[2:])
    g = groups
    c_in_g, c_out_g = c_in // g, c_out // g
    n_taps = math.prod(k)
    p_out = math.prod(out_size)
    need = _span(k, stride, dilation, out_size)
    windows = list(_window_slices(k, stride, dilation, out_size))
    y = np.empty((n, g, c_out_g, p_out), dtype=x.dtype)
    if n == 0 or p_out == 0:
        return y.reshape(n, c_out, *out_size)

    if c_in_g == 1 and c_out_g == 1 and _jit_on(x):
        return _jit.depthwise_conv(x, w, stride, dilation, lo, out_size, bias)
    by = None if bias is None else bias.reshape(1, g, c_out_g, 1)
    if c_in_g == 1 and c_out_g == 1:
        # Channels-last: each tap's multiply-add runs over the channels contiguously.
        wf = np.ascontiguousarray(w.reshape(g, n_taps).T)  # (K, C)
        per_sample = c_in * (2 * math.prod(need) + 2 * p_out)
        nw = _threads.workers(n * p_out * g * n_taps, per_sample * x.itemsize)

        def depthwise(nb: slice) -> None:
            xp = np.ascontiguousarray(np.moveaxis(_padded(x[nb], lo, need), 1, -1))
            acc = np.zeros((nb.stop - nb.start, *out_size, g), dtype=x.dtype)
            scaled = np.empty_like(acc)
            for j, win in enumerate(windows):
                np.multiply(xp[(slice(None),) + win], wf[j], out=scaled)
                acc += scaled
            _put(y[nb], np.moveaxis(acc, -1, 1).reshape(acc.shape[0], g, 1, p_out), by)

        _threads.map_chunks(depthwise, _chunks(n, per_sample, x.itemsize, workers=nw), nw)
        return y.reshape(n, c_out, *out_size)

    fold = p_out < _FOLD_BELOW and n > 1
    if (
        g == 1
        and len(k) >= 2
        and k[0] > 1
        and stride[0] == 1
        and not fold
        and _conv_row_shift(x, w, y.reshape(n, c_out, p_out), stride, dilation, lo, out_size, by)
    ):
        return y.reshape(n, c_out, *out_size)
    if any(si > 1 for si in stride):
        y4 = y.reshape(n, c_out, *out_size)
        done = _conv_phases(x, w, None, k, stride, dilation, g, lo, out_size, bias, y4, _CL_PADDING)
        if done is not None:
            return y4
    wm = w.reshape(g, c_out_g, c_in_g, n_taps)
    per_sample = c_in * n_taps * p_out + c_in * math.prod(need) + c_out * p_out
    fixed = c_in * math.prod(need) + 2 * c_out * p_out
    nw = _threads.workers(n * p_out * c_in_g * c_out * n_taps, (fixed + c_in * p_out) * x.itemsize)

    def chunk(nb: slice) -> None:
        b = nb.stop - nb.start
        xp = _padded(x[nb], lo, need)
        held = xp.nbytes if xp is not x else 0
        held += c_out * p_out * b * x.itemsize
        for tb in _chunks(n_taps, c_in * p_out * b, x.itemsize, held, w.nbytes, nw):
            ids = range(tb.start, tb.stop)
            wsel = wm[..., tb].reshape(g, c_out_g, c_in_g * len(ids))
            if fold:
                cols = np.empty((g, c_in_g, len(ids), b, *out_size), dtype=x.dtype)
                for m, j in enumerate(ids):
                    patch = xp[_ALL2 + windows[j]]
                    cols[:, :, m] = np.moveaxis(patch.reshape(b, g, c_in_g, *out_size), 0, 2)
                part = np.matmul(wsel, cols.reshape(g, c_in_g * len(ids), b * p_out))
                part = part.reshape(g, c_out_g, b, p_out).transpose(2, 0, 1, 3)
            else:
                cols = np.empty((b, g, c_in_g, len(ids), *out_size), dtype=x.dtype)
                for m, j in enumerate(ids):
                    patch = xp[_ALL2 + windows[j]]
                    cols[:, :, :, m] = patch.reshape(b, g, c_in_g, *out_size)
                part = np.matmul(wsel, cols.reshape(b, g, c_in_g * len(ids), p_out))
            if tb.start == 0:
                _put(y[nb], part, by)
            else:
                y[nb] += part
            del cols, part  # free before the next tap chunk's columns: the budget is a peak

    _threads.map_chunks(chunk, _chunks(n, per_sample, x.itemsize, 0, w.nbytes, nw), nw)
    return y.reshape(n, c_out, *out_size)


def _conv_row_shift(
    x: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    stride: Ints,
    dilation: Ints,
    lo: Ints,
    out_size: Ints,
    bias: np.ndarray | None,
) -> bool:
    """Convolution (groups=1, stride 1 along the first spatial dim) with im2col
    over the other dims only: the columns, built on every padded input row, are
    laid out row-major, so that the first dim's tap ``t`` reads the contiguous
    block of columns starting at row ``t d``, a view. One GEMM per first-dim tap,
    accumulated in ``y`` (N, C_out, P): a third of the copies of a full im2col
    for a 3x3 kernel (1.25-1.3x on a 3x3 layer on 56x56 maps). False, doing
    nothing, when one sample's buffers exceed the memory budget (the general
    path chunks over taps then)."""
    n, c_in = x.shape[:2]
    c_out, k = w.shape[0], tuple(w.shape[2:])
    k_rest, n_rest = math.prod(k[1:]), math.prod(out_size[1:])
    need = _span(k, stride, dilation, out_size)
    rows, p_out = need[0], math.prod(out_size)
    # per first-dim tap, the weight as (C_out, K_rest * C_in), rows tap-major
    wr = [
        np.ascontiguousarray(
            w[:, :, t0].reshape(c_out, c_in, k_rest).transpose(0, 2, 1).reshape(c_out, -1)
        )
        for t0 in range(k[0])
    ]
    windows = list(_window_slices(k[1:], stride[1:], dilation[1:], out_size[1:]))
    per_sample = k_rest * c_in * rows * n_rest + c_in * math.prod(need)
    held = c_out * p_out * x.itemsize  # ``part``
    if per_sample * x.itemsize + held > get_memory_budget():
        return False
    nw = _threads.workers(n * p_out * c_in * c_out * math.prod(k), per_sample * x.itemsize + held)
    by = None if bias is None else bias.reshape(1, c_out, 1)

    def chunk(nb: slice) -> None:
        cf = _row_shift_columns(_padded(x[nb], lo, need), windows, k_rest, out_size[1:])
        part = np.empty((c_out, p_out), dtype=x.dtype)
        # per sample: 2-D operands go to BLAS as they are (a batched matmul over
        # the strided views copied them first)
        for i, yi in enumerate(y[nb]):
            for t0 in range(k[0]):
                a = t0 * dilation[0] * n_rest
                view = cf[i, :, a : a + out_size[0] * n_rest]
                if t0 == 0:
                    np.matmul(wr[0], view, out=yi)
                else:
                    np.matmul(wr[t0], view, out=part)
                    yi += part
            if by is not None:
                yi += by[0]

    _threads.map_chunks(chunk, _chunks(n, per_sample, x.itemsize, held, w.nbytes, nw), nw)
    return True


def _row_shift_columns(
    xp: np.ndarray, windows: Sequence[tuple[slice, ...]], k_rest: int, out_rest: Ints
) -> np.ndarray:
    """im2col over the spatial dims after the first, on every row of the padded
    input ``xp`` (b, C, rows, ...): (b, K_rest * C, rows * P_rest), rows tap-major."""
    b, c_in, rows = xp.shape[:3]
    cols = np.empty((b, k_rest, c_in, rows, *out_rest), dtype=xp.dtype)
    for m, win in enumerate(windows):
        cols[:, m] = xp[(slice(None), slice(None), slice(None)) + tuple(win)]
    return cols.reshape(b, k_rest * c_in, rows * math.prod(out_rest))


def _weight_grad_row_shift(
    x: np.ndarray, gy: np.ndarray, k: Ints, stride: Ints, dilation: Ints, lo: Ints
) -> np.ndarray | None:
    """The weight gradient of :func:`_conv_row_shift`'s convolution, from the same
    columns: per sample and first-dim tap ``t``, ``gy (C_out, P) @ view_t^T``.
    None when one sample's buffers exceed the memory budget."""
    n, c_in = x.shape[:2]
    c_out, out_size = gy.shape[1], tuple(gy.shape[2:])
    k_rest, n_rest = math.prod(k[1:]), math.prod(out_size[1:])
    need = _span(k, stride, dilation, out_size)
    per_sample = k_rest * c_in * need[0] * n_rest + c_in * math.prod(need)
    held = (k[0] + 1) * c_out * k_rest * c_in * x.itemsize  # ``acc`` and ``part``
    if per_sample * x.itemsize + held > get_memory_budget():
        return None
    work = n * math.prod(out_size) * c_in * c_out * math.prod(k)
    nw = _threads.workers(work, per_sample * x.itemsize + held)
    windows = list(_window_slices(k[1:], stride[1:], dilation[1:], out_size[1:]))
    accs = _threads.Accumulators((k[0], c_out, k_rest * c_in), x.dtype)

    def chunk(nb: slice) -> None:
        acc = accs.get()
        part = np.empty((c_out, k_rest * c_in), dtype=x.dtype)
        cf = _row_shift_columns(_padded(x[nb], lo, need), windows, k_rest, out_size[1:])
        for i, gi in enumerate(gy[nb].reshape(-1, c_out, math.prod(out_size))):
            for t0 in range(k[0]):
                a = t0 * dilation[0] * n_rest
                np.matmul(gi, cf[i, :, a : a + out_size[0] * n_rest].T, out=part)
                acc[t0] += part

    _threads.map_chunks(chunk, _chunks(n, per_sample, x.itemsize, held, held, nw), nw)
    # (k0, C_out, K_rest, C_in) -> (C_out, C_in, k0, *k_rest)
    gw = accs.total().reshape(k[0], c_out, k_rest, c_in).transpose(1, 3, 0, 2)
    return np.ascontiguousarray(gw).reshape(c_out, c_in, *k)


def conv_weight_grad_nd(
    x: np.ndarray,
    gy: np.ndarray,
    kernel_size: Ints,
    stride: Ints,
    dilation: Ints,
    groups: int,
    lo: Ints,
) -> np.ndarray:
    """Gradient of ``conv_nd`` with respect to its weight.

    ``gw[co, ci, t] = sum_{n, o} gy[n, co, o] x[n, ci, o s + t d - lo]``: the
    correlation of the input with the output gradient, one GEMM over the
    im2col columns (batch folded in). Returns (C_out, C_in/g, *k).

    The weight gradient of ``conv_transpose_nd`` is this function with the roles
    of its input and output gradient swapped.
    """
    return conv_and_weight_grad_nd(x, gy, kernel_size, stride, dilation, groups, lo, None)[0]


def conv_and_weight_grad_nd(
    x: np.ndarray,
    gy: np.ndarray,
    kernel_size: Ints,
    stride: Ints,
    dilation: Ints,
    groups: int,
    lo: Ints,
    w: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`conv_weight_grad_nd`, and with ``w`` also ``conv_nd(x, w)`` (of
    ``gy``'s size) from the same im2col columns.

    A transposed convolution's backward needs both over its output gradient
    (dx is the convolution of it, dw its correlation with the input): building
    the columns once saves one of the two im2col passes.
    """
    n, c_in = x.shape[:2]
    c_out = gy.shape[1]
    out_size = tuple(gy.shape[2:])
    k = tuple(kernel_size)
    g = groups
    c_in_g, c_out_g = c_in // g, c_out // g
    n_taps = math.prod(k)
    p_out = math.prod(out_size)
    need = _span(k, stride, dilation, out_size)
    windows = list(_window_slices(k, stride, dilation, out_size))
    gw = np.zeros((g, c_out_g, c_in_g, n_taps), dtype=x.dtype)
    y = None if w is None else np.empty((n, c_out, *out_size), dtype=x.dtype)
    wm = None if w is None else w.reshape(g, c_out_g, c_in_g, n_taps)
    if n == 0 or p_out == 0:
        return gw.reshape(c_out, c_in_g, *k), y
    if g == 1 and w is None and len(k) >= 2 and k[0] > 1 and stride[0] == 1:
        gwr = _weight_grad_row_shift(x, gy, k, stride, dilation, lo)
        if gwr is not None:
            return gwr, None
    if c_in_g == 1 and c_out_g == 1 and _jit_on(x):
        gwd = _jit.depthwise_conv_weight_grad(x, gy, k, stride, dilation, lo)
        if w is not None:
            y = _jit.depthwise_conv(x, w, stride, dilation, lo, out_size)
        return gwd, y
    if any(si > 1 for si in stride):
        done = _conv_phases(x, w, gy, k, stride, dilation, g, lo, out_size, None, y, _CL_PADDING)
        if done is not None and done[1] is not None:
            return done[1], y
    per_sample = c_in * n_taps * p_out + c_in * math.prod(need) + 2 * c_out * p_out
    fixed = (c_in * math.prod(need) + 2 * c_out * p_out + c_in * p_out) * x.itemsize
    work = n * p_out * c_in_g * c_out * n_taps * (1 if w is None else 2)
    nw = _threads.workers(work, fixed + gw.nbytes)
    accs = _threads.Accumulators(gw.shape, x.dtype)  # one gw per worker

    def chunk(nb: slice) -> None:
        b = nb.stop - nb.start
        gwa = accs.get()
        xp = _padded(x[nb], lo, need)
        gyg = (
            gy[nb]
            .reshape(b, g, c_out_g, p_out)
            .transpose(1, 2, 0, 3)
            .reshape(g, c_out_g, b * p_out)
        )
        held = (xp.nbytes if xp is not x else 0) + 2 * gyg.nbytes + gwa.nbytes
        acc = None
        for tb in _chunks(n_taps, c_in * p_out * b, x.itemsize, held, gw.nbytes, nw):
            ids = range(tb.start, tb.stop)
            cols = np.empty((g, c_in_g, len(ids), b, *out_size), dtype=x.dtype)
            for m, j in enumerate(ids):
                patch = xp[_ALL2 + windows[j]]
                cols[:, :, m] = np.moveaxis(patch.reshape(b, g, c_in_g, *out_size), 0, 2)
            cols2 = cols.reshape(g, c_in_g * len(ids), b * p_out)
            part = np.matmul(gyg, cols2.transpose(0, 2, 1)).reshape(g, c_out_g, c_in_g, len(ids))
            gwa[..., tb] += part
            if wm is not None:
                conv = np.matmul(wm[..., tb].reshape(g, c_out_g, -1), cols2)
                if acc is None:
                    acc = conv
                else:
                    acc += conv
            del cols, cols2
        if y is not None and acc is not None:
            y[nb] = (
                acc.reshape(g, c_out_g, b, *out_size)
                .transpose(2, 0, 1, *range(3, 3 + len(k)))
                .reshape(b, c_out, *out_size)
            )

    _threads.map_chunks(
        chunk, _chunks(n, per_sample, x.itemsize, gw.nbytes, gw.nbytes, nw), nw
    )
    gw = accs.total()
    return gw.reshape(c_out, c_in_g, *k), y
