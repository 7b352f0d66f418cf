"""Shared pieces of the convolution kernels: tap geometry, padding, chunking.

Per spatial dim the kernels take stride ``s``, dilation ``d``, a leading offset
``lo`` and sizes; see :mod:`.conv` for what each kernel computes with them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

from .settings import get_memory_budget
from .tuning import CHUNK_BYTES as _CHUNK_BYTES

Ints = tuple[int, ...]

# A strided call whose stride^nd phases outnumber its kernel taps this many
# times over leaves most phases empty: the phase paths, which loop over every
# phase in Python (or hold per-phase buffers), give way to per-tap paths whose
# cost follows the output and the taps, not the stride.
SPARSE_PHASES = 16

# A convolution whose padded input span exceeds its im2col columns (output x
# taps) this many times over reads only a sliver of it: its windows are
# gathered first (see gather_windows), so cost follows the output, not the span.
GATHER_RATIO = 16

_ALL2 = (slice(None), slice(None))  # batch and channel axes, before the spatial slices


def _tap_slices(
    k: Ints, s: Ints, d: Ints, lo: Ints, n_in: Ints, n_out: Ints
) -> Iterator[tuple[int, tuple[slice, ...], tuple[slice, ...]]]:
    """For each kernel tap of a transposed convolution: its index, the input range
    that lands inside the output, and the strided output slice it lands on.

    Tap ``t`` sends input ``i`` to output ``i s + t d - lo``; inputs that fall
    outside ``[0, n_out)`` are cropped (taps whose range is empty are skipped).
    """
    for j, t in enumerate(itertools.product(*(range(kk) for kk in k))):
        src, dst = [], []
        for ti, si, di, li, ni, no in zip(t, s, d, lo, n_in, n_out):
            off = ti * di - li
            i0, i1 = tap_range(off, si, ni, no)
            if i1 < i0:
                break
            src.append(slice(i0, i1 + 1))
            dst.append(slice(i0 * si + off, i1 * si + off + 1, si))
        else:
            yield j, tuple(src), tuple(dst)


def tap_range(off: int, s: int, n_in: int, n_out: int) -> tuple[int, int]:
    """The first and last input ``i`` of a tap at offset ``off`` whose output
    ``i s + off`` lies in ``[0, n_out)`` (empty when last < first)."""
    return max(0, -(off // s)), min(n_in - 1, (n_out - 1 - off) // s)


def _window_slices(k: Ints, s: Ints, d: Ints, n_out: Ints) -> Iterator[tuple[slice, ...]]:
    """For each kernel tap of a convolution, the strided slice of the padded input it reads."""
    for t in itertools.product(*(range(kk) for kk in k)):
        yield tuple(
            slice(ti * di, ti * di + si * (no - 1) + 1, si)
            for ti, si, di, no in zip(t, s, d, n_out)
        )


def transposed(a: np.ndarray) -> np.ndarray:
    """``np.ascontiguousarray(a.T)`` of a 2-D array, copied a tile at a time.

    A weight's layout for a GEMM is often a transpose of its own (taps last in
    PyTorch's, first in the kernels'). NumPy copies a large transpose down whole
    columns, out of cache: on an 8 MiB weight 2x slower than tiles of about 64 KiB
    (benchmarks/RESULTS-intel.md, "Kernel paths"); below 1 MiB it stays in cache.

    >>> a = np.arange(6.0).reshape(2, 3)
    >>> bool((transposed(a) == a.T).all()) and transposed(a).flags.c_contiguous
    True
    """
    m, n = a.shape
    if a.nbytes < 2**20:  # in cache anyway: the tiles' Python loop would cost more
        return np.ascontiguousarray(a.T)
    out = np.empty((n, m), dtype=a.dtype)
    cols = min(n, 128)
    rows = max(128, 2**16 // (cols * a.itemsize))
    for i in range(0, m, rows):
        for j in range(0, n, cols):
            out[j : j + cols, i : i + rows] = a[i : i + rows, j : j + cols].T
    return out


def _chunks(
    total: int,
    per_item: int,
    itemsize: int,
    reserved: int = 0,
    operand: int = 0,
    workers: int = 1,
) -> list[slice]:
    """Split ``range(total)`` into chunks whose temporaries (``per_item`` elements
    each, plus ``reserved`` bytes already held) fit the working size: about
    ``_CHUNK_BYTES``, or four times the fixed GEMM ``operand`` (bytes) when that
    is larger, so that it is not streamed once per tiny chunk; never more than
    the memory budget, shared by ``workers`` that each hold one chunk at a time.
    With several workers there are at least as many chunks as workers (when
    ``total`` allows), and their count is a multiple of them: no worker idles
    at the end."""
    target = min(get_memory_budget() // workers, max(_CHUNK_BYTES, 4 * operand))
    room = max(0, target - reserved)
    step = max(1, room // max(1, per_item * itemsize))
    if workers > 1 and total > 1:
        rounds = -(-total // (step * workers))  # chunks per worker at that size
        step = max(1, -(-total // (rounds * workers)))
    return [slice(start, min(total, start + step)) for start in range(0, total, step)]


def _padded(x: np.ndarray, lo: Ints, need: Ints) -> np.ndarray:
    """``x`` with ``lo`` zeros in front of each spatial dim, cut or zero-filled to ``need``."""
    n_sp = len(lo)
    if all(p == 0 for p in lo) and tuple(x.shape[2:]) == tuple(need):
        return x
    xp = np.zeros(x.shape[:2] + tuple(need), dtype=x.dtype)
    src, dst = [], []
    for p, n, m in zip(lo, x.shape[2:], need):
        # input index i goes to padded index i + p, kept while 0 <= i + p < m
        i0, i1 = max(0, -p), min(n, m - p)
        if i1 <= i0:
            return xp
        src.append(slice(i0, i1))
        dst.append(slice(i0 + p, i1 + p))
    assert len(src) == n_sp
    xp[_ALL2 + tuple(dst)] = x[_ALL2 + tuple(src)]
    return xp


def _span(k: Ints, s: Ints, d: Ints, n_out: Ints) -> Ints:
    """Padded input length that the windows of a convolution read."""
    return tuple((no - 1) * si + di * (kk - 1) + 1 for kk, si, di, no in zip(k, s, d, n_out))


def _put(dst: np.ndarray, src: np.ndarray, bias: np.ndarray | None) -> None:
    """``dst[...] = src (+ bias)``: one pass either way."""
    if bias is None:
        dst[...] = src
    else:
        np.add(src, bias, out=dst)


def polyphase(offset: int, s: int) -> tuple[int, int]:
    """Phase and shift of an index ``offset`` under stride ``s``: ``offset = shift s + phase``,
    ``0 <= phase < s`` (the polyphase split that every strided path uses)."""
    return offset % s, offset // s


def phase_counts(n: int, s: int) -> list[int]:
    """How many of the indices ``0 .. n-1`` fall in each phase ``r`` (index mod ``s``)."""
    return [len(range(r, n, s)) for r in range(s)]


def _phase_block(dst: tuple[slice, ...], stride: Ints) -> tuple[int, tuple[slice, ...]]:
    """The phase (flat index) that a tap's strided output slice belongs to, and the
    contiguous block of that phase's buffer it covers."""
    phase, block = 0, []
    for sl, si in zip(dst, stride):
        r, q = polyphase(sl.start, si)
        phase = phase * si + r
        block.append(slice(q, q + len(range(sl.start, sl.stop, si))))
    return phase, tuple(block)


def gather_windows(x: np.ndarray, k: Ints, s: Ints, d: Ints, lo: Ints, out: Ints) -> np.ndarray:
    """``g[..., o k + t] = x[..., o s + t d - lo]`` per spatial dim (zero outside ``x``):
    what the windows of a convolution read, laid side by side, so that the
    convolution of ``x`` equals that of ``g`` with stride ``k``, dilation 1 and
    no padding. Its size is the output's times the taps' (per channel)."""
    g = x
    for axis, (kk, si, di, li, no) in enumerate(zip(k, s, d, lo, out), start=2):
        n = g.shape[axis]
        idx = (np.arange(no)[:, None] * si + np.arange(kk)[None, :] * di - li).ravel()
        inside = (idx >= 0) & (idx < n)
        g = np.take(g, np.clip(idx, 0, n - 1), axis=axis)
        if not inside.all():  # padding: zeros written, not multiplied in (a NaN stays put)
            g[(slice(None),) * axis + (~inside,)] = 0
    return g


def fold_periods(y: np.ndarray, periods: Ints) -> np.ndarray:
    """``out[..., j] = sum_m y[..., j + m p]`` per spatial dim: each dim of ``y``
    (N, C, *(m p)) cut into its ``m`` blocks of length ``p`` and the blocks summed
    (a circular transposed convolution's wrap). One reshape and one sum."""
    nd = len(periods)
    split = tuple(v for n, p in zip(y.shape[2:], periods) for v in (n // p, p))
    return y.reshape(y.shape[:2] + split).sum(axis=tuple(range(2, 2 + 2 * nd, 2)))


def tile_periods(gy: np.ndarray, reps: Ints) -> np.ndarray:
    """The adjoint of :func:`fold_periods`: ``gy`` repeated ``reps`` times along each
    spatial dim."""
    return np.tile(gy, (1, 1) + tuple(reps))
