"""``apply(module, x)``: a fully convolutional ``tconv.nn`` module, tile by tile.

The module is walked into its layers (Sequential, ResizeConv, SubPixelConv2d open up);
each layer becomes a stage, and the stages run fused (:func:`tconv.dask._tiles.chain`):
one task per output block, whose tile is the input window of the whole chain
(``tconv.shapes.input_windows``), every layer padding in its own mode at its true edges.
Point-wise layers (activations, BatchNorm and Dropout in eval) run inside the stage
before them. A circular layer starts a new chain: its padding reads the far side.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any, NamedTuple

import numpy as np

from .. import nn
from ..autograd.engine import unwrap
from . import _ops
from ._tiles import chain, dask_array, whole_channels

__all__ = ["apply"]

_POINTWISE = (
    nn.Identity,
    nn.ReLU,
    nn.LeakyReLU,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softplus,
    nn.GELU,
)
_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}


def _leaves(module: Any) -> Iterator[Any]:
    """The layers of ``module`` in the order its forward runs them."""
    if isinstance(module, nn.Sequential):
        for m in module:
            yield from _leaves(m)
    elif isinstance(module, nn.upsample._ResizeConvNd):
        yield module.upsample
        yield module.conv
    elif isinstance(module, nn.SubPixelConv2d):
        yield module.conv
        yield module.shuffle
    else:
        yield module


def _refuse(module: Any, why: str) -> ValueError:
    return ValueError(
        f"tconv.dask.apply: {type(module).__name__} cannot be tiled: {why}. Supported: "
        "Conv/ConvTranspose 1-3d, Upsample (nearest, linear family, whole scale factors, "
        "align_corners=False), PixelShuffle/Unshuffle, ResizeConv, SubPixelConv2d, "
        "point-wise activations, BatchNorm and Dropout in eval mode, Sequential"
    )


def _pointwise(block: np.ndarray, module: Any) -> np.ndarray:
    return np.asarray(unwrap(module(block)))


def _chain(block: np.ndarray, modules: tuple[Any, ...]) -> np.ndarray:
    for m in modules:
        block = _pointwise(block, m)
    return block


def _is_pointwise(m: Any) -> bool:
    """Whether ``m`` acts point by point (refusing BatchNorm and Dropout in training)."""
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        if m.training:
            raise _refuse(
                m, "in training mode it normalises with the batch's statistics (call module.eval())"
            )
        return True
    if isinstance(m, nn.Dropout):
        if m.training and m.p > 0:
            raise _refuse(m, "in training mode it drops random elements (call module.eval())")
        return True
    return isinstance(m, _POINTWISE)


class _Like(NamedTuple):
    """The shape and dtype of an intermediate: what a stage is built from."""

    shape: tuple[int, ...]
    dtype: np.dtype
    ndim: int


def _stage(m: Any, x: Any, post: Any) -> Any:
    """The stage of ``m`` on inputs shaped like ``x``; ``post`` runs in its tasks."""
    if isinstance(m, nn.conv._ConvTranspose):
        b = None if m.bias is None else m.bias.data
        return _ops.conv_transpose_stage(
            m._n, x, m.weight.data, b, m.stride, m.padding, m.output_padding, m.groups,
            m.dilation, padding_mode=m.padding_mode, post=post,
        )  # fmt: skip
    if isinstance(m, nn.conv._Conv):
        b = None if m.bias is None else m.bias.data
        return _ops.conv_stage(
            m._n, x, m.weight.data, b, m.stride, m.padding, m.dilation, m.groups,
            m.padding_mode, post=post,
        )  # fmt: skip
    if isinstance(m, nn.Upsample):
        if m.align_corners:
            raise _refuse(m, "align_corners=True moves every tap with the array's size")
        if m.mode not in ("nearest", *_LINEAR.values()):
            raise _refuse(m, f"mode={m.mode!r} is not tiled (nearest and the linear family are)")
        r = _ops._factors(x, x.ndim - 2, m.size, m.scale_factor, "interpolate")
        return _ops.interpolate_stage(x, r, m.mode, post=post)
    if isinstance(m, nn.PixelShuffle):
        return _ops.shuffle_stage(x, m.upscale_factor, True, post=post)
    if isinstance(m, nn.PixelUnshuffle):
        return _ops.shuffle_stage(x, m.downscale_factor, False, post=post)
    raise _refuse(
        m,
        "it is not translation-consistent (its output at a point depends on "
        "more than a fixed window around it), or not a layer tconv.dask knows",
    )


def _pointwise_blocks(x: Any, run: tuple[Any, ...]) -> Any:
    """Point-wise layers with no layer before them: block by block."""
    x = whole_channels(x, "tconv.dask.apply")  # BatchNorm and friends act per channel
    probe = _chain(np.zeros((1,) + x.shape[1:2] + (1,) * (x.ndim - 2), x.dtype), run)
    return x.map_blocks(
        _chain, modules=run, dtype=probe.dtype, meta=np.empty((0,) * x.ndim, probe.dtype)
    )


def _circular(m: Any) -> bool:
    return getattr(m, "padding_mode", "zeros") == "circular"


def _pointwise_run(leaves: list[Any]) -> tuple[Any, ...]:
    """The point-wise layers at the start of ``leaves``."""
    run: list[Any] = []
    for m in leaves:
        if not _is_pointwise(m):
            break
        run.append(m)
    return tuple(run)


def apply(module: Any, x: Any) -> Any:
    """Run a fully convolutional ``tconv.nn`` module on a Dask array, tile by tile.

    ``x`` is (N, C, *spatial), chunked along N and the spatial dims; the result is the
    lazy Dask array equal to ``module(x)`` to rounding, its chunks the images of the
    input's chunks. The layers run fused: one task per output block, whose tile is the
    input window of the whole chain (:func:`tconv.shapes.input_windows`), so no
    intermediate array is stored or moved between workers; every ``padding_mode`` acts at
    each layer's true edges only (a circular layer starts a new chain). A layer whose
    output is not a fixed window of its input (Linear, ``align_corners=True``, adaptive
    pooling, BatchNorm in training, ...) is refused by name.

    >>> import dask.array as da
    >>> from tconv import nn
    >>> net = nn.Sequential(nn.ConvTranspose2d(3, 4, 4, stride=2, padding=1), nn.ReLU(),
    ...                     nn.Conv2d(4, 2, 3, padding=1, padding_mode="reflect"))
    >>> x = np.random.default_rng(0).standard_normal((1, 3, 10, 12))
    >>> y = apply(net, da.from_array(x, chunks=(1, 3, 4, 5)))
    >>> y.shape, bool(np.abs(y.compute() - net(x).data).max() < 1e-5)
    ((1, 2, 20, 24), True)
    """
    da = dask_array()
    if not isinstance(x, da.Array):
        raise TypeError(
            f"tconv.dask.apply: x must be a dask.array.Array, got {type(x).__name__}; wrap a "
            "NumPy array with dask.array.from_array(x, chunks=...)"
        )
    if not isinstance(module, nn.Module):
        raise TypeError(f"tconv.dask.apply: module must be a tconv.nn.Module, got {module!r}")
    leaves = list(_leaves(module))
    lead = _pointwise_run(leaves)
    if lead:
        x = _pointwise_blocks(x, lead)
    i = len(lead)
    while i < len(leaves):  # one fused chain per run of layers up to a circular one
        like = _Like(tuple(x.shape), x.dtype, x.ndim)
        stages: list[Any] = []
        while i < len(leaves) and not (stages and _circular(leaves[i])):
            run = _pointwise_run(leaves[i + 1 :])
            st = _stage(leaves[i], like, partial(_chain, modules=run) if run else None)
            stages.append(st)
            like = _Like((like.shape[0], st.channels, *st.out_size), st.out_dtype(), like.ndim)
            i += 1 + len(run)
        x = chain(whole_channels(x, "tconv.dask.apply"), stages, "tconv-apply")
    return x
