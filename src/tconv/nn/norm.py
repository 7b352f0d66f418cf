"""``BatchNorm1d`` and ``BatchNorm2d``, as PyTorch's: batch statistics in training
(biased variance to normalise, unbiased to update the running variance),
running statistics in eval mode. The gradient comes from the tape (the
normalisation is written with recorded ops)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _args
from ..autograd import Tensor
from .conv import _dtype
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "batch_norm"]


def batch_norm(
    input: Any,
    running_mean: np.ndarray | None,
    running_var: np.ndarray | None,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """As ``torch.nn.functional.batch_norm``: normalise over all dims but dim 1.

    In training the running statistics (ndarrays) are updated in place.

    >>> y = batch_norm(np.array([[1.0], [3.0]]), None, None, training=True)
    >>> np.round(y.data, 3)
    array([[-1.],
           [ 1.]])
    """
    x = input if isinstance(input, Tensor) else Tensor(np.asarray(input))
    axes = (0, *range(2, x.ndim))
    shape = [1] * x.ndim
    shape[1] = x.shape[1]
    if training:
        count = x.numel() // x.shape[1]
        if count <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, "
                f"got input of shape {x.shape}"
            )
        mean = x.mean(axis=axes, keepdims=True)
        centred = x - mean
        var = (centred * centred).mean(axis=axes, keepdims=True)
        if running_mean is not None and running_var is not None:
            m = momentum
            running_mean[...] = (1 - m) * running_mean + m * mean.data.reshape(-1)
            running_var[...] = (1 - m) * running_var + m * var.data.reshape(-1) * count / (
                count - 1
            )
        y = centred / (var + eps).sqrt()
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: eval mode needs running_mean and running_var")
        y = (x - running_mean.reshape(shape)) / np.sqrt(running_var.reshape(shape) + eps)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


class _BatchNorm(Module):
    _dims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        dt = _dtype(dtype, device, name)
        self.num_features = _args.positive_int(num_features, "num_features", name)
        self.eps, self.momentum = eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dt))
            if bias:
                self.bias = Parameter(np.zeros(num_features, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dt))
            self.register_buffer("running_var", np.ones(num_features, dtype=dt))
            self.register_buffer("num_batches_tracked", np.zeros((), dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def forward(self, input: Any) -> Any:
        name = type(self).__name__
        shape = np.shape(input.data if isinstance(input, Tensor) else input)
        if len(shape) not in self._dims:
            raise ValueError(
                f"{name}: expected {' or '.join(f'{d}-D' for d in self._dims)} input, "
                f"got {len(shape)}-D input of shape {shape}"
            )
        if shape[1] != self.num_features:
            raise ValueError(
                f"{name}: expected {self.num_features} channels (dim 1), got input of shape {shape}"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked)
        use_batch = self.training or not self.track_running_stats
        track = not self.training or self.track_running_stats
        return batch_norm(
            input,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input.

    >>> BatchNorm1d(4)
    BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    """

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input.

    >>> sorted(BatchNorm2d(3).state_dict())
    ['bias', 'num_batches_tracked', 'running_mean', 'running_var', 'weight']
    """

    _dims = (4,)
