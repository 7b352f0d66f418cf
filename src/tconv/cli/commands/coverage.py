"""``tconv coverage``: the coverage map of a transposed convolution as a heat map."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from ...artifacts import coverage, is_artifact_free, phase_sums
from .._common import (
    MAX_DRAW,
    MAX_IMAGE_SIDE,
    MAX_MAP_CELLS,
    MAX_MAP_WORK,
    UsageError,
    add_command,
    add_geometry,
    check_output_padding,
    error,
    geometry,
    image_path,
    int_in,
    make_folder,
)

EXAMPLE = """examples:
  tconv coverage --kernel 4 --stride 3 --size 8 8     (the lecture's 4x4 kernel, stride 3)
  tconv coverage --kernel 4 --stride 2 --padding 1 --size 8 8
  tconv coverage --kernel 3 --stride 2 --size 6 6 --png coverage.png"""


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "coverage",
        run,
        help="how many (input, tap) pairs reach each output pixel (checkerboards)",
        description="Print the coverage map of a transposed convolution: for each output "
        "position, how many (input, kernel tap) pairs land on it, i.e. conv_transpose(ones, "
        "ones). Uneven coverage in the interior is the lecture's grid artifact. Also prints "
        "the interior tile (the phase sums of an all-ones kernel) and whether it is uniform.",
        epilog=EXAMPLE,
    )
    p.add_argument(
        "--size",
        type=int_in(1, MAX_DRAW),
        nargs="+",
        required=True,
        metavar="N",
        help=f"input size, one per spatial dim (1 to 3 dims; 1..{MAX_DRAW})",
    )
    add_geometry(p, cap=MAX_DRAW)
    p.add_argument(
        "--png",
        metavar="FILE",
        type=image_path,
        help="also save the map as an image (matplotlib; .png, .svg, .pdf, .jpg)",
    )
    p.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="ANSI shading (default: when writing to a terminal)",
    )


def run(args: argparse.Namespace) -> int:
    n = len(args.size)
    if not 1 <= n <= 3:
        raise UsageError(f"argument --size: takes 1 to 3 values, got {n}")
    k, s, p, d, a = geometry(args, n, "kernel", "stride", "padding", "dilation", "output_padding")
    check_output_padding(a, s, d)
    out = check_map(args.size, k, s, p, a, d)
    if args.png:
        if n == 3:
            raise UsageError("argument --png: draws 1-D and 2-D maps only")
        if max(out) > MAX_IMAGE_SIDE:
            raise UsageError(
                f"argument --png: draws maps of at most {MAX_IMAGE_SIDE} cells a side, "
                f"this one is {tuple(out)}"
            )
        make_folder(args.png.parent, "--png")  # before the work, not after it
    cov = coverage(tuple(args.size), k, s, p, a, d)
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    print(
        f"coverage of a transposed convolution: input {tuple(args.size)}, kernel {tuple(k)}, "
        f"stride {tuple(s)}, padding {tuple(p)}, output_padding {tuple(a)}, dilation "
        f"{tuple(d)} -> output {cov.shape}; values {cov.min()}..{cov.max()}"
    )
    print(heat_map(cov, color))
    tile = phase_sums(np.ones(k), s, d, p, ndim=n).astype(np.int64)
    print(f"interior tile (period {tuple(s)}, output phase j mod s; padding rotates it):")
    print(heat_map(tile, color))
    if is_artifact_free(np.ones(k), s, d, ndim=n):
        print(
            "uniform interior: no grid artifact from an all-ones kernel "
            "(every stride divides its kernel size, gcd(dilation, stride) = 1)"
        )
    else:
        print(
            "NOT uniform: output pixels are not all covered similarly -> grid (checkerboard) "
            "artifacts; make the stride divide the kernel size, or use a resize-convolution"
        )
    if args.png:
        return save_png(cov, args.png)
    return 0


def check_map(
    size: list[int], k: list[int], s: list[int], p: list[int], a: list[int], d: list[int]
) -> list[int]:
    """The output size of the map; a :class:`UsageError` for one that would take more
    than a moment to compute or print: at most ``MAX_MAP_CELLS`` output cells,
    ``MAX_MAP_WORK`` (input cell, tap) pairs."""
    out = [
        (n - 1) * si - 2 * pi + di * (ki - 1) + ai + 1
        for n, ki, si, pi, ai, di in zip(size, k, s, p, a, d, strict=True)
    ]
    if min(out) < 1:
        raise UsageError(
            f"argument -p/--padding: the output would be {tuple(out)}: padding {tuple(p)} crops "
            "more than the transposed convolution produces"
        )
    if math.prod(out) > MAX_MAP_CELLS:
        raise UsageError(
            f"argument --size: the map would have {math.prod(out)} cells {tuple(out)}; "
            f"at most {MAX_MAP_CELLS}"
        )
    work = math.prod(size) * math.prod(k)
    if work > MAX_MAP_WORK:
        raise UsageError(
            f"argument -k/--kernel: input cells x kernel taps = {work}; at most {MAX_MAP_WORK}"
        )
    return out


def heat_map(m: np.ndarray, color: bool = False) -> str:
    """Integers as right-aligned digits; with ``color``, ANSI grey-scale backgrounds."""
    if m.ndim == 3:
        return "\n".join(f"[{i}]\n" + heat_map(m[i], color) for i in range(m.shape[0]))
    m2 = m.reshape(1, -1) if m.ndim == 1 else m
    width = len(str(int(m2.max(initial=0))))
    top = max(int(m2.max(initial=0)), 1)
    lines = []
    for row in m2:
        cells = []
        for v in row.tolist():
            text = str(v).rjust(width)
            if color:
                level = 232 + round(23 * v / top)  # the 24-step grey ramp
                fg = 30 if level > 243 else 97
                text = f"\x1b[48;5;{level}m\x1b[{fg}m {text} \x1b[0m"
            cells.append(text)
        lines.append(("" if color else " ").join(cells))
    return "\n".join(lines)


def save_png(cov: np.ndarray, path: Path) -> int:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return error("coverage", "--png needs matplotlib: pip install matplotlib")
    img = cov.reshape(1, -1) if cov.ndim == 1 else cov
    fig, ax = plt.subplots(figsize=(1 + 0.3 * img.shape[1], 1 + 0.3 * img.shape[0]))
    im = ax.imshow(img, cmap="viridis", vmin=0, interpolation="nearest")
    fig.colorbar(im, ax=ax, label="(input, tap) pairs")
    ax.set_title("coverage")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    print(f"saved {path}")
    return 0
