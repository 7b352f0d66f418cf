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


def write_index(out: Path, entries: list[tuple[str, str, list[Path]]]) -> Path:
    """An HTML gallery: each figure with the lecture's sentence as its caption."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<title>tconv tour: EE-559 9.1 Transposed convolutions</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "figure{margin:2em 0;border-top:1px solid #ddd;padding-top:1em}"
        "img{max-width:100%}figcaption{font-style:italic;margin:.5em 0}</style>",
        "</head><body><h1>Transposed convolutions, regenerated by tconv</h1>",
        "<p>Every figure is computed by tconv from the lecture's definitions. "
        "PNG shown; SVG alongside.</p>",
    ]
    for name, caption, paths in entries:
        shown = next((p for p in paths if p.suffix in (".png", ".gif")), paths[0])
        links = " · ".join(f"<a href='{html.escape(p.name)}'>{p.suffix[1:]}</a>" for p in paths)
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
