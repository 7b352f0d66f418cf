"""Shape layers and Dropout: ``Flatten``, ``Unflatten``, ``Dropout``, as PyTorch's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _args
from ..autograd import Tensor, record, unwrap
from . import init
from .module import Module

__all__ = ["Dropout", "Flatten", "Unflatten"]


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


def copy_of(input: Any) -> Any:
    """The identity that never aliases: a copy of an array (or array-like), or a new
    Tensor holding a copy of a Tensor's data, recorded with the identity gradient."""
    if isinstance(input, Tensor):
        return record(input.data.copy(), (input,), lambda g: (g,))
    return np.array(input, copy=True)


class Flatten(Module):
    """Merge dims ``start_dim..end_dim`` (default: all but the batch dim).

    >>> Flatten()(np.zeros((2, 3, 4))).shape
    (2, 12)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Any) -> Any:
        return _args.owned(_t(input).flatten(self.start_dim, self.end_dim), input)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``.

    >>> Unflatten(1, (3, 4))(np.zeros((2, 12))).shape
    (2, 3, 4)
    """

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input: Any) -> Any:
        x = _t(input)
        d = self.dim % x.ndim
        if np.prod(self.unflattened_size) != x.shape[d] and -1 not in self.unflattened_size:
            raise ValueError(
                f"Unflatten: unflattened_size {self.unflattened_size} must multiply to the size "
                f"of dim {self.dim}, which is {x.shape[d]}"
            )
        return _args.owned(x.reshape(x.shape[:d] + self.unflattened_size + x.shape[d + 1 :]), input)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Dropout(Module):
    """In training, zero each element with probability ``p`` and scale the rest by
    ``1 / (1 - p)``; the identity in eval mode (and for ``p = 0``), returning a copy: a
    result never aliases its input. Draws from :mod:`tconv.nn.init`'s generator.

    >>> Dropout(0.5).eval()(np.ones(3))
    array([1., 1., 1.])
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got p={p}")
        self.p, self.inplace = p, inplace

    def forward(self, input: Any) -> Any:
        if not self.training or self.p == 0:
            return copy_of(input)
        x = unwrap(input)
        keep = init.get_generator().random(x.shape) >= self.p
        scale = np.asarray(0.0 if self.p == 1 else 1 / (1 - self.p), dtype=x.dtype)
        mask = keep * scale
        y = x * mask
        return record(y, (input,), lambda g: (g * mask,)) if isinstance(input, Tensor) else y

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
