"""The ``tconv`` command: ``tconv COMMAND [options]`` (also ``python -m tconv``).

Each command lives in its own module under :mod:`tconv.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a
function taking the parsed arguments and returning an exit code. Adding a
command means adding a module and its name to ``COMMANDS``.

The command line never shows a traceback: arguments are checked against the
caps of :mod:`tconv.cli._common` when they are parsed (exit status 2), and
:func:`main` turns what a command raises into one line on stderr (exit status
1). ``TCONV_DEBUG=1`` re-raises instead, for the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from pathlib import Path

from .. import __version__
from ._common import Parser, UsageError

# Module names under tconv.commands, in the order `tconv --help` lists them.
COMMANDS = [
    "examples",
    "tour",
    "figure",
    "shape",
    "plan",
    "coverage",
    "matrix",
    "port",
    "explore",
    "onnx",
    "demo",
]

# The errors a command may raise on a bad input: tconv's own checks raise ValueError
# and TypeError; memory and the file system, MemoryError and OSError. Anything else
# is a bug in tconv, reported as an "internal error" (tests look for that phrase).
EXPECTED = (ValueError, TypeError, MemoryError, OSError, OverflowError)
_PACKAGE = Path(__file__).resolve().parent.parent


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="tconv",
        description="Transposed convolutions on NumPy, as the EE-559 lecture explains them.",
        epilog="Run 'tconv COMMAND --help' for a command's options and an example.",
    )
    parser.add_argument("--version", action="version", version=f"tconv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"tconv.cli.commands.{name}").register(sub)
    return parser


def _raised_by_tconv(exc: BaseException) -> bool:
    """Whether the innermost frame of ``exc``'s traceback is tconv's own code: a
    ValueError from NumPy or matplotlib means tconv let a bad input through."""
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve().is_relative_to(_PACKAGE)


def describe(exc: BaseException) -> str:
    """The one line that reports ``exc``: its message, and for an error that tconv
    did not raise itself, where it came from and that it is a bug to report."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, MemoryError):
        return f"out of memory: {message}"
    if isinstance(exc, OSError):
        return message
    if isinstance(exc, EXPECTED) and _raised_by_tconv(exc):
        return message
    return (
        f"internal error: {type(exc).__name__}: {message} (a bug in tconv: please report it; "
        "TCONV_DEBUG=1 shows the traceback)"
    )


def main(argv: list[str] | None = None) -> int:
    """Run ``tconv`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status.

    Usage errors exit with status 2 through ``SystemExit``, as argparse does; an
    error raised by the command is one line on stderr and status 1.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        print("tconv: error: give a COMMAND (the list above)", file=sys.stderr)
        return 2
    command = getattr(args, "parser", parser).prog
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        command_parser: argparse.ArgumentParser = args.parser
        command_parser.error(str(exc))  # a rule between options: argparse's status 2
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("TCONV_DEBUG"):
            raise
        print(f"{command}: error: {describe(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
