"""The lecture's 2-D figures: the matrix view, coverage maps and grid
artifacts, and the up-scaling alternatives on a real image.

Every number drawn is computed by tconv (``tconv.matrix``,
``tconv.artifacts``, ``tconv.functional``, ``tconv.nn``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import artifacts, matrix
from ... import functional as F
from . import _style as st

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def _draw_matrix(ax: Axes, m: np.ndarray, gid: str, title: str) -> None:
    """A matrix whose entries are tap numbers (0 = empty), labelled kappa_t."""
    from matplotlib.patches import Rectangle

    rows, cols = m.shape
    for i in range(rows):
        for j in range(cols):
            v = int(m[i, j])
            ax.add_patch(
                Rectangle(
                    (j, i),
                    1,
                    1,
                    facecolor=st.KERNEL if v else st.ZERO,
                    edgecolor=st.GREY,
                    linewidth=0.6,
                )
            )
            t = ax.text(
                j + 0.5,
                i + 0.5,
                f"κ{v}" if v else "0",
                ha="center",
                va="center",
                fontsize=9,
                color=st.TEXT if v else st.GREY,
            )
            t.set_gid(f"{gid}:{i * cols + j}")
    ax.set_xlim(-0.2, cols + 0.2)
    ax.set_ylim(rows + 0.2, -0.2)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title)


def matrix_view(
    input_size: int = 7,
    kernel_size: int = 3,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
) -> Figure:
    """The convolution's matrix and its transpose, which is the transposed convolution's.

    Built with a kernel whose taps are 1, 2, 3, ... so that each matrix entry is
    the number of the tap it holds (labelled kappa_1, kappa_2, ...), as on the
    lecture's slide for a kernel of size 3 on 7 inputs.
    """
    taps = np.arange(1, kernel_size + 1, dtype=float).reshape(1, 1, kernel_size)
    m = np.asarray(matrix.conv_matrix(taps, (1, input_size), stride, padding, dilation))
    n_out = m.shape[0]
    mt = np.asarray(matrix.conv_transpose_matrix(taps, (1, n_out), stride, padding, 0, dilation))
    fig, axes = st.new_figure(
        0.42 * (input_size + n_out) + 2.5,
        0.42 * max(input_size, n_out) + 1.5,
        1,
        2,
        gridspec_kw={"width_ratios": [input_size, n_out]},
    )
    _draw_matrix(axes[0, 0], m, "conv", f"convolution: y = M x  ({n_out}×{input_size})")
    _draw_matrix(
        axes[0, 1], mt, "transposed", f"transposed convolution: Mᵀ  ({mt.shape[0]}×{mt.shape[1]})"
    )
    fig.suptitle(
        f"The matrix view, k={kernel_size}, s={stride}, p={padding}, d={dilation}: "
        "the transposed convolution's matrix is the transpose",
        x=0.02,
        ha="left",
    )
    return fig


def coverage_1d(
    input_size: int = 8,
    kernel_size: int = 4,
    stride: int = 3,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> Figure:
    """How many (input, tap) pairs reach each output sample: bars of ``coverage``."""
    cov = artifacts.coverage(input_size, kernel_size, stride, padding, output_padding, dilation)
    fig, axes = st.new_figure(max(5.0, 0.3 * len(cov) + 1.5), 2.6)
    ax = axes[0, 0]
    ax.bar(np.arange(len(cov)), cov, color=st.OUTPUT, edgecolor=st.TEXT, linewidth=0.5)
    ax.set_xlabel("output position")
    ax.set_ylabel("(input, tap) pairs")
    ax.set_yticks(range(int(cov.max()) + 1))
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(
        f"Coverage of a transposed convolution, k={kernel_size}, s={stride}, "
        f"p={padding}, d={dilation}: not all outputs are covered similarly",
        loc="left",
    )
    return fig


def _heat(
    ax: Axes, a: np.ndarray, title: str, gid: str, annotate: bool = True, cmap: str = st.CMAP
) -> None:
    im = ax.imshow(a, cmap=cmap, interpolation="nearest")
    im.set_gid(gid)
    if annotate and a.size <= 900:
        lo, hi = float(a.min()), float(a.max())
        for (i, j), v in np.ndenumerate(a):
            # a constant map is drawn at the dark end of the colour map
            light = hi == lo or (v - lo) / (hi - lo) < 0.5
            ax.text(
                j,
                i,
                st.fmt(v),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if light else "black",
            )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)


def coverage_2d(
    input_size: Sequence[int] = (6, 6),
    kernel_size: int = 4,
    stride: int = 3,
    padding: int = 0,
    dilation: int = 1,
) -> Figure:
    """The lecture's grid: coverage of a 4x4 kernel with stride 3, as a heat map."""
    cov = artifacts.coverage(tuple(input_size), kernel_size, stride, padding, 0, dilation)
    fig, axes = st.new_figure(5.5, 5.2)
    _heat(
        axes[0, 0],
        cov,
        f"Coverage, {kernel_size}×{kernel_size} kernel, stride {stride}: a grid",
        "coverage",
    )
    return fig


def _random_kernel(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """A PyTorch-style initial kernel: U(-b, b), b = 1/sqrt(fan_in)."""
    rng = np.random.default_rng(seed)
    fan_in = int(np.prod(shape[1:]))
    return rng.uniform(-1, 1, shape) / np.sqrt(fan_in)


def _resize_conv_coverage(input_size: int) -> np.ndarray:
    """(input, tap) pairs behind each output of nearest x2 up-scaling + a 3x3 conv
    with padding 1: the conv's taps that land on the up-scaled map (borders read
    zero padding)."""
    ones = np.ones((1, 1, input_size, input_size))
    up = F.interpolate(ones, scale_factor=2, mode="nearest")
    return np.asarray(F.conv2d(up, np.ones((1, 1, 3, 3)), padding=1))[0, 0].astype(int)


def artifact_comparison(input_size: int = 8, seed: int = 0) -> Figure:
    """k3 s2 vs k4 s2 transposed convolutions vs nearest resize-convolution:
    coverage (top) and the output on a constant input with a random kernel (bottom),
    with the checkerboard index of that output."""
    x = np.ones((1, 1, input_size, input_size))
    k3 = _random_kernel((1, 1, 3, 3), seed)
    k4 = _random_kernel((1, 1, 4, 4), seed)
    variants = [
        (
            "transposed k3 s2",
            artifacts.coverage((input_size,) * 2, 3, 2, 1, 1),
            F.conv_transpose2d(x, k3, stride=2, padding=1, output_padding=1),
        ),
        (
            "transposed k4 s2",
            artifacts.coverage((input_size,) * 2, 4, 2, 1),
            F.conv_transpose2d(x, k4, stride=2, padding=1),
        ),
        (
            "nearest ×2 + conv k3",
            _resize_conv_coverage(input_size),
            F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), k3, padding=1),
        ),
    ]
    fig, axes = st.new_figure(11, 7.4, 2, 3)
    for col, (name, cov, y) in enumerate(variants):
        y = np.asarray(y)[0, 0]
        _heat(axes[0, col], cov, f"{name}: coverage", f"coverage{col}")
        inner = y[2:-2, 2:-2]  # the border is a padding effect, not a grid
        ci = float(artifacts.checkerboard_index(inner, 2))
        _heat(
            axes[1, col],
            y,
            f"output on a constant input\ncheckerboard index {ci:.2f}",
            f"output{col}",
            annotate=False,
            cmap="gray",
        )
    fig.suptitle(
        "Grid artifacts: unequal coverage (and unequal kernel phase sums) "
        "make a constant input come out as a checkerboard",
        x=0.02,
        ha="left",
    )
    return fig


def sample_image(size: int = 64) -> np.ndarray:
    """A real grey-scale image in [0, 1], ``size x size``: Grace Hopper's portrait,
    which ships with matplotlib (no download)."""
    plt = st.pyplot()
    from matplotlib import cbook

    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    img = plt.imread(path).astype(float)
    grey = img[..., :3].mean(axis=-1) / 255.0
    h, w = grey.shape
    side = min(h, w)
    crop = grey[(h - side) // 4 : (h - side) // 4 + side, (w - side) // 2 : (w - side) // 2 + side]
    out = F.interpolate(crop[None, None], size=(size, size), mode="area")
    return np.asarray(out)[0, 0]


def upscaling_alternatives(size: int = 48, channels: int = 8, seed: int = 0) -> Figure:
    """A real image up-scaled x2 by layers at their initialisation: transposed
    convolutions (k3 s2, k4 s2), nearest and bilinear up-scaling + convolution,
    and sub-pixel convolution with ICNR — each with its checkerboard index.

    Each layer maps 1 -> ``channels`` channels with PyTorch's default random
    initialisation; the figure shows the first output channel.
    """
    from ... import nn
    from ...autograd import no_grad

    img = sample_image(size)
    x = img[None, None]
    layers: list[tuple[str, Any]] = []
    nn.init.manual_seed(seed)
    layers.append(("transposed k3 s2", nn.ConvTranspose2d(1, channels, 3, 2, 1, output_padding=1)))
    layers.append(("transposed k4 s2", nn.ConvTranspose2d(1, channels, 4, 2, 1)))
    layers.append(
        ("nearest + conv", nn.ResizeConv2d(1, channels, 3, scale_factor=2, mode="nearest"))
    )
    layers.append(
        ("bilinear + conv", nn.ResizeConv2d(1, channels, 3, scale_factor=2, mode="bilinear"))
    )
    layers.append(("sub-pixel + ICNR", nn.SubPixelConv2d(1, channels, 3, upscale_factor=2)))
    fig, axes = st.new_figure(3.0 * (len(layers) + 1), 3.6, 1, len(layers) + 1)
    _heat(axes[0, 0], img, f"input {size}×{size}", "input", annotate=False, cmap="gray")
    with no_grad():
        for col, (name, layer) in enumerate(layers, 1):
            y = np.asarray(layer(x).data)[0]
            ci = float(np.mean(artifacts.checkerboard_index(y, 2)))
            _heat(
                axes[0, col],
                y[0],
                f"{name}\ncheckerboard {ci:.3f}",
                f"up{col}",
                annotate=False,
                cmap="gray",
            )
    fig.suptitle(
        "Up-scaling ×2 at initialisation: transposed convolutions vs. up-scaling + "
        "convolution (checkerboard index, mean over channels)",
        x=0.02,
        ha="left",
    )
    return fig
