"""The documentation's code runs: every code block of docs/ is a doctest, or says why not.

pytest collects docs/*.md with ``--doctest-glob=*.md`` (pyproject.toml), so a block whose
first line is ``>>>`` runs in the test suite. Any other fenced block (a shell command, a
program's output, code that needs a server, a file or minutes) must follow an HTML
comment ``<!-- not run: the reason -->``, invisible on the site.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "hooks" not in p.relative_to(DOCS).parts)
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)$")
NOT_RUN = re.compile(r"^\s*<!-- not run: (?P<reason>\S.*?)\s*-->\s*$")


def code_blocks(text: str) -> list[tuple[int, str, list[str]]]:
    """The fenced blocks of a Markdown text: (line number of the fence, info, body lines)."""
    lines = text.split("\n")
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        start, close = i, m["fence"]
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(close):
            i += 1
        blocks.append((start + 1, m["info"].strip(), lines[start + 1 : i]))
        i += 1
    return blocks


def reason_before(lines: list[str], fence_line: int) -> str | None:
    """The reason of the ``<!-- not run: ... -->`` comment right above a fence, if any."""
    i = fence_line - 2
    while i >= 0 and not lines[i].strip():
        i -= 1
    m = NOT_RUN.match(lines[i]) if i >= 0 else None
    return m["reason"] if m else None


def test_code_blocks_are_found() -> None:
    blocks = code_blocks("a\n\n```python\n>>> 1\n1\n```\n\n~~~text\nout\n~~~\n")
    assert [(n, info, body) for n, info, body in blocks] == [
        (3, "python", [">>> 1", "1"]),
        (8, "text", ["out"]),
    ]
    lines = "<!-- not run: starts a server -->\n\n```bash\ntconv explore\n```".split("\n")
    assert reason_before(lines, 3) == "starts a server"
    assert reason_before(["<!-- not run: -->", "```"], 2) is None


def test_pytest_collects_the_docs_doctests() -> None:
    text = (ROOT / "pyproject.toml").read_text()  # tomllib is 3.11+; the lines suffice
    testpaths = re.search(r"^testpaths = \[(.*)\]$", text, re.M)
    addopts = re.search(r'^addopts = "(.*)"$', text, re.M)
    assert testpaths is not None and '"docs"' in testpaths[1].split(", ")
    assert addopts is not None and "--doctest-glob=*.md" in addopts[1].split()


def test_the_guides_have_doctests() -> None:
    doctests = [p.name for p in PAGES if any(b[2] and b[2][0].startswith(">>>") for b in
                                              code_blocks(p.read_text(encoding="utf-8")))]  # fmt: skip
    assert len(doctests) >= 5, doctests


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(DOCS)) for p in PAGES])
def test_every_code_block_runs_or_says_why_not(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    lines = text.split("\n")
    unmarked = []
    for line, info, body in code_blocks(text):
        first = next((b.strip() for b in body if b.strip()), "")
        if first.startswith(">>>"):
            assert reason_before(lines, line) is None, (
                f"{page.name}:{line}: a doctest marked as not run"
            )
            continue
        if reason_before(lines, line) is None:
            unmarked.append(f"{page.relative_to(ROOT)}:{line} ({info or 'no language'})")
    assert not unmarked, (
        "code blocks that are neither doctests (first line >>>) nor marked "
        "<!-- not run: reason -->: " + ", ".join(unmarked)
    )


def _hook(name: str) -> Any:
    """Import one of docs/hooks/*.py (the site build's plugins) as a module."""
    spec = importlib.util.spec_from_file_location(
        f"docs_hook_{name}", DOCS / "hooks" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_gallery_shows_every_figure_with_its_caption_and_explore_state(tmp_path) -> None:
    from tconv.lecture import tour
    from tconv.lecture.figures import FIGURES

    gallery = _hook("gallery")
    for name, spec in FIGURES.items():  # the files the tour writes, empty: no drawing here
        for suffix in (".gif",) if spec.animation else (".png", ".svg"):
            (tmp_path / f"{name}{suffix}").write_bytes(b"")
    text = gallery.gallery_markdown(tmp_path)
    sections = text.split("### ")[1:]
    assert [s.split("\n", 1)[0] for s in sections] == list(FIGURES)
    linked = 0
    for name, section in zip(FIGURES, sections):
        assert FIGURES[name].caption in section
        shown = f"{name}.gif" if FIGURES[name].animation else f"{name}.png"
        assert f"]({gallery.GALLERY}/{shown})" in section
        url = tour.explore_url(name)
        if url is None:
            assert "explore" not in section, name
        else:
            linked += 1
            assert f"]({url})" in section and tour.EXPLORE_STATES[name] in section, name
    assert linked >= 10, linked


def test_the_gallery_refuses_a_figure_the_tour_did_not_draw(tmp_path) -> None:
    with pytest.raises(RuntimeError, match="drew no file"):
        _hook("gallery").gallery_markdown(tmp_path)


def test_docstrings_doctests_render_as_code() -> None:
    pytest.importorskip("griffe")  # the docs extra
    hook = _hook("griffe_doctests")
    text = "Sum.\n\n>>> f([1])\n[[0, 1]]\n\nSee :func:`tconv.shapes.conv_output_size`::\n"
    fenced = hook.render(text)
    assert fenced == (
        "Sum.\n\n```pycon\n>>> f([1])\n[[0, 1]]\n```\n\nSee ``tconv.shapes.conv_output_size``:\n"
    )
    already = "```pycon\n>>> 1\n1\n```"
    assert hook.fence_doctests(already) == already
    numpy_style = "Sum.\n\n>>> 1\n1\n\nExamples\n--------\n>>> 2\n2\n"
    assert hook.render(numpy_style) == (
        "Sum.\n\n```pycon\n>>> 1\n1\n```\n\nExamples\n--------\n>>> 2\n2\n"
    )
    lines = ["X = 1", "#: the answer", "#: twice", "Y = 2"]
    assert hook.comment_docstring(lines, 4) == "the answer twice"
    assert hook.comment_docstring(lines, 1) == ""


def test_the_benchmark_records_join_the_site_with_their_links_kept_inside_it() -> None:
    record = _hook("gallery").record_markdown
    text = "[a](RESULTS-intel.md) [b](bench_conv.py) [c](https://x.org/y) [`d`](../README.md#s)"
    assert record(text) == "[a](RESULTS-intel.md) `b` [c](https://x.org/y) `d`"
    assert list((ROOT / "benchmarks").glob("RESULTS*.md")), "no benchmark record to show"
    index = _hook("gallery").record_index([Path("RESULTS-intel.md")])
    assert index.startswith("# ") and "[RESULTS-intel.md](RESULTS-intel.md)" in index
