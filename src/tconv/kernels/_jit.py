"""Optional numba kernels for depthwise convolutions (one input and one output
channel per group), an accelerator for the NumPy kernels in :mod:`.conv`.

``AVAILABLE`` says whether numba can be imported; without it the kernels stay
plain (slow) Python functions and callers should not use this module. The
geometry is that of :mod:`.conv`, per spatial dim: stride ``s``, dilation
``d``, leading offset ``lo``, output size ``O``, kernel size ``k``.

How the kernels are fast: the ``N*C`` planes are independent (a loop
over blocks of planes that share scratch buffers), and stride phases turn every
kernel tap into ONE flat contiguous axpy (or dot product) over a whole plane:

* Split the strided axis into phases ``r = index mod s``. Tap ``t`` of offset
  ``off = t d - lo`` then links phase coordinate ``q`` with ``q + sh`` of phase
  ``r`` (``off = sh s + r``): a constant shift, the same for every element.
* Put the phase planes into zero-padded buffers of one common pitch ``E``
  (large enough that no shifted coordinate leaves its row). A constant N-d
  shift is then a constant flat offset: the convolution splits its input into
  phases and adds ``acc[f] += xph_t[f + off_t] w[t]``; the transposed one
  gathers each output phase from the one padded input,
  ``buf_r[f] += xp[f - off_t] w[t]`` over its taps, and interleaves the phases
  into the output once. What is read from the padding is zero; what is
  computed in the padding is never read.
* The inner loops run over slices taken beforehand (``acs[f] += xs[f] * wv``):
  indices that LLVM sees as non-negative vectorize, where ``b[f + off]``
  (numba wraps negative indices) does not. Four taps go per pass, to load and
  store the sums once per four multiply-adds.

The public functions trim the input and the output to the part that can
interact first, so buffers stay about the natural size for any ``lo`` and
``O``, and compile for one signature per dtype: C-contiguous planes
``(M, A0, A1, A2)`` (1-d and 2-d get leading size-1 dims) and int64 geometry.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

# absolute: the tests also load this file as a module of its own
from tconv.kernels import _numba, _threads
from tconv.kernels._layout import polyphase

Ints = tuple[int, ...]

# numba is imported, and the kernels compiled (or loaded from numba's on-disk
# cache), on the first call only: importing numba costs about 0.3 s, which
# `import tconv` should not pay. Without numba the kernels stay plain Python:
# correct, but slow.
AVAILABLE = _numba.importable()

_PENDING: list[tuple[str, dict[str, Any]]] = []  # kernels to compile, callees first
_compiled = False


def _njit(**options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a kernel for :func:`_ensure_compiled` (the identity for now)."""

    def register(f: Callable[..., Any]) -> Callable[..., Any]:
        _PENDING.append((f.__name__, options))
        return f

    return register


def available() -> bool:
    """Whether numba imports (:func:`._numba.available`), and was found when this
    module was loaded."""
    return AVAILABLE and _numba.available()


def _ensure_compiled() -> None:
    """Replace the registered kernels by their numba versions (once).

    Serial kernels, not ``parallel=True``: numba's threads fight OpenBLAS's,
    which spin for a while after every GEMM (measured: benchmarks/RESULTS-intel.md,
    "Kernel paths"). A depthwise layer inside a network always follows a GEMM.
    """
    global _compiled
    if _compiled or not available():
        return
    import numba

    for name, options in _PENDING:
        globals()[name] = numba.njit(cache=True, boundscheck=False, nogil=True, **options)(
            globals()[name]
        )
    _compiled = True


# ---------------------------------------------------------------------------
# kernels: planes (M, A0, A1, A2) C-contiguous, weights (C, T), plane m uses
# channel m % C; per-tap phase index ``tph`` and flat offset ``toff``; ``pad``
# and ``ext`` place the phase coordinates 0.. at index ``pad`` of a buffer of
# extent ``ext`` per dim.


@_njit()
def _flat(i0: int, i1: int, i2: int, ext: np.ndarray) -> int:
    return int((i0 * ext[1] + i1) * ext[2] + i2)


@_njit()
def _row_phases(a: np.ndarray, pad: np.ndarray, ext: np.ndarray, st: np.ndarray) -> np.ndarray:
    """For each row ``(i0, i1)`` of a plane ``a`` (A0, A1, A2): its phase index
    ``(i0 mod s0, i1 mod s1)`` times ``s2``, and the flat start of its phase
    row ``pad + i // s``. Counters, not divisions: those cost more than a short
    row's copy."""
    a0, a1 = a.shape[0], a.shape[1]
    s0, s1, s2 = st[0], st[1], st[2]
    rows = np.empty((a0 * a1, 2), dtype=np.int64)
    q0 = r0 = 0
    for i0 in range(a0):
        q1 = r1 = 0
        for i1 in range(a1):
            rows[i0 * a1 + i1, 0] = (r0 * s1 + r1) * s2
            rows[i0 * a1 + i1, 1] = _flat(pad[0] + q0, pad[1] + q1, pad[2], ext)
            r1 += 1
            if r1 == s1:
                r1, q1 = 0, q1 + 1
        r0 += 1
        if r0 == s0:
            r0, q0 = 0, q0 + 1
    return rows


@_njit()
def _split_phases(
    xm: np.ndarray, xph: np.ndarray, rows: np.ndarray, s2: int, n2s: np.ndarray
) -> None:
    """Scatter plane ``xm`` (A0, A1, A2) into its phase buffers ``xph`` (S, L):
    element ``i`` goes to phase ``i mod s`` at coordinate ``pad + i // s``
    (``rows`` from :func:`_row_phases`; ``n2s[r]``: elements of last-dim phase r)."""
    a0, a1, a2 = xm.shape
    for i0 in range(a0):
        for i1 in range(a1):
            src = xm[i0, i1]
            base, start = rows[i0 * a1 + i1, 0], rows[i0 * a1 + i1, 1]
            if s2 == 1:
                dst = xph[base, start : start + a2]
                for q in range(a2):
                    dst[q] = src[q]
            elif s2 == 2:  # a constant stride: the deinterleave vectorizes
                n = a2 // 2
                d0 = xph[base, start : start + n2s[0]]
                d1 = xph[base + 1, start : start + n]
                for q in range(n):
                    d0[q] = src[2 * q]
                    d1[q] = src[2 * q + 1]
                if a2 % 2:
                    d0[n] = src[a2 - 1]
            else:
                for r2 in range(s2):
                    dst = xph[base + r2, start : start + n2s[r2]]
                    for q in range(n2s[r2]):
                        dst[q] = src[r2 + q * s2]


@_njit()
def _merge_phases(
    buf: np.ndarray, ym: np.ndarray, rows: np.ndarray, s2: int, n2s: np.ndarray
) -> None:
    """The inverse of :func:`_split_phases`: interleave phase buffers ``buf``
    (S, L) into the plane ``ym`` (O0, O1, O2) (``rows`` of ``ym``)."""
    o0, o1, o2 = ym.shape
    for j0 in range(o0):
        for j1 in range(o1):
            dst = ym[j0, j1]
            base, start = rows[j0 * o1 + j1, 0], rows[j0 * o1 + j1, 1]
            if s2 == 1:
                src = buf[base, start : start + o2]
                for q in range(o2):
                    dst[q] = src[q]
            elif s2 == 2:
                n = o2 // 2
                b0 = buf[base, start : start + n2s[0]]
                b1 = buf[base + 1, start : start + n]
                for q in range(n):
                    dst[2 * q] = b0[q]
                    dst[2 * q + 1] = b1[q]
                if o2 % 2:
                    dst[o2 - 1] = b0[n]
            else:
                for r2 in range(s2):
                    src = buf[base + r2, start : start + n2s[r2]]
                    for q in range(n2s[r2]):
                        dst[r2 + q * s2] = src[q]


@_njit()
def _phase_counts(n: int, s: int) -> np.ndarray:
    """Elements of each phase ``r < s`` of ``range(n)`` (``_layout.phase_counts``,
    compiled: the kernels call it)."""
    out = np.empty(s, dtype=np.int64)
    for r in range(s):
        out[r] = max(0, (n - r + s - 1) // s)
    return out


@_njit()
def _place(src: np.ndarray, buf: np.ndarray, pad: np.ndarray, ext: np.ndarray) -> None:
    """Copy plane ``src`` (A0, A1, A2) to ``pad + i`` of the flat buffer ``buf``."""
    a0, a1, a2 = src.shape
    for i0 in range(a0):
        for i1 in range(a1):
            start = _flat(pad[0] + i0, pad[1] + i1, pad[2], ext)
            dst = buf[start : start + a2]
            row = src[i0, i1]
            for i2 in range(a2):
                dst[i2] = row[i2]


@_njit()
def _extract(buf: np.ndarray, dst: np.ndarray, pad: np.ndarray, ext: np.ndarray) -> None:
    """The inverse of :func:`_place`: plane ``dst`` (O0, O1, O2) from ``pad + o`` of ``buf``."""
    o0, o1, o2 = dst.shape
    for q0 in range(o0):
        for q1 in range(o1):
            start = _flat(pad[0] + q0, pad[1] + q1, pad[2], ext)
            src = buf[start : start + o2]
            row = dst[q0, q1]
            for q2 in range(o2):
                row[q2] = src[q2]


@_njit()
def _conv_transpose_plane(
    xm: np.ndarray,
    wm: np.ndarray,
    ym: np.ndarray,
    st: np.ndarray,
    order: np.ndarray,
    first: np.ndarray,
    toff: np.ndarray,
    pad: np.ndarray,
    ext: np.ndarray,
    rows: np.ndarray,
    n2s: np.ndarray,
    xp: np.ndarray,
    buf: np.ndarray,
    bv: float,
) -> None:
    """One plane of :func:`_conv_transpose_planes`, with scratch ``xp`` (L,) zero
    outside the input cells, and ``buf`` (S, L); the sums start at the bias ``bv``."""
    o0, o1, o2 = ym.shape
    s0, s1, s2 = st[0], st[1], st[2]
    n_ph = s0 * s1 * s2
    # the flat range of the largest phase's outputs (the smaller ones' extra cells
    # are computed, never read)
    h0 = _flat(pad[0], pad[1], pad[2], ext)
    h1 = _flat(
        pad[0] + (o0 + s0 - 1) // s0 - 1,
        pad[1] + (o1 + s1 - 1) // s1 - 1,
        pad[2] + (o2 + s2 - 1) // s2,
        ext,
    )
    _place(xm, xp, pad, ext)
    for r in range(n_ph):
        acs = buf[r, h0:h1]
        for f in range(h1 - h0):
            acs[f] = bv
        # four taps per pass: one load and store of the sums per four multiply-adds
        j = first[r]
        while j + 4 <= first[r + 1]:
            ta, tb, tc, td = order[j], order[j + 1], order[j + 2], order[j + 3]
            xa = xp[h0 - toff[ta] : h1 - toff[ta]]
            xb = xp[h0 - toff[tb] : h1 - toff[tb]]
            xc = xp[h0 - toff[tc] : h1 - toff[tc]]
            xd = xp[h0 - toff[td] : h1 - toff[td]]
            wa, wb, wc, wd = wm[ta], wm[tb], wm[tc], wm[td]
            for f in range(h1 - h0):
                acs[f] += xa[f] * wa + xb[f] * wb + xc[f] * wc + xd[f] * wd
            j += 4
        for jj in range(j, first[r + 1]):
            ta = order[jj]
            xa = xp[h0 - toff[ta] : h1 - toff[ta]]
            wa = wm[ta]
            for f in range(h1 - h0):
                acs[f] += xa[f] * wa
    _merge_phases(buf, ym, rows, s2, n2s)


@_njit()
def _conv_transpose_planes(
    x: np.ndarray,
    wt: np.ndarray,
    y: np.ndarray,
    st: np.ndarray,
    order: np.ndarray,
    first: np.ndarray,
    toff: np.ndarray,
    pad: np.ndarray,
    ext: np.ndarray,
    block: int,
    bias: np.ndarray,
) -> None:
    """The scatter turned into a gather per output phase: the input sits at
    ``pad + i`` of one padded buffer, phase ``r``'s outputs at ``pad + q`` of
    buffer ``r`` (same pitch), and each of its taps ``order[first[r]:first[r+1]]``
    adds the input read at flat offset ``-toff[t]`` times ``w[t]``. The phases
    are interleaved into ``y`` (M, O0, O1, O2), every cell of which is written,
    with the bias of its channel (``bias`` (C,)) added."""
    rows = _row_phases(y[0], pad, ext, st)
    n2s = _phase_counts(y.shape[3], st[2])
    n_ch = wt.shape[0]
    size = ext[0] * ext[1] * ext[2]
    for b in range((x.shape[0] + block - 1) // block):
        xp = np.zeros(size, dtype=y.dtype)
        buf = np.empty((st[0] * st[1] * st[2], size), dtype=y.dtype)
        for m in range(b * block, min(x.shape[0], (b + 1) * block)):
            _conv_transpose_plane(
                x[m], wt[m % n_ch], y[m], st, order, first, toff, pad, ext, rows, n2s, xp, buf,
                bias[m % n_ch],
            )  # fmt: skip


@_njit()
def _conv_plane(
    xm: np.ndarray,
    wm: np.ndarray,
    ym: np.ndarray,
    st: np.ndarray,
    tph: np.ndarray,
    toff: np.ndarray,
    pad: np.ndarray,
    ext: np.ndarray,
    rows: np.ndarray,
    n2s: np.ndarray,
    xph: np.ndarray,
    acc: np.ndarray,
    bv: float,
) -> None:
    """One plane of :func:`_conv_planes`, with scratch ``xph`` (S, L) zero outside
    the input cells, and ``acc`` (L,); the sums start at the bias ``bv``."""
    o0, o1, o2 = ym.shape
    n_taps = wm.shape[0]
    # the flat range that holds the outputs: the only sums worth computing
    g0 = _flat(pad[0], pad[1], pad[2], ext)
    g1 = _flat(pad[0] + o0 - 1, pad[1] + o1 - 1, pad[2] + o2, ext)
    _split_phases(xm, xph, rows, st[2], n2s)
    acs = acc[g0:g1]
    for f in range(g1 - g0):
        acs[f] = bv
    # four taps per pass: one load and store of the sums per four multiply-adds
    t = 0
    while t + 4 <= n_taps:
        xa = xph[tph[t], g0 + toff[t] : g1 + toff[t]]
        xb = xph[tph[t + 1], g0 + toff[t + 1] : g1 + toff[t + 1]]
        xc = xph[tph[t + 2], g0 + toff[t + 2] : g1 + toff[t + 2]]
        xd = xph[tph[t + 3], g0 + toff[t + 3] : g1 + toff[t + 3]]
        wa, wb, wc, wd = wm[t], wm[t + 1], wm[t + 2], wm[t + 3]
        for f in range(g1 - g0):
            acs[f] += xa[f] * wa + xb[f] * wb + xc[f] * wc + xd[f] * wd
        t += 4
    for u in range(t, n_taps):
        xa = xph[tph[u], g0 + toff[u] : g1 + toff[u]]
        wa = wm[u]
        for f in range(g1 - g0):
            acs[f] += xa[f] * wa
    _extract(acc, ym, pad, ext)


@_njit()
def _conv_planes(
    x: np.ndarray,
    wt: np.ndarray,
    y: np.ndarray,
    st: np.ndarray,
    tph: np.ndarray,
    toff: np.ndarray,
    pad: np.ndarray,
    ext: np.ndarray,
    block: int,
    bias: np.ndarray,
) -> None:
    """Gather: input split into phase buffers, output accumulated at ``pad + o``
    of a buffer of the same pitch, tap ``t`` adding phase ``tph[t]`` read at flat
    offset ``toff[t]`` times ``w[t]``, from the channel's bias (``bias`` (C,));
    the valid block is copied to ``y``."""
    rows = _row_phases(x[0], pad, ext, st)
    n2s = _phase_counts(x.shape[3], st[2])
    n_ch = wt.shape[0]
    size = ext[0] * ext[1] * ext[2]
    for b in range((x.shape[0] + block - 1) // block):
        xph = np.zeros((st[0] * st[1] * st[2], size), dtype=y.dtype)
        acc = np.empty(size, dtype=y.dtype)
        for m in range(b * block, min(x.shape[0], (b + 1) * block)):
            _conv_plane(
                x[m], wt[m % n_ch], y[m], st, tph, toff, pad, ext, rows, n2s, xph, acc,
                bias[m % n_ch],
            )  # fmt: skip


# A dot product vectorizes only if its sum may be reassociated.
@_njit(fastmath={"reassoc", "contract"})
def _weight_grad_plane(
    xm: np.ndarray,
    gm: np.ndarray,
    pm: np.ndarray,
    st: np.ndarray,
    tph: np.ndarray,
    toff: np.ndarray,
    pad: np.ndarray,
    ext: np.ndarray,
    rows: np.ndarray,
    n2s: np.ndarray,
    xph: np.ndarray,
    gb: np.ndarray,
) -> None:
    """One plane of :func:`_weight_grad_planes`, with scratch ``xph`` (S, L) and
    ``gb`` (L,) zero outside the input and output cells."""
    o0, o1, o2 = gm.shape
    n_taps = pm.shape[0]
    g0 = _flat(pad[0], pad[1], pad[2], ext)
    g1 = _flat(pad[0] + o0 - 1, pad[1] + o1 - 1, pad[2] + o2, ext)
    _split_phases(xm, xph, rows, st[2], n2s)
    _place(gm, gb, pad, ext)
    gs = gb[g0:g1]
    zero = np.zeros(1, dtype=xm.dtype)  # a typed zero: float32 sums stay float32
    # four taps per pass: one load of gy per four multiply-adds
    t = 0
    while t + 4 <= n_taps:
        xa = xph[tph[t], g0 + toff[t] : g1 + toff[t]]
        xb = xph[tph[t + 1], g0 + toff[t + 1] : g1 + toff[t + 1]]
        xc = xph[tph[t + 2], g0 + toff[t + 2] : g1 + toff[t + 2]]
        xd = xph[tph[t + 3], g0 + toff[t + 3] : g1 + toff[t + 3]]
        sa = sb = sc = sd = zero[0]
        for f in range(g1 - g0):
            g = gs[f]
            sa += g * xa[f]
            sb += g * xb[f]
            sc += g * xc[f]
            sd += g * xd[f]
        pm[t], pm[t + 1], pm[t + 2], pm[t + 3] = sa, sb, sc, sd
        t += 4
    for u in range(t, n_taps):
        xa = xph[tph[u], g0 + toff[u] : g1 + toff[u]]
        sa = zero[0]
        for f in range(g1 - g0):
            sa += gs[f] * xa[f]
        pm[u] = sa


@_njit()
def _weight_grad_planes(
    x: np.ndarray,
    gy: np.ndarray,
    part: np.ndarray,
    st: np.ndarray,
    tph: np.ndarray,
    toff: np.ndarray,
    pad: np.ndarray,
    ext: np.ndarray,
    block: int,
) -> None:
    """Per plane ``part[m, t] = sum_o gy[m, o] x[m, o s + t d - lo]``: the phase
    buffers of :func:`_conv_planes`, and ``gy`` at ``pad + o`` of a zero buffer
    of the same pitch, so that each tap is one flat dot product."""
    rows = _row_phases(x[0], pad, ext, st)
    n2s = _phase_counts(x.shape[3], st[2])
    size = ext[0] * ext[1] * ext[2]
    for b in range((x.shape[0] + block - 1) // block):
        xph = np.zeros((st[0] * st[1] * st[2], size), dtype=x.dtype)
        gb = np.zeros(size, dtype=x.dtype)
        for m in range(b * block, min(x.shape[0], (b + 1) * block)):
            _weight_grad_plane(x[m], gy[m], part[m], st, tph, toff, pad, ext, rows, n2s, xph, gb)


# ---------------------------------------------------------------------------
# geometry (Python side)


def _to3(v: Any, fill: int) -> list[int]:
    """Per-dim values with leading ``fill`` up to 3 spatial dims."""
    v = [int(a) for a in v]
    return [fill] * (3 - len(v)) + v


def _taps(
    k: list[int], s: list[int], d: list[int], lo: list[int], ext: list[int]
) -> tuple[np.ndarray, np.ndarray, list[int], list[int]]:
    """Per tap (C order over ``k``): the phase index of ``off = t d - lo`` and the
    flat offset of its shift ``off // s`` in pitch ``ext`` (filled in by the
    caller: pass ``ext=[]`` first to get the per-dim shift ranges)."""
    split = [[polyphase(t * dd - ll, ss) for t in range(kk)] for kk, ss, dd, ll in zip(k, s, d, lo)]
    phases = [[r for r, _ in dim] for dim in split]
    shifts = [[q for _, q in dim] for dim in split]
    mn = [min(sh) for sh in shifts]
    mx = [max(sh) for sh in shifts]
    if not ext:
        return np.empty(0, np.int64), np.empty(0, np.int64), mn, mx
    tph, toff = [], []
    for t in itertools.product(*(range(kk) for kk in k)):
        r = [phases[i][t[i]] for i in range(3)]
        sh = [shifts[i][t[i]] for i in range(3)]
        tph.append((r[0] * s[1] + r[1]) * s[2] + r[2])
        toff.append((sh[0] * ext[1] + sh[1]) * ext[2] + sh[2])
    return np.array(tph, np.int64), np.array(toff, np.int64), mn, mx


def _trim(
    k: Ints, s: Ints, d: Ints, lo: Ints, src: Ints, dst: Ints
) -> tuple[list[slice], list[slice], list[int]] | None:
    """The index ``j`` of side ``src`` relates to ``j s + t d - lo`` of side
    ``dst``, which must fall in ``[0, dst)`` (the input and output of a
    transposed convolution, or the output and input of a convolution). Keep the
    ``src`` range that reaches ``dst``, then the ``dst`` range it reaches: their
    slices and the new ``lo``; None if nothing interacts."""
    cut_src, cut_dst, new_lo = [], [], []
    for kk, ss, dd, ll, ns, nd in zip(k, s, d, lo, src, dst):
        off_lo, off_hi = -ll, (kk - 1) * dd - ll
        j0 = max(0, -(off_hi // ss))  # ceil(-off_hi / s)
        j1 = min(ns, (nd - 1 - off_lo) // ss + 1)
        if j1 <= j0:
            return None
        i0 = max(0, j0 * ss + off_lo)
        i1 = min(nd, (j1 - 1) * ss + off_hi + 1)
        if i1 <= i0:
            return None
        # j' = j - j0, i' = i - i0: i' = j' s + t d - (lo - j0 s + i0)
        cut_src.append(slice(j0, j1))
        cut_dst.append(slice(i0, i1))
        new_lo.append(ll - j0 * ss + i0)
    return cut_src, cut_dst, new_lo


def _planes(a: np.ndarray, cut: list[slice], dtype: np.dtype[Any]) -> np.ndarray:
    """``a[..., *cut]`` as C-contiguous planes (M, A0, A1, A2) of ``dtype``."""
    part = a[(slice(None), slice(None)) + tuple(cut)]
    sp = _to3(part.shape[2:], 1)
    return np.ascontiguousarray(part, dtype=dtype).reshape(-1, *sp)


def _check_dtype(x: np.ndarray) -> np.dtype[Any]:
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"numba depthwise kernels take float32 or float64, not {x.dtype}")
    return x.dtype


def _plane_chunks(n: int, c: int, workers: int) -> list[tuple[slice, slice]]:
    """Split the ``n*c`` planes (plane ``m`` is channel ``m % c``) into runs for
    ``workers``: ``(planes, channels)`` pairs, where ``channels`` are the
    weights and biases of the run's planes in order. Whole samples while there
    are enough of them, else channel ranges within each sample."""
    if workers <= 1:
        return [(slice(0, n * c), slice(0, c))]
    if n >= workers:
        per = -(-n // workers)
        return [(slice(a * c, min(n, a + per) * c), slice(0, c)) for a in range(0, n, per)]
    per = -(-c // -(-workers // n))  # channels per run: each sample in that many runs
    return [
        (slice(i * c + a, i * c + min(c, a + per)), slice(a, min(c, a + per)))
        for i in range(n)
        for a in range(0, c, per)
    ]


def _run_planes(call: Callable[[slice, slice], None], n: int, c: int, work: float) -> None:
    """``call(planes, channels)`` over runs of the ``n*c`` planes, on the worker
    threads when the call is large (the kernels release the GIL); ``work``:
    multiply-adds in all."""
    nw = _threads.workers(work)
    _threads.map_chunks(lambda run: call(*run), _plane_chunks(n, c, nw), nw)


def _block(m: int) -> int:
    """Planes per task that share one set of scratch buffers: up to 16
    (allocating per plane costs time)."""
    return max(1, min(16, m))


def _i64(v: list[int]) -> np.ndarray:
    return np.array(v, dtype=np.int64)


def _filled(shape: tuple[int, ...], bias: np.ndarray | None, dtype: np.dtype[Any]) -> np.ndarray:
    """An output (N, C, *sp) holding the bias of each channel (zeros without one)."""
    if bias is None:
        return np.zeros(shape, dtype=dtype)
    out = np.empty(shape, dtype=dtype)
    out[...] = np.asarray(bias, dtype=dtype).reshape((1, -1) + (1,) * (len(shape) - 2))
    return out


def _bias_vector(bias: np.ndarray | None, c: int, dtype: np.dtype[Any]) -> np.ndarray:
    return np.zeros(c, dtype) if bias is None else np.ascontiguousarray(bias, dtype=dtype)


def depthwise_conv_transpose(
    x: np.ndarray,
    w: np.ndarray,
    stride: Ints,
    dilation: Ints,
    lo: Ints,
    out_size: Ints,
    bias: np.ndarray | None = None,
) -> np.ndarray:
    """Depthwise transposed convolution: x (N, C, *L), w (C, 1, *k) -> (N, C, *out_size),
    plus ``bias`` (C,) if given (it starts the sums: no extra pass).

    Per spatial dim, tap ``t`` sends input ``i`` to output ``o = i s + t d - lo``;
    contributions with ``o`` outside ``[0, out)`` are dropped. Natural size:
    ``out = (L - 1) s + d (k - 1) + 1 - 2 lo + output_padding``.
    """
    _ensure_compiled()
    dtype = _check_dtype(x)
    n, c = x.shape[:2]
    k = tuple(w.shape[2:])
    out_size = tuple(out_size)
    trim = _trim(k, stride, dilation, lo, tuple(x.shape[2:]), out_size)
    if n * c == 0 or trim is None:
        return _filled((n, c, *out_size), bias, dtype)
    cut_x, cut_y, lo_t = trim
    xs = _planes(x, cut_x, dtype)
    o = _to3([sl.stop - sl.start for sl in cut_y], 1)
    k3, s3, d3, lo3 = _to3(k, 1), _to3(stride, 1), _to3(dilation, 1), _to3(lo_t, 0)
    _, _, mn, mx = _taps(k3, s3, d3, lo3, [])
    # output q of a phase at pad + q gathers input i = q - sh from pad + q - sh:
    # inside the buffer for q < ceil(O / s), as is the input itself
    pad = [max(0, b) for b in mx]
    jn = [-(-oo // ss) for oo, ss in zip(o, s3)]
    ext = [max(p + j + max(0, -a), p + n) for p, j, a, n in zip(pad, jn, mn, xs.shape[1:])]
    tph, toff, _, _ = _taps(k3, s3, d3, lo3, ext)
    order = np.argsort(tph, kind="stable")
    first = np.searchsorted(tph[order], np.arange(math.prod(s3) + 1)).astype(np.int64)
    h0 = (pad[0] * ext[1] + pad[1]) * ext[2] + pad[2]
    h1 = ((pad[0] + jn[0] - 1) * ext[1] + pad[1] + jn[1] - 1) * ext[2] + pad[2] + jn[2]
    assert h0 - toff.max() >= 0 and h1 - toff.min() <= math.prod(ext)  # see _gather_geometry
    wt = np.ascontiguousarray(w, dtype=dtype).reshape(c, -1)
    full = all(sl == slice(0, m) for sl, m in zip(cut_y, out_size))
    y = np.empty((n * c, *o), dtype=dtype)  # the kernel writes every cell
    bv = _bias_vector(bias, c, dtype)
    geo = (_i64(s3), order, first, toff, _i64(pad), _i64(ext))
    _run_planes(
        lambda ps, cs: _conv_transpose_planes(
            xs[ps], wt[cs], y[ps], *geo, _block(ps.stop - ps.start), bv[cs]
        ),
        n,
        c,
        xs.size * wt.shape[1],
    )
    if full:
        return y.reshape(n, c, *out_size)
    out = _filled((n, c, *out_size), bias, dtype)
    out[(slice(None), slice(None)) + tuple(cut_y)] = y.reshape(
        n, c, *(sl.stop - sl.start for sl in cut_y)
    )
    return out


def _gather_geometry(
    k: Ints, s: Ints, d: Ints, lo: list[int], n_in: Ints, o: list[int]
) -> tuple[np.ndarray, ...]:
    """Buffers of the gather kernels: phase ``r`` of the input at ``pad + q``,
    outputs at ``pad + o``, and reads at ``pad + o + sh`` all inside the extent."""
    k3, s3, d3, lo3, n3 = _to3(k, 1), _to3(s, 1), _to3(d, 1), _to3(lo, 0), _to3(n_in, 1)
    o3 = _to3(o, 1)
    _, _, mn, mx = _taps(k3, s3, d3, lo3, [])
    pad = [max(0, -a) for a in mn]
    ext = [max(p + oo + max(0, b), p + -(-a // ss)) for p, oo, b, a, ss in zip(pad, o3, mx, n3, s3)]
    tph, toff, _, _ = _taps(k3, s3, d3, lo3, ext)
    # The kernels read every tap over the flat output range without clipping
    # (bounds checks off): it must stay inside the buffer. It does, as the flat
    # index is monotone in the per-dim coordinates, which stay inside.
    g0 = (pad[0] * ext[1] + pad[1]) * ext[2] + pad[2]
    g1 = ((pad[0] + o3[0] - 1) * ext[1] + pad[1] + o3[1] - 1) * ext[2] + pad[2] + o3[2]
    assert g0 + toff.min() >= 0 and g1 + toff.max() <= math.prod(ext)
    return _i64(s3), tph, toff, _i64(pad), _i64(ext)


def depthwise_conv(
    x: np.ndarray,
    w: np.ndarray,
    stride: Ints,
    dilation: Ints,
    lo: Ints,
    out_size: Ints,
    bias: np.ndarray | None = None,
) -> np.ndarray:
    """Depthwise convolution (cross-correlation): x (N, C, *L), w (C, 1, *k) -> (N, C, *out_size),
    plus ``bias`` (C,) if given.

    ``y[o] = sum_t x[o s + t d - lo] w[t]``, ``x`` read as zero outside ``[0, L)``:
    ``lo`` is the left padding. Natural size: ``out = (L + 2 lo - d (k - 1) - 1) // s + 1``.
    """
    _ensure_compiled()
    dtype = _check_dtype(x)
    n, c = x.shape[:2]
    k = tuple(w.shape[2:])
    out_size = tuple(out_size)
    trim = _trim(k, stride, dilation, lo, out_size, tuple(x.shape[2:]))
    if n * c == 0 or trim is None:
        return _filled((n, c, *out_size), bias, dtype)
    cut_y, cut_x, lo_t = trim
    xs = _planes(x, cut_x, dtype)
    o = [sl.stop - sl.start for sl in cut_y]
    geo = _gather_geometry(k, stride, dilation, lo_t, tuple(xs.shape[1:]), o)
    wt = np.ascontiguousarray(w, dtype=dtype).reshape(c, -1)
    full = all(sl == slice(0, m) for sl, m in zip(cut_y, out_size))
    y = np.empty((n * c, *_to3(o, 1)), dtype=dtype)
    bv = _bias_vector(bias, c, dtype)
    _run_planes(
        lambda ps, cs: _conv_planes(
            xs[ps], wt[cs], y[ps], *geo, _block(ps.stop - ps.start), bv[cs]
        ),
        n,
        c,
        y.size * wt.shape[1],
    )
    if full:
        return y.reshape(n, c, *out_size)
    out = _filled((n, c, *out_size), bias, dtype)
    out[(slice(None), slice(None)) + tuple(cut_y)] = y.reshape(n, c, *o)
    return out


def depthwise_conv_weight_grad(
    x: np.ndarray, gy: np.ndarray, kernel_size: Ints, stride: Ints, dilation: Ints, lo: Ints
) -> np.ndarray:
    """Weight gradient of :func:`depthwise_conv`: x (N, C, *L), gy (N, C, *O) -> (C, 1, *k).

    ``gw[c, 0, t] = sum_{n, o} gy[n, c, o] x[n, c, o s + t d - lo]`` (zeros outside
    ``x``). Per-plane partial sums (N*C, k) in parallel, then a sum over N.
    """
    _ensure_compiled()
    dtype = _check_dtype(x)
    n, c = x.shape[:2]
    k = tuple(int(a) for a in kernel_size)
    trim = _trim(k, stride, dilation, lo, tuple(gy.shape[2:]), tuple(x.shape[2:]))
    if n * c == 0 or trim is None:
        return np.zeros((c, 1, *k), dtype=dtype)
    cut_y, cut_x, lo_t = trim
    xs = _planes(x, cut_x, dtype)
    gs = _planes(gy, cut_y, dtype)
    o = [sl.stop - sl.start for sl in cut_y]
    geo = _gather_geometry(k, stride, dilation, lo_t, tuple(xs.shape[1:]), o)
    part = np.empty((n * c, math.prod(k)), dtype=dtype)
    _run_planes(
        lambda ps, _: _weight_grad_planes(
            xs[ps], gs[ps], part[ps], *geo, _block(ps.stop - ps.start)
        ),
        n,
        c,
        gs.size * part.shape[1],
    )
    return part.reshape(n, c, *k).sum(axis=0).reshape(c, 1, *k)
