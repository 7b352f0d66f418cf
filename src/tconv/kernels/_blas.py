"""NumPy's BLAS: its thread count, found and set through its C entry point.

The BLAS is limited through its own C entry point (OpenBLAS in its plain,
``64_`` and ``scipy_`` builds, MKL or BLIS), found among the loaded libraries;
where none is found the kernels stay serial. This module imports nothing from
tconv, so that :mod:`.settings` and :mod:`._threads` can both use it.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

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


def _after_fork_in_child() -> None:
    """A forked child has none of the parent's threads: a fresh lock, and the
    BLAS's count as it was if the fork came inside a parallel call."""
    global _lock, _limit_depth
    _lock = threading.Lock()
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
    with _lock:  # not the one-thread limit that a parallel call in another thread set
        n = b.get() if _limit_depth == 0 else _saved_threads
    return max(1, min(cpu_count(), n))


@contextlib.contextmanager
def one_blas_thread(b: _Blas) -> Iterator[None]:
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
