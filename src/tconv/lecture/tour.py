"""The tour: the lecture (EE-559, 9.1) walked through in order, computed by tconv.

It prints each worked example next to the lecture's value, checks the
identities the lecture states, and writes every figure, the animations and an
``index.html`` gallery captioned with the lecture's sentences.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import functional as F
from .. import shapes
from ..explore import DEFAULT_HOST, DEFAULT_PORT, parse_state
from .examples import EXAMPLES, format_values


@dataclass(frozen=True)
class Identity:
    statement: str
    check: Callable[[], tuple[bool, str]]


def _rng() -> np.random.Generator:
    return np.random.default_rng(559)


def _tconv_is_conv_input_gradient() -> tuple[bool, str]:
    """conv_transpose(g, w) is the gradient of <conv(x, w), g> with respect to x."""
    from ..autograd import tensor

    rng = _rng()
    worst = 0.0
    for s, p, d in [(1, 0, 1), (2, 1, 1), (3, 2, 2)]:
        x = tensor(rng.standard_normal((2, 3, 17)), requires_grad=True)
        w = rng.standard_normal((4, 3, 3))
        y = F.conv1d(x, w, stride=s, padding=p, dilation=d)
        g = rng.standard_normal(y.shape)
        (y * g).sum().backward()
        t = F.conv_transpose1d(g, w, stride=s, padding=p, dilation=d, output_size=(17,))
        worst = max(worst, float(np.abs(t - x.grad).max()))
    return worst < 1e-12, f"max |difference| {worst:.1e} over strides 1-3"


def _matrix_transpose() -> tuple[bool, str]:
    from ..matrix import conv_matrix, conv_transpose_matrix

    rng = _rng()
    w = rng.standard_normal((2, 3, 3, 3))
    m = conv_matrix(w, (3, 7, 6), stride=2, padding=1)
    mt = conv_transpose_matrix(
        np.ascontiguousarray(w), (2, 4, 3), stride=2, padding=1, output_padding=(0, 1)
    )
    ok = mt.shape == m.T.shape and bool(np.allclose(mt, m.T, rtol=0, atol=1e-15))
    return ok, f"conv matrix {m.shape}, transposed-conv matrix {mt.shape}, equal to M^T: {ok}"


def _full_convolution() -> tuple[bool, str]:
    rng = _rng()
    x, k = rng.standard_normal(12), rng.standard_normal(5)
    got = np.asarray(F.conv_transpose1d(x[None, None], k[None, None]))[0, 0]
    ref = np.convolve(x, k, mode="full")
    err = float(np.abs(got - ref).max())
    return (
        err < 1e-12,
        f"stride 1: conv_transpose1d(x, k) vs numpy.convolve(x, k, 'full'), max |diff| {err:.1e}",
    )


def _size_kept_iff() -> tuple[bool, str]:
    checked = 0
    for w in range(1, 6):
        for s in range(1, 5):
            for size in range(w, 30):
                y = F.conv1d(np.zeros((1, 1, size)), np.zeros((1, 1, w)), stride=s)
                z = F.conv_transpose1d(y, np.zeros((1, 1, w)), stride=s)
                kept = z.shape[-1] == size
                if kept != ((size - w) % s == 0) or kept != shapes.preserves_size(size, w, s):
                    return False, f"W={size}, w={w}, s={s}"
                checked += 1
    return True, f"{checked} (W, w, s) triples: size kept exactly when W = w + s q"


IDENTITIES = [
    Identity(
        "the transposed convolution is the convolution's input gradient",
        _tconv_is_conv_input_gradient,
    ),
    Identity("its matrix is the transpose of the convolution's matrix", _matrix_transpose),
    Identity("with stride 1 it is the full signal-processing convolution x * k", _full_convolution),
    Identity("conv then transposed conv keeps the size iff W = w + s q", _size_kept_iff),
]


def run(out: Path, echo: Callable[[str], None] = print) -> int:
    """Run the tour into ``out``; return the number of failures."""
    from . import figures

    t0 = time.perf_counter()
    failures = 0
    echo("== EE-559 9.1, Transposed convolutions: the worked examples ==")
    for ex in EXAMPLES:
        got, ok = ex.run()
        failures += not ok
        echo(f"  {ex.code}")
        echo(
            f"    lecture {format_values(ex.expected)}  tconv {format_values(got)}  "
            f"{'agrees' if ok else 'DIFFERS'}"
        )
    echo("\n== The identities ==")
    for ident in IDENTITIES:
        ok, detail = ident.check()
        failures += not ok
        echo(f"  [{'ok' if ok else 'FAILED'}] {ident.statement}: {detail}")
    echo(f"\n== The figures, into {out} ==")
    entries = []
    for i, (name, spec) in enumerate(figures.FIGURES.items(), 1):
        t = time.perf_counter()
        paths = figures.draw(name, out)
        entries.append((name, spec.caption, paths))
        echo(
            f"  [{i:2d}/{len(figures.FIGURES)}] {name:<24} "
            f"{', '.join(p.name for p in paths)}  ({time.perf_counter() - t:.1f} s)"
        )
    index = write_index(out, entries)
    echo(f"\nGallery: {index}")
    echo(
        f"Done in {time.perf_counter() - t0:.1f} s; "
        f"{'all checks agree' if not failures else f'{failures} check(s) FAILED'}."
    )
    return failures


_ONES_8 = ",".join(["1"] * 8)
_ONES_2D = {n: ";".join([",".join(["1"] * n)] * n) for n in (3, 4, 6, 8)}
#: The state of ``tconv explore`` that shows each figure live (its parameters, with
#: the figure's defaults; sizes kept within the explorer's caps).
EXPLORE_STATES: dict[str, str] = {
    "conv": "op=conv&x=1,2,0,-1,3,1,2&w=1,2,3",
    "conv-transpose": "op=conv_transpose&x=2,3,0,-1&w=1,2,-1",
    "lecture-example": "op=conv_transpose&x=0,0,1,0,0,0,0&w=1,2,3",
    "matrix": "op=conv&x=0,0,1,0,0,0,0&w=1,2,3",
    "stride": "op=conv_transpose&x=2,3,0,-1&w=1,2,-1&stride=2",
    "padding": "op=conv_transpose&x=2,3,0,-1&w=1,2,-1&stride=2&padding=1",
    "dilation": "op=conv_transpose&x=2,3,0,-1&w=1,2,-1&dilation=2",
    "direct-view": "op=conv_transpose&x=2,3,0,-1&w=1,2,-1&stride=2&padding=1",
    "composition": "op=conv&x=1,2,3,4,5,6,7,8,9,10&w=1,1,1&stride=2",
    "coverage-1d": f"op=conv_transpose&x={_ONES_8}&w=1,1,1,1&stride=3",
    "coverage-2d": f"op=conv_transpose&x={_ONES_2D[6]}&w={_ONES_2D[4]}&stride=3",
    "artifacts": f"op=conv_transpose&x={_ONES_2D[8]}&w={_ONES_2D[3]}&stride=2&padding=1"
    "&output_padding=1",
    "upscaling": f"op=conv_transpose&x={_ONES_2D[8]}&w={_ONES_2D[4]}&stride=2&padding=1",
    "anim-conv1d": "op=conv&x=1,2,3,4,5,6,7,8&w=1,2,3",
    "anim-conv-transpose1d": "op=conv_transpose&x=1,2,3,4,5&w=1,2,3&stride=2",
    "anim-conv2d": "op=conv&x=1,2,3,4,5;6,7,8,9,10;11,12,13,14,15;16,17,18,19,20;"
    "21,22,23,24,25&w=1,0,-1;2,0,-2;1,0,-1&stride=2&padding=1",
    "anim-conv-transpose2d": "op=conv_transpose&x=1,2,3;4,5,6;7,8,9&w=1,2,1;2,4,2;1,2,1"
    "&stride=2&padding=1",
}


def explore_url(name: str) -> str | None:
    """The address of figure ``name``'s live state in ``tconv explore`` (None when the
    figure has none), on the explorer's default host and port.

    >>> explore_url("stride")
    'http://127.0.0.1:8559/?op=conv_transpose&x=2,3,0,-1&w=1,2,-1&stride=2&padding=0&dilation=1&output_padding=0'
    """
    query = EXPLORE_STATES.get(name)
    if query is None:
        return None
    return f"http://{DEFAULT_HOST}:{DEFAULT_PORT}/?{parse_state(query).query}"


def write_index(out: Path, entries: list[tuple[str, str, list[Path]]]) -> Path:
    """An HTML gallery: each figure with the lecture's sentence as its caption, and a
    link to the same state live in ``tconv explore``."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<title>tconv tour: EE-559 9.1 Transposed convolutions</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "figure{margin:2em 0;border-top:1px solid #ddd;padding-top:1em}"
        "img{max-width:100%}figcaption{font-style:italic;margin:.5em 0}</style>",
        "</head><body><h1>Transposed convolutions, regenerated by tconv</h1>",
        "<p>Every figure is computed by tconv from the lecture's definitions. "
        "PNG shown; SVG alongside.</p>",
        "<p>Each <em>explore</em> link opens the figure's parameters live, with every "
        "control at hand. <strong><code>tconv explore</code> must be running</strong> "
        f"(it serves http://{DEFAULT_HOST}:{DEFAULT_PORT}/; start it in a terminal, Ctrl-C "
        "stops it).</p>",
    ]
    for name, caption, paths in entries:
        shown = next((p for p in paths if p.suffix in (".png", ".gif")), paths[0])
        links = " · ".join(f"<a href='{html.escape(p.name)}'>{p.suffix[1:]}</a>" for p in paths)
        url = explore_url(name)
        if url:
            links += f" · <a class='explore' href='{html.escape(url)}'>explore</a>"
        parts.append(
            f"<figure id='{html.escape(name)}'><img src='{html.escape(shown.name)}' "
            f"alt='{html.escape(name)}'><figcaption>“{html.escape(caption)}” "
            f"<span style='font-style:normal'>({html.escape(name)}: {links})</span>"
            "</figcaption></figure>"
        )
    parts.append("</body></html>")
    index = out / "index.html"
    index.write_text("\n".join(parts), encoding="utf-8")
    return index
