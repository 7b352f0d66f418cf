"""The README's and the Speed guide's speed summaries are their record's.

``benchmarks/run_all.py --readme README.md docs/guides/speed.md`` writes the summary of
the record it measured into both pages; ``benchmarks/record.py`` reads it back. A
record re-run without ``--readme`` (or a page edited by hand) fails here, as
``python -m tconv.compat.table --check docs/guides/porting.md`` does for the compat table.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _record() -> ModuleType:
    spec = importlib.util.spec_from_file_location("record", ROOT / "benchmarks" / "record.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("page", ["README.md", "docs/guides/speed.md"])
def test_page_shows_its_records_summary(page: str) -> None:
    assert _record().check_readme(ROOT / page) is None


def test_a_changed_summary_is_caught_and_rewritten(tmp_path: Path) -> None:
    record = _record()
    rec = tmp_path / "RESULTS-intel.md"
    rec.write_text(
        "# r\n\nMeasured 2026-01-01 on: a CPU.\n\n## Summary\n\n"
        f"{record.SUMMARY_BEGIN}\nfirst\n{record.SUMMARY_END}\n",
        encoding="utf-8",
    )
    page = tmp_path / "README.md"
    page.write_text(
        f"# p\n\n<!-- speed summary: RESULTS-intel.md -->\nstale\n{record.README_END}\nend\n",
        encoding="utf-8",
    )
    assert "differs" in record.check_readme(page)
    assert record.write_readme(page) is True
    assert record.check_readme(page) is None
    assert page.read_text(encoding="utf-8").endswith(f"\nfirst\n{record.README_END}\nend\n")
    rec.write_text(rec.read_text(encoding="utf-8").replace("first", "second"), encoding="utf-8")
    assert "differs" in record.check_readme(page)


def test_results_file_is_named_by_the_cpu_family() -> None:
    record = _record()
    family = record.family()
    assert family and family == family.lower() and " " not in family
    assert record.results_path().name == f"RESULTS-{family}.md"
    vendor = record._cpuinfo("vendor_id")
    if vendor in record.FAMILIES:
        assert family == record.FAMILIES[vendor]
