"""The ``tconv`` command: ``tconv COMMAND [options]`` (also ``python -m tconv``).

Each command lives in its own module under :mod:`tconv.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a
function taking the parsed arguments and returning an exit code. Adding a
command means adding a module and its name to ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__

# Module names under tconv.commands, in the order `tconv --help` lists them.
COMMANDS = ["examples", "tour", "figure", "shape", "plan", "coverage", "matrix", "demo"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tconv",
        description="Transposed convolutions on NumPy, as the EE-559 lecture explains them.",
        epilog="Run 'tconv COMMAND --help' for a command's options and an example.",
    )
    parser.add_argument("--version", action="version", version=f"tconv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"tconv.cli.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
