"""Winograd minimal filtering (Lavin & Gray 2016) for stride-1 3x3 convolutions,
and, by polyphase ``F(2x2, 2x2)``, for kernel-4 stride-2 (transposed) convolutions.

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

With numba (``jit``), three compiled kernels do the work: the weight transform
in one pass, and per chunk of tile rows (about L2's size, the worker's own
buffers reused) the input transform, which reads ``x`` in its NCHW layout
(each input row transposed once to channels-last, the zero padding by index
bounds), one stacked GEMM call, and the output transform plus bias, which writes
``y`` in its NCHW layout: no layout copies of the whole maps.

Without numba, the data is channels-last within a chunk, so every transform
term is a run of C contiguous values; each transform is a few strided NumPy adds per matrix
entry (a Python loop over the entries of the 4x4 or 6x6 matrices, the terms
of equal magnitude summed before one scaling; never a loop over tiles), the
elementwise stage ``(m + 2)^2`` 2-D GEMMs. The work runs in chunks of samples
or of tile rows sized to ``CHUNK_BYTES`` within the memory budget, on the
kernels' worker threads. Maps whose size is not a multiple of ``m`` compute
the last tiles whole and keep their valid part; the bias enters once per tile,
at the transform position of the point 1, whose output-transform column is
all ones.

The weight gradient of such a convolution (:func:`weight_grad3x3`, compiled only)
runs the same tiles backwards: ``G^T [sum over tiles of (A e A^T) (.) (B^T d B)] G``
with ``e`` a 4x4 block of the output gradient, 36 GEMMs ``(C_out, tiles) @ (tiles,
C_in)`` deep in tiles; ``WEIGHT_ERROR`` bounds its float32 error (measured at most
1.4e-5 of the largest gradient on normal, ReLU'd and uniform inputs, 3 to 512
channels, up to 64 x 224 x 224 positions, where the exact path's own float32 sums
reach 1.2e-5).

The table :data:`.conv.CONV` sends a convolution here where measured faster
(:mod:`.tuning`), always F(4,3): as ``conv.winograd_jit`` with numba on
(float32 and float64), else as ``conv.winograd`` (NumPy transforms; float32,
many channels); a stride-1 3x3 transposed convolution and the input gradient
of a stride-1 3x3 convolution reach it through ``conv_transpose.stride1_flipped``;
:data:`.conv.CONV_WEIGHT` sends the weight gradient alone there
(``conv_weight.winograd_jit``) on the forward's thresholds.

Kernel 4, stride 2 (the DCGAN generator's and discriminator's layers, 2-d or 3-d,
groups and dilation 1, numba on): a transposed convolution's 4 output phases are each a
stride-1 2x2 correlation of ``x`` (:func:`k4s2_phases`), and a convolution's 4 tap
parities each a 2x2 correlation of one phase of ``x``. ``F(2x2, 2x2)`` (:data:`F22`,
the points 0, -1 and infinity: every coefficient 0 or +-1) computes a 2x2 block
of such a correlation with 9 multiplications instead of 16, so 36 instead of 64
per 4x4 output block of the transposed convolution (:func:`conv_transpose_k4s2`,
36 GEMMs ``(tiles, C_in) @ (C_in, C_out)``) and per 2x2 block of the convolution
and channel pair (:func:`conv_k4s2`, the parities summed in 9 GEMMs of depth
``4 C_in``); the weight gradient runs the convolution's tiles backwards
(:func:`conv_and_weight_k4s2`, which also gives the convolution in the same pass:
the transposed layer's backward). A 3-d layer runs the same kernels on each depth
slice of its input as a 2-d map, the depth taps side by side in the GEMMs' columns
and each output plane summing the products of the slices it takes (:class:`_Depth`):
9/16 of the direct multiplications. A 2-d transposed convolution takes the adjoint
of ``F(2x2, 2x2)`` on 2x2 tiles of ``x`` instead (:func:`conv_transpose_k4s2_adjoint`):
the tile's transform does not depend on the phase, so one input transform serves the
4 phases, whose weights sit side by side in 9 GEMMs ``(tiles, C_in) @ (C_in, 4
C_out)`` (the same 36 multiplications per tile; GEMMs 4 times wider, which the BLAS
runs faster: measured in benchmarks/RESULTS-intel.md). Their float32 error is about the exact paths'
(:data:`PHASES_ERROR`). The tables send these layers there as
``conv_transpose.winograd_adjoint_jit`` (2-d), ``conv_transpose.winograd_phases_jit``
(3-d), ``conv.winograd_phases_jit`` and ``conv_weight.winograd_phases_jit``
(thresholds ``tuning.WINOGRAD_PHASES_*``).
``tconv.winograd(False)`` (or ``TCONV_WINOGRAD=0``) keeps the exact paths.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _numba, _threads
from .settings import get_memory_budget
from .tuning import CHUNK_BYTES

Ints = tuple[int, ...]

__all__ = [
    "ERROR",
    "PHASES_ERROR",
    "TRANSFORMS",
    "WEIGHT_ERROR",
    "Transform",
    "conv3x3",
    "conv_and_weight_k4s2",
    "conv_k4s2",
    "conv_transpose_k4s2",
    "conv_transpose_k4s2_adjoint",
    "k4s2_adjoint_bytes",
    "least_bytes",
    "weight_grad3x3",
    "winograd_bytes",
]


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


def _weight_one_thread(w: np.ndarray, tf: Transform) -> np.ndarray:
    """:func:`transformed_weight` with the BLAS on one thread: a threaded GEMM here,
    just before the workers start, leaves the BLAS's threads spinning for ~0.1 s on
    the cores the workers need (conv_k3 on 2 workers ran no faster than on one)."""
    with _threads.serial_blas():
        return transformed_weight(w, tf)


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
    if jit and m == 4:
        _conv43_jit(x, w, y, lo, bias)
        return
    tf = TRANSFORMS[m]
    n, c_in = x.shape[:2]
    c_out = w.shape[0]
    alpha = tf.alpha
    th, tw = -(-out_size[0] // m), -(-out_size[1] // m)
    ut = _weight_one_thread(w, tf)  # (alpha^2, C_in, C_out)
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

    def chunk(item: tuple[slice, int, int]) -> None:
        nb, t0, t1 = item
        b, rows_t = nb.stop - nb.start, t1 - t0
        # channels-last: every transform term is a run of C contiguous values
        width = tw * m + 2
        xb = np.zeros((b, rows_t * m + 2, width, c_in), dtype=x.dtype)
        _copy_block(x[nb], xb, lo[0] - t0 * m, lo[1])
        h0, h1 = t0 * m, min(out_size[0], t1 * m)
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


def _conv43_jit(
    x: np.ndarray, w: np.ndarray, y: np.ndarray, lo: Ints, bias: np.ndarray | None
) -> None:
    """:func:`conv3x3` by F(4x4, 3x3) with the compiled transforms, which read
    ``x`` and write ``y`` in their NCHW layout (no layout copies): per chunk of
    tile rows, the input transform channels-last into ``v`` (36, tiles, C_in),
    36 GEMMs, the output transform plus bias into ``y``. The chunks' buffers
    are the worker's own, reused: fresh large ones per chunk cost page faults."""
    n, c_in, c_out = x.shape[0], x.shape[1], w.shape[0]
    th, tw = -(-y.shape[2] // 4), -(-y.shape[3] // 4)
    kin, kout, kw = _compiled()
    u = np.empty((36, c_in, c_out), dtype=x.dtype)
    kw(w, u, TRANSFORMS[4].g.astype(x.dtype))
    b = np.zeros(c_out, x.dtype) if bias is None else bias.astype(x.dtype)
    cst = np.array([2, 4, 5, 8], dtype=x.dtype)  # typed: a literal would make float64
    wp, c_max = 4 * tw + 2, max(c_in, c_out)
    row_bytes = 36 * tw * (c_in + c_out) * x.itemsize  # v and the products
    side = (12 * wp * c_max + 4 * wp * c_out) * x.itemsize
    nw = _threads.workers(n * y.shape[2] * y.shape[3] * c_in * c_out * 9, row_bytes + side)
    # chunks of about L2's size: the GEMMs' operands stay in cache and, of ~200
    # tiles, are large enough for the BLAS (56 tiles ran slower, on 2 threads too);
    # with many channels at least the weights' size, as each chunk's GEMMs read
    # them all (in cache-sized chunks, 512 channels ran 2-5x slower)
    room = min(max(CHUNK_BYTES // 2, u.nbytes), (get_memory_budget() - u.nbytes) // nw - side)
    step = _balanced(n * th, room // row_bytes, nw)
    items = [(g, min(n * th, g + step)) for g in range(0, n * th, step)]
    local = threading.local()

    def chunk(item: tuple[int, int]) -> None:
        g0, g1 = item
        bufs = getattr(local, "bufs", None)
        if bufs is None:
            bufs = local.bufs = (
                np.empty(36 * step * tw * c_in, x.dtype),
                np.empty(36 * step * tw * c_out, x.dtype),
                np.empty((6, wp, c_in), x.dtype),
                np.empty(6 * wp * c_max, x.dtype),
                np.empty((4, wp, c_out), x.dtype),
            )
        t = (g1 - g0) * tw
        v = bufs[0][: 36 * t * c_in].reshape(36, t, c_in)
        prod = bufs[1][: 36 * t * c_out].reshape(36, t, c_out)
        r = bufs[3][: 6 * wp * c_in].reshape(6, wp, c_in)
        kin(x, v, g0, g1, th, lo[0], lo[1], bufs[2], r, cst)
        np.matmul(v, u, out=prod)
        s = bufs[3][: 6 * wp * c_out].reshape(6, wp, c_out)
        kout(prod, y, b, g0, g1, th, s, bufs[4], cst)

    _threads.map_chunks(chunk, items, nw)


def _compiled() -> tuple[Any, Any, Any]:
    """The numba versions of :func:`_transform_in`, :func:`_transform_out` and
    :func:`_transform_weight`, compiled on first use (:func:`._numba.compiled`)."""
    kernels = (_transform_in, _transform_out, _transform_weight)
    kin, kout, kw = (_numba.compiled(f, error_model="numpy") for f in kernels)
    return kin, kout, kw


# The two kernels below index arrays element by element and never take a view
# inside a loop (each view costs an atomic reference count in numba), and every
# innermost loop stores one run (a single store stream, vectorised without a web
# of alias checks). The matrices of F(4, 3) are written out (TRANSFORMS[4]).


def _transform_weight(w: np.ndarray, u: np.ndarray, g: np.ndarray) -> None:
    """``u[6 a + b, i, o] = (G w[o, i] G^T)[a, b]``: :func:`transformed_weight` in one
    pass per input channel (the GEMM with the 9 taps, K = 9 deep, ran 4x longer
    than the convolution it serves with 512 channels on small maps); ``u`` in the
    GEMMs' layout (with it as BLAS's transposed operand they ran 1.6x longer)."""
    c_out, c_in = w.shape[0], w.shape[1]
    t = np.empty((6, 3, c_out), w.dtype)
    for i in range(c_in):
        for o in range(c_out):
            for c in range(3):
                w0, w1, w2 = w[o, i, 0, c], w[o, i, 1, c], w[o, i, 2, c]
                for a in range(6):
                    t[a, c, o] = g[a, 0] * w0 + g[a, 1] * w1 + g[a, 2] * w2
        for a in range(6):
            for b in range(6):
                for o in range(c_out):
                    u[6 * a + b, i, o] = (
                        g[b, 0] * t[a, 0, o] + g[b, 1] * t[a, 1, o] + g[b, 2] * t[a, 2, o]
                    )


def _transform_in(
    x: np.ndarray, v: np.ndarray, g0: int, g1: int, th: int, p_h: int, p_w: int,
    xl: np.ndarray, r: np.ndarray, cst: np.ndarray,
) -> None:  # fmt: skip
    """``v[6 i + k, t, c] = (B^T d B)[i, k]`` for the tiles ``t`` of the tile rows
    ``g0 .. g1`` (tile row g: sample g // th, row g % th), ``d`` the 6x6 tile of
    channel ``c`` of ``x`` (NCHW) at (4 row - p_h, 4 col - p_w), zeros outside:
    the tile row's 6 input rows transposed channels-last into ``xl`` (6, wp, C),
    ``B^T`` along them into ``r``, then ``B`` per tile, each over runs of C."""
    c_n, h, w_in = x.shape[1], x.shape[2], x.shape[3]
    wp = xl.shape[1]
    tw = (wp - 2) // 4
    f2, f4, f5 = cst[0], cst[1], cst[2]
    q0 = min(max(p_w, 0), wp)
    q1 = max(min(w_in + p_w, wp), q0)
    for j in range(6):
        for q in range(wp):
            if q < q0 or q >= q1:
                for c in range(c_n):
                    xl[j, q, c] = 0
    for g in range(g0, g1):
        n = g // th
        ty = g - n * th
        base = (g - g0) * tw
        # input row 4 ty + j sits in slot (4 ty + j) % 6: the next tile row's
        # first two rows (this one's last two) are transposed once
        for j in range(2 if g > g0 and ty > 0 else 0, 6):
            row = ty * 4 + j - p_h
            k = (ty * 4 + j) % 6
            if row < 0 or row >= h:
                for q in range(q0, q1):
                    for c in range(c_n):
                        xl[k, q, c] = 0
            else:  # unsigned column indices: see _k4s2_in
                at, first = np.uint64(q0), np.uint64(q0 - p_w)
                for c in range(c_n):
                    for j in range(np.uint64(q1 - q0)):
                        xl[k, at + j, c] = x[n, c, row, first + j]
        s0, s1, s2 = (ty * 4) % 6, (ty * 4 + 1) % 6, (ty * 4 + 2) % 6
        s3, s4, s5 = (ty * 4 + 3) % 6, (ty * 4 + 4) % 6, (ty * 4 + 5) % 6
        for q in range(wp):
            for c in range(c_n):
                r[0, q, c] = f4 * xl[s0, q, c] - f5 * xl[s2, q, c] + xl[s4, q, c]
            for c in range(c_n):
                r[1, q, c] = (xl[s4, q, c] - f4 * xl[s2, q, c]) + (xl[s3, q, c] - f4 * xl[s1, q, c])
            for c in range(c_n):
                r[2, q, c] = (xl[s4, q, c] - f4 * xl[s2, q, c]) - (xl[s3, q, c] - f4 * xl[s1, q, c])
            for c in range(c_n):
                r[3, q, c] = (xl[s4, q, c] - xl[s2, q, c]) + f2 * (xl[s3, q, c] - xl[s1, q, c])
            for c in range(c_n):
                r[4, q, c] = (xl[s4, q, c] - xl[s2, q, c]) - f2 * (xl[s3, q, c] - xl[s1, q, c])
            for c in range(c_n):
                r[5, q, c] = f4 * xl[s1, q, c] - f5 * xl[s3, q, c] + xl[s5, q, c]
        for tx in range(tw):
            t = base + tx
            q = 4 * tx
            for i in range(6):
                a = 6 * i
                for c in range(c_n):
                    v[a, t, c] = f4 * r[i, q, c] - f5 * r[i, q + 2, c] + r[i, q + 4, c]
                for c in range(c_n):
                    v[a + 1, t, c] = (r[i, q + 4, c] - f4 * r[i, q + 2, c]) + (
                        r[i, q + 3, c] - f4 * r[i, q + 1, c]
                    )
                for c in range(c_n):
                    v[a + 2, t, c] = (r[i, q + 4, c] - f4 * r[i, q + 2, c]) - (
                        r[i, q + 3, c] - f4 * r[i, q + 1, c]
                    )
                for c in range(c_n):
                    v[a + 3, t, c] = (r[i, q + 4, c] - r[i, q + 2, c]) + f2 * (
                        r[i, q + 3, c] - r[i, q + 1, c]
                    )
                for c in range(c_n):
                    v[a + 4, t, c] = (r[i, q + 4, c] - r[i, q + 2, c]) - f2 * (
                        r[i, q + 3, c] - r[i, q + 1, c]
                    )
                for c in range(c_n):
                    v[a + 5, t, c] = f4 * r[i, q + 1, c] - f5 * r[i, q + 3, c] + r[i, q + 5, c]


def _transform_out(
    prod: np.ndarray, y: np.ndarray, bias: np.ndarray, g0: int, g1: int, th: int,
    s: np.ndarray, yl: np.ndarray, cst: np.ndarray,
) -> None:  # fmt: skip
    """``y[n, o, 4 ty + i, 4 tx + l] = (A^T M A)[i, l] + bias[o]`` (the part inside
    ``y``) for the tile rows ``g0 .. g1``, ``M`` the products ``prod`` (36, tiles,
    C_out): ``A^T`` per tile into ``s`` (6, wp, C_out), ``A`` along the rows into
    ``yl`` (4, wp, C_out), then transposed into ``y`` (NCHW)."""
    c_n, h, w_out = y.shape[1], y.shape[2], y.shape[3]
    tw = (s.shape[1] - 2) // 4
    f2, f4, f8 = cst[0], cst[1], cst[3]
    for g in range(g0, g1):
        n = g // th
        ty = g - n * th
        base = (g - g0) * tw
        for tx in range(tw):
            t = base + tx
            q = 4 * tx
            for j in range(6):
                a = 6 * j
                for c in range(c_n):
                    s[j, q, c] = (
                        prod[a, t, c]
                        + (prod[a + 1, t, c] + prod[a + 2, t, c])
                        + (prod[a + 3, t, c] + prod[a + 4, t, c])
                    )
                for c in range(c_n):
                    s[j, q + 1, c] = (prod[a + 1, t, c] - prod[a + 2, t, c]) + f2 * (
                        prod[a + 3, t, c] - prod[a + 4, t, c]
                    )
                for c in range(c_n):
                    s[j, q + 2, c] = (prod[a + 1, t, c] + prod[a + 2, t, c]) + f4 * (
                        prod[a + 3, t, c] + prod[a + 4, t, c]
                    )
                for c in range(c_n):
                    s[j, q + 3, c] = (
                        (prod[a + 1, t, c] - prod[a + 2, t, c])
                        + f8 * (prod[a + 3, t, c] - prod[a + 4, t, c])
                        + prod[a + 5, t, c]
                    )
        for q in range(w_out):
            for c in range(c_n):
                yl[0, q, c] = s[0, q, c] + (s[1, q, c] + s[2, q, c]) + (s[3, q, c] + s[4, q, c])
            for c in range(c_n):
                yl[1, q, c] = (s[1, q, c] - s[2, q, c]) + f2 * (s[3, q, c] - s[4, q, c])
            for c in range(c_n):
                yl[2, q, c] = (s[1, q, c] + s[2, q, c]) + f4 * (s[3, q, c] + s[4, q, c])
            for c in range(c_n):
                d = s[1, q, c] - s[2, q, c]
                yl[3, q, c] = d + f8 * (s[3, q, c] - s[4, q, c]) + s[5, q, c]
        for i in range(min(4, h - 4 * ty)):
            for c in range(c_n):
                bc = bias[c]
                for q in range(w_out):
                    y[n, c, 4 * ty + i, q] = yl[i, q, c] + bc


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


# --------------------------------------------------------------------------
# The weight gradient by F(4x4, 3x3): conv_weight.winograd_jit

#: The float32 error bound of :func:`weight_grad3x3`: max |error| relative to the
#: largest |gradient|, against the float64 reference (measured: its tests).
WEIGHT_ERROR = 5e-5


def _transform_gy(
    gy: np.ndarray, z: np.ndarray, g0: int, g1: int, th: int, yl: np.ndarray,
    s: np.ndarray, cst: np.ndarray,
) -> None:  # fmt: skip
    """``z[6 a + b, t, o] = (A e A^T)[a, b]`` for the tiles ``t`` of the tile rows
    ``g0 .. g1``, ``e`` the 4x4 block of channel ``o`` of ``gy`` (NCHW) at (4 row,
    4 col), zeros outside, ``A = TRANSFORMS[4].at^T`` (6, 4): the block row's 4 rows
    transposed channels-last into ``yl`` (4, wq, C), ``A`` along them into ``s``
    (6, wq, C), then ``A^T`` per tile, each over runs of C. (The backward of the
    output transform: what the gradient of the products ``M`` is.)"""
    c_n, h, w_out = gy.shape[1], gy.shape[2], gy.shape[3]
    wq = yl.shape[1]
    tw = wq // 4
    f2, f4, f8 = cst[0], cst[1], cst[3]
    for j in range(4):
        for q in range(w_out, wq):
            for c in range(c_n):
                yl[j, q, c] = 0
    for g in range(g0, g1):
        n = g // th
        ty = g - n * th
        base = (g - g0) * tw
        for j in range(4):
            row = 4 * ty + j
            if row >= h:
                for q in range(w_out):
                    for c in range(c_n):
                        yl[j, q, c] = 0
            else:
                for c in range(c_n):
                    for q in range(w_out):
                        yl[j, q, c] = gy[n, c, row, q]
        for q in range(wq):
            for c in range(c_n):
                s[0, q, c] = yl[0, q, c]
            for c in range(c_n):
                s[1, q, c] = (yl[0, q, c] + yl[2, q, c]) + (yl[1, q, c] + yl[3, q, c])
            for c in range(c_n):
                s[2, q, c] = (yl[0, q, c] + yl[2, q, c]) - (yl[1, q, c] + yl[3, q, c])
            for c in range(c_n):
                s[3, q, c] = (yl[0, q, c] + f4 * yl[2, q, c]) + (
                    f2 * yl[1, q, c] + f8 * yl[3, q, c]
                )
            for c in range(c_n):
                s[4, q, c] = (yl[0, q, c] + f4 * yl[2, q, c]) - (
                    f2 * yl[1, q, c] + f8 * yl[3, q, c]
                )
            for c in range(c_n):
                s[5, q, c] = yl[3, q, c]
        for tx in range(tw):
            t = base + tx
            q = 4 * tx
            for i in range(6):
                a = 6 * i
                for c in range(c_n):
                    z[a, t, c] = s[i, q, c]
                for c in range(c_n):
                    z[a + 1, t, c] = (s[i, q, c] + s[i, q + 2, c]) + (
                        s[i, q + 1, c] + s[i, q + 3, c]
                    )
                for c in range(c_n):
                    z[a + 2, t, c] = (s[i, q, c] + s[i, q + 2, c]) - (
                        s[i, q + 1, c] + s[i, q + 3, c]
                    )
                for c in range(c_n):
                    z[a + 3, t, c] = (s[i, q, c] + f4 * s[i, q + 2, c]) + (
                        f2 * s[i, q + 1, c] + f8 * s[i, q + 3, c]
                    )
                for c in range(c_n):
                    z[a + 4, t, c] = (s[i, q, c] + f4 * s[i, q + 2, c]) - (
                        f2 * s[i, q + 1, c] + f8 * s[i, q + 3, c]
                    )
                for c in range(c_n):
                    z[a + 5, t, c] = s[i, q + 3, c]


def weight_grad3x3(x: np.ndarray, gy: np.ndarray, lo: Ints) -> np.ndarray:
    """The weight gradient of a stride-1 3x3 convolution (groups 1, dilation 1),
    ``gw[o, i, t] = sum_{n, p} gy[n, o, p] x[n, i, p + t - lo]`` (C_out, C_in, 3, 3),
    by F(4x4, 3x3) with the compiled transforms (numba must import).

    The forward computes each 4x4 output block as ``A^T [(G w G^T) (.) (B^T d B)] A``,
    so the gradient of ``w`` is ``G^T [sum over blocks of (A e A^T) (.) (B^T d B)] G``,
    ``e`` the block of ``gy``: the input transform of the forward, the output
    gradient's transform (:func:`_transform_gy`), 36 GEMMs ``(C_out, tiles) @
    (tiles, C_in)`` summed over the chunks of tile rows, and ``G^T . G`` once.
    float32 within :data:`WEIGHT_ERROR` of the largest gradient.

    x (N, C_in, H, W), gy (N, C_out, Ho, Wo), ``Ho = H + 2 lo - 2`` (per dim).
    """
    n, c_in, c_out = x.shape[0], x.shape[1], gy.shape[1]
    th, tw = -(-gy.shape[2] // 4), -(-gy.shape[3] // 4)
    kin, _, _ = _compiled()
    kgy = _numba.compiled(_transform_gy, error_model="numpy")
    cst = np.array([2, 4, 5, 8], dtype=x.dtype)
    wp, wq, c_max = 4 * tw + 2, 4 * tw, max(c_in, c_out)
    row_bytes = 36 * tw * (c_in + c_out) * x.itemsize  # v and z
    side = (12 * wp * c_max + 10 * wq * c_out + 36 * c_in * c_out) * x.itemsize
    nw = _threads.workers(n * gy.shape[2] * gy.shape[3] * c_in * c_out * 9, row_bytes + side)
    room = min(CHUNK_BYTES // 2, get_memory_budget() // nw - side)
    step = _balanced(n * th, room // row_bytes, nw)
    items = [(g, min(n * th, g + step)) for g in range(0, n * th, step)]
    accs = _threads.Accumulators((36, c_out, c_in), x.dtype)
    local = threading.local()
    x = np.ascontiguousarray(x)
    gy = np.ascontiguousarray(gy)

    def chunk(item: tuple[int, int]) -> None:
        g0, g1 = item
        bufs = getattr(local, "bufs", None)
        if bufs is None:  # the worker's own, reused over its chunks
            bufs = local.bufs = (
                np.empty(36 * step * tw * c_in, x.dtype),
                np.empty(36 * step * tw * c_out, x.dtype),
                np.empty((6, wp, c_in), x.dtype),
                np.empty((6, wp, c_in), x.dtype),
                np.empty((4, wq, c_out), x.dtype),
                np.empty((6, wq, c_out), x.dtype),
            )
        t = (g1 - g0) * tw
        v = bufs[0][: 36 * t * c_in].reshape(36, t, c_in)
        z = bufs[1][: 36 * t * c_out].reshape(36, t, c_out)
        kin(x, v, g0, g1, th, lo[0], lo[1], bufs[2], bufs[3], cst)
        kgy(gy, z, g0, g1, th, bufs[4], bufs[5], cst)
        acc = accs.get()
        acc += np.matmul(z.transpose(0, 2, 1), v)

    _threads.map_chunks(chunk, items, nw)
    m = accs.total().reshape(36, c_out * c_in)
    g = TRANSFORMS[4].g.astype(x.dtype)
    with _threads.serial_blas():
        gw = np.kron(g, g).T @ m  # (9, C_out C_in): G^T M G per channel pair
    return np.ascontiguousarray(gw.reshape(3, 3, c_out, c_in).transpose(2, 3, 0, 1))


# --------------------------------------------------------------------------
# k4 s2 transposed convolutions by polyphase F(2x2, 2x2): conv_transpose.winograd_phases_jit

#: The float32 error bound of the k4 s2 paths (:func:`conv_transpose_k4s2`,
#: :func:`conv_k4s2`, :func:`conv_and_weight_k4s2`): max |error| relative to the
#: largest |output| on realistic layers, against the float64 reference (measured at
#: most 9.6e-7; PyTorch's float32: 1.4e-6), and relative to the largest sum of
#: |products| on any input (a sum that cancels to near zero has a larger error
#: relative to itself, the exact float32 paths' too). Measured: its tests.
PHASES_ERROR = 3e-6

# F(2, 2) for the correlation y[i] = d[i] g[0] + d[i + 1] g[1], i = 0, 1, at the
# points 0, -1 and infinity: every coefficient 0 or +-1, so the transforms add and
# subtract only (Toom-Cook: m0 = (d0 - d1) g0, m1 = d1 (g0 + g1), m2 = (d2 - d1) g1,
# y0 = m0 + m1, y1 = m1 + m2).
F22 = (
    np.array([[1, -1, 0], [0, 1, 0], [0, -1, 1]], dtype=np.float64),  # B^T
    np.array([[1, 0], [1, 1], [0, 1]], dtype=np.float64),  # G
    np.array([[1, 1, 0], [0, 1, 1]], dtype=np.float64),  # A^T
)


def k4s2_phases(lo: int) -> tuple[tuple[int, int], tuple[tuple[int, int], tuple[int, int]]]:
    """One dim of a kernel-4, stride-2 transposed convolution cropped by ``lo``
    (PyTorch's padding, ``o = 2 i - lo + k``): per output phase ``r = o mod 2``
    the start of its 3-input window relative to ``2 t`` (tile ``t`` of the phase
    holds its outputs ``q = 2 t, 2 t + 1``, ``o = 2 q + r``) and the kernel taps
    ``(g0, g1)`` of the correlation ``y_r[q] = x[q + s] w[g0] + x[q + s + 1] w[g1]``.

    >>> k4s2_phases(1)
    ((-1, 0), ((3, 1), (2, 0)))
    """
    starts, taps = [], []
    for r in (0, 1):
        first = (r + lo) % 2  # the taps k = first, first + 2 reach phase r
        shift = (r + lo - first) // 2  # input minus phase index of tap `first`
        starts.append(shift - 1)
        taps.append((first + 2, first))
    return (starts[0], starts[1]), (taps[0], taps[1])


def k4s2_weight(w: np.ndarray, lo: Ints) -> np.ndarray:
    """``u[9 (2 r0 + r1) + 3 a + b, i, k C_out + o] = (G g G^T)[a, b]`` (36, C_in,
    kd C_out), ``g`` the 2x2 sub-kernel of output phase ``(r0, r1)`` of depth tap
    ``k`` of ``w`` (C_in, C_out, [kd,] 4, 4): the transformed weights of
    :func:`conv_transpose_k4s2`, the depth taps side by side (2-d: one), by
    :func:`_k4s2_planes`."""
    w5 = _as_3d(w)
    c_in, c_out, kd = w5.shape[:3]
    u = np.empty((36, c_in, kd * c_out), dtype=w.dtype)
    pt = np.arange(36, dtype=np.int64).reshape(4, 3, 3)  # phase p's points 9 p + 3 a + b
    cols = np.repeat(np.arange(kd, dtype=np.int64)[:, None] * c_out, 4, axis=1)
    _planes(w5, [k4s2_phases(p)[1] for p in lo[-2:]], pt, np.zeros(4, np.int64), cols, u)
    return u


def k4s2_adjoint_weight(w: np.ndarray, lo: Ints) -> np.ndarray:
    """``U[3 a + b, i, p C_out + o] = (G h_p G^T)[a, b]`` (9, C_in, 4 C_out), ``h_p``
    output phase ``p``'s 2x2 sub-kernel reversed along both dims (the transposed
    correlation's): :func:`k4s2_weight`'s planes, the points reversed and the 4
    phases side by side in the columns."""
    c_in, c_out = w.shape[:2]
    u = np.empty((9, c_in, 4 * c_out), dtype=w.dtype)
    pt = np.broadcast_to(np.arange(8, -1, -1, dtype=np.int64).reshape(3, 3), (4, 3, 3))
    cols = (np.arange(4, dtype=np.int64) * c_out)[None]
    _planes(w[:, :, None], [k4s2_phases(p)[1] for p in lo], pt, np.zeros(4, np.int64), cols, u)
    return u


def k4s2_conv_weight(w: np.ndarray, parity: int = 0) -> np.ndarray:
    """``u[3 a + b, (2 r0 + r1) C_in + i, j C_out + o] = (G g G^T)[a, b]`` (9, 4 C_in,
    taps C_out), ``g`` the 2x2 sub-kernel ``w[o, i, k, r0::2, r1::2]`` of the input
    phase that tap parity ``(r0, r1)`` reads, of ``w`` (C_out, C_in, [kd,] 4, 4): the
    transformed weights of :func:`conv_k4s2`, the 4 parities stacked in the GEMMs'
    depth; 3-d: the depth taps ``k = parity + 2 j`` of one parity side by side."""
    w5 = _as_3d(w)
    kd = w5.shape[2]
    w5 = w5[:, :, parity :: kd // _Depth.slice_taps(False, kd)]
    c_out, c_in, taps = w5.shape[:3]
    u = np.empty((9, 4 * c_in, taps * c_out), dtype=w.dtype)
    pt = np.broadcast_to(np.arange(9, dtype=np.int64).reshape(3, 3), (4, 3, 3))
    rows = np.arange(4, dtype=np.int64) * c_in
    cols = np.repeat(np.arange(taps, dtype=np.int64)[:, None] * c_out, 4, axis=1)
    taps_rc = [((0, 2), (1, 3))] * 2  # parity r reads the taps r, r + 2
    _planes(w5.transpose(1, 0, 2, 3, 4), taps_rc, pt, rows, cols, u)
    return u


def _planes(
    w: np.ndarray, taps: list[Any], pt: np.ndarray, rows: np.ndarray, cols: np.ndarray,
    u: np.ndarray,
) -> None:  # fmt: skip
    """:func:`_k4s2_planes` over the rows of ``w`` (I, O, J, 4, 4), in this thread (on
    2 workers dcgan2's took 0.6 ms, here 0.5: the hand-off costs what it saves)."""
    kern = _numba.compiled(_k4s2_planes, error_model="numpy")
    t = np.array(taps, dtype=np.int64)  # (dim, phase, tap)
    kern(w, t, np.ascontiguousarray(pt), rows, np.ascontiguousarray(cols), u)


def _k4s2_planes(
    w: np.ndarray, taps: np.ndarray, pt: np.ndarray, rows: np.ndarray, cols: np.ndarray,
    u: np.ndarray,
) -> None:  # fmt: skip
    """``u[pt[p, a, b], rows[p] + i, cols[j, p] + o] = (G g G^T)[a, b]`` for every row
    ``i`` of ``w`` (I, O, J, 4, 4), ``g`` phase ``p``'s 2x2 sub-kernel
    ``g[m0, m1] = w[i, o, j, taps[0, p // 2, m0], taps[1, p % 2, m1]]``: ``G`` along
    its first dim (``g0, g0 + g1, g1``), then along its second, in one pass."""
    n_i, n_o, n_j = w.shape[0], w.shape[1], w.shape[2]
    for i in range(n_i):
        for j in range(n_j):
            for p in range(4):
                a0, a1 = taps[0, p // 2, 0], taps[0, p // 2, 1]
                b0, b1 = taps[1, p % 2, 0], taps[1, p % 2, 1]
                r, c = rows[p] + i, cols[j, p]
                q00, q01, q02 = pt[p, 0, 0], pt[p, 0, 1], pt[p, 0, 2]
                q10, q11, q12 = pt[p, 1, 0], pt[p, 1, 1], pt[p, 1, 2]
                q20, q21, q22 = pt[p, 2, 0], pt[p, 2, 1], pt[p, 2, 2]
                for o in range(n_o):
                    g00, g01 = w[i, o, j, a0, b0], w[i, o, j, a0, b1]
                    g10, g11 = w[i, o, j, a1, b0], w[i, o, j, a1, b1]
                    s0, s1 = g00 + g10, g01 + g11
                    u[q00, r, c + o] = g00
                    u[q01, r, c + o] = g00 + g01
                    u[q02, r, c + o] = g01
                    u[q10, r, c + o] = s0
                    u[q11, r, c + o] = s0 + s1
                    u[q12, r, c + o] = s1
                    u[q20, r, c + o] = g10
                    u[q21, r, c + o] = g10 + g11
                    u[q22, r, c + o] = g11


class _Depth:
    """How a k4 s2 layer's depth (3-d) reaches the 2-d ``F(2x2, 2x2)`` kernels; a 2-d
    layer is one slice and one tap. Each input depth slice is transformed as a 2-d
    map, its tiles at position ``pos[d]`` (the slices of each ``groups`` entry
    ``(first position, count, tap parity)`` next to each other: one GEMM each); the
    GEMMs' columns hold the depth taps the slices meet (``taps`` blocks of C_out, tap
    ``parity + stride j`` in block j), and output plane ``o`` sums the products at
    positions ``src[o, e]`` (-1: none, after the others), blocks ``blk[o, e]``: the
    kernels read the products (points, tiles x taps, C_out), tile ``t``'s block ``j``
    at ``t taps + j`` (an index ``f + c`` into the columns, numba's loops measured
    1.6x slower: not vectorised). For the weight gradient, the output gradient's
    plane ``o`` goes to ``tgt[o, kd]`` (position x ``taps`` + block of the slice tap
    ``kd`` pairs it with; -1: none) and ``zero`` lists the (position x taps + block)s
    no plane reaches."""

    def __init__(
        self, pairs: list[tuple[int, int, int]], d_in: int, d_out: int, stride: int,
        lo: int, kd: int,
    ) -> None:  # fmt: skip
        # pairs (o, d, k): output plane o takes input slice d through depth tap k;
        # slice d meets the taps of parity (d + lo) mod stride
        order = sorted(range(d_in), key=lambda d: (d + lo) % stride)  # stable
        self.pos = np.empty(d_in, dtype=np.int64)
        self.pos[order] = np.arange(d_in)
        self.stride, self.taps = stride, kd // stride
        parity = [(d + lo) % stride for d in order]
        self.groups = [(parity.index(e), parity.count(e), e) for e in sorted(set(parity))]
        most = max([sum(1 for p in pairs if p[0] == o) for o in range(d_out)] + [1])
        self.src = np.full((d_out, most), -1, dtype=np.int64)
        self.blk = np.zeros((d_out, most), dtype=np.int64)
        self.tgt = np.full((d_out, kd), -1, dtype=np.int64)
        seen = np.zeros((d_in, self.taps), dtype=bool)
        filled = [0] * d_out
        for o, d, k in pairs:
            block = k // stride
            self.src[o, filled[o]], self.blk[o, filled[o]] = self.pos[d], block
            filled[o] += 1
            self.tgt[o, k] = self.pos[d] * self.taps + block
            seen[d, block] = True
        empty = [self.pos[d] * self.taps + j for d, j in zip(*np.nonzero(~seen))]
        self.zero = np.array(sorted(empty), dtype=np.int64)

    @staticmethod
    def slice_taps(transposed: bool, kd: int) -> int:
        """The depth taps each input slice meets, of a kernel of ``kd`` (1 in 2-d): all
        of them in a transposed convolution, one parity's (stride 2) in a convolution."""
        return kd if transposed or kd == 1 else kd // 2

    @classmethod
    def of(cls, transposed: bool, lo: Ints, d_in: int, d_out: int) -> _Depth:
        """The depth of a layer of ``lo`` (its padding, all dims): a k4 s2 transposed
        convolution's output plane ``o = 2 d + kd - lo`` (every slice meets the 4
        taps), a convolution's reads slice ``d = 2 o + kd - lo`` (slices of parity
        ``p`` meet the 2 taps of parity ``(p + lo) mod 2``); 2-d: one plane."""
        if len(lo) == 2:
            return cls([(0, 0, 0)], 1, 1, 1, 0, 1)
        p = lo[0]
        if transposed:
            every = [(2 * d + k - p, d, k) for d in range(d_in) for k in range(4)]
            stride = 4 // cls.slice_taps(True, 4)
            return cls([t for t in every if 0 <= t[0] < d_out], d_in, d_out, stride, p, 4)
        every = [(o, 2 * o + k - p, k) for o in range(d_out) for k in range(4)]
        stride = 4 // cls.slice_taps(False, 4)
        return cls([t for t in every if 0 <= t[1] < d_in], d_in, d_out, stride, p, 4)


def _as_3d(a: np.ndarray) -> np.ndarray:
    """A 2-d layer's array (N, C, H, W) as one depth slice (N, C, 1, H, W), a view."""
    return a[:, :, None] if a.ndim == 4 else a


def _k4s2_buffers(
    c_in: int, c_out: int, tw: int, itemsize: int, nrow: int = 4, wp: int = 0,
    depth: int = 1, taps: int = 1,
) -> tuple[int, int]:  # fmt: skip
    """The buffers of :func:`conv_transpose_k4s2` for a row of ``tw`` tiles over
    ``depth`` input slices meeting ``taps`` depth taps each, in bytes: per tile row
    ``v`` and the products (``taps`` C_out columns); per worker ``xl`` (depth, nrow,
    wp, C_in), ``r`` (2, 3, wp, C_in), ``s`` (2, 3, 4 tw, C_out) and ``yl`` (4, 4 tw,
    C_out). ``nrow`` and ``wp`` (input rows and columns a tile row reads) at most 4
    and 2 tw + 3."""
    wp = wp or 2 * tw + 3
    row = 36 * tw * depth * (c_in + taps * c_out)
    side = (depth * nrow + 6) * wp * c_in + 40 * tw * c_out
    return row * itemsize, side * itemsize


def k4s2_bytes(c_in: int, c_out: int, tw: int, itemsize: int, depth: int = 1, kd: int = 1) -> int:
    """Bytes :func:`conv_transpose_k4s2` needs at least: the transformed weights and
    one worker's buffers for one row of ``tw`` tiles (3-d: over ``depth`` input
    slices, a kernel of ``kd`` depth taps)."""
    taps = _Depth.slice_taps(True, kd)
    buffers = _k4s2_buffers(c_in, c_out, tw, itemsize, depth=depth, taps=taps)
    return 36 * kd * c_in * c_out * itemsize + sum(buffers)


def conv_transpose_k4s2(
    x: np.ndarray, w: np.ndarray, y: np.ndarray, lo: Ints, bias: np.ndarray | None
) -> None:
    """Write ``y = conv_transpose2d(x, w, stride=2, padding=lo) + bias`` for a 4x4
    kernel (groups 1, dilation 1; ``y``'s size sets the output padding) by polyphase
    Winograd ``F(2x2, 2x2)`` with compiled transforms (numba must import); likewise
    ``conv_transpose3d`` for a 4x4x4 kernel.

    x (N, C_in, H, W), w (C_in, C_out, 4, 4), y (N, C_out, Ho, Wo) with
    ``Ho = 2 (H - 1) - 2 lo[0] + 4 + output_padding`` (likewise Wo). Each of the 4
    output phases ``(o0 mod 2, o1 mod 2)`` is a stride-1 correlation of ``x`` with
    a 2x2 sub-kernel (:func:`k4s2_phases`), computed per 2x2 block of the phase
    by ``F(2x2, 2x2)``: 9 multiplications per channel pair instead of 16, so
    36 instead of 64 per 4x4 block of ``y``. Per chunk of tile rows: the input
    transform reads ``x`` (NCHW) into ``v`` (36, tiles, C_in), one stacked GEMM
    with the transformed weights (:func:`k4s2_weight`), and the output transform
    plus bias writes the 4 phases' blocks into ``y`` (NCHW) as one 4x4 block.
    3-d (x (N, C_in, D, H, W), w (C_in, C_out, 4, 4, 4)): each depth slice of ``x``
    is transformed as a 2-d map, the GEMMs' columns hold the 4 depth taps' weights
    ``(tiles, C_in) @ (C_in, 4 C_out)``, and each output plane sums the products of
    the 2 slices it takes (:class:`_Depth`): 9/16 of the direct multiplications.
    float32 within :data:`PHASES_ERROR` of the largest output.

    >>> x, w, y = np.ones((1, 1, 2, 2)), np.ones((1, 1, 4, 4)), np.empty((1, 1, 4, 4))
    >>> conv_transpose_k4s2(x, w, y, (1, 1), None)
    >>> y[0, 0]
    array([[1., 2., 2., 1.],
           [2., 4., 4., 2.],
           [2., 4., 4., 2.],
           [1., 2., 2., 1.]])
    """
    n, c_in, c_out = x.shape[0], x.shape[1], w.shape[1]
    x5, w5, y5 = (_as_3d(a) for a in (np.ascontiguousarray(x), w, y))
    d_in = x5.shape[2]
    th, tw = -(-y5.shape[3] // 4), -(-y5.shape[4] // 4)
    depth = _Depth.of(True, lo, d_in, y5.shape[2])
    kin = _numba.compiled(_k4s2_in, error_model="numpy")
    kout = _numba.compiled(_k4s2_out, error_model="numpy")
    (s0, _), (s1, _) = (k4s2_phases(p) for p in lo[-2:])
    starts = np.array([s0, s1], dtype=np.int64)
    b = np.zeros(c_out, x.dtype) if bias is None else bias.astype(x.dtype)
    nrow = max(s0) - min(s0) + 3  # input rows a tile row reads
    wp = 2 * tw + max(s1) - min(s1) + 2  # input columns a tile row reads
    row_bytes, side = _k4s2_buffers(c_in, c_out, tw, x.itemsize, nrow, wp, d_in, depth.taps)
    work = n * math.prod(y.shape[2:]) * c_in * c_out * math.prod(w.shape[2:]) >> (x.ndim - 2)
    nw = _threads.workers(work, row_bytes + side)
    u = k4s2_weight(w5, lo)  # (the transposed layer's slices meet all 4 depth taps)
    # as conv3x3's compiled path: chunks of about L2's size (or the weights', which
    # each chunk's GEMMs read whole), within the budget
    room = min(max(CHUNK_BYTES // 2, u.nbytes), (get_memory_budget() - u.nbytes) // nw - side)
    step = _balanced(n * th, room // row_bytes, nw)
    items = [(g, min(n * th, g + step)) for g in range(0, n * th, step)]
    local = threading.local()
    cols = u.shape[2]

    def chunk(item: tuple[int, int]) -> None:
        g0, g1 = item
        bufs = getattr(local, "bufs", None)
        if bufs is None:  # the worker's own, reused over its chunks
            bufs = local.bufs = (
                np.empty(36 * step * d_in * tw * c_in, x.dtype),
                np.empty(36 * step * d_in * tw * cols, x.dtype),
                np.empty((d_in, nrow, wp, c_in), x.dtype),
                np.empty((2, 3, wp, c_in), x.dtype),
                np.empty((2, 3, 4 * tw, c_out), x.dtype),
                np.empty((4, 4 * tw, c_out), x.dtype),
            )
        t = (g1 - g0) * d_in * tw
        v = bufs[0][: 36 * t * c_in].reshape(36, t, c_in)
        prod = bufs[1][: 36 * t * cols].reshape(36, t, cols)
        kin(x5, v, g0, g1, th, starts, depth.pos, bufs[2], bufs[3])
        np.matmul(v, u, out=prod)
        kout(prod.reshape(36, t * depth.taps, c_out), y5, b, g0, g1, th, depth.src,
             depth.blk, depth.taps, bufs[4], bufs[5])  # fmt: skip

    _threads.map_chunks(chunk, items, nw)


def _k4s2_in(
    x: np.ndarray, v: np.ndarray, g0: int, g1: int, th: int, starts: np.ndarray,
    pos: np.ndarray, xl: np.ndarray, r: np.ndarray,
) -> None:  # fmt: skip
    """``v[9 (2 r0 + r1) + 3 a + b, t, c] = (B^T d B)[a, b]`` for the tiles ``t`` of the
    tile rows ``g0 .. g1`` (tile row g: sample g // th, row g % th) of every depth
    slice ``d`` of ``x`` (N, C, D, H, W), ``t = (pos[d] (g1 - g0) + g - g0) tw + col``,
    ``d`` the 3x3 window of channel ``c`` that phase ``(r0, r1)``'s tile reads, at
    ``(2 row + starts[0, r0], 2 col + starts[1, r1])``, zeros outside: the tile row's
    input rows transposed channels-last into ``xl[d]`` (rows, wp, C; a row shared with
    the tile row before is transposed once), ``B^T`` along them per phase into ``r``
    (2, 3, wp, C), then ``B`` per tile, each over runs of C."""
    c_n, n_d, h, w_in = x.shape[1], x.shape[2], x.shape[3], x.shape[4]
    nrow, wp = xl.shape[1], xl.shape[2]
    ng = max(1, g1 - g0)
    tw = v.shape[1] // (ng * n_d)
    m0, m1 = min(starts[0, 0], starts[0, 1]), min(starts[1, 0], starts[1, 1])
    q0 = min(max(-m1, 0), wp)  # the columns inside x
    q1 = max(min(w_in - m1, wp), q0)
    for d in range(n_d):
        for j in range(nrow):
            for q in range(wp):
                if q < q0 or q >= q1:
                    for c in range(c_n):
                        xl[d, j, q, c] = 0
    for g in range(g0, g1):
        n = g // th
        ty = g - n * th
        for d in range(n_d):
            base = (pos[d] * ng + g - g0) * tw
            # input row 2 ty + j sits in slot (2 ty + j) % nrow: the rows this tile
            # row shares with the one before are not transposed again
            for j in range(nrow - 2 if g > g0 and ty > 0 else 0, nrow):
                row = 2 * ty + m0 + j
                k = (2 * ty + j) % nrow
                if row < 0 or row >= h:
                    for q in range(q0, q1):
                        for c in range(c_n):
                            xl[d, k, q, c] = 0
                else:  # unsigned column indices: m1 + q may be negative to numba,
                    # whose wraparound check slows the copy
                    at, first = np.uint64(q0), np.uint64(m1 + q0)
                    for c in range(c_n):
                        for j in range(np.uint64(q1 - q0)):
                            xl[d, k, at + j, c] = x[n, c, d, row, first + j]
            for p0 in range(2):
                a = 2 * ty + starts[0, p0] - m0
                sa, sb, sc = a % nrow, (a + 1) % nrow, (a + 2) % nrow
                for q in range(wp):
                    for c in range(c_n):
                        r[p0, 0, q, c] = xl[d, sa, q, c] - xl[d, sb, q, c]
                    for c in range(c_n):
                        r[p0, 1, q, c] = xl[d, sb, q, c]
                    for c in range(c_n):
                        r[p0, 2, q, c] = xl[d, sc, q, c] - xl[d, sb, q, c]
            for tx in range(tw):
                t = base + tx
                for p0 in range(2):
                    for p1 in range(2):
                        q = 2 * tx + starts[1, p1] - m1
                        k = 9 * (2 * p0 + p1)
                        for i in range(3):
                            for c in range(c_n):
                                v[k + 3 * i, t, c] = r[p0, i, q, c] - r[p0, i, q + 1, c]
                            for c in range(c_n):
                                v[k + 3 * i + 1, t, c] = r[p0, i, q + 1, c]
                            for c in range(c_n):
                                v[k + 3 * i + 2, t, c] = r[p0, i, q + 2, c] - r[p0, i, q + 1, c]


def _k4s2_out(
    prod: np.ndarray, y: np.ndarray, bias: np.ndarray, g0: int, g1: int, th: int,
    src: np.ndarray, blk: np.ndarray, taps: int, s: np.ndarray, yl: np.ndarray,
) -> None:  # fmt: skip
    """``y[n, o, z, 4 ty + 2 a + r0, 4 tx + 2 b + r1] = (A^T M A)[a, b] + bias[o]`` (the
    part inside ``y`` (N, C, Do, Ho, Wo)) for the tile rows ``g0 .. g1``, ``M`` phase
    ``(r0, r1)``'s products in ``prod`` (36, tiles x taps, C_out), summed over the
    slices plane ``z`` takes (positions ``src[z]``, blocks ``blk[z]``, as
    :class:`_Depth`) into the first one's (each slice's products at a tap reach one
    plane only): ``A`` per tile into ``s`` (2, 3, 4 tw, C_out), at the block's
    columns, ``A^T`` along the rows into ``yl`` (4, 4 tw, C_out), the 4 phases one
    4x4 block, then transposed into ``y`` (NCHW)."""
    c_n, n_z, h, w_out = y.shape[1], y.shape[2], y.shape[3], y.shape[4]
    tw = s.shape[2] // 4
    ng = max(1, g1 - g0)
    for g in range(g0, g1):
        n = g // th
        ty = g - n * th
        for z in range(n_z):
            if src[z, 0] < 0:  # no slice reaches the plane: the bias alone
                for i in range(min(4, h - 4 * ty)):
                    for c in range(c_n):
                        for q in range(w_out):
                            y[n, c, z, 4 * ty + i, q] = bias[c]
                continue
            base, j = (src[z, 0] * ng + g - g0) * tw, blk[z, 0]
            for e in range(1, src.shape[1]):
                if src[z, e] >= 0:
                    b0, j0 = (src[z, e] * ng + g - g0) * tw, blk[z, e]
                    for a in range(36):
                        for tx in range(tw):
                            t, t0 = (base + tx) * taps + j, (b0 + tx) * taps + j0
                            for c in range(c_n):
                                prod[a, t, c] += prod[a, t0, c]
            for tx in range(tw):
                t = (base + tx) * taps + j
                for p0 in range(2):
                    for p1 in range(2):
                        k = 9 * (2 * p0 + p1)
                        for i in range(3):
                            a = k + 3 * i
                            for c in range(c_n):
                                s[p0, i, 4 * tx + p1, c] = prod[a, t, c] + prod[a + 1, t, c]
                            for c in range(c_n):
                                s[p0, i, 4 * tx + 2 + p1, c] = prod[a + 1, t, c] + prod[a + 2, t, c]
            for p0 in range(2):
                for q in range(w_out):
                    for c in range(c_n):
                        yl[p0, q, c] = s[p0, 0, q, c] + s[p0, 1, q, c]
                    for c in range(c_n):
                        yl[2 + p0, q, c] = s[p0, 1, q, c] + s[p0, 2, q, c]
            for i in range(min(4, h - 4 * ty)):
                for c in range(c_n):
                    bc = bias[c]
                    for q in range(w_out):
                        y[n, c, z, 4 * ty + i, q] = yl[i, q, c] + bc


# --------------------------------------------------------------------------
# 2-d k4 s2 transposed convolutions by adjoint F(2x2, 2x2):
# conv_transpose.winograd_adjoint_jit


def _k4s2_adjoint_buffers(
    c_in: int, c_out: int, t1n: int, wo: int, itemsize: int
) -> tuple[int, int]:
    """The buffers of :func:`conv_transpose_k4s2_adjoint` for a map of ``t1n`` tiles
    and ``wo`` output columns a row, in bytes: per tile row of a sample ``v``, the
    products and ``z``; per worker ``xl``, ``ra`` and ``yl``."""
    row = 9 * t1n * (c_in + 4 * c_out) + 6 * wo * c_out
    side = 10 * t1n * c_in + wo * c_out
    return row * itemsize, side * itemsize


def k4s2_adjoint_bytes(c_in: int, c_out: int, t1n: int, wo: int, itemsize: int) -> int:
    """Bytes :func:`conv_transpose_k4s2_adjoint` needs at least: the transformed
    weights and one worker's buffers for two tile rows (one owned, one before it)."""
    row, side = _k4s2_adjoint_buffers(c_in, c_out, t1n, wo, itemsize)
    return 36 * c_in * c_out * itemsize + 2 * row + side


def conv_transpose_k4s2_adjoint(
    x: np.ndarray, w: np.ndarray, y: np.ndarray, lo: Ints, bias: np.ndarray | None
) -> None:
    """Write ``y = conv_transpose2d(x, w, stride=2, padding=lo) + bias`` for a 4x4
    kernel (groups 1, dilation 1; ``y``'s size sets the output padding) by the
    adjoint of ``F(2x2, 2x2)`` on 2x2 tiles of ``x``, compiled (numba must import).

    x (N, C_in, H, W), w (C_in, C_out, 4, 4), y (N, C_out, Ho, Wo) with
    ``Ho = 2 (H - 1) - 2 lo[0] + 4 + output_padding`` (likewise Wo). Output phase
    ``r`` (``o = 2 q + r``) along a dim is the transposed correlation of ``x`` with
    its 2-tap sub-kernel ``h_r`` (:func:`k4s2_phases`, reversed): ``x[i]`` reaches
    ``q = i + e_r + t`` with ``h_r[t]``, ``e_r = -start_r - 1``. The adjoint of
    ``F(2, 2)`` gives a 2-tile's 3 contributions, ``B ((G h) . (A d))`` with
    ``A d = (d0, d0 + d1, d1)`` and ``B m = (m0, m1 - m0 - m2, m2)``: tile ``j``'s
    reach ``q = 2 j + e_r + (0, 1, 2)``, overlapping the next tile's first. ``A``
    does not depend on the phase, so each 2x2 tile of ``x`` is transformed once
    (``v`` (9, tiles, C_in)) for all 4 phases, whose weights sit side by side in
    the GEMMs' columns: 9 GEMMs ``(tiles, C_in) @ (C_in, 4 C_out)``, 36
    multiplications per tile and channel pair instead of 64, as
    :func:`conv_transpose_k4s2`, whose 36 GEMMs are 4 times narrower and whose
    input transform writes 4 times more. The output transform gathers, per
    output, the contributions of its tile and the one before (``B`` along the
    columns into ``z``, then along the rows), plus bias, into ``y`` (NCHW).
    Chunks: whole samples, or bands of a sample's tile rows, each computing the
    tile row before its own again. float32 within :data:`PHASES_ERROR` of the
    largest output.

    >>> x = np.array([[[[1.0, 2.0, 3.0]]]])  # one row: each output column sums 1 or 2
    >>> y = np.empty((1, 1, 2, 6))
    >>> conv_transpose_k4s2_adjoint(x, np.ones((1, 1, 4, 4)), y, (1, 1), None)
    >>> y[0, 0]
    array([[1., 3., 3., 5., 5., 3.],
           [1., 3., 3., 5., 5., 3.]])
    """
    n, c_in, h, wd = x.shape
    c_out, wo = w.shape[1], y.shape[3]
    t0n, t1n = -(-h // 2), -(-wd // 2)
    x = np.ascontiguousarray(x)
    kin = _numba.compiled(_k4s2_adj_in, error_model="numpy")
    kout = _numba.compiled(_k4s2_adj_out, error_model="numpy")
    offsets = np.array([[-s - 1 for s in k4s2_phases(p)[0]] for p in lo], dtype=np.int64)
    b = np.zeros(c_out, x.dtype) if bias is None else bias.astype(x.dtype)
    row, side = _k4s2_adjoint_buffers(c_in, c_out, t1n, wo, x.itemsize)
    work = n * h * wd * c_in * c_out * 16
    nw = _threads.workers(work, 2 * row + side)
    u = k4s2_adjoint_weight(w, lo)
    # as conv_transpose_k4s2: chunks of about half CHUNK_BYTES (or the weights'
    # size, which each chunk's GEMMs read whole), within the budget
    room = min(max(CHUNK_BYTES // 2, u.nbytes), (get_memory_budget() - u.nbytes) // nw - side)
    rows = max(2, room // row)
    if rows >= t0n:  # whole samples, as many chunks for every worker
        per = min(rows // t0n, -(-n // nw))
        items = [(n0, n1, 0, t0n) for n0, n1 in _threads.even_ranges(n, per, nw)]
    else:  # bands of rows - 1 owned tile rows (the one before is computed again)
        band = rows - 1
        items = [(i, i + 1, j, min(t0n, j + band)) for i in range(n) for j in range(0, t0n, band)]
    widest = max((n1 - n0) * (j1 - max(0, j0 - 1)) for n0, n1, j0, j1 in items)
    local = threading.local()

    def chunk(item: tuple[int, int, int, int]) -> None:
        n0, n1, j0, j1 = item
        lo_row = max(0, j0 - 1)
        bufs = getattr(local, "bufs", None)
        if bufs is None:  # the worker's own, reused over its chunks
            bufs = local.bufs = (
                np.empty(9 * widest * t1n * c_in, x.dtype),
                np.empty(9 * widest * t1n * 4 * c_out, x.dtype),
                np.empty((2, 2 * t1n, c_in), x.dtype),
                np.empty((3, 2 * t1n, c_in), x.dtype),
                np.empty(widest * 6 * wo * c_out, x.dtype),
                np.empty((wo, c_out), x.dtype),
            )
        t = (n1 - n0) * (j1 - lo_row) * t1n
        v = bufs[0][: 9 * t * c_in].reshape(9, t, c_in)
        prod = bufs[1][: 9 * t * 4 * c_out].reshape(9, t, 4 * c_out)
        z = bufs[4][: t // t1n * 6 * wo * c_out].reshape(-1, 3, 2, wo, c_out)
        kin(x, v, n0, n1, lo_row, j1, bufs[2], bufs[3])
        np.matmul(v, u, out=prod)
        last = y.shape[2] + 2 if j1 == t0n else j1  # the last band: the rows past the tiles
        kout(prod, y, b, n0, n1, lo_row, j1, j0, last, offsets, z, bufs[5])

    _threads.map_chunks(chunk, items, nw)


def _k4s2_adj_in(
    x: np.ndarray, v: np.ndarray, n0: int, n1: int, j_lo: int, j_hi: int,
    xl: np.ndarray, ra: np.ndarray,
) -> None:  # fmt: skip
    """``v[3 a + b, t, c] = (A d A^T)[a, b]``, ``d`` the 2x2 tile ``(j0, j1)`` of
    channel ``c`` of sample ``n`` of ``x`` (N, C, H, W) (zeros past its edge), for
    the samples ``n0 .. n1`` and tile rows ``j_lo .. j_hi``, ``t = ((n - n0) rows +
    j0 - j_lo) T1 + j1``: the tile row's 2 input rows transposed channels-last into
    ``xl`` (2, 2 T1, C), ``A`` along them into ``ra`` (3, 2 T1, C), then ``A`` along
    the columns, each over runs of C."""
    c_n, h, w = x.shape[1], x.shape[2], x.shape[3]
    t1n = xl.shape[1] // 2
    for k in range(2):  # the column past an odd width
        for q in range(w, 2 * t1n):
            for c in range(c_n):
                xl[k, q, c] = 0
    for n in range(n0, n1):
        for j0 in range(j_lo, j_hi):
            for k in range(2):
                i = 2 * j0 + k
                if i < h:  # unsigned indices: vectorised (no wraparound check)
                    for c in range(c_n):
                        for q in range(np.uint64(w)):
                            xl[k, q, c] = x[n, c, i, q]
                else:
                    for q in range(w):
                        for c in range(c_n):
                            xl[k, q, c] = 0
            for q in range(2 * t1n):
                for c in range(c_n):
                    ra[0, q, c] = xl[0, q, c]
                for c in range(c_n):
                    ra[1, q, c] = xl[0, q, c] + xl[1, q, c]
                for c in range(c_n):
                    ra[2, q, c] = xl[1, q, c]
            base = ((n - n0) * (j_hi - j_lo) + j0 - j_lo) * t1n
            for j1 in range(t1n):
                t = base + j1
                for a in range(3):
                    for c in range(c_n):
                        v[3 * a, t, c] = ra[a, 2 * j1, c]
                    for c in range(c_n):
                        v[3 * a + 1, t, c] = ra[a, 2 * j1, c] + ra[a, 2 * j1 + 1, c]
                    for c in range(c_n):
                        v[3 * a + 2, t, c] = ra[a, 2 * j1 + 1, c]


def _k4s2_adj_out(
    prod: np.ndarray, y: np.ndarray, bias: np.ndarray, n0: int, n1: int, j_lo: int,
    j_hi: int, own_lo: int, own_hi: int, e: np.ndarray, z: np.ndarray, yl: np.ndarray,
) -> None:  # fmt: skip
    """``y[n, :, o0, o1] = (B M B^T)`` gathered over tiles, plus ``bias``, for the
    output rows ``o0`` whose tile row ``j`` (``q - e[0, r0] = 2 j + delta``) lies in
    ``own_lo .. own_hi``; ``M`` the products ``prod`` (9, tiles, 4 C_out) of the tile
    rows ``j_lo .. j_hi`` (as :func:`_k4s2_adj_in`), phase ``p = 2 r0 + r1`` at
    columns ``p C_out``. Along a dim, ``delta = 0`` takes ``m0(j) + m2(j - 1)`` and
    ``delta = 1`` takes ``m1(j) - m0(j) - m2(j)``: along the columns into ``z``
    (tile rows, 3, 2, Wo, C_out), then along the rows into ``yl`` (Wo, C_out),
    transposed into ``y`` (NCHW)."""
    c_n, ho, wo = y.shape[1], y.shape[2], y.shape[3]
    rows = j_hi - j_lo
    t1n = prod.shape[1] // ((n1 - n0) * rows)
    for n in range(n0, n1):
        base = (n - n0) * rows * t1n
        for k0 in range(rows):
            for a in range(3):
                for r0 in range(2):
                    for r1 in range(2):
                        col = (2 * r0 + r1) * c_n
                        for o1 in range(r1, wo, 2):  # outputs no tile reaches
                            q = (o1 - r1) // 2 - e[1, r1]
                            if q < 0 or q > 2 * t1n:
                                for c in range(c_n):
                                    z[k0, a, r0, o1, c] = 0
                        for j in range(t1n + 1):
                            t = base + k0 * t1n + j
                            o1 = 4 * j + 2 * e[1, r1] + r1
                            if 0 <= o1 < wo:  # delta 0
                                if j == 0:
                                    for c in range(c_n):
                                        z[k0, a, r0, o1, c] = prod[3 * a, t, col + c]
                                elif j == t1n:
                                    for c in range(c_n):
                                        z[k0, a, r0, o1, c] = prod[3 * a + 2, t - 1, col + c]
                                else:
                                    for c in range(c_n):
                                        z[k0, a, r0, o1, c] = (
                                            prod[3 * a, t, col + c]
                                            + prod[3 * a + 2, t - 1, col + c]
                                        )
                            o1 += 2
                            if j < t1n and 0 <= o1 < wo:  # delta 1
                                for c in range(c_n):
                                    z[k0, a, r0, o1, c] = (
                                        prod[3 * a + 1, t, col + c]
                                        - prod[3 * a, t, col + c]
                                        - prod[3 * a + 2, t, col + c]
                                    )
        for o0 in range(ho):
            r0 = o0 % 2
            q = o0 // 2 - e[0, r0]
            j = q >> 1
            if j < own_lo or j >= own_hi:
                continue
            k = j - j_lo  # z's row of tile row j
            if q & 1 == 0:
                if j < j_hi:
                    for o1 in range(wo):
                        for c in range(c_n):
                            yl[o1, c] = z[k, 0, r0, o1, c]
                else:
                    for o1 in range(wo):
                        for c in range(c_n):
                            yl[o1, c] = 0
                if j_lo <= j - 1 < j_hi:
                    for o1 in range(wo):
                        for c in range(c_n):
                            yl[o1, c] += z[k - 1, 2, r0, o1, c]
            elif j < j_hi:
                for o1 in range(wo):
                    for c in range(c_n):
                        yl[o1, c] = z[k, 1, r0, o1, c] - z[k, 0, r0, o1, c] - z[k, 2, r0, o1, c]
            else:
                for o1 in range(wo):
                    for c in range(c_n):
                        yl[o1, c] = 0
            for c in range(c_n):
                bc = bias[c]
                for o1 in range(wo):
                    y[n, c, o0, o1] = yl[o1, c] + bc


# --------------------------------------------------------------------------
# k4 s2 convolutions by polyphase F(2x2, 2x2): conv.winograd_phases_jit


def _k4s2_conv_buffers(
    c_in: int, c_out: int, tw: int, itemsize: int, grad: bool = False, depth: int = 1,
    taps: int = 1,
) -> tuple[int, int]:  # fmt: skip
    """The buffers of :func:`conv_k4s2` for a row of ``tw`` tiles over ``depth`` input
    slices, in bytes: per tile row ``v`` (9, tiles, 4 C_in) and the products (C_out
    columns for each of the ``taps`` depth taps a slice meets); per worker ``xl``
    (depth, 6, wp, C_in), ``r`` (2, 3, wp, C_in), ``s`` (3, 2 tw, C_out) and ``yl`` (2,
    2 tw, C_out). With ``grad``, :func:`conv_and_weight_k4s2`'s: the output
    gradient's transform per tile row too (as wide as the products), and per worker
    its sums of dU, at most one per slice parity, and one chunk's."""
    wp = 4 * tw + 2
    row = 9 * tw * depth * (4 * c_in + (2 if grad else 1) * taps * c_out)
    sums = 36 * taps * (taps + 1) * c_in * c_out if grad else 0
    side = (6 * depth + 6) * wp * c_in + 10 * tw * c_out + sums
    return row * itemsize, side * itemsize


def k4s2_conv_bytes(
    c_in: int, c_out: int, tw: int, itemsize: int, grad: bool = False, depth: int = 1,
    kd: int = 1,
) -> int:  # fmt: skip
    """Bytes :func:`conv_k4s2` needs at least: the transformed weights and one
    worker's buffers for one row of ``tw`` tiles (3-d: over ``depth`` input slices, a
    kernel of ``kd`` depth taps); with ``grad``, those of :func:`conv_and_weight_k4s2`
    (the output gradient's transform, the sums of dU)."""
    taps = _Depth.slice_taps(False, kd)
    buffers = _k4s2_conv_buffers(c_in, c_out, tw, itemsize, grad, depth, taps)
    return 36 * kd * c_in * c_out * itemsize + sum(buffers)


class _ConvChunks:
    """What :func:`conv_k4s2` and :func:`conv_and_weight_k4s2` share: the geometry
    (2-d arrays as one depth slice), the depth's plan, the compiled transforms, the
    chunks of tile rows and each worker's buffers."""

    def __init__(
        self, x: np.ndarray, c_out: int, out: Ints, lo: Ints, w: np.ndarray | None,
        grad: bool,
    ) -> None:  # fmt: skip
        self.x = _as_3d(np.ascontiguousarray(x))
        self.n, self.c_in, self.d_in = x.shape[0], x.shape[1], self.x.shape[2]
        self.c_out, self.lo = c_out, lo
        self.th, self.tw = -(-out[-2] // 2), -(-out[-1] // 2)
        self.depth = _Depth.of(False, lo, self.d_in, 1 if len(out) == 2 else out[0])
        self.kin = _numba.compiled(_k4s2_conv_in, error_model="numpy")
        self.kout = _numba.compiled(_k4s2_conv_out, error_model="numpy")
        self.cols = self.depth.taps * c_out
        self.wp = 4 * self.tw + 2  # input columns a tile row reads
        row_bytes, side = _k4s2_conv_buffers(
            self.c_in, c_out, self.tw, x.itemsize, grad, self.d_in, self.depth.taps
        )
        work = self.n * math.prod(out) * self.c_in * c_out * 4 ** (x.ndim - 2)
        self.nw = _threads.workers(work, row_bytes + side)
        self.u: list[np.ndarray] = []
        if w is not None:  # per slice parity, its depth taps' weights side by side
            self.u = [k4s2_conv_weight(w, e) for _, _, e in self.depth.groups]
        u_bytes = sum(u.nbytes for u in self.u)
        room = min(
            max(CHUNK_BYTES // 2, u_bytes), (get_memory_budget() - u_bytes) // self.nw - side
        )
        total = self.n * self.th
        self.step = _balanced(total, room // row_bytes, self.nw)
        self.items = [(g, min(total, g + self.step)) for g in range(0, total, self.step)]
        self.local = threading.local()

    def buffers(self, extra: int) -> tuple[np.ndarray, ...]:
        """The worker's own (made on its first chunk): ``v``, ``extra`` arrays as
        large as the products, ``xl``, ``r``, ``s``, ``yl``."""
        bufs: tuple[np.ndarray, ...] | None = getattr(self.local, "bufs", None)
        if bufs is None:
            dt, tiles = self.x.dtype, 9 * self.step * self.d_in * self.tw
            c_in, tw = self.c_in, self.tw
            bufs = self.local.bufs = (
                np.empty(tiles * 4 * c_in, dt),
                *(np.empty(tiles * self.cols, dt) for _ in range(extra)),
                np.empty((self.d_in, 6, self.wp, c_in), dt),
                np.empty((2, 3, self.wp, c_in), dt),
                np.empty((3, 2 * tw, self.c_out), dt),
                np.empty((2, 2 * tw, self.c_out), dt),
            )
        return bufs

    def groups(self, ng: int) -> list[tuple[slice, int]]:
        """Per slice parity: its tiles in a chunk of ``ng`` tile rows, its weights' index."""
        size = ng * self.tw
        return [
            (slice(f * size, (f + c) * size), i) for i, (f, c, _) in enumerate(self.depth.groups)
        ]

    def conv(
        self, v: np.ndarray, prod: np.ndarray, y: np.ndarray, bias: np.ndarray,
        item: tuple[int, int], s: np.ndarray, yl: np.ndarray,
    ) -> None:  # fmt: skip
        """The convolution's chunk from the input's transform ``v``: each parity's GEMM
        into ``prod``, then the output transform plus bias into ``y``."""
        for tiles, i in self.groups(item[1] - item[0]):
            np.matmul(v[:, tiles], self.u[i], out=prod[:, tiles])
        d = self.depth
        prod = prod.reshape(9, -1, self.c_out)  # block j of tile t at t taps + j
        self.kout(prod, y, bias, item[0], item[1], self.th, d.src, d.blk, d.taps, s, yl)

    def transform_in(
        self, v: np.ndarray, item: tuple[int, int], xl: np.ndarray, r: np.ndarray
    ) -> None:
        """The input's transform for the chunk ``item`` of tile rows into ``v``."""
        lo, vk = self.lo[-2:], v.reshape(9, -1, self.c_in)  # the parities' runs from 0
        self.kin(self.x, vk, item[0], item[1], self.th, lo[0], lo[1], self.depth.pos, xl, r)


def conv_k4s2(
    x: np.ndarray, w: np.ndarray, y: np.ndarray, lo: Ints, bias: np.ndarray | None
) -> None:
    """Write ``y = conv2d(x, w, stride=2, padding=lo) + bias`` for a 4x4 kernel (groups
    1, dilation 1) by polyphase Winograd ``F(2x2, 2x2)`` with compiled transforms
    (numba must import); likewise ``conv3d`` for a 4x4x4 kernel.

    x (N, C_in, H, W), w (C_out, C_in, 4, 4), y (N, C_out, Ho, Wo) with
    ``Ho = (H + 2 lo[0] - 4) // 2 + 1`` (likewise Wo). The taps of parity
    ``(r0, r1)`` (``w[..., r0::2, r1::2]``) read one phase of ``x`` as a stride-1 2x2
    correlation, so each 2x2 block of ``y`` is ``A^T [sum over the 4 parities of
    (G g G^T) (.) (B^T d B)] A``: 9 GEMMs ``(tiles, 4 C_in) @ (4 C_in, C_out)``, 36
    multiplications per block and channel pair instead of 64. Per chunk of tile
    rows the input transform reads ``x`` (NCHW), the output transform plus bias
    writes ``y`` (NCHW). 3-d (x (N, C_in, D, H, W)): each depth slice of ``x`` is
    transformed as a 2-d map; a slice meets the 2 depth taps of its parity, whose
    weights side by side are the GEMMs' columns ``(4 C_in, 2 C_out)``, and each output
    plane sums the products of the 4 slices it reads (:class:`_Depth`). float32 within
    :data:`PHASES_ERROR` of the largest output. (The input gradient of a k4 s2
    transposed convolution is such a convolution.)

    >>> x, w, y = np.ones((1, 1, 5, 5)), np.ones((1, 1, 4, 4)), np.empty((1, 1, 2, 2))
    >>> conv_k4s2(x, w, y, (1, 1), None)  # windows of rows -1..2 and 1..4 (of 0..4)
    >>> y[0, 0]
    array([[ 9., 12.],
           [12., 16.]])
    """
    cc = _ConvChunks(x, w.shape[0], y.shape[2:], lo, w, grad=False)
    b = np.zeros(cc.c_out, x.dtype) if bias is None else bias.astype(x.dtype)
    y5 = _as_3d(y)

    def chunk(item: tuple[int, int]) -> None:
        v_buf, p_buf, xl, r, s, yl = cc.buffers(1)
        t = (item[1] - item[0]) * cc.d_in * cc.tw
        v = v_buf[: 9 * t * 4 * cc.c_in].reshape(9, t, 4 * cc.c_in)
        cc.transform_in(v, item, xl, r)
        cc.conv(v, p_buf[: 9 * t * cc.cols].reshape(9, t, cc.cols), y5, b, item, s, yl)

    _threads.map_chunks(chunk, cc.items, cc.nw)


def _k4s2_conv_in(
    x: np.ndarray, v: np.ndarray, g0: int, g1: int, th: int, p_h: int, p_w: int,
    pos: np.ndarray, xl: np.ndarray, r: np.ndarray,
) -> None:  # fmt: skip
    """``v[3 a + b, 4 t + 2 r0 + r1, c] = (B^T d B)[a, b]`` (``v`` (9, tiles x 4, C): the
    GEMMs' (9, tiles, 4 C) with the parities' C runs indexed from 0, which numba's
    loops vectorise) for the tiles ``t`` of the
    tile rows ``g0 .. g1`` (tile row g: sample g // th, row g % th) of every depth
    slice ``z`` of ``x`` (N, C, D, H, W), ``t = (pos[z] (g1 - g0) + g - g0) tw + col``,
    ``d`` the 3x3 window ``x[n, c, z, 4 row - p_h + r0 + 2 i, 4 col - p_w + r1 + 2 j]``
    (i, j < 3), zeros outside: the tile row's 6 input rows transposed channels-last
    into ``xl[z]`` (6, wp, C; the 2 it shares with the tile row before are transposed
    once), ``B^T`` along them per row parity into ``r`` (2, 3, wp, C), then ``B`` per
    tile and column parity, each over runs of C."""
    c_n, n_z, h, w_in = x.shape[1], x.shape[2], x.shape[3], x.shape[4]
    wp = xl.shape[2]
    ng = max(1, g1 - g0)
    tw = (wp - 2) // 4
    q0 = min(max(p_w, 0), wp)  # the columns inside x
    q1 = max(min(w_in + p_w, wp), q0)
    for z in range(n_z):
        for j in range(6):
            for q in range(wp):
                if q < q0 or q >= q1:
                    for c in range(c_n):
                        xl[z, j, q, c] = 0
    for g in range(g0, g1):
        n = g // th
        ty = g - n * th
        for z in range(n_z):
            base = (pos[z] * ng + g - g0) * tw
            # input row 4 ty + j sits in slot (4 ty + j) % 6: the next tile row's
            # first two rows (this one's last two) are transposed once
            for j in range(2 if g > g0 and ty > 0 else 0, 6):
                row = 4 * ty + j - p_h
                k = (4 * ty + j) % 6
                if row < 0 or row >= h:
                    for q in range(q0, q1):
                        for c in range(c_n):
                            xl[z, k, q, c] = 0
                else:  # unsigned column indices: see _k4s2_in
                    at, first = np.uint64(q0), np.uint64(q0 - p_w)
                    for c in range(c_n):
                        for j in range(np.uint64(q1 - q0)):
                            xl[z, k, at + j, c] = x[n, c, z, row, first + j]
            for p0 in range(2):
                sa, sb, sc = (4 * ty + p0) % 6, (4 * ty + p0 + 2) % 6, (4 * ty + p0 + 4) % 6
                for q in range(wp):
                    for c in range(c_n):
                        r[p0, 0, q, c] = xl[z, sa, q, c] - xl[z, sb, q, c]
                    for c in range(c_n):
                        r[p0, 1, q, c] = xl[z, sb, q, c]
                    for c in range(c_n):
                        r[p0, 2, q, c] = xl[z, sc, q, c] - xl[z, sb, q, c]
            for tx in range(tw):
                t = base + tx
                for p0 in range(2):
                    for p1 in range(2):
                        q = 4 * tx + p1
                        k = 4 * t + 2 * p0 + p1
                        for i in range(3):
                            for c in range(c_n):
                                v[3 * i, k, c] = r[p0, i, q, c] - r[p0, i, q + 2, c]
                            for c in range(c_n):
                                v[3 * i + 1, k, c] = r[p0, i, q + 2, c]
                            for c in range(c_n):
                                v[3 * i + 2, k, c] = r[p0, i, q + 4, c] - r[p0, i, q + 2, c]


def _k4s2_conv_out(
    prod: np.ndarray, y: np.ndarray, bias: np.ndarray, g0: int, g1: int, th: int,
    src: np.ndarray, blk: np.ndarray, taps: int, s: np.ndarray, yl: np.ndarray,
) -> None:  # fmt: skip
    """``y[n, o, z, 2 ty + a, 2 tx + b] = (A^T M A)[a, b] + bias[o]`` (the part inside
    ``y`` (N, C, Do, Ho, Wo)) for the tile rows ``g0 .. g1``, ``M`` the products
    ``prod`` (9, tiles x taps, C_out) summed over the slices plane ``z`` reads
    (positions ``src[z]``, blocks ``blk[z]``, as :class:`_Depth`) into the first
    one's: ``A`` per tile into ``s`` (3, 2 tw, C_out), ``A^T`` along the rows into
    ``yl`` (2, 2 tw, C_out), then transposed into ``y`` (NCHW)."""
    c_n, n_z, h, w_out = y.shape[1], y.shape[2], y.shape[3], y.shape[4]
    tw = s.shape[1] // 2
    ng = max(1, g1 - g0)
    for g in range(g0, g1):
        n = g // th
        ty = g - n * th
        for z in range(n_z):
            if src[z, 0] < 0:  # no slice reaches the plane: the bias alone
                for i in range(min(2, h - 2 * ty)):
                    for c in range(c_n):
                        for q in range(w_out):
                            y[n, c, z, 2 * ty + i, q] = bias[c]
                continue
            base, j = (src[z, 0] * ng + g - g0) * tw, blk[z, 0]
            for e in range(1, src.shape[1]):
                if src[z, e] >= 0:
                    b0, j0 = (src[z, e] * ng + g - g0) * tw, blk[z, e]
                    for a in range(9):
                        for tx in range(tw):
                            t, t0 = (base + tx) * taps + j, (b0 + tx) * taps + j0
                            for c in range(c_n):
                                prod[a, t, c] += prod[a, t0, c]
            for tx in range(tw):
                t = (base + tx) * taps + j
                for i in range(3):
                    for c in range(c_n):
                        s[i, 2 * tx, c] = prod[3 * i, t, c] + prod[3 * i + 1, t, c]
                    for c in range(c_n):
                        s[i, 2 * tx + 1, c] = prod[3 * i + 1, t, c] + prod[3 * i + 2, t, c]
            for q in range(w_out):
                for c in range(c_n):
                    yl[0, q, c] = s[0, q, c] + s[1, q, c]
                for c in range(c_n):
                    yl[1, q, c] = s[1, q, c] + s[2, q, c]
            for i in range(min(2, h - 2 * ty)):
                for c in range(c_n):
                    bc = bias[c]
                    for q in range(w_out):
                        y[n, c, z, 2 * ty + i, q] = yl[i, q, c] + bc


def conv_and_weight_k4s2(
    x: np.ndarray, gy: np.ndarray, lo: Ints, w: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The weight gradient of a k4 s2 convolution (groups 1, dilation 1),
    ``gw[o, i, t] = sum_{n, p} gy[n, o, p] x[n, i, 2 p + t - lo]`` (C_out, C_in, 4, 4),
    and with ``w`` also the convolution itself (:func:`conv_k4s2`, no bias), in one
    pass over ``x``'s transform, by ``F(2x2, 2x2)`` with compiled transforms; 2-d or
    3-d (C_out, C_in, 4, 4, 4).

    The forward computes each 2x2 output block as ``A^T [sum over the parities of
    U (.) V] A``, so the gradient of ``U`` is ``sum over blocks of (A e A^T) (.) V``
    (``e`` the block of ``gy``, ``A = G``): the forward's input transform, the output
    gradient's (:func:`_k4s2_conv_gy`), 9 GEMMs ``(C_out, tiles) @ (tiles, 4 C_in)``
    summed over the chunks, and ``G^T . G`` once per parity. 3-d: each input slice's
    tiles meet the output gradient's planes that its 2 depth taps pair it with, side
    by side: GEMMs ``(2 C_out, tiles) @ (tiles, 4 C_in)`` per slice parity. float32
    within :data:`PHASES_ERROR` of the largest gradient. (A k4 s2 transposed
    convolution's backward is such a call: its input gradient the convolution of
    ``gy`` with ``w``, its weight gradient this one's with the roles of ``x`` and
    ``gy`` swapped.)

    x (N, C_in, H, W), gy (N, C_out, Ho, Wo), ``Ho = (H + 2 lo[0] - 4) // 2 + 1``.

    >>> gw, y = conv_and_weight_k4s2(np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2)), (1, 1))
    >>> gw[0, 0], y is None  # per dim, tap t reads 1, 2, 2, 1 of the inputs
    (array([[1., 2., 2., 1.],
           [2., 4., 4., 2.],
           [2., 4., 4., 2.],
           [1., 2., 2., 1.]]), True)
    """
    c_out, nd = gy.shape[1], x.ndim - 2
    cc = _ConvChunks(x, c_out, gy.shape[2:], lo, w, grad=True)
    dp, c_in = cc.depth, cc.c_in
    kgy = _numba.compiled(_k4s2_conv_gy, error_model="numpy")
    y = None if w is None else np.empty((cc.n, c_out, *gy.shape[2:]), dtype=x.dtype)
    y5, gy5 = (None if y is None else _as_3d(y)), _as_3d(np.ascontiguousarray(gy))
    zero = np.zeros(c_out, x.dtype)
    accs = [_threads.Accumulators((9, cc.cols, 4 * c_in), x.dtype) for _ in dp.groups]

    def chunk(item: tuple[int, int]) -> None:
        v_buf, z_buf, p_buf, xl, r, s, yl = cc.buffers(2)
        sums = getattr(cc.local, "sums", None)
        if sums is None:
            sums = cc.local.sums = np.empty((9, cc.cols, 4 * c_in), x.dtype)
        t = (item[1] - item[0]) * cc.d_in * cc.tw
        v = v_buf[: 9 * t * 4 * c_in].reshape(9, t, 4 * c_in)
        z = z_buf[: 9 * t * cc.cols].reshape(9, t, cc.cols)
        cc.transform_in(v, item, xl, r)
        if y5 is not None:
            cc.conv(v, p_buf[: 9 * t * cc.cols].reshape(9, t, cc.cols), y5, zero, item, s, yl)
        zk = z.reshape(9, -1, c_out)  # block j of tile t at t taps + j
        kgy(gy5, zk, item[0], item[1], cc.th, dp.tgt, dp.zero, dp.taps, yl, s)
        for (tiles, _), acc in zip(cc.groups(item[1] - item[0]), accs):
            acc.get()[...] += np.matmul(z[:, tiles].transpose(0, 2, 1), v[:, tiles], out=sums)

    _threads.map_chunks(chunk, cc.items, cc.nw)
    cc.local = threading.local()  # frees the workers' buffers before the last steps
    # zeros: the taps of a parity no slice has (a map of one slice) get none
    gw = np.zeros((c_out, c_in, *((4,) * nd)), dtype=x.dtype)
    gw5 = _as_3d(gw)
    kdw = _numba.compiled(_k4s2_dw, error_model="numpy")

    def finish(r: tuple[int, int]) -> None:  # G^T dU G of the workers' sums, per row of gw
        for (_, _, e), acc in zip(dp.groups, accs):
            for m in acc.parts():
                kdw(m, gw5, e, dp.stride, r[0], r[1])

    rows = _threads.even_ranges(c_out, -(-c_out // cc.nw), cc.nw)
    _threads.map_chunks(finish, rows, cc.nw)
    return gw, y


def _k4s2_dw(m: np.ndarray, gw: np.ndarray, kd0: int, kstep: int, o0: int, o1: int) -> None:
    """``gw[o, i, kd0 + kstep j, 2 m0 + r0, 2 m1 + r1] += (G^T M G)[m0, m1]`` for the rows
    ``o0 .. o1`` of ``gw`` (C_out, C_in, kd, 4, 4), ``M[a, b] = m[3 a + b, j C_out + o,
    (2 r0 + r1) C_in + i]`` (a worker's sums of dU, (9, taps C_out, 4 C_in)): ``G^T``
    along the points' first dim (``M0 + M1, M1 + M2``), then ``G`` along the second."""
    c_out, c_in = gw.shape[0], gw.shape[1]
    for o in range(o0, o1):
        for j in range(m.shape[1] // c_out):
            k, col = kd0 + kstep * j, j * c_out + o
            for p in range(4):
                r0, r1 = p // 2, p % 2
                for i in range(c_in):
                    q = p * c_in + i
                    t00, t01 = m[0, col, q] + m[3, col, q], m[1, col, q] + m[4, col, q]
                    t02 = m[2, col, q] + m[5, col, q]
                    t10, t11 = m[3, col, q] + m[6, col, q], m[4, col, q] + m[7, col, q]
                    t12 = m[5, col, q] + m[8, col, q]
                    gw[o, i, k, r0, r1] += t00 + t01
                    gw[o, i, k, r0, 2 + r1] += t01 + t02
                    gw[o, i, k, 2 + r0, r1] += t10 + t11
                    gw[o, i, k, 2 + r0, 2 + r1] += t11 + t12


def _k4s2_conv_gy(
    gy: np.ndarray, z: np.ndarray, g0: int, g1: int, th: int, tgt: np.ndarray,
    zero: np.ndarray, taps: int, yl: np.ndarray, s: np.ndarray,
) -> None:  # fmt: skip
    """``z[3 a + b, t taps + j, o] = (A e A^T)[a, b]`` for the tiles ``t`` of the tile
    rows ``g0 .. g1`` of ``gy`` (N, C, Do, Ho, Wo), ``e`` the 2x2 block of channel ``o``
    of its plane ``p`` at (2 row, 2 col), zeros outside, ``A = G`` (3, 2), written where
    ``tgt[p]`` sends it (position x ``taps`` + block ``j`` of an input slice, tile
    ``t = (position (g1 - g0) + g - g0) tw + col``, as :class:`_Depth`) and zeros at
    the blocks in ``zero``: the block row's 2 rows transposed channels-last into
    ``yl`` (2, wq, C), ``A`` along them into ``s`` (3, wq, C), then ``A^T`` per tile,
    each over runs of C. (The backward of :func:`_k4s2_conv_out`.)"""
    c_n, n_p, h, w_out = gy.shape[1], gy.shape[2], gy.shape[3], gy.shape[4]
    wq = yl.shape[1]
    tw = wq // 2
    ng = max(1, g1 - g0)
    for j in range(2):
        for q in range(w_out, wq):
            for c in range(c_n):
                yl[j, q, c] = 0
    for g in range(g0, g1):
        n = g // th
        ty = g - n * th
        for p in range(n_p):
            used = False
            for e in range(tgt.shape[1]):
                used = used or tgt[p, e] >= 0
            if not used:
                continue
            for j in range(2):
                row = 2 * ty + j
                if row >= h:
                    for q in range(w_out):
                        for c in range(c_n):
                            yl[j, q, c] = 0
                else:
                    for c in range(c_n):
                        for q in range(w_out):
                            yl[j, q, c] = gy[n, c, p, row, q]
            for q in range(wq):
                for c in range(c_n):
                    s[0, q, c] = yl[0, q, c]
                for c in range(c_n):
                    s[1, q, c] = yl[0, q, c] + yl[1, q, c]
                for c in range(c_n):
                    s[2, q, c] = yl[1, q, c]
            for e in range(tgt.shape[1]):
                if tgt[p, e] < 0:
                    continue
                where = tgt[p, e] // taps
                j = tgt[p, e] - where * taps
                base = (where * ng + g - g0) * tw
                for tx in range(tw):
                    t = (base + tx) * taps + j
                    for i in range(3):
                        for c in range(c_n):
                            z[3 * i, t, c] = s[i, 2 * tx, c]
                        for c in range(c_n):
                            z[3 * i + 1, t, c] = s[i, 2 * tx, c] + s[i, 2 * tx + 1, c]
                        for c in range(c_n):
                            z[3 * i + 2, t, c] = s[i, 2 * tx + 1, c]
        for e in range(zero.shape[0]):
            where = zero[e] // taps
            j = zero[e] - where * taps
            base = (where * ng + g - g0) * tw
            for tx in range(tw):
                for a in range(9):
                    for c in range(c_n):
                        z[a, (base + tx) * taps + j, c] = 0
