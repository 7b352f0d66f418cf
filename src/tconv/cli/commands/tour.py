"""``tconv tour``: the lecture walked through, every figure regenerated."""

from __future__ import annotations

import argparse
from pathlib import Path

from .._common import add_command, folder, make_folder


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "tour",
        run,
        help="walk through the lecture: examples, identities, every figure and a gallery",
        description="Walk through the lecture (EE-559, 9.1) in order: print each worked "
        "example computed by tconv next to the lecture's value, check the identities it "
        "states, and write every figure (PNG + SVG), the animations (GIF) and an index.html "
        "gallery captioned with the lecture's sentences.",
        epilog="example: tconv tour --out tconv-tour && xdg-open tconv-tour/index.html",
        raw=False,
    )
    p.add_argument(
        "--out",
        type=folder,
        default=Path("tconv-tour"),
        help="output folder (default: ./tconv-tour)",
    )


def run(args: argparse.Namespace) -> int:
    from ...lecture.tour import run as tour

    make_folder(args.out, "--out")  # a bad folder fails now, not after the first figures
    return 1 if tour(args.out) else 0
