"""Whether the optional numba accelerator imports. Imports nothing from tconv, so
that :mod:`.settings` can ask without loading the kernels of :mod:`._jit`."""

from __future__ import annotations

import functools
import importlib.util
import warnings


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
            f"tconv: numba is installed but does not import ({err!r}); "
            "using the NumPy kernels",
            RuntimeWarning,
            stacklevel=2,
        )
        return False
    return True
