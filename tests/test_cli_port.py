"""`tconv port` without the frameworks: the report, the help's example, and hostile
arguments failing in one line (tests/test_compat_port.py runs the recipes themselves)."""

from __future__ import annotations

import pytest

from tconv.compat import Layer, port
from test_cli_hostile import BAD_INT, assert_fails_in_one_line, call


def test_example_reports_size_crop_and_every_framework() -> None:
    code, out, err, _ = call(
        ["port", "--from", "tf", "--kernel", "4", "--stride", "2", "--padding", "SAME",
         "--input", "7"]
    )  # fmt: skip
    assert code == 0, err
    assert "input (7,) -> output (14,)" in out and "crop (start, end) = ((1, 1),)" in out
    for name in ("torch:", "keras:", "jax:", "onnx:", "tconv:"):
        assert name in out
    assert out == port(Layer("tf", 4, 2, "SAME", 7)).text() + "\n"


def test_help_has_an_example() -> None:
    code, out, _, _ = call(["port", "--help"])
    assert code == 0 and "tconv port --from tf --kernel 4" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["--from", "nope", "-k", "3", "--input", "5"],
        ["--from", "tf", "-k", "3", "--input", "5", "--padding", "same"],
        ["--from", "tf", "-k", "3", "--input", "5", "--output-shape", "99"],
        ["--from", "jax", "-k", "3", "--input", "5", "--padding", "2,x"],
        ["--from", "onnx", "-k", "3", "--input", "5", "--padding", "1,2,3"],
        ["--from", "torch", "-k", "3", "3", "3", "--input", "5", "5"],
        ["--from", "torch", "-k", "3", "--input", "5", "5", "5", "5"],
        ["--from", "torch", "-k", "3", "--input", "5", "--padding", "9"],
        ["--from", "keras", "-k", "3", "--input", "5", "--output-shape", "10"],
        ["--from", "torch", "-k", "3", "--input", "5", "--transpose-kernel"],
        ["--from", "tf", "-k", "4", "--stride", "2", "--input", "5", "--output-padding", "1"],
    ],
)
def test_bad_arguments_fail_in_one_line(argv: list[str]) -> None:
    assert_fails_in_one_line(["port", *argv])


def test_hostile_numbers() -> None:
    for option in ("--kernel", "--stride", "--dilation", "--input", "--output-padding"):
        for v in [*BAD_INT, "0"] if option != "--output-padding" else BAD_INT:
            argv = ["port", "--from", "torch", "-k", "3", "--input", "5", option, v]
            assert_fails_in_one_line(argv)
