"""Where the performance record goes: one RESULTS file per machine family, an index,
and the README's generated speed block.

    python benchmarks/record.py --check README.md docs/guides/speed.md   # blocks = records
    python benchmarks/record.py --write README.md docs/guides/speed.md   # copy the summary
    python benchmarks/record.py --index             # rewrite benchmarks/RESULTS.md

``run_all.py`` writes ``benchmarks/RESULTS-<family>.md`` for the machine it runs on
(``family()``: intel or amd by ``/proc/cpuinfo``'s vendor_id, else the architecture)
and then the index ``benchmarks/RESULTS.md``, which links every family's file with the
machine it came from. The record's "## Summary" section (between ``SUMMARY_BEGIN`` and
``SUMMARY_END``) is what the README shows, between
``<!-- speed summary: benchmarks/RESULTS-<family>.md -->`` and ``<!-- end of speed
summary -->``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
FAMILIES = {"GenuineIntel": "intel", "AuthenticAMD": "amd"}
NAMES = {"intel": "Intel", "amd": "AMD"}
SUMMARY_BEGIN = "<!-- summary: begin -->"
SUMMARY_END = "<!-- summary: end -->"
README_BEGIN = re.compile(r"<!-- speed summary: (\S+) -->")
README_END = "<!-- end of speed summary -->"
# Hand-written section of the index, kept when run_all.py rewrites it.
INDEX_KEPT = "## AMD: the numbers issue 18 quotes (not re-run)"


def cpu_name() -> str:
    """The CPU's model name (lscpu, else /proc/cpuinfo, else platform)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        names = [ln.split(":", 1)[1].strip() for ln in out.splitlines()
                 if ln.startswith("Model name")]  # fmt: skip
        if names:
            return names[0]
    except OSError:
        pass
    return _cpuinfo("model name") or platform.processor() or "unknown CPU"


def _cpuinfo(key: str) -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    for line in text.splitlines():
        if line.split(":", 1)[0].strip() == key:
            return line.split(":", 1)[1].strip()
    return ""


def family() -> str:
    """'intel' or 'amd' by the CPU's vendor (model name as a fallback), else the
    architecture in lower case (e.g. 'aarch64')."""
    vendor = _cpuinfo("vendor_id")
    if vendor in FAMILIES:
        return FAMILIES[vendor]
    name = cpu_name().lower()
    for key in ("intel", "amd"):
        if key in name:
            return key
    return (platform.machine() or "unknown").lower()


def results_path(fam: str | None = None) -> Path:
    """benchmarks/RESULTS-<family>.md of this machine (or of ``fam``)."""
    return HERE / f"RESULTS-{fam or family()}.md"


def section(text: str, heading: str) -> str:
    """The section of ``text`` that starts at ``heading``, up to the next ``## ``."""
    if heading not in text:
        return ""
    rest = text[text.index(heading) :]
    end = rest.find("\n## ", len(heading))
    return (rest if end < 0 else rest[:end]).rstrip("\n")


def measured_line(path: Path) -> str:
    """The record's "Measured <date> on: <machine>." line, without the prefix."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("Measured "):
            return line[len("Measured ") :].replace(" on: ", " on ", 1).rstrip(".")
    return "(no 'Measured' line)"


def write_index(path: Path = HERE / "RESULTS.md") -> str:
    """Rewrite the index: a line per RESULTS-<family>.md present, the families seen so
    far (Intel, AMD) without a record named, and the hand-written section kept."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    lines = [
        "# tconv performance records, one per machine family",
        "",
        "`python benchmarks/run_all.py` times the public suite on the machine at hand and "
        "writes the record of its family (by `/proc/cpuinfo`'s vendor), then this index. "
        "Ratios are tconv's time over the peer's: below 1, tconv is faster.",
        "",
    ]
    present = sorted(HERE.glob("RESULTS-*.md"))
    for file in present:
        fam = file.stem.split("-", 1)[1]
        lines.append(f"- [{file.name}]({file.name}) ({NAMES.get(fam, fam)}): "
                     f"measured {measured_line(file)}.")  # fmt: skip
    for fam, name in NAMES.items():
        if not results_path(fam).exists():
            lines.append(f"- {name}: no record yet (`RESULTS-{fam}.md` is written by a run "
                         f"on an {name} machine).")  # fmt: skip
    kept = section(old, INDEX_KEPT)
    if kept:
        lines += ["", kept]
    text = "\n".join(lines) + "\n"
    path.write_text(text, encoding="utf-8")
    return text


def summary(record: Path) -> str:
    """The record's summary block (without its markers)."""
    text = record.read_text(encoding="utf-8")
    if SUMMARY_BEGIN not in text or SUMMARY_END not in text:
        # A record written before run_all.py wrote summaries: say so, and quote its
        # geometric means against PyTorch, the one summary line it has.
        means = [ln for ln in text.splitlines() if ln.startswith("Geometric mean of the ratios")]
        return (
            f"No summary yet: `{record.name}` (measured {measured_line(record)}) predates "
            "the record's summary and its onnxruntime and JAX columns; `python "
            "benchmarks/run_all.py --readme README.md docs/guides/speed.md` writes both."
            + (f" That record's line: {means[0]}" if means else "")
        )
    return text.split(SUMMARY_BEGIN, 1)[1].split(SUMMARY_END, 1)[0].strip("\n")


def readme_block(readme: Path) -> tuple[str, Path, str]:
    """(README text, the record its block names, the block's current body)."""
    text = readme.read_text(encoding="utf-8")
    m = README_BEGIN.search(text)
    if m is None or README_END not in text[m.end() :]:
        raise ValueError(f"{readme}: no '<!-- speed summary: PATH -->' ... '{README_END}' "
                         "block")  # fmt: skip
    body = text[m.end() :].split(README_END, 1)[0].strip("\n")
    return text, readme.parent / m.group(1), body


def write_readme(readme: Path, record: Path | None = None) -> bool:
    """Put ``record``'s summary (default: the one the block names) into the README's
    block, naming ``record``; True if the README changed."""
    text, named, _ = readme_block(readme)
    record = record or named
    rel = Path(os.path.relpath(record.resolve(), readme.parent.resolve())).as_posix()
    m = README_BEGIN.search(text)
    assert m is not None
    end = text.index(README_END, m.end())
    new = (text[: m.start()] + f"<!-- speed summary: {rel} -->\n" + summary(record) + "\n"
           + text[end:])  # fmt: skip
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


def check_readme(readme: Path) -> str | None:
    """None if the README's block equals its record's summary, else what differs."""
    _, record, body = readme_block(readme)
    want = summary(record)
    if body == want:
        return None
    return (f"{readme}'s speed summary differs from {record}'s; run "
            f"python benchmarks/record.py --write {readme}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--check", type=Path, nargs="+", metavar="PAGE",
                       help="exit 1 if a page's block is out of date")  # fmt: skip
    group.add_argument("--write", type=Path, nargs="+", metavar="PAGE", help="update the blocks")
    group.add_argument("--index", action="store_true", help="rewrite benchmarks/RESULTS.md")
    parser.add_argument("--record", type=Path, help="with --write: the record to copy from")
    args = parser.parse_args(argv)
    try:
        if args.index:
            print(write_index(), end="")
        elif args.write:
            for page in args.write:
                changed = write_readme(page, args.record)
                print(f"{page}: {'updated' if changed else 'already up to date'}")
        else:
            problems = [p for page in args.check if (p := check_readme(page))]
            for problem in problems:
                print(problem, file=sys.stderr)
            if problems:
                return 1
            print("the speed summaries match their records")
    except (OSError, ValueError) as exc:
        print(f"record.py: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
