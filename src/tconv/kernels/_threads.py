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

The BLAS is limited through its own C entry point (OpenBLAS in its plain,
``64_`` and ``scipy_`` builds, MKL or BLIS), found among the loaded libraries;
where none is found the kernels stay serial, as before. The number of workers
is :func:`tconv.get_num_threads` (by default the BLAS's own thread count,
capped by the CPUs this process may use).
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import math
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")
R = TypeVar("R")

# (library name part, getter, setter) per BLAS; OpenBLAS's symbols carry a
# prefix and/or suffix in the builds that NumPy's wheels bundle.
_OPENBLAS = [
    (f"{pre}openblas_get_num_threads{suf}", f"{pre}openblas_set_num_threads{suf}")
    for pre in ("scipy_", "")
    for suf in ("64_", "", "_64")
]
_APIS = [("openblas", g, s) for g, s in _OPENBLAS] + [
    ("mkl_rt", "MKL_Get_Max_Threads", "MKL_Set_Num_Threads"),
    ("blis", "bli_thread_get_num_threads", "bli_thread_set_num_threads"),
]


class _Blas:
    """Get/set the thread count of the BLAS that NumPy uses, through ctypes."""

    def __init__(self, get: Callable[[], int], set_: Callable[[int], None], name: str):
        self.get, self.set, self.name = get, set_, name


def _caller(fn: Any) -> Callable[..., Any]:
    """A Python function that calls the C function ``fn`` (for typing)."""

    def call(*args: int) -> Any:
        return fn(*args)

    return call


def _loaded_libraries() -> list[str]:
    """Paths of the shared libraries that might be NumPy's BLAS."""
    paths: list[str] = []
    with contextlib.suppress(OSError):  # Linux: what this process has mapped
        with open("/proc/self/maps", encoding="utf-8") as f:
            paths = [line.split()[-1] for line in f if "/" in line]
    # wheels bundle the BLAS next to the package (numpy.libs, numpy/.dylibs)
    root = os.path.dirname(os.path.dirname(np.__file__))
    for pattern in ("numpy.libs/*", "numpy/.dylibs/*", "numpy/core/../.libs/*"):
        paths += glob.glob(os.path.join(root, pattern))
    seen: dict[str, None] = {}
    for p in paths:
        name = os.path.basename(p).lower()
        if any(key in name for key, _, _ in _APIS) and p not in seen:
            seen[p] = None
    return list(seen)


def _find_blas() -> _Blas | None:
    """The first loaded BLAS whose thread count can be read and set, or None."""
    if sys.platform == "emscripten":
        return None
    for path in _loaded_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        name = os.path.basename(path).lower()
        for key, getter, setter in _APIS:
            if key not in name or not hasattr(lib, getter) or not hasattr(lib, setter):
                continue
            get_c, set_c = getattr(lib, getter), getattr(lib, setter)
            get_c.restype, get_c.argtypes = ctypes.c_int, []
            set_c.restype, set_c.argtypes = None, [ctypes.c_int]
            if get_c() < 1:
                continue
            return _Blas(_caller(get_c), _caller(set_c), key)
    return None


_blas: _Blas | None = None
_blas_searched = False
_lock = threading.Lock()
_limit_depth = 0  # nested / concurrent parallel calls share one limit
_saved_threads = 0
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_local = threading.local()  # .inside: this thread runs a chunk already


def _after_fork_in_child() -> None:
    """A forked child has none of the parent's threads: a fresh pool and lock,
    and the BLAS's count as it was if the fork came inside a parallel call."""
    global _lock, _pool, _pool_size, _limit_depth
    _lock = threading.Lock()
    _pool, _pool_size = None, 0
    if _limit_depth and _blas is not None:
        _blas.set(_saved_threads)
    _limit_depth = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def blas() -> _Blas | None:
    """NumPy's BLAS, if its thread count can be controlled (looked up once)."""
    global _blas, _blas_searched
    if not _blas_searched:
        with _lock:
            if not _blas_searched:
                _blas = _find_blas()
                _blas_searched = True
    return _blas


def cpu_count() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def default_workers() -> int:
    """Workers when the user set none: the BLAS's thread count (so that a BLAS
    limited by the user, say OPENBLAS_NUM_THREADS=1, keeps tconv serial too),
    capped by the CPUs; 1 (serial) when the BLAS cannot be limited."""
    b = blas()
    if b is None:
        return 1
    return max(1, min(cpu_count(), b.get() if _limit_depth == 0 else _saved_threads))


@contextlib.contextmanager
def _one_blas_thread(b: _Blas) -> Iterator[None]:
    """The BLAS on one thread for the block; the count before it restored by the
    last of overlapping blocks (calls from several user threads)."""
    global _limit_depth, _saved_threads
    with _lock:
        if _limit_depth == 0:
            _saved_threads = b.get()
            b.set(1)
        _limit_depth += 1
    try:
        yield
    finally:
        with _lock:
            _limit_depth -= 1
            if _limit_depth == 0:
                b.set(_saved_threads)


def _executor(n: int) -> ThreadPoolExecutor:
    """The shared pool, with ``n`` threads (made anew when the count changes)."""
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size != n:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="tconv")
            _pool_size = n
        return _pool


# Below this many multiply-adds (about a millisecond of work) a call stays serial:
# the hand-off to the workers costs tens of microseconds.
_MIN_WORK = 2**21


def workers(work: float, footprint: int = 0) -> int:
    """How many workers a call of ``work`` multiply-adds should use, when each
    needs at least ``footprint`` bytes of temporaries at a time: no more than
    the memory budget holds, nor than give each ``_MIN_WORK`` (on many cores a
    mid-sized call is not cut into slivers), and 1 (serial) when the call is
    small, when this thread is a worker already, or when the BLAS cannot be
    limited."""
    from .settings import get_memory_budget, get_num_threads

    if work < _MIN_WORK or getattr(_local, "inside", False) or blas() is None:
        return 1
    fit = get_memory_budget() // max(1, footprint)
    return max(1, min(get_num_threads(), fit, int(work // max(1, _MIN_WORK))))


def map_chunks(body: Callable[[T], R], items: Sequence[T], n_workers: int) -> list[R]:
    """``[body(item) for item in items]``: on this thread when ``n_workers`` is 1 or
    there is one item, else shared by ``n_workers`` threads with the BLAS on one
    thread each. All items have run when it returns or raises (the first error)."""
    b = blas()
    if n_workers <= 1 or len(items) <= 1 or b is None:
        return [body(item) for item in items]

    def task(item: T) -> R:
        _local.inside = True
        try:
            return body(item)
        finally:
            _local.inside = False

    with _one_blas_thread(b):
        pool = _executor(n_workers)
        futures = [pool.submit(task, item) for item in items]
        wait(futures)
    return [f.result() for f in futures]


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

    def total(self) -> np.ndarray:
        if not self._all:
            return np.zeros(self.shape, dtype=self.dtype)
        out = self._all[0]
        for other in self._all[1:]:
            out += other
        return out


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.matmul(a, b)`` for tconv's own products (linear layers, interpolation
    matrices), the large ones split over the workers by rows of ``a`` with the
    BLAS on one thread each, like the kernels. So the large layers of a network
    made of tconv's layers do not wake the BLAS's own threads, whose spinning for
    ~0.1 s after a threaded GEMM would slow the workers of the next layer 1.5-2x."""
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
