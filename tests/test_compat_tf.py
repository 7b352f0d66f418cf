"""tconv.compat.tf against TensorFlow itself: conv1d/2d/3d (SAME, VALID, explicit
padding, dilations, groups, channels-last and channels-first) and conv1d/2d/3d_transpose
(every output_shape TF accepts, SAME/VALID/explicit), float32 and float64; TF's
refusals become ValueErrors that state the reachable sizes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from helpers import rel_err
from tconv.compat import tf as ctf

tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.slow

TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}
LAST = {1: "NWC", 2: "NHWC", 3: "NDHWC"}
FIRST = {1: "NCW", 2: "NCHW", 3: "NCDHW"}
CONV = {1: "conv1d", 2: "conv2d", 3: "conv3d"}


def _close(got: np.ndarray, ref, dtype) -> None:
    """``got`` keeps the input's dtype and matches TF's result, computed in float64
    (TF's float32 kernels, oneDNN's, have a bug: see the quirk test below) or, where
    only they compute (dilated transposed convolutions), in float32 at 1e-5."""
    ref = np.asarray(ref)
    assert got.dtype == dtype
    assert got.shape == ref.shape
    assert rel_err(got, ref) <= TOL[np.dtype(dtype) if ref.dtype == np.float64 else ref.dtype]


def _f64(*arrays):
    return [a.astype(np.float64) for a in arrays]


def _to_first(a: np.ndarray) -> np.ndarray:
    return np.moveaxis(a, -1, 1)


def _strides(n, s):
    """tf.nn.conv3d takes strides as a list of 5 only."""
    return [1, *s, 1] if n == 3 else s


def _tf_conv(n, x, w, s, pad, d, grouped):
    """TF's convolution (channels-last); grouped 3-d ones through XLA, as TF's CPU
    kernels lack them (Keras does the same)."""
    fn = getattr(tf.nn, CONV[n])

    def call():
        return fn(x, w, _strides(n, s), pad, dilations=d if n < 3 else None)

    return (tf.function(call, jit_compile=True) if grouped and n == 3 else call)()


@settings(max_examples=150)
@given(data=st.data())
def test_conv_matches_tf(data):
    draw = data.draw
    n = draw(st.integers(1, 3))
    g = draw(st.sampled_from([1, 1, 1, 2]))
    cin, cout = g * draw(st.integers(1, 2)), g * draw(st.integers(1, 2))
    k = [draw(st.integers(1, 4)) for _ in range(n)]
    L = [draw(st.integers(1, 7)) for _ in range(n)]
    s = [draw(st.integers(1, 3)) for _ in range(n)]
    # TF's CPU Conv3D takes no dilation (measured); compat computes it (checked against
    # the 1-d and 2-d ones)
    d = [draw(st.integers(1, 2)) for _ in range(n)] if n < 3 else [1] * n
    kinds = ["SAME", "VALID"] + (["explicit"] if n == 2 else [])
    kind = draw(st.sampled_from(kinds))
    e = [di * (ki - 1) + 1 for ki, di in zip(k, d)]
    if kind == "explicit":
        pairs = [[draw(st.integers(0, 3)), draw(st.integers(0, 3))] for _ in range(n)]
        pad = [[0, 0], *pairs, [0, 0]]
        assume(all(Li + a + b >= ei for Li, (a, b), ei in zip(L, pairs, e)))
    else:
        pad = kind
        if kind == "VALID":
            assume(all(Li >= ei for Li, ei in zip(L, e)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((2, *L, cin)).astype(dtype)
    w = rng.standard_normal((*k, cin // g, cout)).astype(dtype)
    # TF's float64 Conv3D (Eigen) pads 'SAME' by a negative amount where the strided
    # windows do not reach the input's end (quirk test below): its float32 one there
    eigen_bug = (
        n == 3
        and kind == "SAME"
        and any((-(-Li // si) - 1) * si + ei < Li for Li, si, ei in zip(L, s, e))
    )
    oracle = [x.astype(np.float32), w.astype(np.float32)] if eigen_bug else _f64(x, w)
    ref = _tf_conv(n, *oracle, s, pad, d, g > 1)
    conv = getattr(ctf, CONV[n])
    _close(conv(x, w, s, pad, dilations=d), ref, dtype)
    if kind != "explicit" and draw(st.booleans()):
        # channels-first: TF's CPU kernels take it in float32 only, so the oracle is TF's
        # channels-last result, transposed
        got = conv(_to_first(x), w, s, pad, data_format=FIRST[n], dilations=d)
        _close(got, _to_first(np.asarray(ref)), dtype)


@settings(max_examples=150)
@given(data=st.data())
def test_conv_transpose_matches_tf(data):
    draw = data.draw
    n = draw(st.integers(1, 3))
    cin, cout = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    k = [draw(st.integers(1, 4)) for _ in range(n)]
    L = [draw(st.integers(1, 6)) for _ in range(n)]
    s = [draw(st.integers(1, 3)) for _ in range(n)]
    d = [draw(st.integers(1, 2)) for _ in range(n)]
    kinds = ["SAME", "VALID"] + (["explicit"] if n == 2 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "explicit":
        d = [1] * n  # TF's CPU kernels take dilated explicit transposes in none of its dtypes
    out = []
    pairs = []
    e = [di * (ki - 1) + 1 for ki, di in zip(k, d)]  # the dilated kernel decides the sizes
    for Li, ki, si in zip(L, e, s):
        # every output size TF accepts: the convolution of the output gives the input
        if kind == "SAME":
            out.append(draw(st.integers((Li - 1) * si + 1, Li * si)))
        else:
            a, b = (
                (draw(st.integers(0, 2)), draw(st.integers(0, 2))) if kind == "explicit" else (0, 0)
            )
            pairs.append([a, b])
            first = (Li - 1) * si + ki - a - b
            assume(first + si - 1 >= 1)
            out.append(draw(st.integers(max(first, 1), first + si - 1)))
    pad = [[0, 0], *pairs, [0, 0]] if kind == "explicit" else kind
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((2, *L, cin)).astype(dtype)
    w = rng.standard_normal((*k, cout, cin)).astype(dtype)
    shape = [2, *out, cout]
    fn = f"conv{n}d_transpose"
    # TF's float64 transposed kernels refuse dilations (its float32 ones take them)
    oracle = _f64(x, w) if all(v == 1 for v in d) else [x.astype(np.float32), w.astype(np.float32)]
    ref = getattr(tf.nn, fn)(*oracle, shape, _strides(n, s), pad, dilations=d)
    _close(getattr(ctf, fn)(x, w, shape, s, pad, dilations=d), ref, dtype)
    if kind != "explicit" and draw(st.booleans()):
        got = getattr(ctf, fn)(
            _to_first(x), w, [2, cout, *out], s, pad, data_format=FIRST[n], dilations=d
        )
        _close(got, _to_first(np.asarray(ref)), dtype)


def test_float32_strided_width_one_quirk():
    """Measured: TF 2.21's float32 conv2d (oneDNN) with a stride along a dim of size 1
    returns about 0 (not x * w) for every row but the first; its float64 kernel and
    compat give x * w."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 1, 1)).astype(np.float32)
    w = rng.standard_normal((1, 2, 1, 1)).astype(np.float32)
    exact = x * w[0, 0, 0, 0]
    tf32 = np.asarray(tf.nn.conv2d(x, w, [1, 1, 2, 1], "SAME"))
    tf64 = np.asarray(tf.nn.conv2d(*_f64(x, w), [1, 1, 2, 1], "SAME"))
    assert abs(tf32[0, 1, 0, 0]) < 1e-6 < abs(exact[0, 1, 0, 0])
    assert rel_err(tf64, exact) < 1e-6
    assert rel_err(ctf.conv2d(x, w, [1, 2], "SAME"), exact) < 1e-6


def test_float64_conv3d_same_negative_padding_quirk():
    """Measured: TF 2.21's float64 conv3d (Eigen) with 'SAME', stride 3 over 3 samples
    and a 1-tap kernel reads the middle sample (a negative padding); the rule
    (total = max((out-1)s + k - L, 0) = 0) and its float32 kernel read the first."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 1, 1, 3, 1)), rng.standard_normal((1, 1, 1, 1, 1))
    tf64 = np.asarray(tf.nn.conv3d(x, w, [1, 1, 1, 3, 1], "SAME"))
    tf32 = np.asarray(
        tf.nn.conv3d(x.astype(np.float32), w.astype(np.float32), [1, 1, 1, 3, 1], "SAME")
    )
    first = x[:, :, :, :1] * w.ravel()[0]
    assert rel_err(tf64, x[:, :, :, 1:2] * w.ravel()[0]) < 1e-12
    assert rel_err(tf32, first) < 1e-6
    assert rel_err(ctf.conv3d(x, w, [1, 1, 3], "SAME"), first) < 1e-12


def test_unreachable_output_shape_is_a_value_error():
    """TF raises an op error deep in its kernel; compat states the sizes that can come."""
    x, w = np.ones((1, 7, 7, 1), np.float32), np.ones((4, 4, 1, 1), np.float32)
    with pytest.raises(tf.errors.OpError):
        tf.nn.conv2d_transpose(x, w, [1, 15, 15, 1], 2, "SAME")
    with pytest.raises(ValueError, match=r"the sizes that can are 13\.\.14"):
        ctf.conv2d_transpose(x, w, [1, 15, 15, 1], 2, "SAME")
    with pytest.raises(ValueError, match=r"the sizes that can are 16\.\.17"):
        ctf.conv2d_transpose(x, w, [1, 15, 15, 1], 2, "VALID")


def test_dilated_valid_kernel_larger_than_input_raises():
    """Measured: TF 2.21 returns values (not an error) for a dilated VALID conv2d whose
    dilated kernel exceeds the input; compat raises."""
    x, w = np.ones((1, 3, 3, 1), np.float32), np.ones((2, 2, 1, 1), np.float32)
    y = tf.nn.conv2d(x, w, 1, "VALID", dilations=3)  # TF answers instead of refusing
    assert y.shape == (1, 3, 3, 1)  # where no output exists (3 - 4 + 1 = 0)
    with pytest.raises(ValueError, match="larger than the padded input"):
        ctf.conv2d(x, w, 1, "VALID", dilations=3)
