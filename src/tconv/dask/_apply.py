"""``apply(module, x)``: a fully convolutional ``tconv.nn`` module, tile by tile.

The module is walked into its layers (Sequential, ResizeConv, SubPixelConv2d open up);
each layer becomes one tiled op whose tiles are the input windows of its output blocks
(``tconv.shapes.input_window``), padding in its own mode at that layer's true edges.
Point-wise layers (activations, BatchNorm and Dropout in eval) run block by block.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import numpy as np

from .. import nn
from ..autograd.engine import unwrap
from . import _ops
from ._tiles import dask_array

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


def _layer(m: Any, x: Any, post: Any = None) -> Any:
    """``m`` on ``x``; ``post`` (point-wise layers after a convolution) in the same tasks."""
    if isinstance(m, nn.conv._ConvTranspose):
        b = None if m.bias is None else m.bias.data
        return _ops._conv_transpose(
            m._n, x, m.weight.data, b, m.stride, m.padding, m.output_padding, m.groups,
            m.dilation, padding_mode=m.padding_mode, post=post,
        )  # fmt: skip
    if isinstance(m, nn.conv._Conv):
        b = None if m.bias is None else m.bias.data
        return _ops._conv(
            m._n, x, m.weight.data, b, m.stride, m.padding, m.dilation, m.groups,
            m.padding_mode, post=post,
        )  # fmt: skip
    if isinstance(m, nn.Upsample):
        if m.align_corners:
            raise _refuse(m, "align_corners=True moves every tap with the array's size")
        if m.mode not in ("nearest", *_LINEAR.values()):
            raise _refuse(m, f"mode={m.mode!r} is not tiled (nearest and the linear family are)")
        return _ops.interpolate(x, m.size, m.scale_factor, m.mode)
    if isinstance(m, nn.PixelShuffle):
        return _ops.pixel_shuffle(x, m.upscale_factor)
    if isinstance(m, nn.PixelUnshuffle):
        return _ops.pixel_unshuffle(x, m.downscale_factor)
    if not _is_pointwise(m):
        raise _refuse(
            m,
            "it is not translation-consistent (its output at a point depends on "
            "more than a fixed window around it), or not a layer tconv.dask knows",
        )
    if x.ndim > 2 and len(x.chunks[1]) > 1:
        x = x.rechunk({1: -1})  # BatchNorm and friends act per channel: whole channels
    probe = _pointwise(np.zeros((1,) + x.shape[1:2] + (1,) * (x.ndim - 2), x.dtype), m)
    return x.map_blocks(_pointwise, m, dtype=probe.dtype, meta=np.empty((0,) * x.ndim, probe.dtype))


def _fusable(conv: Any, after: list[Any]) -> tuple[Any, ...]:
    """The point-wise layers right after a convolution: they run in its tasks (fewer
    tasks, no intermediate block held in memory)."""
    if not isinstance(conv, (nn.conv._Conv, nn.conv._ConvTranspose)):
        return ()
    run: list[Any] = []
    for m in after:
        if not _is_pointwise(m):
            break
        run.append(m)
    return tuple(run)


def apply(module: Any, x: Any) -> Any:
    """Run a fully convolutional ``tconv.nn`` module on a Dask array, tile by tile.

    ``x`` is (N, C, *spatial), chunked along N and the spatial dims; the result is the
    lazy Dask array equal to ``module(x)`` to rounding, each layer's chunks the images
    of its input's chunks. Each layer's tiles hold the input windows of their output
    blocks (:func:`tconv.shapes.input_window`); every ``padding_mode`` acts at the
    array's true edges only. A layer whose output is not a fixed window of its input
    (Linear, ``align_corners=True``, adaptive pooling, BatchNorm in training, ...) is
    refused by name.

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
    i = 0
    while i < len(leaves):
        m = leaves[i]
        run = _fusable(m, leaves[i + 1 :])
        x = _layer(m, x, partial(_chain, modules=run) if run else None)
        i += 1 + len(run)
    return x
