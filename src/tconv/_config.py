"""Library-wide settings: the memory budget for temporary buffers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

_DEFAULT_BUDGET = 256 * 2**20
_budget = _DEFAULT_BUDGET


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
