"""``tconv plan``: layers that reach a target size exactly, artifact-free ones first."""

from __future__ import annotations

import argparse

from ...artifacts import plan
from .._common import (
    MAX_CHANNELS,
    MAX_PLAN_DILATION,
    MAX_PLAN_KERNEL,
    MAX_PLAN_NDIM,
    MAX_PLAN_SEARCH,
    MAX_PLAN_STRIDE,
    MAX_SIZE,
    UsageError,
    add_command,
    int_in,
)

EXAMPLE = """examples:
  tconv plan 16 32 --max-kernel 5
  tconv plan 7 14 --max-kernel 4 --no-resize
  tconv plan 16 32 --channels 64 32 --top 5"""


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "plan",
        run,
        help="transposed convs and resize-convs that map one size to another",
        description="List the transposed convolutions (kernel, stride, padding, output_padding, "
        "dilation) and resize-convolutions (interpolate, then a stride-1 conv) that map INPUT "
        "to OUTPUT exactly, per spatial dim with square kernels. Artifact-free layers (a "
        "constant input gives a constant interior output: equal phase sums of an all-ones "
        "kernel) come first, then layers whose borders are uniform too, then fewer weights.",
        epilog=EXAMPLE,
    )
    p.add_argument("input", type=int_in(1, MAX_SIZE), help=f"input size (1..{MAX_SIZE})")
    p.add_argument("output", type=int_in(1, MAX_SIZE), help=f"target output size (1..{MAX_SIZE})")
    p.add_argument(
        "--max-kernel",
        type=int_in(1, MAX_PLAN_KERNEL),
        default=5,
        help=f"largest kernel size (default 5, at most {MAX_PLAN_KERNEL})",
    )
    p.add_argument(
        "--max-stride",
        type=int_in(1, MAX_PLAN_STRIDE),
        default=None,
        help="largest stride / scale factor (default ceil(output/input) + 1, at most "
        f"{MAX_PLAN_STRIDE})",
    )
    p.add_argument(
        "--max-dilation",
        type=int_in(1, MAX_PLAN_DILATION),
        default=2,
        help=f"largest dilation (default 2, at most {MAX_PLAN_DILATION})",
    )
    p.add_argument(
        "--channels",
        type=int_in(1, MAX_CHANNELS),
        nargs=2,
        default=[1, 1],
        metavar=("C_IN", "C_OUT"),
        help="channels, for the parameter count (default 1 1)",
    )
    p.add_argument(
        "--ndim",
        type=int_in(1, MAX_PLAN_NDIM),
        default=2,
        help="spatial dims of the kernel (default 2)",
    )
    p.add_argument("--no-resize", action="store_true", help="transposed convolutions only")
    p.add_argument(
        "--top",
        type=int_in(0, MAX_SIZE),
        default=0,
        help="show only the first N (default 0: all)",
    )


def check_search(args: argparse.Namespace) -> None:
    """The search visits kernel x stride x dilation x output_padding: refuse one that
    would take more than a few seconds, naming the option that makes it large."""
    s_max = -(-args.output // args.input) + 1 if args.max_stride is None else args.max_stride
    size = args.max_kernel * s_max * args.max_dilation * max(s_max, args.max_dilation)
    if size > MAX_PLAN_SEARCH:
        option = "--max-stride" if args.max_stride is not None else "output"
        raise UsageError(
            f"argument {option}: the search max_kernel * max_stride * max_dilation * "
            f"max(max_stride, max_dilation) = {args.max_kernel} * {s_max} * "
            f"{args.max_dilation} * {max(s_max, args.max_dilation)} = {size} exceeds "
            f"{MAX_PLAN_SEARCH}; give a smaller --max-stride or --max-kernel"
        )


def run(args: argparse.Namespace) -> int:
    check_search(args)
    plans = plan(
        args.input,
        args.output,
        max_kernel=args.max_kernel,
        max_stride=args.max_stride,
        max_dilation=args.max_dilation,
        channels=tuple(args.channels),
        ndim=args.ndim,
        resize=not args.no_resize,
    )
    if not plans:
        print(
            f"no layer maps {args.input} to {args.output} within the search space "
            f"(--max-kernel {args.max_kernel}); try a larger --max-kernel or --max-stride"
        )
        return 1
    shown = plans[: args.top] if args.top > 0 else plans
    rows = [("#", "layer", "artifact-free", "uniform borders", "params")]
    for i, pl in enumerate(shown, 1):
        rows.append(
            (
                str(i),
                pl.code(),
                "yes" if pl.artifact_free else "NO",
                "yes" if pl.uniform else "no",
                str(pl.params),
            )
        )
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    print(
        f"{len(plans)} layers map {args.input} -> {args.output}"
        + (f" (showing {len(shown)})" if len(shown) < len(plans) else "")
        + ":"
    )
    for j, r in enumerate(rows):
        print(
            "  ".join(
                cell.rjust(w) if c in (0, 4) else cell.ljust(w)
                for c, (cell, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
        )
        if j == 0:
            print("  ".join("-" * w for w in widths))
    print(
        "artifact-free: constant in -> constant interior out (equal phase sums); "
        "uniform borders: the whole output too"
    )
    return 0
