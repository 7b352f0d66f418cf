"""What the ``tconv`` commands share: their parser's set-up, the caps on their
arguments, the geometry options, one value per dim from an option, and how a
user error is reported.

Every argument is checked when it is parsed, against the caps below: a value
outside its range is a usage error (one line on stderr, exit status 2) before
any work starts, so that no command allocates, computes or draws for long on
a hostile input. The caps live here only, so that ``--help``, the checks and
the tests agree.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from .. import shapes

# --- The caps -------------------------------------------------------------------------
# Sizes and geometry of `shape` and `plan`: plain integer arithmetic, so large is cheap.
MAX_SIZE = 10**6
# The target size of `shape --to`, which a transposed convolution of sizes up to
# MAX_SIZE can reach: (L - 1) s + d (k - 1) + a + 1 < 3 * MAX_SIZE**2.
MAX_TARGET = 3 * MAX_SIZE**2
# `plan` searches kernel x stride x dilation x output_padding exhaustively: its
# options are capped one by one and the size of the search as a whole.
MAX_PLAN_KERNEL = 64
MAX_PLAN_STRIDE = 256
MAX_PLAN_DILATION = 16
# max_kernel * max_stride * max_dilation * max(max_stride, max_dilation): about 2 s.
MAX_PLAN_SEARCH = 2 * 10**4
MAX_PLAN_NDIM = 3
MAX_CHANNELS = 10**6
# Printed maps and matrices (`coverage`, `matrix`): per dim of the input and the geometry.
MAX_DRAW = 64
MAX_MAP_CELLS = 2**16  # cells of a coverage map
MAX_MAP_WORK = 2**24  # input cells x kernel taps of a coverage map
MAX_MATRIX = 256  # rows and columns of a printed matrix
MAX_IMAGE_SIDE = 256  # cells along a side of the --png image of a map
# Figures (`figure`) draw every cell as a patch, and an animation takes up to 1 s a
# frame: at most MAX_FIGURE_CELLS cells along any drawn axis (MAX_ANIMATION_CELLS in
# an animation), MAX_FIGURE_VALUES values of --x / --kernel (one drawn row each),
# MAX_FRAMES frames of an animation (the lecture's 5 x 5 stride-1 convolution has 25).
MAX_FIGURE_CELLS = 64
MAX_ANIMATION_CELLS = 16
MAX_FIGURE_VALUES = 16
MAX_FRAMES = 32
MAX_FIGURE_SIZES = 4  # panels of `figure composition`
# Values given on the command line (--x, --kernel, --weights): finite, and small enough
# that their products and sums stay finite.
MAX_VALUE = 1e6
# `demo`: the longest run is minutes, never days.
MAX_EPOCHS = 1000
MAX_STEPS = 10**4
MAX_BATCH = 4096
MAX_THREADS = 256
MAX_CANVAS = 256
MAX_SEED = 2**32 - 1
MAX_LR = 10.0
# The image formats `--png` can write (matplotlib's, without the optional backends).
IMAGE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")


class UsageError(ValueError):
    """A user error found after parsing (a rule between options); exit status 2."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr.

    argparse prints the (often multi-line) usage before the error; one line,
    which names the option, the rule and the value, and points to ``--help``,
    is easier to read and to test.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


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
    (argparse re-wraps them otherwise). The parser is kept in the parsed
    arguments (``args.parser``) so that a rule between options, checked after
    parsing, is reported as argparse reports its own errors.
    """
    p = sub.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter if raw else argparse.HelpFormatter,
    )
    p.set_defaults(func=run, parser=p)
    return p


def int_in(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``lo..hi``, else a one-line usage error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be in {lo}..{hi}, got {value}")
        return value

    parse.__name__ = f"integer in {lo}..{hi}"  # argparse names the type in some messages
    return parse


def finite_float(lo: float, hi: float, *, positive: bool = False) -> Callable[[str], float]:
    """An argparse ``type``: a finite float in ``[lo, hi]`` (``> 0`` if ``positive``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or not lo <= value <= hi or (positive and value <= 0):
            rule = f"in ({lo:g}, {hi:g}]" if positive else f"finite, in [{lo:g}, {hi:g}]"
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


def image_path(text: str) -> Path:
    """An argparse ``type``: a file name with a suffix matplotlib can write."""
    path = Path(text)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise argparse.ArgumentTypeError(
            f"unknown image suffix {path.suffix or '(none)'!r} in {text!r}; "
            f"use one of {', '.join(IMAGE_SUFFIXES)}"
        )
    return path


def folder(text: str) -> Path:
    """An argparse ``type``: an output folder (created later by :func:`make_folder`)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder, got an empty name")
    return Path(text)


def make_folder(path: Path, option: str) -> Path:
    """Create ``path`` (and its parents) for the output of a command, or raise a
    :class:`UsageError` naming ``option`` that says why it cannot be written."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(f"argument {option}: {str(path)!r} exists and is not a folder") from None
    except OSError as exc:
        raise UsageError(
            f"argument {option}: cannot create folder {str(path)!r}: {exc.strerror}"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"argument {option}: folder {str(path)!r} is not writable")
    return path


def add_geometry(
    p: argparse.ArgumentParser,
    *,
    kernel: bool = True,
    output_padding: bool = True,
    cap: int = MAX_SIZE,
) -> None:
    """The per-dim geometry options (one value, or one per dim), each in its range up
    to ``cap``."""
    if kernel:
        p.add_argument(
            "-k",
            "--kernel",
            type=int_in(1, cap),
            nargs="+",
            required=True,
            metavar="K",
            help=f"kernel size (one value, or one per dim; 1..{cap})",
        )
    p.add_argument(
        "-s", "--stride", type=int_in(1, cap), nargs="+", default=[1], metavar="S",
        help=f"stride (1..{cap})",
    )  # fmt: skip
    p.add_argument(
        "-p", "--padding", type=int_in(0, cap), nargs="+", default=[0], metavar="P",
        help=f"padding (0..{cap})",
    )  # fmt: skip
    p.add_argument(
        "-d", "--dilation", type=int_in(1, cap), nargs="+", default=[1], metavar="D",
        help=f"dilation (1..{cap})",
    )  # fmt: skip
    if output_padding:
        p.add_argument(
            "-a",
            "--output-padding",
            type=int_in(0, cap),
            nargs="+",
            default=[0],
            metavar="A",
            help="output_padding of the transposed convolution (< max(stride, dilation))",
        )


def per_dim(values: list[int], n: int, name: str) -> list[int]:
    """One value per dim from an option given once or once per dim."""
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise UsageError(f"--{name} takes 1 value or {n} (one per dim), got {len(values)}")
    return values


def geometry(args: argparse.Namespace, n: int, *names: str) -> list[list[int]]:
    """The options ``names`` (attribute names), one value per dim each."""
    return [per_dim(getattr(args, name), n, name.replace("_", "-")) for name in names]


def check_output_padding(a: Sequence[int], s: Sequence[int], d: Sequence[int]) -> None:
    """:func:`tconv.shapes.check_output_padding`'s rule, as a usage error of the option."""
    try:
        shapes.check_output_padding(tuple(a), tuple(s), tuple(d), "output_padding")
    except ValueError:
        bound = [max(si, di) for si, di in zip(s, d)]
        raise UsageError(
            f"argument -a/--output-padding: must be smaller than stride or dilation "
            f"(max {bound}), got {list(a)}"
        ) from None


def error(command: str, message: object) -> int:
    """Report a user error of ``tconv command`` on stderr; the exit status 2."""
    print(f"tconv {command}: error: {message}", file=sys.stderr)
    return 2
