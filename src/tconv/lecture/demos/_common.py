"""Helpers the demos share: BLAS threads, seeding, tables, JSON."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ... import nn


@contextlib.contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """Limit the BLAS thread pool to ``n`` threads inside the block (None: leave it).

    The demos' matrix products are tiny: on a shared machine, BLAS worker
    threads that spin between calls cost more than they save. Uses
    ``threadpoolctl`` (installed with scikit-learn, part of the ``demo``
    extra); without it the block runs unchanged.
    """
    if n is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - depends on the environment
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


def seed_everything(seed: int) -> np.random.Generator:
    """Seed tconv's initialisers and return a NumPy generator for batch order."""
    nn.init.manual_seed(seed)
    return np.random.default_rng(seed)


def n_params(module: nn.Module) -> int:
    """Number of trainable numbers in ``module``."""
    return sum(int(p.data.size) for p in module.parameters())


def fmt_number(v: Any, digits: int = 4) -> str:
    """A float with ``digits`` significant digits (plain, or scientific when tiny)."""
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return str(int(v))
    x = float(v)
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    if abs(x) < 10 ** -(digits - 1):
        return f"{x:.{digits - 2}e}"
    return f"{x:.{digits}g}" if abs(x) >= 1 else f"{x:.{digits}f}"


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (readable as plain text too); numbers right-aligned.

    >>> print(format_table(["name", "x"], [["a", 0.5], ["bb", 12]]))
    | name |      x |
    |------|-------:|
    | a    | 0.5000 |
    | bb   |     12 |
    """
    cells = [[c if isinstance(c, str) else fmt_number(c) for c in row] for row in rows]
    numeric = [
        all(not isinstance(row[i], str) for row in rows) if rows else False
        for i in range(len(header))
    ]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(header)]

    def line(items: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(
                s.rjust(w) if num else s.ljust(w) for s, w, num in zip(items, widths, numeric)
            )
            + " |"
        )

    rule = (
        "|"
        + "|".join("-" * (w + 1) + ":" if num else "-" * (w + 2) for w, num in zip(widths, numeric))
        + "|"
    )
    return "\n".join([line(header), rule, *(line(r) for r in cells)])


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as indented JSON (NumPy scalars and arrays converted)."""

    def default(o: Any) -> Any:
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, Path):
            return str(o)
        raise TypeError(f"write_json: cannot store {type(o).__name__}")

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=default) + "\n")
    return path
