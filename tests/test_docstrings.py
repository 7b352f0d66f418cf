"""Every public name has a docstring, in one style, and appears in the API reference.

A public module is a module of tconv whose dotted path has no ``_``-prefixed part and
which defines ``__all__``, except the kernels' own modules (``tconv.kernels`` itself is
public: ``route``, ``trace``, the path tables; its paths are internals, described in the
contributor notes); its public names are its ``__all__``, less dunders (``__version__``),
which mkdocstrings hides. The API reference is
the ``::: target`` directives of docs/reference/*.md, which mkdocstrings renders: a
module target renders the names in its ``__all__`` (modules among them get their own
directive), any other target renders itself. Whether a name is rendered is asked of
griffe, the loader mkdocstrings uses (the ``docs`` extra), because griffe, not Python,
decides what the page shows: ``tconv.gradcheck``, a function named like its submodule,
is a module to griffe and needs its own directive.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

import tconv

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"
DIRECTIVE = re.compile(r"^::: *([\w.]+) *$", re.M)


def public_modules() -> dict[str, types.ModuleType]:
    mods: dict[str, types.ModuleType] = {"tconv": tconv}
    for info in pkgutil.walk_packages(tconv.__path__, "tconv."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        if info.name.startswith("tconv.kernels."):
            continue
        try:
            mod = importlib.import_module(info.name)
        except ImportError as err:  # an optional extra (dask, onnx) is not installed
            pytest.skip(f"{info.name} needs an extra: {err}", allow_module_level=True)
        if hasattr(mod, "__all__"):
            mods[info.name] = mod
    return mods


MODULES = public_modules()
PUBLIC = [(m, n) for m, mod in MODULES.items() for n in mod.__all__ if not n.startswith("__")]


def resolve(target: str) -> Any:
    """The runtime object a ``:::`` target names (a module, or a name inside one)."""
    try:
        return importlib.import_module(target)
    except ImportError:
        parent, _, name = target.rpartition(".")
        return getattr(importlib.import_module(parent), name)


def directives() -> list[tuple[Path, str]]:
    return [
        (page, target)
        for page in sorted(REFERENCE.glob("*.md"))
        for target in DIRECTIVE.findall(page.read_text(encoding="utf-8"))
    ]


def own_docstring(obj: Any) -> str:
    """The docstring the object itself carries (a dataclass's generated signature is none)."""
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    doc = inspect.cleandoc(doc or "")
    if (
        isinstance(obj, type)
        and doc.startswith(f"{obj.__name__}(")
        and "\n" not in doc
        and hasattr(obj, "__dataclass_fields__")
    ):
        return ""
    return doc


def attribute_docstrings() -> dict[tuple[str, str], list[str]]:
    """Module-level ``NAME = value`` documented by a string literal after it, or by ``#:``
    comment lines right above it (docs/hooks/griffe_doctests.py renders those), in every
    module of tconv."""
    found: dict[tuple[str, str], list[str]] = {}
    for path in sorted((ROOT / "src" / "tconv").rglob("*.py")):
        parts = path.relative_to(ROOT / "src").with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        text = path.read_text(encoding="utf-8")
        lines = text.split("\n")
        body = ast.parse(text).body
        for stmt, after in zip(body, [*body[1:], None]):
            if not isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                continue
            targets = [stmt.target] if isinstance(stmt, ast.AnnAssign) else stmt.targets
            docs = []
            if (
                isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)
            ):
                docs.append(after.value.value)
            i, comment = stmt.lineno - 2, []
            while i >= 0 and lines[i].strip().startswith("#:"):
                comment.insert(0, lines[i].strip()[2:].strip())
                i -= 1
            docs.append(" ".join(comment))
            for t in targets:
                if isinstance(t, ast.Name):
                    found.setdefault((module, t.id), []).extend(d for d in docs if d.strip())
    return found


ATTRIBUTE_DOCS = attribute_docstrings()


def data_docstring(module: str, name: str) -> str:
    """The docstring of data ``module.name``, where it is assigned (``module`` or the module
    of tconv it is imported from: the one whose ``name`` is the same object)."""
    obj = getattr(MODULES[module], name)
    for (where, attr), docs in ATTRIBUTE_DOCS.items():
        if attr == name and getattr(sys.modules.get(where), name, None) is obj:
            return "\n".join(docs).strip()
    return ""


# Google's and Sphinx's docstring markup: the docstrings are NumPy style (sections with
# underlines) or prose with doctests, never these.
OTHER_STYLES = re.compile(
    r"^\s*(Args|Arguments|Returns|Raises|Yields|Attributes|Example|Examples|Note):\s*$"
    r"|^\s*:(param|type|returns?|rtype|raises?)\b",
    re.M,
)


# NumPy's sections, underlined with dashes; a docstring may have none (a summary, the
# shape formula and doctests), but an underlined header must be one of these.
NUMPY_SECTIONS = {
    "Parameters", "Other Parameters", "Returns", "Yields", "Raises", "Warns", "Attributes",
    "Methods", "Examples", "Notes", "References", "See Also",
}  # fmt: skip
SECTION = re.compile(r"^(\S[^\n]*)\n-{3,}$", re.M)


def check_style(what: str, doc: str) -> None:
    assert not OTHER_STYLES.search(doc), f"{what}'s docstring uses Google or Sphinx markup"
    unknown = set(SECTION.findall(doc)) - NUMPY_SECTIONS
    assert not unknown, f"{what}'s docstring has sections NumPy style does not know: {unknown}"


def test_the_reference_covers_every_public_module() -> None:
    assert len(MODULES) >= 20, sorted(MODULES)  # the walk found the package
    assert len(PUBLIC) >= 300, len(PUBLIC)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_public_module_has_a_docstring(module: str) -> None:
    doc = own_docstring(MODULES[module])
    assert doc, f"{module} has no module docstring"
    check_style(module, doc)


@pytest.mark.parametrize(("module", "name"), PUBLIC, ids=[f"{m}.{n}" for m, n in PUBLIC])
def test_public_name_has_a_docstring(module: str, name: str) -> None:
    obj = getattr(MODULES[module], name, None)
    assert obj is not None or hasattr(MODULES[module], name), (
        f"{module}.__all__ lists {name!r}, which the module does not define"
    )
    if callable(obj) or isinstance(obj, types.ModuleType):
        doc = own_docstring(obj)
        what = "docstring"
    else:  # data: a string literal after its assignment, or #: comments above it
        doc = data_docstring(module, name)
        what = "docstring (a string literal after the assignment, or #: comments above it)"
    assert doc, f"{module}.{name} has no {what}"
    check_style(f"{module}.{name}", doc)


def rendered() -> tuple[set[int], set[str]]:
    """What the reference pages render: the runtime objects' ids, and the module targets."""
    griffe = pytest.importorskip("griffe")  # the docs extra
    package = griffe.load("tconv", search_paths=[str(ROOT / "src")], resolve_aliases=True)
    objects: list[Any] = []  # kept alive, so that their ids stay theirs
    modules: set[str] = set()
    for page, target in directives():
        g = package if target == "tconv" else package[target.removeprefix("tconv.")]
        runtime = resolve(target)
        if not g.is_module:
            objects.append(runtime)
            continue
        assert isinstance(runtime, types.ModuleType), f"{page.name}: {target} is not a module"
        modules.add(target)
        for name in [str(e) for e in g.exports or []]:
            if name.startswith("_") or name not in g.members:
                continue
            member = g.members[name]
            try:
                final = member.final_target if member.is_alias else member
            except Exception:  # griffe could not resolve it: not rendered
                continue
            if not final.is_module:
                objects.append(getattr(runtime, name))
    return {id(o) for o in objects}, modules


def test_every_directive_names_an_object() -> None:
    targets = directives()
    assert targets, f"no ::: directives in {REFERENCE}"
    for page, target in targets:
        resolve(target)  # raises, naming the target, when it does not exist
        assert page.stem, page


def test_every_public_name_is_in_the_api_reference() -> None:
    ids, modules = rendered()
    missing = []
    for module, name in PUBLIC:
        obj = getattr(MODULES[module], name)
        if isinstance(obj, types.ModuleType):
            if obj.__name__ not in modules:
                missing.append(f"{module}.{name} (module: add ::: {obj.__name__})")
        elif id(obj) not in ids:
            missing.append(f"{module}.{name}")
    assert not missing, (
        "public names the API reference (docs/reference/*.md) does not render: "
        + ", ".join(missing)
    )
