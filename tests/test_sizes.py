"""Absurd sizes get tconv's error, quickly, before anything large is allocated.

Sizes, strides, paddings, dilations, kernel sizes, output sizes and scale factors of
10**9, 10**18 and 2**63 on every op family: either a small result, fast (a huge stride
over a small input), or tconv's ValueError / MemoryError naming the op and the
argument -- never NumPy's "array is too big", "Maximum allowed dimension exceeded" or
an OverflowError. The rule is :func:`tconv._args.check_output_size`: an output of more
than 2**62 bytes is a ValueError, one larger than the available memory a MemoryError.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tconv
import tconv.functional as F
from tconv import _args, grad, nn, shapes

HUGE = [10**9, 10**18, 2**63]
NUMPY_WORDS = ("array is too big", "Maximum allowed dimension", "Unable to allocate", "C long")

# Batches and channels make even the 10**9 cases far larger than any test machine.
X1 = np.ones((64, 16, 5))
X2 = np.ones((64, 16, 5, 5))
X3 = np.ones((8, 16, 3, 3, 3))
W1 = np.ones((16, 16, 3))
W2 = np.ones((16, 16, 3, 3))
W3 = np.ones((16, 16, 3, 3, 3))

# (op name in the message, argument in the message, call)
REFUSED: list[tuple[str, str, Callable[[int], Any]]] = [
    ("conv1d", "padding", lambda b: F.conv1d(X1, W1, padding=b)),
    ("conv2d", "padding", lambda b: F.conv2d(X2, W2, padding=(b, 1))),
    ("conv3d", "padding", lambda b: F.conv3d(X3, W3, padding=b)),
    ("conv1d", "dilation", lambda b: F.conv1d(X1, W1, dilation=b)),
    ("conv_transpose1d", "stride", lambda b: F.conv_transpose1d(X1, W1, stride=b)),
    ("conv_transpose2d", "stride", lambda b: F.conv_transpose2d(X2, W2, stride=(1, b))),
    ("conv_transpose3d", "dilation", lambda b: F.conv_transpose3d(X3, W3, dilation=b)),
    (
        "conv_transpose1d",
        "output_size",
        lambda b: F.conv_transpose1d(X1, W1, stride=min(b, 2**62), output_size=[b]),
    ),
    ("conv_transpose1d", "output_padding", lambda b: F.conv_transpose1d(X1, W1, output_padding=b)),
    ("interpolate", "size", lambda b: F.interpolate(X1, size=b)),
    ("interpolate", "size", lambda b: F.interpolate(X2, size=(b, 2), mode="bilinear")),
    ("interpolate", "scale_factor", lambda b: F.interpolate(X1, scale_factor=float(b))),
    (
        "interpolate",
        "scale_factor",
        lambda b: F.interpolate(X3, scale_factor=float(b), mode="trilinear"),
    ),
    ("max_pool1d", "kernel_size", lambda b: F.max_pool1d(X1, b)),
    ("avg_pool2d", "kernel_size", lambda b: F.avg_pool2d(X2, b)),
    ("max_pool3d", "dilation", lambda b: F.max_pool3d(X3, 2, dilation=b)),
    ("adaptive_avg_pool1d", "output_size", lambda b: F.adaptive_avg_pool1d(X1, b)),
    ("adaptive_max_pool2d", "output_size", lambda b: F.adaptive_max_pool2d(X2, (b, 1))),
    ("adaptive_avg_pool3d", "output_size", lambda b: F.adaptive_avg_pool3d(X3, b)),
    ("pixel_shuffle", "upscale_factor", lambda b: F.pixel_shuffle(X2, b)),
    ("pixel_unshuffle", "downscale_factor", lambda b: F.pixel_unshuffle(X2, b)),
    ("conv1d_input", "input_size", lambda b: grad.conv1d_input((64, 16, b), W1, X1)),
    ("conv2d_weight", "weight_size", lambda b: grad.conv2d_weight(X2, (16, 16, b, 3), X2)),
    (
        "conv_transpose1d_input",
        "input_size",
        lambda b: grad.conv_transpose1d_input((64, 16, b), W1, X1),
    ),
    (
        "conv_transpose2d|ConvTranspose2d",
        "stride",
        lambda b: nn.ConvTranspose2d(16, 16, 3, stride=b)(X2),
    ),
    ("interpolate", "scale_factor", lambda b: nn.Upsample(scale_factor=b)(X2)),
    (
        "conv_transpose_output_size",
        "output_padding",
        lambda b: shapes.conv_transpose_output_size(5, 3, 2, 0, b),
    ),
    ("conv_output_size", "dilation", lambda b: shapes.conv_output_size(5, 3, 1, 0, b)),
]

# Valid calls whose result is small: they must be fast, whatever the argument.
SMALL: list[tuple[str, Callable[[int], Any], tuple[int, ...]]] = [
    ("conv1d stride", lambda b: F.conv1d(X1[:1], W1, stride=b), (1, 16, 1)),
    ("conv2d stride", lambda b: F.conv2d(X2[:1], W2, stride=(b, 1)), (1, 16, 1, 3)),
    ("max_pool1d stride", lambda b: F.max_pool1d(X1[:1], 2, stride=b), (1, 16, 1)),
    ("avg_pool1d stride", lambda b: F.avg_pool1d(X1[:1], 3, stride=b), (1, 16, 1)),
    (
        "max_pool2d huge window, half of it padding",
        lambda b: F.max_pool2d(X2[:1], (2 * (b // 4) + 1, 1), padding=(b // 4, 0)),
        (1, 16, 1, 5),
    ),
    (
        "avg_pool1d huge window, half of it padding",
        lambda b: F.avg_pool1d(X1[:1], 2 * (b // 4) + 1, stride=1, padding=b // 4),
        (1, 16, 5),
    ),
]


def _clip(b: int) -> int:
    """2**63 itself is refused by every int argument (int64); the SMALL cases take the
    largest int64 instead."""
    return min(b, 2**63 - 1)


@pytest.mark.parametrize("b", HUGE, ids=["1e9", "1e18", "2^63"])
@pytest.mark.parametrize("op,arg,call", REFUSED, ids=[f"{o}-{a}" for o, a, _ in REFUSED])
def test_absurd_sizes_get_tconvs_error_quickly(op: str, arg: str, call: Any, b: int) -> None:
    start = time.perf_counter()
    with pytest.raises((ValueError, MemoryError)) as info:
        call(b)
    took = time.perf_counter() - start
    msg = str(info.value)
    assert took < 1.0, (op, arg, b, took)
    assert msg.startswith(tuple(f"{name}: " for name in op.split("|"))), msg
    assert arg in msg, msg
    assert not any(word in msg for word in NUMPY_WORDS), msg


@pytest.mark.parametrize("b", HUGE, ids=["1e9", "1e18", "2^63"])
@pytest.mark.parametrize("name,call,shape", SMALL, ids=[n for n, _, _ in SMALL])
def test_huge_arguments_with_small_results_are_fast(name: str, call: Any, shape: Any, b: int):
    start = time.perf_counter()
    y = call(_clip(b))
    assert time.perf_counter() - start < 1.0, name
    assert y.shape == shape


def test_huge_window_pools_match_the_small_window() -> None:
    """Taps that read padding only are skipped: a window of 2 * 10**9 + 1 around five
    samples averages (count_include_pad=False) and maximises as one of 9."""
    x = np.random.default_rng(0).standard_normal((2, 3, 5))
    big = 10**9
    for pool, extra in ((F.max_pool1d, {}), (F.avg_pool1d, {"count_include_pad": False})):
        got = pool(x, 2 * big + 1, stride=1, padding=big, **extra)
        ref = pool(x, 9, stride=1, padding=4, **extra)
        np.testing.assert_allclose(got, ref)


def test_ignored_inputs_refuses_masks_beyond_memory() -> None:
    """Its result lists up to ``size`` indices: sizes whose read mask cannot exist are
    refused as outputs are (10**9 is allowed: a 1 GB mask)."""
    for b in HUGE[1:]:
        with pytest.raises((ValueError, MemoryError), match=r"ignored_inputs: .*size"):
            shapes.ignored_inputs(b, 3, 2)


def test_output_size_rule() -> None:
    """The two thresholds, directly."""
    _args.check_output_size("op", (2**20,), np.float64, "size=...")  # 8 MiB: no check at all
    with pytest.raises(
        ValueError, match=r"op: the output would have shape \(4, 2305843009213693952\)"
    ):
        _args.check_output_size("op", (4, 2**61), np.uint8, "size=(4, 2**61)")
    free = _args.available_memory()
    if free is not None and free < 2**61:
        too_big = free // 8 + 2**20
        with pytest.raises(MemoryError, match=r"op: .* GiB\), more than the .* available"):
            _args.check_output_size("op", (too_big,), np.float64, "size")


def test_int64_bound_names_the_argument() -> None:
    with pytest.raises(ValueError, match=r"conv1d: stride must fit in an int64"):
        F.conv1d(X1, W1, stride=2**63)
    with pytest.raises(ValueError, match=r"pixel_shuffle: upscale_factor must fit in an int64"):
        F.pixel_shuffle(X2, 2**63)
    assert F.conv1d(X1[:1], W1, stride=2**63 - 1).shape == (1, 16, 1)


def test_tensor_inputs_too() -> None:
    x = tconv.tensor(X1, requires_grad=True)
    with pytest.raises((ValueError, MemoryError), match=r"conv_transpose1d: .*stride"):
        F.conv_transpose1d(x, W1, stride=10**9)
