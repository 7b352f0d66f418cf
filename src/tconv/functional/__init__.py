"""PyTorch-compatible functional ops on NumPy arrays, one file per family.

Names, signatures and argument order follow ``torch.nn.functional``. Each family's
arguments are checked once, and its forward and VJP stand side by side; the kernels
in :mod:`tconv.kernels` do the arithmetic.

Shapes, per spatial dim (k kernel size, s stride, p padding, d dilation,
a output_padding; see :mod:`tconv.shapes`)::

    conv:            L_out = floor((L_in + 2p - d(k-1) - 1) / s) + 1
    conv_transpose:  L_out = (L_in - 1) s - 2p + d(k-1) + a + 1
"""

from __future__ import annotations

from ..autograd import pad
from .activation import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    gelu,
    l1_loss,
    leaky_relu,
    linear,
    log_softmax,
    mse_loss,
    relu,
    sigmoid,
    softmax,
    softplus,
    tanh,
)
from .conv import (
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
)
from .pooling import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    adaptive_max_pool3d,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    max_pool1d,
    max_pool2d,
    max_pool3d,
)
from .upsampling import interpolate, pixel_shuffle, pixel_unshuffle

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "cross_entropy",
    "gelu",
    "interpolate",
    "l1_loss",
    "leaky_relu",
    "linear",
    "log_softmax",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "mse_loss",
    "pad",
    "pixel_shuffle",
    "pixel_unshuffle",
    "relu",
    "sigmoid",
    "softmax",
    "softplus",
    "tanh",
]
