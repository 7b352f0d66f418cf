"""The matrix view of the lecture: a convolution is a matrix product.

A convolution is linear in its input, so for a fixed weight and input shape
there is a matrix ``M`` with ``conv(x) = M x`` on the flattened arrays; the
lecture writes it for a 1-D kernel of size 3 and notes that the transposed
convolution's matrix is ``M^T``, hence the name. This module builds both
matrices directly from the weight (one vectorised step per kernel tap), for
any number of spatial dims, with stride, padding, dilation and groups::

    conv(x[None], w)[0].ravel()           == conv_matrix(w, x.shape) @ x.ravel()
    conv_transpose(y[None], w)[0].ravel() == conv_transpose_matrix(w, y.shape) @ y.ravel()
    conv_transpose_matrix(w, out_shape, s, p, a, d, g) == conv_matrix(w, in_shape, s, p, d, g).T

where ``out_shape`` is the convolution's output shape and ``a`` the output
padding that maps it back to ``in_shape`` (:func:`tconv.shapes.observed_size`).

Rows and columns are indexed channel-major, then by C-order spatial position,
as ``ravel`` flattens a ``(C, *spatial)`` array. Both kinds of convolution
relate a "small" position ``a`` (the conv output, the transposed conv input)
to a "large" one ``b = a s + t d - lo`` (the conv input, the transposed conv
output) through tap ``t``; the entry for that pair is the tap's weight.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, Union

import numpy as np

from .functional.conv import prepare_conv, prepare_conv_transpose

IntOrTuple = Union[int, Sequence[int]]
Padding = Union[int, Sequence[int], str]

__all__ = ["conv_matrix", "conv_transpose_matrix"]


def _input_shape(input_shape: Sequence[int], fn: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in input_shape)
    except TypeError:
        raise TypeError(
            f"{fn}: input_shape must be a tuple (C, *spatial) of ints, got {input_shape!r}"
        ) from None
    if len(shape) < 2:
        raise ValueError(
            f"{fn}: input_shape must be (C, *spatial) with at least one spatial dim, got {shape}"
        )
    return shape


def _probe(weight: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A zero input of ``shape`` (a broadcast view, no memory) in the weight's float dtype,
    so that the ops' validation checks the call and its dtype rules pick the matrix's dtype."""
    w = np.asarray(weight)
    dtype = w.dtype if w.dtype.kind == "f" else np.dtype(np.float64)
    return np.broadcast_to(np.zeros((), dtype=dtype), shape)


def _entries(
    w: np.ndarray,
    a_per_group: int,
    a_size: tuple[int, ...],
    b_size: tuple[int, ...],
    stride: tuple[int, ...],
    dilation: tuple[int, ...],
    lo: tuple[int, ...],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-zeros linking a-side (channel, position) to b-side (channel, position).

    ``w`` is (A, B_per_group, *k): A channels on the a side; the b-side channel
    of local index ``c`` in the group of ``A_ch`` is ``(A_ch // a_per_group) *
    B_per_group + c``. Returns flat a-index, flat b-index (channel-major) and
    value, for every tap and every in-range pair ``b = a s + t d - lo``.
    """
    n_a, b_per_group = w.shape[:2]
    k = w.shape[2:]
    pa, pb = math.prod(a_size), math.prod(b_size)
    ch_a = np.arange(n_a)[:, None, None]
    ch_b = (ch_a // a_per_group) * b_per_group + np.arange(b_per_group)[None, :, None]
    a_strides = [math.prod(a_size[i + 1 :]) for i in range(len(a_size))]
    b_strides = [math.prod(b_size[i + 1 :]) for i in range(len(b_size))]
    rows_a, cols_b, vals = [], [], []
    for t in itertools.product(*(range(kk) for kk in k)):
        flat_a = np.zeros(1, dtype=np.int64)
        flat_b = np.zeros(1, dtype=np.int64)
        for ti, na, nb, si, di, li, sa, sb in zip(
            t, a_size, b_size, stride, dilation, lo, a_strides, b_strides, strict=True
        ):
            a = np.arange(na)
            b = a * si + ti * di - li
            keep = (b >= 0) & (b < nb)
            flat_a = (flat_a[:, None] + a[keep][None, :] * sa).ravel()
            flat_b = (flat_b[:, None] + b[keep][None, :] * sb).ravel()
        if flat_a.size == 0:
            continue
        both = (slice(None), slice(None))
        v = w[both + t][:, :, None]  # (A, B_per_group, 1)
        rows_a.append(np.broadcast_to(ch_a * pa + flat_a, (n_a, b_per_group, flat_a.size)).ravel())
        cols_b.append((ch_b * pb + flat_b).ravel())
        vals.append(np.broadcast_to(v, (n_a, b_per_group, flat_a.size)).ravel())
    if not vals:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=w.dtype)
    return np.concatenate(rows_a), np.concatenate(cols_b), np.concatenate(vals)


def _assemble(
    rows: np.ndarray,
    cols: np.ndarray,
    vals: np.ndarray,
    shape: tuple[int, int],
    sparse: bool,
    fn: str,
) -> Any:
    if sparse:
        try:
            import scipy.sparse
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError(
                f"{fn}(sparse=True) needs SciPy: pip install scipy (or use sparse=False)"
            ) from None
        return scipy.sparse.csr_matrix((vals, (rows, cols)), shape=shape)
    m = np.zeros(shape, dtype=vals.dtype)
    m[rows, cols] = vals  # distinct taps never share a (row, col): no sums needed
    return m


def conv_matrix(
    weight: Any,
    input_shape: Sequence[int],
    stride: IntOrTuple = 1,
    padding: Padding = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    *,
    sparse: bool = False,
) -> Any:
    """The matrix ``M`` of a convolution: ``conv(x[None], weight)[0].ravel() == M @ x.ravel()``.

    ``weight`` is (C_out, C_in/groups, *k) and ``input_shape`` is (C_in,
    *spatial); arguments are validated as by :func:`tconv.functional.conv1d`
    (padding may be 'same' or 'valid'). ``M`` has shape (C_out * prod(out),
    C_in * prod(spatial)); row ``(co, o)`` holds ``weight[co, ci, t]`` in
    column ``(ci, o s + t d - p)``. ``sparse=True`` returns a
    ``scipy.sparse.csr_matrix`` (needs SciPy).

    The lecture's example, a kernel (k1, k2, k3) over 7 samples:

    >>> conv_matrix([[[1, 2, 3]]], (1, 7)).astype(int)
    array([[1, 2, 3, 0, 0, 0, 0],
           [0, 1, 2, 3, 0, 0, 0],
           [0, 0, 1, 2, 3, 0, 0],
           [0, 0, 0, 1, 2, 3, 0],
           [0, 0, 0, 0, 1, 2, 3]])
    """
    fn = "conv_matrix"
    shape = _input_shape(input_shape, fn)
    n = len(shape) - 1
    probe = _probe(weight, shape)
    prep = prepare_conv(n, fn, probe, weight, None, stride, padding, dilation, groups)
    g = prep.geom
    w = prep.w
    c_out, c_in = w.shape[0], shape[0]
    flat_a, flat_b, vals = _entries(
        w, c_out // g.groups, g.out_size, g.in_size, g.stride, g.dilation, g.lo
    )
    m_shape = (c_out * math.prod(g.out_size), c_in * math.prod(g.in_size))
    return _assemble(flat_a, flat_b, vals, m_shape, sparse, fn)


def conv_transpose_matrix(
    weight: Any,
    input_shape: Sequence[int],
    stride: IntOrTuple = 1,
    padding: IntOrTuple = 0,
    output_padding: IntOrTuple = 0,
    dilation: IntOrTuple = 1,
    groups: int = 1,
    *,
    output_size: Sequence[int] | int | None = None,
    sparse: bool = False,
) -> Any:
    """The matrix ``M`` of a transposed convolution: ``conv_transpose(y[None], weight)[0].ravel()
    == M @ y.ravel()``.

    ``weight`` is (C_in, C_out/groups, *k) and ``input_shape`` is (C_in,
    *spatial); note the argument order (dilation before groups) follows
    :func:`conv_matrix`, not ``conv_transpose1d``, so keyword use is safest.
    Row ``(co, i s + t d - p)`` of column ``(ci, i)`` holds ``weight[ci, co, t]``.
    It is the transpose of the convolution's matrix with the same weight and
    parameters (the lecture's identity, hence the name):

    >>> k = [[[1, 2, 3]]]
    >>> conv_transpose_matrix(k, (1, 5)).astype(int)
    array([[1, 0, 0, 0, 0],
           [2, 1, 0, 0, 0],
           [3, 2, 1, 0, 0],
           [0, 3, 2, 1, 0],
           [0, 0, 3, 2, 1],
           [0, 0, 0, 3, 2],
           [0, 0, 0, 0, 3]])
    >>> bool((conv_transpose_matrix(k, (1, 5)) == conv_matrix(k, (1, 7)).T).all())
    True
    """
    fn = "conv_transpose_matrix"
    shape = _input_shape(input_shape, fn)
    n = len(shape) - 1
    probe = _probe(weight, shape)
    prep = prepare_conv_transpose(
        n, fn, probe, weight, None, stride, padding, output_padding, groups, dilation, output_size
    )
    g = prep.geom
    w = prep.w
    c_in = shape[0]
    c_out = w.shape[1] * g.groups
    flat_a, flat_b, vals = _entries(
        w, c_in // g.groups, g.in_size, g.out_size, g.stride, g.dilation, g.lo
    )
    m_shape = (c_out * math.prod(g.out_size), c_in * math.prod(g.in_size))
    return _assemble(flat_b, flat_a, vals, m_shape, sparse, fn)
