"""One style for every figure: Okabe-Ito colours (colour-blind safe), cells
drawn as labelled squares, and saving to PNG and SVG.

matplotlib is imported lazily (the ``plot`` extra); nothing here runs at
``import tconv``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Okabe & Ito (2008), safe for the common colour-vision deficiencies.
INPUT = "#56B4E9"  # sky blue: input samples
KERNEL = "#E69F00"  # orange: kernel taps
OUTPUT = "#009E73"  # bluish green: outputs
ACCENT = "#D55E00"  # vermillion: what to look at (ignored, cropped, artifacts)
DARK = "#0072B2"  # blue
PURPLE = "#CC79A7"
ZERO = "#FFFFFF"  # padding and inserted zeros
GREY = "#BBBBBB"
TEXT = "#222222"
CMAP = "cividis"  # perceptually uniform and colour-blind safe


def pyplot() -> Any:
    """Import matplotlib.pyplot with a non-interactive backend, or explain the extra."""
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError('tconv.figures needs matplotlib: pip install -e ".[plot]"') from exc
    if matplotlib.get_backend().lower() not in ("agg", "svg", "pdf", "cairo"):
        try:
            matplotlib.use("Agg")
        except Exception:
            pass
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "font.size": 10,
            "axes.titlesize": 11,
            "figure.dpi": 100,
            "savefig.dpi": 130,
            "savefig.bbox": "tight",
            "svg.fonttype": "none",
        }
    )
    return plt


def new_figure(
    width: float, height: float, nrows: int = 1, ncols: int = 1, **kw: Any
) -> tuple[Figure, Any]:
    plt = pyplot()
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, height), squeeze=False, **kw)
    return fig, axes


def cell_axes(ax: Axes) -> None:
    """An axis for drawing rows of cells: equal aspect, no frame, y pointing down."""
    ax.set_aspect("equal")
    ax.axis("off")
    ax.invert_yaxis()


def fmt(v: float) -> str:
    """A number as short as it can be: 3, -1.5, 0.25."""
    v = float(v)
    if abs(v - round(v)) < 1e-9:
        return str(round(v))
    return f"{v:.2f}".rstrip("0")


def draw_cells(
    ax: Axes,
    values: Sequence[float] | np.ndarray,
    row: float,
    x0: float = 0.0,
    *,
    color: str = INPUT,
    gid: str | None = None,
    labels: Sequence[str] | None = None,
    faded: Iterable[int] = (),
    hatched: Iterable[int] = (),
    zero_color: str | None = None,
    step: float = 1.0,
    fontsize: float = 9,
) -> None:
    """Draw ``values`` as a row of labelled unit squares at height ``row``.

    Cell ``i`` sits at ``x0 + i * step``. Each label's text has gid
    ``f"{gid}:{i}"`` so that tests can read back what was drawn.
    """
    from matplotlib.patches import Rectangle

    faded, hatched = set(faded), set(hatched)
    for i, v in enumerate(np.ravel(values)):
        face = zero_color if (zero_color is not None and v == 0) else color
        alpha = 0.25 if i in faded else 1.0
        ax.add_patch(
            Rectangle(
                (x0 + i * step, row),
                1,
                1,
                facecolor=face,
                edgecolor=TEXT,
                linewidth=0.8,
                alpha=alpha,
                hatch="///" if i in hatched else None,
            )
        )
        t = ax.text(
            x0 + i * step + 0.5,
            row + 0.5,
            labels[i] if labels is not None else fmt(v),
            ha="center",
            va="center",
            fontsize=fontsize,
            color=TEXT,
            alpha=max(alpha, 0.5),
        )
        if gid is not None:
            t.set_gid(f"{gid}:{i}")


def row_label(ax: Axes, row: float, text: str, x: float = -0.4) -> None:
    ax.text(x, row + 0.5, text, ha="right", va="center", fontsize=10, color=TEXT)


def texts_by_gid(fig_or_ax: Any, prefix: str) -> list[str]:
    """The labels drawn for the cells of row ``prefix``, in order (for tests)."""
    found = {}
    axes = fig_or_ax.axes if hasattr(fig_or_ax, "get_axes") else [fig_or_ax]
    for ax in axes:
        for t in ax.texts:
            gid = t.get_gid()
            if gid and gid.rsplit(":", 1)[0] == prefix:
                found[int(gid.rsplit(":", 1)[1])] = t.get_text()
    return [found[i] for i in sorted(found)]


def save(fig: Figure, stem: str | Path, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Write ``fig`` as ``stem.png`` and ``stem.svg``; return the paths."""
    plt = pyplot()
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in formats:
        path = stem.with_suffix(f".{ext}")
        fig.savefig(path)
        paths.append(path)
    plt.close(fig)
    return paths
