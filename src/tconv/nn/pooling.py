"""Pooling layers, as PyTorch's: same constructors, attributes and ``repr``.

See :mod:`tconv.functional.pooling` for the shape formulas and the semantics (padding,
``ceil_mode``, ties in max pooling). None of these layers has parameters.
"""

from __future__ import annotations

from typing import Any

import numpy as np  # noqa: F401  (the doctests use it)

from ..functional import pooling as P
from .module import Module

__all__ = [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AdaptiveMaxPool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
]


def _single(v: Any) -> Any:
    return tuple(v) if isinstance(v, (list, tuple)) else (v,)


class _WindowPoolNd(Module):
    """What the windowed pools share; ``stride`` defaults to ``kernel_size``, as PyTorch."""

    _fn: Any

    def __init__(self, kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AvgPoolNd(_WindowPoolNd):
    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Any) -> Any:
        # divisor_override only where set: avg_pool1d, as PyTorch's, takes none.
        more = () if self.divisor_override is None else (self.divisor_override,)
        return type(self)._fn(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            *more,
        )


class AvgPool1d(_AvgPoolNd):
    """Average pooling over L, as ``torch.nn.AvgPool1d`` (see
    :func:`tconv.functional.pooling.avg_pool1d`).

    (N, C, L) or (C, L) -> (N, C, floor((L + 2 padding - kernel_size) / stride) + 1).

    >>> AvgPool1d(2)
    AvgPool1d(kernel_size=(2,), stride=(2,), padding=(0,))
    >>> AvgPool1d(2)(np.zeros((1, 3, 8))).shape
    (1, 3, 4)
    """

    _fn = staticmethod(P.avg_pool1d)

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        # PyTorch's AvgPool1d keeps its sizes as 1-tuples and takes no divisor_override.
        single_stride = None if stride is None else _single(stride)
        super().__init__(
            _single(kernel_size), single_stride, _single(padding), ceil_mode, count_include_pad
        )


class AvgPool2d(_AvgPoolNd):
    """Average pooling over H, W, as ``torch.nn.AvgPool2d`` (see
    :func:`tconv.functional.pooling.avg_pool2d`).

    (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out), per dim
    ``out = floor((in + 2 padding - kernel_size) / stride) + 1``.

    >>> AvgPool2d(2)
    AvgPool2d(kernel_size=2, stride=2, padding=0)
    >>> AvgPool2d(3, stride=1, padding=1)(np.zeros((1, 3, 8, 8))).shape
    (1, 3, 8, 8)
    """

    _fn = staticmethod(P.avg_pool2d)


class AvgPool3d(_AvgPoolNd):
    """Average pooling over D, H, W, as ``torch.nn.AvgPool3d`` (see
    :func:`tconv.functional.pooling.avg_pool3d`).

    (N, C, D, H, W) or (C, D, H, W) -> (N, C, D_out, H_out, W_out), per dim
    ``out = floor((in + 2 padding - kernel_size) / stride) + 1``.

    >>> AvgPool3d(2)(np.zeros((1, 3, 4, 4, 4))).shape
    (1, 3, 2, 2, 2)
    """

    _fn = staticmethod(P.avg_pool3d)


class _MaxPoolNd(_WindowPoolNd):
    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.dilation = dilation
        self.return_indices = return_indices

    def forward(self, input: Any) -> Any:
        return type(self)._fn(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
            return_indices=self.return_indices,
        )

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, dilation={self.dilation}, ceil_mode={self.ceil_mode}"


class MaxPool1d(_MaxPoolNd):
    """Max pooling over L, as ``torch.nn.MaxPool1d`` (see
    :func:`tconv.functional.pooling.max_pool1d`).

    (N, C, L) or (C, L) -> (N, C, L_out),
    ``L_out = floor((L + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1``.

    >>> MaxPool1d(2)
    MaxPool1d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
    >>> MaxPool1d(3, stride=2, padding=1)(np.zeros((2, 7))).shape
    (2, 4)
    """

    _fn = staticmethod(P.max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """Max pooling over H, W, as ``torch.nn.MaxPool2d`` (see
    :func:`tconv.functional.pooling.max_pool2d`).

    (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out), per dim
    ``out = floor((in + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1``.

    >>> MaxPool2d(2)(np.zeros((1, 3, 8, 6))).shape
    (1, 3, 4, 3)
    """

    _fn = staticmethod(P.max_pool2d)


class MaxPool3d(_MaxPoolNd):
    """Max pooling over D, H, W, as ``torch.nn.MaxPool3d`` (see
    :func:`tconv.functional.pooling.max_pool3d`).

    (N, C, D, H, W) or (C, D, H, W) -> (N, C, D_out, H_out, W_out), per dim
    ``out = floor((in + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1``.

    >>> MaxPool3d(2, ceil_mode=True)(np.zeros((1, 5, 5, 5))).shape
    (1, 3, 3, 3)
    """

    _fn = staticmethod(P.max_pool3d)


class _AdaptivePoolNd(Module):
    _fn: Any

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Any) -> Any:
        return type(self)._fn(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    """Adaptive average pooling to ``output_size`` samples, as ``torch.nn.AdaptiveAvgPool1d``.

    (N, C, L) or (C, L) -> (N, C, output_size); window ``i`` covers
    ``[floor(i L / out), ceil((i + 1) L / out))``.

    >>> AdaptiveAvgPool1d(3)
    AdaptiveAvgPool1d(output_size=3)
    >>> AdaptiveAvgPool1d(3)(np.zeros((1, 2, 10))).shape
    (1, 2, 3)
    """

    _fn = staticmethod(P.adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    """Adaptive average pooling to ``output_size`` (H_out, W_out), as
    ``torch.nn.AdaptiveAvgPool2d``; ``AdaptiveAvgPool2d(1)`` is global average pooling.

    (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out) (None keeps the input size).

    >>> AdaptiveAvgPool2d((1, None))
    AdaptiveAvgPool2d(output_size=(1, None))
    >>> AdaptiveAvgPool2d(1)(np.zeros((2, 3, 7, 5))).shape
    (2, 3, 1, 1)
    """

    _fn = staticmethod(P.adaptive_avg_pool2d)


class AdaptiveAvgPool3d(_AdaptivePoolNd):
    """Adaptive average pooling to ``output_size`` (D_out, H_out, W_out), as
    ``torch.nn.AdaptiveAvgPool3d``.

    (N, C, D, H, W) or (C, D, H, W) -> (N, C, D_out, H_out, W_out).

    >>> AdaptiveAvgPool3d(2)(np.zeros((1, 3, 5, 5, 5))).shape
    (1, 3, 2, 2, 2)
    """

    _fn = staticmethod(P.adaptive_avg_pool3d)


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Any) -> Any:
        return type(self)._fn(input, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Adaptive max pooling to ``output_size`` samples, as ``torch.nn.AdaptiveMaxPool1d``.

    (N, C, L) or (C, L) -> (N, C, output_size).

    >>> AdaptiveMaxPool1d(2)(np.zeros((1, 2, 5))).shape
    (1, 2, 2)
    """

    _fn = staticmethod(P.adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Adaptive max pooling to ``output_size`` (H_out, W_out), as
    ``torch.nn.AdaptiveMaxPool2d``.

    (N, C, H, W) or (C, H, W) -> (N, C, H_out, W_out) (None keeps the input size).

    >>> AdaptiveMaxPool2d(2)
    AdaptiveMaxPool2d(output_size=2)
    >>> AdaptiveMaxPool2d((2, 3))(np.zeros((1, 3, 7, 7))).shape
    (1, 3, 2, 3)
    """

    _fn = staticmethod(P.adaptive_max_pool2d)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """Adaptive max pooling to ``output_size`` (D_out, H_out, W_out), as
    ``torch.nn.AdaptiveMaxPool3d``.

    (N, C, D, H, W) or (C, D, H, W) -> (N, C, D_out, H_out, W_out).

    >>> AdaptiveMaxPool3d(1)(np.zeros((1, 3, 4, 4, 4))).shape
    (1, 3, 1, 1, 1)
    """

    _fn = staticmethod(P.adaptive_max_pool3d)
