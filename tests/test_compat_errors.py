"""tconv.compat's bad input, without the frameworks: a ValueError or TypeError that names
the function, the argument, the rule and the value; and the faces against PyTorch where
their conventions meet PyTorch's (symmetric crops)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import rel_err
from tconv.compat import jax as cj
from tconv.compat import keras as ck
from tconv.compat import onnx as co
from tconv.compat import tf as ctf

X1 = np.ones((1, 1, 5))
W1 = np.ones((1, 1, 3))
XL = np.ones((1, 5, 1))
WL = np.ones((3, 1, 1))


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (
            lambda: co.conv(X1, W1, auto_pad="SAME"),
            ValueError,
            r"compat\.onnx\.conv: auto_pad must be one of",
        ),
        (lambda: co.conv(X1, W1, pads=[1]), ValueError, r"pads must be a list of 2 ints"),
        (lambda: co.conv(X1, W1, pads=[-1, 0]), ValueError, r"pads must be non-negative"),
        (lambda: co.conv(X1, W1, strides=2), TypeError, r"strides must be a list of 1 ints"),
        (
            lambda: co.conv(X1, W1, kernel_shape=[2]),
            ValueError,
            r"kernel_shape must equal W's spatial shape \[3\]",
        ),
        (
            lambda: co.conv(X1, W1, pads=[0, 0], auto_pad="VALID"),
            ValueError,
            r"pads cannot be used together with auto_pad",
        ),
        (lambda: co.conv(X1, np.ones((1, 2, 3))), ValueError, r"C = 1 = W.shape\[1\] \* group"),
        (
            lambda: co.conv(X1, np.ones((1, 1, 9))),
            ValueError,
            r"larger than the padded input.*dilated kernel size \(9,\)",
        ),
        (lambda: co.conv(X1, W1, np.ones(2)), ValueError, r"B must have shape \(1,\)"),
        (lambda: co.conv_transpose(X1, W1, pads=[4, 4]), ValueError, r"empty output"),
        (
            lambda: co.conv_transpose(X1, W1, output_shape=[0]),
            ValueError,
            r"output_shape must be positive",
        ),
        (lambda: co.conv_transpose(np.ones((1, 5)), W1), ValueError, r"1 to 3 spatial dims"),
        (
            lambda: ctf.conv1d(XL, WL, 1, "same"),
            ValueError,
            r"compat\.tf\.conv1d: padding must be 'SAME', 'VALID'",
        ),
        (
            lambda: ctf.conv1d(XL, WL, 1, [[0, 0], [1, 1], [0, 0]]),
            ValueError,
            r"explicit padding lists in conv2d",
        ),
        (
            lambda: ctf.conv1d(XL, WL, [2, 1, 1], "SAME"),
            ValueError,
            r"strides must be 1 in the batch and channel dims",
        ),
        (
            lambda: ctf.conv1d(XL, WL, 1, "SAME", data_format="NHWC"),
            ValueError,
            r"data_format must be one of",
        ),
        (
            lambda: ctf.conv1d_transpose(XL, WL, [1, 20, 1], 2),
            ValueError,
            r"output_shape 20 cannot come .* 9\.\.10",
        ),
        (
            lambda: ctf.conv1d_transpose(XL, WL, [1, 10, 2], 2),
            ValueError,
            r"must have batch 1 and 1 channels",
        ),
        (
            lambda: ctf.conv1d_transpose(XL, np.ones((3, 1, 2)), [1, 10, 1], 2),
            ValueError,
            r"in = the input's 1 channels",
        ),
        (
            lambda: ck.conv(XL, WL, padding="full"),
            ValueError,
            r"compat\.keras\.conv: padding must be 'valid' or 'same'",
        ),
        (
            lambda: ck.conv(XL, WL, data_format="NWC"),
            ValueError,
            r"data_format must be 'channels_last'",
        ),
        (
            lambda: ck.conv_transpose(XL, np.ones((4, 1, 1)), 2, "same", 0),
            ValueError,
            r"output_shape 8 cannot come",
        ),
        (
            lambda: cj.conv_general_dilated(X1, W1, (1,), "SAME", lhs_dilation=(2,)),
            ValueError,
            r"string padding is not implemented with an lhs_dilation",
        ),
        (
            lambda: cj.conv_general_dilated(X1, W1, (1,), "FULL"),
            ValueError,
            r"padding must be 'SAME', 'SAME_LOWER', 'VALID'",
        ),
        (
            lambda: cj.conv_general_dilated(X1, W1, (1,), [(1, 1)], batch_group_count=2),
            ValueError,
            r"batch_group_count must be 1",
        ),
        (
            lambda: cj.conv_general_dilated(X1, W1, (1,), [1, 1]),
            TypeError,
            r"padding must be a sequence of 1 \(low, high\) int pairs",
        ),
        (
            lambda: cj.conv_general_dilated(
                X1, W1, (1,), "VALID", dimension_numbers=("NCH", "OIW", "NCH")
            ),
            ValueError,
            r"same spatial dims",
        ),
        (
            lambda: cj.conv_transpose(XL, WL, (2,), [(-9, 0)]),
            ValueError,
            r"larger than the padded input",
        ),
    ],
)
def test_bad_input(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


@settings(max_examples=60)
@given(
    n=st.integers(1, 3), k=st.integers(1, 4), s=st.integers(1, 3), d=st.integers(1, 2),
    L=st.integers(1, 5), p=st.integers(0, 3), seed=st.integers(0, 2**32 - 1),
)  # fmt: skip
def test_onnx_symmetric_pads_equal_pytorch(torch, n, k, s, d, L, p, seed):
    """Where ONNX's convention is PyTorch's (symmetric pads, output_padding < stride),
    compat.onnx equals torch.nn.functional, bias included."""
    e = d * (k - 1) + 1
    a = min(s - 1, 1)
    from hypothesis import assume

    assume((L - 1) * s + e + a - 2 * p > 0)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 2, *(L,) * n))
    w = rng.standard_normal((2, 3, *(k,) * n))
    b = rng.standard_normal(3)
    got = co.conv_transpose(x, w, b, strides=[s] * n, pads=[p] * 2 * n, dilations=[d] * n,
                            output_padding=[a] * n)  # fmt: skip
    fn = getattr(torch.nn.functional, f"conv_transpose{n}d")
    ref = fn(
        *(torch.from_numpy(v) for v in (x, w, b)), stride=s, padding=p, output_padding=a, dilation=d
    )
    assert rel_err(got, ref.numpy()) <= 1e-10
