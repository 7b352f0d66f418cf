"""Every bad-input rule of the conv ops raises a clear ValueError or TypeError
that names the argument, the rule and the value."""

from __future__ import annotations

import numpy as np
import pytest

import tconv
import tconv.functional as F

X2 = np.zeros((1, 4, 8, 8))
WT = np.zeros((4, 2, 3, 3))  # transposed: (C_in, C_out/g, kH, kW)
WC = np.zeros((2, 4, 3, 3))  # conv: (C_out, C_in/g, kH, kW)


@pytest.mark.parametrize(
    ("call", "exc", "pattern"),
    [
        # channels
        (
            lambda: F.conv2d(X2, np.zeros((2, 3, 3, 3))),
            ValueError,
            r"input has 4 channels.*weight\.shape\[1\] \* groups = 3",
        ),
        (
            lambda: F.conv_transpose2d(X2, np.zeros((3, 2, 3, 3))),
            ValueError,
            r"input has 4 channels.*weight\.shape\[0\] = 3",
        ),
        (lambda: F.conv2d(X2, np.zeros((4, 2, 3, 3))), ValueError, r"use groups=2"),
        # groups
        (lambda: F.conv2d(X2, WC, groups=3), ValueError, r"groups=3 must divide in_channels=4"),
        (
            lambda: F.conv2d(X2, np.zeros((3, 2, 3, 3)), groups=2),
            ValueError,
            r"groups=2 must divide out_channels=3",
        ),
        (
            lambda: F.conv_transpose2d(X2, WT, groups=3),
            ValueError,
            r"groups=3 must divide in_channels=4",
        ),
        (lambda: F.conv2d(X2, WC, groups=0), ValueError, r"groups must be positive, got groups=0"),
        (lambda: F.conv2d(X2, WC, groups=1.5), TypeError, r"groups must be an int, got float 1.5"),
        # output_padding
        (
            lambda: F.conv_transpose2d(X2, WT, stride=2, output_padding=2),
            ValueError,
            r"output_padding must be smaller than stride or dilation.*output_padding=\(2, 2\)",
        ),
        (
            lambda: F.conv_transpose2d(X2, WT, output_padding=-1),
            ValueError,
            r"output_padding must be non-negative, got output_padding=-1",
        ),
        # padding, stride, dilation
        (
            lambda: F.conv2d(X2, WC, padding=-1),
            ValueError,
            r"padding must be non-negative, got padding=-1",
        ),
        (
            lambda: F.conv_transpose2d(X2, WT, padding=(1, -2)),
            ValueError,
            r"padding must be non-negative.*\(1, -2\)",
        ),
        (lambda: F.conv2d(X2, WC, stride=0), ValueError, r"stride must be positive, got stride=0"),
        (
            lambda: F.conv_transpose2d(X2, WT, stride=(1, -1)),
            ValueError,
            r"stride must be positive",
        ),
        (
            lambda: F.conv2d(X2, WC, dilation=0),
            ValueError,
            r"dilation must be positive, got dilation=0",
        ),
        (lambda: F.conv_transpose2d(X2, WT, dilation=-2), ValueError, r"dilation must be positive"),
        # tuple length and integer types
        (
            lambda: F.conv2d(X2, WC, stride=(1, 2, 3)),
            ValueError,
            r"stride must be an int or a tuple of 2 ints.*got 3 values",
        ),
        (
            lambda: F.conv_transpose2d(X2, WT, padding=(1, 1, 1)),
            ValueError,
            r"padding must be an int or a tuple of 2 ints",
        ),
        (
            lambda: F.conv2d(X2, WC, stride=1.0),
            TypeError,
            r"stride must be an int or a tuple of 2 ints, got float 1.0",
        ),
        (
            lambda: F.conv2d(X2, WC, padding=(1, 0.5)),
            TypeError,
            r"padding must contain ints, got float 0.5",
        ),
        (lambda: F.conv_transpose2d(X2, WT, dilation=None), TypeError, r"dilation must be an int"),
        # ranks
        (
            lambda: F.conv2d(np.zeros((1, 1, 4, 8, 8)), WC),
            ValueError,
            r"input must be 4-D \(N, C, H, W\) or 3-D unbatched.*got 5-D",
        ),
        (
            lambda: F.conv1d(np.zeros(5), np.zeros((1, 1, 3))),
            ValueError,
            r"input must be 3-D.*got 1-D",
        ),
        (
            lambda: F.conv2d(X2, np.zeros((2, 4, 3))),
            ValueError,
            r"weight must be 4-D \(out_channels, in_channels/groups.*got 3-D",
        ),
        (
            lambda: F.conv_transpose2d(X2, np.zeros((4, 2, 3))),
            ValueError,
            r"weight must be 4-D \(in_channels, out_channels/groups",
        ),
        # bias
        (
            lambda: F.conv2d(X2, WC, np.zeros(3)),
            ValueError,
            r"bias must have shape \(2,\).*got shape \(3,\)",
        ),
        (
            lambda: F.conv_transpose2d(X2, WT, np.zeros((2, 1))),
            ValueError,
            r"bias must have shape \(2,\)",
        ),
        # sizes
        (
            lambda: F.conv2d(np.zeros((1, 4, 2, 8)), WC),
            ValueError,
            r"kernel larger than the padded input: padded input size \(2, 8\).*dilated kernel size \(3, 3\)",
        ),
        (
            lambda: F.conv2d(np.zeros((1, 4, 4, 8)), WC, dilation=2),
            ValueError,
            r"kernel larger than the padded input.*\(5, 5\)",
        ),
        (
            lambda: F.conv_transpose2d(np.zeros((1, 4, 1, 1)), WT, padding=2),
            ValueError,
            r"empty output.*output size \(-1, -1\).*use a smaller padding",
        ),
        (
            lambda: F.conv_transpose1d(
                np.zeros((1, 4, 16)), np.zeros((4, 1, 3)), stride=2, padding=1, output_size=34
            ),
            ValueError,
            r"output_size 34 is out of range.*31 to 32.*use padding=0, output_padding=1",
        ),
        (
            lambda: F.conv_transpose1d(
                np.zeros((1, 4, 16)),
                np.zeros((4, 1, 3)),
                stride=2,
                output_padding=1,
                output_size=32,
            ),
            ValueError,
            r"output_size or output_padding, not both",
        ),
        # padding strings
        (
            lambda: F.conv2d(X2, WC, stride=2, padding="same"),
            ValueError,
            r"padding='same' is not supported for strided convolutions.*padding=\(1, 1\)",
        ),
        (
            lambda: F.conv2d(X2, WC, padding="full"),
            ValueError,
            r"padding string must be 'same' or 'valid', got padding='full'",
        ),
        (
            lambda: F.conv_transpose2d(X2, WT, padding="full"),
            ValueError,
            r"conv_transpose2d: padding string must be 'same' or 'valid', got padding='full'",
        ),
        # non-numeric input
        (
            lambda: F.conv2d(np.array([["a"]]), WC),
            TypeError,
            r"input must hold real numbers.*dtype <U1",
        ),
        (
            lambda: F.conv1d([[[1.0, 2.0], [3.0]]], np.zeros((1, 1, 1))),
            TypeError,
            r"input must be a numeric array",
        ),
        (
            lambda: F.conv_transpose2d(X2, np.full((4, 2, 3, 3), 1 + 1j)),
            TypeError,
            r"weight must hold real numbers.*complex128",
        ),
        (lambda: F.conv2d(X2, WC, bias="abc"), TypeError, r"bias must hold real numbers"),
    ],
)
def test_bad_input(call, exc, pattern) -> None:
    with pytest.raises(exc, match=pattern):
        call()


def test_messages_name_the_function() -> None:
    with pytest.raises(ValueError, match=r"^conv_transpose3d: stride"):
        F.conv_transpose3d(np.zeros((1, 1, 2, 2, 2)), np.zeros((1, 1, 1, 1, 1)), stride=0)


def test_accepted_forms() -> None:
    """What PyTorch accepts we accept: 1-tuples for every dim, numpy ints, lists."""
    y1 = F.conv2d(X2, WC, stride=(2,), padding=np.int64(1))
    y2 = F.conv2d(X2, WC, stride=[2, 2], padding=(1, 1))
    np.testing.assert_array_equal(y1, y2)
    assert F.conv_transpose2d(X2, WT, output_size=(1, 2, 10, 10)).shape == (1, 2, 10, 10)


def test_dtype_rules() -> None:
    x32 = np.ones((1, 1, 5), np.float32)
    assert F.conv1d(x32, np.ones((1, 1, 2), np.float32)).dtype == np.float32
    assert F.conv_transpose1d(x32, np.ones((1, 1, 2), np.float32)).dtype == np.float32
    assert F.conv1d([[[1, 2, 3]]], [[[1, 1]]]).dtype == np.float64  # ints promote
    assert F.conv1d(x32.astype(np.float16), np.ones((1, 1, 2), np.float16)).dtype == np.float16
    assert F.conv1d(x32, np.ones((1, 1, 2))).dtype == np.float64  # mixed -> float64


def test_empty_batch_gives_empty_output() -> None:
    assert F.conv_transpose2d(np.zeros((0, 4, 3, 3)), WT, stride=2).shape == (0, 2, 7, 7)
    assert F.conv2d(np.zeros((0, 4, 8, 8)), WC).shape == (0, 2, 6, 6)


def test_memory_budget_validation() -> None:
    with pytest.raises(ValueError, match="memory budget must be a positive int"):
        tconv.set_memory_budget(0)
