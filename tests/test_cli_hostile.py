"""Every ``tconv`` command with hostile arguments fails fast, in one line, without a
traceback.

The rule, for each call: exit status 1 (the command failed) or 2 (a usage error,
argparse's convention); exactly one non-empty line on stderr, which starts with
``tconv`` and says ``error:``; no ``Traceback`` and no ``internal error`` (what
:func:`tconv.cli.main` prints for an exception that tconv did not raise itself,
i.e. a bug); under ``LIMIT_S`` seconds.

Calls run in-process (``tconv.cli.main``, with stdout and stderr captured and
``SystemExit`` caught), under a SIGALRM timer; a few run end to end in a
subprocess. Hostile arguments must fail before any work starts, so the whole file
takes seconds even though ``tour``, ``demo`` and the animations take minutes when
they succeed.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")  # before matplotlib is imported

from tconv.cli import main
from tconv.cli._common import MAX_VALUE
from tconv.lecture.figures import FIGURES

LIMIT_S = 10.0

# Integers no option takes: negative, absurd, not an integer at all.
BAD_INT = ["-1", "1000000000", "1000000000000000000", "nan", "inf", "abc", "", "2.5", "1e3"]
# Numbers no value option (--x, --kernel values, --weights) takes.
BAD_VALUE = ["nan", "inf", "1e18", f"{MAX_VALUE * 10:g}", "abc", ""]


class Timeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`Timeout` in the main thread after ``seconds`` (Unix timers)."""

    def alarm(signum: int, frame: object) -> None:
        raise Timeout(f"over {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def call(argv: list[str]) -> tuple[int, str, str, float]:
    """``tconv argv`` in-process: exit status, stdout, stderr, seconds."""
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            with time_limit(LIMIT_S + 5):
                code = main(argv)
        except SystemExit as exc:
            if isinstance(exc.code, str):  # what Python does with SystemExit("message")
                print(exc.code, file=sys.stderr)
                code = 1
            else:
                code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue(), time.perf_counter() - start


def assert_fails_in_one_line(argv: list[str]) -> str:
    """The rule of this file (see the module's docstring); the error line."""
    code, _, err, seconds = call(argv)
    shown = "tconv " + " ".join(repr(a) if not a or " " in a else a for a in argv)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err, f"{shown}: traceback\n{err}"
    assert code in (1, 2), f"{shown}: exit status {code}, stderr {err!r}"
    assert len(lines) == 1, f"{shown}: {len(lines)} lines on stderr:\n{err}"
    assert lines[0].startswith("tconv") and "error:" in lines[0], f"{shown}: {lines[0]!r}"
    assert "internal error" not in lines[0], f"{shown}: {lines[0]}"
    assert seconds < LIMIT_S, f"{shown}: {seconds:.1f} s"
    return lines[0]


@pytest.fixture(autouse=True, scope="module")
def _in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Run in a scratch folder: a command that wrongly succeeds writes there."""
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    debug = os.environ.pop("TCONV_DEBUG", None)
    try:
        yield
    finally:
        os.chdir(cwd)
        if debug is not None:
            os.environ["TCONV_DEBUG"] = debug


def bad_paths(tmp: Path) -> list[str]:
    """Output folders that cannot be created or written."""
    (tmp / "a-file").write_text("not a folder")
    return ["/proc/tconv-x", "/proc/tconv-x/y", "/dev/null/x", str(tmp / "a-file"),
            str(tmp / "a-file" / "sub"), ""]  # fmt: skip


# --- The reported cases -------------------------------------------------------

REPORTED = [
    ["shape", "10000000000", "-k", "3"],
    ["plan", "16", "1000000000"],
    ["coverage", "-k", "1000000000", "--size", "8"],
    ["matrix", "--size", "100000"],
    ["figure", "anim-conv-transpose2d", "--size", "0"],
    ["figure", "direct-view", "--stride", "0"],
    ["tour", "--out", "/proc/x"],
    ["coverage", "-k", "3", "--size", "8", "--png", "/proc/x/c.png"],
    # found by fuzzing: numpy's MemoryError, hangs, matplotlib's errors
    ["shape", "16", "-k", "3", "-p", "1000000000000000000"],
    ["shape", "16", "-k", "3", "-a", "5", "-s", "2"],
    ["plan", "16", "32", "--max-stride", "1000000000000000000"],
    ["plan", "16", "32", "--ndim", "1000000000"],
    ["plan", "1", "1000000"],
    ["coverage", "--size", "8", "-k", "3", "-s", "1000000000"],
    ["coverage", "--size", "64", "64", "64", "-k", "64"],
    ["coverage", "--size", "8", "-k", "3", "-p", "10"],
    ["matrix", "--size", "64", "64"],
    ["matrix", "--size", "4", "--kernel-size", "9"],
    ["figure", "coverage-1d", "--stride", "1000000000"],
    ["figure", "coverage-1d", "--size", "1000000000"],
    ["figure", "matrix", "--size", "32"],
    ["figure", "anim-conv2d", "--size", "12", "12", "--stride", "1"],
    ["figure", "anim-conv-transpose2d", "--size", "6", "6"],
    ["figure", "conv-transpose", "--x", *["1"] * 17],
    ["figure", "conv-transpose", "--x", "1", "2", "3", "--stride", "40"],
    ["figure", "coverage-2d", "--size", "8", "8", "8"],
    ["figure", "direct-view", "--padding", "5"],
    ["figure", "composition", "--size", "9", "10", "11", "12", "13"],
    ["figure", "artifacts", "--size", "64"],
    ["figure", "stride", "--output-padding", "2"],
    ["demo", "dream", "--canvas", "22"],
]


@pytest.mark.parametrize("argv", REPORTED, ids=lambda a: " ".join(a)[:60])
def test_reported_cases(argv: list[str]) -> None:
    assert_fails_in_one_line(argv)


def test_caps_name_the_option_the_rule_and_the_value() -> None:
    line = assert_fails_in_one_line(["shape", "10000000000", "-k", "3"])
    assert line.startswith("tconv shape: error: argument size:")
    assert "1..1000000" in line and "10000000000" in line
    line = assert_fails_in_one_line(["figure", "direct-view", "--stride", "0"])
    assert "--stride" in line and "1..64" in line and "got 0" in line
    line = assert_fails_in_one_line(["coverage", "-k", "3", "--size", "8", "--png", "c.gif"])
    assert ".png, .svg, .pdf, .jpg" in line and "'.gif'" in line


# --- Every command, every option -------------------------------------------------------


def _cases() -> list[list[str]]:
    cases: list[list[str]] = [
        [],
        ["nope"],
        ["--nope"],
        ["examples", "--nope"],
        ["figure"],
        ["figure", "nope"],
        ["demo"],
        ["demo", "nope"],
    ]
    for v in BAD_INT + ["0"]:
        cases += [
            ["shape", v, "-k", "3"],
            ["shape", "16", "-k", v],
            ["shape", "16", "-k", "3", "-s", v],
            ["shape", "16", "-k", "3", "-d", v],
            ["plan", v, "32"],
            ["plan", "16", v],
            ["plan", "16", "32", "--max-kernel", v],
            ["plan", "16", "32", "--max-stride", v],
            ["plan", "16", "32", "--max-dilation", v],
            ["plan", "16", "32", "--ndim", v],
            ["plan", "16", "32", "--channels", v, "1"],
            ["coverage", "-k", "3", "--size", v],
            ["coverage", "--size", "8", "-k", v],
            ["coverage", "--size", "8", "-k", "3", "-s", v],
            ["coverage", "--size", "8", "-k", "3", "-d", v],
            ["matrix", "--size", v],
            ["matrix", "--kernel-size", v],
            ["matrix", "-s", v],
            ["matrix", "-d", v],
            ["demo", "digits", "--batch-size", v],
            ["demo", "digits", "--threads", v],
            ["demo", "dream", "--canvas", v],
            ["demo", "dream", "--threads", v],
        ]
    for v in BAD_INT:  # 0 is a valid padding, output_padding, epoch count, seed, --top
        cases += [
            ["shape", "16", "-k", "3", "-p", v],
            ["shape", "16", "-k", "3", "-a", v],
            ["plan", "16", "32", "--top", v],
            ["coverage", "--size", "8", "-k", "3", "-p", v],
            ["coverage", "--size", "8", "-k", "3", "-a", v],
            ["matrix", "-p", v],
            ["demo", "digits", "--epochs", v],
            ["demo", "dream", "--epochs", v],
            ["demo", "dream", "--steps", v],
        ]
    for v in ["-1", "1e18", "abc", ""]:
        cases += [["demo", "digits", "--seed", v], ["demo", "dream", "--seed", v]]
    for v in ["0", "-1", "1000000000000000000", "nan", "abc"]:  # a large target is a question
        cases.append(["shape", "16", "-k", "3", "--to", v])
    for v in BAD_VALUE:
        cases.append(["matrix", "--weights", v])
    for v in BAD_VALUE + ["0", "-1", "100"]:
        cases.append(["demo", "digits", "--lr", v])
    for suffix in ["c.gif", "c.xyz", "c", ".png", ""]:
        cases.append(["coverage", "-k", "3", "--size", "8", "--png", suffix])
    cases += [
        ["demo", "digits", "--dataset", "nope"],
        ["demo", "digits", "--variants", "nope"],
        ["coverage", "-k", "3", "--size", "8", "--color", "nope"],
    ]
    return cases


def _by_command(cases: list[list[str]]) -> dict[str, list[list[str]]]:
    groups: dict[str, list[list[str]]] = {}
    for argv in cases:
        groups.setdefault(" ".join(argv[:2] if argv[:1] == ["demo"] else argv[:1]), []).append(argv)
    return groups


HOSTILE = _by_command(_cases())


@pytest.mark.parametrize("command", list(HOSTILE))
def test_hostile_numbers(command: str) -> None:
    """One test per command (pytest's overhead would dominate one per call)."""
    for argv in HOSTILE[command]:
        assert_fails_in_one_line(argv)


def _figure_cases(name: str) -> list[list[str]]:
    """Figure ``name`` with every option and every hostile value that the figure
    refuses (``-1`` is a fine value of a kernel tap, not of a size)."""
    cases = []
    for spec in [FIGURES[name]]:
        accepted = inspect.signature(spec.function).parameters
        values = "x" in accepted  # --x and --kernel are values, not sizes
        options = {
            "--x": BAD_VALUE if values else BAD_INT,
            "--kernel": BAD_VALUE if values else [*BAD_INT, "0", "3 3"],
            "--stride": [*BAD_INT, "0"],
            "--padding": BAD_INT,
            "--output-padding": BAD_INT,
            "--dilation": [*BAD_INT, "0"],
            "--size": [*BAD_INT, "0"],
        }
        for option, bad in options.items():
            for v in bad:
                cases.append(["figure", name, option, *(v.split() or [v])])
    return cases


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_figure_with_hostile_options(name: str) -> None:
    for argv in _figure_cases(name):
        assert_fails_in_one_line(argv)


def test_figure_list_is_the_registry() -> None:
    code, out, _, _ = call(["figure", "--list"])
    assert code == 0 and [ln.split()[0] for ln in out.splitlines()] == list(FIGURES)


def test_bad_output_folders(tmp_path: Path) -> None:
    for path in bad_paths(tmp_path):
        for argv in (
            ["tour", "--out", path],
            ["figure", "conv", "--out", path],
            ["figure", "anim-conv1d", "--out", path],
            ["demo", "digits", "--dataset", "synthetic", "--epochs", "0", "--out", path],
            ["demo", "dream", "--dataset", "synthetic", "--epochs", "0", "--out", path],
        ):
            assert_fails_in_one_line(argv)
        if path:
            png = f"{path}/c.png"
            assert_fails_in_one_line(["coverage", "-k", "3", "--size", "8", "--png", png])


def test_missing_output_folders_are_created(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "new" / "deeper" / "cov.png"
    code, _, err, _ = call(["coverage", "-k", "3", "-s", "2", "--size", "4", "--png", str(png)])
    assert code == 0 and err == "" and png.read_bytes()[:4] == b"\x89PNG"
    folder = tmp_path / "figs" / "more"
    code, _, err, _ = call(["figure", "coverage-1d", "--out", str(folder)])
    assert code == 0 and (folder / "coverage-1d.png").exists()


# --- The safety net --------------------------------------------------------------------


def test_the_net_reports_errors_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # (TCONV_DEBUG is unset for the module and set by monkeypatch below only)
    """A tconv error is its message (status 1); an error that tconv did not raise is
    an "internal error" to report, and TCONV_DEBUG=1 shows its traceback."""
    import tconv.cli.commands.examples as examples
    from tconv import shapes

    def tconv_error(args: object) -> int:
        shapes.conv_output_size(2, 5)  # tconv's own ValueError
        return 0

    def a_bug(args: object) -> int:
        return [][1]  # type: ignore[no-any-return]

    monkeypatch.setattr(examples, "run", tconv_error)
    code, _, err, _ = call(["examples"])
    assert code == 1 and err.startswith("tconv examples: error: conv_output_size")
    assert "internal error" not in err and len(err.splitlines()) == 1
    monkeypatch.setattr(examples, "run", a_bug)
    code, _, err, _ = call(["examples"])
    assert code == 1 and "internal error: IndexError" in err and len(err.splitlines()) == 1
    monkeypatch.setenv("TCONV_DEBUG", "1")
    with pytest.raises(IndexError):
        main(["examples"])


# --- End to end ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["shape", "10000000000", "-k", "3"],
        ["figure", "direct-view", "--stride", "0"],
        ["tour", "--out", "/proc/x"],
    ],
)
def test_end_to_end(argv: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    env.pop("TCONV_DEBUG", None)
    start = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "tconv", *argv],
        capture_output=True,
        text=True,
        timeout=LIMIT_S * 3,
        env=env,
        cwd=tmp_path,
    )
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode in (1, 2) and len(lines) == 1 and "Traceback" not in r.stderr
    assert time.perf_counter() - start < LIMIT_S * 3  # the interpreter's start included
