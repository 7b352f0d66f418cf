"""tconv called from many Python threads at once, while another thread changes
the thread count: every result equals the serial one, no call fails, the
BLAS's thread count comes back, and nested or forked use does not hang."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

import tconv
import tconv.functional as F
from helpers import rel_err
from tconv.kernels import _blas, _threads

needs_blas = pytest.mark.skipif(
    _threads.blas() is None, reason="the BLAS's threads cannot be controlled here"
)

Case = Callable[[], tuple[np.ndarray, ...]]


def _grads(op: Callable[..., tconv.Tensor], x: np.ndarray, w: np.ndarray, **kw) -> Case:
    """Forward output and the input and weight gradients through the Tensor API."""

    def run() -> tuple[np.ndarray, ...]:
        X, W = tconv.tensor(x, requires_grad=True), tconv.tensor(w, requires_grad=True)
        y = op(X, W, **kw)
        y.backward(np.cos(np.arange(y.data.size, dtype=x.dtype)).reshape(y.shape))
        return y.data, X.grad, W.grad

    return run


def _cases() -> list[Case]:
    rng = np.random.default_rng(7)

    def r(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape)

    x4, x6, x16 = r(4, 8, 12, 12), r(6, 8, 12, 12), r(16, 8, 12, 12)
    w = r(8, 8, 3, 3)
    wt, xt = r(8, 4, 4, 4), r(6, 8, 6, 6)
    img = r(5, 3, 20, 14)
    x3, w3 = r(3, 4, 6, 6, 6), r(4, 4, 3, 3, 3)
    x1, w1, xt1, wt1, wd = r(6, 4, 200), r(8, 4, 5), r(4, 4, 50), r(4, 8, 6), r(8, 1, 3, 3)
    # k4 s2 with 16 channels: the polyphase Winograd paths where numba is installed
    xk, wk, xc = r(8, 16, 16, 16), r(16, 16, 4, 4), r(8, 16, 32, 32)
    xk3, wk3 = r(1, 16, 8, 16, 16), r(16, 16, 4, 4, 4)  # 3-d: by depth slices
    xe, we = r(8, 16, 16, 16), r(16, 8, 2, 2)  # kernel = stride: exact_cover_jit with numba
    return [
        lambda: (F.conv2d(x4, w, padding=1),),
        lambda: (F.conv2d(x6, w, stride=2, padding=1),),
        lambda: (F.conv2d(x16, w, padding=1),),
        lambda: (F.conv_transpose2d(xt, wt, stride=2, padding=1),),
        lambda: (F.conv1d(x1, w1, stride=3),),
        lambda: (F.conv_transpose1d(xt1, wt1, stride=4, padding=1),),
        lambda: (F.conv2d(x6, wd, padding=1, groups=8),),  # depthwise
        _grads(F.conv2d, x6, w, stride=2, padding=1),
        _grads(F.conv_transpose2d, xt, wt, stride=2, padding=1),
        _grads(F.conv3d, x3, w3, padding=1),
        _grads(F.conv_transpose2d, xk, wk, stride=2, padding=1),
        _grads(F.conv2d, xc, wk, stride=2, padding=1),
        _grads(F.conv_transpose3d, xk3, wk3, stride=2, padding=1),
        _grads(F.conv_transpose2d, xe, we, stride=2),
        lambda: (F.interpolate(img, scale_factor=2, mode="bilinear"),),
        lambda: (F.interpolate(img, size=(7, 5), mode="area"),),
        lambda: (F.interpolate(img, scale_factor=3, mode="bicubic", align_corners=True),),
    ]


@needs_blas
def test_many_threads_and_changing_thread_counts_give_the_serial_results(monkeypatch) -> None:
    monkeypatch.setattr(_threads, "_MIN_WORK", 0)  # split even these small calls
    cases = _cases()
    before = _threads.blas().get()
    with tconv.num_threads(1):
        ref = [case() for case in cases]
    errors: list[BaseException] = []
    wrong: list[int] = []
    stop = threading.Event()
    deadline = time.perf_counter() + 8.0

    def user(seed: int) -> None:
        order = np.random.default_rng(seed)
        try:
            while time.perf_counter() < deadline and not stop.is_set():
                i = int(order.integers(len(cases)))
                got = cases[i]()
                if any(rel_err(g, r) > 1e-12 for g, r in zip(got, ref[i], strict=True)):
                    wrong.append(i)
        except BaseException as err:
            errors.append(err)
            stop.set()

    def changer() -> None:
        counts = np.random.default_rng(99)
        while time.perf_counter() < deadline and not stop.is_set():
            n = int(counts.integers(1, 7))
            if counts.integers(2):
                tconv.set_num_threads(n)
            else:
                with tconv.num_threads(n):
                    time.sleep(0.001)
            time.sleep(0.0005)

    threads = [threading.Thread(target=user, args=(s,)) for s in range(6)]
    threads.append(threading.Thread(target=changer))
    with tconv.num_threads(4):  # restored after the test, as set_num_threads is global
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=25)
    assert not any(t.is_alive() for t in threads), "a call hung"
    assert not errors, errors[:3]
    assert not wrong, sorted(set(wrong))
    assert _threads.blas().get() == before


@needs_blas
def test_the_pool_is_never_shut_down_under_a_running_call() -> None:
    """A larger count grows the pool; a call on the old one still completes."""
    started, release = threading.Event(), threading.Event()
    out: list[list[int]] = []

    def body(i: int) -> int:
        started.set()
        release.wait(5)
        return i

    t = threading.Thread(target=lambda: out.append(_threads.map_chunks(body, [0, 1, 2, 3], 2)))
    t.start()
    assert started.wait(5)
    bigger = _threads._pool_size + 3
    assert _threads.map_chunks(lambda i: i + 1, list(range(bigger)), bigger) == list(
        range(1, bigger + 1)
    )
    release.set()
    t.join(5)
    assert out == [[0, 1, 2, 3]]


@needs_blas
def test_nested_calls_run_serially_and_do_not_deadlock() -> None:
    """A chunk that calls map_chunks with many workers runs its items itself,
    even when every pool thread is busy with such chunks."""
    n = max(2, _threads._pool_size)

    def inner(i: int) -> int:
        return sum(_threads.map_chunks(lambda j: i * j, list(range(5)), n))

    result: list[list[int]] = []
    t = threading.Thread(
        target=lambda: result.append(_threads.map_chunks(inner, list(range(3 * n)), n))
    )
    t.start()
    t.join(20)
    assert not t.is_alive()
    assert result == [[10 * i for i in range(3 * n)]]


@needs_blas
def test_overlapping_blas_limits_restore_the_count_once() -> None:
    """The BLAS stays on one thread while any parallel call runs and comes back
    to its count after the last; the default thread count reads the saved count."""
    b = _threads.blas()
    before = b.get()
    inside, release = threading.Barrier(5), threading.Event()
    seen: list[int] = []

    def hold() -> None:
        with _blas.one_blas_thread(b):
            inside.wait(5)
            release.wait(5)
            seen.append(b.get())

    users = [threading.Thread(target=hold) for _ in range(4)]
    for t in users:
        t.start()
    inside.wait(5)
    assert b.get() == 1
    assert _blas.default_workers() == max(1, min(_blas.cpu_count(), before))
    release.set()
    for t in users:
        t.join(5)
    assert seen == [1, 1, 1, 1]
    assert b.get() == before and _blas._limit_depth == 0
