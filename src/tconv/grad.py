"""Gradients of convolutions and transposed convolutions (``torch.nn.grad``'s functions).

The lecture's identities, written with the forward kernels themselves:

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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .functional import conv as F
from .autograd import Tensor, record
from .kernels import conv as _k

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


def _needs(t: Any) -> bool:
    return isinstance(t, Tensor) and t.requires_grad


def _batched(gy: np.ndarray, prep: Any) -> np.ndarray:
    gy = np.asarray(gy).astype(prep.x.dtype, copy=False)
    return gy if prep.batched else gy[None]


def _unbatch(a: np.ndarray, prep: Any) -> np.ndarray:
    return a if prep.batched else a[0]


def conv_vjp(prep: Any, gy: np.ndarray, need: Sequence[bool]) -> tuple[Any, Any, Any]:
    """(dx, dw, db) of a prepared convolution, each None where ``need`` says so."""
    g, gy = prep.geom, _batched(gy, prep)
    gx = gw = gb = None
    if need[0]:
        gx = _unbatch(
            _k.conv_transpose_nd(gy, prep.w, g.stride, g.dilation, g.groups, g.lo, g.in_size), prep
        )
    if need[1]:
        gw = _k.conv_weight_grad_nd(prep.x, gy, g.kernel_size, g.stride, g.dilation, g.groups, g.lo)
    if len(need) > 2 and need[2]:
        gb = gy.sum(axis=(0, *range(2, gy.ndim)))
    return gx, gw, gb


def conv_transpose_vjp(prep: Any, gy: np.ndarray, need: Sequence[bool]) -> tuple[Any, Any, Any]:
    """(dx, dw, db) of a prepared transposed convolution."""
    g, gy = prep.geom, _batched(gy, prep)
    gx = gw = gb = None
    if need[0] and need[1]:
        # Both read the same im2col columns of gy: build them once.
        gw, both = _k.conv_and_weight_grad_nd(
            gy, prep.x, g.kernel_size, g.stride, g.dilation, g.groups, g.lo, prep.w
        )
        assert both is not None
        gx = _unbatch(both, prep)
    elif need[0]:
        gx = _unbatch(_k.conv_nd(gy, prep.w, g.stride, g.dilation, g.groups, g.lo, g.in_size), prep)
    elif need[1]:
        # The transposed conv is the adjoint of a conv from its output to its input.
        gw = _k.conv_weight_grad_nd(gy, prep.x, g.kernel_size, g.stride, g.dilation, g.groups, g.lo)
    if len(need) > 2 and need[2]:
        gb = gy.sum(axis=(0, *range(2, gy.ndim)))
    return gx, gw, gb


def record_conv(prep: Any, inputs: tuple[Any, Any, Any], transpose: bool) -> Tensor:
    """Run a prepared (transposed) convolution and record it on the tape."""
    y = F.conv_transpose_forward(prep) if transpose else F.conv_forward(prep)
    need = [_needs(t) for t in inputs]
    vjp = conv_transpose_vjp if transpose else conv_vjp
    return record(y, inputs, lambda g: vjp(prep, g, need))


# -- torch.nn.grad's functions ---------------------------------------------------------


def _ghost(shape: Size, like: Any, what: str, fn: str) -> np.ndarray:
    """A read-only all-zero array of ``shape`` that takes no memory (for validation only)."""
    dtype = np.asarray(like).dtype
    try:
        dims = tuple(int(v) for v in shape)
    except TypeError:
        raise TypeError(f"{fn}: {what} must be a sequence of ints, got {shape!r}") from None
    return np.broadcast_to(np.zeros((), dtype=dtype if dtype.kind == "f" else np.float64), dims)


def _check_gy(gy: Any, prep: Any, fn: str, hint: str = "") -> np.ndarray:
    gy = np.asarray(gy)
    want = (
        prep.x.shape[0],
        prep.w.shape[1] * prep.geom.groups if "transpose" in fn else prep.w.shape[0],
        *prep.geom.out_size,
    )
    want = want if prep.batched else want[1:]
    if gy.shape != want:
        raise ValueError(
            f"{fn}: grad_output must have shape {want} for these arguments, got {gy.shape}{hint}"
        )
    return gy


def _out(a: np.ndarray, prep: Any) -> np.ndarray:
    return a.astype(prep.out_dtype, copy=False)


def _conv_input(
    n: int,
    input_size: Size,
    weight: Any,
    grad_output: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
) -> np.ndarray:
    fn = f"conv{n}d_input"
    size = tuple(input_size)
    size = size[-(n + 2) :] if len(size) >= n + 2 else size
    prep = F.prepare_conv(
        n,
        fn,
        _ghost(size, weight, "input_size", fn),
        weight,
        None,
        stride,
        padding,
        dilation,
        groups,
    )
    gy = _check_gy(grad_output, prep, fn)
    return _out(conv_vjp(prep, gy, (True, False))[0], prep)


def _conv_weight(
    n: int,
    input: Any,
    weight_size: Size,
    grad_output: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
) -> np.ndarray:
    fn = f"conv{n}d_weight"
    prep = F.prepare_conv(
        n,
        fn,
        input,
        _ghost(weight_size, input, "weight_size", fn),
        None,
        stride,
        padding,
        dilation,
        groups,
    )
    gy = _check_gy(grad_output, prep, fn)
    return _out(conv_vjp(prep, gy, (False, True))[1], prep)


def _tconv_input(
    n: int,
    input_size: Size,
    weight: Any,
    grad_output: Any,
    stride: Any,
    padding: Any,
    output_padding: Any,
    groups: int,
    dilation: Any,
) -> np.ndarray:
    fn = f"conv_transpose{n}d_input"
    size = tuple(input_size)
    prep = F.prepare_conv_transpose(
        n,
        fn,
        _ghost(size, weight, "input_size", fn),
        weight,
        None,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        None,
    )
    gy = _check_gy(grad_output, prep, fn, " (set output_padding to match)")
    return _out(conv_transpose_vjp(prep, gy, (True, False))[0], prep)


def _tconv_weight(
    n: int,
    input: Any,
    weight_size: Size,
    grad_output: Any,
    stride: Any,
    padding: Any,
    output_padding: Any,
    groups: int,
    dilation: Any,
) -> np.ndarray:
    fn = f"conv_transpose{n}d_weight"
    prep = F.prepare_conv_transpose(
        n,
        fn,
        input,
        _ghost(weight_size, input, "weight_size", fn),
        None,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        None,
    )
    gy = _check_gy(grad_output, prep, fn, " (set output_padding to match)")
    return _out(conv_transpose_vjp(prep, gy, (False, True))[1], prep)


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
    return _conv_input(1, input_size, weight, grad_output, stride, padding, dilation, groups)


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
    return _conv_input(2, input_size, weight, grad_output, stride, padding, dilation, groups)


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
    return _conv_input(3, input_size, weight, grad_output, stride, padding, dilation, groups)


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
    return _conv_weight(1, input, weight_size, grad_output, stride, padding, dilation, groups)


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
    return _conv_weight(2, input, weight_size, grad_output, stride, padding, dilation, groups)


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
    return _conv_weight(3, input, weight_size, grad_output, stride, padding, dilation, groups)


def conv_transpose1d_input(
    input_size: Size,
    weight: Any,
    grad_output: Any,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> np.ndarray:
    """Gradient of ``conv_transpose1d`` with respect to its input: a ``conv1d``.

    Arguments in ``conv_transpose1d``'s order (output_padding before groups).

    >>> w = np.array([[[1.0, 2.0, 3.0]]])
    >>> conv_transpose1d_input((1, 1, 7), w, np.array([[[0., 0., 1., 0., 0., 0., 0., 0., 0.]]]))
    array([[[3., 2., 1., 0., 0., 0., 0.]]])
    """
    return _tconv_input(
        1, input_size, weight, grad_output, stride, padding, output_padding, groups, dilation
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
) -> np.ndarray:
    """Gradient of ``conv_transpose2d`` with respect to its input (a ``conv2d``).

    >>> conv_transpose2d_input((1, 4, 8, 8), np.ones((4, 2, 4, 4)), np.ones((1, 2, 16, 16)),
    ...                        stride=2, padding=1).shape
    (1, 4, 8, 8)
    """
    return _tconv_input(
        2, input_size, weight, grad_output, stride, padding, output_padding, groups, dilation
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
) -> np.ndarray:
    """Gradient of ``conv_transpose3d`` with respect to its input (a ``conv3d``).

    >>> conv_transpose3d_input((1, 2, 2, 2, 2), np.ones((2, 1, 2, 2, 2)), np.ones((1, 1, 3, 3, 3))
    ...                        ).shape
    (1, 2, 2, 2, 2)
    """
    return _tconv_input(
        3, input_size, weight, grad_output, stride, padding, output_padding, groups, dilation
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
) -> np.ndarray:
    """Gradient of ``conv_transpose1d`` with respect to its weight (C_in, C_out/g, k).

    >>> conv_transpose1d_weight(np.array([[[1.0, 2.0]]]), (1, 1, 2), np.ones((1, 1, 3)))
    array([[[3., 3.]]])
    """
    return _tconv_weight(
        1, input, weight_size, grad_output, stride, padding, output_padding, groups, dilation
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
) -> np.ndarray:
    """Gradient of ``conv_transpose2d`` with respect to its weight.

    >>> conv_transpose2d_weight(np.ones((1, 4, 8, 8)), (4, 2, 4, 4), np.ones((1, 2, 16, 16)),
    ...                         stride=2, padding=1).shape
    (4, 2, 4, 4)
    """
    return _tconv_weight(
        2, input, weight_size, grad_output, stride, padding, output_padding, groups, dilation
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
) -> np.ndarray:
    """Gradient of ``conv_transpose3d`` with respect to its weight.

    >>> conv_transpose3d_weight(np.ones((1, 2, 2, 2, 2)), (2, 1, 2, 2, 2),
    ...                         np.ones((1, 1, 3, 3, 3))).shape
    (2, 1, 2, 2, 2)
    """
    return _tconv_weight(
        3, input, weight_size, grad_output, stride, padding, output_padding, groups, dilation
    )
