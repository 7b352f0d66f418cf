"""``tconv figure NAME``: draw one of the lecture's figures with your parameters."""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path
from typing import Any

from .._common import add_command


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "figure",
        run,
        help="draw one figure (PNG + SVG, or a GIF for animations)",
        description="Draw one of the lecture's figures with your parameters. "
        "'tconv figure --list' lists them with the sentence each illustrates.",
        epilog="examples:\n  tconv figure conv-transpose --x 1 2 3 --kernel 1 0 -1 --stride 2 "
        "--padding 1\n  tconv figure coverage-2d --kernel 4 --stride 3 --size 8 8 --out figs\n"
        "  tconv figure anim-conv-transpose2d --stride 2 --padding 1",
    )
    p.add_argument("name", nargs="?", help="the figure's name (see --list)")
    p.add_argument("--list", action="store_true", help="list the figures and exit")
    p.add_argument("--x", type=float, nargs="+", help="input values (1-D figures)")
    p.add_argument(
        "--kernel",
        type=float,
        nargs="+",
        help="kernel values (1-D figures) or kernel size (one int)",
    )
    p.add_argument("--stride", type=int)
    p.add_argument("--padding", type=int)
    p.add_argument("--output-padding", type=int)
    p.add_argument("--dilation", type=int)
    p.add_argument("--size", type=int, nargs="+", help="input size(s)")
    p.add_argument("--out", type=Path, default=Path("."), help="output folder (default: .)")


def _params(fn: Any, args: argparse.Namespace) -> dict[str, Any]:
    accepted = inspect.signature(fn).parameters
    params: dict[str, Any] = {}
    for opt in ("stride", "padding", "output_padding", "dilation"):
        value = getattr(args, opt)
        if value is not None:
            if opt not in accepted:
                raise SystemExit(f"tconv figure: this figure has no --{opt.replace('_', '-')}")
            params[opt] = value
    if args.x is not None:
        if "x" not in accepted:
            raise SystemExit("tconv figure: this figure has no --x (input values)")
        params["x"] = tuple(args.x)
    if args.kernel is not None:
        if "kernel" in accepted:
            params["kernel"] = tuple(args.kernel)
        elif "kernel_size" in accepted and len(args.kernel) == 1 and args.kernel[0].is_integer():
            params["kernel_size"] = int(args.kernel[0])
        else:
            raise SystemExit("tconv figure: this figure takes --kernel as one integer size")
    if args.size is not None:
        for name in ("input_size", "size", "sizes"):
            if name in accepted:
                single = isinstance(accepted[name].default, int) and len(args.size) == 1
                params[name] = args.size[0] if single else tuple(args.size)
                break
        else:
            raise SystemExit("tconv figure: this figure has no --size")
    return params


def run(args: argparse.Namespace) -> int:
    from ...lecture.figures import FIGURES, draw

    if args.list or not args.name:
        for name, spec in FIGURES.items():
            print(f"{name:<24} {'(GIF) ' if spec.animation else ''}{spec.caption}")
        return 0 if args.list else 2
    if args.name not in FIGURES:
        print(f"tconv figure: unknown figure {args.name!r}; 'tconv figure --list' lists them")
        return 2
    params = _params(FIGURES[args.name].function, args)
    try:
        paths = draw(args.name, args.out, **params)
    except ValueError as exc:
        print(f"tconv figure: {exc}")
        return 2
    for path in paths:
        print(path)
    return 0
