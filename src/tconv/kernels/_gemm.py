"""The fast paths' bodies: GEMM-based (transposed) convolutions and weight gradients.

No validation and no choosing here: the tables of :mod:`.conv` pick a path from
the call's geometry (memory budget included, so a body never refuses) and call
its body with plain tuples of ints. The flat-phase bodies are in :mod:`.phases`.

Per spatial dim: stride ``s``, dilation ``d``, leading offset ``lo``, output size.

* convolution: ``y[o] = sum_t x[o s + t d - lo] w[t]`` (zeros outside ``x``);
* transposed: ``full[i s + t d] += x[i] w[t]``, ``y[j] = full[j + lo]``.

The transposed convolution is one GEMM ``W^T x`` giving the columns (one slab per
kernel tap), then an overlap-add (col2im) that loops over kernel taps only; the
convolution builds its columns (im2col) with one copy per tap, then one GEMM.
Temporaries are chunked over the batch, then over kernel taps, to fit the memory
budget; the batch chunks run on the worker threads of :mod:`._threads`.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _numba, _threads, tuning
from ._layout import (
    _ALL2,
    Ints,
    _chunks,
    _padded,
    _phase_block,
    _put,
    _span,
    _window_slices,
    phase_counts,
    tap_range,
    transposed,
)
from .settings import get_memory_budget


def _conv_transpose_gemm(
    x: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    taps: Sequence[tuple[int, tuple[slice, ...], tuple[slice, ...]]],
    by: np.ndarray | None,
    exact: bool,
    fold: bool,
) -> None:
    """The transposed convolution into ``y`` (N, g, C_out/g, *out), plus ``by``
    shaped like it: per chunk one GEMM to the columns, then each tap's slab added
    (or, for an ``exact`` cover, copied) into its strided share of ``y``; the
    batch ``fold``-ed into the GEMM's columns or a GEMM per sample."""
    n, c_in = x.shape[:2]
    n_in = tuple(x.shape[2:])
    g, c_out_g = y.shape[1:3]
    c_in_g, c_out = c_in // g, g * c_out_g
    n_taps = math.prod(w.shape[2:])
    p_in = math.prod(n_in)
    # Rows ordered tap-major, so that each tap's slab of the columns is contiguous.
    wt = w.reshape(g, c_in_g, c_out_g, n_taps).transpose(0, 3, 2, 1)  # (g, K, c_out_g, c_in_g)
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


def exact_rows(c_in: int, c_out: int, k: Ints, width: int, itemsize: int) -> tuple[int, int]:
    """:func:`conv_transpose_exact_jit`'s input rows a chunk (its GEMM buffer about
    ``EXACT_JIT_BYTES``) and the bytes it needs at least: the reordered weights and
    one worker's buffer for one row."""
    row = math.prod(k) * c_out * width * itemsize
    return max(1, tuning.EXACT_JIT_BYTES // row), row + math.prod(k) * c_out * c_in * itemsize


def conv_transpose_exact_jit(
    x: np.ndarray, w: np.ndarray, y: np.ndarray, bias: np.ndarray | None
) -> None:
    """Write ``y = conv_transpose_nd(x, w, stride=k) + bias`` for a kernel ``k`` equal to
    the stride (1-d to 3-d, groups 1, padding 0, dilation 1): each output gets one
    tap, compiled (numba must import).

    x (N, C_in, *L), w (C_in, C_out, *k), y (N, C_out, *(k L)); 2-d:
    ``y[n, o, k0 i + a, k1 j + b] = sum_c w[c, o, a, b] x[n, c, i, j]``. Per block of a
    sample's input rows (all dims but the last), one GEMM ``(prod(k) C_out, C_in) @
    (C_in, rows L_last)`` reads ``x``'s rows where they are (NCHW) into a buffer of about
    ``EXACT_JIT_BYTES``, and one compiled pass (:func:`_exact_scatter`) interleaves its
    slabs into ``y``'s rows, plus bias, while they are in cache.

    >>> x = np.array([[[[0.0, 1.0]]]])
    >>> y = np.empty((1, 1, 2, 4))
    >>> conv_transpose_exact_jit(x, np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), y, None)
    >>> y[0, 0]
    array([[0., 0., 1., 2.],
           [0., 0., 3., 4.]])
    """
    n, c_in = x.shape[:2]
    c_out, k = w.shape[1], tuple(w.shape[2:])
    k3 = (1,) * (3 - len(k)) + k
    n3 = (1,) * (3 - len(k)) + tuple(x.shape[2:])
    wd, rows_in = n3[2], n3[0] * n3[1]  # a row: one index of the leading dims
    # rows (taps row-major, o): each tap's slab of C_out rows is its share of y
    wr = np.ascontiguousarray(np.moveaxis(w.reshape(c_in, c_out, -1), 0, -1).swapaxes(0, 1))
    wr = wr.reshape(-1, c_in)
    b = np.zeros(c_out, x.dtype) if bias is None else bias.astype(x.dtype)
    x3 = np.ascontiguousarray(x).reshape(n, c_in, rows_in * wd)
    y5 = y.reshape(n, c_out, *(a * m for a, m in zip(k3, n3)))
    rows, need = exact_rows(c_in, c_out, k, wd, x.itemsize)
    nw = _threads.workers(n * rows_in * wd * c_in * c_out * math.prod(k), need)
    rows = max(1, min(rows, rows_in, (get_memory_budget() - wr.nbytes) // nw // (need - wr.nbytes)))
    items = [(i, r, min(rows_in, r + rows)) for i in range(n) for r in range(0, rows_in, rows)]
    kern = _numba.compiled(_exact_scatter, error_model="numpy")
    kk = np.array(k3, dtype=np.int64)
    local = threading.local()

    def chunk(item: tuple[int, int, int]) -> None:
        i, r0, r1 = item
        buf = getattr(local, "buf", None)
        if buf is None:  # the worker's own, reused over its chunks
            buf = local.buf = np.empty(len(wr) * rows * wd, x.dtype)
        z = buf[: len(wr) * (r1 - r0) * wd].reshape(len(wr), -1)
        np.matmul(wr, x3[i, :, r0 * wd : r1 * wd], out=z)
        kern(z, y5, b, i, r0, r1, n3[1], kk)

    _threads.map_chunks(chunk, items, nw)


def _exact_scatter(
    z: np.ndarray, y: np.ndarray, bias: np.ndarray, n: int, r0: int, r1: int, h: int,
    k: np.ndarray,
) -> None:  # fmt: skip
    """``y[n, o, k0 d + a0, k1 e + a1, k2 j + a2] = z[tap(a) C_out + o, (r - r0) W + j] +
    bias[o]`` (``tap(a)`` row-major over ``k``) for the input rows ``r = d h + e`` in
    ``r0 .. r1`` (``h`` rows a plane): each output row of ``y`` (N, C_out, Do, Ho, Wo)
    written once, its ``k2`` slabs interleaved."""
    c_out = y.shape[1]
    k0, k1, k2 = k[0], k[1], k[2]
    wd = z.shape[1] // (r1 - r0)
    for o in range(c_out):
        bo = bias[o]
        for a0 in range(k0):
            for a1 in range(k1):
                src = (a0 * k1 + a1) * k2 * c_out + o
                for r in range(r0, r1):
                    d = r // h
                    row = y[n, o, k0 * d + a0, k1 * (r - d * h) + a1]
                    base = (r - r0) * wd
                    if k2 == 2:  # unrolled: 61 us a unet2 block where the loop took 256
                        for j in range(wd):
                            row[2 * j] = z[src, base + j] + bo
                            row[2 * j + 1] = z[src + c_out, base + j] + bo
                    else:
                        for j in range(wd):
                            for e in range(k2):
                                row[k2 * j + e] = z[src + e * c_out, base + j] + bo


def _exact_cover(k: Ints, s: Ints, d: Ints, lo: Ints, n_in: Ints, out: Ints) -> bool:
    """Whether every output of the transposed convolution gets exactly one
    (input, tap) pair. The n-d count is the product of the per-dim counts, so
    each dim is counted on its own (a short loop over its taps)."""
    for kk, si, di, li, ni, no in zip(k, s, d, lo, n_in, out):
        count = np.zeros(no, dtype=np.int64)
        for t in range(kk):
            off = t * di - li
            i0, i1 = tap_range(off, si, ni, no)
            if i1 >= i0:
                count[i0 * si + off : i1 * si + off + 1 : si] += 1
        if not (count == 1).all():
            return False
    return True


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
    wk = transposed(w.reshape(c_in * c_out, -1)).reshape(-1, c_in, c_out)  # (K, C_in, C_out)
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


def depthwise_transpose_bytes(n_in: Ints, out: Ints, stride: Ints, g: int, itemsize: int) -> int:
    """Bytes of one sample's buffers in :func:`_conv_transpose_depthwise`."""
    phase_shape = tuple(-(-o // si) for o, si in zip(out, stride))
    return g * (2 * math.prod(n_in) + math.prod(stride) * math.prod(phase_shape)) * itemsize


def _conv_transpose_depthwise_strided(
    x: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    taps: Sequence[tuple[int, tuple[slice, ...], tuple[slice, ...]]],
    bias: np.ndarray | None,
) -> None:
    """One input and one output channel per group, no room for buffers: a scaled
    strided add per tap straight into ``y`` (N, g, 1, *out)."""
    n, g = x.shape[:2]
    n_in, out = tuple(x.shape[2:]), tuple(y.shape[3:])
    wf = w.reshape(g, -1).T  # (K, C)
    y3 = y.reshape(n, g, *out)
    y3[...] = 0
    for j, src, dst in taps:
        y3[_ALL2 + dst] += x[_ALL2 + src] * wf[j].reshape((1, g) + (1,) * len(n_in))
    if bias is not None:
        y3 += bias.reshape((1, g) + (1,) * len(out))


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
    buffers rather than strided rows.
    """
    n, g = x.shape[:2]
    n_in, out = tuple(x.shape[2:]), tuple(y.shape[3:])
    wf = np.ascontiguousarray(w.reshape(g, -1).T)  # (K, C): a tap's scales, contiguous
    phase_shape = tuple(-(-o // si) for o, si in zip(out, stride))
    phases = list(itertools.product(*(range(si) for si in stride)))
    counts = [phase_counts(o, si) for o, si in zip(out, stride)]
    per_sample = depthwise_transpose_bytes(n_in, out, stride, g, 1)
    y3 = y.reshape(n, g, *out)
    b3 = None if bias is None else bias.reshape((1, g) + (1,) * len(out))
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
            block = tuple(slice(0, c[ri]) for c, ri in zip(counts, r))
            _put(
                y3[(nb, slice(None)) + tuple(slice(ri, None, si) for ri, si in zip(r, stride))],
                np.moveaxis(z[(phase, slice(None)) + block], -1, 1),
                b3,
            )

    _threads.map_chunks(chunk, _chunks(n, per_sample, x.itemsize, workers=nw), nw)


def _conv_depthwise(
    x: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    stride: Ints,
    dilation: Ints,
    lo: Ints,
    out_size: Ints,
    by: np.ndarray | None,
) -> None:
    """Convolution with one input and one output channel per group into ``y``
    (N, g, 1, P): channels-last, so each tap's multiply-add runs over the
    channels contiguously."""
    n, g = x.shape[:2]
    k = tuple(w.shape[2:])
    n_taps, p_out = math.prod(k), math.prod(out_size)
    need = _span(k, stride, dilation, out_size)
    windows = list(_window_slices(k, stride, dilation, out_size))
    wf = np.ascontiguousarray(w.reshape(g, n_taps).T)  # (K, C)
    per_sample = g * (2 * math.prod(need) + 2 * p_out)
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


def _conv_im2col(
    x: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    stride: Ints,
    dilation: Ints,
    lo: Ints,
    out_size: Ints,
    by: np.ndarray | None,
    fold: bool,
) -> None:
    """Convolution into ``y`` (N, g, C_out/g, P): im2col columns (one copy per tap,
    chunked over taps when a chunk's exceed the budget), then one GEMM, the batch
    ``fold``-ed into its columns or a GEMM per sample."""
    n, c_in = x.shape[:2]
    g, c_out_g = y.shape[1:3]
    c_in_g, c_out = c_in // g, g * c_out_g
    k = tuple(w.shape[2:])
    n_taps, p_out = math.prod(k), math.prod(out_size)
    need = _span(k, stride, dilation, out_size)
    windows = list(_window_slices(k, stride, dilation, out_size))
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


def row_shift_elements(c_in: int, k: Ints, stride: Ints, dilation: Ints, out_size: Ints) -> int:
    """Elements of one sample's columns and padded input in the row-shift paths
    (:func:`_conv_row_shift`, :func:`_weight_grad_row_shift`)."""
    need = _span(k, stride, dilation, out_size)
    return math.prod(k[1:]) * c_in * need[0] * math.prod(out_size[1:]) + c_in * math.prod(need)


def conv_row_shift_bytes(
    c_in: int, c_out: int, k: Ints, stride: Ints, dilation: Ints, out_size: Ints, itemsize: int
) -> int:
    """Bytes one sample of :func:`_conv_row_shift` needs: its columns and one GEMM's product."""
    cols = row_shift_elements(c_in, k, stride, dilation, out_size)
    return (cols + c_out * math.prod(out_size)) * itemsize


def weight_row_shift_bytes(
    c_in: int, c_out: int, k: Ints, stride: Ints, dilation: Ints, out_size: Ints, itemsize: int
) -> int:
    """Bytes one sample of :func:`_weight_grad_row_shift` needs: its columns, the
    accumulator and one product."""
    cols = row_shift_elements(c_in, k, stride, dilation, out_size)
    return (cols + (k[0] + 1) * c_out * math.prod(k[1:]) * c_in) * itemsize


def _conv_row_shift(
    x: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    stride: Ints,
    dilation: Ints,
    lo: Ints,
    out_size: Ints,
    bias: np.ndarray | None,
) -> None:
    """Convolution (groups=1, stride 1 along the first spatial dim) with im2col
    over the other dims only: the columns, built on every padded input row, are
    laid out row-major, so that the first dim's tap ``t`` reads the contiguous
    block of columns starting at row ``t d``, a view. One GEMM per first-dim tap,
    accumulated in ``y`` (N, C_out, P): a third of the copies of a full im2col
    for a 3x3 kernel. One sample's buffers (:func:`conv_row_shift_bytes`) must
    fit the memory budget."""
    n, c_in = x.shape[:2]
    c_out, k = w.shape[0], tuple(w.shape[2:])
    k_rest, n_rest = math.prod(k[1:]), math.prod(out_size[1:])
    need = _span(k, stride, dilation, out_size)
    p_out = math.prod(out_size)
    # per first-dim tap, the weight as (C_out, K_rest * C_in), rows tap-major
    wr = [
        np.ascontiguousarray(
            w[:, :, t0].reshape(c_out, c_in, k_rest).transpose(0, 2, 1).reshape(c_out, -1)
        )
        for t0 in range(k[0])
    ]
    windows = list(_window_slices(k[1:], stride[1:], dilation[1:], out_size[1:]))
    per_sample = row_shift_elements(c_in, k, stride, dilation, out_size)
    held = c_out * p_out * x.itemsize  # ``part``
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
) -> np.ndarray:
    """The weight gradient of :func:`_conv_row_shift`'s convolution, from the same
    columns: per sample and first-dim tap ``t``, ``gy (C_out, P) @ view_t^T``.
    One sample's buffers (:func:`weight_row_shift_bytes`) must fit the budget."""
    n, c_in = x.shape[:2]
    c_out, out_size = gy.shape[1], tuple(gy.shape[2:])
    k_rest, n_rest = math.prod(k[1:]), math.prod(out_size[1:])
    need = _span(k, stride, dilation, out_size)
    per_sample = row_shift_elements(c_in, k, stride, dilation, out_size)
    held = (k[0] + 1) * c_out * k_rest * c_in * x.itemsize  # ``acc`` and ``part``
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


def _conv_and_weight_im2col(
    x: np.ndarray,
    gy: np.ndarray,
    k: Ints,
    stride: Ints,
    dilation: Ints,
    groups: int,
    lo: Ints,
    w: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The weight gradient (C_out, C_in/g, *k) from im2col columns, the batch
    folded in, and with ``w`` also ``conv_nd(x, w)`` from the same columns."""
    n, c_in = x.shape[:2]
    c_out = gy.shape[1]
    out_size = tuple(gy.shape[2:])
    g = groups
    c_in_g, c_out_g = c_in // g, c_out // g
    n_taps = math.prod(k)
    p_out = math.prod(out_size)
    need = _span(k, stride, dilation, out_size)
    windows = list(_window_slices(k, stride, dilation, out_size))
    gw = np.zeros((g, c_out_g, c_in_g, n_taps), dtype=x.dtype)
    y = None if w is None else np.empty((n, c_out, *out_size), dtype=x.dtype)
    wm = None if w is None else w.reshape(g, c_out_g, c_in_g, n_taps)
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

    _threads.map_chunks(chunk, _chunks(n, per_sample, x.itemsize, gw.nbytes, gw.nbytes, nw), nw)
    gw = accs.total()
    return gw.reshape(c_out, c_in_g, *k), y
