"""Library-wide settings: the memory budget for temporary buffers, the optional JIT,
the kernels' threads, and whether the Winograd path may run."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from . import _blas, _numba

_DEFAULT_BUDGET = 256 * 2**20
_budget = _DEFAULT_BUDGET
# The numba kernels (``pip install tconv[fast]``) are used when numba imports;
# TCONV_JIT=0 in the environment, or set_jit(False), keeps the NumPy kernels.
_jit_enabled = os.environ.get("TCONV_JIT", "1").strip().lower() not in ("0", "false", "no", "off")


def get_memory_budget() -> int:
    """Bytes the ops may use for temporary buffers (im2col/col2im columns).

    >>> get_memory_budget() == 256 * 2**20
    True
    """
    return _budget


def set_memory_budget(nbytes: int) -> None:
    """Set the temporary-buffer budget in bytes (default 256 MiB).

    Larger inputs are processed in chunks (over the batch, then over kernel
    taps) so that no temporary exceeds the budget.
    """
    global _budget
    if not isinstance(nbytes, int) or nbytes <= 0:
        raise ValueError(f"memory budget must be a positive int of bytes, got {nbytes!r}")
    _budget = nbytes


@contextlib.contextmanager
def memory_budget(nbytes: int) -> Iterator[None]:
    """Context manager that sets the memory budget temporarily.

    >>> with memory_budget(2**20):
    ...     get_memory_budget()
    1048576
    """
    old = _budget
    set_memory_budget(nbytes)
    try:
        yield
    finally:
        set_memory_budget(old)


def jit_available() -> bool:
    """Whether the optional numba accelerator can be used (numba imports).

    >>> isinstance(jit_available(), bool)
    True
    """
    return _numba.available()


def get_jit() -> bool:
    """Whether the numba kernels are used: enabled (the default, unless the
    environment sets ``TCONV_JIT=0``) and available.

    >>> get_jit() == jit_available() or not _jit_enabled
    True
    """
    return _jit_enabled and jit_available()


def set_jit(enabled: bool) -> None:
    """Use the numba kernels where they exist (``True``, the default) or the
    NumPy kernels only (``False``). Results agree to rounding either way;
    without numba installed, ``True`` has no effect."""
    global _jit_enabled
    if not isinstance(enabled, bool):
        raise TypeError(f"set_jit takes a bool, got {enabled!r}")
    _jit_enabled = enabled


@contextlib.contextmanager
def jit(enabled: bool) -> Iterator[None]:
    """Context manager that turns the numba kernels on or off temporarily.

    >>> with jit(False):
    ...     get_jit()
    False
    """
    old = _jit_enabled
    set_jit(enabled)
    try:
        yield
    finally:
        set_jit(old)


# Winograd F(4x4, 3x3) for large stride-1 3x3 convolutions (conv.winograd(_jit)),
# and F(2x2, 2x2) for kernel-4 stride-2 (transposed) convolutions and their weight
# gradients (*.winograd_phases_jit; kernels/winograd.py): faster, a few bits less
# accurate. TCONV_WINOGRAD=0 in the environment, or set_winograd(False), keeps the
# exact GEMM paths.
_winograd_enabled = os.environ.get("TCONV_WINOGRAD", "1").strip().lower() not in (
    "0", "false", "no", "off",
)  # fmt: skip


def get_winograd() -> bool:
    """Whether large stride-1 3x3 convolutions (and the stride-1 3x3 transposed
    convolutions and input gradients that run them) may take the Winograd paths
    ``conv.winograd(_jit)``, whose error bound is ``tconv.kernels.winograd.ERROR``
    (relative to the largest output) instead of the GEMM's rounding, and kernel-4
    stride-2 (transposed) convolutions and their gradients the polyphase paths
    ``*.winograd_phases_jit`` (bound ``winograd.PHASES_ERROR``). On by default,
    unless the environment sets ``TCONV_WINOGRAD=0``.

    >>> isinstance(get_winograd(), bool)
    True
    """
    return _winograd_enabled


def set_winograd(enabled: bool) -> None:
    """Allow the Winograd path (``True``, the default) or keep the exact GEMM
    paths only (``False``)."""
    global _winograd_enabled
    if not isinstance(enabled, bool):
        raise TypeError(f"set_winograd takes a bool, got {enabled!r}; pass True or False")
    _winograd_enabled = enabled


@contextlib.contextmanager
def winograd(enabled: bool) -> Iterator[None]:
    """Context manager that allows or forbids the Winograd path temporarily.

    >>> with winograd(False):
    ...     get_winograd()
    False
    """
    old = _winograd_enabled
    set_winograd(enabled)
    try:
        yield
    finally:
        set_winograd(old)


# Worker threads of the kernels (see kernels/_threads.py); None: the default,
# the BLAS's own thread count. TCONV_NUM_THREADS in the environment sets it.
def _threads_from_env() -> int | None:
    raw = os.environ.get("TCONV_NUM_THREADS", "").strip()
    if not raw:
        return None
    try:
        n = int(raw)
    except ValueError:
        return None
    return n if n >= 1 else None


_num_threads: int | None = _threads_from_env()


def get_num_threads() -> int:
    """Threads the kernels split large calls over (chunks of the batch, the BLAS
    on one thread in each). By default NumPy's BLAS's thread count, capped by
    the CPUs this process may use; 1 where the BLAS's threads cannot be
    controlled (the kernels are serial then, the BLAS threaded as usual).

    >>> get_num_threads() >= 1
    True
    """
    if _num_threads is not None:
        return _num_threads if _blas.blas() is not None else 1
    return _blas.default_workers()


def set_num_threads(n: int) -> None:
    """Split large calls over ``n`` threads (``1``: serial, the BLAS threaded as
    usual). PyTorch's name; results agree to rounding for every ``n``."""
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads takes an int >= 1, got {n!r}")
    _num_threads = n


@contextlib.contextmanager
def num_threads(n: int) -> Iterator[None]:
    """Context manager that sets the number of kernel threads temporarily.

    >>> with num_threads(1):
    ...     get_num_threads()
    1
    """
    global _num_threads
    old = _num_threads
    set_num_threads(n)
    try:
        yield
    finally:
        _num_threads = old
