"""The array ops of the autograd that are not Tensor methods: joining and padding.

Each takes arrays or :class:`~tconv.autograd.Tensor` s (arrays in give arrays out)
and records its VJP next to its forward, as the ops in :mod:`.tensor` do.

>>> from tconv.autograd import tensor
>>> a = tensor([[1.0, 2.0]], requires_grad=True)
>>> y = concatenate([a, a * 3], axis=1)
>>> y.sum().backward()
>>> a.grad
array([[4., 4.]])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .engine import Tensor, any_tensor, record, unwrap

__all__ = ["cat", "concatenate", "pad", "stack"]


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Any:
    """Join along an existing axis; the gradient is split back."""
    arrays = [unwrap(t) for t in tensors]
    try:
        out = np.concatenate(arrays, axis=axis)
    except ValueError as exc:
        raise ValueError(
            f"concatenate: shapes {[a.shape for a in arrays]} do not match off axis {axis}: {exc}"
        ) from None
    if not any_tensor(*tensors):
        return out
    bounds = np.cumsum([a.shape[axis] for a in arrays])[:-1]
    return record(out, tuple(tensors), lambda g: tuple(np.split(g, bounds, axis=axis)))


cat = concatenate


def stack(tensors: Sequence[Any], axis: int = 0) -> Any:
    """Join along a new axis."""
    arrays = [unwrap(t) for t in tensors]
    if len({a.shape for a in arrays}) > 1:
        raise ValueError(f"stack: all shapes must be equal, got {[a.shape for a in arrays]}")
    out = np.stack(arrays, axis=axis)
    if not any_tensor(*tensors):
        return out
    return record(
        out, tuple(tensors), lambda g: tuple(np.moveaxis(g, axis, 0)[i] for i in range(len(arrays)))
    )


def pad(input: Any, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Any:
    """Pad the last ``len(pad) // 2`` dims, as ``torch.nn.functional.pad``.

    ``pad = (left_last, right_last, left_2nd_last, right_2nd_last, ...)``; modes
    ``'constant'``, ``'reflect'``, ``'replicate'``, ``'circular'``. The gradient
    adds each padded position back onto the input position it copies.

    >>> pad(np.array([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect")
    array([[3., 2., 1., 2., 3., 2.]])
    """
    x = unwrap(input)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: needs pairs for at most {x.ndim} dims, got pad={tuple(pad)}")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise ValueError(
            f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}"
        )
    index: list[tuple[int, np.ndarray]] = []  # (axis, source index per padded position)
    for i in range(len(pad) // 2):
        ax, lo, hi = x.ndim - 1 - i, int(pad[2 * i]), int(pad[2 * i + 1])
        n = x.shape[ax]
        if min(lo, hi) < 0:
            raise ValueError(f"pad: negative padding is not supported, got pad={tuple(pad)}")
        if mode == "reflect" and max(lo, hi) >= n:
            raise ValueError(f"pad: reflect padding {max(lo, hi)} must be < the dim size {n}")
        if mode == "circular" and max(lo, hi) > n:
            raise ValueError(f"pad: circular padding {max(lo, hi)} must be <= the dim size {n}")
        j = np.arange(-lo, n + hi)
        if mode == "reflect":
            j = np.abs(j)
            j = np.where(j >= n, 2 * (n - 1) - j, j)
        elif mode == "replicate":
            j = np.clip(j, 0, n - 1)
        elif mode == "circular":
            j = j % n
        index.append((ax, j))
    if mode == "constant":
        width = [(0, 0)] * x.ndim
        for ax, j in index:
            width[ax] = (int(-j[0]), int(j[-1] - x.shape[ax] + 1))
        out = np.pad(x, width, constant_values=value)
        crop = tuple(slice(a, a + n) for (a, _), n in zip(width, x.shape, strict=False))
        return record(out, (input,), lambda g: (g[crop],)) if isinstance(input, Tensor) else out
    out = x
    for ax, j in index:
        out = np.take(out, j, axis=ax)

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        for ax, j in reversed(index):
            shape = list(g.shape)
            shape[ax] = x.shape[ax]
            gx = np.zeros(shape, dtype=g.dtype)
            np.add.at(gx, (slice(None),) * ax + (j,), g)
            g = gx
        return (g,)

    return record(out, (input,), vjp) if isinstance(input, Tensor) else out
