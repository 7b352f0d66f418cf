"""Convolution layers with PyTorch's constructors, parameter names and initialisation.

One N-d class per family holds the validated arguments and the parameters and
calls :mod:`tconv.functional`; ``Conv1d``/``2d``/``3d`` and
``ConvTranspose1d``/``2d``/``3d`` only fix the number of spatial dims.
Weights: conv (C_out, C_in/groups, *k), transposed conv (C_in, C_out/groups, *k);
both initialised as PyTorch does, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
``fan_in = weight.shape[1] * prod(k)`` (kaiming-uniform with a = sqrt(5)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _args, shapes
from .. import functional as F
from ..autograd import pad
from . import init
from .module import Module, Parameter

__all__ = [
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "ConvTranspose1d",
    "ConvTranspose2d",
    "ConvTranspose3d",
]

_MODES = ("zeros", "reflect", "replicate", "circular")


def _dtype(dtype: Any, device: Any, name: str) -> np.dtype:
    if device not in (None, "cpu"):
        raise ValueError(f"{name}: tconv runs on the CPU only, got device={device!r}")
    dt = np.dtype(np.float32 if dtype is None else dtype)
    if dt.kind != "f":
        raise TypeError(f"{name}: dtype must be a floating type, got {dt}")
    return dt


class _ConvNd(Module):
    _n = 0
    _transposed = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any,
        padding: Any,
        dilation: Any,
        groups: int,
        bias: bool,
        padding_mode: str,
        output_padding: Any = 0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name, n = type(self).__name__, self._n
        dt = _dtype(dtype, device, name)
        in_channels = _args.positive_int(in_channels, "in_channels", name)
        out_channels = _args.positive_int(out_channels, "out_channels", name)
        groups = _args.positive_int(groups, "groups", name)
        for label, c in (("in_channels", in_channels), ("out_channels", out_channels)):
            if c % groups:
                raise ValueError(f"{name}: {label}={c} must be divisible by groups={groups}")
        if self._transposed:
            shapes.check_padding_mode(padding_mode, name)
        elif padding_mode not in _MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_MODES}, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _args.positive_ntuple(kernel_size, n, "kernel_size", name)
        self.stride = _args.positive_ntuple(stride, n, "stride", name)
        self.dilation = _args.positive_ntuple(dilation, n, "dilation", name)
        self.padding: Any = shapes.conv_padding(
            padding, n, name, self.stride, self.kernel_size, self.dilation, self._transposed
        )
        self.output_padding = shapes.check_output_padding(
            _args.non_negative_ntuple(output_padding, n, "output_padding", name),
            self.stride,
            self.dilation,
            name,
        )
        if self._transposed:
            shapes.check_transpose_padding(self.padding, self.output_padding, padding_mode, name)
        # F.pad's (left_last, right_last, ...) for the non-zero padding modes, once (PyTorch)
        lo, hi = shapes._conv_pads(self.padding, self.kernel_size, self.dilation)
        pairs = list(zip(lo, hi))
        self._reversed_padding_repeated_twice = tuple(v for pair in reversed(pairs) for v in pair)
        self.padding_mode = padding_mode
        shape = (
            (in_channels, out_channels // groups)
            if self._transposed
            else (out_channels, in_channels // groups)
        ) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype=dt))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming-uniform with a = sqrt(5), bias U(-1/sqrt(fan_in), +)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * self._n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            0,
            device,
            dtype,
        )

    def forward(self, input: Any) -> Any:
        fn = getattr(F, f"conv{self._n}d")
        if self.padding_mode != "zeros":
            padded = pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return fn(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return fn(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )


class _ConvTranspose(_ConvNd):
    _transposed = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            output_padding,
            device,
            dtype,
        )

    def forward(self, input: Any, output_size: Sequence[int] | None = None) -> Any:
        """Apply the layer; ``output_size`` picks the output_padding (it must lie in
        ``[L_min, L_min + stride - 1]`` per dim, else a ValueError states that range)."""
        fn = getattr(F, f"conv_transpose{self._n}d")
        op = self.output_padding if output_size is None else 0
        return fn(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            op,
            self.groups,
            self.dilation,
            output_size=output_size,
            padding_mode=self.padding_mode,
        )


class Conv1d(_Conv):
    """1-D convolution layer, as ``torch.nn.Conv1d``.

    ``forward(input)`` is :func:`tconv.functional.conv1d` with the layer's weight and
    arguments: ``(N, C_in, L) -> (N, C_out, L_out)``,
    ``L_out = floor((L + 2p - d(k-1) - 1) / s) + 1``.

    Parameters
    ----------
    in_channels, out_channels : int
        ``C_in`` and ``C_out``, both divisible by ``groups``.
    kernel_size, stride, dilation : int or tuple of int
        ``k``, ``s`` and ``d``, per spatial dim.
    padding : int, tuple, 'same', 'valid' or tuple of (lo, hi) pairs
        As in :func:`tconv.functional.conv1d` (pairs beyond PyTorch).
    groups : int
        Input and output channels split into this many groups.
    bias : bool
        Whether the layer has a bias.
    padding_mode : {'zeros', 'reflect', 'replicate', 'circular'}
        How the padding is filled, as PyTorch's.
    device, dtype
        As PyTorch's; ``dtype`` sets the parameters' dtype (float32 by default), and
        ``device`` must be None or ``'cpu'``.

    Attributes
    ----------
    weight : Parameter
        ``(C_out, C_in/groups, k)``, PyTorch's default initialisation (Kaiming uniform
        with ``a = sqrt(5)``).
    bias : Parameter or None
        ``(C_out,)``.

    Examples
    --------
    >>> m = Conv1d(4, 8, 3, padding=1)
    >>> m
    Conv1d(4, 8, kernel_size=(3,), stride=(1,), padding=(1,))
    >>> m.weight.shape, m.bias.shape
    ((8, 4, 3), (8,))
    """

    _n = 1


class Conv2d(_Conv):
    """2-D convolution layer, as ``torch.nn.Conv2d``.

    >>> Conv2d(3, 16, 3, stride=2, padding=1, padding_mode="reflect")(np.zeros((1, 3, 8, 8))).shape
    (1, 16, 4, 4)
    """

    _n = 2


class Conv3d(_Conv):
    """3-D convolution layer, as ``torch.nn.Conv3d``.

    >>> Conv3d(2, 4, 3).weight.shape
    (4, 2, 3, 3, 3)
    """

    _n = 3


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution layer, as ``torch.nn.ConvTranspose1d``.

    ``forward(input, output_size=None)`` is :func:`tconv.functional.conv_transpose1d`
    with the layer's weight and arguments: ``(N, C_in, L) -> (N, C_out, L_out)``,
    ``L_out = (L - 1) s - 2p + d(k-1) + a + 1``; ``output_size`` picks ``a``.

    Parameters
    ----------
    in_channels, out_channels : int
        ``C_in`` and ``C_out``, both divisible by ``groups``.
    kernel_size, stride, dilation : int or tuple of int
        ``k``, ``s`` and ``d``, per spatial dim.
    padding : int, tuple, 'same', 'valid' or tuple of (lo, hi) pairs
        The crop of the full output. Beyond PyTorch, as in
        :func:`tconv.functional.conv_transpose1d`: ``(lo, hi)`` pairs (negative: zeros
        appended), ``'same'`` (output ``L s``) or ``'valid'``.
    output_padding : int or tuple of int
        ``a``, smaller than the stride or the dilation.
    groups : int
        Input and output channels split into this many groups.
    bias : bool
        Whether the layer has a bias.
    padding_mode : {'zeros', 'circular'}
        ``'circular'`` (beyond PyTorch): Flax's periodic fold of the full output.
    device, dtype
        As PyTorch's; ``dtype`` sets the parameters' dtype (float32 by default), and
        ``device`` must be None or ``'cpu'``.

    Attributes
    ----------
    weight : Parameter
        ``(C_in, C_out/groups, k)``, PyTorch's default initialisation (Kaiming uniform
        with ``a = sqrt(5)``).
    bias : Parameter or None
        ``(C_out,)``.

    Examples
    --------
    >>> m = ConvTranspose1d(1, 1, kernel_size=3)
    >>> m.weight.shape    # (in_channels, out_channels/groups, k)
    (1, 1, 3)
    >>> ConvTranspose1d(2, 4, 3, stride=2, padding="same", padding_mode="circular")
    ConvTranspose1d(2, 4, kernel_size=(3,), stride=(2,), padding=same, padding_mode=circular)
    """

    _n = 1


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution layer, as ``torch.nn.ConvTranspose2d``.

    >>> m = ConvTranspose2d(16, 8, kernel_size=3, stride=2, padding=1)
    >>> m(np.zeros((1, 16, 16, 16)), output_size=(32, 32)).shape
    (1, 8, 32, 32)
    >>> ConvTranspose2d(16, 8, 3, stride=2, padding=((0, 1), (1, 0)))(np.zeros((1, 16, 5, 5))).shape
    (1, 8, 10, 10)
    """

    _n = 2


class ConvTranspose3d(_ConvTranspose):
    """3-D transposed convolution layer, as ``torch.nn.ConvTranspose3d``.

    >>> ConvTranspose3d(4, 2, 4, stride=2, padding=1)(np.zeros((1, 4, 2, 2, 2))).shape
    (1, 2, 4, 4, 4)
    """

    _n = 3
