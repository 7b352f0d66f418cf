"""Compiled im2col in cache-sized blocks: ``conv.im2col_jit`` and
``conv_weight.im2col_jit`` (numba, the ``fast`` extra).

The NumPy paths build a convolution's im2col columns with one strided copy per
tap (``conv.im2col``) or per tap from phase buffers laid on a padded grid
(``conv.phase_split``): every copy is a pass over a map-sized buffer, and the
grid adds columns the GEMM computes and the output drops. Here one compiled pass
writes a block's columns, ``cols[c K + t, j] = x[c, o_j s + t d - lo]`` (zero
outside the input), for a few samples or a range of one's output positions at a time, about
``tuning.COLUMNS_JIT_BYTES`` (L2-sized): the block's GEMMs read them right after,
from cache, and write the output's own positions only (no padded grid, no cut).
Rows are channel-major (``c K + t``), the order of a weight's ``(C_out, C_in/g,
*k)`` memory, so neither the weights nor the weight gradient are transposed.

The columns hold the padding's zeros like ``conv.im2col``'s (PyTorch multiplies
them too), so a NaN or inf reaches the same outputs as there: no finiteness check.
"""

from __future__ import annotations

import math
import threading

import numpy as np

from . import _numba, _threads, tuning
from ._jit import _i64, _to3
from .settings import get_memory_budget

Ints = tuple[int, ...]


def _fill(
    x: np.ndarray,
    cols: np.ndarray,
    col0: int,
    k: np.ndarray,
    s: np.ndarray,
    d: np.ndarray,
    lo: np.ndarray,
    out: np.ndarray,
    p0: int,
    p1: int,
) -> None:
    """``cols[c K + t, col0 + j] = x[c, o s + t d - lo]`` (0 outside ``x``) for the
    output positions ``o`` of flat (row-major) index ``p0 <= p < p1``, ``j = p - p0``,
    every channel ``c`` and tap ``t`` (row-major over ``k``). ``x`` (C, L0, L1, L2),
    ``cols`` (C K, width); geometry per dim, 3-d (1-d and 2-d with leading 1s)."""
    c_len, n_taps = x.shape[0], k[0] * k[1] * k[2]
    l0, l1, l2 = x.shape[1], x.shape[2], x.shape[3]
    o1_len, o2_len = out[1], out[2]
    q_first, q_last = p0 // o2_len, (p1 - 1) // o2_len  # the rows (o0, o1) touched
    for c in range(c_len):
        for t0 in range(k[0]):
            for t1 in range(k[1]):
                for t2 in range(k[2]):
                    off2 = t2 * d[2] - lo[2]
                    # the last dim's outputs that read inside x: a <= o2 < b
                    a = 0
                    while a < o2_len and a * s[2] + off2 < 0:
                        a += 1
                    b = o2_len
                    while b > a and (b - 1) * s[2] + off2 >= l2:
                        b -= 1
                    dst = cols[c * n_taps + (t0 * k[1] + t1) * k[2] + t2]
                    f = col0 - (p0 - q_first * o2_len)  # where row q_first would start
                    # (o0, o1) of row q stepped along, not divided out per row
                    o0 = q_first // o1_len
                    o1 = q_first - o0 * o1_len
                    for q in range(q_first, q_last + 1):
                        j0 = p0 - q * o2_len if q == q_first else 0
                        j1 = p1 - q * o2_len if q == q_last else o2_len
                        i0 = o0 * s[0] + t0 * d[0] - lo[0]
                        i1 = o1 * s[1] + t1 * d[1] - lo[1]
                        if i0 < 0 or i0 >= l0 or i1 < 0 or i1 >= l1:
                            for o2 in range(j0, j1):
                                dst[f + o2] = 0
                        else:
                            src = x[c, i0, i1]
                            for o2 in range(j0, min(a, j1)):
                                dst[f + o2] = 0
                            u0, u1 = max(a, j0), min(b, j1)
                            if u1 > u0:
                                # unsigned indices: a signed one such as f + o2 may be
                                # negative to numba, whose wraparound check kept the
                                # copy from being vectorised
                                at, step = np.uint64(f + u0), np.uint64(s[2])
                                first = np.uint64(u0 * s[2] + off2)
                                for j in range(np.uint64(u1 - u0)):
                                    dst[at + j] = src[first + j * step]
                            for o2 in range(max(b, j0), j1):
                                dst[f + o2] = 0
                        f += o2_len
                        o1 += 1
                        if o1 == o1_len:
                            o1 = 0
                            o0 += 1


def column_blocks(
    n: int, positions: int, position_bytes: int, workers: int, target: int
) -> list[tuple[int, int, int, int]]:
    """Blocks ``(n0, n1, p0, p1)`` of samples and output positions (flat, of
    ``positions`` a sample; one position's columns ``position_bytes``) whose columns
    hold at most ``target`` bytes (or one position): whole samples, several a block,
    where one fits and there are samples enough for the workers; else ranges of
    positions of one sample, more of them when the samples are fewer than the
    workers."""
    sample = positions * position_bytes
    if sample <= target and n >= workers:
        per = min(target // sample, n // workers)
        return [(n0, n1, 0, positions) for n0, n1 in _threads.even_ranges(n, per, workers)]
    band = max(1, min(positions, target // position_bytes))
    if n < workers:  # a range for every worker at least, where the positions allow
        band = min(band, max(1, positions // -(-workers // n)))
    return [
        (i, i + 1, p, min(positions, p + band)) for i in range(n) for p in range(0, positions, band)
    ]


def conv_columns_jit(
    x: np.ndarray,
    w: np.ndarray | None,
    gy: np.ndarray | None,
    k: Ints,
    stride: Ints,
    dilation: Ints,
    groups: int,
    lo: Ints,
    out_size: Ints,
    bias: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``conv_nd(x, w)`` (with ``w``; into ``out`` if given, plus ``bias``) and/or its
    weight gradient against ``gy`` (with ``gy``: (C_out, C_in/g, *k)), from im2col
    columns filled by one compiled pass per block (:func:`column_blocks`).

    x (N, C_in, *L), w (C_out, C_in/g, *k), gy (N, C_out, *out_size).
    """
    fill = _numba.compiled(_fill)
    n, c_in = x.shape[:2]
    nd, g = len(k), groups
    c_out = w.shape[0] if w is not None else gy.shape[1]  # type: ignore[union-attr]
    c_in_g, c_out_g = c_in // g, c_out // g
    n_taps = math.prod(k)
    depth = c_in_g * n_taps  # a group's rows
    x = np.ascontiguousarray(x)
    x3 = x.reshape((n, c_in) + (1,) * (3 - nd) + tuple(x.shape[2:]))
    k3, s3, d3 = _i64(_to3(k, 1)), _i64(_to3(stride, 1)), _i64(_to3(dilation, 1))
    lo3, o3 = _i64(_to3(lo, 0)), _i64(_to3(out_size, 1))
    p_out = math.prod(out_size)
    y = None
    if w is not None:
        y = out if out is not None else np.empty((n, c_out, *out_size), dtype=x.dtype)
    y3 = None if y is None else y.reshape(n, g, c_out_g, p_out)
    # (with y3 only) the weights as the GEMMs' rows
    wm = np.ascontiguousarray(w).reshape(g, c_out_g, depth) if w is not None else x[:0]
    bv = None if bias is None else bias.reshape(g, c_out_g, 1)
    gy3 = None if gy is None else gy.reshape(n, g, c_out_g, p_out)
    accs = _threads.Accumulators((g, c_out_g, depth), x.dtype)
    work = n * p_out * c_out * depth * ((w is not None) + (gy is not None))
    per_position = c_in * n_taps * x.itemsize
    target = tuning.COLUMNS_JIT_BYTES
    nw = _threads.workers(work, min(target, p_out * per_position))
    target = max(per_position, min(target, get_memory_budget() // nw))
    blocks = column_blocks(n, p_out, per_position, nw, target)

    def per_sample(b: int, span: int) -> bool:
        """Whole samples, wide enough: a GEMM each, on y's and gy's own memory, right
        after its columns are written, while they are in L2 (benchmarks/RESULTS-intel.md,
        "Kernel paths")."""
        return span == p_out and (b == 1 or p_out >= tuning.COLUMNS_JIT_SAMPLE_GEMM)

    widest = max(
        p1 - p0 if per_sample(n1 - n0, p1 - p0) else (n1 - n0) * (p1 - p0)
        for n0, n1, p0, p1 in blocks
    )
    local = threading.local()

    def body(block: tuple[int, int, int, int]) -> None:
        n0, n1, p0, p1 = block
        b, span = n1 - n0, p1 - p0
        width = b * span
        buf = getattr(local, "buf", None)
        if buf is None:  # one buffer per worker, reused over its blocks
            buf = local.buf = np.empty(c_in * n_taps * widest, dtype=x.dtype)
        if per_sample(b, span):
            cols = buf[: c_in * n_taps * span].reshape(c_in * n_taps, span)
            ci = cols.reshape(g, depth, span)
            for i in range(n0, n1):
                fill(x3[i], cols, 0, k3, s3, d3, lo3, o3, p0, p1)
                if y3 is not None:
                    np.matmul(wm, ci, out=y3[i])
                    if bv is not None:
                        y3[i] += bv
                if gy3 is not None:
                    accs.get()[...] += np.matmul(gy3[i], ci.transpose(0, 2, 1))
            return
        cols = buf[: c_in * n_taps * width].reshape(c_in * n_taps, width)
        for i in range(n0, n1):
            fill(x3[i], cols, (i - n0) * span, k3, s3, d3, lo3, o3, p0, p1)
        c3 = cols.reshape(g, depth, width)
        if y3 is not None:
            part = np.matmul(wm, c3).reshape(g, c_out_g, b, span).transpose(2, 0, 1, 3)
            if bv is not None:
                part += bv
            y3[n0:n1, :, :, p0:p1] = part
        if gy3 is not None:
            gb = np.ascontiguousarray(gy3[n0:n1, :, :, p0:p1].transpose(1, 2, 0, 3)).reshape(
                g, c_out_g, width
            )
            accs.get()[...] += np.matmul(gb, c3.transpose(0, 2, 1))

    _threads.map_chunks(body, blocks, nw)
    gw = None
    if gy is not None:
        gw = accs.total().reshape(c_out, c_in_g, *k)
    return y, gw
