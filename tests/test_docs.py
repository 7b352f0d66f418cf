"""The documentation's code runs: every code block of docs/ is a doctest, or says why not.

pytest collects docs/*.md with ``--doctest-glob=*.md`` (pyproject.toml), so a block whose
first line is ``>>>`` runs in the test suite. Any other fenced block (a shell command, a
program's output, code that needs a server, a file or minutes) must follow an HTML
comment ``<!-- not run: the reason -->``, invisible on the site.
"""

from __future__ import annotations

import re
from pathlib import Path

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
