"""A small progress bar for training loops: label, bar, epoch, loss, time left.

Written to stderr (so that stdout keeps only the results). On a terminal the
line is redrawn in place (at most every ``interval`` seconds); elsewhere (a
pipe, a log file, CI) a plain line is written each time a further tenth of the
work is done, and once at the end, so logs stay short.

>>> import io
>>> s = io.StringIO()
>>> bar = Progress(4, label="demo", stream=s)
>>> for step in range(4):
...     bar.update(epoch=1, epochs=1, loss=0.5)
>>> bar.close()
>>> "demo" in s.getvalue() and "100%" in s.getvalue()
True
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress", "format_seconds"]


def format_seconds(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) for a duration; ``?`` when unknown.

    >>> format_seconds(65.2), format_seconds(3725), format_seconds(float("nan"))
    ('1:05', '1:02:05', '?')
    """
    if not seconds == seconds or seconds < 0 or seconds == float("inf"):
        return "?"
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


class Progress:
    """Progress over ``total`` steps.

    ``update(n=1, epoch=, epochs=, loss=)`` advances by ``n`` steps and
    remembers the latest epoch and loss; ``close()`` draws the final state and
    ends the line. Time left is the elapsed time per step times the steps left.
    ``enabled=False`` makes every call a no-op (for ``--quiet``). Usable as a
    context manager.
    """

    def __init__(
        self,
        total: int,
        *,
        label: str = "",
        stream: TextIO | None = None,
        width: int = 24,
        interval: float = 0.1,
        enabled: bool = True,
    ) -> None:
        if isinstance(total, bool) or not isinstance(total, int) or total < 1:
            raise ValueError(f"Progress: total must be a positive int, got total={total!r}")
        self.total = total
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.interval = interval
        self.enabled = enabled
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty()) if callable(isatty) else False
        self.done = 0
        self.epoch: int | None = None
        self.epochs: int | None = None
        self.loss: float | None = None
        self.start = time.perf_counter()
        self._last_draw = -1.0
        self._last_tenth = 0
        self._closed = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def eta(self) -> float:
        """Seconds left, from the mean time per step so far (nan before the first step)."""
        if self.done == 0:
            return float("nan")
        return self.elapsed / self.done * (self.total - self.done)

    def line(self) -> str:
        """The current state as one line of text (without a newline)."""
        frac = min(1.0, self.done / self.total)
        filled = round(frac * self.width)
        parts = [f"{self.label:<16}" if self.label else ""]
        parts.append("[" + "#" * filled + "." * (self.width - filled) + "]")
        parts.append(f"{100 * frac:3.0f}%")
        if self.epoch is not None:
            parts.append(
                f"epoch {self.epoch}/{self.epochs}" if self.epochs else f"epoch {self.epoch}"
            )
        if self.loss is not None:
            parts.append(f"loss {self.loss:.5f}")
        if self.done >= self.total:
            parts.append(f"took {format_seconds(self.elapsed)}")
        else:
            parts.append(f"left {format_seconds(self.eta())}")
        return " ".join(p for p in parts if p)

    def update(
        self,
        n: int = 1,
        *,
        epoch: int | None = None,
        epochs: int | None = None,
        loss: float | None = None,
    ) -> None:
        """Advance by ``n`` steps and redraw when due."""
        self.done = min(self.total, self.done + n)
        if epoch is not None:
            self.epoch = epoch
        if epochs is not None:
            self.epochs = epochs
        if loss is not None:
            self.loss = float(loss)
        if not self.enabled:
            return
        if self.tty:
            now = self.elapsed
            if now - self._last_draw >= self.interval or self.done >= self.total:
                self._last_draw = now
                self.stream.write("\r" + self.line() + "\x1b[K")
                self.stream.flush()
        else:
            tenth = (10 * self.done) // self.total
            if tenth > self._last_tenth and self.done < self.total:
                self._last_tenth = tenth
                self.stream.write(self.line() + "\n")
                self.stream.flush()

    def close(self) -> None:
        """Draw the final state and end the line (once)."""
        if self._closed:
            return
        self._closed = True
        if not self.enabled:
            return
        prefix = "\r" if self.tty else ""
        suffix = "\x1b[K\n" if self.tty else "\n"
        self.stream.write(prefix + self.line() + suffix)
        self.stream.flush()
