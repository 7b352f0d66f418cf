"""Tiles with exact halos: one Dask task per output block, gathering its input window.

Each output block reads, per spatial dim, a list of source indices (the window of
:func:`tconv.shapes.input_window`, mapped through the padding: -1 for a zero), runs the
op on that tile alone, and keeps the outputs ``[a, b)`` of its local result (zeros
where the local result does not reach: outputs no tap lands on). Padding therefore
acts once, at the array's true edges, in every padding mode. The graph is plain Dask:
no scheduler of our own.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..autograd import pad
from ..shapes import Layer

da: Any = None


def dask_array() -> Any:
    """``dask.array``, imported on first use (an optional dependency: the ``dask`` extra)."""
    global da
    if da is None:
        try:
            import dask.array as dask_array_module
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError(
                "tconv.dask needs Dask: pip install 'tconv[dask]' (dask[array], distributed)"
            ) from err
        da = dask_array_module
    return da


@dataclass(frozen=True)
class Stage:
    """One layer as a tile sees it: its :class:`tconv.shapes.Layer` (for windows and
    splits), its output sizes, per spatial dim ``gather(start, stop) -> (sources,
    shift)`` (the source index in the layer's input of each position of the window, -1
    for a zero, and how far the local result's origin moves), the op on a tile
    (``local``, padding 0), its output channels and dtype, and the bias and point-wise
    ``post`` to add after the crop."""

    layer: Layer
    out_size: tuple[int, ...]
    gathers: tuple[Callable[[int, int], tuple[np.ndarray, int]], ...]
    local: Callable[[np.ndarray], np.ndarray]
    channels: int
    dtype: np.dtype
    bias: np.ndarray | None = None
    post: Callable[[np.ndarray], np.ndarray] | None = None

    def out_dtype(self) -> np.dtype:
        """The dtype after ``post`` (a point-wise layer may change it)."""
        if self.post is None:
            return self.dtype
        n = len(self.out_size)
        return self.post(np.zeros((1, self.channels) + (1,) * n, self.dtype)).dtype


def source_map(size: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """Source index of each position of the padded axis (-1 for a zero), from
    :func:`tconv.autograd.pad` itself, so that the padding rule is written once."""
    positions = np.arange(size, dtype=np.float64)[None]
    if mode == "zeros":
        padded = pad(positions, (lo, hi), mode="constant", value=-1.0)
    else:
        padded = pad(positions, (lo, hi), mode=mode)
    return np.asarray(padded, dtype=np.int64)[0]


def _bounds(stages: Sequence[Stage], chunks: Sequence[int], dim: int, n: int) -> list[int]:
    """The output blocks of a chain along ``dim``: the images of the input chunks, each
    cut carried through every layer's ``split`` (an input chunk whose image is empty adds
    no block)."""
    cuts = [int(e) for e in np.cumsum(chunks)[:-1]]
    for st in stages:
        cuts = [min(max(st.layer.split(c, dim, n), 0), st.out_size[dim]) for c in cuts]
    return sorted({0, *cuts, stages[-1].out_size[dim]})


@dataclass(frozen=True)
class _Step:
    """One stage of one block along one dim: the sources its window reads (global
    indices into the stage's input, -1 for a zero; ``None``: no input lands on the
    block), the first of them kept by the stage before (``lo``), and the crop of the
    local result that is the block."""

    sources: np.ndarray | None
    lo: int
    crop: tuple[int, int]


def _plan(stages: Sequence[Stage], dim: int, n: int, a: int, b: int) -> list[_Step | None]:
    """Walk outputs ``[a, b)`` of the last stage back to the input: each stage's window,
    and the range of the stage before that it reads. Stages before one on which no input
    lands are not needed (``None``)."""
    steps: list[_Step | None] = [None] * len(stages)
    for i in range(len(stages) - 1, -1, -1):
        st = stages[i]
        win = st.layer.window(a, b, dim, n)
        src, shift = st.gathers[dim](win.start, win.stop)
        first = a - win.phase + shift  # the global output of the local result's entry 0
        crop = (a - first, b - first)
        live = src[src >= 0]
        if live.size == 0:
            steps[i] = _Step(None, 0, crop)
            break
        a, b = int(live.min()), int(live.max()) + 1
        steps[i] = _Step(src, a, crop)
    return steps


def _runs(src: np.ndarray, edges: np.ndarray) -> list[tuple[int, slice | None, int]]:
    """Split source indices into runs ``(block, slice, length)`` inside one input block
    (step +1, or -1 where reflect padding reads backwards), or ``(-1, None, length)``
    for zeros."""
    out: list[tuple[int, slice | None, int]] = []
    i, n = 0, len(src)
    while i < n:
        v, j = int(src[i]), i + 1
        if v < 0:
            while j < n and src[j] < 0:
                j += 1
            out.append((-1, None, j - i))
            i = j
            continue
        blk = int(np.searchsorted(edges, v, side="right")) - 1
        lo_e, hi_e = int(edges[blk]), int(edges[blk + 1])
        step = -1 if j < n and src[j] == v - 1 and v - 1 >= lo_e else 1
        while j < n and src[j] == src[j - 1] + step and lo_e <= src[j] < hi_e:
            j += 1
        first, last = v - lo_e, int(src[j - 1]) - lo_e
        if step == 1:
            sl = slice(first, last + 1)
        else:
            sl = slice(first, last - 1 if last > 0 else None, -1)
        out.append((blk, sl, j - i))
        i = j
    return out


def _take(t: np.ndarray, idx: np.ndarray, axis: int) -> np.ndarray:
    """``t`` along ``axis`` at ``idx`` (-1: a zero): a view where the run is contiguous."""
    if idx.size and idx[0] >= 0 and np.array_equal(idx, np.arange(idx[0], idx[0] + idx.size)):
        return t[(slice(None),) * axis + (slice(int(idx[0]), int(idx[0]) + idx.size),)]
    zero = np.zeros(t.shape[:axis] + (1,) + t.shape[axis + 1 :], t.dtype)
    ext = np.concatenate([t, zero], axis=axis)
    return np.take(ext, np.where(idx < 0, t.shape[axis], idx), axis=axis)


def _finish(
    st: Stage, full: np.ndarray | None, lead: int, crops: list[tuple[int, int]]
) -> np.ndarray:
    """The block ``crops`` of ``full`` (zeros where the local result does not reach, or
    everywhere for ``None``), with the bias and ``post``."""
    y = np.zeros((lead, st.channels, *(b - a for a, b in crops)), st.dtype)
    if full is not None:
        dst: list[slice] = [slice(None), slice(None)]
        src: list[slice] = [slice(None), slice(None)]
        for (a, b), m in zip(crops, full.shape[2:]):
            lo, hi = max(a, 0), min(b, m)
            if hi <= lo:
                full = None
                break
            dst.append(slice(lo - a, hi - a))
            src.append(slice(lo, hi))
        if full is not None:
            y[tuple(dst)] = full[tuple(src)]
    if st.bias is not None:
        y += st.bias.reshape((1, -1) + (1,) * (y.ndim - 2)).astype(y.dtype, copy=False)
    y = y.astype(st.dtype, copy=False)
    return y if st.post is None else st.post(y)


def _assemble(
    lead: tuple[int, int],
    parts: list[list[tuple[int, slice | None, int]]],
    cells: list[Any],
    dtype: np.dtype,
) -> np.ndarray:
    """The first stage's tile from the input's blocks (zeros where the padding is zero)."""
    arrays = []
    for combo, block in zip(itertools.product(*parts), cells):
        if block is None:
            arrays.append(np.zeros(lead + tuple(p[2] for p in combo), dtype))
        else:
            arrays.append(block[(slice(None), slice(None)) + tuple(p[1] for p in combo)])
    for ax in range(len(parts) - 1, -1, -1):  # last axis innermost, as itertools.product
        k = len(parts[ax])
        arrays = [np.concatenate(arrays[i : i + k], axis=2 + ax) for i in range(0, len(arrays), k)]
    return arrays[0]


def _run_chain(
    stages: tuple[Stage, ...],
    start: int,
    lead: tuple[int, int],
    parts: list[list[tuple[int, slice | None, int]]],
    cells: list[Any],
    in_dtype: np.dtype,
    maps: list[list[np.ndarray]],
    crops: list[list[tuple[int, int]]],
) -> np.ndarray:
    """One task: from stage ``start`` on (the input's tile when it is 0; bias only when
    no input lands on that stage's block), each stage runs on its tile alone and keeps
    the range the next one reads."""
    if start < 0:
        y = _finish(
            stages[0], stages[0].local(_assemble(lead, parts, cells, in_dtype)), lead[0], crops[0]
        )
        start = 0
    else:
        y = _finish(stages[start], None, lead[0], crops[start])
    for i in range(start + 1, len(stages)):
        t = y
        for ax, idx in enumerate(maps[i]):
            t = _take(t, idx, 2 + ax)
        y = _finish(stages[i], stages[i].local(t), lead[0], crops[i])
    return y


def whole_channels(x: Any, fn: str) -> Any:
    """``x`` with its channel axis in one chunk (rechunked once, with a warning)."""
    if len(x.chunks[1]) > 1:
        warnings.warn(
            f"{fn}: the channel axis is split into {len(x.chunks[1])} chunks; rechunking it "
            "into one (a tile needs every channel)",
            stacklevel=3,
        )
        x = x.rechunk({1: -1})
    return x


_counter = itertools.count()


def chain(x: Any, stages: Sequence[Stage], name: str) -> Any:
    """The lazy result of ``stages`` run one after the other on ``x``, fused: per batch
    chunk and output block one task, which gathers the input window of the whole chain
    (:func:`tconv.shapes.input_windows`) and runs every stage on its tile, keeping of each
    intermediate only the range the next stage reads. The result's chunks are the images
    of ``x``'s chunks."""
    dask_array()
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    stages = tuple(stages)
    n = x.ndim - 2
    per_dim = []  # per dim: per block, the plan of every stage
    for dim in range(n):
        bounds = _bounds(stages, x.chunks[2 + dim], dim, n)
        per_dim.append(
            [(b - a, _plan(stages, dim, n, a, b)) for a, b in itertools.pairwise(bounds)]
        )
    token = tokenize(x.name, n, len(stages), next(_counter))
    out_name = f"{name}-{token}"
    st_key = f"{name}-stages-{token}"
    dsk: dict[Any, Any] = {st_key: stages}
    edges = [np.cumsum((0, *c)) for c in x.chunks[2:]]
    batch, channels_in = x.chunks[0], x.shape[1]
    for blocks in itertools.product(*(range(len(p)) for p in per_dim)):
        plans = [per_dim[ax][t][1] for ax, t in enumerate(blocks)]
        # the deepest stage on which no input lands, along any dim: the task starts there
        start = max(
            (
                i
                for plan in plans
                for i, step in enumerate(plan)
                if step is not None and step.sources is None
            ),
            default=-1,
        )
        crops: list[list[tuple[int, int]]] = [[] for _ in stages]
        maps: list[list[np.ndarray]] = [[] for _ in stages]
        parts: list[list[tuple[int, slice | None, int]]] = []
        for ax, plan in enumerate(plans):
            for i in range(max(start, 0), len(stages)):
                step = plan[i]
                assert step is not None  # planned: every stage from the start on is
                crops[i].append(step.crop)
                if step.sources is not None and i > max(start, 0):
                    maps[i].append(np.where(step.sources >= 0, step.sources - step.lo, -1))
                elif step.sources is not None and start < 0:  # the input's blocks
                    parts.append(_runs(step.sources, edges[ax]))
        for bi, nb in enumerate(batch):
            cells = (
                [
                    None
                    if any(q[0] < 0 for q in combo)
                    else (x.name, bi, 0, *(q[0] for q in combo))
                    for combo in itertools.product(*parts)
                ]
                if start < 0
                else []
            )
            dsk[(out_name, bi, 0) + blocks] = (
                _run_chain,
                st_key,
                start,
                (nb, channels_in),
                parts,
                cells,
                x.dtype,
                maps,
                crops,
            )
    last = stages[-1]
    chunks = (batch, (last.channels,), *(tuple(s for s, _ in p) for p in per_dim))
    dtype = last.out_dtype()
    graph = HighLevelGraph.from_collections(out_name, dsk, dependencies=[x])
    return da.Array(graph, out_name, chunks, meta=np.empty((0,) * x.ndim, dtype))
