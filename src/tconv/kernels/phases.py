"""Flat phase buffers: strided (transposed) convolutions as contiguous passes.

With stride ``s`` the outputs of a transposed convolution, or the inputs of a
convolution, split into ``s^nd`` phases (index mod ``s``), and each kernel tap
links one phase with a constant shift. Laid on a zero-padded grid whose pitch
keeps every shifted index of a phase off the other rows, a constant N-d shift
is a constant flat offset: a tap's overlap-add (transposed) or its im2col
columns (convolution) become ONE contiguous add or copy over the whole batch
chunk, instead of many short strided rows (numpy pays a fixed cost per row).
The GEMMs run over the padded grid, a few percent more columns (the transposed
convolution's chunks of 2-d+ samples and ``_conv_phase_rows`` lay the batch
inside the first dim, which then needs no padding); on tiny maps the path tables
choose other paths (benchmarks/RESULTS-intel.md, "Kernel paths").
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _numba, _threads
from ._layout import _CHUNK_BYTES, Ints, _chunks, _put, phase_counts, polyphase, transposed
from .settings import get_memory_budget
from .tuning import PHASES_JIT_BLOCK_BYTES, PHASES_JIT_BYTES


@dataclass(frozen=True)
class TransposePlan:
    """The flat-phase layout of one transposed convolution (see
    :func:`transpose_plan`): per dim the outputs in each phase, the live taps
    (index, phase, shift), the grid's pitch; the taps grouped by phase; and the
    bytes one sample needs at least (``least``) whole or, when ``blocked``, in
    blocks of rows."""

    counts: list[list[int]]
    placed: list[tuple[int, Ints, Ints]]
    pitch: list[int]
    by_phase: dict[Ints, list[tuple[int, int]]]
    per_sample: int
    blocked: bool
    least: int
    row_bytes: int
    reach: int
    xp_bytes: int


def transpose_plan(
    taps: Sequence[tuple[int, tuple[slice, ...], tuple[slice, ...]]],
    stride: Ints,
    n_in: Ints,
    out: Ints,
    c_in: int,
    c_out: int,
    itemsize: int,
    w_nbytes: int,
) -> TransposePlan:
    """The layout of :func:`_conv_transpose_phases` and its memory needs, from the
    geometry alone (the path table asks whether ``least`` fits the budget)."""
    counts, placed, pitch = _phase_grid(taps, stride, n_in, out)
    plane = math.prod(pitch)
    by_phase: dict[Ints, list[tuple[int, int]]] = {}
    for j, r, dl in placed:
        by_phase.setdefault(r, []).append((j, flat_offset(dl, pitch, plane // pitch[0])))
    n_phases = len(by_phase)
    most = max(len(v) for v in by_phase.values())
    k_live = len(placed)
    per_sample = (c_in + (k_live + n_phases) * c_out) * plane
    # Large maps go in blocks of rows of the first dim, of the working size: the
    # columns of a whole sample would go out to memory and back. A block's GEMM
    # reads the rows of the padded input that its rows' shifts reach.
    working = min(max(_CHUNK_BYTES, 4 * w_nbytes), get_memory_budget())
    blocked = per_sample * itemsize > working
    row_bytes = (k_live + n_phases) * c_out * (plane // pitch[0]) * itemsize
    reach = max(d[0] for _, _, d in placed) - min(d[0] for _, _, d in placed)
    xp_bytes = c_in * plane * itemsize
    if blocked:  # one sample's padded input and a block of one row
        least = xp_bytes + (1 + reach) * row_bytes
    else:  # one sample: the padded input, the phase buffers and one phase's slabs
        least = (c_in + (n_phases + most) * c_out) * plane * itemsize
    return TransposePlan(
        counts, placed, pitch, by_phase, per_sample, blocked, least, row_bytes, reach, xp_bytes
    )


def flat_offset(shift: Ints, pitch: Sequence[int], row: int) -> int:
    """A tap's constant flat offset on a phase grid: its ``shift`` per dim, the first
    dim's rows ``row`` elements apart (a sample's rest on the padded grid, the batch's
    on the ``(rows, batch, *rest)`` one), the other dims at ``pitch``.

    >>> flat_offset((-1, 1), [9, 9], 9), flat_offset((-1, 1), [9, 9], 8 * 9)
    (-8, -71)
    """
    rest = [math.prod(pitch[i + 1 :]) for i in range(1, len(pitch))]
    return shift[0] * row + sum(d * st for d, st in zip(shift[1:], rest))


def _conv_transpose_phases(
    x: np.ndarray,
    w: np.ndarray,
    y: np.ndarray,
    plan: TransposePlan,
    stride: Ints,
    bias: np.ndarray | None,
    jit: bool = False,
) -> None:
    """Polyphase overlap-add on flat buffers: the transposed convolution into
    ``y`` (N, g, C_out/g, *out), plus ``bias`` shaped like it, laid out by
    ``plan`` (whose ``least`` bytes the caller checked against the budget).

    The outputs ``o = q s + r`` form phase ``r``, and tap ``t`` adds
    ``x[q + delta_t] w[t]`` to phase ``r_t``: a constant shift. The input is
    laid on a zero-padded grid whose pitch per dim is wide enough that no
    shifted index of a phase's outputs wraps onto another input row; on that
    grid a constant N-d shift is a constant flat offset, and the GEMM's slab of
    a tap is exactly zero on the padding. So each tap's overlap-add is ONE
    contiguous add of its slab, shifted, into the phase's buffer (the padding
    contributes the zeros that the definition has there), and each phase is
    interleaved into ``y`` once. A chunk of samples of 2-d and larger maps lies on
    a ``(rows, batch, *rest)`` grid instead: a shift along the first dim moves by
    whole rows of the batch and reads off it leave the slab (the sums clip them
    per channel), so only the other dims are padded.

    With ``jit`` (numba must import) a compiled kernel, :func:`_gather_phases`,
    sums each phase's slabs and writes the phase into ``y`` right after the GEMM
    that made them, while they are in cache: no phase buffers, so the chunks (of
    :data:`.tuning.PHASES_JIT_BYTES`) and row blocks are smaller, and no strided
    NumPy copies.
    """
    n, c_in = x.shape[:2]
    g, c_out_g = y.shape[1:3]
    c_in_g = c_in // g
    n_in = tuple(x.shape[2:])
    nd = len(n_in)
    counts, placed, pitch, by_phase = plan.counts, plan.placed, plan.pitch, plan.by_phase
    plane = math.prod(pitch)
    phases = sorted(by_phase)
    order = [j for r in phases for j, _ in by_phase[r]]
    most = max(len(v) for v in by_phase.values())
    k_live = len(order)
    c_out = g * c_out_g
    per_sample, blocked, least = plan.per_sample, plan.blocked, plan.least
    row_bytes, reach, xp_bytes = plan.row_bytes, plan.reach, plan.xp_bytes
    if g == 1:  # one tiled transpose, then runs of C_in copied in phase order
        wt = transposed(w.reshape(c_in, -1)).reshape(c_out, -1, c_in)[:, order]
        wt = np.ascontiguousarray(wt.swapaxes(0, 1))[None]
    else:
        wt = w.reshape(g, c_in_g, c_out_g, -1)[..., order]
        wt = np.ascontiguousarray(wt.transpose(0, 3, 2, 1))
    # (g, T, c_out_g, c_in_g), taps in phase order
    start = dict(zip(phases, itertools.accumulate((len(by_phase[r]) for r in phases), initial=0)))
    work = n * math.prod(n_in) * c_in_g * c_out_g * g * k_live
    nw = _threads.workers(work, least)
    inside = (slice(None),) * 3 + tuple(slice(0, m) for m in n_in)
    y3 = y.reshape(n, c_out, *y.shape[3:])
    b3 = None if bias is None else bias.reshape(1, c_out, *bias.shape[3:])
    every = list(itertools.product(*(range(s) for s in stride)))
    valid = {r: tuple(slice(0, counts[i][r[i]]) for i in range(nd)) for r in every}
    gather = _PhaseGather(plan, stride, start, g, bias, x.dtype) if jit else None
    if jit:
        # No phase buffers: a chunk holds its padded input and the slabs of the
        # phases of one GEMM; row blocks when one phase of one sample is more than
        # the working size (tuning.PHASES_JIT_BLOCK_BYTES) or this worker's share
        # of the budget.
        one_phase = (c_in + most * c_out) * plane * x.itemsize
        blocked = one_phase > min(PHASES_JIT_BLOCK_BYTES, get_memory_budget() // nw)
        per_sample = (c_in + k_live * c_out) * plane * _CHUNK_BYTES // PHASES_JIT_BYTES
        row_bytes = k_live * c_out * (plane // pitch[0]) * x.itemsize
    # at least 8 rows per row of shift (the GEMM over the extra rows that the
    # shifts read costs at most an eighth more) where this worker's share of
    # the budget allows
    fit = (get_memory_budget() // nw - xp_bytes) // row_bytes - reach
    working = PHASES_JIT_BYTES if jit else _CHUNK_BYTES
    rows_in_block = max(1, min(fit, max(8 * reach, working // row_bytes)))

    def chunk(nb: slice) -> None:
        b = nb.stop - nb.start
        if not blocked:
            return grid_chunk(nb, b)
        xp = np.zeros((g, c_in_g, b, *pitch), dtype=x.dtype)  # one sample
        xp[inside] = x[nb].reshape(b, g, c_in_g, *n_in).transpose(1, 2, 0, *range(3, 3 + nd))
        xf = xp.reshape(g, c_in_g, b * plane)
        for a in range(0, max(counts[0]), rows_in_block):
            block(nb, xf, a, min(max(counts[0]), a + rows_in_block))

    # A chunk of samples lies on a (rows, batch, *rest) grid (2-d and more): a tap's
    # shift along the first dim moves by whole rows of the batch, and a read off the
    # first dim leaves the slab, where the shifted sums clip it (per channel). So the
    # first dim needs no padding and the GEMMs run over n_in[0] x batch x rest
    # columns (a k4 s2 layer on 8x8 maps: 8 x 9 per sample where the padded grid has
    # 9 x 9); the other dims keep the pitch. 1-d maps stay on the padded grid, a
    # sample after the other: their rows are long (one padding element per row),
    # and batch-inner rows would make every write into y a strided one.
    batch_rows = nd > 1
    rest = plane // pitch[0]  # one row of the first dim, flat
    rows_out = max(counts[0])

    def grid_chunk(nb: slice, b: int) -> None:
        if batch_rows:  # (rows, b, *rest); rows of z as many as a phase has
            grid, zgrid = (n_in[0], b, *pitch[1:]), (rows_out, b, *pitch[1:])
            to_grid, row = (1, 2, 3, 0, *range(4, 3 + nd)), b * rest
        else:  # (b, pitch)
            grid = zgrid = (b, pitch[0])
            to_grid, row = (1, 2, 0, 3), 1
        xp = np.zeros((g, c_in_g, *grid), dtype=x.dtype)
        place = (slice(None),) * (3 + batch_rows) + tuple(slice(0, m) for m in n_in[batch_rows:])
        xp[place] = x[nb].reshape(b, g, c_in_g, *n_in).transpose(to_grid)
        width = math.prod(grid)
        xf = xp.reshape(g, c_in_g, width)
        # numba's kernel sums the slabs straight into y: no phase buffers
        z = None if gather is not None else np.empty(
            (len(phases), g, c_out_g, math.prod(zgrid)), dtype=x.dtype)  # fmt: skip
        shift = {} if z is None else {j: flat_offset(d, pitch, row) for j, _, d in placed}
        # Columns for as many phases as fit the working size beside the input
        # (the phase buffers are written once each, not revisited: they do not
        # count against it), within this worker's share of the budget.
        one = most * c_out * width * x.itemsize
        room = max(_CHUNK_BYTES if z is not None else PHASES_JIT_BYTES, 4 * w.nbytes) - xp.nbytes
        room = min(room, get_memory_budget() // nw - xp.nbytes - (0 if z is None else z.nbytes))
        per = max(1, room // one)
        for pb in (slice(i, i + per) for i in range(0, len(phases), per)):
            group = phases[pb]
            first, last = start[group[0]], start[group[-1]] + len(by_phase[group[-1]])
            wsel = wt[:, first:last].reshape(g, (last - first) * c_out_g, c_in_g)
            cols = np.matmul(wsel, xf).reshape(g, last - first, c_out_g, width)
            if gather is not None:
                gather(cols, y[nb], group, first, 0, rows_out, 0, pb.start == 0, b * batch_rows)
            elif z is not None:
                for m, r in enumerate(group, start=pb.start):
                    slabs = [cols[:, start[r] - first + i] for i in range(len(by_phase[r]))]
                    _shifted_sum(slabs, [shift[j] for j, _ in by_phase[r]], z[m])
                del slabs  # views of cols
            del cols  # free before the next group's columns: the budget is a peak
        if z is None:
            return
        zc = z.reshape(len(phases), c_out, *zgrid)
        # Interleave the phases into y a block of channels at a time, small enough
        # to stay in cache while every phase writes its strided share of it (each
        # cache line of y takes a write from every phase of its last dim: with a
        # stride of 8, phase by phase over a whole sample is much slower).
        step_c = max(1, (2**20 // x.itemsize) // max(1, b * math.prod(y.shape[3:])))
        for c0 in range(0, c_out, step_c):
            cs = slice(c0, min(c_out, c0 + step_c))
            bc = None if b3 is None else b3[:, cs]
            for r in every:
                dst = y3[(nb, cs) + tuple(map(slice, r, (None,) * nd, stride))]
                if r in by_phase:  # (C, q0, b, *q) -> (b, C, q0, *q), or (C, b, q) -> (b, C, q)
                    at = valid[r][:1] + (slice(None),) + valid[r][1:] if batch_rows else (
                        slice(None), *valid[r])  # fmt: skip
                    part = zc[(phases.index(r), cs) + at]
                    _put(dst, part.transpose(2, 0, 1, *range(3, 2 + nd)) if batch_rows
                         else part.swapaxes(0, 1), bc)  # fmt: skip
                elif dst.size:  # a phase no tap reaches: zero, plus the bias
                    dst[...] = 0 if bc is None else bc

    shifts = [d[0] for _, _, d in placed]
    s0 = stride[0]

    def block(nb: slice, xf: np.ndarray, a: int, e: int) -> None:
        """Rows ``[a, e)`` of every phase of one sample (``xf`` (g, C_in/g, plane)):
        one GEMM over the input rows they read, the shifted sums into block
        buffers, and their rows of ``y``."""
        # reads off these rows land in padding (the pitch): zero, so not computed
        ra, rb = max(0, a + min(shifts)), min(pitch[0], e + max(shifts))
        cols = np.matmul(wt.reshape(g, k_live * c_out_g, c_in_g), xf[:, :, ra * rest : rb * rest])
        cols = cols.reshape(g, k_live, c_out_g, -1)
        if gather is not None:
            gather(cols, y[nb], phases, 0, a, e, -ra * rest, True)
            return
        zb = np.empty((len(phases), g, c_out_g, (e - a) * rest), dtype=x.dtype)
        base = (a - ra) * rest
        for m, r in enumerate(phases):
            slabs = [cols[:, start[r] + i] for i in range(len(by_phase[r]))]
            _shifted_sum(slabs, [off + base for _, off in by_phase[r]], zb[m])
        zc = zb.reshape(len(phases), c_out, e - a, *pitch[1:])
        for r in every:
            top = min(e, counts[0][r[0]])
            if top <= a:
                continue
            rows = (slice(r[0] + a * s0, r[0] + (top - 1) * s0 + 1, s0),)  # phase rows a..top
            dst = y3[(nb, slice(None)) + rows + tuple(map(slice, r[1:], (None,) * nd, stride[1:]))]
            if r in by_phase:
                part = zc[(phases.index(r), slice(None), slice(0, top - a)) + valid[r][1:]]
                _put(dst, part[None], b3)
            else:  # a phase no tap reaches: zero, plus the bias
                dst[...] = 0 if b3 is None else b3

    samples = [slice(i, i + 1) for i in range(n)] if blocked else None
    parts = samples or _chunks(n, per_sample, x.itemsize, 0, w.nbytes, nw)
    _threads.map_chunks(chunk, parts, nw)


class _PhaseGather:
    """The shifted sums and the interleave of :func:`_conv_transpose_phases` as one
    numba kernel (:func:`_gather_phases`): the tables it reads, built once per call
    from the plan, and per call of it the phases of one GEMM's slabs."""

    def __init__(
        self, plan: TransposePlan, stride: Ints, start: dict[Ints, int], g: int,
        bias: np.ndarray | None, dtype: Any,
    ) -> None:  # fmt: skip
        nd = len(stride)
        lead = 3 - nd  # 1-d and 2-d as 3-d, with leading dims of one element
        self.kernel = _numba.compiled(_gather_phases)
        self.lead = lead
        self.stride = np.array((1,) * lead + tuple(stride), dtype=np.int64)
        pitch = [1] * lead + list(plan.pitch)
        self.step = np.array([math.prod(pitch[i + 1 :]) for i in range(3)], dtype=np.int64)
        self.plane = math.prod(pitch)
        self.pitch = plan.pitch
        self.shift = {j: d for j, _, d in plan.placed}
        counts = [[1]] * lead + plan.counts
        self.counts = np.zeros((3, max(map(len, counts))), dtype=np.int64)
        for i, c in enumerate(counts):
            self.counts[i, : len(c)] = c
        self.by_phase, self.start = plan.by_phase, start
        every = itertools.product(*(range(s) for s in stride))
        self.empty = [r for r in every if r not in plan.by_phase]
        c_out_g = 0 if bias is None else bias.size // g
        self.bias = (
            np.zeros((g, 1), dtype=dtype) if bias is None else bias.reshape(g, c_out_g)
        ).astype(dtype, copy=False)
        self.has_bias = bias is not None

    def __call__(
        self, cols: np.ndarray, y: np.ndarray, phases: Sequence[Ints], first: int,
        a: int, e: int, shift: int, with_empty: bool, rows_of: int = 0,
    ) -> None:  # fmt: skip
        """Phases ``phases`` (their slabs ``cols`` (g, T, C_out/g, L) from tap
        ``first`` on; with ``with_empty`` also the phases no tap reaches) into ``y``
        (b, g, C_out/g, *out), their rows ``a <= q < e`` of the first dim; a slab's
        index of phase index ``q`` is ``q``'s flat grid index plus ``shift``. The
        grid is the padded one, a sample after the other, or with ``rows_of`` (the
        samples, 2-d+) the (rows, batch, *rest) one."""
        step, plane = self.step.copy(), self.plane
        if rows_of:  # a row of the first dim holds every sample's; a sample is its rest
            plane = int(step[self.lead])
            step[self.lead] *= rows_of
        table = list(phases) + (self.empty if with_empty else [])
        rs = np.array([(0,) * self.lead + r for r in table], dtype=np.int64)
        tstart, tidx, toff = [0], [], []
        for r in phases:
            for i, (j, _) in enumerate(self.by_phase[r]):
                tidx.append(self.start[r] - first + i)
                toff.append(flat_offset(self.shift[j], self.pitch, int(step[self.lead])) + shift)
            tstart.append(len(tidx))
        tstart += [len(tidx)] * (len(table) - len(phases))
        ti, to, ts = (np.array(v, dtype=np.int64) for v in (tidx, toff, tstart))
        # the rows a <= q < e of the first dim of x, a range of the flat grid
        qlo, qhi = np.zeros(3, dtype=np.int64), self.counts.max(axis=1)
        qlo[self.lead], qhi[self.lead] = a, min(e, qhi[self.lead])
        f0, f1 = int(qlo[self.lead] * step[self.lead]), int(qhi[self.lead] * step[self.lead])
        y6 = y.reshape(y.shape[:3] + (1,) * self.lead + y.shape[3:])
        for gi in range(cols.shape[0]):
            self.kernel(
                cols[gi], y6[:, gi], self.bias[gi], self.has_bias, self.stride, step,
                plane, self.counts, rs, ts, ti, to, qlo, qhi, f0, f1,
            )  # fmt: skip


def _gather_phases(
    cols: np.ndarray,
    y: np.ndarray,
    bias: np.ndarray,
    has_bias: bool,
    stride: np.ndarray,
    step: np.ndarray,
    plane: int,
    counts: np.ndarray,
    rs: np.ndarray,
    tstart: np.ndarray,
    tidx: np.ndarray,
    toff: np.ndarray,
    qlo: np.ndarray,
    qhi: np.ndarray,
    f0: int,
    f1: int,
) -> None:
    """``y[n, c, r + s q] = bias[c] + sum_t cols[tidx_t, c, n plane + flat(q) + toff_t]``
    over the taps ``t`` of each phase ``r`` of ``rs`` (3-d, ``tstart`` delimiting its
    taps), ``qlo <= q < qhi`` (grid indices ``f0 <= flat(q) < f1``); a term counts
    zero where its index leaves the slab. ``y`` (b, C, O0, O1, O2), ``cols`` (T, C,
    L): per channel and phase, one run over the grids of all samples (the bias,
    then one contiguous add per tap), then its strided share of ``y``."""
    n_len, c_len = y.shape[0], y.shape[1]
    slab = cols.shape[2]
    s0, s1, s2 = stride[0], stride[1], stride[2]
    # the samples' grids are consecutive in the slabs: one run over all of them
    span = (n_len - 1) * plane + f1 - f0
    acc = np.empty(max(1, span), dtype=y.dtype)
    for c in range(c_len):
        bv = bias[c] if has_bias else 0.0
        for p in range(rs.shape[0]):
            # the phase over the grid rows in one run: the bias, then one
            # contiguous add per tap (vectorised; its padding is never read)
            for f in range(span):
                acc[f] = bv
            for t in range(tstart[p], tstart[p + 1]):
                off = f0 + toff[t]
                lo, hi = max(0, -off), min(span, slab - off)
                if hi <= lo:
                    continue
                # slices taken first: indices from 0 up, which LLVM vectorises
                src, dst = cols[tidx[t], c, off + lo : off + hi], acc[lo:hi]
                for f in range(hi - lo):
                    dst[f] += src[f]
            r0, r1, r2 = rs[p, 0], rs[p, 1], rs[p, 2]
            n1, n2 = min(qhi[1], counts[1, r1]), min(qhi[2], counts[2, r2])
            for n in range(n_len):
                for q0 in range(qlo[0], min(qhi[0], counts[0, r0])):
                    for q1 in range(qlo[1], n1):
                        fb = n * plane + q0 * step[0] + q1 * step[1] - f0
                        o0, o1 = r0 + s0 * q0, r1 + s1 * q1
                        for q2 in range(qlo[2], n2):
                            y[n, c, o0, o1, r2 + s2 * q2] = acc[fb + q2]


def _phase_grid(
    taps: Sequence[tuple[int, tuple[slice, ...], tuple[slice, ...]]],
    stride: Ints,
    n_in: Ints,
    out: Ints,
) -> tuple[list[list[int]], list[tuple[int, Ints, Ints]], list[int]]:
    """The flat-phase geometry of :func:`_conv_transpose_phases`, per dim: the
    outputs in each phase; per live tap its index, phase and shift (input index
    minus phase index); and the pitch of the padded grid."""
    counts = [phase_counts(o, s) for o, s in zip(out, stride)]
    placed = [
        (
            j,
            tuple(polyphase(d.start, s)[0] for d, s in zip(dst, stride)),
            tuple(a.start - polyphase(d.start, s)[1] for a, d, s in zip(src, dst, stride)),
        )
        for j, src, dst in taps
    ]
    # No shifted index of a phase output may wrap onto another row of the grid:
    # below 0 it must land in the previous row's padding, past the row in its own.
    pitch = [
        max(n, *c, *(max(n - d[i], c[r[i]] + d[i]) for _, r, d in placed))
        for i, (n, c) in enumerate(zip(n_in, counts))
    ]
    return counts, placed, pitch


def _shifted_sum(slabs: Sequence[np.ndarray], offsets: Sequence[int], z: np.ndarray) -> None:
    """``z[..., f] = sum_m slabs[m][..., f + offsets[m]]``, a term counting zero
    where ``f + offset`` leaves its slab: one contiguous copy, then one
    contiguous add per slab (``z`` and the slabs may differ in length)."""
    lz, ls = z.shape[-1], slabs[0].shape[-1]
    for m, (slab, off) in enumerate(zip(slabs, offsets)):
        lo, hi = max(0, -off), max(max(0, -off), min(lz, ls - off))
        if m == 0:
            z[..., lo:hi] = slab[..., lo + off : hi + off]
            z[..., :lo] = 0
            z[..., hi:] = 0
        else:
            z[..., lo:hi] += slab[..., lo + off : hi + off]


@dataclass(frozen=True)
class ConvPlan:
    """The phase-split layout of one strided convolution (see :func:`conv_plan`):
    per dim the inputs in each phase; per tap its phase and shift; the grid's pitch
    (``plane`` elements); and the bytes one sample needs at least (``least``)."""

    counts: list[list[int]]
    taps: list[tuple[Ints, Ints]]
    pitch: list[int]
    plane: int
    least: int


def conv_plan(
    n_in: Ints,
    k: Ints,
    stride: Ints,
    dilation: Ints,
    lo: Ints,
    out_size: Ints,
    c_in: int,
    c_out: int,
    itemsize: int,
) -> ConvPlan:
    """The layout of :func:`_conv_phases` and its memory needs, from the geometry alone."""
    counts = [phase_counts(m, s) for m, s in zip(n_in, stride)]
    n_phases = math.prod(stride)
    # tap t reads phase r = (t d - lo) mod s at q + (t d - lo) // s
    taps = [
        tuple(
            zip(*(polyphase(ti * di - li, si) for ti, di, li, si in zip(t, dilation, lo, stride)))
        )
        for t in itertools.product(*(range(kk) for kk in k))
    ]
    # reads below an output row's start land in the previous row's padding, reads
    # past its end in its own
    pitch = [
        max(o, *c, *(max(o + d[i], c[r[i]] - d[i]) for r, d in taps))
        for i, (o, c) in enumerate(zip(out_size, counts))
    ]
    plane = math.prod(pitch)
    least = (c_in * n_phases * plane + 2 * c_out * plane + c_in * plane) * itemsize
    return ConvPlan(counts, taps, pitch, plane, least)  # type: ignore[arg-type]


def _conv_phases(
    x: np.ndarray,
    w: np.ndarray | None,
    gy: np.ndarray | None,
    k: Ints,
    stride: Ints,
    dilation: Ints,
    groups: int,
    plan: ConvPlan,
    out_size: Ints,
    bias: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """A strided convolution ``conv_nd(x, w)`` (with ``w``, into ``out`` if given)
    and/or its weight gradient against ``gy`` (with ``gy``: (C_out, C_in/g, *k))
    from im2col columns built out of flat phase buffers laid out by ``plan``
    (whose ``least`` bytes the caller checked against the budget).

    Tap ``t`` reads ``x[q s + t d - lo]``: phase ``r = (t d - lo) mod s`` of the
    input at ``q + delta``, ``delta = (t d - lo) // s``. The input is split into
    its phases once (one pass), each laid on a zero-padded grid whose pitch keeps
    every shifted read of an output position off the other rows (as in
    :func:`_conv_transpose_phases`): a tap's columns are then ONE contiguous copy
    of its phase, at a constant offset, where a strided im2col gathers every
    ``s``-th element of every row, touching all of the input per tap. The GEMMs
    run over the padded grid; the output is cut from it, and the output gradient
    laid on it with zeros.
    """
    n, c_in = x.shape[:2]
    n_in, nd = tuple(x.shape[2:]), len(k)
    c_out = w.shape[0] if w is not None else gy.shape[1]  # type: ignore[union-attr]
    g = groups
    c_in_g, c_out_g = c_in // g, c_out // g
    counts, taps, pitch, plane, least = plan.counts, plan.taps, plan.pitch, plan.plane, plan.least
    phases = list(itertools.product(*(range(s) for s in stride)))
    step = [math.prod(pitch[i + 1 :]) for i in range(nd)]
    where = [(phases.index(r), sum(di * si for di, si in zip(d, step))) for r, d in taps]
    margin = max(abs(off) for _, off in where)
    n_taps = len(taps)
    fixed = c_in * len(phases) * plane + 2 * c_out * plane
    work = n * math.prod(out_size) * c_in_g * c_out * n_taps * ((w is not None) + (gy is not None))
    nw = _threads.workers(work, least)
    y = out if w is None or out is not None else np.empty((n, c_out, *out_size), dtype=x.dtype)
    wm = None
    if w is not None:  # (g, C_out/g, K, C_in/g): a tap chunk's weights, contiguous rows
        wm = np.ascontiguousarray(w.reshape(g, c_out_g, c_in_g, n_taps).transpose(0, 1, 3, 2))
    accs = _threads.Accumulators((g, c_out_g, n_taps, c_in_g), x.dtype)
    grid = (slice(None),) * 3
    cut = grid + tuple(slice(0, o) for o in out_size)
    by = None if bias is None else bias.reshape((1, c_out) + (1,) * nd)

    def chunk(nb: slice) -> None:
        b = nb.stop - nb.start
        rows = b * plane
        buf = np.zeros((len(phases), c_in * rows + 2 * margin), dtype=x.dtype)
        xs = x[nb].reshape(b, g, c_in_g, *n_in)
        for m, r in enumerate(phases):
            dst = buf[m, margin : margin + c_in * rows].reshape(g, c_in_g, b, *pitch)
            src = xs[grid + tuple(map(slice, r, (None,) * nd, stride))]
            dst[grid + tuple(slice(0, c[ri]) for c, ri in zip(counts, r))] = src.transpose(
                1, 2, 0, *range(3, 3 + nd)
            )
        gyf = None
        if gy is not None:
            gyp = np.zeros((g, c_out_g, b, *pitch), dtype=x.dtype)
            gys = gy[nb].reshape(b, g, c_out_g, *out_size)
            gyp[cut] = gys.transpose(1, 2, 0, *range(3, 3 + nd))
            gyf = gyp.reshape(g, c_out_g, rows)
        acc = None
        held = buf.nbytes + 2 * c_out * rows * x.itemsize
        for tb in _chunks(n_taps, c_in * rows, x.itemsize, held, 0, nw):
            cols = np.empty((g, tb.stop - tb.start, c_in_g, rows), dtype=x.dtype)
            for m, (ph, off) in enumerate(where[tb]):
                a = margin + off
                cols[:, m] = buf[ph, a : a + c_in * rows].reshape(g, c_in_g, rows)
            c2 = cols.reshape(g, -1, rows)
            if wm is not None:
                part = np.matmul(wm[:, :, tb].reshape(g, c_out_g, -1), c2)
                if acc is None:
                    acc = part
                else:
                    acc += part
            if gyf is not None:
                accs.get()[:, :, tb] += np.matmul(gyf, c2.transpose(0, 2, 1)).reshape(
                    g, c_out_g, tb.stop - tb.start, c_in_g
                )
            del cols, c2
        if y is not None and acc is not None:
            part = acc.reshape(c_out, b, *pitch)[(slice(None), slice(None)) + cut[3:]]
            _put(y[nb], part.swapaxes(0, 1), by)

    per_sample = fixed + n_taps * c_in * plane
    _threads.map_chunks(chunk, _chunks(n, per_sample, x.itemsize, 0, 0, nw), nw)
    gw = None
    if gy is not None:  # (g, C_out/g, K, C_in/g) -> (C_out, C_in/g, *k)
        gw = np.ascontiguousarray(accs.total().transpose(0, 1, 3, 2)).reshape(c_out, c_in_g, *k)
    return y, gw


@dataclass(frozen=True)
class _RowsLayout:
    """The ``(rows, batch, *rest)`` grid of :func:`_conv_phase_rows`: the phases some
    tap reads, the first dim's lowest shift and the grid's rows, one row's elements
    per sample, each tap's offset within a row, and the zeros around each channel."""

    phases: list[Ints]
    d_lo: int
    n_rows: int
    rest: int
    inner: list[int]
    margin: int


def _rows_layout(plan: ConvPlan, out_size: Ints) -> _RowsLayout:
    taps, pitch = plan.taps, plan.pitch
    step = [math.prod(pitch[i + 1 :]) for i in range(1, len(pitch))]
    d_lo = min(d[0] for _, d in taps)
    inner = [sum(di * si for di, si in zip(d[1:], step)) for _, d in taps]
    return _RowsLayout(
        sorted({r for r, _ in taps}),
        d_lo,
        out_size[0] + max(d[0] for _, d in taps) - d_lo,
        math.prod(pitch[1:]),
        inner,
        max(abs(off) for off in inner),
    )


def phase_rows_bytes(plan: ConvPlan, out_size: Ints, c_in: int, c_out: int, itemsize: int) -> int:
    """Bytes one sample needs at least in :func:`_conv_phase_rows`: its phase buffers
    (with the reach's rows and the margins), one tap's columns, gy's grid and the product."""
    lay = _rows_layout(plan, out_size)
    cols = out_size[0] * lay.rest
    phases = c_in * len(lay.phases) * (lay.n_rows * lay.rest + 2 * lay.margin)
    return (phases + (c_in + 2 * c_out) * cols) * itemsize


def _conv_phase_rows(
    x: np.ndarray,
    w: np.ndarray | None,
    gy: np.ndarray | None,
    k: Ints,
    stride: Ints,
    dilation: Ints,
    groups: int,
    plan: ConvPlan,
    out_size: Ints,
    bias: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """:func:`_conv_phases` on a grid whose first dim is outside the batch: the
    convolution ``conv_nd(x, w)`` (with ``w``, into ``out`` if given) and/or its
    weight gradient against ``gy``, for 2-d and larger maps.

    Each phase of the input lies on a ``(rows, batch, *rest)`` grid, the rest's
    dims padded to ``plan``'s pitch as in :func:`_conv_phases`. A tap's shift along
    the first dim moves by whole rows of the batch, so the first dim needs no
    padding per sample: the grid holds the output's rows plus the taps' reach
    once per batch chunk, and the GEMMs run over ``out[0] x batch x rest`` columns
    (a k4 s2 layer on 8x8 maps: 8 x 9 per sample where the padded grid has 9 x 9).
    A tap's columns are one copy per channel of a contiguous range. In float32 the
    weight gradient's GEMM puts taps x channels on its rows, the long side (NumPy's
    BLAS runs ``(C_out, R) @ (R, K C_in)`` slower for few output channels).
    """
    n, c_in = x.shape[:2]
    n_in, nd = tuple(x.shape[2:]), len(k)
    c_out = w.shape[0] if w is not None else gy.shape[1]  # type: ignore[union-attr]
    g = groups
    c_in_g, c_out_g = c_in // g, c_out // g
    counts, taps, pitch = plan.counts, plan.taps, plan.pitch
    lay = _rows_layout(plan, out_size)
    phases, d_lo, n_rows, rest, inner, margin = (
        lay.phases,
        lay.d_lo,
        lay.n_rows,
        lay.rest,
        lay.inner,
        lay.margin,
    )
    n_taps = len(taps)
    work = n * math.prod(out_size) * c_in_g * c_out * n_taps * ((w is not None) + (gy is not None))
    nw = _threads.workers(work, phase_rows_bytes(plan, out_size, c_in, c_out, x.itemsize))
    y = out if w is None or out is not None else np.empty((n, c_out, *out_size), dtype=x.dtype)
    wm = None
    if w is not None:  # (g, C_out/g, K, C_in/g): a tap chunk's weights, contiguous rows
        wm = np.ascontiguousarray(w.reshape(g, c_out_g, c_in_g, n_taps).transpose(0, 1, 3, 2))
    # float32: the weight gradient as (g, K, C_in/g, C_out/g), its GEMM's rows taps x
    # channels (NumPy's BLAS ran it 5-15% faster with the long side as rows; float64
    # not: there it is (g, C_out/g, K, C_in/g) as in _conv_phases)
    tall = x.dtype == np.float32
    accs = _threads.Accumulators(
        (g, n_taps, c_in_g, c_out_g) if tall else (g, c_out_g, n_taps, c_in_g), x.dtype
    )
    all3 = (slice(None),) * 3
    by = None if bias is None else bias.reshape((1, c_out) + (1,) * nd)

    def chunk(nb: slice) -> None:
        b = nb.stop - nb.start
        span = b * rest  # one row of the first dim, flat
        cols_len = out_size[0] * span
        buf = np.zeros((len(phases), c_in, margin + n_rows * span + margin), dtype=x.dtype)
        xs = x[nb].reshape(b, g, c_in_g, *n_in)
        for m, r in enumerate(phases):
            grid = buf[m, :, margin : margin + n_rows * span].reshape(
                g, c_in_g, n_rows, b, *pitch[1:]
            )
            # phase row i goes to grid row i - d_lo; rows the taps never read stay out
            i0, i1 = max(0, d_lo), min(counts[0][r[0]], n_rows + d_lo)
            if i1 <= i0:
                continue
            src = xs[all3 + (slice(r[0] + i0 * stride[0], None, stride[0]),)]
            src = src[:, :, :, : i1 - i0][(Ellipsis,) + tuple(
                slice(ri, None, si) for ri, si in zip(r[1:], stride[1:]))]  # fmt: skip
            dst = grid[(slice(None), slice(None), slice(i0 - d_lo, i1 - d_lo))]
            dst = dst[(Ellipsis,) + tuple(slice(0, c[ri]) for c, ri in zip(counts[1:], r[1:]))]
            dst[...] = src.transpose(1, 2, 3, 0, *range(4, 3 + nd))
        gyf = None
        if gy is not None:  # gy on the grid of the output: (g, C_out/g, out[0], b, *pitch[1:])
            gyp = np.zeros((g, c_out_g, out_size[0], b, *pitch[1:]), dtype=x.dtype)
            gys = gy[nb].reshape(b, g, c_out_g, *out_size)
            cut = all3 + (slice(None),) + tuple(slice(0, o) for o in out_size[1:])
            gyp[cut] = gys.transpose(1, 2, 3, 0, *range(4, 3 + nd))
            gyf = gyp.reshape(g, c_out_g, cols_len)
        acc = None
        held = buf.nbytes + 2 * c_out * cols_len * x.itemsize
        for tb in _chunks(n_taps, c_in * cols_len, x.itemsize, held, 0, nw):
            cols = np.empty((g, tb.stop - tb.start, c_in_g, cols_len), dtype=x.dtype)
            for m, j in enumerate(range(tb.start, tb.stop)):
                r, d = taps[j]
                a = margin + (d[0] - d_lo) * span + inner[j]
                cols[:, m] = buf[phases.index(r), :, a : a + cols_len].reshape(g, c_in_g, cols_len)
            c2 = cols.reshape(g, -1, cols_len)
            if wm is not None:
                part = np.matmul(wm[:, :, tb].reshape(g, c_out_g, -1), c2)
                if acc is None:
                    acc = part
                else:
                    acc += part
            if gyf is not None and tall:
                accs.get()[:, tb] += np.matmul(c2, gyf.transpose(0, 2, 1)).reshape(
                    g, tb.stop - tb.start, c_in_g, c_out_g
                )
            elif gyf is not None:
                accs.get()[:, :, tb] += np.matmul(gyf, c2.transpose(0, 2, 1)).reshape(
                    g, c_out_g, tb.stop - tb.start, c_in_g
                )
            del cols, c2
        if y is not None and acc is not None:
            part = acc.reshape(c_out, out_size[0], b, *pitch[1:])
            part = part[(slice(None),) * 3 + tuple(slice(0, o) for o in out_size[1:])]
            _put(y[nb], part.transpose(2, 0, 1, *range(3, 2 + nd)), by)

    # a chunk's buffers: per sample its rows, once the reach's rows and the margins
    per_sample = (c_in * (len(phases) + n_taps) + 2 * c_out) * out_size[0] * rest
    once = c_in * len(phases) * ((n_rows - out_size[0]) * rest + 2 * margin) * x.itemsize
    _threads.map_chunks(chunk, _chunks(n, per_sample, x.itemsize, once, 0, nw), nw)
    gw = None
    if gy is not None:  # (g, K, C_in/g, C_out/g) or (g, C_out/g, K, C_in/g) -> (C_out, C_in/g, *k)
        order = (0, 3, 2, 1) if tall else (0, 1, 3, 2)
        gw = np.ascontiguousarray(accs.total().transpose(order)).reshape(c_out, c_in_g, *k)
    return y, gw
