"""Keras 3's ``keras.ops.conv`` and ``keras.ops.conv_transpose`` (TensorFlow backend),
exactly, on NumPy.

Channels-last data by default (``data_format='channels_first'`` switches), kernels
``(*k, in/groups, out)`` for ``conv`` and ``(*k, out, in)`` for ``conv_transpose``;
nothing is mirrored. :func:`lower` is the convention, written once.

Per spatial dim (``k_eff = d(k - 1) + 1``, ``a`` the output_padding)::

    conv:            TensorFlow's 'SAME' / 'VALID' (see tconv.compat.tf)
    conv_transpose:  Keras picks the output size, TensorFlow's transposed conv the crop:
                     'valid': out = (L-1)s + max(k_eff, s), or (L-1)s + k_eff + a
                     'same':  out = L s, or (L-1)s + k_eff % 2 + a
                     and TF's 'SAME'/'VALID' crop for that size

Keras 3.15 refuses ``conv`` with strides > 1 together with a dilation (TF's
``tf.nn.convolution`` does); this module computes it, with TF's 'SAME' rule. Where
TensorFlow refuses Keras's size (for instance 'same' with an even kernel and
``output_padding=0``: ``(L-1)s`` is out of TF's range), this module raises the
ValueError of :func:`tconv.compat.tf.lower`, which states the sizes that can come.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _args
from . import _lowering as _l
from . import tf as _tf
from ._lowering import Lowering

__all__ = ["conv", "conv_transpose", "lower", "output_size"]

_TF_FORMAT = {1: ("NWC", "NCW"), 2: ("NHWC", "NCHW"), 3: ("NDHWC", "NCDHW")}


def output_size(
    size: int,
    kernel_size: int,
    stride: int,
    padding: str,
    output_padding: int | None,
    dilation: int,
) -> int:
    """Keras's output size of a transposed convolution (``backend_utils``'s rule).

    >>> output_size(7, 4, 2, "same", None, 1), output_size(7, 1, 3, "valid", None, 1)
    (14, 21)
    """
    e = _l.k_eff(kernel_size, dilation)
    if padding == "valid":
        a = max(e, stride) - e if output_padding is None else output_padding
        return (size - 1) * stride + e + a
    if output_padding is None:
        return size * stride
    return (size - 1) * stride + e % 2 + output_padding


def _format(data_format: str | None, n: int, fn: str) -> str:
    if data_format not in (None, "channels_last", "channels_first"):
        raise ValueError(
            f"{fn}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}"
        )
    return _TF_FORMAT[n][1 if data_format == "channels_first" else 0]


def _mode(padding: Any, fn: str) -> str:
    if not isinstance(padding, str) or padding.lower() not in ("same", "valid"):
        raise ValueError(f"{fn}: padding must be 'valid' or 'same', got {padding!r}")
    return padding.lower()


def lower(
    op: str,
    input_shape: Sequence[int],
    kernel_shape: Sequence[int],
    strides: Any = 1,
    padding: str = "valid",
    output_padding: Any = None,
    data_format: str | None = None,
    dilation_rate: Any = 1,
) -> Lowering:
    """Keras's convention: ``keras.ops.conv`` (``op='conv'``) or ``keras.ops.conv_transpose``
    (``op='conv_transpose'``) as tconv's op. The module docstring gives the rules.

    >>> lower("conv_transpose", (1, 7, 1), (4, 1, 1), 2, "same").padding
    ((1, 1),)
    >>> lower("conv_transpose", (1, 7, 1), (1, 1, 1), 3, "valid").padding   # k_eff < s
    ((0, -2),)
    """
    xs, ws = tuple(int(v) for v in input_shape), tuple(int(v) for v in kernel_shape)
    n = len(xs) - 2
    transposed = op == "conv_transpose"
    fn = f"compat.keras.{op}"
    if op not in ("conv", "conv_transpose") or n not in _TF_FORMAT:
        raise ValueError(
            f"{fn}: op must be 'conv' or 'conv_transpose' on 1 to 3 spatial dims, got op={op!r} "
            f"and inputs of shape {xs}"
        )
    fmt = _format(data_format, n, fn)
    mode = _mode(padding, fn)
    s = _args.positive_ntuple(strides, n, "strides", fn)
    d = _args.positive_ntuple(dilation_rate, n, "dilation_rate", fn)
    if not transposed:
        if output_padding is not None:
            raise ValueError(f"{fn}: output_padding is conv_transpose's argument")
        return _tf.lower("conv", xs, ws, s, mode.upper(), fmt, d, fn=fn)
    a = (
        None
        if output_padding is None
        else _args.non_negative_ntuple(output_padding, n, "output_padding", fn)
    )
    L = tuple(v for v, c in zip(xs, fmt) if c not in "NC")
    out = tuple(
        output_size(L[i], ws[i], s[i], mode, None if a is None else a[i], d[i]) for i in range(n)
    )
    for i, o in enumerate(out):
        if o <= 0:  # TF refuses an empty output_shape as out of its range
            e = _l.k_eff(ws[i], d[i])
            first = (L[i] - 1) * s[i] + (1 if mode == "same" else e)
            raise ValueError(
                f"{fn}: Keras's output size {o} (input {L[i]}, kernel {ws[i]}, stride {s[i]}, "
                f"padding={mode!r}, output_padding={None if a is None else a[i]}) is empty: the "
                f"sizes that can are {first}..{first + s[i] - 1}"
            )
    return _tf.lower("conv_transpose", xs, ws, s, mode.upper(), fmt, d, out, fn=fn)


def conv(
    inputs: Any,
    kernel: Any,
    strides: Any = 1,
    padding: str = "valid",
    data_format: str | None = None,
    dilation_rate: Any = 1,
) -> np.ndarray:
    """``keras.ops.conv``: inputs ``(N, *L, C)``, kernel ``(*k, C/groups, out)``.

    >>> conv(np.ones((1, 5, 5, 2)), np.ones((3, 3, 2, 4)), 2, "same").shape
    (1, 3, 3, 4)
    """
    x, w = np.asarray(inputs), np.asarray(kernel)
    low = lower("conv", x.shape, w.shape, strides, padding, None, data_format, dilation_rate)
    return _l.run(low, x, w, None, "compat.keras.conv")


def conv_transpose(
    inputs: Any,
    kernel: Any,
    strides: Any = 1,
    padding: str = "valid",
    output_padding: Any = None,
    data_format: str | None = None,
    dilation_rate: Any = 1,
) -> np.ndarray:
    """``keras.ops.conv_transpose``: inputs ``(N, *L, in)``, kernel ``(*k, out, in)``.

    >>> conv_transpose(np.ones((1, 7, 7, 1)), np.ones((4, 4, 3, 1)), 2, "same").shape
    (1, 14, 14, 3)
    """
    x, w = np.asarray(inputs), np.asarray(kernel)
    low = lower(
        "conv_transpose",
        x.shape,
        w.shape,
        strides,
        padding,
        output_padding,
        data_format,
        dilation_rate,
    )
    return _l.run(low, x, w, None, "compat.keras.conv_transpose")
