"""ONNX's ``Conv`` and ``ConvTranspose`` operators, as the operator spec defines them.

The attributes are keyword arguments with the spec's names and defaults; arrays are
NCHW-style (``(N, C, *spatial)``), weights ``(M, C/group, *k)`` for ``Conv`` and
``(C, M/group, *k)`` for ``ConvTranspose`` (PyTorch's layouts: nothing is mirrored).
:func:`lower` is the convention, written once; :func:`conv` and
:func:`conv_transpose` run it on :mod:`tconv.functional`.

Per spatial dim (``k_eff = d(k - 1) + 1``, ``a`` the output_padding)::

    Conv:           pads = [x1_begin, x2_begin, ..., x1_end, x2_end, ...] added to X;
                    SAME_UPPER / SAME_LOWER: out = ceil(L / s), total = max((out-1)s
                    + k_eff - L, 0), the odd element at the end / at the start
    ConvTranspose:  out = s(L - 1) + a + k_eff - begin - end, begin/end cropped from
                    the full output (zeros where negative or past it);
                    output_shape, or SAME_* (out = L s): total = s(L-1) + a + k_eff - out,
                    SAME_UPPER: begin = total // 2, otherwise begin = total - total // 2
                    (``//`` rounds down, as onnx's reference implementation does:
                    the node test ``test_convtranspose_output_shape`` needs it)

Where onnxruntime 1.32 differs from the spec, this module follows the spec (measured;
the porting guide's disagreement table shows both; tests pin each difference):

- ``ConvTranspose`` SAME_UPPER/SAME_LOWER with ``k_eff + a < s``: the spec's size is
  ``L s``; onnxruntime returns the full output ``s(L - 1) + k_eff + a``, uncropped.
- ``output_shape`` past the full output: SAME_UPPER's spec split ``total // 2`` puts a
  zero at the start, onnxruntime at the end; an ``output_shape`` whose convolution does
  not give back the input (two or more past the full output at stride 2) onnxruntime
  refuses, the spec does not.
- ``output_padding >= max(stride, dilation)``: the spec allows it (zeros appended);
  onnxruntime refuses it. ``Conv`` with SAME_* and a dilation: the spec allows it;
  onnxruntime refuses it. onnxruntime computes neither op in float64.

onnx's reference implementation (``onnx.reference``) is the spec's except for
``group > 1`` (it fails or adds the bias wrongly) and for ``output_shape`` with
``auto_pad`` NOTSET (it crops nothing at the start and refuses sizes below the full
output).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from .. import _args, shapes
from . import _lowering as _l
from ._lowering import Lowering

__all__ = ["conv", "conv_transpose", "lower"]

AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")
_SPATIAL = "DHW"


def _ints(value: Any, n: int, name: str, fn: str, default: int, low: int) -> tuple[int, ...]:
    """An attribute of ``n`` ints ``>= low`` (a list, as ONNX stores it), or its default."""
    if value is None:
        return (default,) * n
    if _args._is_int(value) or isinstance(value, (str, bytes)):
        raise TypeError(
            f"{fn}: {name} must be a list of {n} ints (one per spatial dim), got {value!r}"
        )
    items = tuple(value)
    if len(items) != n or not all(_args._is_int(v) for v in items):
        raise ValueError(
            f"{fn}: {name} must be a list of {n} ints (one per spatial dim), got {list(items)}"
        )
    if any(v < low for v in items):
        rule = "positive" if low == 1 else "non-negative"
        raise ValueError(f"{fn}: {name} must be {rule}, got {name}={list(items)}")
    return tuple(int(v) for v in items)


def _auto_pad(auto_pad: Any, fn: str) -> str:
    if isinstance(auto_pad, bytes):
        auto_pad = auto_pad.decode()
    if auto_pad not in AUTO_PADS:
        raise ValueError(
            f"{fn}: auto_pad must be one of {', '.join(AUTO_PADS)}, got auto_pad={auto_pad!r}"
        )
    return str(auto_pad)


def lower(
    op: str,
    x_shape: Sequence[int],
    w_shape: Sequence[int],
    *,
    auto_pad: str = "NOTSET",
    dilations: Sequence[int] | None = None,
    group: int = 1,
    kernel_shape: Sequence[int] | None = None,
    output_padding: Sequence[int] | None = None,
    output_shape: Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    strides: Sequence[int] | None = None,
) -> Lowering:
    """ONNX's convention: a ``Conv`` or ``ConvTranspose`` node with these attributes, on
    an input of shape ``x_shape`` and a weight of shape ``w_shape``, as tconv's op.

    The module docstring gives the rules. ``output_shape`` (spatial sizes) overrides
    ``pads``; ``pads`` together with an ``auto_pad`` other than NOTSET is refused, as
    the spec says they cannot be used together.

    >>> lower("ConvTranspose", (1, 1, 3, 3), (1, 2, 3, 3), strides=[3, 2],
    ...       output_shape=[10, 8]).padding        # node test convtranspose_output_shape
    ((0, -1), (0, -1))
    >>> lower("ConvTranspose", (1, 1, 5), (1, 1, 1), strides=[2],
    ...       auto_pad="SAME_UPPER").padding       # k_eff < s: a zero prepended
    ((-1, 0),)
    >>> lower("Conv", (1, 1, 7), (1, 1, 4), strides=[2], auto_pad="SAME_LOWER").padding
    ((2, 1),)
    """
    if op not in ("Conv", "ConvTranspose"):
        raise ValueError(f"compat.onnx.lower: op must be 'Conv' or 'ConvTranspose', got {op!r}")
    transposed = op == "ConvTranspose"
    fn = "compat.onnx.conv_transpose" if transposed else "compat.onnx.conv"
    xs, ws = tuple(int(v) for v in x_shape), tuple(int(v) for v in w_shape)
    if len(xs) < 3 or len(xs) > 5:
        raise ValueError(
            f"{fn}: X must be (N, C, D1, ..., Dn) with 1 to 3 spatial dims (tconv's ops), "
            f"got shape {xs}"
        )
    n = len(xs) - 2
    if len(ws) != n + 2:
        raise ValueError(f"{fn}: W must have {n + 2} dims as X has, got W of shape {ws}")
    mode = _auto_pad(auto_pad, fn)
    s = _ints(strides, n, "strides", fn, 1, 1)
    d = _ints(dilations, n, "dilations", fn, 1, 1)
    g = _args.positive_int(group, "group", fn)
    k = ws[2:]
    if kernel_shape is not None and _ints(kernel_shape, n, "kernel_shape", fn, 1, 1) != k:
        raise ValueError(
            f"{fn}: kernel_shape must equal W's spatial shape {list(k)}, "
            f"got kernel_shape={list(kernel_shape)}"
        )
    if pads is not None and mode != "NOTSET":
        raise ValueError(
            f"{fn}: pads cannot be used together with auto_pad={mode!r} (the spec); "
            "give one of them"
        )
    p = _ints(pads, 2 * n, "pads", fn, 0, 0)
    eff = tuple(_l.k_eff(ki, di) for ki, di in zip(k, d))
    L = xs[2:]
    if transposed:
        if ws[0] != xs[1] or xs[1] % g:
            raise ValueError(
                f"{fn}: W must be (C, M/group, *k) with C = {xs[1]} input channels divisible "
                f"by group={g}, got W of shape {ws}"
            )
        a = _ints(output_padding, n, "output_padding", fn, 0, 0)
        pairs = _transpose_pairs(fn, mode, L, eff, s, a, p, output_shape)
    else:
        if output_padding is not None or output_shape is not None:
            raise ValueError(f"{fn}: output_padding and output_shape are ConvTranspose's")
        if ws[1] * g != xs[1] or ws[0] % g:
            raise ValueError(
                f"{fn}: W must be (M, C/group, *k) with M divisible by group={g} and "
                f"C = {xs[1]} = W.shape[1] * group, got W of shape {ws}"
            )
        pairs = _conv_pairs(fn, mode, L, k, d, s, p)
    spatial = _SPATIAL[3 - n :]
    fmt = "NC" + spatial
    low = Lowering(
        transposed,
        s,
        d,
        g,
        pairs,
        False,
        fmt,
        ("IO" if transposed else "OI") + spatial,
        fmt,
        spatial,
        L,
        k,
    )
    if any(o <= 0 for o in low.out_size):
        raise ValueError(
            f"{fn}: empty output: input {L}, kernel_shape {list(k)}, strides {list(s)}, "
            f"dilations {list(d)} and pads {[lo for lo, _ in pairs] + [hi for _, hi in pairs]} "
            f"give output size {low.out_size}; use smaller pads"
        )
    return low


def _conv_pairs(
    fn: str,
    mode: str,
    L: tuple[int, ...],
    k: tuple[int, ...],
    d: tuple[int, ...],
    s: tuple[int, ...],
    p: tuple[int, ...],
) -> _l.Pairs:
    eff = tuple(_l.k_eff(ki, di) for ki, di in zip(k, d))
    n = len(L)
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        pairs = tuple(_l.same_pads(*v, upper=mode == "SAME_UPPER") for v in zip(L, eff, s))
    else:
        pairs = tuple((p[i], p[i + n]) for i in range(n))
    _l.check_fits(fn, L, k, d, pairs, "onnxruntime refuses it")
    return pairs


def _transpose_pairs(
    fn: str,
    mode: str,
    L: tuple[int, ...],
    eff: tuple[int, ...],
    s: tuple[int, ...],
    a: tuple[int, ...],
    p: tuple[int, ...],
    output_shape: Sequence[int] | None,
) -> _l.Pairs:
    n = len(L)
    # ONNX appends output_padding to the full result, beyond the stride too (the spec)
    full0 = cast("tuple[int, ...]", shapes.conv_transpose_output_size(L, eff, s))
    full = tuple(f + ai for f, ai in zip(full0, a))
    if output_shape is not None:
        out = _ints(output_shape, n, "output_shape", fn, 1, 1)
    elif mode in ("SAME_UPPER", "SAME_LOWER"):
        out = tuple(Li * si for Li, si in zip(L, s))
    else:
        begin_end = p if mode == "NOTSET" else (0,) * (2 * n)
        # output_padding extends the full output at the end: crop it less there
        return tuple((begin_end[i], begin_end[i + n] - a[i]) for i in range(n))
    pairs = []
    for f, o, ai in zip(full, out, a):
        total = f - o
        begin = total // 2 if mode == "SAME_UPPER" else total - total // 2
        pairs.append((begin, total - begin - ai))
    return tuple(pairs)


def conv(
    X: Any,
    W: Any,
    B: Any = None,
    *,
    auto_pad: str = "NOTSET",
    dilations: Sequence[int] | None = None,
    group: int = 1,
    kernel_shape: Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    strides: Sequence[int] | None = None,
) -> np.ndarray:
    """ONNX ``Conv``: X ``(N, C, *L)``, W ``(M, C/group, *k)``, B ``(M,)``.

    ``out = floor((L + begin + end - k_eff) / s) + 1`` per dim; SAME_UPPER and
    SAME_LOWER give ``ceil(L / s)`` (see :func:`lower`).

    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> conv(x, np.ones((1, 1, 2)), pads=[1, 0])
    array([[[0., 1., 3., 5., 7.]]])
    >>> conv(x, np.ones((1, 1, 2)), strides=[2], auto_pad="SAME_LOWER")
    array([[[0., 3., 7.]]])
    """
    x = np.asarray(X)
    w = np.asarray(W)
    low = lower(
        "Conv",
        x.shape,
        w.shape,
        auto_pad=auto_pad,
        dilations=dilations,
        group=group,
        kernel_shape=kernel_shape,
        pads=pads,
        strides=strides,
    )
    _check_bias(B, w.shape[0], "compat.onnx.conv")
    return _l.run(low, x, w, B, "compat.onnx.conv")


def conv_transpose(
    X: Any,
    W: Any,
    B: Any = None,
    *,
    auto_pad: str = "NOTSET",
    dilations: Sequence[int] | None = None,
    group: int = 1,
    kernel_shape: Sequence[int] | None = None,
    output_padding: Sequence[int] | None = None,
    output_shape: Sequence[int] | None = None,
    pads: Sequence[int] | None = None,
    strides: Sequence[int] | None = None,
) -> np.ndarray:
    """ONNX ``ConvTranspose``: X ``(N, C, *L)``, W ``(C, M/group, *k)``, B ``(M,)``.

    ``out = s(L - 1) + a + k_eff - begin - end`` per dim, or ``output_shape``, or
    ``L s`` for SAME_UPPER/SAME_LOWER (see :func:`lower`; where onnxruntime differs,
    the spec is followed: the module docstring lists the differences).

    The node test ``test_convtranspose_autopad_same``, one row:

    >>> y = conv_transpose(np.array([[[0., 1., 2.]]]), np.ones((1, 1, 3)), strides=[2],
    ...                    auto_pad="SAME_UPPER")
    >>> y
    array([[[0., 0., 1., 1., 3., 2.]]])
    """
    x = np.asarray(X)
    w = np.asarray(W)
    low = lower(
        "ConvTranspose",
        x.shape,
        w.shape,
        auto_pad=auto_pad,
        dilations=dilations,
        group=group,
        kernel_shape=kernel_shape,
        output_padding=output_padding,
        output_shape=output_shape,
        pads=pads,
        strides=strides,
    )
    _check_bias(B, w.shape[1] * low.groups, "compat.onnx.conv_transpose")
    return _l.run(low, x, w, B, "compat.onnx.conv_transpose")


def _check_bias(B: Any, m: int, fn: str) -> None:
    if B is not None and np.shape(B) != (m,):
        raise ValueError(
            f"{fn}: B must have shape ({m},), one per output channel, got {np.shape(B)}"
        )
