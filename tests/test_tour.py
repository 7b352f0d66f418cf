"""The main job: ``tconv tour`` prints the lecture's examples and identities and
writes every figure, the animations and the gallery."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("matplotlib")


def test_tour_writes_everything(tmp_path, capsys) -> None:
    from tconv.cli import main
    from tconv.lecture.figures import FIGURES

    out = tmp_path / "tour"
    assert main(["tour", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.count("agrees") == 3 and "DIFFERS" not in text
    assert "[2, 7, 4, -4, -2, 1]" in text
    assert text.count("[ok]") == 4 and "FAILED" not in text
    pngs, svgs, gifs = (sorted(out.glob(f"*.{e}")) for e in ("png", "svg", "gif"))
    assert len(pngs) >= 12 and len(svgs) == len(pngs) and len(gifs) >= 4
    index = (out / "index.html").read_text()
    for path in [*pngs, *gifs]:
        assert f"src='{path.name}'" in index or f"href='{path.name}'" in index, path.name
    for svg in svgs:
        assert f"href='{svg.name}'" in index
    # every figure is captioned with its sentence from the lecture
    captions = re.findall(r"<figcaption>“(.*?)”", index)
    assert len(captions) == len(FIGURES)


def test_figure_command(tmp_path, capsys) -> None:
    from tconv.cli import main

    assert (
        main(
            [
                "figure",
                "conv-transpose",
                "--x",
                "1",
                "2",
                "3",
                "--kernel",
                "1",
                "0",
                "-1",
                "--stride",
                "2",
                "--padding",
                "1",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert (tmp_path / "conv-transpose.png").exists() and (tmp_path / "conv-transpose.svg").exists()
    assert (
        main(
            [
                "figure",
                "coverage-2d",
                "--kernel",
                "4",
                "--stride",
                "3",
                "--size",
                "8",
                "8",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert main(["figure", "anim-conv2d", "--stride", "1", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "anim-conv2d.gif").exists()
    assert main(["figure", "--list"]) == 0
    assert "coverage-2d" in capsys.readouterr().out
    assert main(["figure", "nope"]) == 2
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(["figure", "artifacts", "--stride", "2", "--out", str(tmp_path)])
    assert info.value.code == 2 and "has no --stride" in capsys.readouterr().err
