"""Coverage maps and checkerboard artifacts of transposed convolutions.

The lecture: transposed convolutions "may create some grid-structure
artifacts, since generated pixels are not all covered similarly", with a 4x4
kernel and stride 3 as the example. This module computes that view:

* :func:`coverage`: how many (input, tap) pairs land on each output position.
  In the interior it is periodic with period ``s``; with ``g = gcd(d, s)`` it is
  0 at phases not divisible by ``g`` and ``floor(kg/s)`` or ``ceil(kg/s)``
  elsewhere, so it is uniform iff ``gcd(d, s) = 1`` and ``s | k``.
* :func:`phase_sums` / :func:`is_artifact_free`: the exact condition for a
  constant input to give a constant (interior) output is that the polyphase
  sums of the kernel are equal (Sugawara et al. 2019); the coverage condition
  is the all-ones kernel case.
* :func:`checkerboard_index` / :func:`checkerboard_spectrum`: how much of an
  image is a ``period x period`` grid pattern, in space and in frequency.

* :func:`plan`: the transposed convolutions and resize-convolutions that map
  one size to another exactly, artifact-free ones first.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Union, cast

import numpy as np

from . import _args, shapes

IntOrTuple = Union[int, Sequence[int]]

__all__ = [
    "Plan",
    "checkerboard_index",
    "checkerboard_spectrum",
    "coverage",
    "is_artifact_free",
    "phase_sums",
    "plan",
]


def _coverage_1d(size: int, k: int, s: int, lo: int, out: int, d: int) -> np.ndarray:
    """Overlap-add of ones: ``full[i s + t d] += 1``, then ``y[j] = full[j + lo]`` (zero
    outside ``full``: a negative ``lo`` of ``(lo, hi)`` padding puts zeros first)."""
    full = np.zeros(cast(int, shapes.conv_transpose_output_size(size, k, s, 0, 0, d)), np.int64)
    for t in range(k):
        full[t * d : t * d + (size - 1) * s + 1 : s] += 1
    y = np.zeros(out, dtype=np.int64)
    j0, j1 = max(0, -lo), min(out, full.size - lo)
    if j1 > j0:
        y[j0:j1] = full[j0 + lo : j1 + lo]
    return y


def coverage(
    input_size: IntOrTuple,
    kernel_size: IntOrTuple,
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
) -> np.ndarray:
    """How many (input, tap) pairs land on each output position of a transposed convolution.

    ``cov[j] = #{(i, t) : i s + t d - p = j}``, i.e. the output of
    ``conv_transpose(ones(input_size), ones(kernel_size), ...)``. Computed per
    dim by an overlap-add over the taps; an N-d map is the outer product of the
    per-dim maps (the count factorises). An int ``input_size`` gives a 1-D
    array, a tuple an N-d one (any N); integer dtype.

    The lecture's 4x4 kernel with stride 3: the interior tile is
    [[4, 2, 2], [2, 1, 1], [2, 1, 1]].

    >>> coverage(4, 4, stride=3)
    array([1, 1, 1, 2, 1, 1, 2, 1, 1, 2, 1, 1, 1])
    >>> coverage((3, 3), 4, stride=3)[3:6, 3:6]
    array([[4, 2, 2],
           [2, 1, 1],
           [2, 1, 1]])
    """
    fn = "coverage"
    n = 1 if isinstance(input_size, (int, np.integer)) else len(input_size)
    L = _args.positive_ntuple(input_size, n, "input_size", fn)
    k = _args.positive_ntuple(kernel_size, n, "kernel_size", fn)
    # the transposed convolution's own validation: output_padding rule, non-empty output
    g = shapes.conv_transpose_geometry(fn, L, k, stride, padding, output_padding, 1, dilation)
    per_dim = zip(L, k, g.stride, g.lo, g.out_size, g.dilation, strict=True)
    maps = [_coverage_1d(*args) for args in per_dim]
    result = maps[0]
    for m in maps[1:]:
        result = np.multiply.outer(result, m)
    return result


def _spatial_ndim(w: np.ndarray, stride: IntOrTuple, ndim: int | None, fn: str) -> int:
    if ndim is None:
        if not isinstance(stride, (int, np.integer)):
            ndim = len(stride)
        else:
            ndim = w.ndim - 2 if w.ndim > 2 else w.ndim
    if not 1 <= ndim <= w.ndim:
        raise ValueError(
            f"{fn}: ndim (the number of spatial kernel axes) must be in [1, weight.ndim="
            f"{w.ndim}], got ndim={ndim} for weight of shape {w.shape}"
        )
    return ndim


def phase_sums(
    weight: Any,
    stride: IntOrTuple,
    dilation: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    *,
    ndim: int | None = None,
) -> np.ndarray:
    """The polyphase sums of a transposed convolution's kernel, one per output phase.

    A constant input ``c`` gives, at an interior output ``j``, ``c`` times the
    sum of the taps ``t`` with ``t d - p = j (mod s)``; so output phase ``r``
    (positions with ``j mod s = r``) receives

        S_r = sum of w[t] over taps t with  t d - p = r  (mod s)

    per spatial dim, with tuple phases ``r = (r_1, ..., r_n)`` in N-d. Padding
    only rotates the phases (``np.roll`` by ``-p``); it never changes whether
    the sums are equal. ``weight`` is a bare kernel ``(*k)`` or a full weight
    ``(C_in, C_out/groups, *k)``: its last ``ndim`` axes are spatial (default:
    ``len(stride)`` for a tuple stride, else ``weight.ndim - 2`` when that is
    positive, else ``weight.ndim``; pass ``ndim=3`` for a bare 3-D kernel).
    Returns an array of shape ``(*leading, *s)``.

    >>> phase_sums([1, 2, 3], 2)        # k3 s2: phases get 1 + 3 and 2
    array([4., 2.])
    >>> phase_sums(np.ones((4, 4)), 3)  # the lecture's 4x4 kernel, stride 3
    array([[4., 2., 2.],
           [2., 1., 1.],
           [2., 1., 1.]])
    """
    fn = "phase_sums"
    w = np.asarray(weight, dtype=np.float64)
    n = _spatial_ndim(w, stride, ndim, fn)
    s = _args.positive_ntuple(stride, n, "stride", fn)
    d = _args.positive_ntuple(dilation, n, "dilation", fn)
    p = _args.non_negative_ntuple(padding, n, "padding", fn)
    lead = w.shape[: w.ndim - n]
    k = w.shape[w.ndim - n :]
    sums = np.zeros(lead + s, dtype=np.float64)
    lead_sl = (slice(None),) * len(lead)
    for t in itertools.product(*(range(kk) for kk in k)):
        r = tuple((ti * di - pi) % si for ti, di, pi, si in zip(t, d, p, s, strict=True))
        sums[lead_sl + r] += w[lead_sl + t]
    return sums


def is_artifact_free(
    weight: Any,
    stride: IntOrTuple,
    dilation: IntOrTuple = 1,
    *,
    ndim: int | None = None,
    rtol: float = 1e-7,
    atol: float = 0.0,
) -> bool:
    """Whether a constant input gives a constant interior output: all :func:`phase_sums` equal.

    For a full weight ``(C_in, C_out/groups, *k)`` the sums must be equal for
    every (input, output) channel pair, so that any constant image (one value
    per channel) works. Equal within ``atol + rtol * max|S|``. For an all-ones
    kernel this is ``gcd(d, s) = 1 and s | k`` (uniform coverage).

    >>> is_artifact_free(np.ones((4, 4)), 2), is_artifact_free(np.ones((3, 3)), 2)
    (True, False)
    >>> is_artifact_free([1, 2, 3, 2, 1, 0], 2)   # 1+3+1 = 5 but 2+2+0 = 4
    False
    >>> is_artifact_free([1, 2, 2, 1], 2)         # 1+2 = 2+1
    True
    """
    sums = phase_sums(weight, stride, dilation, ndim=ndim)
    n = _spatial_ndim(np.asarray(weight), stride, ndim, "is_artifact_free")
    flat = sums.reshape((*sums.shape[: sums.ndim - n], -1))
    spread = flat.max(axis=-1) - flat.min(axis=-1)
    tol = atol + rtol * float(np.abs(sums).max(initial=0.0))
    return bool(np.all(spread <= tol))


def _images(
    images: Any, period: IntOrTuple, ndim: int, fn: str
) -> tuple[np.ndarray, tuple[int, ...]]:
    x = _args.as_array(images, "images", fn).astype(np.float64, copy=False)
    if ndim < 1 or x.ndim < ndim:
        raise ValueError(
            f"{fn}: images must have at least ndim={ndim} axes (..., *spatial), got shape {x.shape}"
        )
    per = _args.positive_ntuple(period, ndim, "period", fn)
    return x, per


def _result(v: np.ndarray) -> Any:
    return float(v) if v.ndim == 0 else v


def checkerboard_index(images: Any, period: IntOrTuple, *, ndim: int = 2) -> Any:
    """Share of an image's variance explained by its ``period x period`` phase pattern.

    The pixels of the last ``ndim`` axes fall into ``prod(period)`` phase
    classes (``(h mod p_1, w mod p_2, ...)``). With ``x`` centred on its mean
    and ``m_r`` the mean of class ``r`` (``n_r`` pixels), the index is the
    one-way ANOVA ratio (eta squared)

        sum_r n_r m_r^2  /  sum_pixels x^2

    0: no grid (constant images give 0, not nan); 1: the image is a pure
    periodic grid (a checkerboard of the given period). White noise gives about
    ``(prod(period) - 1) / n_pixels``. Leading axes are a batch: the result is
    a float for one image, else an array of shape ``images.shape[:-ndim]``.
    Use ``period = stride`` of the transposed convolution to measure its artifacts.

    >>> checkerboard_index(np.indices((8, 8)).sum(0) % 2, 2)   # a checkerboard
    1.0
    >>> checkerboard_index(np.ones((8, 8)), 2)
    0.0
    """
    fn = "checkerboard_index"
    x, per = _images(images, period, ndim, fn)
    axes = tuple(range(x.ndim - ndim, x.ndim))
    xc = x - x.mean(axis=axes, keepdims=True)
    total = np.sum(xc * xc, axis=axes)
    between = np.zeros_like(total)
    lead = (slice(None),) * (x.ndim - ndim)
    for r in itertools.product(*(range(pp) for pp in per)):
        cls = xc[lead + tuple(slice(ri, None, pp) for ri, pp in zip(r, per, strict=True))]
        if cls.size:
            between += math.prod(cls.shape[x.ndim - ndim :]) * np.mean(cls, axis=axes) ** 2
    return _result(_ratio(between, total, x, axes))


def _ratio(num: np.ndarray, total: np.ndarray, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """``num / total``, 0 where the image is constant up to rounding."""
    n = math.prod(x.shape[a] for a in axes)
    scale = np.max(np.abs(x), axis=axes, initial=0.0)
    flat = total <= n * (1e-12 * scale) ** 2
    return np.where(flat, 0.0, num / np.where(flat, 1.0, total))


def checkerboard_spectrum(images: Any, period: IntOrTuple, *, ndim: int = 2) -> Any:
    """Share of the non-DC power at the grid frequencies ``m / period``.

    With ``P = |FFT(x)|^2`` over the last ``ndim`` axes (length ``N_i``), the
    artifact bins are those whose frequency along some axis ``i`` is a non-zero
    multiple of ``1 / p_i``: index ``round(m N_i / p_i)``, ``m = 1..p_i-1``
    (whole rows and columns through those frequencies, so that a grid
    modulated by the image content still counts). The measure is
    ``sum P[artifact bins] / sum P[all bins but DC]``, in [0, 1]; 0 for
    constant images; for ``s = 2`` the bins are at Nyquist. Exact when
    ``p_i`` divides ``N_i``; otherwise the nearest bins are used and a pure grid
    scores below 1 (leakage). Leading axes are a batch, as for
    :func:`checkerboard_index`.

    >>> checkerboard_spectrum(np.indices((8, 8)).sum(0) % 2, 2)
    1.0
    >>> checkerboard_spectrum(np.outer(np.hanning(16), np.hanning(16)), 2) < 0.01
    True
    """
    fn = "checkerboard_spectrum"
    x, per = _images(images, period, ndim, fn)
    axes = tuple(range(x.ndim - ndim, x.ndim))
    xc = x - x.mean(axis=axes, keepdims=True)  # removes DC
    power = np.abs(np.fft.fftn(xc, axes=axes)) ** 2
    spatial: tuple[int, ...] = x.shape[x.ndim - ndim :]
    mask = np.zeros(spatial, dtype=bool)
    for i, (size, pp) in enumerate(zip(spatial, per, strict=True)):
        bins = {round(m * size / pp) % size for m in range(1, pp)} - {0}
        sel = [slice(None)] * ndim
        sel[i] = sorted(bins)  # type: ignore[call-overload]
        mask[tuple(sel)] = True
    total = power.sum(axis=axes)
    grid = np.sum(power * mask, axis=axes)
    return _result(_ratio(grid, total, x, axes))


_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}


@dataclass(frozen=True)
class Plan:
    """One way to map ``input_size`` to ``output_size`` (per spatial dim, square kernels).

    ``kind`` is ``'conv_transpose'`` (kernel_size, stride, padding,
    output_padding, dilation) or ``'resize_conv'``: ``interpolate`` by the
    integer ``scale_factor`` (or to ``size=output_size`` when it is None) with
    ``mode``, then a stride-1 convolution (kernel_size, padding, dilation 1).
    ``artifact_free``: a constant input gives a constant interior output for
    an all-ones kernel (equal phase sums; always true for resize-convolutions).
    ``uniform``: ... and the whole output, borders included, is constant (the
    padding crops the partially covered borders). ``params``: weights of the
    layer, ``c_in * c_out * kernel_size ** ndim`` (bias not counted).
    """

    kind: str
    input_size: int
    output_size: int
    kernel_size: int
    stride: int = 1
    padding: int = 0
    output_padding: int = 0
    dilation: int = 1
    mode: str | None = None
    scale_factor: int | None = None
    artifact_free: bool = True
    uniform: bool = True
    params: int = 0

    @property
    def resized_size(self) -> int | None:
        """The size after the interpolation of a resize-convolution (None otherwise)."""
        if self.kind != "resize_conv":
            return None
        if self.scale_factor is None:
            return self.output_size
        return math.floor(self.input_size * self.scale_factor)  # F.interpolate's rule

    def code(self) -> str:
        """The layer in PyTorch / tconv notation."""
        if self.kind == "conv_transpose":
            extra = "".join(
                f", {name}={v}"
                for name, v, default in (
                    ("padding", self.padding, 0),
                    ("output_padding", self.output_padding, 0),
                    ("dilation", self.dilation, 1),
                )
                if v != default
            )
            return f"ConvTranspose(kernel_size={self.kernel_size}, stride={self.stride}{extra})"
        up = (
            f"scale_factor={self.scale_factor}"
            if self.scale_factor is not None
            else f"size={self.output_size}"
        )
        pad = f", padding={self.padding}" if self.padding else ""
        return f"interpolate({up}, mode='{self.mode}') + Conv(kernel_size={self.kernel_size}{pad})"


def plan(
    input_size: int,
    output_size: int,
    *,
    max_kernel: int = 5,
    max_stride: int | None = None,
    max_dilation: int = 2,
    channels: tuple[int, int] = (1, 1),
    ndim: int = 2,
    resize: bool = True,
    modes: Sequence[str] | None = None,
) -> list[Plan]:
    """Layers that map ``input_size`` to ``output_size`` exactly, best first.

    Transposed convolutions: every kernel ``1..max_kernel``, stride
    ``1..max_stride`` (default ``ceil(output/input) + 1``), dilation
    ``1..max_dilation``, padding ``0..d(k-1)`` (a crop of at most the kernel's
    overhang) and output_padding ``< max(s, d)`` (PyTorch's rule) with
    ``(L - 1) s - 2p + d(k-1) + a + 1 = output_size``. Resize-convolutions:
    ``interpolate`` by an integer factor ``2..max_stride`` then a stride-1
    convolution with padding ``0..k-1``, or ``interpolate(size=output_size)``
    then an odd kernel with 'same' padding, for each of ``modes`` (default
    nearest and the linear mode of ``ndim``).

    Ranked by: artifact-free first, uniform borders next, then fewest
    parameters, then no output_padding, smaller padding, dilation, stride.

    >>> best = plan(16, 32, max_kernel=4)
    >>> [p.code() for p in best if p.kind == "conv_transpose"][:2]
    ['ConvTranspose(kernel_size=2, stride=2)', 'ConvTranspose(kernel_size=4, stride=2, padding=1)']
    >>> plan(16, 40, max_kernel=1, resize=False)
    []
    """
    fn = "plan"
    L = _args.positive_int(input_size, "input_size", fn)
    out = _args.positive_int(output_size, "output_size", fn)
    k_max = _args.positive_int(max_kernel, "max_kernel", fn)
    s_max = -(-out // L) + 1 if max_stride is None else max_stride
    s_max = _args.positive_int(s_max, "max_stride", fn)
    d_max = _args.positive_int(max_dilation, "max_dilation", fn)
    nd = _args.positive_int(ndim, "ndim", fn)
    c_in, c_out = (_args.positive_int(c, "channels", fn) for c in channels)
    per_tap = c_in * c_out

    found: list[Plan] = []
    for k, s, d in itertools.product(range(1, k_max + 1), range(1, s_max + 1), range(1, d_max + 1)):
        if k == 1 and d > 1:
            continue  # dilation does nothing to a 1-tap kernel
        free = is_artifact_free(np.ones(k), s, d)
        for a in range(max(s, d)):
            twice_p = cast(int, shapes.conv_transpose_output_size(L, k, s, 0, a, d)) - out
            if twice_p < 0 or twice_p % 2 or twice_p // 2 > d * (k - 1):
                continue
            p = twice_p // 2
            cov = coverage(L, k, s, p, a, d)
            found.append(
                Plan(
                    "conv_transpose",
                    L,
                    out,
                    k,
                    s,
                    p,
                    a,
                    d,
                    artifact_free=free,
                    uniform=bool(cov.min() == cov.max()),
                    params=per_tap * k**nd,
                )
            )
    if resize:
        for mode in modes if modes is not None else ("nearest", _LINEAR.get(nd, "linear")):
            found.extend(_resize_plans(L, out, k_max, s_max, mode, per_tap, nd))
    found.sort(key=_rank)
    return found


def _resize_plans(
    L: int, out: int, k_max: int, f_max: int, mode: str, per_tap: int, nd: int
) -> list[Plan]:
    plans = []
    exact_factor = False
    for f, k in itertools.product(range(2, f_max + 1), range(1, k_max + 1)):
        # conv_output_size(L f, k, 1, p) = L f - k + 1 + 2p must equal out
        twice_p = out - shapes._conv_out(L * f, k, 1, 0, 1)
        if twice_p < 0 or twice_p % 2 or twice_p // 2 > k - 1:
            continue
        exact_factor |= L * f == out
        plans.append(
            Plan(
                "resize_conv",
                L,
                out,
                k,
                1,
                twice_p // 2,
                mode=mode,
                scale_factor=f,
                uniform=twice_p == 0,
                params=per_tap * k**nd,
            )
        )
    if not exact_factor and out > L:
        for k in range(1, k_max + 1, 2):
            plans.append(
                Plan(
                    "resize_conv",
                    L,
                    out,
                    k,
                    1,
                    (k - 1) // 2,
                    mode=mode,
                    uniform=k == 1,
                    params=per_tap * k**nd,
                )
            )
    return plans


def _rank(p: Plan) -> tuple[Any, ...]:
    return (
        not p.artifact_free,
        not p.uniform,
        p.params,
        p.output_padding,
        p.padding,
        p.dilation,
        p.stride,
        p.kind,
        p.mode != "nearest",
        p.scale_factor or 0,
    )
