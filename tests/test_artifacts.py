"""Coverage, phase sums, checkerboard measures and the planner."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tconv.functional as F
from tconv import shapes
from tconv.artifacts import (
    Plan,
    checkerboard_index,
    checkerboard_spectrum,
    coverage,
    is_artifact_free,
    phase_sums,
    plan,
)

TCONV = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def test_coverage_is_conv_transpose_of_ones_1d_grid() -> None:
    for L, k, s, p, d in itertools.product(
        range(1, 7), range(1, 5), range(1, 4), range(3), range(1, 3)
    ):
        for a in range(max(s, d)):
            try:  # an empty output is refused by shapes as by the op
                shapes.conv_transpose_output_size(L, k, s, p, a, d)
            except ValueError:
                continue
            ref = F.conv_transpose1d(
                np.ones((1, 1, L)),
                np.ones((1, 1, k)),
                stride=s,
                padding=p,
                output_padding=a,
                dilation=d,
            )[0, 0]
            cov = coverage(L, k, s, p, a, d)
            assert cov.dtype.kind == "i"
            np.testing.assert_array_equal(cov, ref, err_msg=str((L, k, s, p, a, d)))


@pytest.mark.parametrize(
    "size,k,s,p,a,d",
    [
        ((5, 4), (3, 2), (2, 3), (1, 0), (1, 2), (1, 1)),
        ((4, 4), 4, 3, 0, 0, 1),
        ((3, 4, 5), (2, 3, 4), (2, 1, 3), (0, 1, 1), (1, 0, 0), (1, 2, 1)),
        ((6,), 3, 2, 1, 1, 2),
    ],
)
def test_coverage_nd(size, k, s, p, a, d) -> None:
    n = len(size)
    ks = (k,) * n if isinstance(k, int) else k
    ref = TCONV[n](
        np.ones((1, 1, *size)),
        np.ones((1, 1, *ks)),
        stride=s,
        padding=p,
        output_padding=a,
        dilation=d,
    )[0, 0]
    np.testing.assert_array_equal(coverage(size, k, s, p, a, d), ref)


def test_lecture_4x4_kernel_stride_3() -> None:
    cov = coverage((8, 8), 4, stride=3)
    assert cov.shape == (25, 25)
    tile = np.array([[4, 2, 2], [2, 1, 1], [2, 1, 1]])
    for i, j in itertools.product(range(3, 21, 3), repeat=2):  # the whole interior
        np.testing.assert_array_equal(cov[i : i + 3, j : j + 3], tile)
    np.testing.assert_array_equal(phase_sums(np.ones((4, 4)), 3), tile)


def test_reference_facts_on_the_interior() -> None:
    """Periodic with period s; 0 off multiples of g = gcd(d, s); else floor/ceil(kg/s);
    uniform iff gcd(d, s) = 1 and s | k."""
    for k, s, d in itertools.product(range(1, 7), range(1, 5), range(1, 4)):
        L = 30
        cov = coverage(L, k, s, 0, 0, d)
        interior = cov[d * (k - 1) : (L - 1) * s + 1]
        assert interior.size >= s
        np.testing.assert_array_equal(interior[s:], interior[:-s])  # period s
        g = math.gcd(d, s)
        j0 = d * (k - 1)
        for j, v in enumerate(interior):
            if (j0 + j) % g:
                assert v == 0
            else:
                assert v in (k * g // s, -(-k * g // s))
        uniform = interior.min() == interior.max()
        assert uniform == (g == 1 and k % s == 0)
        assert is_artifact_free(np.ones(k), s, d) == uniform


def interior_of_constant_response(w: np.ndarray, s: int, d: int, p: int) -> np.ndarray:
    """conv_transpose1d of a long constant signal; the interior output, from index 0 phase."""
    k = w.shape[-1]
    y = F.conv_transpose1d(np.ones((1, w.shape[0], 40)), w, stride=s, padding=p, dilation=d)
    lo = -(-(d * (k - 1) - p) // s) * s  # first interior index that is a multiple of s
    return y[0, :, lo : lo + 4 * s], lo


@settings(max_examples=60)
@given(
    k=st.integers(1, 7),
    s=st.integers(1, 4),
    d=st.integers(1, 3),
    p=st.integers(0, 3),
    seed=st.integers(0, 1000),
)
def test_phase_sums_are_the_constant_response(k, s, d, p, seed) -> None:
    """A constant input gives S_r at output phase r (padding included): the exact condition."""
    if p > d * (k - 1):
        p = d * (k - 1)
    w = np.random.default_rng(seed).integers(-3, 4, size=(2, 3, k)).astype(float)
    part, _ = interior_of_constant_response(w, s, d, p)
    sums = phase_sums(w, s, d, p)  # (2, 3, s): per (c_in, c_out) pair
    assert sums.shape == (2, 3, s)
    expected = np.tile(sums.sum(axis=0), 4)  # the input has ones in both channels
    np.testing.assert_allclose(part, expected)
    constant = np.allclose(part, part[:, :1])
    # artifact-free (every channel pair) implies a constant response; for one pair, iff
    if is_artifact_free(w, s, d):
        assert constant
    one = w[:1, :1]
    part1, _ = interior_of_constant_response(one, s, d, p)
    assert is_artifact_free(one, s, d) == bool(np.allclose(part1, part1[:, :1]))


def test_phase_sums_2d_and_constructed_artifact_free_kernels() -> None:
    rng = np.random.default_rng(0)
    h = rng.standard_normal((3, 2))
    w = np.kron(h, np.ones((2, 2)))  # nearest-upsample then h: equal phase sums by construction
    assert is_artifact_free(w, 2)
    assert not is_artifact_free(w + rng.standard_normal(w.shape) * 0.1, 2)
    y = F.conv_transpose2d(np.ones((1, 1, 10, 10)), w[None, None], stride=2)[0, 0]
    inner = y[6:16, 6:16]
    np.testing.assert_allclose(inner, inner[0, 0])
    np.testing.assert_allclose(phase_sums(w, (2, 2)), np.full((2, 2), h.sum()))
    # padding rotates the phases but never changes the verdict
    ps = phase_sums([1.0, 2.0, 3.0], 2, padding=1)
    np.testing.assert_allclose(ps, [2.0, 4.0])
    assert phase_sums(np.ones((3, 3, 3)), 2, ndim=3).shape == (2, 2, 2)
    assert phase_sums(np.ones((5, 6, 3, 3)), 2).shape == (5, 6, 2, 2)  # full 2-D weight
    with pytest.raises(ValueError, match="ndim"):
        phase_sums(np.ones((3,)), 2, ndim=2)


def grid(shape, period):
    pattern = np.random.default_rng(5).standard_normal((period, period))
    return np.tile(pattern, (shape[0] // period, shape[1] // period))


@pytest.mark.parametrize("period", [2, 3, 4])
def test_checkerboard_measures(period) -> None:
    rng = np.random.default_rng(period)
    pure = grid((24, 24), period)
    assert checkerboard_index(pure, period) == pytest.approx(1.0)
    assert checkerboard_spectrum(pure, period) == pytest.approx(1.0)
    assert checkerboard_index(np.full((24, 24), 3.7), period) == 0.0
    assert checkerboard_spectrum(np.full((24, 24), 0.1, np.float32), period) == 0.0
    noise = rng.standard_normal((16, 48, 48))
    ci = checkerboard_index(noise, period)
    assert ci.shape == (16,)
    expected = (period**2 - 1) / 48**2
    assert 0.3 * expected < ci.mean() < 3 * expected
    cs = checkerboard_spectrum(noise, period)
    share = 1 - ((48 - (period - 1)) / 48) ** 2
    assert 0.5 * share < cs.mean() < 1.5 * share
    smooth = np.add.outer(np.sin(np.linspace(0, 3, 48)), np.cos(np.linspace(0, 2, 48)))
    assert checkerboard_index(smooth, period) < 0.01
    assert checkerboard_spectrum(smooth, period) < 0.01
    mixed = smooth + 0.3 * grid((48, 48), period)
    assert 0.05 < checkerboard_index(mixed, period) < 0.99


def test_checkerboard_of_transposed_convolutions() -> None:
    """k3 s2 leaves a grid on a constant input; k4 s2 does not (in the interior)."""
    x = np.ones((1, 1, 12, 12))
    bad = F.conv_transpose2d(x, np.ones((1, 1, 3, 3)), stride=2)[0, 0, 4:20, 4:20]
    good = F.conv_transpose2d(x, np.ones((1, 1, 4, 4)), stride=2)[0, 0, 4:20, 4:20]
    assert checkerboard_index(bad, 2) == pytest.approx(1.0)
    assert checkerboard_index(good, 2) == 0.0
    assert checkerboard_spectrum(bad, 2) == pytest.approx(1.0)


def test_checkerboard_1d_and_validation() -> None:
    sig = np.tile([1.0, -1.0, 0.5], 10)
    assert checkerboard_index(sig, 3, ndim=1) == pytest.approx(1.0)
    assert checkerboard_spectrum(sig, 3, ndim=1) == pytest.approx(1.0)
    assert checkerboard_index(sig, 1, ndim=1) == 0.0
    assert checkerboard_index(np.arange(10.0), 2, ndim=1) < 0.05
    with pytest.raises(ValueError, match="at least ndim=2"):
        checkerboard_index(np.ones(5), 2)
    with pytest.raises(ValueError, match="period must be positive"):
        checkerboard_spectrum(np.ones((4, 4)), 0)


# -- the planner ----------------------------------------------------------------------


def run_plan(pl: Plan, nd: int = 1) -> tuple[int, ...]:
    """The output size of a plan, by running the ops on zeros (sizes only)."""
    x = np.zeros((1, 1) + (pl.input_size,) * nd)
    if pl.kind == "conv_transpose":
        w = np.zeros((1, 1) + (pl.kernel_size,) * nd)
        return TCONV[nd](
            x,
            w,
            stride=pl.stride,
            padding=pl.padding,
            output_padding=pl.output_padding,
            dilation=pl.dilation,
        ).shape[2:]
    up = math.floor(pl.input_size * pl.scale_factor) if pl.scale_factor else pl.output_size
    assert up == pl.resized_size
    conv = {1: F.conv1d, 2: F.conv2d}[nd]
    return conv(
        np.zeros((1, 1) + (up,) * nd), np.zeros((1, 1) + (pl.kernel_size,) * nd), padding=pl.padding
    ).shape[2:]


@pytest.mark.parametrize("L,out", [(16, 32), (7, 14), (5, 16), (8, 8), (3, 10), (10, 7)])
def test_plan_results_reach_the_target(L, out) -> None:
    plans = plan(L, out, max_kernel=5)
    assert len(plans) == len(set(plans))
    for pl in plans:
        assert run_plan(pl) == (out,), pl
        if pl.kind == "conv_transpose":
            cov = coverage(L, pl.kernel_size, pl.stride, pl.padding, pl.output_padding, pl.dilation)
            assert pl.uniform == (cov.min() == cov.max())
            assert pl.artifact_free == is_artifact_free(
                np.ones(pl.kernel_size), pl.stride, pl.dilation
            )
            assert pl.padding <= pl.dilation * (pl.kernel_size - 1)
        assert pl.params == pl.kernel_size**2
    keys = [(not pl.artifact_free, not pl.uniform, pl.params) for pl in plans]
    assert keys == sorted(keys)


def test_plan_2d_and_torch_resize(torch) -> None:
    tf = torch.nn.functional
    for pl in plan(6, 13, max_kernel=4, ndim=2)[:12]:
        assert run_plan(pl, nd=2) == (13, 13)
        if pl.kind == "resize_conv":
            x = torch.zeros((1, 1, 6, 6))
            kw = {"scale_factor": pl.scale_factor} if pl.scale_factor else {"size": (13, 13)}
            up = tf.interpolate(x, mode="nearest" if pl.mode == "nearest" else "bilinear", **kw)
            y = tf.conv2d(
                up, torch.zeros((1, 1, pl.kernel_size, pl.kernel_size)), padding=pl.padding
            )
            assert tuple(y.shape[2:]) == (13, 13)


def test_plan_contents_and_ranking() -> None:
    plans = plan(16, 32, max_kernel=5, channels=(8, 4))
    codes = [pl.code() for pl in plans]
    assert "ConvTranspose(kernel_size=4, stride=2, padding=1)" in codes
    k3 = next(
        pl
        for pl in plans
        if pl.code() == "ConvTranspose(kernel_size=3, stride=2, padding=1, output_padding=1)"
    )
    assert not k3.artifact_free and k3.params == 8 * 4 * 9
    first_bad = next(i for i, pl in enumerate(plans) if not pl.artifact_free)
    assert all(pl.artifact_free for pl in plans[:first_bad])
    assert not any(pl.artifact_free for pl in plans[first_bad:])
    assert plans[0].code() == "interpolate(scale_factor=2, mode='nearest') + Conv(kernel_size=1)"
    tc = plan(16, 32, resize=False)
    assert tc and all(pl.kind == "conv_transpose" for pl in tc)
    assert tc[0].code() == "ConvTranspose(kernel_size=2, stride=2)"
    # a non-integer ratio: resize to the size, odd kernels with 'same' padding
    odd = plan(5, 12, max_kernel=3, resize=True, max_stride=1, modes=["nearest"])
    assert {pl.code() for pl in odd} == {
        "interpolate(size=12, mode='nearest') + Conv(kernel_size=1)",
        "interpolate(size=12, mode='nearest') + Conv(kernel_size=3, padding=1)",
    }
    with pytest.raises(ValueError, match="output_size must be positive"):
        plan(4, 0)
