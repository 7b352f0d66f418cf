"""Named fast paths, the first-match rule that picks one, and :func:`trace`.

Each kernel op (:mod:`.conv`) has one table of :class:`Path` entries read top to
bottom: the first whose ``when`` holds for the call's geometry runs, and never
refuses (each ``when`` includes the memory-budget feasibility of its path).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

C = TypeVar("C")  # the op's per-call geometry


@dataclass(frozen=True)
class Path(Generic[C]):
    """One fast path of a kernel op: ``name`` (``op.path``), the condition ``when``
    on the call's geometry, its one-line reason ``why``, and ``run``, which computes."""

    name: str
    when: Callable[[C], bool]
    why: str
    run: Callable[[C], Any]


def choose(table: Sequence[Path[C]], call: C) -> Path[C]:
    """The first path of ``table`` whose condition holds (the last one always does)."""
    for path in table:
        if path.when(call):
            return path
    raise AssertionError(f"no path of {table[0].name.split('.')[0]} takes this call")


_local = threading.local()  # .traces: the lists of the trace() blocks open on this thread


def run(table: Sequence[Path[C]], call: C) -> Any:
    """Run the path :func:`choose` picks, recording its name in the open traces.

    A call whose ``retry(result)`` says so (its operands' NaN or inf was checked on
    the result, see ``_Call.retry``) runs again through the table, and the traces
    record both paths, in order.
    """
    while True:
        path = choose(table, call)
        for names in getattr(_local, "traces", ()):
            names.append(path.name)
        result = path.run(call)
        retry = getattr(call, "retry", None)
        if retry is None or not retry(result):
            return result


@contextlib.contextmanager
def trace() -> Iterator[list[str]]:
    """Record the name of the path that every kernel call takes, on this thread.

    Yields a list that each kernel call made by this thread appends to, in call
    order (calls from other user threads are not mixed in; the kernels' worker
    threads run chunks of a call, never calls). A path that runs another kernel
    records both, outer first: ``conv_transpose.stride1_flipped`` is followed by
    the ``conv.*`` path of the convolution it runs. Nested ``trace()`` blocks
    each see every call made while they are open.

    >>> import numpy as np, tconv.functional as F
    >>> with trace() as names:
    ...     _ = F.conv_transpose2d(np.ones((1, 2, 4, 4)), np.ones((2, 3, 2, 2)), stride=2)
    >>> names
    ['conv_transpose.exact_cover']
    """
    names: list[str] = []
    stack = getattr(_local, "traces", None)
    if stack is None:
        stack = _local.traces = []
    stack.append(names)
    try:
        yield names
    finally:
        # by identity: an inner block's list may equal an outer one's
        del stack[next(i for i, s in enumerate(stack) if s is names)]
