"""The matrix view: M x == conv(x), M' y == conv_transpose(y), M' == M^T."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tconv.functional as F
from tconv import shapes
from tconv.matrix import conv_matrix, conv_transpose_matrix

CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
TCONV = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


@st.composite
def geometries(draw):
    nd = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 2, 3]))
    c_in = groups * draw(st.integers(1, 2))
    c_out = groups * draw(st.integers(1, 2))
    side = {1: 9, 2: 6, 3: 4}[nd]
    k = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    s = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    p = tuple(draw(st.integers(0, 2)) for _ in range(nd))
    size = tuple(
        draw(st.integers(lo, max(lo, side)))
        for lo in (max(1, di * (ki - 1) + 1 - 2 * pi) for ki, di, pi in zip(k, d, p, strict=True))
    )
    return nd, groups, c_in, c_out, size, k, s, p, d, draw(st.integers(0, 2**16))


@settings(max_examples=60)
@given(geometries())
def test_matrix_identities(geo) -> None:
    nd, g, c_in, c_out, size, k, s, p, d, seed = geo
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((c_out, c_in // g, *k))
    x = rng.standard_normal((c_in, *size))
    m = conv_matrix(w, x.shape, s, p, d, g)
    y = CONV[nd](x[None], w, stride=s, padding=p, dilation=d, groups=g)[0]
    assert m.shape == (y.size, x.size)
    np.testing.assert_allclose(m @ x.ravel(), y.ravel(), atol=1e-12)
    # the same weight read as a transposed conv's (C_in' = c_out, C_out'/g = c_in/g)
    obs = shapes.observed_size(size, k, s, p, d)
    a = tuple(L - o for L, o in zip(size, obs, strict=True))
    mt = conv_transpose_matrix(
        w, y.shape, stride=s, padding=p, output_padding=a, dilation=d, groups=g
    )
    np.testing.assert_array_equal(mt, m.T)  # the lecture's identity, exactly
    z = rng.standard_normal(y.shape)
    ref = TCONV[nd](z[None], w, stride=s, padding=p, output_padding=a, groups=g, dilation=d)[0]
    assert ref.shape == x.shape
    np.testing.assert_allclose(mt @ z.ravel(), ref.ravel(), atol=1e-12)
    # without the output padding: the observed area only, still the ops' matrix
    if a != (0,) * nd and all(o >= 1 for o in obs):
        m0 = conv_transpose_matrix(w, y.shape, stride=s, padding=p, dilation=d, groups=g)
        ref0 = TCONV[nd](z[None], w, stride=s, padding=p, groups=g, dilation=d)[0]
        np.testing.assert_allclose(m0 @ z.ravel(), ref0.ravel(), atol=1e-12)


def test_lecture_matrix_and_its_transpose() -> None:
    k = np.array([[[1.0, 2.0, 3.0]]])
    m = conv_matrix(k, (1, 7))
    expected = np.zeros((5, 7))
    for i in range(5):
        expected[i, i : i + 3] = [1, 2, 3]
    np.testing.assert_array_equal(m, expected)
    np.testing.assert_array_equal(conv_transpose_matrix(k, (1, 5)), expected.T)
    # the lecture's examples, as matrix products
    x = np.array([0.0, 0, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(m @ x, [3, 2, 1, 0, 0])
    np.testing.assert_array_equal(conv_transpose_matrix(k, (1, 7)) @ x, [0, 0, 1, 2, 3, 0, 0, 0, 0])


def test_against_torch(torch) -> None:
    rng = np.random.default_rng(3)
    w = rng.standard_normal((4, 1, 3, 2))
    x = rng.standard_normal((2, 7, 6))
    m = conv_matrix(w, x.shape, stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2)
    ref = torch.nn.functional.conv2d(
        torch.tensor(x[None]),
        torch.tensor(w),
        stride=(2, 1),
        padding=(1, 0),
        dilation=(1, 2),
        groups=2,
    )
    np.testing.assert_allclose(m @ x.ravel(), ref.numpy().ravel(), atol=1e-12)
    wt = rng.standard_normal((2, 3, 3))
    y = rng.standard_normal((2, 5))
    mt = conv_transpose_matrix(wt, y.shape, stride=3, padding=1, output_padding=2, dilation=1)
    ref = torch.nn.functional.conv_transpose1d(
        torch.tensor(y[None]), torch.tensor(wt), stride=3, padding=1, output_padding=2
    )
    np.testing.assert_allclose(mt @ y.ravel(), ref.numpy().ravel(), atol=1e-12)


def test_same_padding_and_output_size() -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((2, 3, 4, 3))
    x = rng.standard_normal((3, 5, 6))
    m = conv_matrix(w, x.shape, padding="same")
    np.testing.assert_allclose(m @ x.ravel(), F.conv2d(x, w, padding="same").ravel(), atol=1e-12)
    wt = rng.standard_normal((3, 2, 3))
    mt = conv_transpose_matrix(wt, (3, 4), stride=2, output_size=10)
    assert mt.shape == (2 * 10, 3 * 4)


def test_sparse_equals_dense() -> None:
    scipy_sparse = pytest.importorskip("scipy.sparse")
    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 2, 3, 3))
    m = conv_matrix(w, (4, 8, 7), stride=2, padding=1, groups=2, sparse=True)
    assert scipy_sparse.issparse(m)
    np.testing.assert_array_equal(m.toarray(), conv_matrix(w, (4, 8, 7), 2, 1, 1, 2))
    assert m.nnz == np.count_nonzero(conv_matrix(w, (4, 8, 7), 2, 1, 1, 2))
    mt = conv_transpose_matrix(w, (4, 4, 4), stride=2, padding=1, groups=2, sparse=True)
    np.testing.assert_array_equal(mt.toarray(), conv_transpose_matrix(w, (4, 4, 4), 2, 1, groups=2))


def test_dtype_and_validation() -> None:
    assert conv_matrix(np.ones((1, 1, 2), np.float32), (1, 4)).dtype == np.float32
    assert conv_matrix([[[1, 2]]], (1, 4)).dtype == np.float64
    with pytest.raises(ValueError, match="input_shape must be"):
        conv_matrix(np.ones((1, 1, 2)), (4,))
    with pytest.raises(ValueError, match="conv_matrix: input has 2 channels"):
        conv_matrix(np.ones((1, 1, 2)), (2, 4))
    with pytest.raises(ValueError, match="conv_transpose_matrix: output_padding must be smaller"):
        conv_transpose_matrix(np.ones((1, 1, 2)), (1, 4), stride=2, output_padding=2)
    with pytest.raises(TypeError, match="input_shape"):
        conv_matrix(np.ones((1, 1, 2)), 4)  # type: ignore[arg-type]
