"""JAX's ``jax.lax.conv_general_dilated`` and ``jax.lax.conv_transpose``, exactly, on NumPy.

``dimension_numbers`` as in JAX: ``None``, three spec strings such as
``('NHWC', 'HWIO', 'NHWC')``, or a ``ConvDimensionNumbers``-like object of integer
permutations; the spatial dims are in the order of the kernel spec, as JAX pairs
them with ``window_strides``. :func:`lower` is the convention, written once.

Per spatial dim (``k_eff = d(k - 1) + 1``)::

    conv_general_dilated:  XLA's convolution: the input dilated by lhs_dilation (l - 1
        zeros between elements), padded by (lo, hi) (negative: elements dropped), a
        cross-correlation with the kernel dilated by rhs_dilation, window strides s.
        l = 1: tconv's conv with the pairs. l > 1: tconv's conv_transpose of stride l
        with the kernel mirrored and regrouped, the crop (k_eff - 1 - lo, k_eff - 1 - hi),
        then every s-th output. 'SAME' / 'SAME_LOWER' / 'VALID' (l = 1 only): the odd
        pad element at the end / at the start; 'SAME' gives ceil(L / s).
    conv_transpose:  conv_general_dilated with lhs_dilation = strides, window strides 1
        and the pads 'SAME': pad_len = k_eff + s - 2, lo = k_eff - 1 if s > k_eff - 1
        else ceil(pad_len / 2); 'VALID': lo = k_eff - 1, hi = k_eff + s - 2 + max(k_eff -
        s, 0) - lo; pairs as given (they pad the dilated input, not the output).
        The kernel is NOT mirrored unless transpose_kernel=True (then its O and I axes
        are swapped and it is mirrored, as TF and PyTorch use it); no groups.

Where JAX returns an empty array (a kernel larger than the padded input), this module
raises a ValueError, as tconv's ops do. ``batch_group_count`` (a weight gradient's
form) is not supported; ``precision`` is ignored (tconv computes in the dtype of its
inputs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _args
from . import _lowering as _l
from ._lowering import Lowering

__all__ = ["conv_general_dilated", "conv_transpose", "conv_transpose_padding", "lower"]

_LETTERS = "HWDUVXYZ"


def _specs(
    dimension_numbers: Any, ndim: int, fn: str, transpose_default: bool
) -> tuple[str, str, str]:
    """The three spec strings of ``dimension_numbers`` (``None``: JAX's default)."""
    n = ndim - 2
    if dimension_numbers is None:
        sp = "HWD"[:n] if n <= 3 else _LETTERS[:n]
        if transpose_default:
            return "N" + sp + "C", sp + "IO", "N" + sp + "C"
        return "NC" + sp, "OI" + sp, "NC" + sp
    if all(hasattr(dimension_numbers, a) for a in ("lhs_spec", "rhs_spec", "out_spec")):
        perms = (dimension_numbers.lhs_spec, dimension_numbers.rhs_spec, dimension_numbers.out_spec)
        specs = []
        for perm, (a, b) in zip(perms, (("N", "C"), ("O", "I"), ("N", "C"))):
            chars = [""] * ndim
            chars[perm[0]], chars[perm[1]] = a, b
            for j, axis in enumerate(perm[2:]):
                chars[axis] = _LETTERS[j]
            specs.append("".join(chars))
        return specs[0], specs[1], specs[2]
    if (
        not isinstance(dimension_numbers, (tuple, list))
        or len(dimension_numbers) != 3
        or not all(isinstance(v, str) for v in dimension_numbers)
    ):
        raise TypeError(
            f"{fn}: dimension_numbers must be None, three spec strings such as "
            f"('NHWC', 'HWIO', 'NHWC') or a ConvDimensionNumbers, got {dimension_numbers!r}"
        )
    lhs, rhs, out = dimension_numbers
    for spec, pair in ((lhs, "NC"), (rhs, "OI"), (out, "NC")):
        if len(spec) != ndim or len(set(spec)) != ndim or not all(c in spec for c in pair):
            raise ValueError(
                f"{fn}: dimension_numbers spec {spec!r} must have {ndim} distinct characters "
                f"with {pair[0]!r} and {pair[1]!r} once each"
            )
    if not set(lhs) - {"N", "C"} == set(rhs) - {"O", "I"} == set(out) - {"N", "C"}:
        raise ValueError(
            f"{fn}: dimension_numbers must name the same spatial dims in all three specs, "
            f"got {tuple(dimension_numbers)!r}"
        )
    return lhs, rhs, out


def _ints(value: Any, n: int, name: str, fn: str) -> tuple[int, ...]:
    if value is None:
        return (1,) * n
    return _args.positive(_args.ntuple(value, n, name, fn, broadcast_one=False), name, fn)


def conv_transpose_padding(k_eff: int, stride: int, padding: str) -> tuple[int, int]:
    """JAX's padding of the dilated input for ``conv_transpose``'s 'SAME' and 'VALID'.

    >>> conv_transpose_padding(4, 2, "SAME"), conv_transpose_padding(1, 3, "SAME")
    ((2, 2), (0, 2))
    """
    if padding == "SAME":
        pad_len = k_eff + stride - 2
        lo = k_eff - 1 if stride > k_eff - 1 else -(-pad_len // 2)
    else:
        pad_len = k_eff + stride - 2 + max(k_eff - stride, 0)
        lo = k_eff - 1
    return lo, pad_len - lo


def lower(
    lhs_shape: Sequence[int],
    rhs_shape: Sequence[int],
    window_strides: Sequence[int],
    padding: Any,
    lhs_dilation: Sequence[int] | None = None,
    rhs_dilation: Sequence[int] | None = None,
    dimension_numbers: Any = None,
    feature_group_count: int = 1,
    batch_group_count: int = 1,
    fn: str = "compat.jax.conv_general_dilated",
) -> Lowering:
    """JAX's convention: ``lax.conv_general_dilated`` as tconv's op (``conv_transpose``
    lowers through it, as JAX computes it). The module docstring gives the rules.

    >>> lower((1, 1, 7), (1, 1, 3), (1,), [(1, 1)]).describe()
    'conv1d(stride=(1,), padding=((1, 1),), dilation=(1,), groups=1)'
    >>> lower((1, 1, 7), (1, 1, 4), (1,), [(2, 2)], lhs_dilation=(2,)).describe()
    'conv_transpose1d(stride=(2,), padding=((1, 1),), dilation=(1,), groups=1), kernel mirrored'
    """
    xs, ws = tuple(int(v) for v in lhs_shape), tuple(int(v) for v in rhs_shape)
    if len(xs) != len(ws) or not 3 <= len(xs) <= 5:
        raise ValueError(
            f"{fn}: lhs and rhs must have the same rank, with 1 to 3 spatial dims (tconv's "
            f"ops), got lhs {xs} and rhs {ws}"
        )
    n = len(xs) - 2
    lhs, rhs, out = _specs(dimension_numbers, len(xs), fn, transpose_default=False)
    spatial = "".join(c for c in rhs if c not in "OI")
    s = _ints(window_strides, n, "window_strides", fn)
    lhs_d = _ints(lhs_dilation, n, "lhs_dilation", fn)
    d = _ints(rhs_dilation, n, "rhs_dilation", fn)
    g = _args.positive_int(feature_group_count, "feature_group_count", fn)
    if batch_group_count != 1:
        raise ValueError(
            f"{fn}: batch_group_count must be 1 (tconv.compat computes feature groups only), "
            f"got batch_group_count={batch_group_count!r}"
        )
    L = tuple(xs[lhs.index(c)] for c in spatial)
    k = tuple(ws[rhs.index(c)] for c in spatial)
    c_in, k_in, k_out = xs[lhs.index("C")], ws[rhs.index("I")], ws[rhs.index("O")]
    if c_in != k_in * g or k_out % g:
        raise ValueError(
            f"{fn}: lhs has {c_in} features; rhs must read {c_in} / feature_group_count="
            f"{g} of them (I) and have a multiple of {g} outputs (O), got rhs {ws} "
            f"with spec {rhs!r}"
        )
    eff = tuple(_l.k_eff(ki, di) for ki, di in zip(k, d))
    dilated = tuple((Li - 1) * li + 1 for Li, li in zip(L, lhs_d))
    if isinstance(padding, str):
        mode = padding.upper()
        if mode not in ("SAME", "SAME_LOWER", "VALID"):
            raise ValueError(
                f"{fn}: padding must be 'SAME', 'SAME_LOWER', 'VALID' or (low, high) pairs, "
                f"got {padding!r}"
            )
        if any(li != 1 for li in lhs_d):
            raise ValueError(
                f"{fn}: string padding is not implemented with an lhs_dilation (as in JAX); "
                "give (low, high) pairs, or use conv_transpose"
            )
        if mode == "VALID":
            pairs: _l.Pairs = ((0, 0),) * n
        else:
            pairs = tuple(_l.same_pads(*v, upper=mode == "SAME") for v in zip(L, eff, s))
    else:
        pairs = _l.as_pairs(padding, n, "padding", fn)
    padded = tuple(q + lo + hi for q, (lo, hi) in zip(dilated, pairs))
    if any(p < e for p, e in zip(padded, eff)):
        raise ValueError(
            f"{fn}: the dilated kernel {eff} is larger than the padded input {padded} "
            f"(lhs {L} dilated to {dilated}, padding {pairs}); JAX returns an empty array: "
            "pad more, or use a smaller kernel or dilation"
        )
    if all(li == 1 for li in lhs_d):
        return Lowering(False, s, d, g, pairs, False, lhs, rhs, out, spatial, L, k)
    crop = tuple((e - 1 - lo, e - 1 - hi) for e, (lo, hi) in zip(eff, pairs))
    return Lowering(
        True, lhs_d, d, g, crop, True, lhs, rhs, out, spatial, L, k, regroup=True, subsample=s
    )


def lower_transpose(
    lhs_shape: Sequence[int],
    rhs_shape: Sequence[int],
    strides: Sequence[int],
    padding: Any,
    rhs_dilation: Sequence[int] | None = None,
    dimension_numbers: Any = None,
    transpose_kernel: bool = False,
    use_consistent_padding: bool = False,
) -> Lowering:
    """``lax.conv_transpose``'s convention: its padding rule, then :func:`lower`.

    >>> lower_transpose((1, 7, 1), (4, 1, 1), (2,), "SAME").padding
    ((1, 1),)
    >>> low = lower_transpose((1, 7, 1), (4, 1, 1), (2,), "SAME", transpose_kernel=True)
    >>> low.flip, low.kernel_format
    (False, 'HOI')
    """
    fn = "compat.jax.conv_transpose"
    xs, ws = tuple(lhs_shape), tuple(rhs_shape)
    if len(xs) != len(ws) or not 3 <= len(xs) <= 5:
        raise ValueError(
            f"{fn}: lhs and rhs must have the same rank, with 1 to 3 spatial dims, got "
            f"lhs {xs} and rhs {ws}"
        )
    n = len(xs) - 2
    specs = _specs(dimension_numbers, len(xs), fn, transpose_default=True)
    rhs = specs[1]
    spatial = "".join(c for c in rhs if c not in "OI")
    s = _ints(strides, n, "strides", fn)
    d = _ints(rhs_dilation, n, "rhs_dilation", fn)
    k = tuple(int(ws[rhs.index(c)]) for c in spatial)
    eff = tuple(_l.k_eff(ki, di) for ki, di in zip(k, d))
    if isinstance(padding, str) and padding in ("SAME", "VALID"):
        pads: Any = tuple(conv_transpose_padding(e, si, padding) for e, si in zip(eff, s))
    elif isinstance(padding, str):
        raise ValueError(
            f"{fn}: padding must be 'SAME', 'VALID' or (low, high) pairs, got {padding!r}"
        )
    elif use_consistent_padding:
        pairs = _l.as_pairs(padding, n, "padding", fn)
        pads = tuple((e - lo - 1, e - hi - 1) for e, (lo, hi) in zip(eff, pairs))
    else:
        pads = padding
    if transpose_kernel:
        # JAX mirrors the kernel and swaps its O and I axes before convolving.
        swapped = rhs.translate(str.maketrans("OI", "IO"))
        specs = (specs[0], swapped, specs[2])
    low = lower(xs, ws, (1,) * n, pads, s, d, specs, 1, 1, fn)
    if transpose_kernel:
        low = Lowering(
            low.transposed,
            low.stride,
            low.dilation,
            low.groups,
            low.padding,
            not low.flip,
            low.data_format,
            low.kernel_format,
            low.out_format,
            low.spatial,
            low.in_size,
            low.kernel_size,
            low.regroup,
            low.subsample,
        )
    return low


def conv_general_dilated(
    lhs: Any,
    rhs: Any,
    window_strides: Sequence[int],
    padding: Any,
    lhs_dilation: Sequence[int] | None = None,
    rhs_dilation: Sequence[int] | None = None,
    dimension_numbers: Any = None,
    feature_group_count: int = 1,
    batch_group_count: int = 1,
    precision: Any = None,
    preferred_element_type: Any = None,
) -> np.ndarray:
    """``jax.lax.conv_general_dilated``: default layouts ``('NCHW', 'OIHW', 'NCHW')``.

    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> conv_general_dilated(x, np.ones((1, 1, 2)), (1,), [(1, 0)])
    array([[[0., 1., 3., 5., 7.]]])
    >>> conv_general_dilated(x, np.ones((1, 1, 2)), (1,), [(1, 1)], lhs_dilation=(2,))
    array([[[0., 0., 1., 1., 2., 2., 3., 3., 4., 4.]]])
    """
    x, w = np.asarray(lhs), np.asarray(rhs)
    low = lower(
        x.shape,
        w.shape,
        window_strides,
        padding,
        lhs_dilation,
        rhs_dilation,
        dimension_numbers,
        feature_group_count,
        batch_group_count,
    )
    y = _l.run(low, x, w, None, "compat.jax.conv_general_dilated")
    return y if preferred_element_type is None else y.astype(preferred_element_type)


def conv_transpose(
    lhs: Any,
    rhs: Any,
    strides: Sequence[int],
    padding: Any,
    rhs_dilation: Sequence[int] | None = None,
    dimension_numbers: Any = None,
    transpose_kernel: bool = False,
    precision: Any = None,
    preferred_element_type: Any = None,
    use_consistent_padding: bool = False,
) -> np.ndarray:
    """``jax.lax.conv_transpose``: default layouts ``('NHWC', 'HWIO', 'NHWC')``; the
    kernel ``(*k, in, out)`` is PyTorch's weight mirrored (``transpose_kernel=False``).

    >>> conv_transpose(np.ones((1, 3, 1)), np.array([1., 2., 3.]).reshape(3, 1, 1), (2,),
    ...                "VALID")[0, :, 0]
    array([3., 2., 4., 2., 4., 2., 1.])
    """
    x, w = np.asarray(lhs), np.asarray(rhs)
    low = lower_transpose(
        x.shape,
        w.shape,
        strides,
        padding,
        rhs_dilation,
        dimension_numbers,
        transpose_kernel,
        use_consistent_padding,
    )
    y = _l.run(low, x, w, None, "compat.jax.conv_transpose")
    return y if preferred_element_type is None else y.astype(preferred_element_type)
