"""The kernels' worker threads: same results as serial, the BLAS's thread count
restored, the memory budget shared, errors raised, settings validated."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import tconv
import tconv.functional as F
from helpers import rel_err
from tconv import kernels
from tconv.kernels import _blas, _threads
from tconv.kernels import winograd as W
from tconv.kernels._layout import _chunks

needs_blas = pytest.mark.skipif(
    _threads.blas() is None, reason="the BLAS's threads cannot be controlled here"
)

# (op, input shape, weight shape, kwargs): one per kernel path, each large enough
# to be split over the workers without lowering the size threshold.
LAYERS = [
    ("conv_transpose2d", (8, 32, 16, 16), (32, 16, 4, 4), dict(stride=2, padding=1)),  # phases
    ("conv_transpose2d", (16, 64, 4, 4), (64, 32, 4, 4), dict(stride=2, padding=1)),  # chan.-last
    ("conv_transpose2d", (4, 32, 32, 32), (32, 16, 2, 2), dict(stride=2)),  # exact cover
    ("conv_transpose2d", (4, 16, 32, 32), (16, 8, 3, 3), dict(padding=1)),  # stride 1
    ("conv_transpose2d", (8, 64, 16, 16), (64, 1, 4, 4), dict(stride=2, padding=1, groups=64)),
    ("conv_transpose2d", (1, 256, 32, 32), (256, 1, 4, 4), dict(stride=2, padding=1, groups=256)),
    ("conv_transpose1d", (4, 32, 400), (32, 16, 16), dict(stride=8, padding=4)),
    ("conv_transpose3d", (2, 16, 8, 8, 8), (16, 8, 4, 4, 4), dict(stride=2, padding=1)),
    ("conv2d", (4, 16, 40, 40), (16, 16, 3, 3), dict(padding=1)),  # row shift
    ("conv2d", (8, 32, 14, 14), (64, 32, 3, 3), dict(stride=2, padding=1)),  # im2col, folded
    ("conv2d", (4, 32, 32, 32), (32, 8, 3, 3), dict(padding=1, groups=4)),  # grouped
    ("conv2d", (8, 64, 32, 32), (64, 1, 3, 3), dict(padding=1, groups=64)),  # depthwise
    ("conv2d", (1, 128, 64, 64), (128, 1, 3, 3), dict(padding=1, groups=128)),  # one sample
    ("conv1d", (4, 16, 2000), (16, 16, 9), dict(padding=4)),
]


def _bias(op, ws, kw):
    return ws[1] * kw.get("groups", 1) if "transpose" in op else ws[0]


def _fwd_bwd(op, x, w, b, kw):
    """Forward output and the three gradients through the autograd."""
    X, W, B = (tconv.tensor(a, requires_grad=True) for a in (x, w, b))
    y = getattr(F, op)(X, W, B, **kw)
    gy = np.cos(np.arange(y.data.size, dtype=x.dtype)).reshape(y.shape)
    y.backward(gy)
    return y.data, X.grad, W.grad, B.grad


@needs_blas
@pytest.mark.parametrize(("op", "xs", "ws", "kw"), LAYERS)
def test_two_workers_give_the_serial_results(op, xs, ws, kw) -> None:
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(_bias(op, ws, kw))
    with tconv.num_threads(1):
        ref = _fwd_bwd(op, x, w, b, kw)
        ref32 = _fwd_bwd(op, *(a.astype(np.float32) for a in (x, w, b)), kw)
    with tconv.num_threads(2):
        got = _fwd_bwd(op, x, w, b, kw)
        with kernels.trace() as names:
            got32 = _fwd_bwd(op, *(a.astype(np.float32) for a in (x, w, b)), kw)
    for r, g in zip(ref, got, strict=True):
        assert rel_err(g, r) <= 1e-12
    # float32 Winograd sums in another order on 2 workers: each run within its bound
    # of the definition, so within twice the bound of each other
    tol = 2 * max(W.ERROR[4], W.WEIGHT_ERROR) if any("winograd" in n for n in names) else 1e-5
    for r, g in zip(ref32, got32, strict=True):
        assert g.dtype == np.float32
        assert rel_err(g, r) <= tol


@needs_blas
def test_chunks_run_on_the_workers_and_the_blas_count_comes_back(monkeypatch) -> None:
    names: list[str] = []
    real = _threads.map_chunks

    def spy(body, items, n_workers):
        def wrapped(item):
            names.append(threading.current_thread().name)
            return body(item)

        return real(wrapped, items, n_workers)

    monkeypatch.setattr(_threads, "map_chunks", spy)
    before = _threads.blas().get()
    x = np.random.default_rng(0).standard_normal((8, 32, 16, 16))
    w = np.random.default_rng(1).standard_normal((32, 16, 4, 4))
    with tconv.num_threads(2):
        F.conv_transpose2d(x, w, stride=2, padding=1)
    assert len(names) >= 2 and all(n.startswith("tconv") for n in names)
    assert _threads.blas().get() == before
    names.clear()
    with tconv.num_threads(1):
        F.conv_transpose2d(x, w, stride=2, padding=1)
    assert names and not any(n.startswith("tconv") for n in names)


@needs_blas
def test_an_error_in_a_worker_is_raised_and_the_blas_count_restored() -> None:
    before = _threads.blas().get()
    seen: list[int] = []

    def body(i: int) -> int:
        seen.append(_threads.blas().get())
        if i == 1:
            raise RuntimeError("chunk 1 failed")
        return i

    with pytest.raises(RuntimeError, match="chunk 1 failed"):
        _threads.map_chunks(body, [0, 1, 2, 3], 2)
    assert sorted(seen) == [1, 1, 1, 1]  # every chunk ran, each with a one-thread BLAS
    assert _threads.blas().get() == before
    assert _threads.map_chunks(lambda i: i * i, [1, 2, 3], 2) == [1, 4, 9]


@needs_blas
def test_calls_from_several_user_threads_agree_and_restore_the_blas() -> None:
    before = _threads.blas().get()
    rng = np.random.default_rng(5)
    x = rng.standard_normal((8, 16, 24, 24))
    w = rng.standard_normal((16, 16, 3, 3))
    with tconv.num_threads(1):
        ref = F.conv2d(x, w, padding=1)
    out: list[np.ndarray] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            with tconv.num_threads(2):
                for _ in range(3):
                    out.append(F.conv2d(x, w, padding=1))
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    users = [threading.Thread(target=call) for _ in range(3)]
    for t in users:
        t.start()
    for t in users:
        t.join()
    assert not errors
    assert len(out) == 9 and all(rel_err(o, ref) <= 1e-12 for o in out)
    assert _threads.blas().get() == before


def test_accumulators_sum_what_every_thread_added() -> None:
    accs = _threads.Accumulators((3,), np.float64)

    def body(i: int) -> None:
        accs.get()[:] += i

    _threads.map_chunks(body, list(range(10)), 2)
    np.testing.assert_array_equal(accs.total(), np.full(3, 45.0))
    assert _threads.Accumulators((2,), np.float32).total().tolist() == [0.0, 0.0]


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("total", [1, 2, 5, 16, 64])
@pytest.mark.parametrize("per_item", [1, 2**16, 2**20, 2**24])
def test_chunks_cover_the_range_in_balanced_rounds(workers, total, per_item) -> None:
    chunks = _chunks(total, per_item, 4, workers=workers)
    covered = [i for c in chunks for i in range(c.start, c.stop)]
    assert covered == list(range(total))
    sizes = [c.stop - c.start for c in chunks]
    assert len(set(sizes[:-1])) <= 1 and sizes[-1] <= sizes[0]  # equal, but for the last
    if workers > 1 and total >= workers:
        assert len(chunks) >= workers  # nobody idles


def test_workers_respect_size_budget_and_nesting(monkeypatch) -> None:
    monkeypatch.setattr(_blas, "_blas", _blas.blas() or object())
    monkeypatch.setattr(_blas, "_blas_searched", True)
    with tconv.num_threads(2):
        assert _threads.workers(1.0) == 1  # too small to pay
        assert _threads.workers(2**30) == 2
    with tconv.num_threads(64):
        assert _threads.workers(3 * _threads._MIN_WORK) == 3  # a share of work each
        assert _threads.workers(2**40) == 64
    with tconv.num_threads(2):
        with tconv.memory_budget(2**20):
            assert _threads.workers(2**30, 2**20) == 1  # one worker's share fills the budget
            assert _threads.workers(2**30, 2**19) == 2
        assert _threads.map_chunks(lambda _: _threads.workers(2**30), [0, 1], 1) == [2, 2]


@needs_blas
def test_workers_do_not_nest() -> None:
    with tconv.num_threads(2):
        assert _threads.map_chunks(lambda _: _threads.workers(2**30), [0, 1], 2) == [1, 1]


def test_without_a_controllable_blas_the_kernels_stay_serial(monkeypatch) -> None:
    monkeypatch.setattr(_blas, "_blas", None)
    monkeypatch.setattr(_blas, "_blas_searched", True)
    assert tconv.get_num_threads() == 1
    with tconv.num_threads(4):
        assert tconv.get_num_threads() == 1
        assert _threads.workers(2**40) == 1
        x = np.ones((4, 8, 16, 16))
        w = np.ones((8, 4, 4, 4))
        assert F.conv_transpose2d(x, w, stride=2, padding=1).shape == (4, 4, 32, 32)


def test_set_num_threads_validates_and_the_context_restores() -> None:
    before = tconv.get_num_threads()
    for bad in (0, -1, 1.5, "2", True):
        with pytest.raises(ValueError, match="int >= 1"):
            tconv.set_num_threads(bad)  # type: ignore[arg-type]
    with tconv.num_threads(1):
        assert tconv.get_num_threads() == 1
    assert tconv.get_num_threads() == before


@pytest.mark.parametrize(("value", "want"), [("1", 1), ("", None), ("zero", None), ("-3", None)])
def test_tconv_num_threads_from_the_environment(value, want) -> None:
    env = dict(os.environ, TCONV_NUM_THREADS=value)
    code = "import tconv.kernels.settings as c; print(c._num_threads)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == str(want)


@pytest.mark.parametrize(
    ("n", "c", "workers"), [(1, 5, 2), (3, 4, 2), (1, 1, 2), (2, 3, 3), (5, 2, 1)]
)
def test_plane_runs_cover_every_plane_with_its_channels(n, c, workers) -> None:
    from tconv.kernels._jit import _plane_chunks

    runs = _plane_chunks(n, c, workers)
    planes = [m for ps, _ in runs for m in range(ps.start, ps.stop)]
    assert planes == list(range(n * c))
    for ps, cs in runs:  # the run's i-th plane is channel cs.start + i % (channels in run)
        k = cs.stop - cs.start
        assert [m % c for m in range(ps.start, ps.stop)] == [
            cs.start + i % k for i in range(ps.stop - ps.start)
        ]
    assert len(runs) >= min(workers, n * c) or workers == 1


@pytest.mark.parametrize(
    ("ashape", "bshape"),
    [
        ((300, 70), (70, 50)),
        ((4, 5, 64), (64, 33)),
        ((1, 9), (9, 4)),
        ((64,), (64, 3)),
        ((2, 3, 4), (2, 4, 5)),
    ],
)
def test_matmul_split_over_rows_equals_numpy(ashape, bshape, threads) -> None:
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(ashape), rng.standard_normal(bshape)
    got = _threads.matmul(a, b)
    assert got.shape == np.matmul(a, b).shape
    assert rel_err(got, np.matmul(a, b)) <= 1e-13
    bt = np.asfortranarray(b.T).T if b.ndim == 2 else b  # a transposed view, as for ``x @ w.T``
    assert rel_err(_threads.matmul(a.astype(np.float32), bt.astype(np.float32)), a @ b) <= 1e-5


@needs_blas
@pytest.mark.parametrize(
    "kw",
    [
        dict(scale_factor=2, mode="bilinear"),
        dict(scale_factor=2, mode="nearest"),
        dict(scale_factor=3, mode="bicubic", align_corners=True),
        dict(size=(7, 5), mode="area"),
        dict(scale_factor=0.5, mode="bilinear", antialias=True),
        dict(size=(300, 9), mode="bilinear"),  # a long axis: gathers, not a GEMM
    ],
)
def test_interpolate_on_workers_gives_the_serial_results(kw, monkeypatch) -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 5, 40, 18))
    monkeypatch.setattr(_threads, "_MIN_WORK", 0)

    def run() -> tuple[np.ndarray, np.ndarray]:
        t = tconv.tensor(x, requires_grad=True)
        y = F.interpolate(t, **kw)
        y.backward(np.sin(np.arange(y.data.size)).reshape(y.shape))
        return y.data, t.grad

    with tconv.num_threads(1):
        ref = run()
    with tconv.num_threads(2):
        got = run()
    for r, g in zip(ref, got, strict=True):
        assert rel_err(g, r) <= 1e-13


@needs_blas
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_gets_its_own_workers() -> None:
    """The pool's threads do not survive a fork: the child makes its own (an
    inherited pool would take the tasks and never run them)."""
    import multiprocessing

    x = np.random.default_rng(0).standard_normal((8, 32, 16, 16))
    w = np.random.default_rng(1).standard_normal((32, 16, 4, 4))
    with tconv.num_threads(2):
        ref = F.conv_transpose2d(x, w, stride=2, padding=1)  # the parent's pool exists now
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        got = pool.apply_async(_child_conv, (x, w)).get(timeout=60)
    assert rel_err(got, ref) <= 1e-12


def _child_conv(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    with tconv.num_threads(2):
        return F.conv_transpose2d(x, w, stride=2, padding=1)
