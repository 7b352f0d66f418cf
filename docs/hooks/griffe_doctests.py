"""A griffe extension for the API reference: doctests in docstrings become code blocks.

tconv's docstrings carry their doctests in the text (``>>>`` lines and their output).
Rendered as Markdown, an output such as ``[[0, 1], [2, 3]]`` would read as a link; this
extension fences each doctest run (from its first ``>>>`` line to the next blank line)
as a ``pycon`` block before mkdocstrings renders the docstring (a NumPy ``Examples``
section is left to griffe's parser, which renders its doctests itself). It also renders the few
Sphinx roles in the docstrings (``:func:`name```) as code, which is what they read as.
Nothing in the source changes: pytest still runs the same doctests.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:mod|func|class|meth|attr|data|obj|exc):`~?([^`]+)`")
LITERAL = re.compile(r"(?<=\S)::$", re.M)
# A NumPy "Examples" section: griffe's parser renders its doctests itself.
EXAMPLES = re.compile(r"^Examples\n-{3,}$", re.M)


def fence_doctests(text: str) -> str:
    """Wrap each run of doctest lines (up to the next blank line) in a ``pycon`` fence."""
    out: list[str] = []
    lines = text.split("\n")
    i, in_fence = 0, False
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if not in_fence and line.lstrip().startswith(">>>"):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}```pycon")
            while i < len(lines) and lines[i].strip():
                out.append(lines[i])
                i += 1
            out.append(f"{indent}```")
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def render(text: str) -> str:
    """A docstring as mkdocstrings should read it: Sphinx roles as code, the doctests
    before a NumPy ``Examples`` section fenced (griffe renders those in the section)."""
    text = ROLE.sub(r"``\1``", text)
    text = LITERAL.sub(":", text)  # reST's "text::" before an indented block reads "text:"
    m = EXAMPLES.search(text)
    if m is None:
        return fence_doctests(text)
    return fence_doctests(text[: m.start()]) + text[m.start() :]


def comment_docstring(lines: list[str], lineno: int) -> str:
    """The ``#:`` comment lines right above line ``lineno`` (1-based), joined."""
    i, found = lineno - 2, []
    while i >= 0 and lines[i].strip().startswith("#:"):
        found.insert(0, lines[i].strip()[2:].strip())
        i -= 1
    return " ".join(found)


class DoctestFences(griffe.Extension):
    """Fence the doctests of every docstring griffe loads; read ``#:`` attribute comments."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is None and obj.is_attribute and obj.lineno and obj.filepath:
            # Sphinx's attribute comments (``#: text`` above ``NAME = value``)
            lines = (
                obj.lines_collection[obj.filepath] if obj.filepath in obj.lines_collection else []
            )
            text = comment_docstring(lines, obj.lineno)
            if text:
                obj.docstring = griffe.Docstring(text, lineno=obj.lineno, parent=obj)
        if obj.docstring is not None:
            obj.docstring.value = render(obj.docstring.value)
