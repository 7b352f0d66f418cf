"""Up-scaling layers: ``Upsample``, pixel shuffle, resize-convolution and sub-pixel convolution.

``Upsample``, ``UpsamplingNearest2d``, ``UpsamplingBilinear2d``, ``PixelShuffle``
and ``PixelUnshuffle`` are PyTorch's layers (same constructors and ``repr``).
The two learnable up-scalers are the alternatives to a transposed convolution
that avoid its checkerboard artifacts:

* ``ResizeConv1d/2d/3d``: analytic up-scaling, then a stride-1 convolution with
  ``padding='same'`` (Odena, Dumoulin & Olah, "Deconvolution and Checkerboard
  Artifacts", Distill 2016). Output size ``floor(scale * input)`` per dim.
* ``SubPixelConv2d``: a convolution to ``C r^2`` channels, then pixel shuffle
  (Shi et al. 2016), initialised with ICNR (Aitken et al. 2017) so that it starts
  equal to a convolution followed by nearest up-scaling.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from .. import shapes
from .. import upsampling as _up
from ..upsampling import interpolate, pixel_shuffle, pixel_unshuffle
from . import init
from .conv import Conv1d, Conv2d, Conv3d
from .module import Module

__all__ = [
    "PixelShuffle",
    "PixelUnshuffle",
    "ResizeConv1d",
    "ResizeConv2d",
    "ResizeConv3d",
    "SubPixelConv2d",
    "Upsample",
    "UpsamplingBilinear2d",
    "UpsamplingNearest2d",
]


class Upsample(Module):
    """Up-sampling layer, as ``torch.nn.Upsample``; see :func:`tconv.functional.interpolate`.

    >>> m = Upsample(scale_factor=2, mode="bilinear")
    >>> m
    Upsample(scale_factor=2.0, mode='bilinear')
    >>> m(np.ones((1, 1, 2, 3))).shape
    (1, 1, 4, 6)
    """

    def __init__(
        self,
        size: Any = None,
        scale_factor: Any = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ) -> None:
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor: Any = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Any) -> Any:
        return interpolate(
            input,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            recompute_scale_factor=self.recompute_scale_factor,
        )

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = "scale_factor=" + repr(self.scale_factor)
        else:
            info = "size=" + repr(self.size)
        return info + ", mode=" + repr(self.mode)


class UpsamplingNearest2d(Upsample):
    """Nearest up-sampling of 4-D input, as ``torch.nn.UpsamplingNearest2d``.

    >>> UpsamplingNearest2d(scale_factor=2)(np.ones((1, 1, 2, 2))).shape
    (1, 1, 4, 4)
    """

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear up-sampling with ``align_corners=True``, as ``torch.nn.UpsamplingBilinear2d``.

    >>> UpsamplingBilinear2d(size=3)(np.array([[[[0.0, 2.0]]]]))[0, 0, 0]
    array([0., 1., 2.])
    """

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    """``(*, C r^2, H, W) -> (*, C, H r, W r)``, as ``torch.nn.PixelShuffle``.

    >>> PixelShuffle(3)
    PixelShuffle(upscale_factor=3)
    >>> PixelShuffle(3)(np.zeros((1, 18, 4, 4))).shape
    (1, 2, 12, 12)
    """

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Any) -> Any:
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """``(*, C, H r, W r) -> (*, C r^2, H, W)``, as ``torch.nn.PixelUnshuffle``.

    >>> PixelUnshuffle(2)(np.zeros((1, 1, 4, 6))).shape
    (1, 4, 2, 3)
    """

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Any) -> Any:
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}
_RANK_MODES = {1: ("linear",), 2: ("bilinear", "bicubic"), 3: ("trilinear",)}


class _ResizeConvNd(Module):
    _n = 0
    _conv: type = Conv2d

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        scale_factor: Any = 2,
        mode: str = "nearest",
        align_corners: bool | None = None,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        n = self._n
        if mode == "linear":
            mode = _LINEAR[n]  # "linear" names the interpolating mode of this rank
        allowed = ("nearest", "nearest-exact", "area", *_RANK_MODES[n])
        if mode not in allowed:
            raise ValueError(
                f"{name}: mode must be one of {' | '.join(allowed)} for "
                f"{n + 2}-D input, got mode={mode!r}"
            )
        self.upsample = Upsample(scale_factor=scale_factor, mode=mode, align_corners=align_corners)
        self.conv = self._conv(
            in_channels,
            out_channels,
            kernel_size,
            stride=1,
            padding="same",
            dilation=dilation,
            groups=groups,
            bias=bias,
            padding_mode=padding_mode,
            device=device,
            dtype=dtype,
        )

    def forward(self, input: Any) -> Any:
        return self.conv(self.upsample(input))

    def as_conv_transpose(self) -> tuple[np.ndarray, tuple[int, ...], tuple[int, ...]]:
        """``(weight_t, stride, padding)`` of the equal transposed convolution (nearest mode,
        integer scale, ``d(k-1)`` even so that 'same' pads symmetrically); see
        :func:`tconv.upsampling.as_conv_transpose`."""
        d, k = self.conv.dilation, self.conv.kernel_size
        pairs = cast("tuple[tuple[int, int], ...]", shapes.same_padding(k, d))
        if any(lo != hi for lo, hi in pairs) or self.conv.padding_mode != "zeros":
            raise ValueError(
                f"{type(self).__name__}.as_conv_transpose: needs symmetric zero "
                f"padding, i.e. dilation*(kernel_size-1) even, got kernel_size={k}"
            )
        sf = self.upsample.scale_factor
        sfs = sf if isinstance(sf, tuple) else (sf,) * self._n
        if not all(float(s).is_integer() for s in sfs):
            raise ValueError(
                f"{type(self).__name__}.as_conv_transpose: needs an integer "
                f"scale_factor, got {sf!r}"
            )
        return _up.as_conv_transpose(
            self.conv.weight,
            tuple(int(s) for s in sfs),
            tuple(lo for lo, _ in pairs),
            mode=self.upsample.mode,
            groups=self.conv.groups,
            dilation=d,
        )


class ResizeConv1d(_ResizeConvNd):
    """Resize-convolution of 3-D input (N, C_in, L) -> (N, C_out, floor(scale L)).

    ``Upsample(scale_factor, mode)`` then ``Conv1d(..., padding='same')``: the
    convolution keeps the up-scaled size; an even kernel pads one more zero on
    the right, as PyTorch's 'same'. Parameters: ``conv.weight``, ``conv.bias``.

    >>> m = ResizeConv1d(4, 2, kernel_size=3, scale_factor=2)
    >>> m(np.ones((1, 4, 5))).shape
    (1, 2, 10)
    """

    _n = 1
    _conv = Conv1d


class ResizeConv2d(_ResizeConvNd):
    """Resize-convolution of 4-D input: up-scaling (nearest, bilinear, bicubic, ...) then
    ``Conv2d(..., padding='same')``; output (N, C_out, floor(s H), floor(s W)).

    >>> ResizeConv2d(3, 8, kernel_size=4, scale_factor=2, mode="bilinear")(
    ...     np.ones((1, 3, 5, 6))).shape
    (1, 8, 10, 12)
    """

    _n = 2
    _conv = Conv2d


class ResizeConv3d(_ResizeConvNd):
    """Resize-convolution of 5-D input (nearest or trilinear, then ``Conv3d`` 'same').

    >>> ResizeConv3d(2, 2, kernel_size=3, scale_factor=(1, 2, 2))(np.ones((1, 2, 3, 4, 4))).shape
    (1, 2, 3, 8, 8)
    """

    _n = 3
    _conv = Conv3d


class SubPixelConv2d(Module):
    """Sub-pixel convolution: ``Conv2d(C_in, C_out r^2, k, padding='same')`` then
    ``PixelShuffle(r)``; output (N, C_out, r H, r W).

    With ``icnr=True`` (default) the weight is initialised by
    :func:`tconv.nn.init.icnr_` and the bias is tied the same way, so that at
    initialisation the layer equals a convolution followed by nearest up-scaling
    (no checkerboard): each group of r^2 output channels that pixel shuffle
    spreads over one r x r block starts identical.

    >>> m = SubPixelConv2d(3, 4, kernel_size=3, upscale_factor=2)
    >>> m.conv.weight.shape, m(np.ones((1, 3, 5, 5))).shape
    ((16, 3, 3, 3), (1, 4, 10, 10))
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any = 3,
        upscale_factor: int = 2,
        bias: bool = True,
        padding_mode: str = "zeros",
        icnr: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        r = upscale_factor
        if not isinstance(r, int) or isinstance(r, bool) or r < 1:
            raise ValueError(f"SubPixelConv2d: upscale_factor must be a positive int, got {r!r}")
        self.conv = Conv2d(
            in_channels,
            out_channels * r * r,
            kernel_size,
            padding="same",
            bias=bias,
            padding_mode=padding_mode,
            device=device,
            dtype=dtype,
        )
        self.shuffle = PixelShuffle(r)
        if icnr:
            init.icnr_(self.conv.weight, r)
            if self.conv.bias is not None:
                b = self.conv.bias.data
                b[...] = np.repeat(b[:: r * r].copy(), r * r)

    def forward(self, input: Any) -> Any:
        return self.shuffle(self.conv(input))
