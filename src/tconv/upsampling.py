"""The bridges between up-scaling + convolution and transposed convolution.

The lecture's alternative to a transposed convolution is "an analytic up-scaling,
implemented in nn.functional.interpolate", usually followed by a convolution that
learns local corrections (the *resize-convolution* of Odena, Dumoulin & Olah 2016).
The up-scaling itself is :func:`tconv.functional.interpolate` (also importable from
here); this module states the two places where the two worlds meet, as functions:

* nearest up-scaling by an integer ``s`` followed by ``conv(w, padding=p)`` *is* a
  transposed convolution with stride ``s``, padding ``d(k-1) - p`` and kernel
  ``box_s * flip(w)`` (the zero-order hold convolved with the flipped kernel),
  exactly, borders included (:func:`as_conv_transpose`);
* linear up-scaling by 2 (``align_corners=False``) is the transposed convolution
  with kernel ``[.25, .75, .75, .25]``, stride 2, padding 1, except the first
  and last output samples, where ``interpolate`` clamps the source coordinate
  to the border while the transposed conv sees a zero (:func:`interpolation_kernel`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _args
from .autograd import unwrap
from .functional.upsampling import interpolate, pixel_shuffle, pixel_unshuffle

__all__ = [
    "as_conv_transpose",
    "interpolate",
    "interpolation_kernel",
    "pixel_shuffle",
    "pixel_unshuffle",
]

ArrayLike = Any


# ---------------------------------------------------------------------------
# Bridges between up-scaling + convolution and transposed convolution


def interpolation_kernel(scale_factor: int, mode: str = "nearest") -> tuple[np.ndarray, int]:
    """The 1-D transposed-convolution kernel and padding of an integer up-scaling.

    ``interpolate(x, scale_factor=s, mode=mode)`` along one axis equals
    ``conv_transpose1d(x, kernel, stride=s, padding=padding)`` per channel:

    * ``nearest``: the zero-order hold ``kernel = ones(s)``, ``padding = 0``; exact.
    * ``linear`` (``align_corners=False``): the triangle
      ``kernel[t] = 1 - |t - c| / s`` (length ``2s`` for even ``s``, centre
      ``c = s - 1/2``; length ``2s - 1``, ``c = s - 1`` for odd ``s``),
      ``padding = s // 2``. Exact except the first and last ``s // 2`` outputs:
      there the source coordinate falls left of sample 0 (or right of the last),
      which ``interpolate`` clamps to the border sample, while the transposed
      convolution reads a zero. Higher ranks: the tensor product, per axis.

    >>> interpolation_kernel(2, "linear")
    (array([0.25, 0.75, 0.75, 0.25]), 1)
    >>> interpolation_kernel(3, "nearest")
    (array([1., 1., 1.]), 0)
    """
    s = _args.positive_int(scale_factor, "scale_factor", "interpolation_kernel")
    if mode == "nearest":
        return np.ones(s), 0
    if mode in ("linear", "bilinear", "trilinear"):
        length = 2 * s - s % 2
        c = (length - 1) / 2
        return 1.0 - np.abs(np.arange(length) - c) / s, s // 2
    raise ValueError(
        f"interpolation_kernel: mode must be 'nearest' or 'linear' (also "
        f"'bilinear', 'trilinear'), got mode={mode!r}"
    )


def _full_conv_axis(w: np.ndarray, h: np.ndarray, axis: int) -> np.ndarray:
    """Full 1-D convolution of every kernel in ``w`` with ``h`` along ``axis`` (a loop over
    the few taps of ``h``)."""
    shape = list(w.shape)
    shape[axis] += h.size - 1
    out = np.zeros(shape, dtype=np.result_type(w, h))
    for j, hj in enumerate(h):
        sl = [slice(None)] * w.ndim
        sl[axis] = slice(j, j + w.shape[axis])
        out[tuple(sl)] += hj * w
    return out


def as_conv_transpose(
    weight: ArrayLike,
    scale_factor: int | Sequence[int],
    padding: int | Sequence[int] = 0,
    mode: str = "nearest",
    groups: int = 1,
    dilation: int | Sequence[int] = 1,
) -> tuple[np.ndarray, tuple[int, ...], tuple[int, ...]]:
    """The transposed convolution equal to a resize-convolution.

    ``conv{n}d(interpolate(x, scale_factor=s, mode=mode), weight, bias, padding=p,
    dilation=d, groups=g)`` equals ``conv_transpose{n}d(x, weight_t, bias, stride=s,
    padding=padding_t, groups=g)`` with ``(weight_t, s, padding_t)`` returned here.

    With ``u = x`` up-scaled, ``y[o] = sum_t w[t] u[o + t d - p]``; the up-scaling is
    itself the transposed convolution of ``x`` with the interpolation kernel ``h``
    (:func:`interpolation_kernel`, its padding ``q``), and a correlation with ``w``
    after a transposed convolution is one transposed convolution with kernel
    ``h * flip(w dilated by d)`` (full convolution) and padding ``q + d(k-1) - p``.
    Input and output channels swap: ``weight`` is (C_out, C_in/g, *k), ``weight_t``
    is (C_in, C_out/g, *K) with ``K = k' + len(h) - 1``, ``k' = d(k-1) + 1``.

    * ``mode='nearest'``: exact, borders included (``h`` is the s-box).
    * ``mode='linear'``/``'bilinear'``/``'trilinear'`` (``align_corners=False``):
      exact except the first and last ``s // 2 + p`` outputs along each dim, where
      ``interpolate`` clamps to the border (see :func:`interpolation_kernel`).

    Requires ``padding_t >= 0``, i.e. ``p <= q + d(k-1)``.

    >>> w_t, stride, pad = as_conv_transpose(np.array([[[1.0, 2.0, 3.0]]]), 2, padding=1)
    >>> w_t, stride, pad
    (array([[[3., 5., 3., 1.]]]), (2,), (1,))
    """
    fn = "as_conv_transpose"
    w = _args.as_array(unwrap(weight), "weight", fn)
    w = w.astype(_args.compute_dtype(w)[0], copy=False)
    n = w.ndim - 2
    if n < 1:
        raise ValueError(
            f"{fn}: weight must be (C_out, C_in/groups, *kernel_size), got shape {w.shape}"
        )
    s = _args.positive_ntuple(scale_factor, n, "scale_factor", fn)
    p = _args.non_negative_ntuple(padding, n, "padding", fn)
    d = _args.positive_ntuple(dilation, n, "dilation", fn)
    g = _args.positive_int(groups, "groups", fn)
    if w.shape[0] % g:
        raise ValueError(
            f"{fn}: groups={g} must divide out_channels={w.shape[0]} (weight.shape[0])"
        )
    # flip and dilate the spatial taps
    k = w.shape[2:]
    wd = np.zeros(w.shape[:2] + tuple(di * (ki - 1) + 1 for di, ki in zip(d, k)), w.dtype)
    taps = tuple(slice(None, None, di) for di in d)
    wd[(slice(None), slice(None)) + taps] = w
    wd = np.flip(wd, axis=tuple(range(2, 2 + n)))
    pad_t = []
    for i in range(n):
        h, q = interpolation_kernel(s[i], mode)
        wd = _full_conv_axis(wd, h.astype(w.dtype), 2 + i)
        pt = q + d[i] * (k[i] - 1) - p[i]
        if pt < 0:
            raise ValueError(
                f"{fn}: padding={p} is too large: the transposed convolution would need "
                f"padding {q} + dilation*(kernel_size-1) - padding = {pt} < 0 along dim {i}"
            )
        pad_t.append(pt)
    c_out, c_in_g = w.shape[:2]
    wt = wd.reshape(g, c_out // g, c_in_g, *wd.shape[2:]).swapaxes(1, 2)
    wt = np.ascontiguousarray(wt).reshape(g * c_in_g, c_out // g, *wd.shape[2:])
    return wt, s, tuple(pad_t)
