"""The lecture's 1-D figures: convolution as inner products, transposed
convolution as a sum of translated kernels, stride, padding as a crop,
dilation, the direct-convolution view, and the composition of the two.

Every number drawn is computed by tconv (``tconv.functional``,
``tconv.shapes``); the figures only place them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Union, cast

import numpy as np

from ... import functional as F
from ... import shapes
from . import _style as st

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Values = Union[Sequence[float], np.ndarray]


def _conv1d(x: np.ndarray, k: np.ndarray, stride: int, padding: int, dilation: int) -> np.ndarray:
    return np.asarray(F.conv1d(x[None, None], k[None, None], None, stride, padding, dilation))[0, 0]


def _tconv1d(
    x: np.ndarray, k: np.ndarray, stride: int, padding: int, output_padding: int, dilation: int
) -> np.ndarray:
    y = F.conv_transpose1d(
        x[None, None], k[None, None], None, stride, padding, output_padding, 1, dilation
    )
    return np.asarray(y)[0, 0]


def _full_size(x: Values, kernel: Values, stride: int, output_padding: int, dilation: int) -> int:
    """Length of the transposed convolution's full support, before padding crops it."""
    size = shapes.conv_transpose_output_size(
        len(x), len(kernel), stride, 0, output_padding, dilation
    )
    return cast(int, size)


def draw_conv(
    ax: Axes,
    x: Values,
    kernel: Values,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    *,
    top: float = 0.0,
    max_rows: int = 8,
    flipped_label: bool = False,
) -> float:
    """Draw a convolution as a series of inner products; return the next free row.

    Row ``x``: the (padded) input; one row per output: the kernel under the
    window it reads; row ``y``: the outputs (gid ``"y"``).
    """
    xa, ka = np.asarray(x, float), np.asarray(kernel, float)
    y = _conv1d(xa, ka, stride, padding, dilation)
    xp = np.concatenate([np.zeros(padding), xa, np.zeros(padding)])
    pads = list(range(padding)) + list(range(padding + len(xa), len(xp)))
    st.row_label(ax, top, "x")
    st.draw_cells(ax, xp, top, color=st.INPUT, gid="x", faded=pads)
    row = top + 1.4
    shown = min(len(y), max_rows)
    for i in range(shown):
        start = i * stride
        for t, kv in enumerate(ka):
            st.draw_cells(ax, [kv], row, start + t * dilation, color=st.KERNEL, gid=f"k{i}.{t}")
        ax.text(
            start + (len(ka) - 1) * dilation + 1.3,
            row + 0.5,
            f"y{i + 1} = {st.fmt(y[i])}",
            va="center",
            fontsize=9,
            color=st.TEXT,
        )
        row += 1.15
    if shown < len(y):
        ax.text(0, row + 0.4, f"... {len(y) - shown} more windows", fontsize=9, color=st.TEXT)
        row += 1.0
    row += 0.3
    st.row_label(ax, row, "y")
    st.draw_cells(ax, y, row, color=st.OUTPUT, gid="y")
    ax.set_xlim(-1.5, max(len(xp), len(y)) + 4)
    return row + 1.6


def draw_conv_transpose(
    ax: Axes,
    x: Values,
    kernel: Values,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
    *,
    top: float = 0.0,
) -> float:
    """Draw a transposed convolution as a weighted sum of translated kernels.

    Row ``x``: the input; one row per input sample ``i``: ``x_i * kernel``
    placed at ``i * stride`` (taps ``dilation`` apart); row ``sum``: their sum
    over the full support (gid ``"full"``), the cells that ``padding`` crops
    faded; row ``y``: the output (gid ``"y"``). Returns the next free row.
    """
    xa, ka = np.asarray(x, float), np.asarray(kernel, float)
    y = _tconv1d(xa, ka, stride, padding, output_padding, dilation)
    full = _tconv1d(xa, ka, stride, 0, output_padding, dilation)  # before padding's crop
    n_full = len(full)
    st.row_label(ax, top, "x")
    st.draw_cells(ax, xa, top, color=st.INPUT, gid="x")
    row = top + 1.4
    for i, xv in enumerate(xa):
        for t, kv in enumerate(ka):
            st.draw_cells(
                ax,
                [xv * kv],
                row,
                i * stride + t * dilation,
                color=st.KERNEL,
                gid=f"c{i}.{t}",
                zero_color=st.ZERO,
            )
        st.row_label(ax, row, f"{st.fmt(xv)} × k")
        row += 1.15
    row += 0.3
    cropped = list(range(padding)) + list(range(n_full - padding, n_full))
    st.row_label(ax, row, "sum")
    st.draw_cells(ax, full, row, color=st.OUTPUT, gid="full", faded=cropped)
    if padding:
        for a, b in ((0, padding), (n_full - padding, n_full)):
            ax.plot([a + 0.05, b - 0.05], [row + 1.25] * 2, color=st.ACCENT, lw=2)
        ax.text(
            n_full + 0.3,
            row + 0.5,
            f"padding={padding} crops",
            va="center",
            color=st.ACCENT,
            fontsize=9,
        )
    row += 1.6
    st.row_label(ax, row, "y")
    st.draw_cells(ax, y, row, padding, color=st.OUTPUT, gid="y")
    ax.set_xlim(-2.5, n_full + 4)
    return row + 1.6


def _finish(fig: Figure, ax: Axes, rows: float, title: str) -> Figure:
    ax.set_ylim(rows, -1.2)
    ax.set_title(title, loc="left")
    st.cell_axes(ax)
    ax.set_ylim(rows, -1.2)
    ax.set_anchor("NW")  # panels of different heights line up at the top
    return fig


def conv_inner_products(
    x: Values = (1, 2, 0, -1, 3, 1, 2),
    kernel: Values = (1, 2, 3),
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
) -> Figure:
    """Convolution layer: each output is the inner product of the kernel with a window."""
    n_out = shapes.conv_output_size(len(x), len(kernel), stride, padding, dilation)
    width = max(len(x) + 2 * padding, n_out) + 6
    fig, axes = st.new_figure(0.5 * width + 1, 0.55 * (min(n_out, 8) + 5) + 0.6)
    ax = axes[0, 0]
    rows = draw_conv(ax, x, kernel, stride, padding, dilation)
    return _finish(
        fig,
        ax,
        rows,
        f"Convolution: a series of inner products (k={len(kernel)}, "
        f"s={stride}, p={padding}, d={dilation})",
    )


def conv_transpose_translated_kernels(
    x: Values = (2, 3, 0, -1),
    kernel: Values = (1, 2, -1),
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> Figure:
    """Transposed convolution layer: a weighted sum of translated kernels.

    The default is the lecture's ``nn.ConvTranspose1d`` example,
    ``[2, 3, 0, -1]`` with kernel ``[1, 2, -1]`` giving ``[2, 7, 4, -4, -2, 1]``.
    """
    n_full = _full_size(x, kernel, stride, output_padding, dilation)
    fig, axes = st.new_figure(0.5 * (n_full + 7) + 1, 0.55 * (len(x) + 6) + 0.6)
    ax = axes[0, 0]
    rows = draw_conv_transpose(ax, x, kernel, stride, padding, output_padding, dilation)
    extra = f", output_padding={output_padding}" if output_padding else ""
    return _finish(
        fig,
        ax,
        rows,
        f"Transposed convolution: a weighted sum of translated kernels "
        f"(k={len(kernel)}, s={stride}, p={padding}, d={dilation}{extra})",
    )


def zero_inserted(
    x: Values, kernel_size: int, stride: int, padding: int, output_padding: int, dilation: int
) -> np.ndarray:
    """The input of the direct view of a transposed convolution (Dumoulin & Visin):
    ``stride - 1`` zeros between samples, ``d(k-1) - p`` zeros on each side (and
    ``output_padding`` more on the right)."""
    xa = np.asarray(x, float)
    ins = np.zeros((len(xa) - 1) * stride + 1)
    ins[::stride] = xa
    edge = dilation * (kernel_size - 1) - padding
    if edge < 0:
        raise ValueError(
            f"padding={padding} exceeds d(k-1)={dilation * (kernel_size - 1)}: the direct "
            "view would need negative padding (a crop of the input)"
        )
    return np.concatenate([np.zeros(edge), ins, np.zeros(edge + output_padding)])


def conv_transpose_as_conv(
    x: Values = (2, 3, 0, -1),
    kernel: Values = (1, 2, -1),
    stride: int = 2,
    padding: int = 1,
    output_padding: int = 0,
    dilation: int = 1,
) -> Figure:
    """The same transposed convolution two ways: the scatter view (left) and a
    stride-1 convolution of the zero-inserted, padded input with the flipped
    kernel (right, the view of Dumoulin & Visin's conv_arithmetic)."""
    zi = zero_inserted(x, len(kernel), stride, padding, output_padding, dilation)
    flipped = np.asarray(kernel, float)[::-1]
    n_full = _full_size(x, kernel, stride, output_padding, dilation)
    n_rows = max(len(x) + 6, min(len(zi) - len(kernel) * dilation + dilation, 12) + 5)
    fig, axes = st.new_figure(
        0.42 * (n_full + len(zi) + 14),
        0.5 * n_rows + 0.8,
        1,
        2,
        gridspec_kw={"width_ratios": [n_full + 7, len(zi) + 6]},
    )
    left, right = axes[0]
    rows_l = draw_conv_transpose(left, x, kernel, stride, padding, output_padding, dilation)
    _finish(fig, left, rows_l, "scatter: a sum of translated kernels")
    rows_r = draw_conv(right, zi, flipped, 1, 0, dilation, max_rows=12)
    _finish(fig, right, rows_r, "gather: zero-inserted input ⊛ flipped kernel")
    fig.suptitle(
        f"Transposed convolution, k={len(kernel)}, s={stride}, p={padding}, d={dilation}: "
        "two views, one result",
        x=0.02,
        ha="left",
    )
    return fig


def composition(
    sizes: Sequence[int] = (9, 10),
    kernel_size: int = 3,
    stride: int = 2,
    padding: int = 0,
    dilation: int = 1,
) -> Figure:
    """A convolution followed by the transposed convolution of the same parameters.

    One panel per input size ``W``: the input (samples that no output reads
    hatched), the convolution's output, and the transposed convolution's output,
    which covers the observed area. The size comes back iff ``W = w + s q``.
    """
    fig, axes = st.new_figure(0.5 * (max(sizes) + 10), 2.6 * len(sizes), len(sizes), 1)
    for ax, size in zip(axes[:, 0], sizes):
        x = np.arange(1, size + 1, dtype=float)
        k = np.ones(kernel_size)
        y = _conv1d(x, k, stride, padding, dilation)
        z = _tconv1d(y, k, stride, padding, 0, dilation)
        ignored = cast(
            tuple[int, ...], shapes.ignored_inputs(size, kernel_size, stride, padding, dilation)
        )
        kept = shapes.preserves_size(size, kernel_size, stride, padding, dilation)
        st.row_label(ax, 0, f"x (W={size})")
        st.draw_cells(ax, x, 0, color=st.INPUT, gid=f"x{size}", hatched=ignored)
        st.row_label(ax, 1.5, "conv")
        st.draw_cells(ax, y, 1.5, color=st.OUTPUT, gid=f"y{size}")
        st.row_label(ax, 3.0, "transposed")
        st.draw_cells(ax, z, 3.0, color=st.KERNEL, gid=f"z{size}")
        if len(z) < size:
            ax.plot([len(z) + 0.05, size - 0.05], [4.25] * 2, color=st.ACCENT, lw=2)
        verdict = "size kept" if kept else f"size lost: {size} -> {len(z)}"
        q = (size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride
        ax.set_title(
            f"W={size}, w={kernel_size}, s={stride}: (W - w)/s = {q:g} -> {verdict}"
            + (f"; {len(ignored)} sample(s) never read (hatched)" if len(ignored) else ""),
            loc="left",
        )
        st.cell_axes(ax)
        ax.set_xlim(-3.5, size + 1)
        ax.set_ylim(4.6, -0.4)
    fig.suptitle(
        "Convolution then transposed convolution keeps the size iff W = w + s q", x=0.02, ha="left"
    )
    return fig
