"""Winograd minimal filtering (Lavin & Gray 2016) for stride-1 3x3 convolutions.

``F(m x m, 3 x 3)`` computes an ``m x m`` block of outputs from an
``(m + 2) x (m + 2)`` input tile with ``(m + 2)^2`` multiplications per channel
pair instead of ``9 m^2``: the tile ``d`` and the kernel ``g`` are transformed
(``V = B^T d B``, ``U = G g G^T``), multiplied elementwise and summed over the
input channels, which for each of the ``(m + 2)^2`` transform positions is one
GEMM ``V (tiles, C_in) @ U (C_in, C_out)``; the output transform
``Y = A^T M A`` gives the block. ``TRANSFORMS`` holds F(2x2, 3x3) and
F(4x4, 3x3) (36 multiplications for 16 outputs, 4x fewer than 144).

Exact in exact arithmetic (float64 agrees with the definition to ~1e-14); in
float32 the transforms' sums lose a few bits, F(4,3) more than F(2,3) (its
matrices hold 4, 5 and 8, 1/6 and 1/24). ``ERROR[m]`` bounds the max error
relative to the largest output, measured against the float64 reference on
normal, ReLU'd and uniform inputs with kaiming-scaled weights, 1 to 512 input
channels: at most 8.9e-7 for F(2,3) and 1.9e-5 for F(4,3), growing with the
channels; the bounds are about 3x that (the exact GEMM paths: 6e-7).

The data is channels-last within a chunk, so every transform term is a run of
C contiguous values; each transform is a few strided NumPy adds per matrix
entry (a Python loop over the entries of the 4x4 or 6x6 matrices, the terms
of equal magnitude summed before one scaling; never a loop over tiles), the
elementwise stage ``(m + 2)^2`` 2-D GEMMs. The work runs in chunks of samples
or of tile rows sized to ``CHUNK_BYTES`` within the memory budget, on the
kernels' worker threads. Maps whose size is not a multiple of ``m`` compute
the last tiles whole and keep their valid part; the bias enters once per tile,
at the transform position of the point 1, whose output-transform column is
all ones.

The table :data:`.conv.CONV` sends a convolution here where measured faster
(:mod:`.tuning`), always F(4,3): as ``conv.winograd_jit`` with numba on (the
transforms as two compiled kernels; float32, and float64 from more channels),
else as ``conv.winograd`` (NumPy transforms; float32, many channels); a stride-1 3x3
transposed convolution and the input gradient of a stride-1 3x3 convolution
reach it through ``conv_transpose.stride1_flipped``. ``tconv.winograd(False)``
(or ``TCONV_WINOGRAD=0``) keeps the exact paths.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _threads
from .settings import get_memory_budget
from .tuning import CHUNK_BYTES

Ints = tuple[int, ...]

__all__ = ["ERROR", "TRANSFORMS", "Transform", "conv3x3", "least_bytes", "winograd_bytes"]


@dataclass(frozen=True)
class Transform:
    """The matrices of ``F(m, 3)``: ``bt`` (alpha, alpha), ``g`` (alpha, 3), ``at``
    (m, alpha), alpha = m + 2, with ``at @ ((g @ w) * (bt @ d)) == correlate(d, w)``
    for any 1-D tile ``d`` (alpha,) and kernel ``w`` (3,); the 2-D transform applies
    them along both axes."""

    m: int
    bt: np.ndarray
    g: np.ndarray
    at: np.ndarray

    @property
    def alpha(self) -> int:
        return self.m + 2


# Lavin & Gray 2016, section 4: the interpolation points 0, 1, -1 (F(2,3)) and
# 0, 1, -1, 2, -2 (F(4,3)), and infinity. The output transform's column for the
# point 1 is all ones: :func:`conv3x3` adds the bias there, once per tile.
TRANSFORMS = {
    2: Transform(
        2,
        np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], dtype=np.float64),
        np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]),
        np.array([[1, 1, 1, 0], [0, 1, -1, -1]], dtype=np.float64),
    ),
    4: Transform(
        4,
        np.array(
            [
                [4, 0, -5, 0, 1, 0],
                [0, -4, -4, 1, 1, 0],
                [0, 4, -4, -1, 1, 0],
                [0, -2, -1, 2, 1, 0],
                [0, 2, -1, -2, 1, 0],
                [0, 4, 0, -5, 0, 1],
            ],
            dtype=np.float64,
        ),
        np.array(
            [
                [1 / 4, 0, 0],
                [-1 / 6, -1 / 6, -1 / 6],
                [-1 / 6, 1 / 6, -1 / 6],
                [1 / 24, 1 / 12, 1 / 6],
                [1 / 24, -1 / 12, 1 / 6],
                [0, 0, 1],
            ]
        ),
        np.array(
            [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
            dtype=np.float64,
        ),
    ),
}

#: The float32 error bound of ``F(m, 3)``: max |error| relative to the largest
#: |output|, against the float64 reference (measured: see the module docstring).
ERROR = {2: 3e-6, 4: 6e-5}


def transformed_weight(w: np.ndarray, tf: Transform) -> np.ndarray:
    """``U = G w G^T`` per channel pair as (alpha^2, C_in, C_out), the right-hand
    operand of the elementwise stage's GEMMs: ONE GEMM of ``kron(G, G)`` (alpha^2, 9)
    with the taps (9, C_in C_out), in ``w``'s dtype (its O(C_in C_out) passes cost
    as much as small layers' convolutions: no float64 detour)."""
    taps = w.transpose(2, 3, 1, 0).reshape(9, -1)
    u = np.kron(tf.g, tf.g).astype(w.dtype) @ taps
    return u.reshape(tf.alpha**2, w.shape[1], w.shape[0])


def _signed_sum(terms: list[tuple[float, np.ndarray]], out: np.ndarray) -> float:
    """``out = sum of sign * array`` over ``terms`` (each sign +1 or -1), up to an
    overall sign, which is returned: the first two terms in one binary op, a
    positive term first where there is one."""
    terms = sorted(terms, key=lambda t: -t[0])
    (s0, a0), rest = terms[0], terms[1:]
    if not rest:
        np.copyto(out, a0)
        return s0
    s1, a1 = rest[0]
    (np.add if s0 == s1 else np.subtract)(a0, a1, out=out)
    for sign, arr in rest[1:]:
        (np.add if sign == s0 else np.subtract)(out, arr, out=out)
    return s0


def _combine(mat: np.ndarray, src: list[np.ndarray], dst: list[np.ndarray]) -> None:
    """``dst[i] = sum_j mat[i, j] src[j]`` with few passes: the terms of a row
    grouped by their coefficient's magnitude, the scaled groups first (the first
    one written straight into ``dst[i]``, a single term by one multiply), the
    terms of magnitude 1 added last."""
    scratch: np.ndarray | None = None
    for i, out in enumerate(dst):
        groups: dict[float, list[tuple[float, np.ndarray]]] = {}
        for j in np.flatnonzero(mat[i]):
            c = float(mat[i, j])
            groups.setdefault(abs(c), []).append((1.0 if c > 0 else -1.0, src[j]))
        unit = groups.pop(1.0, [])
        written = False
        for mag, terms in groups.items():
            if written and scratch is None:
                scratch = np.empty(out.shape, dtype=out.dtype)
            target = scratch if written else out
            assert target is not None
            if len(terms) == 1:
                np.multiply(terms[0][1], terms[0][0] * mag, out=target)
            else:
                np.multiply(target, _signed_sum(terms, target) * mag, out=target)
            if written:
                np.add(out, target, out=out)
            written = True
        if not written:
            if _signed_sum(unit, out) < 0:
                # not np.negative(out, out=out): NumPy 2.4's float32 negative in
                # place on a strided view reads the wrong elements
                np.multiply(out, -1.0, out=out)
            continue
        for sign, arr in unit:
            (np.add if sign > 0 else np.subtract)(out, arr, out=out)


def winograd_bytes(c_in: int, c_out: int, width: int, m: int, itemsize: int) -> int:
    """Bytes the buffers of one row of ``width`` output tiles of ``F(m, 3)`` take
    at most: the padded input and its row transform, the transformed input, the
    products, the half-transformed output and the output block."""
    alpha = m + 2
    per_tile = (c_in + c_out) * (m * m + alpha * m + alpha * alpha)
    return (width * per_tile + 2 * (alpha + 1) * c_in) * itemsize


def least_bytes(c_in: int, c_out: int, width: int, m: int, itemsize: int) -> int:
    """Bytes :func:`conv3x3` needs at least: the transformed weights and one row
    of ``width`` tiles (what ``conv.winograd``'s condition checks against the budget)."""
    return (m + 2) ** 2 * c_in * c_out * itemsize + winograd_bytes(c_in, c_out, width, m, itemsize)


def conv3x3(
    x: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    lo: Ints,
    out_size: Ints,
    bias: np.ndarray | None,
    m: int,
    jit: bool = False,
) -> None:
    """Write ``y = conv_nd(x, w) + bias`` for a 2-D 3x3 kernel, stride 1, dilation 1,
    groups 1, by ``F(m x m, 3 x 3)``: x (N, C_in, H, W), w (C_out, C_in, 3, 3),
    y (N, C_out, *out_size): ``y[o] = sum_t x[o + t - lo] w[t]`` per spatial dim,
    zeros outside ``x`` (PyTorch's padding p: ``lo = p``, ``out = H + 2 p - 2``).
    ``jit``: the transforms by the numba kernels (numba must import), else NumPy.

    >>> x, w, y = np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)), np.empty((1, 1, 4, 4))
    >>> conv3x3(x, w, y, (1, 1), (4, 4), None, 4)
    >>> y[0, 0].round(9)
    array([[4., 6., 6., 4.],
           [6., 9., 9., 6.],
           [6., 9., 9., 6.],
           [4., 6., 6., 4.]])
    """
    tf = TRANSFORMS[m]
    n, c_in = x.shape[:2]
    c_out = w.shape[0]
    alpha = tf.alpha
    th, tw = -(-out_size[0] // m), -(-out_size[1] // m)
    ut = transformed_weight(w, tf)  # (alpha^2, C_in, C_out)
    ones = int(np.flatnonzero((tf.at == 1).all(axis=0))[0])  # the point 1's column
    b_at = None if bias is None else bias.astype(y.dtype)
    row_bytes = winograd_bytes(c_in, c_out, tw, m, x.itemsize)
    nw = _threads.workers(n * math.prod(out_size) * c_in * c_out * 9, row_bytes)
    # each worker's chunk: about CHUNK_BYTES (or 4 weight transforms, so that
    # those are not streamed per tiny chunk), within the budget left beside them
    room = min((get_memory_budget() - ut.nbytes) // nw, max(CHUNK_BYTES, 4 * ut.nbytes))
    if th * row_bytes <= room and n >= nw:  # chunks of whole samples
        step = _balanced(n, room // (th * row_bytes), nw)
        items = [(slice(i, min(n, i + step)), 0, th) for i in range(0, n, step)]
    else:  # chunks of tile rows of one sample
        step = _balanced(th, room // row_bytes, nw if n < nw else 1)
        items = [
            (slice(i, i + 1), r, min(th, r + step)) for i in range(n) for r in range(0, th, step)
        ]

    kernels = _compiled() if jit else None
    bt, at = tf.bt.astype(x.dtype), tf.at.astype(x.dtype)
    b_cl = np.zeros(c_out, dtype=x.dtype) if bias is None else bias.astype(x.dtype)

    def chunk(item: tuple[slice, int, int]) -> None:
        nb, t0, t1 = item
        b, rows_t = nb.stop - nb.start, t1 - t0
        # channels-last: every transform term is a run of C contiguous values
        width = tw * m + 2
        xb = np.zeros((b, rows_t * m + 2, width, c_in), dtype=x.dtype)
        _copy_block(x[nb], xb, lo[0] - t0 * m, lo[1])
        h0, h1 = t0 * m, min(out_size[0], t1 * m)
        if kernels is not None:  # the transforms fused per tile, compiled
            tiles = b * rows_t * tw
            v = np.empty((alpha * alpha, tiles, c_in), dtype=x.dtype)
            kernels[0](xb, v, bt, m)
            del xb
            prod = np.empty((alpha * alpha, tiles, c_out), dtype=x.dtype)
            for a in range(alpha * alpha):
                np.matmul(v[a], ut[a], out=prod[a])
            del v
            yb = np.empty((b, rows_t * m, tw * m, c_out), dtype=x.dtype)
            kernels[1](prod, yb, at, b_cl)
            del prod
            y[nb, :, h0:h1] = yb[:, : h1 - h0, : out_size[1]].transpose(0, 3, 1, 2)
            return
        # rows: r[i] = sum_j bt[i, j] (rows j, j + m, ...)  (alpha, b, rows_t, width, C)
        r = np.empty((alpha, b, rows_t, width, c_in), dtype=x.dtype)
        _combine(tf.bt, [xb[:, j : j + m * (rows_t - 1) + 1 : m] for j in range(alpha)], list(r))
        del xb
        # columns: v[i, k] = sum_l bt[k, l] r[i][columns l, l + m, ...]
        tiles = b * rows_t * tw
        v = np.empty((alpha, alpha, b, rows_t, tw, c_in), dtype=x.dtype)
        cols = [r[:, :, :, j : j + m * (tw - 1) + 1 : m] for j in range(alpha)]
        _combine(tf.bt, cols, list(v.transpose(1, 0, 2, 3, 4, 5)))
        del r
        # (alpha^2, tiles, C_out): one 2-D GEMM each (np.matmul's stacked loop ran
        # 5-10x slower than the 2-D calls on 1500 tiles and more)
        v2 = v.reshape(alpha * alpha, tiles, c_in)
        prod = np.empty((alpha * alpha, tiles, c_out), dtype=x.dtype)
        for a in range(alpha * alpha):
            np.matmul(v2[a], ut[a], out=prod[a])
        del v, v2
        if b_at is not None:
            prod[ones * alpha + ones] += b_at
        # output rows: s[i, k] = sum_j at[i, j] prod[j, k]
        s = np.empty((m, alpha, tiles, c_out), dtype=x.dtype)
        _combine(tf.at, list(prod.reshape(alpha, alpha, tiles, c_out)), list(s))
        del prod
        # output columns into the channels-last block, then into y
        yb = np.empty((b, rows_t, m, tw, m, c_out), dtype=x.dtype)
        s6 = s.reshape(m, alpha, b, rows_t, tw, c_out).transpose(1, 2, 3, 0, 4, 5)
        _combine(tf.at, list(s6), [yb[:, :, :, :, l] for l in range(m)])
        yb2 = yb.reshape(b, rows_t * m, tw * m, c_out)[:, : h1 - h0, : out_size[1]]
        y[nb, :, h0:h1] = yb2.transpose(0, 3, 1, 2)

    _threads.map_chunks(chunk, items, nw)


_compile_lock = threading.Lock()
_KERNELS: list[Any] = []


def _compiled() -> tuple[Any, Any]:
    """The numba versions of :func:`_transform_in` and :func:`_transform_out`,
    compiled on first use (or loaded from numba's on-disk cache); serial and
    without the GIL, so the worker threads run them side by side."""
    with _compile_lock:
        if not _KERNELS:
            import numba

            jit = numba.njit(cache=True, nogil=True, boundscheck=False)
            _KERNELS.extend([jit(_transform_in), jit(_transform_out)])
    return _KERNELS[0], _KERNELS[1]


def _transform_in(xb: np.ndarray, v: np.ndarray, bt: np.ndarray, m: int) -> None:
    """``v[i alpha + k, t] = (B^T d_t B)[i, k]`` for the tiles ``t`` of the padded
    channels-last block ``xb`` (b, rows m + 2, cols m + 2, C), row-major, each entry
    a run of C values: first ``B^T`` along the rows of a tile row (shared by its
    tiles), then ``B`` along each tile's columns. The loops skip the matrix's zeros."""
    b, hb, wb, c_n = xb.shape
    alpha = bt.shape[0]
    th, tw = (hb - 2) // m, (wb - 2) // m
    r = np.empty((alpha, wb, c_n), xb.dtype)
    for n in range(b):
        for ty in range(th):
            for i in range(alpha):
                first = True
                for j in range(alpha):
                    cf = bt[i, j]
                    if cf != 0:
                        src, dst = xb[n, ty * m + j], r[i]
                        for q in range(wb):
                            for c in range(c_n):
                                dst[q, c] = cf * src[q, c] + (0 if first else dst[q, c])
                        first = False
            for tx in range(tw):
                t = (n * th + ty) * tw + tx
                for i in range(alpha):
                    for k in range(alpha):
                        out = v[i * alpha + k, t]
                        first = True
                        for col in range(alpha):
                            cf = bt[k, col]
                            if cf != 0:
                                src1 = r[i, tx * m + col]
                                for c in range(c_n):
                                    out[c] = cf * src1[c] + (0 if first else out[c])
                                first = False


def _transform_out(prod: np.ndarray, yb: np.ndarray, at: np.ndarray, bias: np.ndarray) -> None:
    """``yb[n, ty m + i, tx m + l] = (A^T M_t A)[i, l] + bias`` from the products
    ``prod`` (alpha^2, tiles, C_out): the output block channels-last (b, rows m,
    cols m, C_out), every entry a run of C_out values."""
    b, hm, wm, c_n = yb.shape
    m, alpha = at.shape
    th, tw = hm // m, wm // m
    s = np.empty((m, alpha, c_n), prod.dtype)
    for n in range(b):
        for ty in range(th):
            for tx in range(tw):
                t = (n * th + ty) * tw + tx
                for i in range(m):
                    for k in range(alpha):
                        dst = s[i, k]
                        first = True
                        for j in range(alpha):
                            cf = at[i, j]
                            if cf != 0:
                                src = prod[j * alpha + k, t]
                                for c in range(c_n):
                                    dst[c] = cf * src[c] + (0 if first else dst[c])
                                first = False
                for i in range(m):
                    for col in range(m):
                        out = yb[n, ty * m + i, tx * m + col]
                        for c in range(c_n):
                            out[c] = bias[c]
                        for k in range(alpha):
                            cf = at[col, k]
                            if cf != 0:
                                src1 = s[i, k]
                                for c in range(c_n):
                                    out[c] += cf * src1[c]


def _balanced(total: int, most: int, workers: int) -> int:
    """A chunk length of at most ``most`` (at least 1) whose chunks of ``total``
    share evenly among ``workers``: their count a multiple of it where ``total`` allows."""
    step = max(1, most)
    if workers > 1 and total > 1:
        rounds = -(-total // (step * workers))
        step = max(1, -(-total // (rounds * workers)))
    return step


def _copy_block(x: np.ndarray, xb: np.ndarray, lo_h: int, lo_w: int) -> None:
    """``xb[n, i + lo_h, j + lo_w, c] = x[n, c, i, j]`` where that lies inside ``xb``
    (which holds zeros elsewhere)."""
    src, dst = [], []
    for p, size, room in zip((lo_h, lo_w), x.shape[2:], xb.shape[1:3]):
        i0, i1 = max(0, -p), min(size, room - p)
        if i1 <= i0:
            return
        src.append(slice(i0, i1))
        dst.append(slice(i0 + p, i1 + p))
    xb[(slice(None),) + tuple(dst)] = x[(slice(None), slice(None)) + tuple(src)].transpose(
        0, 2, 3, 1
    )
