"""The analysis commands: shape, plan, coverage, matrix."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tconv.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", ["shape", "plan", "coverage", "matrix"])
def test_help_has_an_example(capsys, command) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "example" in out and f"tconv {command}" in out


def test_shape_forwards_with_the_users_numbers(capsys) -> None:
    code, out, _ = run(capsys, "shape", "16", "--kernel", "4", "--stride", "2", "--padding", "1")
    assert code == 0
    assert "floor((16 + 2*1 - 1*(4-1) - 1) / 2) + 1 = floor(14/2) + 1 = 8" in out
    assert "(16-1)*2 - 2*1 + 1*(4-1) + 0 + 1 = 32" in out
    assert "16 -> 8 -> 16, size preserved" in out
    assert "a conv maps sizes 32..33 to 16" in out


def test_shape_ignored_inputs_and_target(capsys) -> None:
    code, out, _ = run(capsys, "shape", "8", "-k", "3", "-s", "2", "--to", "18")
    assert code == 0
    assert "8 -> 3 -> 7" in out and "output_padding=1 restores 8" in out
    assert "1 of 8 never read by the conv: [7]" in out
    assert "output_padding = 18 - 17 = 1" in out


def test_shape_unreachable_target_suggests(capsys) -> None:
    code, out, _ = run(capsys, "shape", "8", "-k", "3", "-s", "2", "--to", "16")
    assert code == 1
    assert "impossible" in out and "reaches sizes 17 to 18" in out
    assert "use padding=1, output_padding=1" in out


def test_shape_per_dim_and_errors(capsys) -> None:
    code, out, _ = run(capsys, "shape", "9", "8", "-k", "3", "-s", "2")
    assert code == 0 and "dim 0:" in out and "dim 1:" in out
    assert out.count("size preserved") == 1
    with pytest.raises(SystemExit) as info:
        main(["shape", "9", "8", "-k", "3", "2", "1"])
    assert info.value.code == 2 and "--kernel takes 1 value or 2" in capsys.readouterr().err
    # out of range: a usage error at parse time (one line on stderr, status 2)
    with pytest.raises(SystemExit) as info:
        main(["shape", "8", "-k", "3", "-s", "0"])
    assert (
        info.value.code == 2 and "--stride: must be in 1..1000000, got 0" in capsys.readouterr().err
    )


def test_plan_table(capsys) -> None:
    code, out, _ = run(capsys, "plan", "16", "32", "--max-kernel", "5")
    assert code == 0
    lines = out.splitlines()
    assert re.match(r"\d+ layers map 16 -> 32", lines[0])
    assert lines[1].split() == ["#", "layer", "artifact-free", "uniform", "borders", "params"]
    body = [ln for ln in lines[3:] if re.match(r"\s*\d+\s", ln)]
    assert len(body) == int(lines[0].split()[0])
    k4 = next(ln for ln in body if "ConvTranspose(kernel_size=4, stride=2, padding=1)" in ln)
    assert k4.split()[-3:] == ["yes", "no", "16"]
    k3 = next(ln for ln in body if "kernel_size=3, stride=2, padding=1, output_padding=1" in ln)
    assert "NO" in k3.split()
    # artifact-free rows come first
    flags = ["NO" not in ln.split() for ln in body]
    assert flags == sorted(flags, reverse=True)


def test_plan_options_and_nothing_found(capsys) -> None:
    code, out, _ = run(
        capsys, "plan", "16", "32", "--no-resize", "--top", "2", "--channels", "3", "5"
    )
    assert code == 0 and "(showing 2)" in out and "interpolate" not in out
    assert "ConvTranspose(kernel_size=2, stride=2)" in out and " 60" in out  # 3*5*2^2
    code, out, _ = run(capsys, "plan", "16", "40", "--max-kernel", "1", "--no-resize")
    assert code == 1 and "no layer maps 16 to 40" in out
    with pytest.raises(SystemExit) as info:
        main(["plan", "0", "4"])
    assert (
        info.value.code == 2
        and "argument input: must be in 1..1000000, got 0" in capsys.readouterr().err
    )


def test_coverage_lecture_map(capsys) -> None:
    code, out, _ = run(
        capsys, "coverage", "--kernel", "4", "--stride", "3", "--size", "8", "8", "--color", "never"
    )
    assert code == 0
    lines = out.splitlines()
    assert "output (25, 25)" in lines[0] and "values 1..4" in lines[0]
    grid = np.array([[int(v) for v in ln.split()] for ln in lines[1:26]])
    assert grid.shape == (25, 25)
    np.testing.assert_array_equal(grid[3:6, 3:6], [[4, 2, 2], [2, 1, 1], [2, 1, 1]])
    tile_at = lines.index(next(ln for ln in lines if ln.startswith("interior tile")))
    assert [ln.split() for ln in lines[tile_at + 1 : tile_at + 4]] == [
        ["4", "2", "2"],
        ["2", "1", "1"],
        ["2", "1", "1"],
    ]
    assert "NOT uniform" in out


def test_coverage_uniform_color_1d_3d(capsys) -> None:
    code, out, _ = run(
        capsys, "coverage", "-k", "4", "-s", "2", "-p", "1", "--size", "6", "6", "--color", "always"
    )
    assert code == 0 and "\x1b[48;5;" in out and "uniform interior" in out
    code, out, _ = run(capsys, "coverage", "-k", "3", "-s", "2", "--size", "4", "--color", "never")
    assert code == 0 and "1 1 2 1 2 1 2 1 1" in out
    code, out, _ = run(capsys, "coverage", "-k", "2", "-s", "2", "--size", "2", "2", "2")
    assert code == 0 and "[3]" in out and "\x1b" not in out  # not a tty under capsys
    with pytest.raises(SystemExit) as info:
        main(["coverage", "-k", "2", "--size", "1", "2", "3", "4"])
    assert info.value.code == 2 and "1 to 3 values" in capsys.readouterr().err


def test_coverage_png(capsys, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "cov.png"
    code, out, _ = run(
        capsys, "coverage", "-k", "3", "-s", "2", "--size", "5", "5", "--png", str(path)
    )
    assert code == 0 and path.stat().st_size > 1000 and f"saved {path}" in out
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_matrix_lecture_default(capsys) -> None:
    code, out, _ = run(capsys, "matrix")
    assert code == 0
    assert "k1 k2 k3  0  0  0  0" in out and "   0  0  0  0 k1 k2 k3" in out
    assert "M' == M^T (the transposed convolution's matrix is the transpose): yes" in out
    assert "M (5 x 7)" in out and "M' (7 x 5)" in out


def test_matrix_numeric_strided_2d(capsys) -> None:
    code, out, _ = run(capsys, "matrix", "--size", "4", "--weights", "1", "2", "-1")
    assert code == 0
    assert ["1", "2", "-1", "0"] in [ln.split() for ln in out.splitlines()]
    code, out, _ = run(capsys, "matrix", "--size", "8", "--kernel-size", "3", "--stride", "2")
    assert code == 0 and "output_padding=(1,)" in out and ": yes" in out
    code, out, _ = run(capsys, "matrix", "--size", "3", "3", "--kernel-size", "2", "2")
    assert code == 0 and "M (4 x 9)" in out and "k4" in out and ": yes" in out
    with pytest.raises(SystemExit) as info:
        main(["matrix", "--size", "4", "--weights", "1", "2", "--kernel-size", "3"])
    assert info.value.code == 2 and "--weights: needs" in capsys.readouterr().err
