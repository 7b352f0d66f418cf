"""Convolutions and transposed convolutions, as ``torch.nn.functional``.

Names, signatures and argument order follow ``torch.nn.functional``. One N-d
implementation serves each family; the rank wrappers only fix the number of
spatial dims. Arguments are normalised and validated here, once, and the
kernels in :mod:`tconv.kernels` do the arithmetic.

Shapes, per spatial dim (k kernel size, s stride, p padding, d dilation,
a output_padding; see :mod:`tconv.shapes`)::

    conv:            L_out = floor((L_in + 2p - d(k-1) - 1) / s) + 1
    conv_transpose:  L_out = (L_in - 1) s - 2p + d(k-1) + a + 1

``padding`` also takes per-dim ``(lo, hi)`` pairs (``2p`` becomes ``lo + hi``; a
transposed convolution's may be negative: zeros appended), and the transposed
convolutions take ``padding='same'`` (``L_out = L_in s``), ``'valid'`` and
``padding_mode='circular'`` (keyword only; Flax's periodic fold).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np

from .. import _args, shapes
from ..autograd import Tensor, any_tensor, record
from ..kernels import conv as _k
from ..kernels._layout import fold_periods, tile_periods
from ..shapes import ConvGeometry

ArrayLike = Any
IntOrTuple = Union[int, Sequence[int]]
#: an int, one int per dim (symmetric), per-dim ``(lo, hi)`` pairs, 'same' or 'valid'
Padding = shapes.Padding

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
]


@dataclass
class _Prepared:
    """One validated call: arrays in the compute dtype, batched, and the geometry."""

    x: np.ndarray  # batched (N, C, *L), in the compute dtype
    w: np.ndarray
    b: np.ndarray | None
    geom: ConvGeometry
    batched: bool
    out_dtype: np.dtype

    def batch(self, a: Any) -> np.ndarray:
        """An array shaped like this call's output or input, batched, in the compute dtype."""
        a = np.asarray(a).astype(self.x.dtype, copy=False)
        return a if self.batched else a[None]

    def unbatch(self, a: np.ndarray) -> np.ndarray:
        """Undo :meth:`batch`."""
        return a if self.batched else a[0]

    def finish(self, a: np.ndarray) -> np.ndarray:
        """Undo :meth:`batch`, cast to the result dtype, and never return a view of an input."""
        y = self.unbatch(a).astype(self.out_dtype, copy=False)
        return _args.owned(y, self.x, self.w, self.b)


def _arrays(
    n: int, fn: str, input: ArrayLike, weight: ArrayLike, bias: ArrayLike | None, transposed: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, bool, np.dtype]:
    x = _args.as_array(input, "input", fn)
    w = _args.as_array(weight, "weight", fn)
    b = None if bias is None else _args.as_array(bias, "bias", fn)
    if w.ndim != n + 2:
        channels = (
            "in_channels, out_channels/groups" if transposed else "out_channels, in_channels/groups"
        )
        raise ValueError(
            f"{fn}: weight must be {n + 2}-D ({channels}, *kernel_size) for {n} spatial dims, "
            f"got {w.ndim}-D weight of shape {w.shape}"
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


def _check_channels(
    fn: str, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, g: int, transposed: bool
) -> None:
    c_in = x.shape[1]
    if c_in % g:
        raise ValueError(f"{fn}: groups={g} must divide in_channels={c_in} (input.shape[1])")
    if transposed:
        if c_in != w.shape[0]:
            raise ValueError(
                f"{fn}: input has {c_in} channels but weight of shape {w.shape} expects "
                f"weight.shape[0] = {w.shape[0]} (transposed weights are "
                "(in_channels, out_channels/groups, *kernel_size))"
            )
        c_out = w.shape[1] * g
    else:
        c_out = w.shape[0]
        if c_out % g:
            raise ValueError(
                f"{fn}: groups={g} must divide out_channels={c_out} (weight.shape[0] of weight "
                f"with shape {w.shape})"
            )
        if c_in != w.shape[1] * g:
            fit = c_in // w.shape[1] if c_in % w.shape[1] == 0 else 0
            raise ValueError(
                f"{fn}: input has {c_in} channels but weight of shape {w.shape} with groups={g} "
                f"expects weight.shape[1] * groups = {w.shape[1] * g}"
                + (
                    f"; for {c_in} input channels use groups={fit}"
                    if fit and c_out % fit == 0
                    else ""
                )
            )
    if b is not None and b.shape != (c_out,):
        raise ValueError(
            f"{fn}: bias must have shape ({c_out},), one value per output channel, "
            f"got shape {b.shape}"
        )


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
    """Validate a convolution call (:func:`tconv.shapes.conv_geometry`) and return arrays
    plus geometry."""
    x, w, b, batched, out_dtype = _arrays(n, fn, input, weight, bias, transposed=False)
    size, k = tuple(x.shape[2:]), tuple(w.shape[2:])
    geom = shapes.conv_geometry(fn, size, k, stride, padding, dilation, groups)
    _check_channels(fn, x, w, b, geom.groups, transposed=False)
    shape = (x.shape[0], w.shape[0], *geom.out_size)[0 if batched else 1 :]
    _args.check_output_size(
        fn,
        shape,
        out_dtype,
        f"stride={geom.stride}, padding={padding!r}, dilation={geom.dilation}, "
        f"kernel_size={k} for input of shape {x.shape if batched else x.shape[1:]}",
    )
    return _Prepared(x, w, b, geom, batched, out_dtype)


def prepare_conv_transpose(
    n: int,
    fn: str,
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None,
    stride: IntOrTuple,
    padding: Padding,
    output_padding: IntOrTuple,
    groups: int,
    dilation: IntOrTuple,
    output_size: Sequence[int] | int | None = None,
    padding_mode: str = "zeros",
) -> _Prepared:
    """Validate a transposed-convolution call (:func:`tconv.shapes.conv_transpose_geometry`)
    and return arrays plus geometry."""
    x, w, b, batched, out_dtype = _arrays(n, fn, input, weight, bias, transposed=True)
    size, k = tuple(x.shape[2:]), tuple(w.shape[2:])
    geom = shapes.conv_transpose_geometry(
        fn,
        size,
        k,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
        output_size,
        non_spatial_dims=2 if batched else 1,
        padding_mode=padding_mode,
    )
    _check_channels(fn, x, w, b, geom.groups, transposed=True)
    c_out = w.shape[1] * geom.groups
    shape = (x.shape[0], c_out, *geom.out_size)[0 if batched else 1 :]
    _args.check_output_size(
        fn,
        shape,
        out_dtype,
        f"stride={geom.stride}, padding={padding!r}, output_padding={geom.output_padding}, "
        f"dilation={geom.dilation}, kernel_size={k}"
        + ("" if output_size is None else f", output_size={output_size!r}")
        + f" for input of shape {x.shape if batched else x.shape[1:]}",
    )
    return _Prepared(x, w, b, geom, batched, out_dtype)


# -- forward and VJP, side by side --------------------------------------------------------


def conv_forward(prep: _Prepared) -> np.ndarray:
    g = prep.geom
    y = _k.conv_nd(prep.x, prep.w, g.stride, g.dilation, g.groups, g.lo, g.out_size, prep.b)
    return prep.finish(y)  # the kernels have added the bias


def conv_transpose_forward(prep: _Prepared) -> np.ndarray:
    g = prep.geom
    if g.padding_mode == "circular":
        # the full output (in whole periods), then each period summed onto the output
        u = g.unwrapped()
        y = _k.conv_transpose_nd(prep.x, prep.w, u.stride, u.dilation, u.groups, u.lo, u.out_size)
        y = fold_periods(y, g.out_size)
        if prep.b is not None:
            y += prep.b.reshape((1, -1) + (1,) * len(g.out_size))
        return prep.finish(y)
    y = _k.conv_transpose_nd(
        prep.x, prep.w, g.stride, g.dilation, g.groups, g.lo, g.out_size, prep.b
    )
    return prep.finish(y)


def _bias_grad(gy: np.ndarray) -> np.ndarray:
    return gy.sum(axis=(0, *range(2, gy.ndim)))


def conv_vjp(prep: _Prepared, gy: Any, need: Sequence[bool]) -> tuple[Any, Any, Any]:
    """(dx, dw, db) of a prepared convolution, each None where ``need`` says so.

    dx is the transposed convolution of ``gy`` with the same (s, p, d, groups), cut to
    the input's size; dw correlates the input with ``gy``; db sums ``gy``. All in the
    compute dtype.
    """
    g, gy = prep.geom, prep.batch(gy)
    gx = gw = gb = None
    if need[0]:
        gx = prep.unbatch(
            _k.conv_transpose_nd(gy, prep.w, g.stride, g.dilation, g.groups, g.lo, g.in_size)
        )
    if need[1]:
        gw = _k.conv_weight_grad_nd(prep.x, gy, g.kernel_size, g.stride, g.dilation, g.groups, g.lo)
    if len(need) > 2 and need[2]:
        gb = _bias_grad(gy)
    return gx, gw, gb


def conv_transpose_vjp(prep: _Prepared, gy: Any, need: Sequence[bool]) -> tuple[Any, Any, Any]:
    """(dx, dw, db) of a prepared transposed convolution: dx is the convolution of ``gy``,
    dw the correlation of ``gy`` with the input (the roles of :func:`conv_vjp` swapped).
    A circular one's fold sums periods; its adjoint tiles ``gy`` over them first."""
    g, gy = prep.geom, prep.batch(gy)
    gx = gw = gb = None
    if len(need) > 2 and need[2]:
        gb = _bias_grad(gy)
    if g.padding_mode == "circular":
        g = g.unwrapped()
        gy = tile_periods(gy, tuple(u // p for u, p in zip(g.out_size, prep.geom.out_size)))
    if need[0] and need[1]:
        # Both read the same im2col columns of gy: build them once.
        gw, both = _k.conv_and_weight_grad_nd(
            gy, prep.x, g.kernel_size, g.stride, g.dilation, g.groups, g.lo, prep.w
        )
        assert both is not None  # the kernel returns dx whenever it is given the weight
        gx = prep.unbatch(both)
    elif need[0]:
        gx = prep.unbatch(_k.conv_nd(gy, prep.w, g.stride, g.dilation, g.groups, g.lo, g.in_size))
    elif need[1]:
        # The transposed conv is the adjoint of a conv from its output to its input.
        gw = _k.conv_weight_grad_nd(gy, prep.x, g.kernel_size, g.stride, g.dilation, g.groups, g.lo)
    return gx, gw, gb


def record_conv(prep: _Prepared, inputs: tuple[Any, Any, Any], transposed: bool) -> Tensor:
    """Run a prepared (transposed) convolution and record it, with its VJP, on the tape."""
    y = conv_transpose_forward(prep) if transposed else conv_forward(prep)
    need = [isinstance(t, Tensor) and t.requires_grad for t in inputs]
    vjp = conv_transpose_vjp if transposed else conv_vjp
    return record(y, inputs, lambda gy: vjp(prep, gy, need))


def _run(transposed: bool, n: int, input: Any, weight: Any, bias: Any, *args: Any) -> Any:
    """Validate, then compute: arrays in -> an array; a Tensor in -> a recorded Tensor."""
    fn = f"conv_transpose{n}d" if transposed else f"conv{n}d"
    prepare = prepare_conv_transpose if transposed else prepare_conv
    x, w, b = (t.data if isinstance(t, Tensor) else t for t in (input, weight, bias))
    prep = prepare(n, fn, x, w, b, *args)
    if any_tensor(input, weight, bias):
        return record_conv(prep, (input, weight, bias), transposed)
    return conv_transpose_forward(prep) if transposed else conv_forward(prep)


def _conv(n: int, input: Any, weight: Any, bias: Any, *args: Any) -> Any:
    return _run(False, n, input, weight, bias, *args)


def _conv_transpose(n: int, input: Any, weight: Any, bias: Any, *args: Any) -> Any:
    return _run(True, n, input, weight, bias, *args)


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

    ``y[n, o, j] = bias[o] + sum_{c, t} x[n, c, j s + t d - lo] w[o, c, t]`` over the input
    channels ``c`` of output channel ``o``'s group, zeros outside the input; per spatial
    dim ``L_out = floor((L + 2p - d(k-1) - 1) / s) + 1``.

    Parameters
    ----------
    input : array_like or Tensor
        ``(N, C_in, L)``, or ``(C_in, L)`` unbatched. A Tensor records the op for backward.
    weight : array_like or Tensor
        ``(C_out, C_in/groups, k)``.
    bias : array_like or Tensor, optional
        ``(C_out,)``.
    stride, dilation : int or tuple of int
        ``s`` and ``d``, per spatial dim.
    padding : int, tuple, 'same', 'valid' or tuple of (lo, hi) pairs
        ``p`` zeros on both sides; ``'same'`` (stride 1 only) keeps the size and
        ``'valid'`` is 0; beyond PyTorch, one ``(lo, hi)`` pair per spatial dim
        (``((lo, hi),)`` in 1-d) pads ``lo`` zeros before the input and ``hi`` after
        (``2p`` becomes ``lo + hi``).
    groups : int
        Input and output channels split into this many groups.

    Returns
    -------
    numpy.ndarray or Tensor
        ``(N, C_out, L_out)`` (or unbatched), in the operands' promoted float dtype.

    Raises
    ------
    ValueError, TypeError
        A bad shape, size or argument, naming the argument, the rule and the value.

    Examples
    --------
    The lecture's example, ``y_i = sum_a x_{i+a-1} k_a``:

    >>> conv1d([[[0., 0., 1., 0., 0., 0., 0.]]], [[[1., 2., 3.]]])
    array([[[3., 2., 1., 0., 0.]]])
    >>> conv1d([[[1., 2., 3.]]], [[[1., 1.]]], padding=((1, 0),))   # causal
    array([[[1., 3., 5.]]])
    """
    return _conv(1, input, weight, bias, stride, padding, dilation, groups)


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
    return _conv(2, input, weight, bias, stride, padding, dilation, groups)


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
    return _conv(3, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
    *,
    output_size: Sequence[int] | int | None = None,
    padding_mode: str = "zeros",
) -> Any:
    """1-D transposed convolution, as ``torch.nn.functional.conv_transpose1d``.

    ``full[n, o, i s + t d] += x[n, c, i] w[c, o, t]`` over the input channels ``c`` of
    output channel ``o``'s group, cropped ``y[j] = full[j + lo]``; per spatial dim
    ``L_out = (L - 1) s - 2p + d(k-1) + a + 1``, ``a`` the output_padding. It is the
    input gradient of :func:`conv1d` with the same arguments.

    Parameters
    ----------
    input : array_like or Tensor
        ``(N, C_in, L)``, or ``(C_in, L)`` unbatched. A Tensor records the op for backward.
    weight : array_like or Tensor
        ``(C_in, C_out/groups, k)``.
    bias : array_like or Tensor, optional
        ``(C_out,)``.
    stride, dilation : int or tuple of int
        ``s`` and ``d``, per spatial dim.
    padding : int, tuple, 'same', 'valid' or tuple of (lo, hi) pairs
        ``p``: the full output is cropped by ``p`` on both sides. Beyond PyTorch
        (:mod:`tconv.shapes` has the sizes): per-dim ``(lo, hi)`` pairs, ``((lo, hi),)``
        in 1-d, crop ``lo`` at the start and ``hi`` at the end, ``L_out = (L - 1) s +
        d(k-1) + a + 1 - lo - hi``, and a negative value appends that many zeros on its
        side. ``'same'`` gives ``L_out = L s``: the crop ``total = d(k-1) + 1 - s`` is
        split ``lo = total // 2``, the odd one at the end, as TF, JAX and ONNX
        SAME_UPPER do; when ``d(k-1) + 1 < s``, ``s - d(k-1) - 1`` zeros are appended
        at the end (as TF and JAX; see :func:`tconv.shapes.conv_transpose_same_padding`).
        It takes no output_padding, and an ``output_size`` only of ``L s``. ``'valid'``
        is 0.
    output_padding : int or tuple of int
        ``a``, added at the end, ``a < max(s, d)`` (PyTorch's rule).
    groups : int
        Input and output channels split into this many groups.
    output_size : int or sequence of int, optional
        Keyword only, as ``nn.ConvTranspose1d.forward`` takes it: picks ``a``, and must
        lie in ``[L_min, L_min + s - 1]``. As there, it may lead with the non-spatial
        sizes: (N, C, *spatial) for a batched input, (C, *spatial) for an unbatched one.
    padding_mode : {'zeros', 'circular'}
        Keyword only. ``'circular'`` (Flax's ``padding='CIRCULAR'``): the full output is
        folded periodically onto ``L_out = L s``, ``y[j] = sum_m full[j + lo + m L s]``,
        with ``lo`` the int padding (or the 'same' split's); it takes no pairs and no
        output_padding.

    Returns
    -------
    numpy.ndarray or Tensor
        ``(N, C_out, L_out)`` (or unbatched), in the operands' promoted float dtype.

    Raises
    ------
    ValueError, TypeError
        A bad shape, size or argument (an ``output_size`` out of reach, an
        ``output_padding`` too large), naming the argument, the rule and the value,
        with the arguments that would reach the size.

    Examples
    --------
    Each input sample adds a scaled copy of the kernel to the output (the
    lecture's "weighted sum of translated kernels"):

    >>> conv_transpose1d([[[0., 0., 1., 0., 0., 0., 0.]]], [[[1., 2., 3.]]])
    array([[[0., 0., 1., 2., 3., 0., 0., 0., 0.]]])
    >>> conv_transpose1d([[[2., 3., 0., -1.]]], [[[1., 2., -1.]]])
    array([[[ 2.,  7.,  4., -4., -2.,  1.]]])
    >>> conv_transpose1d(np.ones((1, 1, 16)), np.ones((1, 1, 3)), stride=2, padding=1,
    ...                  output_size=32).shape
    (1, 1, 32)
    >>> conv_transpose1d(np.ones((1, 16)), np.ones((1, 1, 3)), stride=2, padding=1,
    ...                  output_size=(1, 32)).shape
    (1, 32)
    >>> x, w = [[[1., 2., 3.]]], [[[1., 1., 1.]]]
    >>> conv_transpose1d(x, w, stride=2)                      # the full output
    array([[[1., 1., 3., 2., 5., 3., 3.]]])
    >>> conv_transpose1d(x, w, stride=2, padding=((2, -1),))  # crop 2, one zero appended
    array([[[3., 2., 5., 3., 3., 0.]]])
    >>> conv_transpose1d(x, w, stride=2, padding="same")      # crop (0, 1): 3 * 2 outputs
    array([[[1., 1., 3., 2., 5., 3.]]])
    >>> conv_transpose1d(x, w, stride=2, padding_mode="circular")  # the last 3 wraps to 0
    array([[[4., 1., 3., 2., 5., 3.]]])
    """
    return _conv_transpose(
        1, input, weight, bias, stride, padding, output_padding, groups, dilation, output_size,
        padding_mode,
    )  # fmt: skip


def conv_transpose2d(
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
    *,
    output_size: Sequence[int] | int | None = None,
    padding_mode: str = "zeros",
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
        2, input, weight, bias, stride, padding, output_padding, groups, dilation, output_size,
        padding_mode,
    )  # fmt: skip


def conv_transpose3d(
    input: ArrayLike,
    weight: ArrayLike,
    bias: ArrayLike | None = None,
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    output_padding: IntOrTuple = 0,
    groups: int = 1,
    dilation: IntOrTuple = 1,
    *,
    output_size: Sequence[int] | int | None = None,
    padding_mode: str = "zeros",
) -> Any:
    """3-D transposed convolution, as ``torch.nn.functional.conv_transpose3d``.

    input (N, C_in, D, H, W) or (C_in, D, H, W); weight (C_in, C_out/groups, kD, kH, kW).
    Output size per dim as :func:`conv_transpose1d`.

    >>> conv_transpose3d(np.ones((2, 4, 8, 8, 8)), np.ones((4, 3, 4, 4, 4)), stride=2,
    ...                  padding=1).shape
    (2, 3, 16, 16, 16)
    """
    return _conv_transpose(
        3, input, weight, bias, stride, padding, output_padding, groups, dilation, output_size,
        padding_mode,
    )  # fmt: skip
