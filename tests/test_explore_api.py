"""``tconv explore``'s Python side, without a browser: the JSON API against PyTorch, its
views against each other's definitions, the caps, the static-file guard, the server on a
free port, and the command line.

Oracles: PyTorch for every output (with padding pairs as a crop or a pad in PyTorch,
written here from their definition), the lecture's printed values, direct sums over the
links, the gather grid slid in NumPy, and tconv.compat's conventions table for the
other frameworks' 'same' (that module is itself tested against the frameworks).
"""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from helpers import rel_err
from tconv.cli import main
from tconv.compat.porting import conventions
from tconv.explore import CAPS, StateError, compute, make_server, parse_state, presets
from tconv.explore import server as server_mod
from tconv.explore.api import LECTURE
from tconv.lecture.examples import EXAMPLES

torch = pytest.importorskip("torch")
TF = torch.nn.functional


# -- drawing states ------------------------------------------------------------------------


def _text(a: np.ndarray) -> str:
    return ";".join(",".join(str(int(v)) for v in row) for row in np.atleast_2d(a))


@st.composite
def states(draw: Any) -> tuple[str, dict[str, Any]]:
    """A query and its parameters in PyTorch's terms (padding as (lo, hi) pairs)."""
    dims = draw(st.sampled_from([1, 2]))
    op = draw(st.sampled_from(["conv", "conv_transpose"]))
    top = 7 if dims == 1 else 4
    L = tuple(draw(st.integers(1, top)) for _ in range(dims))
    k = tuple(draw(st.integers(1, 4)) for _ in range(dims))
    s = tuple(draw(st.integers(1, 3)) for _ in range(dims))
    d = tuple(draw(st.integers(1, 2)) for _ in range(dims))
    pairs = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(dims))
    if not draw(st.booleans()):
        pairs = tuple((lo, lo) for lo, _ in pairs)
    a = (
        tuple(draw(st.integers(0, 2)) for _ in range(dims))
        if op == "conv_transpose"
        else (0,) * dims
    )
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = rng.integers(-4, 5, size=L).astype(np.float64)
    w = rng.integers(-3, 4, size=k).astype(np.float64)
    if dims == 1:
        x, w = x[None], w[None]
    pad = ",".join(f"{lo}:{hi}" for lo, hi in pairs)
    q = (
        f"op={op}&x={_text(x)}&w={_text(w)}&stride={','.join(map(str, s))}&padding={pad}"
        f"&dilation={','.join(map(str, d))}&output_padding={','.join(map(str, a))}"
    )
    return q, {"op": op, "dims": dims, "x": x, "w": w, "s": s, "d": d, "pairs": pairs, "a": a}


def _torch_y(p: dict[str, Any]) -> np.ndarray:
    """PyTorch's output for the drawn parameters: a convolution pads its input by the pairs
    (F.pad), a transposed one crops its full output by them (a negative crop, output
    padding, appends zeros)."""
    dims = p["dims"]
    x = torch.from_numpy(p["x"] if dims == 2 else p["x"][0])[None, None]
    w = torch.from_numpy(p["w"] if dims == 2 else p["w"][0])[None, None]
    # F.pad's amounts run from the last dim to the first
    if p["op"] == "conv":
        amounts = [v for lo, hi in reversed(p["pairs"]) for v in (lo, hi)]
        xp = TF.pad(x, amounts)
        fn = TF.conv1d if dims == 1 else TF.conv2d
        y = fn(xp, w, stride=p["s"], dilation=p["d"])
    else:
        fn = TF.conv_transpose1d if dims == 1 else TF.conv_transpose2d
        full = fn(x, w, stride=p["s"], dilation=p["d"])
        amounts = [
            v for (lo, hi), ai in reversed(list(zip(p["pairs"], p["a"]))) for v in (-lo, ai - hi)
        ]
        y = TF.pad(full, amounts)
    return np.atleast_2d(y[0, 0].numpy())


def _ok(q: str) -> dict[str, Any]:
    try:
        return compute(parse_state(q))
    except StateError:
        assume(False)
        raise


# -- the API against PyTorch and the views against each other ------------------------------


@settings(max_examples=60)
@given(states())
def test_y_equals_torch(case: tuple[str, dict[str, Any]]) -> None:
    q, p = case
    r = _ok(q)
    y = np.array(r["y"])
    ref = _torch_y(p)
    assume(ref.size > 0)
    assert y.shape == ref.shape
    assert rel_err(y, ref) <= 1e-10
    assert r["sizes"]["output_shape"] == list(ref.shape)
    json.dumps(r, allow_nan=False)  # the response is plain JSON


@settings(max_examples=40)
@given(states())
def test_links_matrix_windows_gather_scatter(case: tuple[str, dict[str, Any]]) -> None:
    q, p = case
    r = _ok(q)
    x, w, y = np.array(r["x"]), np.array(r["w"]), np.array(r["y"])
    m = np.array(r["matrix"]["M"])
    assert m.shape == (y.size, x.size)
    assert rel_err(m @ x.ravel(), y.ravel()) <= 1e-10
    assert [link["out"] for link in r["links"]] == [list(i) for i in np.ndindex(*y.shape)]
    rows, cols = r["windows"]
    for link in r["links"]:
        (orow, ocol), terms = link["out"], link["terms"]
        total = sum(x[ir, ic] * w[kr, kc] for ir, ic, kr, kc in terms)
        assert abs(total - y[orow, ocol]) <= 1e-10 * max(1.0, np.abs(y).max())
        # the inputs with a non-zero weight are the non-zero columns of M's row
        lit = {ir * x.shape[1] + ic for ir, ic, kr, kc in terms if w[kr, kc] != 0}
        row = orow * y.shape[1] + ocol
        assert lit == set(np.flatnonzero(m[row]).tolist())
        # every term lies in the output's window (tconv.shapes.input_window)
        (r0, r1, _), (c0, c1, _) = rows[orow], cols[ocol]
        assert all(r0 <= ir < r1 and c0 <= ic < c1 for ir, ic, _, _ in terms)
        taps = [(kr, kc) for _, _, kr, kc in terms]
        assert len(set(taps)) == len(taps)  # one input per tap
    # gather: the kernel slid over the grid with its step gives y
    g = r["gather"]
    grid, ker, step = np.array(g["grid"]), np.array(g["kernel"]), g["step"]
    for gr, gc, ir, ic in g["from"]:
        assert grid[gr, gc] == x[ir, ic]
    kh, kw = ker.shape
    slid = np.array(
        [
            [np.sum(grid[i * step[0] : i * step[0] + kh, j * step[1] : j * step[1] + kw] * ker)
             for j in range(y.shape[1])]
            for i in range(y.shape[0])
        ]
    )  # fmt: skip
    assert rel_err(slid, y) <= 1e-10
    # scatter: the pieces add up to the full output, which the crop turns into y
    sc = r["scatter"]
    if p["op"] == "conv":
        assert sc is None
        return
    full = np.array(sc["full"])
    total = np.zeros_like(full)
    for piece in sc["pieces"]:
        (r0, c0), v = piece["offset"], np.array(piece["values"])
        total[r0 : r0 + v.shape[0], c0 : c0 + v.shape[1]] += v
    assert rel_err(total, full) <= 1e-10
    (lo0, hi0), (lo1, hi1) = sc["crop"]
    padded = np.pad(full, ((max(-lo0, 0), max(-hi0, 0)), (max(-lo1, 0), max(-hi1, 0))))
    cropped = padded[
        max(lo0, 0) : padded.shape[0] - max(hi0, 0), max(lo1, 0) : padded.shape[1] - max(hi1, 0)
    ]
    assert cropped.shape == y.shape and rel_err(cropped, y) <= 1e-10


def _value(expr: str) -> int:
    """The value of a formula line of the sizes view ("... = 6" -> the left side)."""
    left, right = expr.rsplit("=", 1)
    assert re.fullmatch(r"[0-9 ()*+\-/floor]+", left), left
    got = eval(left.replace("/", "//"), {"__builtins__": {}}, {"floor": math.floor})
    assert got == int(right)
    return got


@settings(max_examples=40)
@given(states())
def test_sizes_view(case: tuple[str, dict[str, Any]]) -> None:
    q, p = case
    r = _ok(q)
    y = np.array(r["y"])
    sizes = r["sizes"]
    got = [_value(e) for e in sizes["numbers"]]
    assert got == list(y.shape[-p["dims"] :])
    assert sizes["padding_pairs"] == [list(v) for v in p["pairs"]]
    if p["op"] == "conv":
        reads = np.array(r["artifacts"]["coverage"])
        ignored = {tuple(c) for c in sizes["ignored_inputs"]}
        # an input no output reads: a zero column of the tap map, the ignored set
        assert ignored == {tuple(c) for c in np.argwhere(reads == 0).tolist()}


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # PyTorch's note on its own copy
@settings(max_examples=40)
@given(
    st.integers(1, 12),
    st.integers(1, 5),
    st.integers(1, 3),
    st.sampled_from(["same", "valid"]),
    st.integers(0, 2**16),
)
def test_same_and_valid_convolutions_equal_torch(
    L: int, k: int, d: int, pad: str, seed: int
) -> None:
    """PyTorch's own 'same' and 'valid' (stride 1) against the page's convolution."""
    rng = np.random.default_rng(seed)
    x, w = rng.integers(-4, 5, size=L), rng.integers(-3, 4, size=k)
    q = f"op=conv&x={_text(x)}&w={_text(w)}&dilation={d}&padding={pad}"
    r = _ok(q)
    t = torch.from_numpy
    ref = TF.conv1d(t(x * 1.0)[None, None], t(w * 1.0)[None, None], padding=pad, dilation=d)
    assert rel_err(np.array(r["y"]), ref[0].numpy()) <= 1e-10


def test_lecture_examples_give_the_lecture_values() -> None:
    assert len(LECTURE) == len(EXAMPLES) == 3
    for (_, query), example in zip(LECTURE, EXAMPLES):
        y = compute(parse_state(query))["y"]
        assert y == [list(example.expected)], (query, y, example.expected)


def test_presets() -> None:
    items = presets()["presets"]
    assert [i["query"] for i in items[:3]] == [parse_state(q).query for _, q in LECTURE]
    for item in items:
        compute(parse_state(item["query"]))  # every preset is a valid state
    a, b = presets("random=5&dims=2"), presets("random=5&dims=2")
    assert a == b and a != presets("random=6&dims=2")
    assert parse_state(a["presets"][0]["query"]).dims == 2
    for bad, field in (("random=x", "random"), ("random=1&dims=3", "dims")):
        with pytest.raises(StateError) as info:
            presets(bad)
        assert info.value.field == field


@pytest.mark.parametrize("name", ["tf", "keras", "jax", "onnx"])
@pytest.mark.parametrize(
    ("k", "s", "d", "L"), [(4, 2, 1, 7), (3, 2, 1, 5), (1, 3, 1, 4), (3, 1, 2, 6)]
)
def test_conventions_same_and_valid(name: str, k: int, s: int, d: int, L: int) -> None:
    """The other frameworks' 'same' and 'valid' of a transposed convolution crop as
    tconv.compat's table says."""
    table = conventions(k, s, d, L)
    for pad, key in (("same", "SAME"), ("valid", "VALID")):
        label = {"keras": key.lower(), "onnx": "SAME_UPPER" if pad == "same" else None}.get(
            name, key
        )
        if label is None:
            continue
        q = f"op=conv_transpose&x={','.join(['1'] * L)}&w={','.join(['1'] * k)}&stride={s}&dilation={d}&padding={pad}&convention={name}"
        if name == "keras" and d > 1 and s > 1:
            continue
        r = compute(parse_state(q))
        out, crop = table[f"{name} {label}"]
        assert r["sizes"]["padding_pairs"] == [list(crop[0])]
        assert r["sizes"]["output_shape"] == [1, out[0]]
    if name == "tf":  # tconv's own 'same' (convention pytorch) crops as TF's 'SAME'
        q = f"op=conv_transpose&x={','.join(['1'] * L)}&w={','.join(['1'] * k)}&stride={s}&dilation={d}&padding=same"
        assert compute(parse_state(q))["sizes"]["padding_pairs"] == [list(table["tf SAME"][1][0])]
    if name == "onnx":
        r = compute(
            parse_state(
                f"op=conv_transpose&x={','.join(['1'] * L)}&w={','.join(['1'] * k)}&stride={s}&dilation={d}&padding=same_lower&convention=onnx"
            )
        )
        assert r["sizes"]["padding_pairs"] == [list(table["onnx SAME_LOWER"][1][0])]


def test_code_snippets() -> None:
    r = compute(parse_state("op=conv_transpose&x=2,3,0,-1&w=1,2,-1&stride=2&padding=1:0"))
    assert set(r["code"]) == {"pytorch", "tf", "keras", "jax", "onnx", "tconv"}
    ns: dict[str, Any] = {}
    exec(r["code"]["pytorch"], ns)  # the PyTorch snippet runs and gives the page's y
    assert ns["y"].detach().numpy()[0, 0].tolist() == r["y"][0]
    ns = {}
    exec(r["code"]["tconv"], ns)
    assert np.asarray(ns["y"])[0, 0].tolist() == r["y"][0]
    r = compute(parse_state("op=conv&x=1,2,3,4,5&w=1,-1&stride=2&padding=1:0"))
    assert set(r["code"]) == {"pytorch", "tconv"}
    ns = {}
    exec(r["code"]["pytorch"], ns)
    assert ns["y"].numpy()[0, 0].tolist() == r["y"][0]


def test_canonical_query_round_trips() -> None:
    q = "op=conv_transpose&x=1.5,2;3,4e1&w=1,-2;&stride=2,1&padding=1:0,0&output_padding=1,0"
    s = parse_state(q)
    assert s.query == (
        "op=conv_transpose&x=1.5,2;3,40&w=1,-2;&stride=2,1&padding=1:0,0&dilation=1"
        "&output_padding=1,0"
    )
    assert s.w.shape == (1, 2) and s.dims == 2
    assert parse_state(s.query).query == s.query
    r = compute(s)
    assert r["state"]["query"] == s.query
    # output_size instead of output_padding: the same layer
    a = compute(parse_state("x=1,2,3&w=1,2,3&stride=2&output_padding=1"))
    b = compute(parse_state("x=1,2,3&w=1,2,3&stride=2&output_size=8"))
    assert a["y"] == b["y"] and b["sizes"]["output_padding"] == [1]


# -- errors and caps -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("op=conv&x=1,2&w=1,2,3", "w", "kernel larger"),
        ("x=1,2&w=1,2,3&output_padding=3", "output_padding", "smaller than stride"),
        ("stride=0", "stride", "positive"),
        ("dilation=0", "dilation", "positive"),
        ("op=conv&x=1,2,3,4&w=1,2&stride=2&padding=same", "padding", "strided"),
        ("x=1,2&w=1&padding=1&output_size=9", "output_size", "output_size"),
        ("x=1,2&w=1&output_size=1&output_padding=1", "output_size", "not both"),
        ("x=1,2&w=1&padding=3", "padding", "empty output"),
        ("x=1,a", "x", "number"),
        ("w=1,,2", "w", "number"),
        ("x=1,2;3", "x", "same length"),
        ("x=1,2;3,4&w=1,2", "w", "2-D"),
        ("x=1,2;;3,4&w=1;", "x", "empty row"),
        ("op=deconv", "op", "conv_transpose"),
        ("padding=1:2:3", "padding", "lo:hi"),
        ("padding=sam", "padding", "integer"),
        ("padding=same_lower", "padding", "ONNX"),
        ("convention=caffe", "convention", "pytorch"),
        ("op=conv&output_padding=1", "output_padding", "transposed"),
        ("op=conv&output_size=4", "output_size", "transposed"),
        ("x=1&x=2", "x", "twice"),
        ("x=nan", "x", "number"),
        ("x=1e400", "x", "finite"),
        ("x=2e6", "x", "finite"),
        ("stride=1.5", "stride", "integer"),
    ],
)
def test_errors_name_the_field(query: str, field: str, words: str) -> None:
    with pytest.raises(StateError) as info:
        compute(parse_state(query))
    assert info.value.field == field
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)


FIELD_NAMES = ["op", "x", "w", "stride", "padding", "dilation", "output_padding",
               "output_size", "convention"]  # fmt: skip


@settings(max_examples=300)
@given(
    st.dictionaries(
        st.sampled_from(FIELD_NAMES),
        st.one_of(
            st.text(alphabet="0123456789,;:.-+eE ", max_size=24),
            st.sampled_from(
                [
                    "same",
                    "valid",
                    "same_lower",
                    "conv",
                    "conv_transpose",
                    "tf",
                    "onnx",
                    "jax",
                    "keras",
                    "",
                    "1,2;3,4",
                    "2",
                    "1:2,0",
                ]
            ),
        ),
        max_size=6,
    )
)
def test_any_query_is_a_result_or_a_state_error(fields: dict[str, str]) -> None:
    """Hostile queries: every outcome is a result or a StateError naming a field (never
    another exception, which would be a bug)."""
    from urllib.parse import urlencode

    r: dict[str, Any] | None = None
    try:
        r = compute(parse_state(urlencode(fields)))
    except StateError as exc:
        assert str(exc) and (exc.field is None or exc.field in [*FIELD_NAMES, "query"])
    if r is not None:
        json.dumps(r, allow_nan=False)
        assert parse_state(r["state"]["query"]).query == r["state"]["query"]


ROW16 = ",".join(["1"] * 16)
CAPPED = [
    ("x=" + ",".join(["1"] * 65), "x"),
    ("x=" + ";".join([ROW16] * 17), "x"),
    ("x=" + ";".join([ROW16 + ",1"] * 2), "x"),
    ("w=" + ",".join(["1"] * 17), "w"),
    ("stride=17", "stride"),
    ("padding=17", "padding"),
    ("padding=0:17", "padding"),
    ("dilation=99999", "dilation"),
    ("output_padding=-1", "output_padding"),
    ("output_size=257", "output_size"),
    ("x=" + ",".join(["1"] * 5000), "x"),  # past the query's bytes too: refused on its size
    ("&".join(f"k{i}=1" for i in range(40)), "query"),
    # 2-D: 16x16 in, 16x16 kernel, stride 4: 76x76 out, past 64x64
    ("x=" + ";".join([ROW16] * 16) + "&w=" + ";".join([ROW16] * 16) + "&stride=4", None),
]


@pytest.mark.parametrize(("query", "field"), CAPPED)
def test_caps(query: str, field: str | None) -> None:
    start = time.perf_counter()
    with pytest.raises(StateError) as info:
        compute(parse_state(query))
    assert time.perf_counter() - start < 0.5  # refused before any real work
    if field != "query" and len(query) <= CAPS["query_bytes"]:
        assert info.value.field == field
    assert "at most" in str(info.value) or "must be in" in str(info.value)


def test_largest_state_is_quick() -> None:
    """The caps bound the work: the largest 2-D state within them is computed quickly."""
    row = ",".join(["3"] * 16)
    q = f"x={';'.join([row] * 16)}&w={';'.join([row] * 16)}&stride=3"
    start = time.perf_counter()
    r = compute(parse_state(q))
    assert time.perf_counter() - start < 5  # generous: a shared 2-core machine
    assert r["sizes"]["output_shape"] == [61, 61] and r["matrix"]["M"] is None
    assert len(json.dumps(r)) < 8 * 2**20


# -- the server ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    """One server for the module's tests: it keeps no state between requests."""
    srv = make_server(port=0)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _raw(srv: Any, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """A request with the path exactly as written (urllib would tidy some of them)."""
    host, port = srv.server_address[:2]
    c = http.client.HTTPConnection(host, port, timeout=10)
    c.putrequest(method, path, skip_accept_encoding=True)
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, dict(r.getheaders()), body


def test_server_api_and_page(server: Any) -> None:
    url = server.url("op=conv&x=0,0,1,0,0,0,0&w=1,2,3")
    page = urllib.request.urlopen(url, timeout=10)
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    api = server.url().rstrip("/") + "/api/compute?op=conv&x=0,0,1,0,0,0,0&w=1,2,3"
    r = json.load(urllib.request.urlopen(api, timeout=10))
    assert r["y"] == [list(EXAMPLES[0].expected)]
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(server.url().rstrip("/") + "/api/compute?stride=0", timeout=10)
    assert info.value.code == 400
    body = json.load(info.value)
    assert body["field"] == "stride" and "positive" in body["error"]
    status, _, body = _raw(server, "/api/presets")
    assert status == 200 and len(json.loads(body)["presets"]) >= 5


@pytest.mark.parametrize("query", [q for q, _ in CAPPED])
def test_server_caps_are_400(server: Any, query: str) -> None:
    start = time.perf_counter()
    status, headers, body = _raw(server, "/api/compute?" + query)
    assert status == 400 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"]
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    "path",
    [
        "/static/../api.py",
        "/static/%2e%2e/api.py",
        "/static/..%2fapi.py",
        "/static/%2E%2E%2Fserver.py",
        "/static/../../explore/server.py",
        "/static//etc/passwd",
        "/static/",
        "/static",
        "/static/.",
        "/static/.hidden.js",
        "/static/index.html/",
        "/static/index.html/..",
        "/..",
        "/../api.py",
        "/api.py",
        "/__init__.py",
        "/etc/passwd",
        "/static/C:%5Cwindows",
        "/static/%00index.html",
        "/static/index.html%00.js",
        "/static/nope.js",
        "/static/" + "a" * 300 + ".js",
        "/index.htm",
        "/api",
        "/api/",
    ],
)
def test_static_guard(server: Any, path: str) -> None:
    status, _, body = _raw(server, path)
    assert status == 404, (path, status)
    assert b"import" not in body and b"<html" not in body.lower()


def test_static_files_served(server: Any) -> None:
    status, headers, body = _raw(server, "/")
    assert status == 200 and body.lstrip().lower().startswith(b"<!doctype html")
    status, headers, _ = _raw(server, "/", method="HEAD")
    assert status == 200 and int(headers["Content-Length"]) > 0
    status, _, _ = _raw(server, "/api/compute", method="POST")
    assert status == 405
    from importlib import resources

    static = resources.files("tconv.explore").joinpath("static")
    for item in static.iterdir():
        if item.is_file() and "." in item.name and not item.name.startswith("."):
            status, headers, body = _raw(server, f"/static/{item.name}")
            assert status == 200 and body == item.read_bytes()
            assert headers["X-Content-Type-Options"] == "nosniff"


def test_long_request_is_400(server: Any) -> None:
    status, _, body = _raw(server, "/api/compute?x=" + "1," * 6000 + "1")
    assert status == 400 and "bytes" in json.loads(body)["error"]
    status, headers, body = _raw(server, "/api/compute?x=1,2", method="HEAD")
    assert status == 200 and body == b"" and headers["Content-Type"] == "application/json"


def test_slow_client_does_not_hang_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_mod.Handler, "timeout", 0.5)
    srv = make_server(port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        host, port = srv.server_address[:2]
        silent = socket.create_connection((host, port))
        silent.sendall(b"GET /api/compute?x=1")  # and then nothing
        start = time.perf_counter()
        status, _, _ = _raw(srv, "/api/compute?x=1,2")
        assert status == 200 and time.perf_counter() - start < 2
        silent.settimeout(5)
        assert silent.recv(100) == b""  # the server closed the silent connection
        silent.close()
    finally:
        srv.shutdown()
        srv.server_close()


# -- the command line ----------------------------------------------------------------------


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["explore", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "tconv explore 'op=conv&x=0,0,1,0,0,0,0&w=1,2,3'" in out and "--no-browser" in out


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["x=1,a"], "x: expected a number"),
        (["op=conv&x=1,2&w=1,2,3"], "kernel larger"),
        (["--port", "70000"], "--port"),
        (["--host", ""], "--host"),
    ],
)
def test_cli_usage_errors(argv: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["explore", "--no-browser", *argv])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and words in err


def test_cli_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        with pytest.raises(SystemExit) as info:
            main(["explore", "--no-browser", "--port", str(busy.getsockname()[1])])
    finally:
        busy.close()
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "in use" in err and "--port 0" in err


def test_cli_opens_the_browser_and_warns_off_loopback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url, *a, **k: opened.append(url) or True)

    def stop(self: Any, *args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(server_mod.ExploreServer, "serve_forever", stop)
    assert main(["explore", "--port", "0", "x=1,2"]) == 0
    out = capsys.readouterr()
    assert len(opened) == 1 and opened[0].endswith(
        "?op=conv_transpose&x=1,2&w=1,2,-1&stride=1&padding=0&dilation=1&output_padding=0"
    )
    assert opened[0] in out.out and "stopped" in out.out and "warning" not in out.err
    assert main(["explore", "--port", "0", "--no-browser", "--host", "0.0.0.0"]) == 0
    assert len(opened) == 1 and "warning" in capsys.readouterr().err


def test_cli_serves_until_ctrl_c() -> None:
    """The real command in a subprocess: it prints the URL, serves, and Ctrl-C stops it
    cleanly (exit 0)."""
    env = {**os.environ}
    env.pop("TCONV_DEBUG", None)
    p = subprocess.Popen(
        [sys.executable, "-m", "tconv", "explore", "--no-browser", "--port", "0",
         "op=conv&x=0,0,1,0,0,0,0&w=1,2,3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert p.stdout is not None
        line = p.stdout.readline()
        url = re.search(r"http://\S+", line)
        assert url, line
        page = urllib.request.urlopen(url.group(0), timeout=10)
        assert page.status == 200
        api = url.group(0).split("?")[0] + "api/compute?" + url.group(0).split("?")[1]
        assert json.load(urllib.request.urlopen(api, timeout=10))["y"] == [[3, 2, 1, 0, 0]]
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


# -- the tour's gallery --------------------------------------------------------------------


def test_gallery_links_every_figure_to_its_state(tmp_path: Any) -> None:
    from tconv.lecture.figures import FIGURES
    from tconv.lecture.tour import EXPLORE_STATES, write_index

    assert set(EXPLORE_STATES) == set(FIGURES)
    entries = [(name, spec.caption, [tmp_path / f"{name}.png"]) for name, spec in FIGURES.items()]
    index = write_index(tmp_path, entries).read_text()
    assert "tconv explore</code> must be running" in index
    links = re.findall(r"<figure id='([^']+)'.*?<a class='explore' href='([^']+)'>", index)
    assert [name for name, _ in links] == list(FIGURES)
    for _, href in links:
        url = href.replace("&amp;", "&")
        assert url.startswith("http://127.0.0.1:8559/?")
        state = parse_state(url.split("?", 1)[1])
        assert state.query == url.split("?", 1)[1]  # canonical: the page shows this state
        compute(state)  # within the caps, accepted by tconv
