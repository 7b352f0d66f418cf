"""tconv.compat.jax against jax.lax itself: conv_general_dilated (dimension_numbers,
'SAME'/'SAME_LOWER'/'VALID'/pairs with negative pads, lhs and rhs dilation, feature
groups, window strides) and conv_transpose (SAME/VALID/pairs, transpose_kernel,
dilation), 1-3 spatial dims, float32 and float64."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from helpers import rel_err
from tconv.compat import jax as cj

jax = pytest.importorskip("jax")
from jax import lax  # noqa: E402

pytestmark = pytest.mark.slow

TOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}


@pytest.fixture(autouse=True, scope="module")
def x64():
    """float64 in JAX for this module only (the flag is restored afterwards)."""
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", before)


def _spec(draw, letters: str, pair: str) -> str:
    return "".join(draw(st.permutations(pair + letters)))


def _close(got: np.ndarray, ref, dtype) -> None:
    ref = np.asarray(ref)
    assert got.dtype == ref.dtype == dtype
    assert got.shape == ref.shape
    assert rel_err(got, ref) <= TOL[np.dtype(dtype)]


@settings(max_examples=165)
@given(data=st.data())
def test_conv_general_dilated_matches_jax(data):
    draw = data.draw
    n = draw(st.integers(1, 3))
    letters = "HWD"[:n]
    default = draw(st.booleans())
    if default:
        dn = None
        lhs, rhs, out = "NC" + letters, "OI" + letters, "NC" + letters
    else:
        lhs, rhs, out = (
            _spec(draw, letters, "NC"),
            _spec(draw, letters, "OI"),
            _spec(draw, letters, "NC"),
        )
        dn = (lhs, rhs, out)
    order = [c for c in rhs if c not in "OI"]  # JAX's spatial order
    g = draw(st.sampled_from([1, 1, 2]))
    cin, cout = g * draw(st.integers(1, 2)), g * draw(st.integers(1, 2))
    k = {c: draw(st.integers(1, 4)) for c in order}
    size = {c: draw(st.integers(1, 6)) for c in order}
    s = [draw(st.integers(1, 3)) for _ in order]
    rd = [draw(st.integers(1, 2)) for _ in order]
    ld = [draw(st.integers(1, 3)) for _ in order] if draw(st.booleans()) else None
    kind = draw(st.sampled_from(["SAME", "SAME_LOWER", "VALID", "pairs"]))
    if kind != "pairs" and ld is not None:
        kind = "pairs"
    if kind == "pairs":
        pad = [(draw(st.integers(-2, 4)), draw(st.integers(-2, 4))) for _ in order]
    else:
        pad = kind
    dims = {"N": 2, "C": cin} | size
    xshape = tuple(dims[c] for c in lhs)
    wshape = tuple({"O": cout, "I": cin // g}.get(c) or k[c] for c in rhs)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(xshape).astype(dtype)
    w = rng.standard_normal(wshape).astype(dtype)
    # A non-empty output (JAX returns an empty array where tconv raises; tested below).
    eff = [di * (k[c] - 1) + 1 for c, di in zip(order, rd)]
    dil = [(size[c] - 1) * (ld[i] if ld else 1) + 1 for i, c in enumerate(order)]
    if kind == "pairs":
        assume(all(q + lo + hi >= e for q, (lo, hi), e in zip(dil, pad, eff)))
    elif kind == "VALID":
        assume(all(q >= e for q, e in zip(dil, eff)))
    args = dict(lhs_dilation=ld, rhs_dilation=rd, dimension_numbers=dn, feature_group_count=g)
    ref = lax.conv_general_dilated(x, w, s, pad, precision="highest", **args)
    _close(cj.conv_general_dilated(x, w, s, pad, **args), ref, dtype)


@settings(max_examples=135)
@given(data=st.data())
def test_conv_transpose_matches_jax(data):
    draw = data.draw
    n = draw(st.integers(1, 3))
    letters = "HWD"[:n]
    if draw(st.booleans()):
        dn = None
        lhs, rhs = "N" + letters + "C", letters + "IO"
    else:
        lhs, rhs, out = (
            _spec(draw, letters, "NC"),
            _spec(draw, letters, "OI"),
            _spec(draw, letters, "NC"),
        )
        dn = (lhs, rhs, out)
    order = [c for c in rhs if c not in "OI"]
    cin, cout = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    k = {c: draw(st.integers(1, 4)) for c in order}
    size = {c: draw(st.integers(1, 6)) for c in order}
    s = [draw(st.integers(1, 3)) for _ in order]
    rd = [draw(st.integers(1, 2)) for _ in order]
    tk = draw(st.booleans())
    kind = draw(st.sampled_from(["SAME", "VALID", "pairs"]))
    pad = (
        [(draw(st.integers(-1, 4)), draw(st.integers(-1, 4))) for _ in order]
        if kind == "pairs"
        else kind
    )
    if kind == "pairs":
        eff = [di * (k[c] - 1) + 1 for c, di in zip(order, rd)]
        dil = [(size[c] - 1) * si + 1 for c, si in zip(order, s)]
        assume(all(q + lo + hi >= e for q, (lo, hi), e in zip(dil, pad, eff)))
    xshape = tuple(({"N": 2, "C": cin} | size)[c] for c in lhs)
    io = {"I": cout, "O": cin} if tk else {"I": cin, "O": cout}
    wshape = tuple(io.get(c) or k[c] for c in rhs)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(xshape).astype(dtype)
    w = rng.standard_normal(wshape).astype(dtype)
    args = dict(rhs_dilation=rd, dimension_numbers=dn, transpose_kernel=tk)
    ref = lax.conv_transpose(x, w, s, pad, precision="highest", **args)
    _close(cj.conv_transpose(x, w, s, pad, **args), ref, dtype)


def test_conv_transpose_does_not_mirror_the_kernel(torch):
    """JAX's documented quirk, measured: with transpose_kernel=False the kernel (k, in, out)
    is PyTorch's weight mirrored; with True it is PyTorch's (k, out, in) as it is."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, 6))
    w = rng.standard_normal((1, 1, 4))  # PyTorch (in, out, k)
    ref = torch.nn.functional.conv_transpose1d(torch.from_numpy(x), torch.from_numpy(w), stride=2)
    xj = x.transpose(0, 2, 1)
    plain = lax.conv_transpose(xj, w[0, 0, ::-1].reshape(4, 1, 1), (2,), "VALID")
    flipped = lax.conv_transpose(xj, w[0, 0].reshape(4, 1, 1), (2,), "VALID", transpose_kernel=True)
    for y in (plain, flipped):
        assert rel_err(np.asarray(y)[0, :, 0], ref.numpy()[0, 0]) < 1e-12
    assert (
        rel_err(
            np.asarray(lax.conv_transpose(xj, w[0, 0].reshape(4, 1, 1), (2,), "VALID"))[0, :, 0],
            ref.numpy()[0, 0],
        )
        > 1e-3
    )


def test_empty_output_raises_where_jax_returns_an_empty_array():
    x, w = np.ones((1, 1, 3)), np.ones((1, 1, 5))
    assert np.asarray(lax.conv_general_dilated(x, w, (1,), "VALID")).size == 0
    with pytest.raises(ValueError, match="larger than the padded input"):
        cj.conv_general_dilated(x, w, (1,), "VALID")
