"""Whether the optional numba accelerator imports. Imports nothing from tconv, so
that :mod:`.settings` can ask without loading the kernels of :mod:`._jit`."""

from __future__ import annotations

import functools
import importlib.util
import threading
import warnings
from collections.abc import Callable
from typing import Any


def importable() -> bool:
    """Whether a numba is installed (found, not imported: importing it costs ~0.3 s)."""
    try:
        return importlib.util.find_spec("numba") is not None
    except ValueError:  # a stub module without a spec (tests hide numba this way)
        return False


@functools.cache
def available() -> bool:
    """Whether numba imports (once, on first ask): an installed numba that does not
    import (say, built for another NumPy) means NumPy kernels, not a crash."""
    if not importable():
        return False
    try:
        import numba  # noqa: F401
    except Exception as err:  # any failure to import: keep the NumPy kernels
        warnings.warn(
            f"tconv: numba is installed but does not import ({err!r}); using the NumPy kernels",
            RuntimeWarning,
            stacklevel=2,
        )
        return False
    return True


_compile_lock = threading.Lock()
_COMPILED: dict[Callable[..., Any], Any] = {}


def compiled(fn: Callable[..., Any], **options: Any) -> Any:
    """``fn`` compiled by numba on first use (or loaded from numba's on-disk cache),
    once per process however many threads ask: serial, bounds unchecked and without
    the GIL, so the kernels' worker threads run it side by side (``options`` are
    numba.njit's extra ones). numba must import (:func:`available`)."""
    with _compile_lock:
        if fn not in _COMPILED:
            import numba

            jit = numba.njit(cache=True, nogil=True, boundscheck=False, **options)
            _COMPILED[fn] = jit(fn)
    return _COMPILED[fn]
