"""The lecture's figures, drawn by tconv from what it computes.

Each entry of :data:`FIGURES` names a function returning a matplotlib
``Figure`` (or, for animations, writing a GIF), the lecture's sentence it
illustrates, and its default parameters. ``tconv figure NAME`` draws one,
``tconv tour`` draws them all. matplotlib is imported only when a figure is
drawn (the ``plot`` extra).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _style, animate, maps, signals

__all__ = ["FIGURES", "FigureSpec", "draw"]


@dataclass(frozen=True)
class FigureSpec:
    """One figure: the function that draws it, the lecture's sentence, its defaults.

    ``function(**defaults)`` returns a matplotlib ``Figure``, or, when ``animation`` is
    true, writes a GIF; ``tconv figure NAME`` passes the command line's values instead.
    """

    function: Callable[..., Any]
    caption: str  # the lecture's sentence the figure illustrates
    defaults: dict[str, Any] = field(default_factory=dict)
    animation: bool = False


FIGURES: dict[str, FigureSpec] = {
    "conv": FigureSpec(
        signals.conv_inner_products,
        "A convolution can be seen as a series of inner products.",
    ),
    "conv-transpose": FigureSpec(
        signals.conv_transpose_translated_kernels,
        "A transposed convolution can be seen as a weighted sum of translated kernels.",
    ),
    "lecture-example": FigureSpec(
        signals.conv_transpose_translated_kernels,
        "torch.nn.functional.conv_transpose1d implements the operation we just described.",
        {"x": (0, 0, 1, 0, 0, 0, 0), "kernel": (1, 2, 3)},
    ),
    "matrix": FigureSpec(
        maps.matrix_view,
        "Since it corresponds to transposing the weight matrix of the equivalent "
        "fully-connected layer, it is called a transposed convolution.",
    ),
    "stride": FigureSpec(
        signals.conv_transpose_translated_kernels,
        "Transposed convolution layer (stride = 2).",
        {"stride": 2},
    ),
    "padding": FigureSpec(
        signals.conv_transpose_translated_kernels,
        "For transposed convolutions these parameters are defined in the output map, "
        "and the latter modulates a cropping operation.",
        {"stride": 2, "padding": 1},
    ),
    "dilation": FigureSpec(
        signals.conv_transpose_translated_kernels,
        "Transposed convolutions also have a dilation parameter that behaves as for "
        "convolution and expends the kernel size without increasing the number of parameters.",
        {"dilation": 2},
    ),
    "direct-view": FigureSpec(
        signals.conv_transpose_as_conv,
        "The transposed convolution's forward operation corresponds to a convolution "
        "layer's backward pass: a convolution with the flipped kernel over a "
        "zero-inserted input.",
    ),
    "composition": FigureSpec(
        signals.composition,
        "A convolution with a stride greater than one may ignore parts of the signal. Its "
        "composition with the corresponding transposed convolution generates a map of the "
        "size of the observed area; the size is kept only if W = w + s q.",
    ),
    "coverage-1d": FigureSpec(
        maps.coverage_1d,
        "Transposed convolutions may create grid-structure artifacts, since generated "
        "pixels are not all covered similarly.",
    ),
    "coverage-2d": FigureSpec(
        maps.coverage_2d,
        "For instance with a 4 × 4 kernel and stride 3.",
    ),
    "artifacts": FigureSpec(
        maps.artifact_comparison,
        "Generated pixels are not all covered similarly: k3 s2 and k4 s2 transposed "
        "convolutions vs. up-scaling + convolution, on a constant input.",
    ),
    "upscaling": FigureSpec(
        maps.upscaling_alternatives,
        "An alternative is to use an analytic up-scaling, usually combined with a "
        "convolution to learn local corrections to undesirable artifacts of the up-scaling.",
    ),
    "anim-conv1d": FigureSpec(
        animate.animate_conv,
        "A convolution can be seen as a series of inner products (1-D, frame by frame).",
        {"size": (8,), "kernel_size": 3, "stride": 1, "padding": 0},
        animation=True,
    ),
    "anim-conv-transpose1d": FigureSpec(
        animate.animate_conv_transpose,
        "A transposed convolution can be seen as a weighted sum of translated kernels "
        "(1-D, stride 2, frame by frame).",
        {"size": (5,), "kernel_size": 3, "stride": 2, "padding": 0},
        animation=True,
    ),
    "anim-conv2d": FigureSpec(
        animate.animate_conv,
        "Convolution layer (2-D, stride 2, padding 1).",
        {"size": (5, 5), "kernel_size": 3, "stride": 2, "padding": 1},
        animation=True,
    ),
    "anim-conv-transpose2d": FigureSpec(
        animate.animate_conv_transpose,
        "Transposed convolution layer (2-D, stride 2, padding 1: the crop comes last).",
        {"size": (3, 3), "kernel_size": 3, "stride": 2, "padding": 1},
        animation=True,
    ),
}
"""Every figure of the tour by name: its function, the lecture's sentence, its defaults."""


def draw(name: str, out_dir: str | Path, **params: Any) -> list[Path]:
    """Draw figure ``name`` with ``params`` over its defaults into ``out_dir``;
    return the written files (PNG and SVG, or one GIF)."""
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; choose one of: {', '.join(FIGURES)}")
    spec = FIGURES[name]
    kwargs = {**spec.defaults, **params}
    out = Path(out_dir)
    if spec.animation:
        return [spec.function(out / f"{name}.gif", **kwargs)]
    return _style.save(spec.function(**kwargs), out / name)
