"""Convolutions and transposed convolutions, as ``torch.nn.functional``.

Names, signatures and argument order follow ``torch.nn.functional``. One N-d
implementation serves each family; the rank wrappers only fix the number of
spatial dims. Arguments are normalised and validated here, once, and the
kernels in :mod:`tconv.kernels` do the arithmetic.

Shapes, per spatial dim (k kernel size, s stride, p padding, d dilation,
a output_padding; see :mod:`tconv.shapes`)::

    conv:            L_out = floor((L_in + 2p - d(k-1) - 1) / s) + 1
    conv_transpose:  L_out = (L_in - 1) s - 2p + d(k-1) + a + 1
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from .. import _args, shapes
from ..kernels import conv as _k

ArrayLike = Any
IntOrTuple = Union[int, Sequence[int]]
Padding = Union[int, Sequence[int], str]

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
]


@dataclass(frozen=True)
class ConvGeometry:
    """Validated geometry of one conv or transposed-conv call, per spatial dim.

    ``lo`` is the left padding of a convolution, or the crop of a transposed
    convolution (its ``padding``); ``out_size`` is the output's spatial size.
    ``in_size`` and ``kernel_size`` complete the picture so that gradients can
    be computed from the geometry alone.
    """

    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    groups: int
    lo: tuple[int, ...]
    in_size: tuple[int, ...]
    kernel_size: tuple[int, ...]
    out_size: tuple[int, ...]


@dataclass
class _Prepared:
    x: np.ndarray  # batched (N, C, *L), in the compute dtype
    w: np.ndarray
    b: np.ndarray | None
    geom: ConvGeometry
    batched: bool
    out_dtype: np.dtype


def _prepare_common(
    n: int, fn: str, input: ArrayLike, weight: ArrayLike, bias: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, bool, np.dtype]:
    x = _args.as_array(input, "input", fn)
    w = _args.as_array(weight, "weight", fn)
    b = None if bias is None else _args.as_array(bias, "bias", fn)
    if w.ndim != n + 2:
        raise ValueError(
            f"{fn}: weight must be {n + 2}-D (out_channels, in_channels/groups, *kernel_size) "
            f"for {n} spatial dims, got {w.ndim}-D weight of shape {w.shape}"
            if not fn.startswith("conv_transpose")
            else f"{fn}: weight must be {n + 2}-D (in_channels, out_channels/groups, "
            f"*kernel_size) for {n} spatial dims, got {w.ndim}-D weight of shape {w.shape}"
        )
    batched = _args.spatial_dims_of(x, n, "input", fn)
    if not batched:
        x = x[None]
    if any(v == 0 for v in x.shape[1:]):
        raise ValueError(
            f"{fn}: input must have non-zero channel and spatial sizes, got shape "
            f"{x.shape if batched else x.shape[1:]}"
        )
    if any(v == 0 for v in w.shape):
        raise ValueError(f"{fn}: weight must not have zero-size dims, got shape {w.shape}")
    dtype, out_dtype = _args.compute_dtype(x, w, b)
    x = x.astype(dtype, copy=False)
    w = w.astype(dtype, copy=False)
    if b is not None:
        b = b.astype(dtype, copy=False)
    return x, w, b, batched, out_dtype


def _check_bias(b: np.ndarray | None, c_out: int, fn: str) -> None:
    if b is not None and b.shape != (c_out,):
        raise ValueError(
            f"{fn}: bias must have shape ({c_out},), one value per output channel, "
            f"got shape {b.shape}"
        )


def _check_groups(groups: Any, fn: str) -> int:
    return _args.positive_int(groups, "groups", fn)


def prepare_conv(
    n: int,
    fn: str,
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None,
    stride: IntOrTuple,
    padding: Padding,
    dilation: IntOrTuple,
    groups: int,
) -> _Prepared:
    """Validate a convolution call and return arrays plus geometry."""
    x, w, b, batched, out_dtype = _prepare_common(n, fn, input, weight, bias)
    s = _args.positive(_args.ntuple(stride, n, "stride", fn), "stride", fn)
    d = _args.positive(_args.ntuple(dilation, n, "dilation", fn), "dilation", fn)
    g = _check_groups(groups, fn)
    k = tuple(w.shape[2:])
    c_in, c_out = x.shape[1], w.shape[0]
    if c_in % g:
        raise ValueError(f"{fn}: groups={g} must divide in_channels={c_in} (input.shape[1])")
    if c_out % g:
        raise ValueError(
            f"{fn}: groups={g} must divide out_channels={c_out} (weight.shape[0] of weight "
            f"with shape {w.shape})"
        )
    if c_in != w.shape[1] * g:
        raise ValueError(
            f"{fn}: input has {c_in} channels but weight of shape {w.shape} with groups={g} "
            f"expects weight.shape[1] * groups = {w.shape[1] * g}"
            + (
                f"; for {c_in} input channels use groups={c_in // w.shape[1]}"
                if w.shape[1]
                and c_in % w.shape[1] == 0
                and (c_in // w.shape[1])
                and c_out % (c_in // w.shape[1]) == 0
                else ""
            )
        )
    _check_bias(b, c_out, fn)
    size = tuple(x.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            lo = hi = (0,) * n
        elif padding == "same":
            if any(v != 1 for v in s):
                raise ValueError(
                    f"{fn}: padding='same' is not supported for strided convolutions "
                    f"(stride={s}); use an explicit padding, e.g. padding="
                    f"{tuple(di * (ki - 1) // 2 for di, ki in zip(d, k))}"
                )
            total = tuple(di * (ki - 1) for di, ki in zip(d, k))
            lo = tuple(t // 2 for t in total)
            hi = tuple(t - t // 2 for t in total)
        else:
            raise ValueError(
                f"{fn}: padding string must be 'same' or 'valid', got padding={padding!r}"
            )
    else:
        lo = hi = _args.non_negative(_args.ntuple(padding, n, "padding", fn), "padding", fn)
    padded = tuple(L + a + c for L, a, c in zip(size, lo, hi))
    eff = tuple(di * (ki - 1) + 1 for di, ki in zip(d, k))
    if any(pi < ei for pi, ei in zip(padded, eff)):
        raise ValueError(
            f"{fn}: kernel larger than the padded input: padded input size {padded} "
            f"(input {size} + padding) is smaller than the dilated kernel size {eff} "
            f"(kernel_size={k}, dilation={d}); pad more, or use a smaller kernel or dilation"
        )
    # 'same' may pad asymmetrically: fold the extra right pad into the size formula.
    out = tuple(
        shapes.conv_output_size(L + (c - a), ki, si, a, di)
        for L, ki, si, a, c, di in zip(size, k, s, lo, hi, d)
    )
    geom = ConvGeometry(s, d, g, lo, size, k, out)
    return _Prepared(x, w, b, geom, batched, out_dtype)


def prepare_conv_transpose(
    n: int,
    fn: str,
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None,
    stride: IntOrTuple,
    padding: IntOrTuple,
    output_padding: IntOrTuple,
    groups: int,
    dilation: IntOrTuple,
    output_size: Sequence[int] | int | None,
) -> _Prepared:
    """Validate a transposed-convolution call and return arrays plus geometry."""
    x, w, b, batched, out_dtype = _prepare_common(n, fn, input, weight, bias)
    s = _args.positive(_args.ntuple(stride, n, "stride", fn), "stride", fn)
    d = _args.positive(_args.ntuple(dilation, n, "dilation", fn), "dilation", fn)
    if isinstance(padding, str):
        raise ValueError(
            f"{fn}: padding must be an int or a tuple of ints, got padding={padding!r} "
            "(string paddings exist only for convolutions)"
        )
    p = _args.non_negative(_args.ntuple(padding, n, "padding", fn), "padding", fn)
    a = _args.non_negative(
        _args.ntuple(output_padding, n, "output_padding", fn), "output_padding", fn
    )
    g = _check_groups(groups, fn)
    k = tuple(w.shape[2:])
    c_in = x.shape[1]
    if c_in % g:
        raise ValueError(f"{fn}: groups={g} must divide in_channels={c_in} (input.shape[1])")
    if c_in != w.shape[0]:
        raise ValueError(
            f"{fn}: input has {c_in} channels but weight of shape {w.shape} expects "
            f"weight.shape[0] = {w.shape[0]} (transposed weights are "
            "(in_channels, out_channels/groups, *kernel_size))"
        )
    c_out = w.shape[1] * g
    _check_bias(b, c_out, fn)
    size = tuple(x.shape[2:])
    if output_size is not None:
        if any(ai != 0 for ai in a):
            raise ValueError(
                f"{fn}: give output_size or output_padding, not both "
                f"(got output_size={output_size}, output_padding={a})"
            )
        if isinstance(output_size, Sequence) and len(output_size) == n + 2:
            output_size = tuple(output_size)[2:]  # PyTorch also takes (N, C, *spatial)
        req = _args.ntuple(output_size, n, "output_size", fn)
        try:
            a = tuple(shapes.output_padding_for(size, req, k, s, p, d))  # type: ignore[arg-type]
        except ValueError as exc:
            raise ValueError(f"{fn}: {exc}") from None
    for ai, si, di in zip(a, s, d):
        if not (ai < si or ai < di):
            raise ValueError(
                f"{fn}: output_padding must be smaller than stride or dilation, got "
                f"output_padding={a}, stride={s}, dilation={d}"
            )
    out = tuple(shapes.conv_transpose_output_size(size, k, s, p, a, d))  # type: ignore[arg-type]
    if any(o <= 0 for o in out):
        raise ValueError(
            f"{fn}: empty output: input size {size} with kernel_size={k}, stride={s}, "
            f"padding={p}, output_padding={a}, dilation={d} gives output size {out}; "
            "padding crops the output, so use a smaller padding"
        )
    geom = ConvGeometry(s, d, g, p, size, k, out)
    return _Prepared(x, w, b, geom, batched, out_dtype)


def _finish(y: np.ndarray, prep: _Prepared) -> np.ndarray:
    # the kernels have added the bias
    if not prep.batched:
        y = y[0]
    return y.astype(prep.out_dtype, copy=False)


def conv_forward(prep: _Prepared) -> np.ndarray:
    g = prep.geom
    y = _k.conv_nd(prep.x, prep.w, g.stride, g.dilation, g.groups, g.lo, g.out_size, prep.b)
    return _finish(y, prep)


def conv_transpose_forward(prep: _Prepared) -> np.ndarray:
    g = prep.geom
    y = _k.conv_transpose_nd(
        prep.x, prep.w, g.stride, g.dilation, g.groups, g.lo, g.out_size, prep.b
    )
    return _finish(y, prep)


def _conv(
    n: int,
    fn: str,
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None,
    stride: IntOrTuple,
    padding: Padding,
    dilation: IntOrTuple,
    groups: int,
) -> Any:
    tensors = _any_tensor(input, weight, bias)
    x, w, b = _data(input, weight, bias)
    prep = prepare_conv(n, fn, x, w, b, stride, padding, dilation, groups)
    if tensors:  # differentiable path: record dx = conv_transpose(gy), dw, db on the tape
        return _grad.record_conv(prep, (input, weight, bias), transpose=False)
    return conv_forward(prep)


def _conv_transpose(
    n: int,
    fn: str,
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None,
    stride: IntOrTuple,
    padding: IntOrTuple,
    output_padding: IntOrTuple,
    groups: int,
    dilation: IntOrTuple,
    output_size: Sequence[int] | int | None,
) -> Any:
    tensors = _any_tensor(input, weight, bias)
    x, w, b = _data(input, weight, bias)
    prep = prepare_conv_transpose(
        n, fn, x, w, b, stride, padding, output_padding, groups, dilation, output_size
    )
    if tensors:  # differentiable path: record dx = conv(gy), dw, db on the tape
        return _grad.record_conv(prep, (input, weight, bias), transpose=True)
    return conv_transpose_forward(prep)


def conv1d(
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> Any:
    """1-D convolution (cross-correlation, the lecture's ⊛), as ``torch.nn.functional.conv1d``.

    input (N, C_in, L) or (C_in, L); weight (C_out, C_in/groups, k); bias (C_out,).
    Output (N, C_out, L_out) with ``L_out = floor((L + 2p - d(k-1) - 1) / s) + 1``.
    ``padding`` may be an int, a 1-tuple, ``'same'`` (stride 1 only) or ``'valid'``.

    The lecture's example, ``y_i = sum_a x_{i+a-1} k_a``:

    >>> conv1d([[[0., 0., 1., 0., 0., 0., 0.]]], [[[1., 2., 3.]]])
    array([[[3., 2., 1., 0., 0.]]])
    """
    return _conv(1, "conv1d", input, weight, bias, stride, padding, dilation, groups)


def conv2d(
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> Any:
    """2-D convolution, as ``torch.nn.functional.conv2d``.

    input (N, C_in, H, W) or (C_in, H, W); weight (C_out, C_in/groups, kH, kW).
    Output size per dim as :func:`conv1d`.

    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> conv2d(x, np.ones((1, 1, 2, 2)), stride=2)
    array([[[[10., 18.],
             [42., 50.]]]])
    """
    return _conv(2, "conv2d", input, weight, bias, stride, padding, dilation, groups)


def conv3d(
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
) -> Any:
    """3-D convolution, as ``torch.nn.functional.conv3d``.

    input (N, C_in, D, H, W) or (C_in, D, H, W); weight (C_out, C_in/groups, kD, kH, kW).
    Output size per dim as :func:`conv1d`.

    >>> conv3d(np.ones((1, 2, 3, 3, 3)), np.ones((4, 2, 3, 3, 3)), padding="same").shape
    (1, 4, 3, 3, 3)
    """
    return _conv(3, "conv3d", input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
    *,
    output_size: Sequence[int] | int | None = None,
) -> Any:
    """1-D transposed convolution, as ``torch.nn.functional.conv_transpose1d``.

    input (N, C_in, L) or (C_in, L); weight (C_in, C_out/groups, k); bias (C_out,).
    Output (N, C_out, L_out) with ``L_out = (L - 1) s - 2p + d(k-1) + a + 1``, where
    ``a`` is ``output_padding``. ``output_size=`` (keyword only, as
    ``nn.ConvTranspose1d.forward`` takes it) picks ``a``; it must lie in
    ``[L_min, L_min + s - 1]``.

    Each input sample adds a scaled copy of the kernel to the output (the
    lecture's "weighted sum of translated kernels"):

    >>> conv_transpose1d([[[0., 0., 1., 0., 0., 0., 0.]]], [[[1., 2., 3.]]])
    array([[[0., 0., 1., 2., 3., 0., 0., 0., 0.]]])
    >>> conv_transpose1d([[[2., 3., 0., -1.]]], [[[1., 2., -1.]]])
    array([[[ 2.,  7.,  4., -4., -2.,  1.]]])
    >>> conv_transpose1d(np.ones((1, 1, 16)), np.ones((1, 1, 3)), stride=2, padding=1,
    ...                  output_size=32).shape
    (1, 1, 32)
    """
    return _conv_transpose(
        1,
        "conv_transpose1d",
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        output_size,
    )


def conv_transpose2d(
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
    *,
    output_size: Sequence[int] | int | None = None,
) -> Any:
    """2-D transposed convolution, as ``torch.nn.functional.conv_transpose2d``.

    input (N, C_in, H, W) or (C_in, H, W); weight (C_in, C_out/groups, kH, kW).
    Output size per dim as :func:`conv_transpose1d`.

    >>> y = conv_transpose2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)), stride=2)
    >>> y[0, 0]
    array([[1., 1., 2., 1., 1.],
           [1., 1., 2., 1., 1.],
           [2., 2., 4., 2., 2.],
           [1., 1., 2., 1., 1.],
           [1., 1., 2., 1., 1.]])
    """
    return _conv_transpose(
        2,
        "conv_transpose2d",
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        output_size,
    )


def conv_transpose3d(
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
    *,
    output_size: Sequence[int] | int | None = None,
) -> Any:
    """3-D transposed convolution, as ``torch.nn.functional.conv_transpose3d``.

    input (N, C_in, D, H, W) or (C_in, D, H, W); weight (C_in, C_out/groups, kD, kH, kW).
    Output size per dim as :func:`conv_transpose1d`.

    >>> conv_transpose3d(np.ones((2, 4, 8, 8, 8)), np.ones((4, 3, 4, 4, 4)), stride=2,
    ...                  padding=1).shape
    (2, 3, 16, 16, 16)
    """
    return _conv_transpose(
        3,
        "conv_transpose3d",
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        output_size,
    )


# -- differentiable ops: Tensor support and the autograd functions (tconv.autograd) -----
from .. import grad as _grad  # noqa: E402  (grad builds on the functions above)
from ..autograd import Tensor as _Tensor  # noqa: E402
from ..autograd import any_tensor as _any_tensor  # noqa: E402


def _data(*xs: Any) -> tuple[Any, ...]:
    """Tensors -> their arrays; anything else as given (validated by prepare_*)."""
    return tuple(x.data if isinstance(x, _Tensor) else x for x in xs)
