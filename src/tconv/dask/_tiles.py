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
class Axis:
    """The tiling of one spatial dim: output block bounds, and per block the source
    indices its tile gathers (-1: a zero) and the global output index of the tile's
    local result's first entry."""

    bounds: tuple[int, ...]
    sources: tuple[np.ndarray, ...]
    origins: tuple[int, ...]


def source_map(size: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """Source index of each position of the padded axis (-1 for a zero), from
    :func:`tconv.autograd.pad` itself, so that the padding rule is written once."""
    positions = np.arange(size, dtype=np.float64)[None]
    if mode == "zeros":
        padded = pad(positions, (lo, hi), mode="constant", value=-1.0)
    else:
        padded = pad(positions, (lo, hi), mode=mode)
    return np.asarray(padded, dtype=np.int64)[0]


def axis_plan(
    layer: Layer,
    dim: int,
    n: int,
    chunks: Sequence[int],
    out_size: int,
    gather: Callable[[int, int], tuple[np.ndarray, int]],
) -> Axis:
    """The tiling of spatial dim ``dim``: the output blocks are the images of the input
    chunks (``layer.split``), each tile the block's :meth:`Layer.window`, gathered by
    ``gather(start, stop) -> (source indices, origin shift)``."""
    edges = np.cumsum((0, *chunks))
    cut = [0] + [min(max(layer.split(int(e), dim, n), 0), out_size) for e in edges[1:-1]]
    cut.append(out_size)
    bounds = tuple(sorted(set(cut)))  # an input chunk whose image is empty adds no block
    sources, origins = [], []
    for a, b in itertools.pairwise(bounds):
        win = layer.window(a, b, dim, n)
        src, origin = gather(win.start, win.stop)
        sources.append(src)
        origins.append(a - win.phase + origin)
    return Axis(bounds, tuple(sources), tuple(origins))


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


def _run_tile(
    local: Callable[[np.ndarray], np.ndarray],
    lead: tuple[int, int],
    parts: list[list[tuple[int, slice | None, int]]],
    cells: list[Any],
    crops: list[tuple[int, int]],
    bias: np.ndarray | None,
    in_dtype: np.dtype,
    dtype: np.dtype,
    channels: int,
    post: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """One task: assemble the tile from its cells (zeros where the padding is zero),
    run the op on it alone, keep the block's outputs, add the bias, then ``post`` (the
    point-wise layers that follow, fused into the same task)."""
    y = _tile(local, lead, parts, cells, crops, bias, in_dtype, dtype, channels)
    return y if post is None else post(y)


def _tile(
    local: Callable[[np.ndarray], np.ndarray],
    lead: tuple[int, int],
    parts: list[list[tuple[int, slice | None, int]]],
    cells: list[Any],
    crops: list[tuple[int, int]],
    bias: np.ndarray | None,
    in_dtype: np.dtype,
    dtype: np.dtype,
    channels: int,
) -> np.ndarray:
    y = np.zeros((lead[0], channels, *(b - a for a, b in crops)), dtype)
    if any(not ax for ax in parts):  # no input lands on these outputs: bias only
        return _biased(y, bias, dtype)
    arrays = []
    for combo, block in zip(itertools.product(*parts), cells):
        if block is None:
            arrays.append(np.zeros(lead + tuple(p[2] for p in combo), in_dtype))
        else:
            arrays.append(block[(slice(None), slice(None)) + tuple(p[1] for p in combo)])
    for ax in range(len(parts) - 1, -1, -1):  # last axis innermost, as itertools.product
        k = len(parts[ax])
        arrays = [np.concatenate(arrays[i : i + k], axis=2 + ax) for i in range(0, len(arrays), k)]
    full = local(arrays[0])
    dst: list[slice] = [slice(None), slice(None)]
    src: list[slice] = [slice(None), slice(None)]
    for (a, b), m in zip(crops, full.shape[2:]):
        lo, hi = max(a, 0), min(b, m)
        if hi <= lo:
            return _biased(y, bias, dtype)
        dst.append(slice(lo - a, hi - a))
        src.append(slice(lo, hi))
    y[tuple(dst)] = full[tuple(src)]
    return _biased(y, bias, dtype)


def _biased(y: np.ndarray, bias: np.ndarray | None, dtype: np.dtype) -> np.ndarray:
    if bias is not None:
        y += bias.reshape((1, -1) + (1,) * (y.ndim - 2)).astype(y.dtype, copy=False)
    return y.astype(dtype, copy=False)


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


def tiled(
    x: Any,
    axes: Sequence[Axis],
    local: Callable[[np.ndarray], np.ndarray],
    channels: int,
    dtype: np.dtype,
    bias: np.ndarray | None,
    name: str,
    post: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Any:
    """The lazy result: per batch chunk and output block, one task running ``local`` on
    the gathered tile (cropped to the block, ``bias`` added, then ``post``, which must
    keep the block's shape and ``dtype``)."""
    dask_array()
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    token = tokenize(x.name, [a.bounds for a in axes], [a.origins for a in axes], next(_counter))
    out_name = f"{name}-{token}"
    fn_key = f"{name}-fn-{token}"
    dsk: dict[Any, Any] = {fn_key: local}
    bias_key = None
    if bias is not None:
        bias_key = f"{name}-bias-{token}"
        dsk[bias_key] = bias
    post_key = None
    if post is not None:
        post_key = f"{name}-post-{token}"
        dsk[post_key] = post
    edges = [np.cumsum((0, *c)) for c in x.chunks[2:]]
    batch = x.chunks[0]
    channels_in = x.shape[1]
    for blocks in itertools.product(*(range(len(a.bounds) - 1) for a in axes)):
        parts = [_runs(axes[ax].sources[t], edges[ax]) for ax, t in enumerate(blocks)]
        crops = [
            (axes[ax].bounds[t] - axes[ax].origins[t], axes[ax].bounds[t + 1] - axes[ax].origins[t])
            for ax, t in enumerate(blocks)
        ]
        for bi, nb in enumerate(batch):
            cells = [
                None if any(p[0] < 0 for p in combo) else (x.name, bi, 0, *(p[0] for p in combo))
                for combo in itertools.product(*parts)
            ]
            dsk[(out_name, bi, 0) + blocks] = (
                _run_tile,
                fn_key,
                (nb, channels_in),
                parts,
                cells,
                crops,
                bias_key,
                x.dtype,
                dtype,
                channels,
                post_key,
            )
    chunks = (batch, (channels,), *(tuple(np.diff(a.bounds).tolist()) for a in axes))
    if post is not None:  # the result's dtype is post's on the op's
        dtype = post(np.zeros((1, channels) + (1,) * len(axes), dtype)).dtype
    graph = HighLevelGraph.from_collections(out_name, dsk, dependencies=[x])
    return da.Array(graph, out_name, chunks, meta=np.empty((0,) * x.ndim, dtype))
