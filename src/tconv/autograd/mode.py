"""Grad mode: whether ops record onto the tape, per thread, as in PyTorch.

Each thread has its own mode. A new thread starts with grad enabled, whatever the
thread that started it is doing; ``with no_grad():`` in one thread does not stop
another thread from recording. :func:`~tconv.autograd.record` reads the calling
thread's mode.

>>> is_grad_enabled()
True
>>> with no_grad():
...     with enable_grad():
...         inner = is_grad_enabled()
...     outer = is_grad_enabled()
>>> inner, outer, is_grad_enabled()
(True, False, True)
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

__all__ = ["enable_grad", "is_grad_enabled", "no_grad", "set_grad_enabled"]

F = TypeVar("F", bound=Callable[..., Any])


class _ThreadState(threading.local):
    """This thread's grad mode and the modes its open ``with`` blocks will restore."""

    def __init__(self) -> None:  # runs once in each thread, on its first access
        self.enabled = True
        self.saved: list[bool] = []


_state = _ThreadState()


def is_grad_enabled() -> bool:
    """True unless the calling thread is inside :class:`no_grad` (or grad mode is off)."""
    return _state.enabled


class _GradMode:
    """Sets the calling thread's grad mode to ``_enabled`` for a block, then restores it.

    Usable as a context manager and, called on a function, as a decorator. The
    instance holds no state (the mode to restore is kept per thread), so one
    instance may be shared, nested and used from several threads.
    """

    _enabled: bool

    def __enter__(self) -> None:
        _state.saved.append(_state.enabled)
        _state.enabled = self._enabled

    def __exit__(self, *exc: object) -> None:
        _state.enabled = _state.saved.pop()

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return cast(F, wrapped)


class no_grad(_GradMode):
    """Turn recording off in this thread, as ``torch.no_grad``.

    >>> from tconv.autograd import tensor
    >>> x = tensor([1.0], requires_grad=True)
    >>> with no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    >>> @no_grad()
    ... def double(t):
    ...     return t * 2
    >>> double(x).requires_grad
    False
    """

    _enabled = False


class enable_grad(_GradMode):
    """Turn recording back on in this thread (inside :class:`no_grad`), as ``torch.enable_grad``."""

    _enabled = True


class set_grad_enabled:
    """Set this thread's grad mode to ``mode``, as ``torch.set_grad_enabled``.

    Called plainly it sets the mode and leaves it set; used as a context manager it
    restores the previous mode on exit; used as a decorator (``@set_grad_enabled(False)``)
    it changes nothing until the function runs.

    >>> _ = set_grad_enabled(False)
    >>> is_grad_enabled()
    False
    >>> with set_grad_enabled(True):
    ...     is_grad_enabled()
    True
    >>> is_grad_enabled()
    False
    >>> _ = set_grad_enabled(True)
    """

    def __init__(self, mode: bool) -> None:
        self._mode = bool(mode)
        self._prev = _state.enabled
        _state.enabled = self._mode

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        _state.enabled = self._prev

    def __call__(self, fn: F) -> F:
        _state.enabled = self._prev  # as a decorator: the mode applies inside fn only
        mode = self._mode

        @functools.wraps(fn)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return cast(F, wrapped)
