"""The definition of the three kernel ops: a loop over kernel taps, as Chainer's
``im2col_nd_cpu`` / ``col2im_nd_cpu`` (``chainer/utils/conv_nd.py``).

Same signatures and geometry as the fast kernels of :mod:`.conv` (per spatial dim
stride ``s``, dilation ``d``, leading offset ``lo``, output size): vectorised over
the data, a Python loop over the taps only, no chunking, no threads. The tests
check it against PyTorch and every fast path against it.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

Ints = tuple[int, ...]


def _tap_index(t: Ints, s: Ints, d: Ints, length: Ints) -> tuple[slice, ...]:
    """Positions ``o s + t d``, ``o`` in ``range(length)``: where tap ``t`` meets output ``o``."""
    return (slice(None), slice(None)) + tuple(
        slice(ti * di, ti * di + si * (n - 1) + 1, si) for ti, si, di, n in zip(t, s, d, length)
    )


def _im2col(x: np.ndarray, k: Ints, s: Ints, d: Ints, lo: Ints, out: Ints) -> np.ndarray:
    """``col[n, c, t, o] = x[n, c, o s + t d - lo]`` (zero outside ``x``): (N, C, *k, *out)."""
    need = tuple((o - 1) * si + di * (kk - 1) + 1 for o, si, di, kk in zip(out, s, d, k))
    # img[m] = x[m - lo]: pad by lo in front (a negative lo drops inputs), cut/fill to need
    img = np.zeros(x.shape[:2] + need, dtype=x.dtype)
    src = tuple(
        slice(max(0, -li), max(0, min(n, m - li))) for li, n, m in zip(lo, x.shape[2:], need)
    )
    dst = tuple(slice(sl.start + li, sl.stop + li) for sl, li in zip(src, lo))
    if all(sl.stop > sl.start for sl in src):
        img[(slice(None), slice(None)) + dst] = x[(slice(None), slice(None)) + src]
    col = np.empty(x.shape[:2] + tuple(k) + tuple(out), dtype=x.dtype)
    for t in itertools.product(*map(range, k)):
        col[(slice(None), slice(None)) + t] = img[_tap_index(t, s, d, out)]
    return col


def conv_nd(
    x: np.ndarray,
    w: np.ndarray,
    stride: Ints,
    dilation: Ints,
    groups: int,
    lo: Ints,
    out_size: Ints,
    bias: np.ndarray | None = None,
) -> np.ndarray:
    """``y[n, co, o] = sum_{ci, t} x[n, ci, o s + t d - lo] w[co, ci, t] (+ bias)``."""
    n, nd, g = x.shape[0], len(out_size), groups
    col = _im2col(x, tuple(w.shape[2:]), stride, dilation, lo, out_size)
    col = col.reshape(n, g, x.shape[1] // g, math.prod(w.shape[2:]), *out_size)  # taps flat
    wg = w.reshape(g, w.shape[0] // g, w.shape[1], -1)
    y = np.einsum("ngctp,gkct->ngkp", col.reshape(*col.shape[:4], math.prod(out_size)), wg)
    y = y.reshape(n, w.shape[0], *out_size)
    return y if bias is None else y + bias.reshape((1, -1) + (1,) * nd)


def conv_weight_grad_nd(
    x: np.ndarray,
    gy: np.ndarray,
    kernel_size: Ints,
    stride: Ints,
    dilation: Ints,
    groups: int,
    lo: Ints,
) -> np.ndarray:
    """``gw[co, ci, t] = sum_{n, o} gy[n, co, o] x[n, ci, o s + t d - lo]``."""
    n, g, k = x.shape[0], groups, tuple(kernel_size)
    out = tuple(gy.shape[2:])
    col = _im2col(x, k, stride, dilation, lo, out)
    col = col.reshape(n, g, x.shape[1] // g, math.prod(k), *out)
    gyg = gy.reshape(n, g, gy.shape[1] // g, math.prod(out))
    gw = np.einsum("ngkp,ngctp->gkct", gyg, col.reshape(*col.shape[:4], math.prod(out)))
    return gw.reshape(gy.shape[1], x.shape[1] // g, *k)


def conv_transpose_nd(
    x: np.ndarray,
    w: np.ndarray,
    stride: Ints,
    dilation: Ints,
    groups: int,
    lo: Ints,
    out_size: Ints,
    bias: np.ndarray | None = None,
) -> np.ndarray:
    """``full[n, co, i s + t d] += x[n, ci, i] w[ci, co, t]``, ``y[j] = full[j + lo]``
    (zeros past ``full``), plus bias: a GEMM to columns, then col2im."""
    n, g, k, n_in = x.shape[0], groups, tuple(w.shape[2:]), tuple(x.shape[2:])
    c_out = w.shape[1] * g
    xg = x.reshape(n, g, x.shape[1] // g, math.prod(n_in))
    wg = w.reshape(g, x.shape[1] // g, w.shape[1], -1)
    col = np.einsum("ngcp,gckt->ngktp", xg, wg).reshape(n, c_out, *k, *n_in)
    # img index = full index + a, a >= lo, so that a negative lo stays in the buffer
    a = tuple(max(0, li) for li in lo)
    span = tuple(
        (m - 1) * si + di * (kk - 1) + 1 for m, si, di, kk in zip(n_in, stride, dilation, k)
    )
    size = tuple(max(o + li, sp) + ai - li for o, li, sp, ai in zip(out_size, lo, span, a))
    img = np.zeros((n, c_out) + size, dtype=np.result_type(x, w))
    shifted = tuple(ai - li for ai, li in zip(a, lo))  # where full index 0 sits in img
    for t in itertools.product(*map(range, k)):
        index = _tap_index(tuple(t), stride, dilation, n_in)
        index = index[:2] + tuple(
            slice(sl.start + z, sl.stop + z, sl.step) for sl, z in zip(index[2:], shifted)
        )
        img[index] += col[(slice(None), slice(None)) + t]
    y = img[(slice(None), slice(None)) + tuple(slice(ai, ai + o) for ai, o in zip(a, out_size))]
    y = np.ascontiguousarray(y)
    return y if bias is None else y + bias.reshape((1, -1) + (1,) * len(out_size))
