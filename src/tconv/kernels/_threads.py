"""Data-parallel kernels: worker threads over independent chunks, one BLAS thread each.

Why: on a few cores, NumPy runs the copies and adds of im2col/col2im on one
core while the other waits, and only the GEMMs use them all (through the BLAS's
own threads). Two Python threads that each run their share of the chunks —
copies, adds and GEMMs alike, with the BLAS limited to one thread — keep every
core busy: NumPy releases the GIL in its copy loops, ufuncs and matmul. Two
BLAS-threaded GEMMs at once do not help (the BLAS serialises them), and copies
on a second thread right after a GEMM lose to the BLAS threads that spin
waiting for the next one; so the BLAS goes down to one thread for the length of
the parallel call, and back after.

The BLAS is found and limited by :mod:`._blas`; where it cannot be limited
the kernels stay serial. The number of workers
is :func:`tconv.get_num_threads` (by default the BLAS's own thread count,
capped by the CPUs this process may use).
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from ._blas import blas, cpu_count, default_workers, one_blas_thread
from .settings import get_memory_budget, get_num_threads
from .tuning import MIN_WORK as _MIN_WORK  # a module global: tests lower it

__all__ = [
    "Accumulators",
    "blas",
    "cpu_count",
    "default_workers",
    "even_ranges",
    "map_chunks",
    "matmul",
    "serial_blas",
    "workers",
]

T = TypeVar("T")
R = TypeVar("R")

_lock = threading.Lock()
# ONE pool, grown to the largest count ever asked and never shut down: a call
# that started on it keeps it (a smaller count is a per-call limit, not a new
# pool), so changing the thread count, in any thread, never stops a running call.
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_local = threading.local()  # .inside: this thread runs a chunk already


def _after_fork_in_child() -> None:
    """A forked child has none of the parent's threads: a fresh pool and lock."""
    global _lock, _pool, _pool_size
    _lock = threading.Lock()
    _pool, _pool_size = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _executor(n: int) -> ThreadPoolExecutor:
    """The shared pool, with at least ``n`` threads.

    A larger ``n`` than ever before makes a larger pool; the old one is not shut
    down (calls running on it finish there), only dropped: once no call holds
    it, its idle threads exit.
    """
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < n:
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="tconv")
            _pool_size = n
        return _pool


def even_ranges(total: int, most: int, workers: int) -> list[tuple[int, int]]:
    """``range(total)`` as ranges ``(start, stop)`` of at most ``most`` items (at least
    1): with several workers, as many ranges for every worker (where ``total`` allows)
    and their lengths within one of each other, so that none waits at the end; with
    one, ranges of ``most`` and the rest.

    >>> even_ranges(64, 10, 2)[:3], len(even_ranges(64, 10, 2))
    ([(0, 8), (8, 16), (16, 24)], 8)
    """
    most = max(1, most)
    if workers == 1:
        return [(i, min(total, i + most)) for i in range(0, total, most)]
    count = min(total, workers * -(-total // (most * workers)))
    cuts = [i * total // count for i in range(count + 1)]
    return [(cuts[i], cuts[i + 1]) for i in range(count)]


def workers(work: float, footprint: int = 0) -> int:
    """How many workers a call of ``work`` multiply-adds should use, when each
    needs at least ``footprint`` bytes of temporaries at a time: no more than
    the memory budget holds, nor than give each ``_MIN_WORK`` (on many cores a
    mid-sized call is not cut into slivers), and 1 (serial) when the call is
    small, when this thread is a worker already, or when the BLAS cannot be
    limited."""
    if work < _MIN_WORK or getattr(_local, "inside", False) or blas() is None:
        return 1
    fit = get_memory_budget() // max(1, footprint)
    return max(1, min(get_num_threads(), fit, int(work // max(1, _MIN_WORK))))


@contextlib.contextmanager
def serial_blas() -> Iterator[None]:
    """The BLAS on one thread for the block, where it can be limited: for a product
    in the calling thread right before :func:`map_chunks` (threaded, it leaves the
    BLAS's threads spinning for ~0.1 s on the cores the workers start on)."""
    b = blas()
    if b is None:
        yield
        return
    with one_blas_thread(b):
        yield


def map_chunks(body: Callable[[T], R], items: Sequence[T], n_workers: int) -> list[R]:
    """``[body(item) for item in items]``: on this thread when ``n_workers`` is 1,
    there is one item, or this thread is a worker already (nested calls never
    wait on the pool); else shared by ``n_workers`` threads of the pool with the
    BLAS on one thread each. All items have run when it returns or raises (the
    first error, in the order of ``items``).

    Each call submits ``n_workers`` runners that take the next item until none
    is left, so the pool may be larger than the call's count and shared by calls
    from any number of user threads; the call waits for its items, not for its
    runners (one queued behind other calls' finds nothing left to do).
    """
    b = blas()
    if n_workers <= 1 or len(items) <= 1 or b is None or getattr(_local, "inside", False):
        return [body(item) for item in items]

    total = len(items)
    results: list[Any] = [None] * total
    errors: list[BaseException | None] = [None] * total
    claim, claiming = iter(range(total)), threading.Lock()
    done = threading.Semaphore(0)

    def runner() -> None:
        _local.inside = True
        try:
            while True:
                with claiming:
                    i = next(claim, total)
                if i == total:
                    return
                try:
                    results[i] = body(items[i])
                except BaseException as err:  # raised by the caller, in item order
                    errors[i] = err
                done.release()
        finally:
            _local.inside = False

    with one_blas_thread(b):
        pool = _executor(n_workers)
        for _ in range(min(n_workers, total)):
            pool.submit(runner)
        for _ in range(total):
            done.acquire()
    for err in errors:
        if err is not None:
            raise err
    return results


class Accumulators:
    """One zero-initialised array per thread that asks, for reductions over chunks
    that run on several workers (a weight gradient summed over the batch);
    :meth:`total` adds them up once at the end."""

    def __init__(self, shape: tuple[int, ...], dtype: Any) -> None:
        self.shape, self.dtype = shape, dtype
        self._local = threading.local()
        self._all: list[np.ndarray] = []

    def get(self) -> np.ndarray:
        acc: np.ndarray | None = getattr(self._local, "acc", None)
        if acc is None:
            acc = self._local.acc = np.zeros(self.shape, dtype=self.dtype)
            with _lock:
                self._all.append(acc)
        return acc

    def parts(self) -> list[np.ndarray]:
        """The threads' arrays (one of zeros if none asked)."""
        return self._all or [np.zeros(self.shape, dtype=self.dtype)]

    def total(self) -> np.ndarray:
        out, *others = self.parts()
        for other in others:
            out += other
        return out


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.matmul(a, b)`` for tconv's own products (linear layers, interpolation
    matrices), the large ones split over the workers by rows of ``a`` with the
    BLAS on one thread each, like the kernels. So the large layers of a network
    made of tconv's layers do not wake the BLAS's own threads, whose spinning for
    ~0.1 s after a threaded GEMM slows the workers of the next layer."""
    if a.ndim < 2 or b.ndim != 2:
        return np.matmul(a, b)
    m, k = math.prod(a.shape[:-1]), a.shape[-1]
    n_workers = workers(m * k * b.shape[1])
    if n_workers <= 1 or m < n_workers:
        return np.matmul(a, b)
    a2 = a.reshape(m, k)
    out = np.empty((m, b.shape[1]), dtype=np.result_type(a, b))
    step = -(-m // n_workers)
    rows = [slice(i, min(m, i + step)) for i in range(0, m, step)]
    map_chunks(lambda r: np.matmul(a2[r], b, out=out[r]), rows, n_workers)
    return out.reshape(*a.shape[:-1], b.shape[1])
