"""Animations (GIF) of convolutions and transposed convolutions, 1-D and 2-D,
frame by frame, in the spirit of Dumoulin & Visin's conv_arithmetic.

The frames are computed first, as arrays (``*_frames`` functions, pure
NumPy + tconv), then drawn: a convolution fills its output one window at a
time; a transposed convolution adds one scaled kernel per input sample, and the
partial sums grow until ``padding`` crops them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import functional as F
from ... import shapes
from . import _style as st

if TYPE_CHECKING:
    from matplotlib.axes import Axes


@dataclass
class Frame:
    """What one frame shows: the active input cells, the output cells written,
    and the output so far (NaN where nothing has been written yet)."""

    inputs: list[tuple[int, ...]]  # input (padded, for convs) positions lit up
    outputs: list[tuple[int, ...]]  # output positions lit up
    partial: np.ndarray  # the output so far


def _taps(
    index: tuple[int, ...],
    kernel_shape: tuple[int, ...],
    stride: Sequence[int],
    dilation: Sequence[int],
) -> list[tuple[int, ...]]:
    """Where the kernel's taps fall for ``index``: ``index s + tap d`` per dim, the
    window a conv output reads (padded input) or the cells a transposed conv's
    input sample writes (full output)."""
    return [
        tuple(i * s + t * d for i, s, t, d in zip(index, stride, tap, dilation))
        for tap in itertools.product(*(range(k) for k in kernel_shape))
    ]


def conv_frames(
    x: np.ndarray,
    kernel: np.ndarray,
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
) -> list[Frame]:
    """One frame per output position of a convolution (N-d, one channel)."""
    op = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[x.ndim]
    y = np.asarray(
        op(x[None, None], kernel[None, None], None, tuple(stride), tuple(padding), tuple(dilation))
    )[0, 0]
    partial = np.full(y.shape, np.nan)
    frames = []
    for o in itertools.product(*(range(n) for n in y.shape)):
        partial[o] = y[o]
        frames.append(Frame(_taps(o, kernel.shape, stride, dilation), [o], partial.copy()))
    return frames


def conv_transpose_frames(
    x: np.ndarray,
    kernel: np.ndarray,
    stride: Sequence[int],
    padding: Sequence[int],
    dilation: Sequence[int],
) -> list[Frame]:
    """One frame per input sample of a transposed convolution (N-d, one channel),
    then a last frame that applies the crop of ``padding``. Frames index the
    uncropped ("full") output; the partial sums are computed by tconv on the
    input with only the samples seen so far."""
    op = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[x.ndim]
    seen = np.zeros_like(x)
    frames = []
    for i in itertools.product(*(range(n) for n in x.shape)):
        seen[i] = x[i]
        full = np.asarray(
            op(seen[None, None], kernel[None, None], None, tuple(stride), 0, 0, 1, tuple(dilation))
        )[0, 0]
        frames.append(Frame([i], _taps(i, kernel.shape, stride, dilation), full))
    final = frames[-1].partial
    crop = tuple(slice(p, n - p) for p, n in zip(padding, final.shape))
    kept = [
        o
        for o in itertools.product(*(range(n) for n in final.shape))
        if all(p <= oi < n - p for oi, p, n in zip(o, padding, final.shape))
    ]
    cropped = np.full(final.shape, np.nan)
    cropped[crop] = final[crop]
    frames.append(Frame([], kept, cropped))
    return frames


def _grid(
    ax: Axes,
    shape: tuple[int, int],
    values: np.ndarray | None,
    lit: set,
    color: str,
    origin: tuple[float, float],
    base: str = "#F4F4F4",
    pad: int = 0,
) -> None:
    from matplotlib.patches import Rectangle

    x0, y0 = origin
    for i in range(shape[0]):
        for j in range(shape[1]):
            in_pad = pad and not (pad <= i < shape[0] - pad and pad <= j < shape[1] - pad)
            face = color if (i, j) in lit else (st.ZERO if in_pad else base)
            ax.add_patch(
                Rectangle(
                    (x0 + j, y0 + i),
                    1,
                    1,
                    facecolor=face,
                    edgecolor=st.GREY,
                    linewidth=0.8,
                    linestyle="--" if in_pad else "-",
                )
            )
            if values is not None and not np.isnan(values[i, j]):
                ax.text(
                    x0 + j + 0.5,
                    y0 + i + 0.5,
                    st.fmt(values[i, j]),
                    ha="center",
                    va="center",
                    fontsize=9,
                    color=st.TEXT,
                )


def _as2d(a: np.ndarray) -> np.ndarray:
    return a[None, :] if a.ndim == 1 else a


def _lift(ps: list[tuple[int, ...]], nd: int) -> set:
    return {(0, p[0]) if nd == 1 else (p[0], p[1]) for p in ps}


def _write_gif(
    draw: Callable[[Any, int], None],
    n_frames: int,
    size: tuple[float, float],
    path: Path,
    fps: float,
) -> Path:
    plt = st.pyplot()
    from matplotlib.animation import FuncAnimation, PillowWriter

    fig, ax = plt.subplots(figsize=size)

    def update(k: int) -> list[Any]:
        ax.clear()
        draw(ax, k)
        return []

    anim = FuncAnimation(fig, update, frames=n_frames, blit=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    anim.save(str(path), writer=PillowWriter(fps=fps), dpi=100)  # type: ignore[arg-type]
    plt.close(fig)
    return path


def animate_conv(
    path: str | Path,
    size: Sequence[int] = (5, 5),
    kernel_size: int = 3,
    stride: int = 1,
    padding: int = 1,
    dilation: int = 1,
    fps: float = 2.0,
) -> Path:
    """GIF of a 1-D (``size`` of length 1) or 2-D convolution: the window slides
    over the padded input (blue) and fills the output (green)."""
    nd = len(size)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, tuple(size)).astype(float)
    k = np.ones((kernel_size,) * nd)
    s, p, d = (stride,) * nd, (padding,) * nd, (dilation,) * nd
    frames = conv_frames(x, k, s, p, d)
    xp = _as2d(np.pad(x, padding))
    out_shape = _as2d(frames[-1].partial).shape

    def draw(ax: Any, n: int) -> None:
        fr = frames[n]
        _grid(ax, xp.shape, xp, _lift(fr.inputs, nd), st.KERNEL, (0, 0), pad=padding)
        gap = xp.shape[1] + 1.5
        _grid(ax, out_shape, _as2d(fr.partial), _lift(fr.outputs, nd), st.OUTPUT, (gap, 0))
        ax.set_xlim(-0.5, gap + out_shape[1] + 0.5)
        ax.set_ylim(max(xp.shape[0], out_shape[0]) + 0.5, -1.2)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(
            f"convolution k={kernel_size} s={stride} p={padding} d={dilation}: "
            f"output {n + 1}/{len(frames)}",
            fontsize=9,
        )

    width = 0.5 * (xp.shape[1] + out_shape[1] + 3)
    return _write_gif(
        draw, len(frames), (max(width, 3.5), 0.55 * xp.shape[0] + 1.4), Path(path), fps
    )


def animate_conv_transpose(
    path: str | Path,
    size: Sequence[int] = (3, 3),
    kernel_size: int = 3,
    stride: int = 2,
    padding: int = 1,
    dilation: int = 1,
    fps: float = 1.5,
) -> Path:
    """GIF of a 1-D or 2-D transposed convolution: each input sample (blue) adds a
    scaled kernel to the output (orange footprint); the last frame crops
    ``padding`` from the sum."""
    nd = len(size)
    rng = np.random.default_rng(0)
    x = rng.integers(1, 4, tuple(size)).astype(float)
    k = np.ones((kernel_size,) * nd)
    s, p, d = (stride,) * nd, (padding,) * nd, (dilation,) * nd
    frames = conv_transpose_frames(x, k, s, p, d)
    full_shape = _as2d(frames[-1].partial).shape
    xs = _as2d(x)
    n_out = shapes.conv_transpose_output_size(
        tuple(size), kernel_size, stride, padding, 0, dilation
    )

    def draw(ax: Any, n: int) -> None:
        fr = frames[n]
        _grid(ax, xs.shape, xs, _lift(fr.inputs, nd), st.INPUT, (0, 0))
        gap = xs.shape[1] + 1.5
        last = n == len(frames) - 1
        _grid(
            ax,
            full_shape,
            _as2d(fr.partial),
            _lift(fr.outputs, nd),
            st.OUTPUT if last else st.KERNEL,
            (gap, 0),
        )
        ax.set_xlim(-0.5, gap + full_shape[1] + 0.5)
        ax.set_ylim(max(xs.shape[0], full_shape[0]) + 0.5, -1.2)
        ax.set_aspect("equal")
        ax.axis("off")
        what = (
            f"crop padding={padding} -> output {n_out}"
            if last
            else f"input {n + 1}/{len(frames) - 1} adds a scaled kernel"
        )
        ax.set_title(f"transposed conv k={kernel_size} s={stride} d={dilation}: {what}", fontsize=9)

    width = 0.5 * (xs.shape[1] + full_shape[1] + 3)
    return _write_gif(
        draw, len(frames), (max(width, 3.5), 0.55 * full_shape[0] + 1.4), Path(path), fps
    )
