"""Gradients of convolutions and transposed convolutions (``torch.nn.grad``'s functions).

Each is the VJP that :mod:`tconv.functional.conv` records on the tape, called with the
size of the argument it differentiates against instead of that argument. The VJPs are
the lecture's identities, written with the forward kernels themselves:

* conv, input gradient = ``conv_transpose`` of the output gradient, same stride,
  padding, dilation and groups (the size of ``x`` is asked for directly, so no
  output_padding arithmetic is needed);
* conv_transpose, input gradient = ``conv`` of the output gradient;
* weight gradients = correlation of the input with the output gradient (one
  GEMM over the im2col columns); for a transposed convolution the same
  correlation with the roles of input and output gradient swapped;
* bias gradients = the output gradient summed over batch and space.

Shapes, per spatial dim, as in :mod:`tconv.functional`::

    conv:            L_out = floor((L_in + 2p - d(k-1) - 1) / s) + 1
    conv_transpose:  L_out = (L_in - 1) s - 2p + d(k-1) + a + 1

``padding`` takes what the ops take: per-dim ``(lo, hi)`` pairs (``2p`` becomes
``lo + hi``), and ``'same'``/``'valid'``; the transposed ones also take
``padding_mode='circular'`` (keyword only), whose input gradient convolves the
output gradient tiled periodically.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _args
from .functional.conv import conv_transpose_vjp, conv_vjp, prepare_conv, prepare_conv_transpose

__all__ = [
    "conv1d_input",
    "conv1d_weight",
    "conv2d_input",
    "conv2d_weight",
    "conv3d_input",
    "conv3d_weight",
    "conv_transpose1d_input",
    "conv_transpose1d_weight",
    "conv_transpose2d_input",
    "conv_transpose2d_weight",
    "conv_transpose3d_input",
    "conv_transpose3d_weight",
]

Size = Sequence[int]


def _ghost(shape: Size, like: Any, what: str, fn: str) -> np.ndarray:
    """A read-only all-zero array of ``shape`` that takes no memory (for validation only)."""
    dtype = np.asarray(like).dtype
    try:
        dims = tuple(int(v) for v in shape)
    except TypeError:
        raise TypeError(f"{fn}: {what} must be a sequence of ints, got {shape!r}") from None
    _args.non_negative(dims, what, fn)
    zero = np.zeros((), dtype=dtype if dtype.kind == "f" else np.float64)
    _args.check_output_size(fn, dims, zero.dtype, f"{what}={dims}", what="gradient")
    return np.broadcast_to(zero, dims)


def _grad(
    transposed: bool, n: int, wrt: str, given: Any, size: Size, grad_output: Any, *args: Any
) -> np.ndarray:
    """The one implementation: validate the call as the forward op does, with a zero
    stand-in of shape ``size`` for the argument differentiated against (``wrt``), check
    ``grad_output`` against the output shape, and run that argument's VJP."""
    fn = f"conv_transpose{n}d_{wrt}" if transposed else f"conv{n}d_{wrt}"
    size = tuple(size)
    if wrt == "input" and not transposed and len(size) > n + 2:
        size = size[-(n + 2) :]
    ghost = _ghost(size, given, f"{wrt}_size", fn)
    x, w = (ghost, given) if wrt == "input" else (given, ghost)
    if transposed:
        prep = prepare_conv_transpose(n, fn, x, w, None, *args)
        c_out = prep.w.shape[1] * prep.geom.groups
    else:
        prep = prepare_conv(n, fn, x, w, None, *args)
        c_out = prep.w.shape[0]
    want = (prep.x.shape[0], c_out, *prep.geom.out_size)[0 if prep.batched else 1 :]
    gy = np.asarray(grad_output)
    if gy.shape != want:
        hint = " (set output_padding to match)" if transposed else ""
        raise ValueError(
            f"{fn}: grad_output must have shape {want} for these arguments, got {gy.shape}{hint}"
        )
    need = (wrt == "input", wrt == "weight")
    grads = (conv_transpose_vjp if transposed else conv_vjp)(prep, gy, need)
    result = np.asarray(grads[0 if wrt == "input" else 1]).astype(prep.out_dtype, copy=False)
    return _args.owned(result, given, gy)


def conv1d_input(
    input_size: Size,
    weight: Any,
    grad_output: Any,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> np.ndarray:
    """Gradient of ``conv1d`` with respect to its input, as ``torch.nn.grad.conv1d_input``.

    It is the transposed convolution of ``grad_output`` with the same weight:

    >>> w = np.array([[[1.0, 2.0, 3.0]]])
    >>> conv1d_input((1, 1, 7), w, np.array([[[0., 0., 1., 0., 0.]]]))
    array([[[0., 0., 1., 2., 3., 0., 0.]]])
    """
    return _grad(
        False, 1, "input", weight, input_size, grad_output, stride, padding, dilation, groups
    )


def conv2d_input(
    input_size: Size,
    weight: Any,
    grad_output: Any,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> np.ndarray:
    """Gradient of ``conv2d`` with respect to its input (shape ``input_size``).

    >>> conv2d_input((1, 1, 4, 4), np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)), stride=2)[0, 0]
    array([[1., 1., 1., 1.],
           [1., 1., 1., 1.],
           [1., 1., 1., 1.],
           [1., 1., 1., 1.]])
    """
    return _grad(
        False, 2, "input", weight, input_size, grad_output, stride, padding, dilation, groups
    )


def conv3d_input(
    input_size: Size,
    weight: Any,
    grad_output: Any,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> np.ndarray:
    """Gradient of ``conv3d`` with respect to its input (shape ``input_size``).

    >>> conv3d_input((1, 2, 4, 4, 4), np.ones((3, 2, 3, 3, 3)), np.ones((1, 3, 2, 2, 2))).shape
    (1, 2, 4, 4, 4)
    """
    return _grad(
        False, 3, "input", weight, input_size, grad_output, stride, padding, dilation, groups
    )


def conv1d_weight(
    input: Any,
    weight_size: Size,
    grad_output: Any,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> np.ndarray:
    """Gradient of ``conv1d`` with respect to its weight, as ``torch.nn.grad.conv1d_weight``.

    The correlation of the input with the output gradient:

    >>> conv1d_weight(np.array([[[1.0, 2.0, 3.0, 4.0]]]), (1, 1, 2), np.ones((1, 1, 3)))
    array([[[6., 9.]]])
    """
    return _grad(
        False, 1, "weight", input, weight_size, grad_output, stride, padding, dilation, groups
    )


def conv2d_weight(
    input: Any,
    weight_size: Size,
    grad_output: Any,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> np.ndarray:
    """Gradient of ``conv2d`` with respect to its weight (shape ``weight_size``).

    >>> conv2d_weight(np.ones((2, 3, 5, 5)), (4, 3, 3, 3), np.ones((2, 4, 3, 3))).shape
    (4, 3, 3, 3)
    """
    return _grad(
        False, 2, "weight", input, weight_size, grad_output, stride, padding, dilation, groups
    )


def conv3d_weight(
    input: Any,
    weight_size: Size,
    grad_output: Any,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> np.ndarray:
    """Gradient of ``conv3d`` with respect to its weight (shape ``weight_size``).

    >>> conv3d_weight(np.ones((1, 2, 3, 3, 3)), (2, 1, 2, 2, 2), np.ones((1, 2, 2, 2, 2)),
    ...               groups=2).shape
    (2, 1, 2, 2, 2)
    """
    return _grad(
        False, 3, "weight", input, weight_size, grad_output, stride, padding, dilation, groups
    )


def conv_transpose1d_input(
    input_size: Size,
    weight: Any,
    grad_output: Any,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    *,
    padding_mode: str = "zeros",
) -> np.ndarray:
    """Gradient of ``conv_transpose1d`` with respect to its input: a ``conv1d``.

    Arguments in ``conv_transpose1d``'s order (output_padding before groups).

    >>> w = np.array([[[1.0, 2.0, 3.0]]])
    >>> conv_transpose1d_input((1, 1, 7), w, np.array([[[0., 0., 1., 0., 0., 0., 0., 0., 0.]]]))
    array([[[3., 2., 1., 0., 0., 0., 0.]]])
    >>> conv_transpose1d_input((1, 1, 3), w, np.array([[[1., 0., 0.]]]), padding_mode="circular")
    array([[[1., 3., 2.]]])
    """
    return _grad(
        True,
        1,
        "input",
        weight,
        input_size,
        grad_output,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        None,
        padding_mode,
    )


def conv_transpose2d_input(
    input_size: Size,
    weight: Any,
    grad_output: Any,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    *,
    padding_mode: str = "zeros",
) -> np.ndarray:
    """Gradient of ``conv_transpose2d`` with respect to its input (a ``conv2d``).

    >>> conv_transpose2d_input((1, 4, 8, 8), np.ones((4, 2, 4, 4)), np.ones((1, 2, 16, 16)),
    ...                        stride=2, padding=1).shape
    (1, 4, 8, 8)
    """
    return _grad(
        True,
        2,
        "input",
        weight,
        input_size,
        grad_output,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        None,
        padding_mode,
    )


def conv_transpose3d_input(
    input_size: Size,
    weight: Any,
    grad_output: Any,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    *,
    padding_mode: str = "zeros",
) -> np.ndarray:
    """Gradient of ``conv_transpose3d`` with respect to its input (a ``conv3d``).

    >>> conv_transpose3d_input((1, 2, 2, 2, 2), np.ones((2, 1, 2, 2, 2)), np.ones((1, 1, 3, 3, 3))
    ...                        ).shape
    (1, 2, 2, 2, 2)
    """
    return _grad(
        True,
        3,
        "input",
        weight,
        input_size,
        grad_output,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        None,
        padding_mode,
    )


def conv_transpose1d_weight(
    input: Any,
    weight_size: Size,
    grad_output: Any,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    *,
    padding_mode: str = "zeros",
) -> np.ndarray:
    """Gradient of ``conv_transpose1d`` with respect to its weight (C_in, C_out/g, k).

    >>> conv_transpose1d_weight(np.array([[[1.0, 2.0]]]), (1, 1, 2), np.ones((1, 1, 3)))
    array([[[3., 3.]]])
    """
    return _grad(
        True,
        1,
        "weight",
        input,
        weight_size,
        grad_output,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        None,
        padding_mode,
    )


def conv_transpose2d_weight(
    input: Any,
    weight_size: Size,
    grad_output: Any,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    *,
    padding_mode: str = "zeros",
) -> np.ndarray:
    """Gradient of ``conv_transpose2d`` with respect to its weight.

    >>> conv_transpose2d_weight(np.ones((1, 4, 8, 8)), (4, 2, 4, 4), np.ones((1, 2, 16, 16)),
    ...                         stride=2, padding=1).shape
    (4, 2, 4, 4)
    """
    return _grad(
        True,
        2,
        "weight",
        input,
        weight_size,
        grad_output,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        None,
        padding_mode,
    )


def conv_transpose3d_weight(
    input: Any,
    weight_size: Size,
    grad_output: Any,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
    *,
    padding_mode: str = "zeros",
) -> np.ndarray:
    """Gradient of ``conv_transpose3d`` with respect to its weight.

    >>> conv_transpose3d_weight(np.ones((1, 2, 2, 2, 2)), (2, 1, 2, 2, 2),
    ...                         np.ones((1, 1, 3, 3, 3))).shape
    (2, 1, 2, 2, 2)
    """
    return _grad(
        True,
        3,
        "weight",
        input,
        weight_size,
        grad_output,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        None,
        padding_mode,
    )
