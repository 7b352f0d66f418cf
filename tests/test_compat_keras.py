"""tconv.compat.keras against keras.ops itself (TensorFlow backend): conv (same/valid,
strides, dilation_rate, groups, channels_last/channels_first) and conv_transpose
(same/valid, output_padding, strides), 1-3 spatial dims, float32 and float64; where
Keras (through TF) refuses its own size, compat raises a ValueError."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from helpers import rel_err

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from tconv.compat import keras as ck  # noqa: E402

pytestmark = pytest.mark.slow

TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}


def _close(got: np.ndarray, ref, dtype) -> None:
    """``got`` keeps its dtype and matches Keras's result (computed in float32 at 1e-5
    where TF's float64 kernels are wrong: tests/test_compat_tf.py pins that quirk)."""
    ref = np.asarray(ref)
    assert got.dtype == dtype
    assert got.shape == ref.shape
    assert rel_err(got, ref) <= TOL[min(np.dtype(dtype), ref.dtype, key=lambda t: t.itemsize)]


def _last(a: np.ndarray, first: bool) -> np.ndarray:
    """Channels-last: TF's CPU kernels take channels-first in float32 only, so Keras
    runs on the transposed arrays and its result is transposed back."""
    return np.moveaxis(a, 1, -1) if first else a


def _back(a, first: bool) -> np.ndarray:
    return np.moveaxis(np.asarray(a), -1, 1) if first else np.asarray(a)


@pytest.fixture(autouse=True, scope="module")
def backend():
    if keras.backend.backend() != "tensorflow":
        pytest.skip(
            f"the Keras oracle runs on the TensorFlow backend, not {keras.backend.backend()}"
        )


@settings(max_examples=150)
@given(data=st.data())
def test_conv_matches_keras(data):
    draw = data.draw
    n = draw(st.integers(1, 3))
    g = draw(st.sampled_from([1, 1, 1, 2]))
    cin, cout = g * draw(st.integers(1, 2)), g * draw(st.integers(1, 2))
    k = [draw(st.integers(1, 4)) for _ in range(n)]
    L = [draw(st.integers(1, 7)) for _ in range(n)]
    s = [draw(st.integers(1, 3)) for _ in range(n)]
    # Keras 3.15 on TF refuses strides > 1 together with a dilation (tf.nn.convolution)
    d = [draw(st.integers(1, 2)) for _ in range(n)] if all(v == 1 for v in s) else [1] * n
    pad = draw(st.sampled_from(["same", "valid"]))
    e = [di * (ki - 1) + 1 for ki, di in zip(k, d)]
    if pad == "valid":
        assume(all(Li >= ei for Li, ei in zip(L, e)))
    first = draw(st.booleans())
    fmt = "channels_first" if first else "channels_last"
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (2, cin, *L) if first else (2, *L, cin)
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((*k, cin // g, cout)).astype(dtype)
    # TF's float64 Conv3D pads 'SAME' negatively where the windows stop short of the end
    bug = (
        n == 3
        and pad == "same"
        and any((-(-Li // si) - 1) * si + ei < Li for Li, si, ei in zip(L, s, e))
    )
    # ... and TF's float32 kernels (oneDNN) have their own bug (a stride along a dim of
    # size 1, tests/test_compat_tf.py): the oracle runs in float64 elsewhere
    oracle = np.float32 if bug else np.float64
    xo, wo = x.astype(oracle), w.astype(oracle)
    ref = _back(keras.ops.conv(_last(xo, first), wo, s, pad, "channels_last", d), first)
    _close(ck.conv(x, w, s, pad, fmt, d), ref, dtype)


@settings(max_examples=150)
@given(data=st.data())
def test_conv_transpose_matches_keras(data):
    draw = data.draw
    n = draw(st.integers(1, 3))
    cin, cout = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    k = [draw(st.integers(1, 4)) for _ in range(n)]
    L = [draw(st.integers(1, 6)) for _ in range(n)]
    s = [draw(st.integers(1, 3)) for _ in range(n)]
    pad = draw(st.sampled_from(["same", "valid"]))
    op = [draw(st.integers(0, si - 1)) for si in s] if draw(st.booleans()) else None
    first = draw(st.booleans())
    fmt = "channels_first" if first else "channels_last"
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((2, cin, *L) if first else (2, *L, cin)).astype(dtype)
    w = rng.standard_normal((*k, cout, cin)).astype(dtype)
    sizes = [
        ck.output_size(L[i], k[i], s[i], pad, None if op is None else op[i], 1) for i in range(n)
    ]
    # TF's rule decides whether Keras's size can come (same: ceil(out/s) == L)
    ok = all(-(-o // si) == Li for o, si, Li in zip(sizes, s, L)) if pad == "same" else True
    if ok:
        ref = _back(
            keras.ops.conv_transpose(_last(x, first), w, s, pad, op, "channels_last"), first
        )
        _close(ck.conv_transpose(x, w, s, pad, op, fmt), ref, dtype)
    elif all(o > 0 for o in sizes):  # both refuse
        with pytest.raises(tf.errors.OpError):
            keras.ops.conv_transpose(_last(x, first), w, s, pad, op, "channels_last")
        with pytest.raises(ValueError, match="the sizes that can are"):
            ck.conv_transpose(x, w, s, pad, op, fmt)
    else:  # Keras asks TF for no output: TF's float32 kernel returns an empty array, its
        # float64 one raises; compat raises
        try:
            empty = np.asarray(
                keras.ops.conv_transpose(_last(x, first), w, s, pad, op, "channels_last")
            )
            assert empty.size == 0
        except tf.errors.OpError:
            assert dtype == np.float64
        with pytest.raises(ValueError, match="the sizes that can are"):
            ck.conv_transpose(x, w, s, pad, op, fmt)


def test_same_even_kernel_output_padding_zero_raises():
    """Measured on TF 2.21: 'same' with an even kernel and output_padding=0 asks TF for
    (L-1)s elements, which TF refuses; compat says which sizes can come."""
    x, w = np.ones((1, 5, 1), np.float32), np.ones((4, 1, 1), np.float32)
    with pytest.raises(tf.errors.OpError):
        keras.ops.conv_transpose(x, w, 2, "same", 0)
    with pytest.raises(ValueError, match=r"output_shape 8 cannot come .* 9\.\.10"):
        ck.conv_transpose(x, w, 2, "same", 0)
