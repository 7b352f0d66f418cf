"""Analytic up-scaling: ``interpolate``, pixel shuffle, and the bridges to transposed convs.

The lecture's alternative to a transposed convolution is "an analytic up-scaling,
implemented in nn.functional.interpolate", usually followed by a convolution that
learns local corrections (the *resize-convolution* of Odena, Dumoulin & Olah 2016).
This module gives that up-scaling with PyTorch's exact semantics, and states the
two places where the two worlds meet, as functions:

* nearest up-scaling by an integer ``s`` followed by ``conv(w, padding=p)`` *is* a
  transposed convolution with stride ``s``, padding ``d(k-1) - p`` and kernel
  ``box_s * flip(w)`` (the zero-order hold convolved with the flipped kernel),
  exactly, borders included (:func:`as_conv_transpose`);
* linear up-scaling by 2 (``align_corners=False``) is the transposed convolution
  with kernel ``[.25, .75, .75, .25]``, stride 2, padding 1, except the first
  and last output samples, where ``interpolate`` clamps the source coordinate
  to the border while the transposed conv sees a zero (:func:`interpolation_kernel`).

Sizes, per spatial dim: ``out = size``, or ``floor(in * scale_factor)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Union

import numpy as np

from .. import _args
from ..autograd import any_tensor, record, unwrap
from ..kernels import resample as _r

__all__ = ["interpolate", "pixel_shuffle", "pixel_unshuffle"]

ArrayLike = Any
Size = Union[int, Sequence[int], None]
Scale = Union[float, Sequence[float], None]

MODES = (
    "nearest",
    "nearest-exact",
    "linear",
    "bilinear",
    "bicubic",
    "trilinear",
    "area",
    "lanczos",
)
_INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear", "lanczos")
_RANK = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5, "lanczos": 4}


def _check_size(size: Any, n: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    where = f": input of shape {shape} has {n} spatial dims"
    items = _args.ntuple(size, n, "size", "interpolate", broadcast_one=False, where=where)
    if any(v <= 0 for v in items):
        raise ValueError(f"interpolate: size must be positive (an empty output), got size={size!r}")
    return items


def _check_scale(scale_factor: Any, n: int, shape: tuple[int, ...]) -> tuple[float, ...]:
    where = f": input of shape {shape} has {n} spatial dims"
    fn = "interpolate"
    items = _args.ntuple(
        scale_factor, n, "scale_factor", fn, of=float, broadcast_one=False, where=where
    )
    if not all(math.isfinite(v) and v > 0 for v in items):
        raise ValueError(f"{fn}: scale_factor must be positive and finite, got {scale_factor!r}")
    return items


def _plan(
    x_shape: tuple[int, ...],
    size: Size,
    scale_factor: Scale,
    mode: str,
    align_corners: bool | None,
    recompute_scale_factor: bool | None,
    antialias: bool,
) -> tuple[tuple[int, ...], tuple[float | None, ...], bool]:
    """Validate as ``torch.nn.functional.interpolate`` does; return the output size, the
    scales handed to the coordinate map, and align_corners."""
    fn = "interpolate"
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"{fn}: unknown mode={mode!r}; expected one of {' | '.join(MODES)}")
    if align_corners is not None and not isinstance(align_corners, (bool, np.bool_)):
        raise TypeError(f"{fn}: align_corners must be None or a bool, got {align_corners!r}")
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError(
                f"{fn}: align_corners option can only be set with the interpolating modes: "
                f"linear | bilinear | bicubic | trilinear, got mode={mode!r} with "
                f"align_corners={align_corners}"
            )
    ndim = len(x_shape)
    if ndim not in (3, 4, 5):
        raise ValueError(
            f"{fn}: input must be 3-D (N, C, L), 4-D (N, C, H, W) or 5-D (N, C, D, H, W), "
            f"got {ndim}-D input of shape {x_shape}"
        )
    need = _RANK.get(mode)
    if need is not None and ndim != need:
        hint = " (for an unbatched input add a batch dim: x[None])" if ndim == need - 1 else ""
        raise ValueError(
            f"{fn}: Got {ndim}D input, but {mode} mode needs {need}D input{hint}; "
            f"input shape {x_shape}"
        )
    n = ndim - 2
    spatial = x_shape[2:]
    if any(v == 0 for v in spatial):
        raise ValueError(f"{fn}: input spatial sizes must be positive, got shape {x_shape}")
    if size is not None and scale_factor is not None:
        raise ValueError(
            f"{fn}: only one of size or scale_factor should be defined, got "
            f"size={size!r} and scale_factor={scale_factor!r}"
        )
    if size is None and scale_factor is None:
        raise ValueError(f"{fn}: either size or scale_factor should be defined (both are None)")
    if recompute_scale_factor and size is not None:
        raise ValueError(
            f"{fn}: recompute_scale_factor is not meaningful with an explicit size (size={size!r})"
        )
    if antialias and mode not in ("bilinear", "bicubic", "lanczos"):
        raise ValueError(
            f"{fn}: Anti-alias option is restricted to bilinear, bicubic and lanczos modes "
            f"(4-D input), got antialias=True with mode={mode!r}"
        )
    if mode == "lanczos" and (align_corners or not antialias):
        raise ValueError(
            f"{fn}: lanczos mode requires antialias=True and align_corners "
            f"False or None, got antialias={antialias}, "
            f"align_corners={align_corners}"
        )
    if size is not None:
        out = _check_size(size, n, x_shape)
        scales: tuple[float | None, ...] = (None,) * n
    else:
        sf = _check_scale(scale_factor, n, x_shape)
        prods = tuple(L * s for L, s in zip(spatial, sf))
        if not all(math.isfinite(v) for v in prods):
            raise ValueError(
                f"{fn}: scale_factor={scale_factor!r} is too large: input spatial size "
                f"{spatial} times it overflows a float; the output could not be allocated"
            )
        out = tuple(math.floor(v) for v in prods)
        if any(o <= 0 for o in out):
            raise ValueError(
                f"{fn}: empty output: input spatial size {spatial} times "
                f"scale_factor={scale_factor!r} gives output size {out}; sizes must be positive"
            )
        recompute = recompute_scale_factor or mode == "area"
        scales = (None,) * n if recompute else sf
    return out, scales, bool(align_corners)


def _tables(
    mode: str,
    x_shape: tuple[int, ...],
    out: tuple[int, ...],
    scales: tuple[float | None, ...],
    align_corners: bool,
    antialias: bool,
    dtype: type,
    backward: bool,
) -> list[_r.AxisTable]:
    """One table per spatial axis; ``backward`` gives the ones PyTorch's gradient uses."""
    n_in = x_shape[2:]
    n = len(n_in)
    if mode in ("nearest", "nearest-exact"):
        # PyTorch's vectorised kernels use nearest_idx (and so does every backward pass)
        legacy = backward or (
            (n == 2 and sum(out) <= 128) or (n > 1 and x_shape[1] > 3 and math.prod(n_in) == 1)
        )
        return [
            _r.nearest_table(i, o, s, mode == "nearest-exact", dtype, legacy)
            for i, o, s in zip(n_in, out, scales)
        ]
    if mode == "area":
        return [_r.area_table(i, o) for i, o in zip(n_in, out)]
    if antialias or mode == "lanczos":
        return [
            _r.aa_table(i, o, s, align_corners, mode, dtype, skip_same=not backward)
            for i, o, s in zip(n_in, out, scales)
        ]
    if mode == "bicubic":
        if backward and tuple(n_in) == tuple(out):  # PyTorch's backward copies here
            return [_r.identity_table(i) for i in n_in]
        return [_r.cubic_table(i, o, s, align_corners, dtype) for i, o, s in zip(n_in, out, scales)]
    return [_r.linear_table(i, o, s, align_corners, dtype) for i, o, s in zip(n_in, out, scales)]


def interpolate(
    input: ArrayLike,
    size: Size = None,
    scale_factor: Scale = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Any:
    """Up- or down-sample ``input`` ``(N, C, *spatial)``, as ``torch.nn.functional.interpolate``.

    Output ``(N, C, *out)`` with ``out = size`` or ``floor(in * scale_factor)`` per dim.
    float32 and float64 are preserved; Tensor in, Tensor out (differentiable).

    Parameters
    ----------
    input : array_like or Tensor
        ``(N, C, *spatial)`` with 1 to 3 spatial dims.
    size : int or tuple of int, optional
        The output's spatial size; give it or ``scale_factor``, not both.
    scale_factor : float or tuple of float, optional
        The factor per spatial dim.
    mode : str
        ``'nearest'``, ``'nearest-exact'``, ``'area'`` (1-3 spatial dims), ``'linear'``
        (3-D input), ``'bilinear'`` and ``'bicubic'`` (4-D; ``antialias`` allowed),
        ``'trilinear'`` (5-D), ``'lanczos'`` (4-D, ``antialias=True``).
    align_corners : bool, optional
        For the interpolating modes only: map the corner samples onto each other.
    recompute_scale_factor : bool, optional
        The coordinate map uses ``1/scale_factor`` as given, or ``in/out`` with
        ``recompute_scale_factor``, with ``size``, and always for ``'area'``.
    antialias : bool
        Low-pass filter when down-sampling (bilinear, bicubic, lanczos).

    Returns
    -------
    numpy.ndarray or Tensor
        ``(N, C, *out)``, PyTorch's values.

    Raises
    ------
    ValueError
        A mode that does not fit the input's dims, both or neither of ``size`` and
        ``scale_factor``, ``align_corners`` with a non-interpolating mode; the message
        names the argument and the rule.

    Examples
    --------
    >>> interpolate(np.array([[[1.0, 2.0]]]), scale_factor=2, mode="linear")
    array([[[1.  , 1.25, 1.75, 2.  ]]])
    >>> interpolate(np.array([[[1.0, 2.0]]]), size=3, mode="linear", align_corners=True)
    array([[[1. , 1.5, 2. ]]])
    >>> interpolate(np.ones((1, 3, 4, 4), np.float32), scale_factor=(2, 0.5)).shape
    (1, 3, 8, 2)
    """
    x = _args.as_array(unwrap(input), "input", "interpolate")
    out, scales, ac = _plan(
        x.shape, size, scale_factor, mode, align_corners, recompute_scale_factor, bool(antialias)
    )
    dtype, out_dtype = _args.compute_dtype(x)
    because = f"size={size!r}" if size is not None else f"scale_factor={scale_factor!r}"
    _args.check_output_size("interpolate", (*x.shape[:2], *out), out_dtype, because)
    xd = x.astype(dtype, copy=False)
    fwd = _tables(mode, x.shape, out, scales, ac, bool(antialias), dtype.type, backward=False)
    y = _args.owned(_r.resample(xd, fwd).astype(out_dtype, copy=False), x, xd)
    if not any_tensor(input):
        return y

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        bwd = _tables(mode, x.shape, out, scales, ac, bool(antialias), dtype.type, backward=True)
        return (_r.resample_adjoint(np.asarray(g, dtype=dtype), bwd),)

    return record(y, (input,), vjp)


def _shuffle_args(input: ArrayLike, factor: Any, fn: str, name: str) -> tuple[np.ndarray, int]:
    x = _args.as_array(unwrap(input), "input", fn)
    r = _args.positive_int(factor, name, fn)
    if x.ndim < 3:
        raise ValueError(
            f"{fn}: input must have at least 3 dims (*, C, H, W), got "
            f"{x.ndim}-D input of shape {x.shape}"
        )
    return x, r


def pixel_shuffle(input: ArrayLike, upscale_factor: int) -> Any:
    """Rearrange ``(*, C r^2, H, W)`` into ``(*, C, H r, W r)``, as
    ``torch.nn.functional.pixel_shuffle``:
    ``out[..., c, h r + i, w r + j] = in[..., c r^2 + i r + j, h, w]``.

    >>> pixel_shuffle(np.arange(8.0).reshape(1, 8, 1, 1), 2)[0]
    array([[[0., 1.],
            [2., 3.]],
    <BLANKLINE>
           [[4., 5.],
            [6., 7.]]])
    """
    fn = "pixel_shuffle"
    x, r = _shuffle_args(input, upscale_factor, fn, "upscale_factor")
    if x.shape[-3] % (r * r):
        raise ValueError(
            f"{fn}: the channel dim (input.shape[-3]={x.shape[-3]}) must be divisible by "
            f"upscale_factor**2 = {r * r}; input shape {x.shape}"
        )
    # The kernel returns a view when the rearrangement is one (r = 1, or H = W = 1):
    # copy then only, so that the result never aliases the input.
    y = _args.owned(_r.pixel_shuffle(x, r), x)
    if not any_tensor(input):
        return y
    return record(y, (input,), lambda g: (_r.pixel_unshuffle(np.asarray(g), r),))


def pixel_unshuffle(input: ArrayLike, downscale_factor: int) -> Any:
    """Rearrange ``(*, C, H r, W r)`` into ``(*, C r^2, H, W)``: the inverse of
    :func:`pixel_shuffle`.

    >>> pixel_unshuffle(np.arange(4.0).reshape(1, 1, 2, 2), 2).ravel()
    array([0., 1., 2., 3.])
    """
    fn = "pixel_unshuffle"
    x, r = _shuffle_args(input, downscale_factor, fn, "downscale_factor")
    for name, v in (("height", x.shape[-2]), ("width", x.shape[-1])):
        if v % r:
            raise ValueError(
                f"{fn}: the {name} ({v}) must be divisible by "
                f"downscale_factor={r}; input shape {x.shape}"
            )
    y = _args.owned(_r.pixel_unshuffle(x, r), x)
    if not any_tensor(input):
        return y
    return record(y, (input,), lambda g: (_r.pixel_shuffle(np.asarray(g), r),))
