"""mkdocs hook: the lecture's gallery, drawn by ``tconv tour`` during the docs build.

The figures are computed when the site is built, never committed twice: the tour
(:func:`tconv.lecture.tour.run`) writes them into a temporary folder, each file joins
the site under ``gallery/``, and the marker ``<!-- tour-gallery -->`` in
``docs/lecture.md`` becomes the gallery (figure, the lecture's sentence, PNG/SVG/GIF
links, and the figure's state in ``tconv explore``, from the tour's own mapping), while
``<!-- tour-output -->`` becomes the tour's printed output (the worked examples and the
identities, checked during the build). A failed check fails the build.
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files
    from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.hooks.gallery")

GALLERY = "gallery"  # the figures' folder in the site
RECORD = "record"  # benchmarks/RESULTS*.md, the performance records, in the site
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
LINK = re.compile(r"\[([^\]]+)\]\((?!https?:)([^)#\s]*)(#[^)\s]*)?\)")
PAGE = "lecture.md"
_tour: dict[str, Any] = {}  # one tour per process (mkdocs serve rebuilds on every edit)


def _run_tour() -> dict[str, Any]:
    if _tour:
        return _tour
    from tconv.lecture import tour

    out = Path(tempfile.mkdtemp(prefix="tconv-docs-tour-"))
    lines: list[str] = []
    failures = tour.run(out, echo=lines.append)
    if failures:
        raise RuntimeError(
            f"docs/hooks/gallery.py: tconv tour reported {failures} failed check(s):\n"
            + "\n".join(lines)
        )
    _tour.update(out=out, lines=lines)
    log.info("tconv tour: %d figure files in %s", len(list(out.iterdir())), out)
    return _tour


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the tour's figures to the site, under ``gallery/``, and the benchmark records
    (``benchmarks/RESULTS*.md``) under ``record/``."""
    from mkdocs.structure.files import File

    out = _run_tour()["out"]
    for path in sorted(out.iterdir()):
        if path.suffix in (".png", ".svg", ".gif"):
            files.append(File.generated(config, f"{GALLERY}/{path.name}", abs_src_path=str(path)))
    # the benchmark records, as they are in benchmarks/ (one file, not a copy to keep);
    # RESULTS.md, the index, is the page the nav names: listed here if it is missing
    records = sorted(BENCHMARKS.glob("RESULTS*.md"))
    for path in records:
        text = record_markdown(path.read_text(encoding="utf-8"))
        files.append(File.generated(config, f"{RECORD}/{path.name}", content=text))
    if not (BENCHMARKS / "RESULTS.md").exists():
        files.append(File.generated(config, f"{RECORD}/RESULTS.md", content=record_index(records)))
    return files


def record_index(records: list[Path]) -> str:
    """The records' index page, when ``benchmarks/RESULTS.md`` does not exist."""
    lines = ["# tconv performance records", ""]
    lines += [f"- [{p.name}]({p.name})" for p in records] or ["No record yet."]
    lines += ["", "`python benchmarks/run_all.py` writes the record of the machine at hand."]
    return "\n".join(lines) + "\n"


def record_markdown(text: str) -> str:
    """A benchmark record as a page of the site: links to the other records stay links,
    links to files outside the site (scripts, the README) become their names as code."""

    def link(m: re.Match[str]) -> str:
        target = m[2]
        if re.fullmatch(r"RESULTS[\w-]*\.md", target):
            return m[0]
        return f"`{m[1].strip('`')}`"

    return LINK.sub(link, text)


def _explore(name: str) -> tuple[str, str] | None:
    """The figure's ``tconv explore`` query and URL, from the tour's own mapping
    (``tconv.lecture.tour.EXPLORE_STATES`` and ``explore_url``), or None."""
    from tconv.lecture import tour

    url = tour.explore_url(name)
    if url is None:
        return None
    return tour.EXPLORE_STATES[name], url


def gallery_markdown(out: Path) -> str:
    """The gallery as Markdown: one figure per entry of ``tconv.lecture.figures.FIGURES``."""
    from tconv.lecture.figures import FIGURES

    parts: list[str] = []
    for name, spec in FIGURES.items():
        paths = sorted(p for p in out.iterdir() if p.stem == name)
        if not paths:
            raise RuntimeError(f"docs/hooks/gallery.py: the tour drew no file for {name!r}")
        shown = next((p for p in paths if p.suffix in (".png", ".gif")), paths[0])
        links = " · ".join(f"[{p.suffix[1:]}]({GALLERY}/{p.name})" for p in paths)
        parts.append(f"### {name}\n")
        parts.append(f"![{spec.caption}]({GALLERY}/{shown.name})\n")
        parts.append(f"> “{spec.caption}”\n")
        line = f"Files: {links}."
        live = _explore(name)
        if live is not None:
            query, url = live
            line += f" Live: [this state in the explorer]({url}) (`tconv explore '{query}'`)."
        parts.append(line + "\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Replace the lecture page's markers with the tour's output and its gallery."""
    if page.file.src_uri != PAGE:
        return markdown
    tour = _run_tour()
    # the examples and the identities; the figures' progress lines are the gallery below
    shown = []
    for line in tour["lines"]:
        if line.lstrip("\n").startswith("== The figures"):
            break
        shown.append(line)
    output = "```text\n" + "\n".join(shown).strip("\n") + "\n```\n"
    for marker, text in (
        ("<!-- tour-output -->", output),
        ("<!-- tour-gallery -->", gallery_markdown(tour["out"])),
    ):
        if marker not in markdown:
            raise RuntimeError(f"docs/hooks/gallery.py: {PAGE} lacks the marker {marker}")
        markdown = markdown.replace(marker, text)
    return markdown
