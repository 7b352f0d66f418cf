"""The house: every import in src/tconv (function-level ones included) flows one way.

The layers, bottom to top (docs/contributing.md, "Layout"); a module may import its own
layer and the layers below it, never one above, and no set of modules may import each
other in a cycle. A ``from package import name`` depends on the submodule
``package.name`` when there is one, and on the package's ``__init__`` otherwise.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tconv"

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("arguments and sizes", ("tconv._args", "tconv.shapes", "tconv._window")),
    ("kernels", ("tconv.kernels",)),
    ("autograd", ("tconv.autograd",)),
    # tconv.upsampling: the up-scaling family's public path (interpolate, pixel shuffle)
    # and its bridges to transposed convolutions, which nn's resize-convolutions use
    ("functional", ("tconv.functional", "tconv.upsampling")),
    ("grad, nn, optim, io", ("tconv.grad", "tconv.nn", "tconv.optim", "tconv.io")),
    # the faces: analysis, other frameworks' conventions, ONNX files, Dask tiles, the
    # explorer page; each a thin layer over functional, nn and shapes
    (
        "faces",
        (
            "tconv.matrix",
            "tconv.artifacts",
            "tconv.compat",
            "tconv.onnx",
            "tconv.dask",
            "tconv.explore",
        ),
    ),
    ("lecture", ("tconv.lecture", "tconv.data")),
    ("cli and the package's front door", ("tconv.cli", "tconv.__main__", "tconv")),
]


def _modules() -> dict[str, Path]:
    mods = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def layer_of(module: str) -> int:
    """The index in LAYERS of the longest prefix that names ``module``'s layer."""
    best, rank = -1, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, rank = len(p), i
    if rank < 0:
        raise AssertionError(
            f"{module} belongs to no layer: add it to LAYERS and docs/contributing.md"
        )
    return rank


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> set[str]:
    """The tconv modules that ``module`` imports, anywhere in its body."""
    path = MODULES[module]
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            targets = []
            for a in node.names:
                sub = f"{prefix}.{a.name}"
                targets.append(sub if sub in MODULES else prefix)
        else:
            continue
        for t in targets:
            if t.split(".")[0] != "tconv":
                continue
            r = _resolve(t)
            if r is not None and r != module:
                out.add(r)
    return out


GRAPH = {m: imports_of(m) for m in MODULES}


def test_every_module_has_a_layer() -> None:
    for m in MODULES:
        layer_of(m)


def test_no_upward_import() -> None:
    upward = [
        f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
        for m, targets in sorted(GRAPH.items())
        for t in sorted(targets)
        if layer_of(t) > layer_of(m)
    ]
    assert not upward, "imports that flow upwards:\n" + "\n".join(upward)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle() -> None:
    assert _cycles(GRAPH) == []


@pytest.mark.parametrize(
    "graph, expected",
    [
        ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ],
)
def test_the_cycle_finder_finds_cycles(graph: dict[str, set[str]], expected: list) -> None:
    assert _cycles(graph) == expected


def test_the_walk_sees_function_level_and_relative_imports() -> None:
    # figures.maps imports nn inside a function only, functional.conv the kernels at
    # module level: both edges must be seen for the checks above to mean much
    assert "tconv.kernels.conv" in GRAPH["tconv.functional.conv"]
    assert "tconv.nn" in GRAPH["tconv.lecture.figures.maps"]
    assert layer_of("tconv.lecture.figures.maps") > layer_of("tconv.artifacts")
