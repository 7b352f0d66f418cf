"""What the ``tconv`` commands share: their parser's set-up, the geometry options,
one value per dim from an option, and how a user error is reported."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


def add_command(
    sub: argparse._SubParsersAction,
    name: str,
    run: Callable[[argparse.Namespace], int],
    *,
    help: str,
    description: str,
    epilog: str,
    raw: bool = True,
) -> argparse.ArgumentParser:
    """The parser of command ``name``, which calls ``run``.

    ``raw`` keeps the description's and the examples' line breaks as written
    (argparse re-wraps them otherwise).
    """
    p = sub.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter if raw else argparse.HelpFormatter,
    )
    p.set_defaults(func=run)
    return p


def add_geometry(
    p: argparse.ArgumentParser, *, kernel: bool = True, output_padding: bool = True
) -> None:
    """The per-dim geometry options (one value, or one per dim)."""
    if kernel:
        p.add_argument(
            "-k",
            "--kernel",
            type=int,
            nargs="+",
            required=True,
            metavar="K",
            help="kernel size (one value, or one per dim)",
        )
    p.add_argument("-s", "--stride", type=int, nargs="+", default=[1], metavar="S")
    p.add_argument("-p", "--padding", type=int, nargs="+", default=[0], metavar="P")
    p.add_argument("-d", "--dilation", type=int, nargs="+", default=[1], metavar="D")
    if output_padding:
        p.add_argument(
            "-a",
            "--output-padding",
            type=int,
            nargs="+",
            default=[0],
            metavar="A",
            help="output_padding of the transposed convolution",
        )


def per_dim(values: list[int], n: int, name: str) -> list[int]:
    """One value per dim from an option given once or once per dim."""
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise ValueError(f"--{name} takes 1 value or {n} (one per dim), got {len(values)}")
    return values


def geometry(args: argparse.Namespace, n: int, *names: str) -> list[list[int]]:
    """The options ``names`` (attribute names), one value per dim each."""
    return [per_dim(getattr(args, name), n, name.replace("_", "-")) for name in names]


def error(command: str, message: object) -> int:
    """Report a user error of ``tconv command`` on stderr; the exit status 2."""
    print(f"tconv {command}: error: {message}", file=sys.stderr)
    return 2
