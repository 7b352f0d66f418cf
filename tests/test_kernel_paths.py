"""The transposed convolution's overlap-add paths: exact cover (each output gets one
tap: copy, no adds), flat phases (one contiguous add per tap on a padded grid),
channels-last (tiny maps) and adds straight into the output (a tiny budget).

Each shortcut is chosen from the geometry alone; these tests check the choice
against brute-force coverage counts and run the ops through every path
(batch folded or not, shortcut or not, serial or on worker threads) against
the scatter definition.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tconv
import tconv.functional as F
from helpers import rel_err
from strategies import Config, configs
from tconv.artifacts import coverage
from tconv.kernels import _layout as layout
from tconv.kernels import conv as kernels
from tconv.kernels import phases
from tconv.kernels.conv import _exact_cover
from test_conv_reference import correlation_reference, scatter_reference


@settings(max_examples=300)
@given(
    st.integers(1, 9),  # input size
    st.integers(1, 5),  # kernel
    st.integers(1, 4),  # stride
    st.integers(0, 4),  # padding
    st.integers(0, 3),  # output_padding (clipped below)
    st.integers(1, 3),  # dilation
)
def test_exact_cover_matches_coverage_counts(n_in, k, s, p, a, d) -> None:
    a = min(a, max(s, d) - 1)
    out = (n_in - 1) * s - 2 * p + d * (k - 1) + a + 1
    if out < 1:
        return
    cov = coverage(n_in, k, stride=s, padding=p, output_padding=a, dilation=d)
    assert _exact_cover((k,), (s,), (d,), (p,), (n_in,), (out,)) == bool((cov == 1).all())


# (input shape, weight shape, kwargs): exact cover (k = s), first-touch (k4 s2 p1),
# neither (k3 s2 p0), with batches folded into the GEMM (small maps) or not (>= 1024).
PATHS = [
    ((3, 4, 6, 5), (4, 3, 2, 2), dict(stride=2)),
    ((2, 4, 33, 32), (4, 3, 2, 2), dict(stride=2)),
    ((3, 4, 5, 6), (4, 6, 3, 3), dict(stride=3, output_padding=1)),
    ((2, 6, 4, 5), (6, 2, 4, 4), dict(stride=2, padding=1, groups=3)),
    ((2, 4, 32, 33), (4, 3, 4, 4), dict(stride=2, padding=1)),
    ((3, 4, 5, 7), (4, 3, 3, 3), dict(stride=2)),
    ((3, 4, 5, 7), (4, 3, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((2, 3, 4, 5, 3), (3, 2, 4, 2, 3), dict(stride=(2, 2, 3), padding=(1, 0, 0))),
    ((2, 3, 7), (3, 2, 16), dict(stride=8, padding=4)),
    ((2, 3, 7), (3, 2, 5), dict(stride=2, padding=2, dilation=2)),
    ((1, 3, 6, 5), (3, 4, 3, 3), dict(padding=1)),  # stride 1: a flipped-kernel conv
    ((2, 3, 33, 32), (3, 2, 3, 2), dict(padding=(2, 0), dilation=(1, 2))),
    ((1, 2, 12, 10), (2, 3, 3, 2), dict(padding=(3, 1))),  # padding past d (k - 1)
    ((1, 2, 5, 4, 3), (2, 3, 2, 3, 2), dict(padding=(1, 2, 1), output_padding=(0, 0, 0))),
    ((3, 16, 4, 4), (16, 8, 4, 4), dict(stride=2, padding=1)),  # channels-last
    ((2, 4, 6, 5), (4, 1, 3, 3), dict(stride=2, padding=1, groups=4)),  # depthwise
]


@pytest.mark.parametrize("budget", [None, 2**12])
@pytest.mark.parametrize(("xs", "ws", "kw"), PATHS)
def test_every_col2im_path_matches_the_definition(xs, ws, kw, budget, rng, threads) -> None:
    """With a bias (added where each path writes its output), and with a budget
    too small for phase buffers (the slabs go straight into the output)."""
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    nd = len(xs) - 2
    b = rng.standard_normal(ws[1] * kw.get("groups", 1))
    full = {
        "stride": (1,) * nd,
        "padding": (0,) * nd,
        "output_padding": (0,) * nd,
        "groups": 1,
        "dilation": (1,) * nd,
    }
    for key, v in kw.items():
        full[key] = v if key == "groups" else (v if isinstance(v, tuple) else (v,) * nd)
    ref = scatter_reference(
        x,
        w,
        b,
        full["stride"],
        full["padding"],
        full["output_padding"],
        full["groups"],
        full["dilation"],
    )
    op = getattr(F, f"conv_transpose{nd}d")
    with tconv.memory_budget(budget) if budget else contextlib.nullcontext():
        assert rel_err(op(x, w, b, **kw), ref) <= 1e-12
        got32 = op(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32), **kw)
    assert got32.dtype == np.float32
    assert rel_err(got32, ref) <= 1e-5


def test_non_finite_values_stay_where_the_definition_puts_them(rng) -> None:
    """Copies instead of adds must not hide or spread a NaN: with a NaN input
    pixel, exactly the outputs its taps reach are NaN."""
    for ws, kw in (((2, 2, 2, 2), dict(stride=2)), ((2, 2, 4, 4), dict(stride=2, padding=1))):
        x = rng.standard_normal((1, 2, 5, 6))
        x[0, 1, 2, 3] = np.nan
        w = rng.standard_normal(ws)
        got = F.conv_transpose2d(x, w, **kw)
        mask = np.zeros_like(x)
        mask[0, 1, 2, 3] = 1.0
        reach = F.conv_transpose2d(mask, np.ones_like(w), **kw) > 0
        np.testing.assert_array_equal(np.isnan(got), reach)


# Convolutions through the row-shift path (groups 1, stride 1 along the first
# spatial dim, batch not folded: one sample or maps of >= 1024 positions) and
# around it (strided first dim, groups, folded batches).
CONVS = [
    ((1, 3, 9, 8), (4, 3, 3, 3), dict(padding=1)),
    ((2, 4, 33, 32), (5, 4, 3, 3), dict(padding=1)),
    ((1, 3, 10, 9), (2, 3, 3, 2), dict(stride=(1, 2), padding=(2, 1), dilation=(2, 1))),
    ((1, 2, 6, 7, 5), (3, 2, 3, 2, 2), dict(stride=(1, 2, 1), padding=1, dilation=(1, 1, 2))),
    ((1, 3, 8, 9), (4, 3, 3, 3), dict(stride=(2, 1), padding=1)),
    ((1, 4, 8, 9), (4, 2, 3, 3), dict(padding=1, groups=2)),
    ((3, 3, 8, 9), (4, 3, 3, 3), dict(padding=1)),
    ((1, 3, 8, 9), (4, 3, 1, 3), dict(padding=(0, 1))),
]


@pytest.mark.parametrize("budget", [None, 2**12])
@pytest.mark.parametrize(("xs", "ws", "kw"), CONVS)
def test_every_conv_path_matches_the_definition(xs, ws, kw, budget, rng, threads) -> None:
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[0])
    nd = len(xs) - 2
    full = {"stride": (1,) * nd, "padding": (0,) * nd, "dilation": (1,) * nd, "groups": 1}
    for key, v in kw.items():
        full[key] = v if key == "groups" else (v if isinstance(v, tuple) else (v,) * nd)
    ref = correlation_reference(
        x, w, b, full["stride"], full["padding"], full["padding"], full["dilation"], full["groups"]
    )
    op = getattr(F, f"conv{nd}d")
    with tconv.memory_budget(budget) if budget else contextlib.nullcontext():
        assert rel_err(op(x, w, b, **kw), ref) <= 1e-12
        got32 = op(x.astype(np.float32), w.astype(np.float32), b.astype(np.float32), **kw)
    assert got32.dtype == np.float32
    assert rel_err(got32, ref) <= 1e-5


@pytest.mark.parametrize("budget", [None, 2**12])
@pytest.mark.parametrize(("xs", "ws", "kw"), CONVS)
def test_every_conv_weight_gradient_path_matches_the_definition(
    xs, ws, kw, budget, rng, threads
) -> None:
    """dw[o, i, t] = sum over samples and outputs of gy[o] * x_padded[o s + t d]."""
    import itertools

    from tconv import grad

    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    nd = len(xs) - 2
    full = {"stride": (1,) * nd, "padding": (0,) * nd, "dilation": (1,) * nd, "groups": 1}
    for key, v in kw.items():
        full[key] = v if key == "groups" else (v if isinstance(v, tuple) else (v,) * nd)
    y = getattr(F, f"conv{nd}d")(x, w, **kw)
    gy = rng.standard_normal(y.shape)
    xp = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in full["padding"]])
    g = full["groups"]
    ci, co = xs[1] // g, ws[0] // g
    ref = np.zeros(ws)
    for t in itertools.product(*(range(k) for k in ws[2:])):
        win = tuple(
            slice(ti * d, ti * d + s * (o - 1) + 1, s)
            for ti, d, s, o in zip(t, full["dilation"], full["stride"], y.shape[2:])
        )
        patch = xp[(slice(None), slice(None)) + win]
        for gi in range(g):
            ref[(slice(gi * co, (gi + 1) * co), slice(None)) + t] = np.einsum(
                "nop,nip->oi",
                gy[:, gi * co : (gi + 1) * co].reshape(xs[0], co, -1),
                patch[:, gi * ci : (gi + 1) * ci].reshape(xs[0], ci, -1),
            )
    fn = getattr(grad, f"conv{nd}d_weight")
    with tconv.memory_budget(budget) if budget else contextlib.nullcontext():
        got = fn(x, ws, gy, **kw)
        got32 = fn(x.astype(np.float32), ws, gy.astype(np.float32), **kw)
    assert rel_err(got, ref) <= 1e-12
    assert rel_err(got32, ref) <= 1e-5


@settings(max_examples=150)
@given(configs(transposed=True), st.sampled_from(["phases", "channels-last"]))
def test_flat_phases_and_channels_last_match_the_definition(cfg: Config, path: str) -> None:
    """Either overlap-add of the strided transposed convolution, forced for every
    geometry the choice between them (the padding share) would otherwise route
    elsewhere: the flat phases' pitch must keep every shifted index off the other
    rows, for any stride, dilation, padding and output_padding."""
    x, w, b = cfg.arrays()
    pad = cfg.padding if isinstance(cfg.padding, tuple) else (cfg.padding,) * cfg.nd
    xb = x if cfg.batch is not None else x[None]
    ref = scatter_reference(xb, w, b, cfg.stride, pad, cfg.output_padding, cfg.groups, cfg.dilation)
    share = math.inf if path == "phases" else 0.0
    with mock.patch.object(kernels, "_CL_PADDING", share):
        got = getattr(F, f"conv_transpose{cfg.nd}d")(x, w, b, **cfg.kwargs())
    assert rel_err(got if cfg.batch is not None else got[None], ref) <= 1e-12


@settings(max_examples=150)
@given(configs(transposed=False), st.booleans())
def test_strided_conv_from_phase_buffers_matches_the_definition(cfg: Config, phases: bool) -> None:
    """The convolution and its weight gradient from flat phase buffers (forced
    for every geometry, tiny maps too) or from the strided im2col."""
    if cfg.padding in ("same", "valid"):
        return
    x, w, b = cfg.arrays()
    xb = x if cfg.batch is not None else x[None]
    pad = cfg.padding if isinstance(cfg.padding, tuple) else (cfg.padding,) * cfg.nd
    ref = correlation_reference(xb, w, b, cfg.stride, pad, pad, cfg.dilation, cfg.groups)
    gy = np.cos(np.arange(ref.size)).reshape(ref.shape)
    share = math.inf if phases else 0.0
    with mock.patch.object(kernels, "_CL_PADDING", share):
        got = getattr(F, f"conv{cfg.nd}d")(x, w, b, **cfg.kwargs())
        gw = kernels.conv_weight_grad_nd(
            xb, gy, cfg.kernel, cfg.stride, cfg.dilation, cfg.groups, pad
        )
    assert rel_err(got if cfg.batch is not None else got[None], ref) <= 1e-12
    xp = np.pad(xb, [(0, 0), (0, 0)] + [(p, p) for p in pad])
    ci, co = cfg.c_in // cfg.groups, cfg.c_out // cfg.groups
    ref_gw = np.zeros(w.shape)
    for t in itertools.product(*(range(k) for k in cfg.kernel)):
        win = tuple(
            slice(ti * d, ti * d + s * (o - 1) + 1, s)
            for ti, d, s, o in zip(t, cfg.dilation, cfg.stride, ref.shape[2:])
        )
        patch = xp[(slice(None), slice(None)) + win]
        for gi in range(cfg.groups):
            ref_gw[(slice(gi * co, (gi + 1) * co), slice(None)) + t] = np.einsum(
                "nop,nip->oi",
                gy[:, gi * co : (gi + 1) * co].reshape(len(xb), co, -1),
                patch[:, gi * ci : (gi + 1) * ci].reshape(len(xb), ci, -1),
            )
    assert rel_err(gw, ref_gw) <= 1e-12


@settings(max_examples=100)
@given(configs(transposed=True))
def test_flat_phases_in_blocks_of_rows_match_the_definition(cfg: Config) -> None:
    """A large map's phases go in blocks of rows of the first dim (forced here with
    a working size of one byte: blocks of as few rows as the shifts allow), each
    block's GEMM reading only the input rows its shifts reach."""
    x, w, b = cfg.arrays()
    xb = (x if cfg.batch is not None else x[None])[:1]
    pad = cfg.padding if isinstance(cfg.padding, tuple) else (cfg.padding,) * cfg.nd
    ref = scatter_reference(xb, w, b, cfg.stride, pad, cfg.output_padding, cfg.groups, cfg.dilation)
    kw = cfg.kwargs()
    with mock.patch.object(kernels, "_CL_PADDING", math.inf), mock.patch.object(
        phases, "_CHUNK_BYTES", 1
    ), mock.patch.object(layout, "_CHUNK_BYTES", 1):
        got = getattr(F, f"conv_transpose{cfg.nd}d")(xb, w, b, **kw)
    assert rel_err(got, ref) <= 1e-12
