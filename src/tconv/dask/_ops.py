"""The tiled ops: ``tconv.functional``'s signatures on Dask arrays, NumPy weights.

Each op validates its arguments as the NumPy op does (``tconv.shapes`` for the sizes,
one call of the op itself on a kernel-sized zero input for weights, bias and groups),
then describes itself as a :class:`~tconv.dask._tiles.Stage`; :func:`~tconv.dask._tiles.chain`
lays out one task per output block whose tile is the block's input window
(:func:`tconv.shapes.input_window`). ``tconv.dask.apply`` chains the stages of a module.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from .. import _args, shapes
from .. import functional as F
from ..autograd.engine import unwrap
from ..shapes import Layer
from ._tiles import Stage, chain, dask_array, source_map, whole_channels

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "interpolate",
    "pixel_shuffle",
    "pixel_unshuffle",
]

_MODES = ("zeros", "reflect", "replicate", "circular")


def _dask_input(input: Any, ndim: int, fn: str, what: str) -> tuple[Any, bool]:
    """``input`` as a batched Dask array of ``ndim`` dims; whether it came unbatched."""
    da = dask_array()
    if not isinstance(input, da.Array):
        raise TypeError(
            f"tconv.dask.{fn}: input must be a dask.array.Array, got {type(input).__name__}; "
            "wrap a NumPy array with dask.array.from_array(x, chunks=...), or call "
            f"tconv.functional.{fn} on it"
        )
    if input.ndim == ndim - 1:
        return input[None], True
    if input.ndim != ndim:
        raise ValueError(
            f"tconv.dask.{fn}: input must be {ndim}-D {what} (or {ndim - 1}-D unbatched), got "
            f"{input.ndim}-D input of shape {input.shape}"
        )
    if input.dtype.kind not in "fiub":
        raise TypeError(f"tconv.dask.{fn}: input dtype must be real, got {input.dtype}")
    return input, False


def _conv(
    n: int,
    input: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
    padding_mode: str = "zeros",
) -> Any:
    fn = f"conv{n}d"
    x, unbatched = _dask_input(input, n + 2, fn, "(N, C_in, *spatial)")
    st = conv_stage(n, x, weight, bias, stride, padding, dilation, groups, padding_mode)
    y = chain(whole_channels(x, f"tconv.dask.{fn}"), [st], f"tconv-{fn}")
    return y[0] if unbatched else y


def conv_stage(
    n: int,
    x: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
    padding_mode: str = "zeros",
    post: Any = None,
) -> Stage:
    """The stage of ``conv{n}d`` on (a Dask array shaped like) ``x``, checked."""
    fn = f"conv{n}d"
    w, b = np.asarray(unwrap(weight)), None if bias is None else np.asarray(unwrap(bias))
    if padding_mode not in _MODES:
        raise ValueError(
            f"tconv.dask.{fn}: padding_mode must be one of {_MODES}, got {padding_mode!r}"
        )
    op = getattr(F, fn)
    k = tuple(w.shape[2:])
    s = _args.positive_ntuple(stride, n, "stride", fn)
    d = _args.positive_ntuple(dilation, n, "dilation", fn)
    # the op's own checks of weight, bias, groups and channels, on a kernel-sized input
    eff = tuple(di * (ki - 1) + 1 for di, ki in zip(d, k)) if w.ndim == n + 2 else (1,) * n
    dtype = op(np.zeros((1, x.shape[1], *eff), x.dtype), w, b, s, 0, d, groups).dtype
    g = shapes.conv_geometry(fn, x.shape[2:], k, s, padding, d, groups)  # sizes, checked
    gathers = []
    for i in range(n):
        lo = g.lo[i]
        smap = source_map(x.shape[2 + i], lo, g.hi[i], padding_mode)

        def gather(start: int, stop: int, smap: np.ndarray = smap, lo: int = lo) -> Any:
            return smap[start + lo : stop + lo], 0

        gathers.append(gather)
    local = partial(op, weight=w, bias=None, stride=s, padding=0, dilation=d, groups=groups)
    layer = Layer.conv(k, s, g.lo, d)
    return Stage(layer, tuple(g.out_size), tuple(gathers), local, w.shape[0], dtype, b, post)


def _conv_transpose(
    n: int,
    input: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    output_padding: Any,
    groups: int,
    dilation: Any,
    output_size: Any = None,
    padding_mode: str = "zeros",
) -> Any:
    fn = f"conv_transpose{n}d"
    x, unbatched = _dask_input(input, n + 2, fn, "(N, C_in, *spatial)")
    st = conv_transpose_stage(
        n, x, weight, bias, stride, padding, output_padding, groups, dilation, output_size,
        padding_mode,
    )  # fmt: skip
    y = chain(whole_channels(x, f"tconv.dask.{fn}"), [st], f"tconv-{fn}")
    return y[0] if unbatched else y


def conv_transpose_stage(
    n: int,
    x: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    output_padding: Any,
    groups: int,
    dilation: Any,
    output_size: Any = None,
    padding_mode: str = "zeros",
    post: Any = None,
) -> Stage:
    """The stage of ``conv_transpose{n}d`` on (a Dask array shaped like) ``x``, checked."""
    fn = f"conv_transpose{n}d"
    w, b = np.asarray(unwrap(weight)), None if bias is None else np.asarray(unwrap(bias))
    op = getattr(F, fn)
    k = tuple(w.shape[2:])
    s = _args.positive_ntuple(stride, n, "stride", fn)
    d = _args.positive_ntuple(dilation, n, "dilation", fn)
    dtype = op(np.zeros((1, x.shape[1], *(1,) * n), x.dtype), w, b, s, 0, 0, groups, d).dtype
    g = shapes.conv_transpose_geometry(
        fn,
        x.shape[2:],
        k,
        s,
        padding,
        output_padding,
        groups,
        d,
        output_size=output_size,
        padding_mode=padding_mode,
    )
    gathers = []
    for i in range(n):
        size, si = x.shape[2 + i], s[i]

        def gather(start: int, stop: int, size: int = size, si: int = si) -> Any:
            if padding_mode == "circular":
                # the circular fold is the transposed conv of the periodic extension
                return np.arange(start, stop) % size, 0
            # inputs outside the array land nothing: keep the ones inside, and move the
            # tile's origin by the stride for each one dropped in front
            lo, hi = min(max(start, 0), size), min(max(stop, 0), size)
            return np.arange(lo, max(hi, lo)), (lo - start) * si

        gathers.append(gather)
    local = partial(
        op, weight=w, bias=None, stride=s, padding=0, output_padding=0, groups=groups, dilation=d
    )
    layer = Layer.conv_transpose(k, s, g.lo, g.output_padding, d)
    channels = w.shape[1] * groups
    return Stage(layer, tuple(g.out_size), tuple(gathers), local, channels, dtype, b, post)


def conv1d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Any:
    """:func:`tconv.functional.conv1d` on a Dask array (N, C_in, L), chunked along N and L.

    Output (N, C_out, L_out), ``L_out = floor((L + 2p - d(k-1) - 1) / s) + 1``, lazy; its
    chunks are the images of the input's chunks, each computed from the chunk's input
    window (``W = w + s q`` inputs for ``q + 1`` outputs), padding at the true edges.

    >>> import dask.array as da
    >>> x = da.ones((1, 2, 10), chunks=(1, 2, 3))
    >>> y = conv1d(x, np.ones((1, 2, 3)), padding=1)
    >>> y.chunks, y.compute()[0, 0, :3]
    (((1,), (1,), (3, 3, 3, 1)), array([4., 6., 6.]))
    """
    return _conv(1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Any:
    """:func:`tconv.functional.conv2d` on a Dask array (N, C_in, H, W); see :func:`conv1d`.

    >>> import dask.array as da
    >>> conv2d(da.ones((2, 3, 8, 8), chunks=(1, 3, 4, 4)), np.ones((4, 3, 3, 3)),
    ...        stride=2, padding=1).shape
    (2, 4, 4, 4)
    """
    return _conv(2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Any:
    """:func:`tconv.functional.conv3d` on a Dask array (N, C_in, D, H, W); see :func:`conv1d`.

    >>> import dask.array as da
    >>> conv3d(da.ones((1, 1, 4, 4, 4), chunks=2), np.ones((1, 1, 3, 3, 3))).shape
    (1, 1, 2, 2, 2)
    """
    return _conv(3, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    *,
    output_size: Any = None,
    padding_mode: str = "zeros",
) -> Any:
    """:func:`tconv.functional.conv_transpose1d` on a Dask array (N, C_in, L).

    ``L_out = (L - 1) s - 2p + d(k-1) + a + 1``. An input chunk of ``c`` samples becomes
    ``s c`` outputs, cut where an output's centre input ``(o + p - d floor((k-1)/2)) / s``
    crosses the chunk's edge (the first and last chunks take the rest; k4 s2 p1 gives
    exactly ``2 c``); a tile reads the inputs whose taps reach its outputs. Padding (the crop,
    pairs and 'same' included) and output_padding act once, at the array's ends;
    ``padding_mode='circular'`` folds at the true ends (tiles wrap around the array).

    >>> import dask.array as da
    >>> x = da.ones((1, 1, 7), chunks=(1, 1, 3))
    >>> y = conv_transpose1d(x, np.ones((1, 1, 3)), stride=2)
    >>> y.chunks[2], y.compute()[0, 0]
    ((7, 6, 2), array([1., 1., 2., 1., 2., 1., 2., 1., 2., 1., 2., 1., 2., 1., 1.]))
    """
    return _conv_transpose(
        1,
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        output_size,
        padding_mode,
    )


def conv_transpose2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    *,
    output_size: Any = None,
    padding_mode: str = "zeros",
) -> Any:
    """:func:`tconv.functional.conv_transpose2d` on a Dask array (N, C_in, H, W); see
    :func:`conv_transpose1d`.

    >>> import dask.array as da
    >>> y = conv_transpose2d(da.ones((1, 4, 16, 16), chunks=(1, 4, 5, 8)),
    ...                      np.ones((4, 2, 4, 4)), stride=2, padding=1)
    >>> y.shape, y.chunks[2:]
    ((1, 2, 32, 32), ((10, 10, 10, 2), (16, 16)))
    """
    return _conv_transpose(
        2,
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        output_size,
        padding_mode,
    )


def conv_transpose3d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    *,
    output_size: Any = None,
    padding_mode: str = "zeros",
) -> Any:
    """:func:`tconv.functional.conv_transpose3d` on a Dask array (N, C_in, D, H, W); see
    :func:`conv_transpose1d`.

    >>> import dask.array as da
    >>> conv_transpose3d(da.ones((1, 1, 3, 3, 3), chunks=2), np.ones((1, 1, 2, 2, 2)),
    ...                  stride=2).shape
    (1, 1, 6, 6, 6)
    """
    return _conv_transpose(
        3,
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        output_size,
        padding_mode,
    )


_LINEAR = {"linear": 1, "bilinear": 2, "trilinear": 3}


def _factors(x: Any, n: int, size: Any, scale_factor: Any, fn: str) -> tuple[int, ...]:
    """The integer up-scaling factor per spatial dim, from ``scale_factor`` or ``size``."""
    if size is not None and scale_factor is not None:
        raise ValueError(f"tconv.dask.{fn}: give size or scale_factor, not both")
    if size is not None:
        sz = _args.ntuple(size, n, "size", fn)
        bad = [(o, L) for o, L in zip(sz, x.shape[2:]) if o % L]
        if bad:
            raise ValueError(
                f"tconv.dask.{fn}: size must be an integer multiple of the input size per "
                f"dim (tiles need a fixed factor), got size={sz} for input {x.shape[2:]}"
            )
        return tuple(o // L for o, L in zip(sz, x.shape[2:]))
    if scale_factor is None:
        raise ValueError(f"tconv.dask.{fn}: give size or scale_factor")
    sf = _args.ntuple(scale_factor, n, "scale_factor", fn, of=float)
    if not all(v >= 1 and float(v).is_integer() for v in sf):
        raise ValueError(
            f"tconv.dask.{fn}: scale_factor must be a whole number >= 1 per dim (a tile "
            f"needs the same phases everywhere), got scale_factor={scale_factor!r}"
        )
    return tuple(int(v) for v in sf)


def interpolate(
    input: Any,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Any:
    """:func:`tconv.functional.interpolate` on a Dask array (N, C, *spatial), for the modes
    whose taps move with the output: ``nearest``, and ``linear``/``bilinear``/
    ``trilinear`` with ``align_corners=False``, by whole factors ``r`` (``scale_factor``,
    or a ``size`` that is a multiple of the input's). Output ``r L`` per dim; an input
    chunk of ``c`` becomes ``r c`` outputs.

    >>> import dask.array as da
    >>> x = da.from_array(np.arange(6.0).reshape(1, 1, 6), chunks=(1, 1, 2))
    >>> interpolate(x, scale_factor=2, mode="linear").compute()[0, 0, :6]
    array([0.  , 0.25, 0.75, 1.25, 1.75, 2.25])
    """
    fn = "interpolate"
    da = dask_array()
    if not isinstance(input, da.Array) or input.ndim not in (3, 4, 5):
        _dask_input(input, 3, fn, "(N, C, *spatial) with 1 to 3 spatial dims")
        raise ValueError(
            f"tconv.dask.{fn}: input must be 3-D, 4-D or 5-D (N, C, *spatial), got "
            f"{input.ndim}-D input of shape {input.shape}"
        )
    x = input
    n = x.ndim - 2
    if mode not in ("nearest", *_LINEAR):
        raise ValueError(
            f"tconv.dask.{fn}: mode must be nearest, linear, bilinear or trilinear (the "
            f"modes that tile exactly), got mode={mode!r}"
        )
    if align_corners or antialias:
        raise ValueError(
            f"tconv.dask.{fn}: align_corners=True and antialias=True are not "
            "translation-consistent (taps depend on the whole size): they cannot be tiled, "
            "got " + ("align_corners=True" if align_corners else "antialias=True")
        )
    r = _factors(x, n, size, scale_factor, fn)
    st = interpolate_stage(x, r, mode)
    return chain(whole_channels(x, f"tconv.dask.{fn}"), [st], "tconv-interpolate")


def interpolate_stage(x: Any, r: tuple[int, ...], mode: str, post: Any = None) -> Stage:
    """The stage of an up-sampling by whole factors ``r`` (nearest or the linear family,
    ``align_corners=False``) on (a Dask array shaped like) ``x``."""
    n = x.ndim - 2
    # the op's own checks (mode against rank, dtype) on a one-sample input
    dtype = F.interpolate(
        np.zeros((1, 1) + (1,) * n, x.dtype), scale_factor=tuple(map(float, r)), mode=mode
    ).dtype
    gathers = []
    for i in range(n):
        L, ri = x.shape[2 + i], r[i]

        def gather(start: int, stop: int, L: int = L, ri: int = ri) -> Any:
            # linear clamps at the true edges: a tile that holds them clamps the same way
            lo, hi = max(start, 0), min(stop, L)
            return np.arange(lo, hi), (lo - start) * ri

        gathers.append(gather)
    local = partial(F.interpolate, scale_factor=tuple(map(float, r)), mode=mode)
    layer = Layer.upsample(r, "linear" if mode in _LINEAR else "nearest")
    out = tuple(L * ri for L, ri in zip(x.shape[2:], r))
    return Stage(layer, out, tuple(gathers), local, x.shape[1], dtype, None, post)


def _shuffle(input: Any, factor: Any, up: bool) -> Any:
    fn = "pixel_shuffle" if up else "pixel_unshuffle"
    x, unbatched = _dask_input(input, 4, fn, "(N, C, H, W)")
    st = shuffle_stage(x, factor, up)
    y = chain(whole_channels(x, f"tconv.dask.{fn}"), [st], f"tconv-{fn}")
    return y[0] if unbatched else y


def shuffle_stage(x: Any, factor: Any, up: bool, post: Any = None) -> Stage:
    """The stage of ``pixel_shuffle`` (``up``) or ``pixel_unshuffle`` on (a Dask array
    shaped like) ``x``, checked."""
    fn = "pixel_shuffle" if up else "pixel_unshuffle"
    name = "upscale_factor" if up else "downscale_factor"
    r = _args.positive_int(factor, name, fn)
    op = getattr(F, fn)
    probe = (1, x.shape[1], 1, 1) if up else (1, x.shape[1], r, r)
    dtype = op(np.zeros(probe, x.dtype), r).dtype  # the op's channel check
    if not up and any(L % r for L in x.shape[2:]):
        raise ValueError(
            f"tconv.dask.{fn}: height and width must be divisible by downscale_factor={r}, "
            f"got input of shape {x.shape}"
        )

    def gather(start: int, stop: int) -> Any:
        return np.arange(start, stop), 0

    layer = Layer.pixel_shuffle(r) if up else Layer.pixel_unshuffle(r)
    out = tuple(L * r if up else L // r for L in x.shape[2:])
    channels = x.shape[1] // (r * r) if up else x.shape[1] * r * r
    return Stage(
        layer, out, (gather, gather), partial(op, **{name: r}), channels, dtype, None, post
    )


def pixel_shuffle(input: Any, upscale_factor: int) -> Any:
    """:func:`tconv.functional.pixel_shuffle` on a Dask array (N, C r^2, H, W) ->
    (N, C, H r, W r); an input chunk of ``c`` rows becomes ``r c`` rows.

    >>> import dask.array as da
    >>> pixel_shuffle(da.ones((1, 8, 3, 5), chunks=(1, 8, 2, 2)), 2).chunks[2:]
    ((4, 2), (4, 4, 2))
    """
    return _shuffle(input, upscale_factor, True)


def pixel_unshuffle(input: Any, downscale_factor: int) -> Any:
    """:func:`tconv.functional.pixel_unshuffle` on a Dask array (N, C, H r, W r) ->
    (N, C r^2, H, W); a chunk boundary inside a block of ``r`` rounds up.

    >>> import dask.array as da
    >>> pixel_unshuffle(da.ones((1, 1, 6, 4), chunks=(1, 1, 3, 4)), 2).chunks[2:]
    ((2, 1), (2,))
    """
    return _shuffle(input, downscale_factor, False)
