"""The kernels' tables of named paths (tconv.kernels.conv): which path each
geometry takes, by name, and every path against kernels/reference.py.

Each path is reached THROUGH its table: hypothesis draws geometries aimed at it,
``assume(route(...) == name)`` keeps those the table sends there, and the trace
must show it ran. Budget-dependent paths are reached with the public
``tconv.memory_budget``; float64 and float32, serial and on 2 worker threads.
The public ops are also run on fixed geometries against the scatter and
correlation definitions of test_conv_reference.py.
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import threading
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import tconv
import tconv.functional as F
from helpers import rel_err
from tconv import kernels
from tconv.artifacts import coverage
from tconv.kernels import _threads, tuning
from tconv.kernels import conv as K
from tconv.kernels import reference as R
from tconv.kernels.conv import _exact_cover
from test_conv_reference import correlation_reference, scatter_reference
from test_reference import Geo, geometries

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_conv import SUITE, Case


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


# --------------------------------------------------------------------------
# The tables: every path against the reference, reached through its table


def _budget(budget: int | None) -> Any:
    return tconv.memory_budget(budget) if budget else contextlib.nullcontext()


def _threads_on(n: int) -> Any:
    """``n`` kernel threads, on small inputs too (as conftest's ``threads`` fixture)."""
    stack = contextlib.ExitStack()
    stack.enter_context(tconv.num_threads(n))
    if n > 1:
        stack.enter_context(mock.patch.object(_threads, "_MIN_WORK", 0))
    return stack


def _call(op: str, geo: Geo, dtype: Any, with_w: bool) -> tuple[tuple[Any, ...], Any]:
    """The kernel's arguments in ``dtype`` and its reference result (float64)."""
    x, w, b, gy = geo.arrays(dtype)
    x64, w64, b64, gy64 = geo.arrays()
    if op == "conv_transpose":
        return (x, w, *geo.args(), b), R.conv_transpose_nd(x64, w64, *geo.args(), b64)
    if op == "conv":
        return (x, w, *geo.args(), b), R.conv_nd(x64, w64, *geo.args(), b64)
    geom = (geo.k, geo.s, geo.d, geo.groups, geo.lo)
    gw = R.conv_weight_grad_nd(x64, gy64, *geom)
    if not with_w:
        return (x, gy, *geom, None), (gw, None)
    return (x, gy, *geom, w), (gw, R.conv_nd(x64, w64, *geo.args()))


RUN = {
    "conv_transpose": K.conv_transpose_nd,
    "conv": K.conv_nd,
    "conv_weight": K.conv_and_weight_grad_nd,
}
TOL = {np.float64: 1e-10, np.float32: 1e-5}


def check_path(name: str, geo: Geo, budget: int | None = None, jit: bool = False,
               with_w: bool = False) -> None:  # fmt: skip
    """Run ``geo`` through ``name``'s op (when its table sends it there, in both
    dtypes): the trace shows ``name`` first, the result is the reference's."""
    op = name.split(".")[0]
    stack = contextlib.ExitStack()
    with stack:
        stack.enter_context(_budget(budget))
        stack.enter_context(tconv.jit(jit))
        if jit:  # the small inputs of these tests take numba's kernels too
            stack.enter_context(mock.patch.object(tuning, "JIT_MIN_SIZE", 0))
        for dtype in (np.float64, np.float32):
            assume(kernels.route(op, *_call(op, geo, dtype, with_w)[0]) == name)
        for dtype, n_threads in itertools.product((np.float64, np.float32), (1, 2)):
            args, ref = _call(op, geo, dtype, with_w)
            with _threads_on(n_threads), kernels.trace() as names:
                got = RUN[op](*args)
            assert names[0] == name, names
            if op == "conv_weight":
                assert got[0].dtype == dtype and rel_err(got[0], ref[0]) <= TOL[dtype]
                if with_w:
                    assert got[1].dtype == dtype and rel_err(got[1], ref[1]) <= TOL[dtype]
            else:
                assert got.dtype == dtype and rel_err(got, ref) <= TOL[dtype]


T, C = True, False  # transposed or not
TINY = 2**8  # bytes: no buffer fits, the paths that work in place or chunk taps
needs_jit = pytest.mark.skipif(not tconv.jit_available(), reason="numba is not installed")

# (path, geometry strategy, budgets to draw from, jit, with w)
CASES: list[tuple[str, Any, list[int | None], bool, bool]] = [
    ("conv_transpose.empty", geometries(T, n=0), [None], False, False),
    ("conv_transpose.depthwise", geometries(T, c_in_g=1, c_out_g=1), [None], False, False),
    ("conv_transpose.depthwise_strided",
     geometries(T, c_in_g=1, c_out_g=1), [TINY], False, False),
    ("conv_transpose.sparse_taps",
     geometries(T, nd=(1, 2), k=(1, 2), s=(40, 70), size=(1, 3), d=(1, 3)), [None, TINY],
     False, False),
    ("conv_transpose.stride1_flipped",
     geometries(T, groups=1, nd=(2, 3), n=1, s=1, k=(2, 3), size=(2, 6)), [None], False, False),
    ("conv_transpose.channels_last",
     geometries(T, groups=1, nd=(1, 2), s=(2, 3), size=(1, 3)), [None], False, False),
    ("conv_transpose.exact_cover",
     geometries(T, nd=(1, 2), k=2, s=2, d=1, lo=0, size=(3, 7)), [None, TINY], False, False),
    ("conv_transpose.flat_phases",
     geometries(T, s=(2, 3), size=(4, 8)), [None], False, False),
    ("conv_transpose.flat_phases_blocked",
     geometries(T, n=1, nd=(1, 2), s=(2, 3), size=(6, 12), c_out_g=(2, 3)),
     [2**12, 2**13, 2**14, 2**15], False, False),
    ("conv_transpose.gemm_col2im_folded",
     geometries(T, n=(2, 3), c_out_g=(2, 3), s=(1, 3), size=(3, 6)), [TINY], False, False),
    ("conv_transpose.gemm_col2im",
     geometries(T, n=1, c_out_g=(2, 3), s=(2, 3), size=(3, 6)), [TINY], False, False),
    ("conv.empty", geometries(C, n=0), [None], False, False),
    ("conv.gathered",
     geometries(C, nd=(1, 2), k=(1, 2), s=(40, 80), size=(41, 90)), [None], False, False),
    ("conv.depthwise", geometries(C, c_in_g=1, c_out_g=1), [None], False, False),
    ("conv.row_shift",
     geometries(C, groups=1, nd=(2, 3), n=1, s=1, k=(2, 3), size=(3, 7)), [None], False, False),
    ("conv.phase_split", geometries(C, s=(2, 3), size=(5, 9)), [None], False, False),
    ("conv.im2col_folded",
     geometries(C, n=(2, 3), c_out_g=(2, 3), s=1, size=(2, 6)), [None, TINY], False, False),
    ("conv.im2col", geometries(C, n=1, nd=1, c_out_g=(2, 3)), [None, TINY], False, False),
    ("conv_weight.empty", geometries(C, n=0), [None], False, False),
    ("conv_weight.gathered",
     geometries(C, nd=(1, 2), k=(1, 2), s=(40, 80), size=(41, 90)), [None], False, False),
    ("conv_weight.gathered",
     geometries(C, nd=(1, 2), k=(1, 2), s=(40, 80), size=(41, 90)), [None], False, True),
    ("conv_weight.row_shift",
     geometries(C, groups=1, nd=(2, 3), s=1, k=(2, 3), size=(3, 7)), [None], False, False),
    ("conv_weight.phase_split", geometries(C, s=(2, 3), size=(5, 9)), [None], False, False),
    ("conv_weight.phase_split", geometries(C, s=(2, 3), size=(5, 9)), [None], False, True),
    ("conv_weight.phase_rows",
     geometries(C, nd=(2, 3), groups=(1, 2), c_in_g=(16, 17), c_out_g=(16, 17), s=(2, 3),
                size=(4, 9)), [None], False, False),
    ("conv_weight.phase_rows",
     geometries(C, nd=(2, 3), groups=(1, 2), c_in_g=(16, 17), c_out_g=(16, 17), s=(2, 3),
                size=(4, 9)), [None], False, True),
    ("conv_weight.im2col", geometries(C, nd=1, s=1), [None, TINY], False, False),
    ("conv_weight.im2col", geometries(C, s=(1, 2)), [TINY], False, True),
]  # fmt: skip
JIT_CASES = [
    ("conv_transpose.depthwise_jit", geometries(T, c_in_g=1, c_out_g=1), [None], True, False),
    ("conv.depthwise_jit", geometries(C, c_in_g=1, c_out_g=1), [None], True, False),
    ("conv_weight.depthwise_jit", geometries(C, c_in_g=1, c_out_g=1), [None], True, False),
    ("conv_weight.depthwise_jit", geometries(C, c_in_g=1, c_out_g=1), [None], True, True),
    ("conv_transpose.flat_phases_jit",
     geometries(T, n=(1, 2), s=(2, 3), size=(6, 12), c_out_g=(2, 3)),
     [2**12, 2**13, 2**14, 2**15], True, False),
    ("conv_transpose.exact_cover_jit",
     geometries(T, groups=1, k=2, s=2, d=1, lo=0, size=(1, 6)), [None, 2**12], True, False),
    ("conv_transpose.exact_cover_jit",
     geometries(T, groups=1, k=3, s=3, d=1, lo=0, size=(1, 4)), [None, 2**12], True, False),
    ("conv.im2col_jit", geometries(C, s=(2, 3), size=(5, 9)), [None], True, False),
    ("conv_weight.im2col_jit", geometries(C, s=(2, 3), size=(5, 9)), [None], True, False),
    ("conv_weight.im2col_jit", geometries(C, s=(2, 3), size=(5, 9)), [None], True, True),
]  # fmt: skip


def _path_test(name: str, strategy: Any, budgets: list[int | None], jit: bool, with_w: bool,
               examples: int) -> Any:  # fmt: skip
    @settings(
        max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
    )
    @given(geo=strategy, budget=st.sampled_from(budgets))
    def test(geo: Geo, budget: int | None) -> None:
        check_path(name, geo, budget, jit, with_w)

    return test


@pytest.mark.parametrize(
    ("name", "strategy", "budgets", "jit", "with_w"),
    CASES + [pytest.param(*c, marks=needs_jit) for c in JIT_CASES],
    ids=[c[0] + ("+conv" if c[4] else "") for c in CASES + JIT_CASES],
)
def test_every_path_matches_the_reference(name, strategy, budgets, jit, with_w) -> None:
    _path_test(name, strategy, budgets, jit, with_w, 8 if jit else 20)()


@needs_jit
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(("budget", "mode"), [(2**13, "rows"), (2**14, "phases")])
def test_flat_phases_jit_in_row_blocks_and_phase_groups(torch, dtype, budget, mode) -> None:
    """conv_transpose.flat_phases_jit in both of its modes, against the reference
    and PyTorch: on a 1-d map whose one phase of one sample outgrows the budget its
    kernel writes blocks of rows; with a little more, GEMMs of one phase each."""
    from tconv.kernels import phases

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 200)).astype(dtype)
    w, b = rng.standard_normal((3, 2, 4)).astype(dtype), rng.standard_normal(2).astype(dtype)
    calls: list[tuple[int, int, int]] = []  # (rows a, e, phases) of each kernel call
    real = phases._PhaseGather.__call__

    def spy(self, cols, y, group, first, a, e, shift, with_empty, *grid):  # type: ignore[no-untyped-def]
        calls.append((a, e, len(group)))
        return real(self, cols, y, group, first, a, e, shift, with_empty, *grid)

    budget = budget * np.dtype(dtype).itemsize // 8  # the same sizes in elements
    with tconv.memory_budget(budget), tconv.jit(True), kernels.trace() as names, \
            mock.patch.object(tuning, "JIT_MIN_SIZE", 0), \
            mock.patch.object(phases._PhaseGather, "__call__", spy):  # fmt: skip
        got = F.conv_transpose1d(x, w, b, stride=2, padding=1)
    assert names == ["conv_transpose.flat_phases_jit"]
    if mode == "rows":  # several blocks of rows, every phase in each
        assert len(calls) > 2 and all(n_ph == 2 for _, _, n_ph in calls)
        assert max(e - a for a, e, _ in calls) < 200
    else:  # whole samples, a GEMM per phase
        assert calls and all(n_ph == 1 for _, _, n_ph in calls)
    ref = R.conv_transpose_nd(x.astype(np.float64), w.astype(np.float64), (2,), (1,), 1,
                              (1,), (400,), b.astype(np.float64))  # fmt: skip
    theirs = torch.nn.functional.conv_transpose1d(
        *(torch.from_numpy(a.astype(np.float64)) for a in (x, w, b)), stride=2, padding=1
    ).numpy()
    assert rel_err(got, ref) <= TOL[dtype] and rel_err(got, theirs) <= TOL[dtype]


@needs_jit
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("rows_bytes", [1, 2**12, 2**20])  # a row, a few, whole maps
@pytest.mark.parametrize(
    "k", [(2,), (3,), (2, 2), (2, 3), (3, 1), (1, 2), (2, 2, 2), (1, 3, 2), (3, 1, 1)]
)
def test_exact_cover_jit_row_blocks(torch, dtype, rows_bytes, k) -> None:
    """conv_transpose.exact_cover_jit (kernel = stride, 1-d to 3-d): its GEMM buffer of
    one input row, a few, or whole maps, on 1 and 2 workers, against the reference and
    PyTorch, bias included; groups, padding or dilation take the other paths."""
    rng = np.random.default_rng(1)
    nd = len(k)
    size = {1: (7,), 2: (7, 6), 3: (4, 3, 5)}[nd]
    x = rng.standard_normal((3, 5, *size)).astype(dtype)
    w = rng.standard_normal((5, 4, *k)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    out = tuple(a * m for a, m in zip(k, size))
    ref = R.conv_transpose_nd(*(a.astype(np.float64) for a in (x, w)), k, (1,) * nd, 1,
                              (0,) * nd, out, b.astype(np.float64))  # fmt: skip
    op, theirs_op = getattr(F, f"conv_transpose{nd}d"), f"conv_transpose{nd}d"
    theirs = getattr(torch.nn.functional, theirs_op)(
        *(torch.from_numpy(a.astype(np.float64)) for a in (x, w, b)), stride=k
    ).numpy()
    with tconv.jit(True), mock.patch.object(tuning, "JIT_MIN_SIZE", 0), \
            mock.patch.object(tuning, "EXACT_JIT_BYTES", rows_bytes):  # fmt: skip
        for n_threads in (1, 2):
            with _threads_on(n_threads), kernels.trace() as names:
                got = op(x, w, b, stride=k)
            assert names == ["conv_transpose.exact_cover_jit"]
            assert got.dtype == dtype
            assert rel_err(got, ref) <= TOL[dtype] and rel_err(got, theirs) <= TOL[dtype]
        w_g = rng.standard_normal((5, 1, *k)).astype(dtype)  # one channel a group
        for kw, wk in ((dict(padding=1), w), (dict(dilation=2), w), (dict(groups=5), w_g)):
            with kernels.trace() as names:
                op(x, wk, stride=k, **kw)
            assert names[0] != "conv_transpose.exact_cover_jit", (kw, names)


@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=needs_jit)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("shape", "k", "s", "p"),
    [((5, 3, 7, 9), 4, 2, 1), ((3, 2, 4, 5, 6), 3, 2, 1), ((4, 2, 6, 5), 5, 3, 2)],
)
def test_flat_phases_gemm_columns_skip_the_first_dims_padding(torch, jit, dtype, shape, k, s, p):
    """The unblocked flat phases (NumPy, and numba's for 2-d+) lay a chunk's samples
    on a (rows, batch, *rest) grid: every GEMM runs over n_in[0] x batch x rest
    columns (the other dims' pitch), none for padding of the first dim, and the
    result matches the reference and PyTorch with several samples a chunk."""
    from tconv.kernels import phases

    rng = np.random.default_rng(0)
    nd = len(shape) - 2
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((shape[1], 3) + (k,) * nd).astype(dtype)
    b = rng.standard_normal(3).astype(dtype)
    widths: list[int] = []
    real = np.matmul

    def spy(a, bb, *args, **kw):  # type: ignore[no-untyped-def]
        widths.append(bb.shape[-1])
        return real(a, bb, *args, **kw)

    fn = getattr(F, f"conv_transpose{nd}d")
    out = tuple((m - 1) * s - 2 * p + k for m in shape[2:])
    call = K.TransposeCall(x, w, (s,) * nd, (1,) * nd, 1, (p,) * nd, out)
    # numba's path is taken where a sample outgrows the working size (plan.blocked),
    # and lays whole samples on the grid while one phase of one fits its own
    small = mock.patch.object(phases, "_CHUNK_BYTES", 64) if jit else contextlib.nullcontext()
    with tconv.jit(jit), kernels.trace() as names, mock.patch.object(tuning, "JIT_MIN_SIZE", 0), \
            small, mock.patch.object(phases.np, "matmul", spy):  # fmt: skip
        got = fn(x, w, b, stride=s, padding=p)
    assert names == ["conv_transpose.flat_phases_jit" if jit else "conv_transpose.flat_phases"]
    rest = int(np.prod(call.plan.pitch[1:]))
    assert widths and all(wd % (shape[2] * rest) == 0 for wd in widths)
    assert all(wd // (shape[2] * rest) > 1 for wd in widths)  # several samples a GEMM
    ref = R.conv_transpose_nd(x.astype(np.float64), w.astype(np.float64), (s,) * nd, (1,) * nd, 1,
                              (p,) * nd, out, b.astype(np.float64))  # fmt: skip
    theirs = getattr(torch.nn.functional, f"conv_transpose{nd}d")(
        *(torch.from_numpy(a.astype(np.float64)) for a in (x, w, b)), stride=s, padding=p
    ).numpy()
    assert rel_err(got, ref) <= TOL[dtype] and rel_err(got, theirs) <= TOL[dtype]


def _classes(a: np.ndarray) -> np.ndarray:
    """0 finite, 1 NaN, 2 +inf, 3 -inf."""
    return np.select([np.isnan(a), np.isposinf(a), np.isneginf(a)], [1, 2, 3], 0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(geo=geometries(T, c_out_g=(2, 3)), where=st.integers(0, 2**31 - 1),
       value=st.sampled_from([np.nan, np.inf, -np.inf]), in_w=st.booleans())  # fmt: skip
def test_nonfinite_path_matches_the_reference(geo: Geo, where: int, value: float,
                                              in_w: bool) -> None:  # fmt: skip
    """A NaN or an inf in x or w sends a transposed convolution that is not
    depthwise to ``conv_transpose.nonfinite`` (unless its check, deferred to a smaller
    result, finds none there); NaN, +inf and -inf land where the definition puts
    them, the finite values agree."""
    assume(kernels.route("conv_transpose", *_call("conv_transpose", geo, np.float64, False)[0])
           != "conv_transpose.empty")  # fmt: skip
    for dtype, n_threads in itertools.product((np.float64, np.float32), (1, 2)):
        x, w, b, _ = geo.arrays(dtype)
        target = w if in_w else x
        target.reshape(-1)[where % target.size] = value
        ref = R.conv_transpose_nd(x.astype(np.float64), w.astype(np.float64), *geo.args(),
                                  b.astype(np.float64))  # fmt: skip
        with _threads_on(n_threads), kernels.trace() as names, np.errstate(invalid="ignore"):
            got = K.conv_transpose_nd(x, w, *geo.args(), b)
        # the result's path. The paths before nonfinite in the table (sparse taps,
        # depthwise) multiply only the products the definition makes, NaN and inf
        # included; a check deferred to the result (smaller than the operands) runs a fast
        # path first, and keeps its result only when no NaN or inf reaches it
        table = [p.name for p in kernels.TABLES["conv_transpose"]]
        exact = table[: table.index("conv_transpose.nonfinite") + 1]
        if names[-1] not in exact:
            assert len(names) == 1 and np.isfinite(ref).all(), names
        np.testing.assert_array_equal(_classes(got), _classes(ref))
        finite = np.isfinite(ref)
        assert rel_err(got[finite], ref[finite]) <= TOL[dtype]


def test_every_path_of_every_table_is_tested() -> None:
    # conv.winograd(_jit), conv_weight.winograd_jit, conv_transpose.winograd_phases_jit:
    # float32 against their error bounds (tests/test_winograd.py, test_winograd_phases.py)
    winograd = {"conv.winograd", "conv.winograd_jit", "conv_weight.winograd_jit",
                "conv_transpose.winograd_phases_jit", "conv_transpose.winograd_adjoint_jit",
                "conv.winograd_phases_jit",
                "conv_weight.winograd_phases_jit"}  # fmt: skip
    tested = {c[0] for c in CASES + JIT_CASES} | {"conv_transpose.nonfinite"} | winograd
    for table in kernels.TABLES.values():
        names = [p.name for p in table]
        assert len(set(names)) == len(names)
        assert table[-1].when(None)  # the last entry takes every call
        for path in table:
            assert "\n" not in path.why and path.why, path.name
        assert set(names) <= tested, set(names) - tested


# --------------------------------------------------------------------------
# The benchmark suite's geometries: which path each takes, by name


def _kernel_args(case: Case, dtype: str) -> tuple[str, tuple[Any, ...]]:
    """The kernel op and its arguments (shape-only arrays) for a benchmark case."""
    x = np.empty(case.input_shape, dtype=dtype)
    w = np.empty(case.weight_shape(), dtype=dtype)
    nd, s, p, k = case.nd, case.stride, case.padding, case.kernel
    n_in = case.input_shape[2:]
    if case.op == "conv_transpose":
        out = tuple((m - 1) * s - 2 * p + k for m in n_in)
    else:
        out = tuple((m + 2 * p - k) // s + 1 for m in n_in)
    return case.op, (x, w, (s,) * nd, (1,) * nd, case.groups, (p,) * nd, out)


def expected_paths() -> dict[str, str]:
    """Each benchmark case's forward path, in float32 and float64 alike (with numba
    on, conv_k3 takes Winograd's compiled transforms)."""
    depthwise = "depthwise_jit" if tconv.get_jit() else "depthwise"
    blocked = "flat_phases_jit" if tconv.get_jit() else "flat_phases_blocked"
    # k4 s2 with numba on: the phases by F(2x2, 2x2) (tests/test_winograd_phases.py)
    flat = "flat_phases_jit" if tconv.get_jit() else "flat_phases"
    k4s2 = "winograd_adjoint_jit" if tconv.get_jit() else "flat_phases"
    k4s2_3d = "winograd_phases_jit" if tconv.get_jit() else "flat_phases_blocked"
    exact = "exact_cover_jit" if tconv.get_jit() else "exact_cover"
    return {
        "dcgan1": "conv_transpose.channels_last",  # 4x4 maps: the phase grid pads 1.56x
        "dcgan2": f"conv_transpose.{k4s2}",
        "dcgan3": f"conv_transpose.{k4s2}",
        "dcgan4": f"conv_transpose.{flat}",
        "unet1": f"conv_transpose.{exact}",  # k = s = 2
        "unet2": f"conv_transpose.{exact}",
        "audio1d": f"conv_transpose.{blocked}",  # a sample's buffers > 8 MiB
        "volume3d": f"conv_transpose.{k4s2_3d}",  # 3-d k4 s2: by depth slices
        "depthwise": f"conv_transpose.{depthwise}",
        "conv_k3": "conv.winograd_jit" if tconv.get_jit() else "conv.row_shift",
        "conv_k3s2": "conv.im2col_jit" if tconv.get_jit() else "conv.phase_split",
    }


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", SUITE, ids=[c.name for c in SUITE])
def test_each_benchmark_case_takes_its_path(case: Case, dtype: str) -> None:
    op, args = _kernel_args(case, dtype)
    assert kernels.route(op, *args) == expected_paths()[case.name]


def test_the_suite_traces_at_least_six_distinct_paths() -> None:
    """The benchmark suite's forward calls (float32), as the user runs them."""
    seen: list[str] = []
    rng = np.random.default_rng(0)
    with tconv.jit(False):  # the depthwise case without numba's first-call compile
        for case in SUITE:
            x = rng.standard_normal(case.input_shape, dtype=np.float32)
            w = rng.standard_normal(case.weight_shape(), dtype=np.float32)
            op = getattr(F, f"{case.op}{case.nd}d")
            with kernels.trace() as names:
                op(x, w, stride=case.stride, padding=case.padding, groups=case.groups)
            assert names == [expected_paths()[case.name]]  # numba off here
            seen += names
    assert len(set(seen)) >= 6, set(seen)


# --------------------------------------------------------------------------
# trace() and route()


def test_trace_records_nested_calls_and_nested_blocks(rng) -> None:
    """The stride-1 transposed path runs a convolution: both are recorded, outer first."""
    x, w = rng.standard_normal((1, 2, 6, 5)), rng.standard_normal((2, 3, 3, 3))
    with kernels.trace() as outer:
        F.conv_transpose2d(x, w)
        with kernels.trace() as inner:
            F.conv2d(x, w.swapaxes(0, 1))
    assert outer == ["conv_transpose.stride1_flipped", "conv.row_shift", "conv.row_shift"]
    assert inner == ["conv.row_shift"]


def test_trace_is_per_thread(rng) -> None:
    x, w = rng.standard_normal((1, 2, 6, 5)), rng.standard_normal((2, 3, 2, 2))
    others: list[list[str]] = []

    def other() -> None:
        with kernels.trace() as names:
            F.conv2d(x, w.swapaxes(0, 1), stride=2)
        others.append(names)

    with kernels.trace() as mine:
        t = threading.Thread(target=other)
        t.start()
        t.join()
        F.conv_transpose2d(x, w, stride=2)
    assert mine == ["conv_transpose.exact_cover"]
    assert others == [["conv.im2col"]]


def test_route_follows_the_public_settings(rng) -> None:
    """The memory budget moves a call from the phases to the in-place strided adds."""
    x, w = np.empty((1, 4, 8, 8)), np.empty((4, 1, 4, 4))
    args = (x, w, (2, 2), (1, 1), 4, (1, 1), (16, 16))
    with tconv.jit(False):
        assert kernels.route("conv_transpose", *args) == "conv_transpose.depthwise"
        with tconv.memory_budget(TINY):
            assert kernels.route("conv_transpose", *args) == "conv_transpose.depthwise_strided"
