"""``tconv examples``: the lecture's worked examples, computed by tconv."""

from __future__ import annotations

import argparse

from ...lecture.examples import EXAMPLES, format_values
from .._common import add_command


def register(sub: argparse._SubParsersAction) -> None:
    add_command(
        sub,
        "examples",
        run,
        help="print the lecture's worked examples computed by tconv",
        description="Compute each worked example of the lecture (EE-559, 9.1) with tconv and "
        "print it next to the value the lecture gives, with 'agrees' or 'DIFFERS'.",
        epilog="example: tconv examples",
        raw=False,
    )


def run(args: argparse.Namespace) -> int:
    failures = 0
    for i, ex in enumerate(EXAMPLES, 1):
        got, ok = ex.run()
        failures += not ok
        print(f"{i}. {ex.title}")
        print(f"   lecture:  {ex.code}")
        print(f"             -> {format_values(ex.expected)}")
        print(f"   tconv:       {format_values(got)}   {'agrees' if ok else 'DIFFERS'}")
        print()
    print(f"{len(EXAMPLES) - failures} of {len(EXAMPLES)} examples agree with the lecture.")
    return 1 if failures else 0
