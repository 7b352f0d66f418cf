"""The explorer's JSON API: a page state (the URL's query string) in, every number of
every view out, computed by tconv.

:func:`parse_state` reads and caps a query string (:class:`State`); :func:`compute`
evaluates it with :mod:`tconv.functional`, :mod:`tconv.matrix`, :mod:`tconv.shapes`,
:mod:`tconv.artifacts` and :mod:`tconv.compat` and returns the JSON-ready dict that
the page draws. Nothing here re-implements a convolution or a size formula: sizes
come from :func:`tconv.shapes.conv_geometry` / :func:`~tconv.shapes.conv_transpose_geometry`,
the links between outputs, inputs and taps from the matrix of a kernel whose taps are
numbered, the hover windows from :func:`tconv.shapes.input_window`, and the other
frameworks' 'same'/'valid' from their conventions in :mod:`tconv.compat`.

The query format (one channel in, one out, no bias)::

    op=conv_transpose&x=2,3,0,-1&w=1,2,-1&stride=1&padding=0&dilation=1&output_padding=0

``x`` and ``w`` hold numbers separated by ``,``; 2-D values separate rows by ``;``
(a trailing ``;`` makes one row 2-D: ``w=1,2;``).
A bad value raises :class:`StateError`, a ``ValueError`` that names the query field
(tconv's own message when tconv refuses the combination).

>>> r = compute(parse_state("op=conv&x=0,0,1,0,0,0,0&w=1,2,3"))
>>> r["y"]
[[3.0, 2.0, 1.0, 0.0, 0.0]]
>>> parse_state("op=conv&x=1,2&w=1,2,3").query
'op=conv&x=1,2&w=1,2,3&stride=1&padding=0&dilation=1&output_padding=0'
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode

import numpy as np

from .. import artifacts, matrix, shapes
from .. import functional as F
from ..compat import jax as _jax
from ..compat import keras as _keras
from ..compat import onnx as _onnx
from ..compat import porting
from ..compat import tf as _tf

__all__ = [
    "CAPS",
    "CONVENTIONS",
    "FIELDS",
    "State",
    "StateError",
    "compute",
    "parse_state",
    "presets",
]

#: The caps on a query (docs/guides/explorer.md lists them).
CAPS: dict[str, Any] = {
    "query_bytes": 4096,
    "values_1d": 64,  # values of x in 1-D
    "side_2d": 16,  # rows and columns of x in 2-D
    "kernel_side": 16,  # kernel size per dim
    "int_max": 16,  # stride, padding, dilation, output_padding
    "output_size_max": 256,
    "out_cells_1d": 4096,
    "out_side_2d": 64,
    "abs_value": 1e6,  # |x|, |w|: products and sums stay exact-ish and finite
    "fields": 32,  # key=value pairs in a query, the page's own included
    "matrix_cells": 2**18,  # entries of M sent densely; beyond, "M" is null
    "piece_cells": 2**16,  # values of the scatter pieces sent; beyond, "values" are null
}
#: The frameworks whose padding conventions the ``convention`` field accepts.
CONVENTIONS = ("pytorch", "tf", "keras", "jax", "onnx")
#: The fields the API reads, in the canonical query's order; the page may add others.
FIELDS = (
    "op",
    "x",
    "w",
    "stride",
    "padding",
    "dilation",
    "output_padding",
    "output_size",
    "convention",
)
DEFAULT = "op=conv_transpose&x=2,3,0,-1&w=1,2,-1"
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$")
_INT = re.compile(r"^[+-]?\d{1,6}$")
Pairs = tuple[tuple[int, int], ...]


class StateError(ValueError):
    """A query the explorer refuses; ``field`` names the query field (or is None)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class State:
    """One validated page state. ``x`` and ``w`` are 2-D float64 arrays (one row in 1-D);
    ``padding`` is a string (``'same'``, ``'valid'``) or one ``(lo, hi)`` pair per dim."""

    op: str
    dims: int
    x: np.ndarray
    w: np.ndarray
    stride: tuple[int, ...]
    padding: Pairs | str
    dilation: tuple[int, ...]
    output_padding: tuple[int, ...]
    output_size: tuple[int, ...] | None
    convention: str

    @property
    def transposed(self) -> bool:
        return self.op == "conv_transpose"

    @property
    def spatial_x(self) -> tuple[int, ...]:
        return tuple(self.x.shape) if self.dims == 2 else (self.x.shape[1],)

    @property
    def spatial_w(self) -> tuple[int, ...]:
        return tuple(self.w.shape) if self.dims == 2 else (self.w.shape[1],)

    def fields(self) -> dict[str, str]:
        """The state as normalized query fields, in :data:`FIELDS` order."""
        out = {
            "op": self.op,
            "x": _values_text(self.x, self.dims),
            "w": _values_text(self.w, self.dims),
            "stride": _ints_text(self.stride),
            "padding": _padding_text(self.padding),
            "dilation": _ints_text(self.dilation),
            "output_padding": _ints_text(self.output_padding),
        }
        if self.output_size is not None:
            out["output_size"] = _ints_text(self.output_size)
        if self.convention != "pytorch":
            out["convention"] = self.convention
        return out

    @property
    def query(self) -> str:
        """The canonical query string (``,`` and ``;`` and ``:`` left readable)."""
        return urlencode(self.fields(), safe=",;:")


# -- parsing -----------------------------------------------------------------------------


def _number(token: str, field: str) -> float:
    token = token.strip()
    if not _NUMBER.match(token):
        raise StateError(f"{field}: expected a number, got {token[:20]!r}", field)
    v = float(token)
    cap = CAPS["abs_value"]
    if not math.isfinite(v) or abs(v) > cap:
        raise StateError(f"{field}: values must be finite with |v| <= {cap:g}, got {token}", field)
    return v


def _values(text: str, field: str) -> tuple[np.ndarray, int]:
    """``1,2,3`` (1-D) or ``1,2;3,4`` (2-D) as a 2-D array and its number of dims; the
    caps are checked on the counts before any number is read."""
    rows = text.split(";")
    dims = 2 if len(rows) > 1 else 1
    if dims == 2 and len(rows) >= 2 and not rows[-1].strip():
        rows = rows[:-1]  # "1,2;" is one row of a 2-D array
    kernel = field == "w"
    side = CAPS["kernel_side"] if kernel else CAPS["side_2d"]
    if dims == 1:
        cap = CAPS["kernel_side"] if kernel else CAPS["values_1d"]
        count = text.count(",") + 1
        if count > cap:
            raise StateError(f"{field}: at most {cap} values in 1-D, got {count}", field)
    elif len(rows) > side:
        raise StateError(f"{field}: at most {side} rows in 2-D, got {len(rows)}", field)
    cells = []
    for i, row in enumerate(rows):
        tokens = row.split(",")
        if len(tokens) > (side if dims == 2 else CAPS["values_1d"]):
            raise StateError(
                f"{field}: at most {side} values per row in 2-D, got {len(tokens)} in row {i}",
                field,
            )
        if not row.strip():
            raise StateError(f"{field}: empty {'row ' + str(i) if dims == 2 else 'value'}", field)
        cells.append([_number(t, field) for t in tokens])
    lengths = {len(r) for r in cells}
    if len(lengths) != 1:
        raise StateError(
            f"{field}: rows must have the same length, got lengths {[len(r) for r in cells]}",
            field,
        )
    return np.array(cells, dtype=np.float64), dims


def _ints(text: str, field: str, dims: int, lo: int, hi: int) -> tuple[int, ...]:
    tokens = text.split(",")
    if len(tokens) not in (1, dims):
        raise StateError(
            f"{field}: give one int or one per dim ({dims}), got {len(tokens)} values "
            f"{text[:40]!r}",
            field,
        )
    values = []
    for t in tokens:
        t = t.strip()
        if not _INT.match(t):
            raise StateError(f"{field}: expected an integer, got {t[:20]!r}", field)
        v = int(t)
        if not lo <= v <= hi:
            raise StateError(f"{field}: must be in {lo}..{hi}, got {v}", field)
        values.append(v)
    return tuple(values) * (dims if len(values) == 1 else 1)


def _padding(text: str, dims: int) -> Pairs | str:
    """``1``, ``1,2``, ``1:2``, ``1:2,0:1`` (a ``lo:hi`` pair per dim), ``same``, ``valid``
    (``same_lower`` too, ONNX's SAME_LOWER)."""
    t = text.strip().lower()
    if t in ("same", "valid", "same_lower"):
        return t
    entries = t.split(",")
    if len(entries) not in (1, dims):
        raise StateError(
            f"padding: give one entry or one per dim ({dims}), got {len(entries)} in "
            f"{text[:40]!r}; an entry is an int or a lo:hi pair, or use same / valid",
            "padding",
        )
    pairs = []
    top = CAPS["int_max"]
    for e in entries:
        parts = e.split(":")
        if len(parts) > 2:
            raise StateError(f"padding: an entry is an int or lo:hi, got {e[:20]!r}", "padding")
        lo_hi = [_ints(p, "padding", 1, 0, top)[0] for p in parts]
        pairs.append((lo_hi[0], lo_hi[-1]))
    return tuple(pairs) * (dims if len(pairs) == 1 else 1)


def parse_state(query: str | Mapping[str, str]) -> State:
    """Read a page state from a query string (or a mapping of its fields), with the caps.

    Missing fields take their defaults (the lecture's third example); fields the API
    does not read are left to the page. Raises :class:`StateError` naming the field.

    >>> s = parse_state("op=conv&x=1,2;3,4&w=1;2&padding=1:0,0")
    >>> s.dims, s.padding, s.x.shape
    (2, ((1, 0), (0, 0)), (2, 2))
    >>> parse_state("x=" + ",".join(["1"] * 65))
    Traceback (most recent call last):
        ...
    tconv.explore.api.StateError: x: at most 64 values in 1-D, got 65
    """
    if isinstance(query, str):
        size = len(query.encode("utf-8", "replace"))
        if size > CAPS["query_bytes"]:
            raise StateError(f"query: at most {CAPS['query_bytes']} bytes, got {size}", "query")
        if query.count("&") + 1 > CAPS["fields"]:
            raise StateError(f"query: at most {CAPS['fields']} fields", "query")
        items = parse_qsl(query.lstrip("?"), keep_blank_values=True)
    else:
        items = list(query.items())
        if len(items) > CAPS["fields"]:
            raise StateError(f"query: at most {CAPS['fields']} fields", "query")
    raw: dict[str, str] = {}
    for key, value in items:
        if key in FIELDS:
            if key in raw:
                raise StateError(f"{key}: given twice", key)
            raw[key] = value
    defaults = dict(parse_qsl(DEFAULT))
    op = raw.get("op", defaults["op"]).strip()
    if op not in ("conv", "conv_transpose"):
        raise StateError(f"op: must be conv or conv_transpose, got {op[:30]!r}", "op")
    x, dims = _values(raw.get("x", defaults["x"]), "x")
    w, w_dims = _values(raw.get("w", defaults["w"]), "w")
    if w_dims != dims:
        raise StateError(
            f"w: x is {dims}-D but w is {w_dims}-D; 2-D values separate rows by ';' "
            "(x=1,2;3,4; one row: w=1,2;), 1-D values have no ';'",
            "w",
        )
    top = int(CAPS["int_max"])
    stride = _ints(raw.get("stride", "1"), "stride", dims, 0, top)
    dilation = _ints(raw.get("dilation", "1"), "dilation", dims, 0, top)
    output_padding = _ints(raw.get("output_padding", "0"), "output_padding", dims, 0, top)
    padding = _padding(raw.get("padding", "0"), dims)
    output_size = None
    if raw.get("output_size", "").strip():
        output_size = _ints(raw["output_size"], "output_size", dims, 1, CAPS["output_size_max"])
        if op == "conv":
            raise StateError(
                "output_size: only a transposed convolution takes output_size "
                "(an alternative to output_padding)",
                "output_size",
            )
    if op == "conv" and any(output_padding):
        raise StateError(
            f"output_padding: only a transposed convolution takes output_padding, got "
            f"output_padding={_ints_text(output_padding)} with op=conv",
            "output_padding",
        )
    convention = raw.get("convention", "pytorch").strip().lower() or "pytorch"
    if convention not in CONVENTIONS:
        raise StateError(
            f"convention: must be one of {', '.join(CONVENTIONS)}, got {convention[:20]!r}",
            "convention",
        )
    if padding == "same_lower" and convention != "onnx":
        raise StateError(
            "padding: same_lower is ONNX's SAME_LOWER; use it with convention=onnx", "padding"
        )
    return State(op, dims, x, w, stride, padding, dilation, output_padding, output_size,
                 convention)  # fmt: skip


# -- text forms ----------------------------------------------------------------------------


def _num_text(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(float(v))


def _values_text(a: np.ndarray, dims: int) -> str:
    text = ";".join(",".join(_num_text(v) for v in row) for row in a)
    return text + ";" if dims == 2 and a.shape[0] == 1 else text  # "1,2;": one 2-D row


def _ints_text(v: Sequence[int]) -> str:
    return str(v[0]) if len(set(v)) == 1 else ",".join(str(i) for i in v)


def _padding_text(p: Pairs | str) -> str:
    if isinstance(p, str):
        return p
    if all(lo == hi for lo, hi in p):
        return _ints_text([lo for lo, _ in p])
    if len(set(p)) == 1:
        return f"{p[0][0]}:{p[0][1]}"
    return ",".join(str(lo) if lo == hi else f"{lo}:{hi}" for lo, hi in p)


# -- the computation -----------------------------------------------------------------------


def _field_of(message: str) -> str | None:
    """The query field a tconv message is about: the first field name it mentions."""
    if "empty output" in message:
        return "padding"
    names = {
        "output_size": "output_size",
        "output_padding": "output_padding",
        "output_shape": "output_size",
        "dilation": "dilation",
        "stride": "stride",
        "padding": "padding",
        "pads": "padding",
        "kernel": "w",
        "weight": "w",
        "filters": "w",
        "input": "x",
    }
    found = [(m.start(), f) for n, f in names.items() for m in [re.search(rf"\b{n}", message)] if m]
    return min(found)[1] if found else None


def _fn(state: State) -> str:
    return f"{state.op}{state.dims}d"


def _convention_pairs(state: State) -> Pairs | str:
    """The padding as tconv takes it: PyTorch's strings stay strings (tconv's own
    'same'/'valid'); another framework's 'same'/'valid' become the ``(lo, hi)`` pairs
    of that framework's convention (a crop for a transposed convolution, negative:
    zeros appended), read from its ``lower`` in :mod:`tconv.compat`."""
    pad, conv = state.padding, state.convention
    if not isinstance(pad, str) or conv == "pytorch":
        return pad
    L, k, s, d = state.spatial_x, state.spatial_w, state.stride, state.dilation
    upper = pad.upper() if conv in ("tf", "jax") else pad
    low: Any
    if conv == "onnx":
        auto = {"same": "SAME_UPPER", "same_lower": "SAME_LOWER", "valid": "VALID"}[pad]
        node = "ConvTranspose" if state.transposed else "Conv"
        low = _onnx.lower(node, (1, 1, *L), (1, 1, *k), auto_pad=auto, dilations=list(d),
                          strides=list(s))  # fmt: skip
    elif conv == "tf":
        if state.transposed:
            full = shapes.conv_transpose_output_size(L, k, s, 0, 0, d)
            if pad == "same":
                out = tuple(Li * si for Li, si in zip(L, s))  # TF's rule for 'SAME': L s
            else:
                out = cast("tuple[int, ...]", full)
            low = _tf.lower("conv_transpose", (1, *L, 1), (*k, 1, 1), s, upper, None, d, out)
        else:
            low = _tf.lower("conv", (1, *L, 1), (*k, 1, 1), s, upper, None, d)
    elif conv == "keras":
        op = "conv_transpose" if state.transposed else "conv"
        low = _keras.lower(op, (1, *L, 1), (*k, 1, 1), s, pad, None, None, d)
    else:
        if state.transposed:
            low = porting.as_transposed(_jax.lower_transpose((1, *L, 1), (*k, 1, 1), s, upper, d))
        else:
            low = _jax.lower((1, 1, *L), (1, 1, *k), s, upper, None, d)
    return cast("Pairs", tuple(tuple(p) for p in low.padding))


def _run(state: State, x: np.ndarray, w: np.ndarray, padding: Any, a: Any = 0) -> np.ndarray:
    """tconv's op of the state's kind and rank on spatial ``x`` and ``w``."""
    xb, wb, s, d = x[None, None], w[None, None], state.stride, state.dilation
    if state.transposed:
        if state.dims == 1:
            y = F.conv_transpose1d(xb, wb, None, s, padding, a, 1, d)
        else:
            y = F.conv_transpose2d(xb, wb, None, s, padding, a, 1, d)
    elif state.dims == 1:
        y = F.conv1d(xb, wb, None, s, padding, d)
    else:
        y = F.conv2d(xb, wb, None, s, padding, d)
    return np.asarray(y)[0, 0]


def _grid(a: np.ndarray) -> list[list[float]]:
    """A spatial array as the API's 2-D list (1-D: one row)."""
    return cast("list[list[float]]", np.atleast_2d(np.asarray(a, dtype=np.float64)).tolist())


def _cells(shape: tuple[int, ...], flat: np.ndarray) -> np.ndarray:
    """Flat C-order indices as (row, col) pairs of the API's 2-D view."""
    if len(shape) == 1:
        return np.stack([np.zeros_like(flat), flat], axis=-1)
    return np.stack(np.unravel_index(flat, shape), axis=-1)


def _check_caps(state: State, out: tuple[int, ...]) -> None:
    if state.dims == 1 and out[0] > CAPS["out_cells_1d"]:
        raise StateError(
            f"output: at most {CAPS['out_cells_1d']} output cells in 1-D, got {out[0]}", None
        )
    if state.dims == 2 and max(out) > CAPS["out_side_2d"]:
        raise StateError(
            f"output: at most {CAPS['out_side_2d']}x{CAPS['out_side_2d']} output cells in 2-D, "
            f"got {out[0]}x{out[1]}",
            None,
        )


def compute(state: State) -> dict[str, Any]:
    """Every number the page shows for ``state`` (the contract's JSON), computed by tconv.

    Raises :class:`StateError` with tconv's own message and the field it is about when
    tconv refuses the combination.

    >>> r = compute(parse_state("op=conv_transpose&x=2,3,0,-1&w=1,2,-1"))
    >>> r["y"], r["sizes"]["output_shape"]
    ([[2.0, 7.0, 4.0, -4.0, -2.0, 1.0]], [1, 6])
    >>> r["links"][1]
    {'out': [0, 1], 'terms': [[0, 0, 0, 1], [0, 1, 0, 0]]}
    """
    try:
        return _compute(state)
    except StateError:
        raise
    except (ValueError, TypeError) as exc:
        message = " ".join(str(exc).split())
        raise StateError(message, _field_of(message)) from None


def _compute(state: State) -> dict[str, Any]:
    fn = _fn(state)
    L, k = state.spatial_x, state.spatial_w
    padding = _convention_pairs(state)
    if state.transposed:
        g = shapes.conv_transpose_geometry(
            fn, L, k, state.stride, padding, state.output_padding, 1, state.dilation,
            state.output_size, non_spatial_dims=2,
        )  # fmt: skip
    else:
        g = shapes.conv_geometry(fn, L, k, state.stride, padding, state.dilation, 1)
    _check_caps(state, g.out_size)
    a = g.output_padding if state.transposed else (0,) * state.dims
    pairs = tuple(zip(g.lo, g.hi))
    xs = state.x if state.dims == 2 else state.x[0]
    ws = state.w if state.dims == 2 else state.w[0]
    y = _run(state, xs, ws, pairs, a)
    out = tuple(y.shape)

    # M, and the same matrix for a kernel whose taps are numbered 1..K: its entry (o, i)
    # is the tap that links output o with input i (one tap at most: tconv.matrix).
    taps = np.arange(1, ws.size + 1, dtype=np.float64).reshape(ws.shape)
    if state.transposed:
        kw: dict[str, Any] = {"stride": state.stride, "padding": pairs, "dilation": state.dilation}
        kw["output_padding"] = a
        m = matrix.conv_transpose_matrix(ws[None, None], (1, *L), **kw)
        m_taps = matrix.conv_transpose_matrix(taps[None, None], (1, *L), **kw)
    else:
        kw = {"stride": state.stride, "padding": pairs, "dilation": state.dilation}
        m = matrix.conv_matrix(ws[None, None], (1, *L), **kw)
        m_taps = matrix.conv_matrix(taps[None, None], (1, *L), **kw)
    rows, cols = np.nonzero(m_taps)
    ins = _cells(L, cols)
    tap = _cells(k, m_taps[rows, cols].astype(np.int64) - 1)
    terms = np.concatenate([ins, tap], axis=1).tolist()
    starts = np.searchsorted(rows, np.arange(m.shape[0] + 1))
    outs = _cells(out, np.arange(m.shape[0])).tolist()
    links = [{"out": outs[r], "terms": terms[starts[r] : starts[r + 1]]} for r in range(m.shape[0])]

    # the hover windows: the inputs each output index reads, per dim (tconv.shapes)
    windows = []
    for dim in range(state.dims):
        layer = _layer(state, dim, pairs, a)
        windows.append([list(shapes.input_window(layer, j, j + 1)) for j in range(out[dim])])
    if state.dims == 1:
        windows.insert(0, [[0, 1, 0]])

    # the dilated kernel, computed by tconv: one input sample of 1 scatters it
    one = np.ones((1,) * state.dims)
    dk = _dilated(state, ws, one)
    e = dk.shape

    result: dict[str, Any] = {
        "state": {**state.fields(), "query": state.query},
        "dims": state.dims,
        "x": _grid(xs),
        "w": _grid(ws),
        "y": _grid(y),
        "links": links,
        "windows": windows,
        "sizes": _sizes(state, g, e, pairs, a),
        "scatter": _scatter(state, xs, ws, dk, pairs, a, out) if state.transposed else None,
        "gather": _gather(state, xs, dk, m_taps, pairs, out),
        "matrix": _matrix(state, m),
        "artifacts": _artifacts(state, ws, m_taps, pairs, a),
        "code": _code(state, pairs, a),
        "errors": [],
    }
    return result


def _layer(state: State, dim: int, pairs: Pairs, a: Sequence[int]) -> shapes.Layer:
    k, s, d = state.spatial_w[dim], state.stride[dim], state.dilation[dim]
    pad = (pairs[dim],)
    if state.transposed:
        return shapes.Layer.conv_transpose(k, s, pad, a[dim], d)
    return shapes.Layer.conv(k, s, pad, d)


def _dilated(state: State, ws: np.ndarray, one: np.ndarray) -> np.ndarray:
    f = F.conv_transpose1d if state.dims == 1 else F.conv_transpose2d
    return np.asarray(f(one[None, None], ws[None, None], dilation=state.dilation))[0, 0]


def _minus(v: int) -> str:
    """``- v`` written for a formula (``+ 3`` for ``v = -3``: a negative crop adds zeros)."""
    return f"- {v}" if v >= 0 else f"+ {-v}"


def _sizes(
    state: State, g: shapes.ConvGeometry, e: tuple[int, ...], pairs: Pairs, a: Sequence[int]
) -> dict[str, Any]:
    """The output-size formula with the state's numbers (the result from tconv.shapes),
    the lecture's ``W = w + s q``, and the inputs a strided convolution ignores."""
    numbers, rule = [], []
    ignored: list[list[int]] = []
    for i in range(state.dims):
        L, k, s, d = g.in_size[i], g.kernel_size[i], g.stride[i], g.dilation[i]
        lo, hi, o = pairs[i][0], pairs[i][1], g.out_size[i]
        if state.transposed:
            numbers.append(
                f"({L} - 1)*{s} {_minus(lo)} {_minus(hi)} + {d}*({k} - 1) + {a[i]} + 1 = {o}"
            )
            full = cast("int", shapes.conv_transpose_output_size(L, k, s, 0, 0, d))
            rule.append(
                f"W = w + s q: the full output {full} = {e[i]} + {s}*{L - 1} "
                f"(w = d(k-1)+1 = {e[i]}, q = n - 1 = {L - 1}); the crop removes {lo} + {hi}"
                + (f", output_padding appends {a[i]}" if a[i] else "")
            )
        else:
            numbers.append(f"floor(({L} + {lo} + {hi} - {d}*({k} - 1) - 1) / {s}) + 1 = {o}")
            W, q = L + lo + hi, o - 1
            r = W - e[i] - s * q
            rule.append(
                f"W = w + s q: {W} = {e[i]} + {s}*{q}"
                + (f" + {r}: the last {r} padded samples are never read" if r else "")
            )
    if not state.transposed:
        per_dim = shapes.ignored_inputs(g.in_size, g.kernel_size, g.stride, pairs, g.dilation)
        sets = [set(cast("tuple[int, ...]", v)) for v in per_dim]
        Lx = g.in_size
        # an element is read iff each of its coordinates is (tconv.shapes.ignored_inputs)
        skipped = [np.isin(np.arange(n), sorted(v)) for n, v in zip(Lx, sets)]
        if state.dims == 1:
            skipped.insert(0, np.zeros(1, dtype=bool))
        ignored = np.argwhere(skipped[0][:, None] | skipped[1][None, :]).tolist()
    formula = (
        "(n - 1) s - lo - hi + d(k - 1) + output_padding + 1"
        if state.transposed
        else "floor((n + lo + hi - d(k - 1) - 1) / s) + 1"
    )
    return {
        "formula": formula,
        "numbers": numbers,
        "W_rule": rule,
        "ignored_inputs": ignored,
        "output_shape": [1, *g.out_size] if state.dims == 1 else list(g.out_size),
        "padding_pairs": [list(p) for p in pairs],
        "output_padding": list(a),
    }


def _scatter(
    state: State,
    xs: np.ndarray,
    ws: np.ndarray,
    dk: np.ndarray,
    pairs: Pairs,
    a: Sequence[int],
    out: tuple[int, ...],
) -> dict[str, Any]:
    """The sum of translated weighted kernels before the crop, the crop, and the pieces."""
    full = _run(state, xs, ws, 0, 0)
    # y = full[lo : len - (hi - a)], zeros where that reaches past full (tconv.shapes'
    # crop pairs; output_padding appends a outputs at the end)
    crop = [[lo, hi - ai] for (lo, hi), ai in zip(pairs, a)]
    x2 = np.atleast_2d(xs)
    d2 = np.atleast_2d(dk)
    s2 = (1, *state.stride) if state.dims == 1 else state.stride
    send = x2.size * d2.size <= CAPS["piece_cells"]
    pieces = [
        {
            "in": [r, c],
            "offset": [r * s2[0], c * s2[1]],
            "values": _grid(x2[r, c] * d2) if send else None,
        }
        for r in range(x2.shape[0])
        for c in range(x2.shape[1])
    ]
    if state.dims == 1:
        crop = [[0, 0], *crop]
    return {"full": _grid(full), "crop": crop, "pieces": pieces, "kernel": _grid(dk)}


def _gather(
    state: State,
    xs: np.ndarray,
    dk: np.ndarray,
    m_taps: np.ndarray,
    pairs: Pairs,
    out: tuple[int, ...],
) -> dict[str, Any]:
    """The grid the equivalent convolution slides over, and its kernel.

    A convolution slides ``w`` (dilated) over the padded input, with its stride. A
    transposed convolution is a stride-1 convolution with the flipped kernel over the
    zero-inserted input: where each input sits in that grid is read off the tap map
    (output ``o`` gets input ``i`` through tap ``t``, so the flipped kernel's tap
    ``k-1-t``, ``(k-1-t) d`` cells from the window's start ``o``, sits on ``i``).
    """
    L, k, n = state.spatial_x, state.spatial_w, state.dims
    idx = np.indices(L).reshape(n, -1)  # every input position, one column each
    if state.transposed:
        kernel = dk[(slice(None, None, -1),) * n]
        size = tuple(o + ei - 1 for o, ei in zip(out, dk.shape))
        step = (1,) * n
        rows, cols = np.nonzero(m_taps)
        if rows.size:  # one (output, input, tap) triple places every input
            o = np.unravel_index(rows[0], out)
            i = np.unravel_index(cols[0], L)
            t = np.unravel_index(int(m_taps[rows[0], cols[0]]) - 1, k)
            pos = [o[j] + (k[j] - 1 - t[j]) * state.dilation[j] for j in range(n)]
            origin = np.array([pos[j] - i[j] * state.stride[j] for j in range(n)])
            at = origin[:, None] + idx * np.array(state.stride)[:, None]
        else:  # no input reaches the output (it is all output_padding): none is in the grid
            at = np.full_like(idx, -1)
    else:
        kernel = dk
        size = tuple(Li + p + q for Li, (p, q) in zip(L, pairs))
        step = state.stride
        at = idx + np.array([p for p, _ in pairs])[:, None]
    inside = np.all((at >= 0) & (at < np.array(size)[:, None]), axis=0)
    at, idx = at[:, inside], idx[:, inside]
    grid = np.zeros(size)
    grid[tuple(at)] = xs[tuple(idx)]
    if n == 1:
        zero = np.zeros_like(at[0])
        src = np.stack([zero, at[0], zero, idx[0]], axis=1)
    else:
        src = np.concatenate([at, idx]).T
    return {
        "grid": _grid(grid),
        "from": src.tolist(),
        "kernel": _grid(kernel),
        "step": [1, *step] if n == 1 else list(step),
    }


def _matrix(state: State, m: np.ndarray) -> dict[str, Any]:
    send = m.size <= CAPS["matrix_cells"]
    note = (
        "y = M x on the flattened arrays (row-major); M is the transpose of the "
        "convolution's matrix with the same parameters, hence the name"
        if state.transposed
        else "y = M x on the flattened arrays (row-major): one row per output, the kernel "
        "shifted by the stride from row to row"
    )
    if not send:
        note += f"; {m.shape[0]}x{m.shape[1]} is too large to send (the links give its pattern)"
    return {"M": m.tolist() if send else None, "shape": list(m.shape), "note": note}


def _artifacts(
    state: State, ws: np.ndarray, m_taps: np.ndarray, pairs: Pairs, a: Sequence[int]
) -> dict[str, Any]:
    L, k, s, d = state.spatial_x, state.spatial_w, state.stride, state.dilation
    if not state.transposed:
        # how many outputs read each input (0: ignored): the non-zeros of the tap map's columns
        reads = np.count_nonzero(m_taps, axis=0).reshape(L).astype(np.float64)
        return {
            "coverage": _grid(reads),
            "phase_sums": None,
            "checkerboard_index": None,
            "constant_response": None,
            "artifact_free": None,
            "note": "a convolution reads its input: the map counts the outputs that read "
            "each input sample (0: the sample is ignored)",
        }
    cov = artifacts.coverage(L, k, s, cast("Any", pairs), a, d)
    sums = artifacts.phase_sums(ws, s, d, tuple(lo % si for (lo, _), si in zip(pairs, s)),
                                ndim=state.dims)  # fmt: skip
    free = artifacts.is_artifact_free(ws, s, d, ndim=state.dims)
    response = _run(state, np.ones(L), ws, pairs, a)
    index = float(artifacts.checkerboard_index(response, s, ndim=state.dims))
    note = (
        "artifact-free: the phase sums are equal, so a constant input gives a constant "
        "output away from the borders"
        if free
        else "the phase sums differ: a constant input gives a periodic (checkerboard) "
        f"pattern of period {_ints_text(s)} (Odena et al. 2016)"
    )
    return {
        "coverage": _grid(cov),
        "phase_sums": _grid(sums),
        "checkerboard_index": index,
        "constant_response": _grid(response),
        "artifact_free": free,
        "note": note,
    }


# -- code ----------------------------------------------------------------------------------

_IMPORTS = {
    "pytorch": "import torch",
    "tf": "import tensorflow as tf",
    "keras": "import keras",
    "jax": "import jax",
    "onnx": "import onnx",
}


def _array_text(a: np.ndarray) -> str:
    return "np.array(" + repr(a.tolist()) + ", dtype=np.float32)"


def _code(state: State, pairs: Pairs, a: Sequence[int]) -> dict[str, str]:
    """The same layer in each framework, ready to copy: x and w in PyTorch's layout, the
    re-layout and the layer from :func:`tconv.compat.porting.port`."""
    n = state.dims
    xs = state.x[None, None] if n == 2 else state.x[None]
    ws = state.w[None, None] if n == 2 else state.w[None]
    head = (
        "import numpy as np\n"
        f"x = {_array_text(xs)}  # (N, C, *spatial), PyTorch's layout\n"
        f"w = {_array_text(ws)}  # PyTorch's weight layout\n"
    )
    s, d = state.stride, state.dilation
    sym = all(lo == hi for lo, hi in pairs)
    if state.transposed:
        tc = (
            head + "import tconv\n"
            f"y = tconv.functional.conv_transpose{n}d(x, w, stride={s}, "
            f"padding={_pairs_or_ints(pairs)}, output_padding={tuple(a)}, dilation={d})"
        )
        crops = tuple((lo, hi - ai) for (lo, hi), ai in zip(pairs, a))
        code = {"tconv": tc}
        layer = porting.Layer("tconv", state.spatial_w, s, crops, state.spatial_x, d)
        for name in ("torch", "tf", "keras", "jax", "onnx"):
            key = "pytorch" if name == "torch" else name
            try:
                t = porting.port(layer, to=name).targets[name]
            except ValueError as exc:  # a crop the framework cannot express (compat says why)
                code[key] = f"# {key}: no equivalent layer here: {' '.join(str(exc).split())}"
                continue
            lines = [head.rstrip("\n"), _IMPORTS[key]]
            if t.input != "x":
                lines.append(f"x = {t.input}")
            if t.weight != "w":
                lines.append(f"w = {t.weight}")
            lines.append(t.code)
            if t.output != "y" and name != "onnx":
                lines.append(f"y = np.asarray(y)\ny = {t.output}  # back to PyTorch's layout")
            if t.note:
                lines.append(f"# {t.note}")
            code[key] = "\n".join(lines)
        return code
    pad = tuple(lo for lo, _ in pairs) if sym else (0,) * n
    pre = ""
    if not sym:
        widths = ((0, 0), (0, 0), *pairs)
        pre = f"x = np.pad(x, {widths})  # asymmetric padding, then none in the layer\n"
    torch_code = (
        head + "import torch\n" + pre
        + f"y = torch.nn.functional.conv{n}d(torch.from_numpy(x), torch.from_numpy(w), "
        f"stride={s}, padding={pad}, dilation={d})"
    )  # fmt: skip
    tc = (
        head + "import tconv\n"
        f"y = tconv.functional.conv{n}d(x, w, stride={s}, padding={_pairs_or_ints(pairs)}, "
        f"dilation={d})"
    )
    return {"pytorch": torch_code, "tconv": tc}


def _pairs_or_ints(pairs: Pairs) -> Any:
    if all(lo == hi for lo, hi in pairs):
        return tuple(lo for lo, _ in pairs)
    return pairs


# -- presets -------------------------------------------------------------------------------

#: The lecture's three worked examples (EE-559, 9.1; tconv.lecture.examples holds the
#: values it prints, which the tests compare with these states' outputs).
LECTURE = (
    ("lecture 1: conv1d, a series of inner products", "op=conv&x=0,0,1,0,0,0,0&w=1,2,3"),
    (
        "lecture 2: conv_transpose1d, a sum of translated kernels",
        "op=conv_transpose&x=0,0,1,0,0,0,0&w=1,2,3",
    ),
    ("lecture 3: ConvTranspose1d, weight [1, 2, -1]", "op=conv_transpose&x=2,3,0,-1&w=1,2,-1"),
)


def presets(query: str = "") -> dict[str, Any]:
    """The presets the page offers: the lecture's examples, ones, an impulse, and a
    checkerboard; ``random=<seed>&dims=1|2`` draws integers from that seed instead.

    >>> presets("random=7&dims=1")["presets"][0]["query"].startswith("op=conv_transpose&x=")
    True
    """
    fields = dict(parse_qsl(query))
    if "random" in fields:
        text = fields["random"].strip()
        if not (text.isdigit() and len(text) <= 10 and int(text) <= 2**31 - 1):
            raise StateError("random: the seed must be an integer in 0..2147483647", "random")
        seed = int(text)
        dims = fields.get("dims", "1").strip()
        if dims not in ("1", "2"):
            raise StateError(f"dims: must be 1 or 2, got {dims[:10]!r}", "dims")
        rng = np.random.default_rng(seed)
        shape_x, shape_w = ((6,), (3,)) if dims == "1" else ((5, 5), (3, 3))
        x = rng.integers(-3, 4, size=shape_x).astype(np.float64)
        w = rng.integers(-2, 3, size=shape_w).astype(np.float64)
        st = State("conv_transpose", int(dims), np.atleast_2d(x), np.atleast_2d(w),
                   (2,) * int(dims), ((0, 0),) * int(dims), (1,) * int(dims),
                   (0,) * int(dims), None, "pytorch")  # fmt: skip
        return {"presets": [{"name": f"random integers (seed {seed})", "query": st.query}]}
    items = [{"name": n, "query": parse_state(q).query} for n, q in LECTURE]
    for name, q in (
        ("ones, stride 2 (k3: uneven coverage)", "op=conv_transpose&x=1,1,1,1,1&w=1,1,1&stride=2"),
        ("impulse", "op=conv_transpose&x=0,0,1,0,0&w=1,2,3"),
        (
            "2-D impulse: a 3x3 kernel, stride 2",
            "op=conv_transpose&x=0,0,0;0,1,0;0,0,0&w=1,2,3;4,5,6;7,8,9&stride=2",
        ),
        (
            "2-D checkerboard: 3x3 ones, stride 2",
            "op=conv_transpose&x=1,1,1,1;1,1,1,1;1,1,1,1;1,1,1,1&w=1,1,1;1,1,1;1,1,1"
            "&stride=2&padding=1&output_padding=1",
        ),
        (
            "2-D artifact-free: 4x4 ones, stride 2",
            "op=conv_transpose&x=1,1,1,1;1,1,1,1;1,1,1,1;1,1,1,1"
            "&w=1,1,1,1;1,1,1,1;1,1,1,1;1,1,1,1&stride=2&padding=1",
        ),
    ):
        items.append({"name": name, "query": parse_state(q).query})
    return {"presets": items}
