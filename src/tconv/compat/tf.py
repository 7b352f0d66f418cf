"""TensorFlow's ``tf.nn`` convolutions and transposed convolutions, exactly, on NumPy.

``conv1d``, ``conv2d``, ``conv3d`` and ``conv1d_transpose``, ``conv2d_transpose``,
``conv3d_transpose`` take ``tf.nn``'s arguments with its names and defaults:
channels-last data (``NWC``, ``NHWC``, ``NDHWC``; ``data_format`` switches to
channels-first), filters ``(*k, in/groups, out)`` for a convolution (groups follow
from the channel counts, as in TF) and ``(*k, out, in)`` for a transposed one;
nothing is mirrored. :func:`lower` is the convention, written once.

Per spatial dim (``k_eff = d(k - 1) + 1``)::

    conv:            'SAME': out = ceil(L / s), pads total = max((out-1)s + k_eff - L, 0),
                     the odd element at the end; 'VALID': no padding; explicit pairs
                     (conv2d, conv2d_transpose), as TF's list
                     [[0, 0], [top, bottom], [left, right], [0, 0]]
    conv_transpose:  the adjoint (gradient) of the conv that maps output_shape to L
                     with the same padding: it crops begin = the conv's padding
                     before, from the full output (L-1)s + k_eff, and zeros come past
                     it; 'SAME' takes output sizes (L-1)s + 1 .. L s, 'VALID'
                     (L-1)s + k_eff .. (L-1)s + k_eff + s - 1

Where TensorFlow 2.21 errs, this module raises a ValueError that says why (an
``output_shape`` out of range: TF's AbortedError or InvalidArgumentError from its
kernel; for a dilated 'VALID' convolution whose dilated kernel exceeds the input, TF
returns garbage) or computes what the definition gives (TF's CPU ``Conv3D`` refuses
dilations; ``tf.nn.conv3d`` takes strides as a list of 5 only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _args
from . import _lowering as _l
from ._lowering import Lowering

__all__ = [
    "conv1d",
    "conv1d_transpose",
    "conv2d",
    "conv2d_transpose",
    "conv3d",
    "conv3d_transpose",
    "lower",
]

_FORMATS = {1: ("NWC", "NCW"), 2: ("NHWC", "NCHW"), 3: ("NDHWC", "NCDHW")}


def _per_dim(value: Any, n: int, name: str, fn: str, fmt: str) -> tuple[int, ...]:
    """TF's int or list of 1, n or n + 2 entries (the last in ``fmt``'s order, with 1
    for the batch and channel entries)."""
    if value is None:
        return (1,) * n
    if _args._is_int(value):
        items: tuple[Any, ...] = (value,) * n
    elif isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, (str, bytes)):
        items = tuple(value)
        if len(items) == 1:
            items = items * n
        elif len(items) == n + 2:
            outer = (items[fmt.index("N")], items[fmt.index("C")])
            if outer != (1, 1):
                raise ValueError(
                    f"{fn}: {name} must be 1 in the batch and channel dims, got {list(items)} "
                    f"for data_format={fmt!r}"
                )
            items = tuple(v for v, c in zip(items, fmt) if c not in "NC")
    else:
        items = ()
    if len(items) != n or not all(_args._is_int(v) for v in items):
        raise ValueError(
            f"{fn}: {name} must be an int or a list of 1, {n} or {n + 2} ints, got {value!r}"
        )
    return _args.positive(tuple(int(v) for v in items), name, fn)


def _padding(padding: Any, n: int, fn: str, fmt: str, explicit_ok: bool) -> str | _l.Pairs:
    if isinstance(padding, str):
        if padding not in ("SAME", "VALID"):
            raise ValueError(f"{fn}: padding must be 'SAME', 'VALID' or a list, got {padding!r}")
        return padding
    if not explicit_ok:
        raise ValueError(
            f"{fn}: padding must be 'SAME' or 'VALID' (TensorFlow takes explicit padding "
            f"lists in conv2d and conv2d_transpose only), got {padding!r}"
        )
    pairs = _l.as_pairs(padding, n + 2, "padding", fn)
    if pairs[fmt.index("N")] != (0, 0) or pairs[fmt.index("C")] != (0, 0):
        raise ValueError(
            f"{fn}: explicit padding must be [0, 0] in the batch and channel dims, got {padding!r}"
        )
    spatial = tuple(p for p, c in zip(pairs, fmt) if c not in "NC")
    if any(v < 0 for p in spatial for v in p):
        raise ValueError(f"{fn}: explicit padding must be non-negative, got {padding!r}")
    return spatial


def lower(
    op: str,
    input_shape: Sequence[int],
    filters_shape: Sequence[int],
    strides: Any,
    padding: Any,
    data_format: str | None = None,
    dilations: Any = None,
    output_shape: Sequence[int] | None = None,
    fn: str | None = None,
) -> Lowering:
    """TensorFlow's convention: ``tf.nn.conv{n}d`` (``op='conv'``) or
    ``tf.nn.conv{n}d_transpose`` (``op='conv_transpose'``) as tconv's op.

    ``output_shape`` (transposed only): ``n + 2`` sizes in ``data_format``'s order, or
    the ``n`` spatial ones. The module docstring gives the rules.

    >>> low = lower("conv_transpose", (1, 7, 1), (4, 1, 1), 2, "SAME", output_shape=[1, 14, 1])
    >>> low.padding, low.out_size                 # crop 1 at the start, 1 at the end
    (((1, 1),), (14,))
    >>> lower("conv_transpose", (1, 5, 1), (1, 1, 1), 2, "SAME",
    ...       output_shape=[1, 10, 1]).padding    # k_eff < s: a zero appended
    ((0, -1),)
    >>> lower("conv_transpose", (1, 7, 1), (4, 1, 1), 2, "SAME", output_shape=[1, 15, 1])
    Traceback (most recent call last):
        ...
    ValueError: compat.tf.conv1d_transpose: output_shape 15 cannot come from input size 7 \
with padding='SAME', stride 2, kernel 4, dilation 1: the sizes that can are 13..14 (TF's \
rule: the convolution of the output gives the input)
    """
    transposed = op == "conv_transpose"
    if op not in ("conv", "conv_transpose"):
        raise ValueError(f"compat.tf.lower: op must be 'conv' or 'conv_transpose', got {op!r}")
    xs, ws = tuple(int(v) for v in input_shape), tuple(int(v) for v in filters_shape)
    n = len(xs) - 2
    fn = fn or (f"compat.tf.conv{n}d_transpose" if transposed else f"compat.tf.conv{n}d")
    if n not in _FORMATS or len(ws) != n + 2:
        raise ValueError(
            f"{fn}: input and filters must both have 3, 4 or 5 dims (1 to 3 spatial dims), "
            f"got input {xs} and filters {ws}"
        )
    fmt = _FORMATS[n][0] if data_format is None else data_format
    if fmt not in _FORMATS[n]:
        raise ValueError(f"{fn}: data_format must be one of {_FORMATS[n]}, got {data_format!r}")
    spatial = fmt.replace("N", "").replace("C", "")
    s = _per_dim(strides, n, "strides", fn, fmt)
    d = _per_dim(dilations, n, "dilations", fn, fmt)
    pad = _padding(padding, n, fn, fmt, explicit_ok=n == 2)
    L = tuple(v for v, c in zip(xs, fmt) if c not in "NC")
    c_in = xs[fmt.index("C")]
    k = ws[:n]
    eff = tuple(_l.k_eff(ki, di) for ki, di in zip(k, d))
    if not transposed:
        if output_shape is not None:
            raise ValueError(f"{fn}: output_shape is the transposed convolutions' argument")
        if ws[n] == 0 or c_in % ws[n] or ws[n + 1] % (c_in // ws[n]):
            raise ValueError(
                f"{fn}: filters (*k, in/groups, out) must read the input's {c_in} channels "
                f"in groups (in/groups divides {c_in}, groups divides out), got filters {ws}"
            )
        g = c_in // ws[n]
        if pad == "SAME":
            pairs = tuple(_l.same_pads(*v) for v in zip(L, eff, s))
        elif pad == "VALID":
            pairs = ((0, 0),) * n
        else:
            pairs = pad  # type: ignore[assignment]
        _l.check_fits(fn, L, k, d, pairs, "TensorFlow returns garbage or an empty output here")
        return Lowering(False, s, d, g, pairs, False, fmt, spatial + "IO", fmt, spatial, L, k)
    if ws[n + 1] != c_in:
        raise ValueError(
            f"{fn}: filters (*k, out, in) must have in = the input's {c_in} channels, "
            f"got filters {ws}"
        )
    if output_shape is None:
        raise ValueError(f"{fn}: output_shape is required, as in tf.nn (N, *spatial, C)")
    out = _output_spatial(output_shape, n, fn, fmt, xs[fmt.index("N")], ws[n])
    crops = []
    for i in range(n):
        if pad == "SAME":
            pads = _l.same_pads(out[i], eff[i], s[i])
        elif pad == "VALID":
            pads = (0, 0)
        else:
            pads = pad[i]  # type: ignore[assignment]
        back = out[i] + pads[0] + pads[1] - eff[i]
        if back < 0 or back // s[i] + 1 != L[i]:
            if pad == "SAME":
                first, last = (L[i] - 1) * s[i] + 1, L[i] * s[i]
            else:
                first = (L[i] - 1) * s[i] + eff[i] - pads[0] - pads[1]
                first, last = max(first, 1), first + s[i] - 1
            where = f"padding={padding!r}" if isinstance(padding, str) else f"padding {pads}"
            raise ValueError(
                f"{fn}: output_shape {out[i]} cannot come from input size {L[i]} with "
                f"{where}, stride {s[i]}, kernel {k[i]}, dilation {d[i]}: the sizes that can "
                f"are {first}..{last} (TF's rule: the convolution of the output gives the "
                "input)"
            )
        crops.append(_l.adjoint_crop(L[i], eff[i], s[i], out[i], pads))
    return Lowering(True, s, d, 1, tuple(crops), False, fmt, spatial + "OI", fmt, spatial, L, k)


def _output_spatial(
    output_shape: Any, n: int, fn: str, fmt: str, batch: int, channels: int
) -> tuple[int, ...]:
    items = tuple(np.asarray(output_shape).reshape(-1).tolist())
    if len(items) == n + 2:
        if items[fmt.index("N")] != batch or items[fmt.index("C")] != channels:
            raise ValueError(
                f"{fn}: output_shape {list(items)} must have batch {batch} and {channels} "
                f"channels (filters' out) in data_format {fmt!r}"
            )
        items = tuple(v for v, c in zip(items, fmt) if c not in "NC")
    if len(items) != n or not all(_args._is_int(v) and v > 0 for v in items):
        raise ValueError(
            f"{fn}: output_shape must be {n + 2} positive ints in data_format order "
            f"(or the {n} spatial sizes), got {output_shape!r}"
        )
    return tuple(int(v) for v in items)


def _conv(n: int, input: Any, filters: Any, strides: Any, padding: Any, df: Any, dil: Any) -> Any:
    x, w = np.asarray(input), np.asarray(filters)
    low = lower("conv", x.shape, w.shape, strides, padding, df, dil, fn=f"compat.tf.conv{n}d")
    return _l.run(low, x, w, None, f"compat.tf.conv{n}d")


def _tconv(
    n: int,
    input: Any,
    filters: Any,
    output_shape: Any,
    strides: Any,
    padding: Any,
    df: Any,
    dil: Any,
) -> Any:
    x, w = np.asarray(input), np.asarray(filters)
    fn = f"compat.tf.conv{n}d_transpose"
    low = lower("conv_transpose", x.shape, w.shape, strides, padding, df, dil, output_shape, fn)
    return _l.run(low, x, w, None, fn)


def conv1d(
    input: Any,
    filters: Any,
    stride: Any,
    padding: Any,
    data_format: str = "NWC",
    dilations: Any = None,
    name: str | None = None,
) -> np.ndarray:
    """``tf.nn.conv1d``: input ``(N, W, C)``, filters ``(k, C/groups, out)``.

    >>> conv1d(np.arange(5.0).reshape(1, 5, 1), np.ones((2, 1, 1)), 2, "SAME")[0, :, 0]
    array([1., 5., 4.])
    """
    return _conv(1, input, filters, stride, padding, data_format, dilations)


def conv2d(
    input: Any,
    filters: Any,
    strides: Any,
    padding: Any,
    data_format: str = "NHWC",
    dilations: Any = None,
    name: str | None = None,
) -> np.ndarray:
    """``tf.nn.conv2d``: input ``(N, H, W, C)``, filters ``(kh, kw, C/groups, out)``;
    ``padding`` 'SAME', 'VALID' or ``[[0, 0], [top, bottom], [left, right], [0, 0]]``.

    >>> conv2d(np.ones((1, 4, 4, 1)), np.ones((3, 3, 1, 2)), 2, "SAME").shape
    (1, 2, 2, 2)
    """
    return _conv(2, input, filters, strides, padding, data_format, dilations)


def conv3d(
    input: Any,
    filters: Any,
    strides: Any,
    padding: Any,
    data_format: str = "NDHWC",
    dilations: Any = None,
    name: str | None = None,
) -> np.ndarray:
    """``tf.nn.conv3d``: input ``(N, D, H, W, C)``, filters ``(kd, kh, kw, C/groups, out)``.

    >>> conv3d(np.ones((1, 3, 4, 5, 2)), np.ones((2, 2, 2, 2, 3)), 1, "VALID").shape
    (1, 2, 3, 4, 3)
    """
    return _conv(3, input, filters, strides, padding, data_format, dilations)


def conv1d_transpose(
    input: Any,
    filters: Any,
    output_shape: Any,
    strides: Any,
    padding: Any = "SAME",
    data_format: str = "NWC",
    dilations: Any = None,
    name: str | None = None,
) -> np.ndarray:
    """``tf.nn.conv1d_transpose``: input ``(N, W, in)``, filters ``(k, out, in)``,
    ``output_shape`` ``(N, W_out, out)`` (see :func:`lower` for the sizes it may take).

    >>> conv1d_transpose(np.ones((1, 3, 1)), np.ones((3, 1, 1)), [1, 6, 1], 2)[0, :, 0]
    array([1., 1., 2., 1., 2., 1.])
    """
    return _tconv(1, input, filters, output_shape, strides, padding, data_format, dilations)


def conv2d_transpose(
    input: Any,
    filters: Any,
    output_shape: Any,
    strides: Any,
    padding: Any = "SAME",
    data_format: str = "NHWC",
    dilations: Any = None,
    name: str | None = None,
) -> np.ndarray:
    """``tf.nn.conv2d_transpose``: input ``(N, H, W, in)``, filters ``(kh, kw, out, in)``.

    >>> conv2d_transpose(np.ones((1, 7, 7, 1)), np.ones((4, 4, 3, 1)), [1, 14, 14, 3],
    ...                  2).shape
    (1, 14, 14, 3)
    """
    return _tconv(2, input, filters, output_shape, strides, padding, data_format, dilations)


def conv3d_transpose(
    input: Any,
    filters: Any,
    output_shape: Any,
    strides: Any,
    padding: Any = "SAME",
    data_format: str = "NDHWC",
    dilations: Any = None,
    name: str | None = None,
) -> np.ndarray:
    """``tf.nn.conv3d_transpose``: input ``(N, D, H, W, in)``, filters ``(kd, kh, kw, out, in)``.

    >>> conv3d_transpose(np.ones((1, 2, 2, 2, 1)), np.ones((3, 3, 3, 2, 1)),
    ...                  [1, 4, 4, 4, 2], 2).shape
    (1, 4, 4, 4, 2)
    """
    return _tconv(3, input, filters, output_shape, strides, padding, data_format, dilations)
