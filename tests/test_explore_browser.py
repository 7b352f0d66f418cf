"""The explorer page in a real browser: Debian's Chromium driven by Playwright.

The server (:func:`tconv.explore.make_server`) runs in a thread on a free port; the
tests load shareable URLs, read the values the page drew from its data attributes
(``data-view``, ``data-role``, ``data-r``, ``data-c``, ``data-v``) and compare them with
tconv's own functions (``tconv.functional``, ``tconv.matrix``, ``tconv.artifacts``),
called here with the parameters read from the page's URL. Screenshots go to
``test-artifacts/explore/``.

Playwright's own browser download is not reachable: Chromium is Debian's
(``apt-get install chromium``), launched by its path.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import numpy as np
import pytest

pytestmark = pytest.mark.slow

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)

from tconv import artifacts as tart  # noqa: E402
from tconv import functional as F  # noqa: E402
from tconv import matrix as tmat  # noqa: E402
from tconv.explore import StateError, compute, make_server, parse_state, presets  # noqa: E402
from tconv.lecture.examples import EXAMPLES, K, X  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "explore"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# What the browser logs for a response with an error status: expected for the
# invalid states, where the API answers 400 by design.
HTTP_400 = r"Failed to load resource: the server responded with a status of 400"
TIMEOUT_MS = 15_000


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def server() -> Iterator[Any]:
    srv = make_server(port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Console:
    """The page's console messages and uncaught errors."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []
        self.allowed: list[str] = []

    def errors(self) -> list[tuple[str, str]]:
        return [
            (kind, text)
            for kind, text in self.messages
            if kind in ("error", "pageerror") and not any(re.search(a, text) for a in self.allowed)
        ]


@pytest.fixture
def page(browser: Any, server: Any) -> Iterator[Any]:
    """A fresh page at 1280x800; the test fails if the console shows an error."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = ctx.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    console = Console()
    pg.on("console", lambda m: console.messages.append((m.type, m.text)))
    pg.on("pageerror", lambda e: console.messages.append(("pageerror", str(e))))
    pg.console = console
    pg.server = server
    yield pg
    ctx.close()
    assert console.errors() == [], console.errors()


# ---------------------------------------------------------------- page helpers


def open_state(pg: Any, query: str) -> None:
    pg.goto(pg.server.url(query))
    pg.wait_for_selector("body[data-status=ok]")


def renders(pg: Any) -> int:
    return int(pg.evaluate("document.body.dataset.renders"))


def wait_render(pg: Any, before: int) -> None:
    """Wait until the page drew a new response (after a change)."""
    pg.wait_for_function(
        "n => +document.body.dataset.renders > n && document.body.dataset.status === 'ok'",
        arg=before,
    )


def wait_drawn(pg: Any, fragment: str) -> None:
    """Wait until the page drew a state whose query holds ``fragment``."""
    pg.wait_for_function(
        """f => document.body.dataset.status === 'ok'
               && (document.body.dataset.query || '').split('&').includes(f)""",
        arg=fragment,
    )


def wait_error(pg: Any) -> None:
    pg.wait_for_selector("body[data-status=error]")


def state(pg: Any) -> dict[str, str]:
    """The page's state, read from its URL."""
    q = pg.evaluate("location.search")[1:]
    return {k: v[0] for k, v in parse_qs(q, keep_blank_values=True).items()}


def cells(pg: Any, selector: str) -> np.ndarray:
    """The data-v values of the cells matching ``selector`` as a 2-D array by (data-r, data-c)."""
    found = pg.eval_on_selector_all(
        selector, "els => els.map(e => [+e.dataset.r, +e.dataset.c, +e.dataset.v])"
    )
    assert found, f"no cells for {selector}"
    rows = max(r for r, _, _ in found) + 1
    cols = max(c for _, c, _ in found) + 1
    out = np.full((rows, cols), np.nan)
    for r, c, v in found:
        out[r, c] = v
    assert not np.isnan(out).any(), f"missing cells for {selector}"
    return out


def positions(pg: Any, selector: str) -> set[tuple[int, int]]:
    found = pg.eval_on_selector_all(selector, "els => els.map(e => [+e.dataset.r, +e.dataset.c])")
    return {(r, c) for r, c in found}


def lit(pg: Any, view: str, role: str) -> set[tuple[int, int]]:
    return positions(pg, f"[data-view={view}] .cell.lit[data-role={role}]")


def lit_all(pg: Any) -> dict[tuple[str, str], set[tuple[int, int]]]:
    """Every lit cell, by (view, role), read in one call."""
    found = pg.eval_on_selector_all(
        ".cell.lit[data-role]",
        """els => els.map(e => [e.closest('[data-view]').dataset.view, e.dataset.role,
                                 +e.dataset.r, +e.dataset.c])""",
    )
    out: dict[tuple[str, str], set[tuple[int, int]]] = {}
    for view, role, r, c in found:
        out.setdefault((view, role), set()).add((r, c))
    return out


# ---------------------------------------------------------------- the oracle


def _values(text: str) -> np.ndarray:
    rows = [[float(v) for v in row.split(",")] for row in text.split(";")]
    return np.array(rows[0] if ";" not in text else rows)


def _ints(text: str | None, default: int) -> Any:
    if not text:
        return default
    parts = [int(v) for v in text.split(",")]
    return parts[0] if len(parts) == 1 else tuple(parts)


class Layer:
    """The layer of a page state, computed by tconv (independently of the server's API)."""

    def __init__(self, st: dict[str, str]) -> None:
        self.op = st.get("op", "conv_transpose")
        self.x = _values(st["x"])
        self.w = _values(st["w"])
        self.dims = self.x.ndim
        self.stride = _ints(st.get("stride"), 1)
        self.padding = _ints(st.get("padding"), 0)
        self.dilation = _ints(st.get("dilation"), 1)
        self.output_padding = _ints(st.get("output_padding"), 0)
        xb, wb = self.x[None, None], self.w[None, None]
        if self.op == "conv":
            fn = F.conv1d if self.dims == 1 else F.conv2d
            self.y = np.asarray(
                fn(xb, wb, stride=self.stride, padding=self.padding, dilation=self.dilation)
            )[0, 0]
            self.M = tmat.conv_matrix(
                wb, (1, *self.x.shape), self.stride, self.padding, self.dilation
            )
            self.coverage = None
        else:
            fn = F.conv_transpose1d if self.dims == 1 else F.conv_transpose2d
            self.y = np.asarray(
                fn(
                    xb,
                    wb,
                    stride=self.stride,
                    padding=self.padding,
                    output_padding=self.output_padding,
                    dilation=self.dilation,
                )
            )[0, 0]
            self.M = tmat.conv_transpose_matrix(
                wb,
                (1, *self.x.shape),
                self.stride,
                self.padding,
                self.output_padding,
                self.dilation,
            )
            size = self.x.shape[0] if self.dims == 1 else self.x.shape
            ksize = self.w.shape[0] if self.dims == 1 else self.w.shape
            self.coverage = tart.coverage(
                size, ksize, self.stride, self.padding, self.output_padding, self.dilation
            )
        self.M = np.asarray(self.M)
        assert self.M.shape == (self.y.size, self.x.size)

    def grid(self, a: np.ndarray) -> np.ndarray:
        """1-D arrays as the page draws them: one row."""
        return np.atleast_2d(a)


def check_views(pg: Any) -> Layer:
    """Every view shows tconv's values for the page's current URL."""
    layer = Layer(state(pg))
    y = layer.grid(layer.y)
    np.testing.assert_array_equal(cells(pg, "[data-view=summary] [data-role=out]"), y)
    np.testing.assert_array_equal(
        cells(pg, "[data-view=summary] [data-role=in]"), layer.grid(layer.x)
    )
    np.testing.assert_array_equal(
        cells(pg, "[data-view=summary] [data-role=tap]"), layer.grid(layer.w)
    )
    if layer.op == "conv_transpose" or layer.dims == 1:
        np.testing.assert_array_equal(cells(pg, "[data-view=scatter] [data-role=out]"), y)
    np.testing.assert_array_equal(cells(pg, "[data-view=gather] [data-role=out]"), y)
    np.testing.assert_array_equal(cells(pg, "[data-view=matrix] [data-role=out]"), y)
    np.testing.assert_array_equal(cells(pg, "[data-view=matrix] [data-role=m]"), layer.M)
    shape = pg.get_attribute("[data-role=output-shape]", "data-v")
    assert [int(v) for v in re.findall(r"\d+", shape or "")][-layer.dims :] == list(layer.y.shape)
    if layer.coverage is not None:
        cov = cells(pg, "[data-view=artifacts] [data-role=cov]")
        np.testing.assert_array_equal(cov, layer.grid(layer.coverage))
    pos = int(pg.inner_text("[data-view=step] .counter").split("/")[0]) - 1
    assert float(pg.get_attribute("[data-role=step-value]", "data-v") or "nan") == y.ravel()[pos]
    if pg.get_attribute("#code-tab-pytorch", "aria-selected") != "true":
        pg.click("#code-tab-pytorch")
    code = pg.inner_text("#code-text")
    stride = layer.stride if isinstance(layer.stride, int) else layer.stride[0]
    assert re.search(rf"stride=\(?{stride}\b", code), code
    return layer


# ---------------------------------------------------------------- tests


def lecture_query(i: int) -> str:
    for p in presets("")["presets"]:
        if p["name"].startswith(f"lecture {i + 1}"):
            return str(p["query"])
    raise AssertionError(f"no preset for the lecture's example {i + 1}")


@pytest.mark.parametrize("i", range(len(EXAMPLES)))
def test_lecture_examples_by_url(page: Any, i: int) -> None:
    """The three worked examples, opened by URL, show the lecture's printed values."""
    ex = EXAMPLES[i]
    open_state(page, lecture_query(i))
    shown = cells(page, "[data-view=summary] [data-role=out]").ravel()
    assert tuple(shown) == ex.expected
    got, ok = ex.run()
    assert ok and np.array_equal(shown, np.ravel(got))
    layer = check_views(page)
    if i < 2:  # the first two use the lecture's x and k
        assert np.array_equal(layer.x, np.ravel(X)) and np.array_equal(layer.w, np.ravel(K))


def test_lecture_example_typed_url(page: Any) -> None:
    """A URL written by hand (as on a slide) opens that state; no query is the 3rd example."""
    open_state(page, "op=conv&x=0,0,1,0,0,0,0&w=1,2,3")
    assert tuple(cells(page, "[data-view=summary] [data-role=out]").ravel()) == EXAMPLES[0].expected
    check_views(page)
    open_state(page, "")
    assert tuple(cells(page, "[data-view=summary] [data-role=out]").ravel()) == EXAMPLES[2].expected
    assert "x=2,3,0,-1" in page.evaluate("location.search")


def test_stride_and_padding_by_keyboard_and_click(page: Any, browser: Any) -> None:
    open_state(page, lecture_query(2))
    before = renders(page)
    page.focus("#stride")
    page.keyboard.press("ArrowUp")  # 1 -> 2
    wait_render(page, before)
    assert state(page)["stride"] == "2"
    check_views(page)

    before = renders(page)
    page.click("button[aria-label='increase padding']")  # 0 -> 1
    wait_render(page, before)
    assert state(page)["padding"] == "1"
    layer = check_views(page)
    assert layer.y.shape == (7,)

    before = renders(page)
    page.focus("#padding")
    page.keyboard.press("ArrowUp")  # 1 -> 2
    wait_render(page, before)
    assert (state(page)["stride"], state(page)["padding"]) == ("2", "2")
    check_views(page)

    before = renders(page)
    page.click("button[aria-label='decrease stride']")  # 2 -> 1
    wait_render(page, before)
    assert state(page)["stride"] == "1"
    check_views(page)

    # The URL is the state (the page's link too): a new page at this URL shows the same values.
    url = page.url
    assert url.endswith(page.get_attribute("#share", "href") or "?")
    other = browser.new_page()
    try:
        other.goto(url)
        other.wait_for_selector("body[data-status=ok]")
        np.testing.assert_array_equal(
            cells(other, "[data-view=summary] [data-role=out]"),
            cells(page, "[data-view=summary] [data-role=out]"),
        )
    finally:
        other.close()


def test_2d_stride_by_keyboard(page: Any) -> None:
    open_state(page, "op=conv_transpose&x=1,-2,0;3,1,2;0,-1,4&w=1,2;-3,4&stride=1&padding=0")
    check_views(page)
    before = renders(page)
    page.focus("#stride")
    page.keyboard.press("End")
    page.keyboard.press("ArrowUp")  # 1 -> 2 (both dims)
    wait_render(page, before)
    before = renders(page)
    page.fill("#padding", "1,0")
    wait_render(page, before)
    assert (state(page)["stride"], state(page)["padding"]) == ("2", "1,0")
    layer = check_views(page)
    assert layer.y.shape == (4, 6)


def _shown(pg: Any) -> np.ndarray:
    """y as every view that draws it shows it (they must agree), flattened."""
    y = cells(pg, "[data-view=summary] [data-role=out]")
    for view in ("gather", "matrix"):
        np.testing.assert_array_equal(cells(pg, f"[data-view={view}] [data-role=out]"), y)
    return y.ravel()


def test_conventions_same_and_asymmetric_padding(page: Any) -> None:
    """TF's 'same' (through tconv.compat.tf, the framework's own rule) and a lo:hi padding."""
    from tconv.compat import tf

    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    w = np.array([1.0, 2.0, -1.0])
    open_state(page, "op=conv_transpose&x=1,2,3,4,5&w=1,2,-1&stride=2")
    before = renders(page)
    page.select_option("#convention", "tf")
    wait_render(page, before)
    before = renders(page)
    page.fill("#padding", "same")
    wait_render(page, before)
    assert (state(page)["convention"], state(page)["padding"]) == ("tf", "same")
    want = tf.conv1d_transpose(x[None, :, None], w[:, None, None], [1, 10, 1], 2, "SAME")
    np.testing.assert_array_equal(_shown(page), np.ravel(want))
    np.testing.assert_array_equal(
        cells(page, "[data-view=scatter] [data-role=out]").ravel(), np.ravel(want)
    )

    before = renders(page)
    page.select_option("#op", "conv")
    wait_render(page, before)
    want = tf.conv1d(x[None, :, None], w[:, None, None], 2, "SAME")
    np.testing.assert_array_equal(_shown(page), np.ravel(want))

    before = renders(page)
    page.select_option("#op", "conv_transpose")
    page.select_option("#convention", "pytorch")
    page.fill("#padding", "1:2")
    wait_render(page, before)
    wait_drawn(page, "padding=1:2")
    want = F.conv_transpose1d(x[None, None], w[None, None], stride=2, padding=[(1, 2)])
    np.testing.assert_array_equal(_shown(page), np.ravel(want))
    crop = page.eval_on_selector_all(
        "[data-view=scatter] [data-role=full]", "els => els.map(e => e.matches('.cropped'))"
    )
    assert crop[:1] == [True] and crop[1] is False and crop[-2:] == [True, True]


def test_output_size_by_keyboard(page: Any) -> None:
    """output_size as the alternative to output_padding: Up in the empty field starts from
    the current size."""
    open_state(page, "op=conv_transpose&x=2,3,0,-1&w=1,2,-1&stride=2")
    assert cells(page, "[data-view=summary] [data-role=out]").size == 9
    before = renders(page)
    page.focus("#output_size")
    page.keyboard.press("ArrowUp")
    wait_render(page, before)
    assert state(page)["output_size"] == "10"
    x = np.array([[[2.0, 3.0, 0.0, -1.0]]])
    w = np.array([[[1.0, 2.0, -1.0]]])
    want = F.conv_transpose1d(x, w, stride=2, output_size=[10])
    np.testing.assert_array_equal(_shown(page), np.ravel(want))
    assert page.inner_text("[data-role=output-shape]") == "10"


def test_conv_strided_views(page: Any) -> None:
    """A strided convolution: every view, and the ignored inputs of the Sizes view."""
    open_state(page, "op=conv&x=1,2,3,4,5,6,7&w=1,2&stride=3")
    layer = check_views(page)
    ignored = positions(page, "[data-view=sizes] .cell.ignored[data-role=in]")
    never_read = {(0, int(i)) for i in np.flatnonzero(~layer.M.any(axis=0))}
    assert ignored == never_read and ignored


@pytest.mark.parametrize(
    "query",
    [
        "op=conv_transpose&x=2,-1,3,1;0,4,-2,1;1,1,-3,2;5,0,2,-1&w=1,2,3;4,5,6;7,8,9"
        "&stride=2&padding=1&output_padding=1",
        "op=conv&x=2,-1,3,1,0,4,-2,1,1&w=1,2,3&stride=2&padding=1&dilation=2",
        "op=conv_transpose&x=2,-1,3,0,4&w=1,2,3&stride=2&padding=1&dilation=2&output_padding=1",
    ],
    ids=["conv_transpose_2d", "conv_1d", "conv_transpose_1d"],
)
def test_hover_lights_the_matrix_row(page: Any, query: str) -> None:
    """Hovering an output lights the inputs of the nonzero entries of its matrix row (the
    weights are nonzero and distinct, so the lit taps are those entries' values too);
    hovering an input lights the outputs of the nonzero entries of its column."""
    open_state(page, query)
    layer = check_views(page)
    M = layer.M
    w = layer.grid(layer.w)
    yw = layer.grid(layer.y).shape[1]
    xw = layer.grid(layer.x).shape[1]
    rng = np.random.default_rng(5)
    # every output and input in 1-D; in 2-D the corners and a sample (a hover is ~0.3 s)
    rows = (
        range(M.shape[0]) if layer.dims == 1 else {0, M.shape[0] - 1, *rng.choice(M.shape[0], 10)}
    )
    for row in sorted(rows):
        r, c = divmod(int(row), yw)
        page.hover(f"[data-view=summary] [data-role=out][data-r='{r}'][data-c='{c}']")
        got = lit_all(page)
        want = {divmod(int(j), xw) for j in np.flatnonzero(M[row])}
        assert got.get(("summary", "in"), set()) == want, (r, c)
        assert got.get(("matrix", "in"), set()) == want
        assert got.get(("matrix", "m"), set()) == {(row, int(j)) for j in np.flatnonzero(M[row])}
        taps = sorted(w[t] for t in got.get(("summary", "tap"), set()))
        assert taps == sorted(M[row][M[row] != 0])
        assert got.get(("gather", "in"), set()) <= want
        assert got[("gather", "out")] == got[("summary", "out")] == {(r, c)}
        if layer.op == "conv_transpose":
            assert got[("scatter", "out")] == got[("artifacts", "cov")] == {(r, c)}
        if layer.dims == 1:  # every piece (input row) that reaches this output
            assert got.get(("scatter", "piece"), set()) == want
    cols = range(M.shape[1]) if layer.dims == 1 else {0, M.shape[1] - 1, *rng.choice(M.shape[1], 4)}
    for col in sorted(cols):
        r, c = divmod(int(col), xw)
        page.hover(f"[data-view=summary] [data-role=in][data-r='{r}'][data-c='{c}']")
        got = lit_all(page)
        want = {divmod(int(i), yw) for i in np.flatnonzero(M[:, col])}
        assert got.get(("summary", "out"), set()) == want, (r, c)
        assert got.get(("matrix", "out"), set()) == want
        assert got.get(("matrix", "m"), set()) == {(int(i), col) for i in np.flatnonzero(M[:, col])}


def test_large_matrix_canvas_hover(page: Any) -> None:
    """A matrix too large for cells is drawn on a canvas; hovering an entry lights its
    output and input in the other views."""
    x = ";".join(",".join(str((i + 2 * j) % 5 - 2) for j in range(8)) for i in range(8))
    open_state(page, f"op=conv_transpose&x={x}&w=1,2,1;0,1,-1;2,1,1&stride=2")
    layer = Layer(state(page))
    M = layer.M
    canvas = page.locator("canvas.matrix-canvas")
    canvas.scroll_into_view_if_needed()
    width, height = (int(canvas.get_attribute(a) or 0) for a in ("width", "height"))
    pw, ph = width // M.shape[1], height // M.shape[0]
    box = canvas.bounding_box()
    assert box is not None
    yw, xw = layer.y.shape[1], layer.x.shape[1]
    for ro, ci in [tuple(map(int, np.argwhere(M)[k])) for k in (0, 100, -1)]:
        page.mouse.move(box["x"] + ci * pw + pw / 2, box["y"] + ro * ph + ph / 2)
        got = lit_all(page)
        assert got[("summary", "out")] == {divmod(ro, yw)}
        assert got[("summary", "in")] == {divmod(ci, xw)}
        assert sorted(layer.w[t] for t in got[("summary", "tap")]) == [M[ro, ci]]


def test_keyboard_focus_lights_like_hover(page: Any) -> None:
    open_state(page, lecture_query(2))
    layer = Layer(state(page))
    page.focus("[data-view=summary] [data-role=out][data-r='0'][data-c='0']")
    for c in range(1, 4):
        page.keyboard.press("ArrowRight")
        focused = page.evaluate(
            "[+document.activeElement.dataset.r, +document.activeElement.dataset.c]"
        )
        assert focused == [0, c]
        want = {(0, int(j)) for j in np.flatnonzero(layer.M[c])}
        assert lit(page, "summary", "in") == want


def test_invalid_combination_shows_the_error_and_recovers(page: Any) -> None:
    page.console.allowed.append(HTTP_400)
    open_state(page, lecture_query(2))
    good = cells(page, "[data-view=summary] [data-role=out]")
    page.focus("#output_padding")
    page.keyboard.press("ArrowUp")  # output_padding 1 with stride 1: tconv refuses
    wait_error(page)
    with pytest.raises(StateError) as err:
        compute(parse_state(page.evaluate("location.search")[1:]))
    assert err.value.field == "output_padding"
    assert page.inner_text("#err-output_padding") == str(err.value)
    assert page.get_attribute("#output_padding", "aria-invalid") == "true"
    assert page.get_attribute("#err-output_padding", "aria-live") == "polite"
    # the last good view stays
    np.testing.assert_array_equal(cells(page, "[data-view=summary] [data-role=out]"), good)
    # and the page keeps working: stride 2 makes output_padding 1 valid
    before = renders(page)
    page.click("button[aria-label='increase stride']")
    wait_render(page, before)
    assert page.inner_text("#err-output_padding") == ""
    assert page.get_attribute("#output_padding", "aria-invalid") is None
    assert (state(page)["stride"], state(page)["output_padding"]) == ("2", "1")
    check_views(page)

    # a URL that starts invalid: the error, no view yet, and the controls still work
    open_state_error = page.server.url("x=2,3,0,-1&w=1,2,-1&stride=0")
    page.goto(open_state_error)
    wait_error(page)
    assert "stride" in page.inner_text("#err-stride")
    before = renders(page)
    page.focus("#stride")
    page.keyboard.press("ArrowUp")
    wait_render(page, before)
    assert state(page)["stride"] == "1"
    check_views(page)

    # a value the server cannot read: the message goes next to x
    page.fill("#x", "2,3,zero")
    wait_error(page)
    assert "x" in page.inner_text("#err-x")
    before = renders(page)
    page.fill("#x", "2,3,1")
    wait_render(page, before)
    assert page.inner_text("#err-x") == ""
    check_views(page)


def test_step_through_by_keyboard(page: Any) -> None:
    open_state(page, lecture_query(2))
    layer = Layer(state(page))
    page.focus("#step-pad")
    for _ in range(2):
        page.keyboard.press("ArrowRight")
    assert page.inner_text("[data-view=step] .counter") == "3 / 6"
    assert float(page.get_attribute("[data-role=step-value]", "data-v") or "nan") == layer.y[2]
    # the stepped output is marked in the other views, its terms too
    assert positions(page, "[data-view=summary] .cell.cur[data-role=out]") == {(0, 2)}
    want = {(0, int(j)) for j in np.flatnonzero(layer.M[2])}
    assert positions(page, "[data-view=summary] .cell.cur[data-role=in]") == want
    page.keyboard.press("End")
    assert page.inner_text("[data-view=step] .counter") == "6 / 6"
    page.keyboard.press("Home")
    assert page.inner_text("[data-view=step] .counter") == "1 / 6"
    page.keyboard.press("Space")
    assert page.get_attribute("#step-play", "aria-pressed") == "true"
    page.wait_for_function(
        "() => document.querySelector('[data-view=step] .counter').textContent !== '1 / 6'"
    )
    page.focus("#step-pad")
    page.keyboard.press("Space")
    assert page.get_attribute("#step-play", "aria-pressed") == "false"
    # one tap at a time
    page.select_option("#step-mode", "tap")
    assert page.inner_text("[data-view=step] .counter") == "1 / 3"
    # tap w[0] (the weights are distinct): the outputs whose matrix row holds w[0]
    uses = positions(page, "[data-view=summary] .cell.cur[data-role=out]")
    assert uses == {(0, int(i)) for i in np.flatnonzero((layer.M == layer.w[0]).any(axis=1))}


def test_code_tabs_presets_and_dims(page: Any) -> None:
    open_state(page, lecture_query(2))
    assert "ConvTranspose1d" in page.inner_text("#code-text")
    page.click("#code-tab-tf")
    assert "tf" in page.inner_text("#code-text")
    page.click("#code-copy")
    page.wait_for_function("() => document.querySelector('.copy-status').textContent !== ''")

    names = [p["name"] for p in presets("")["presets"]]
    two_d = next(i for i, n in enumerate(names) if n.startswith("2-D"))
    before = renders(page)
    page.select_option("#preset", str(two_d))
    wait_render(page, before)
    assert ";" in state(page)["x"] and page.input_value("#dims") == "2"
    check_views(page)

    before = renders(page)
    page.select_option("#dims", "1")
    wait_render(page, before)
    assert ";" not in state(page)["x"]
    check_views(page)

    before = renders(page)
    old = state(page)["x"]
    page.click("#random")
    wait_render(page, before)
    assert state(page)["x"] != old and ";" not in state(page)["x"]
    check_views(page)


def test_labels_and_layout(page: Any) -> None:
    """Every control has a label, and the page fits 1280 px without sideways scrolling."""
    open_state(page, lecture_query(2))
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
             .filter(e => !e.labels || e.labels.length === 0).map(e => e.id)"""
    )
    assert unlabelled == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    # Tab walks the controls in reading order (the -/+ buttons are for the mouse)
    page.focus("#op")
    order = ["op"]
    for _ in range(11):
        page.keyboard.press("Tab")
        order.append(page.evaluate("() => document.activeElement.id"))
    assert order == [
        "op", "dims", "preset", "random", "x", "w", "stride", "padding", "dilation",
        "output_padding", "output_size", "convention",
    ]  # fmt: skip
    views = page.eval_on_selector_all("[data-view]", "els => els.map(e => e.dataset.view)")
    assert views == ["summary", "scatter", "gather", "matrix", "sizes", "artifacts", "step", "code"]
    for width, height in [(1366, 768), (1024, 768)]:  # laptop screens
        page.set_viewport_size({"width": width, "height": height})
        assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_state_module_in_the_browser(page: Any) -> None:
    """The page's URL parsing and its arrow-key arithmetic on the field texts (state.js)."""
    open_state(page, "")
    got = page.evaluate(
        """async () => {
        const S = await import('/static/state.js');
        const q = 'op=conv&x=1,2;3,4&w=1,0;0,1&stride=2,1&padding=1:2,0:1&unknown=7';
        const st = S.parseQuery('?' + q);
        return {
          query: S.toQuery(st),
          dims: [S.dimsOf('1,2'), S.dimsOf('1,2;'), S.dimsOf(st.x)],
          first: S.firstRow('1,2;3,4'),
          bumps: [
            S.bump('1:2,0:1', 5, 1, 0, 16), S.bump('1:2,0:1', 0, 1, 0, 16),
            S.bump('2', 1, -1, 1, 16), S.bump('1', 1, -1, 1, 16), S.bump('16', 2, 1, 0, 16),
            S.bump('same', 0, 1, 0, 16),
          ],
        };
      }"""
    )
    assert got["query"] == (
        "op=conv&x=1,2;3,4&w=1,0;0,1&stride=2,1&padding=1:2,0:1"
        "&dilation=1&output_padding=0&convention=pytorch"
    )
    assert got["dims"] == [1, 2, 2]
    assert got["first"] == "1,2"
    assert got["bumps"] == [
        {"value": "1:2,1:1", "caret": 5},
        {"value": "2:2,0:1", "caret": 1},
        {"value": "1", "caret": 1},
        {"value": "1", "caret": 1},
        {"value": "16", "caret": 2},
        None,
    ]


def test_screenshots(page: Any) -> None:
    """One screenshot per view and one of the page (docs/figures/explore.png is a copy)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    open_state(page, "op=conv_transpose&x=2,3,0,-1&w=1,2,-1&stride=2&padding=1")
    page.hover("[data-view=summary] [data-role=out][data-r='0'][data-c='3']")
    views = page.eval_on_selector_all("[data-view]", "els => els.map(e => e.dataset.view)")
    for view in views:
        path = ARTIFACTS / f"view-{view}.png"
        page.locator(f"[data-view={view}]").screenshot(path=str(path))
        assert path.stat().st_size > 1000
    full = ARTIFACTS / "explore.png"
    page.evaluate("() => window.scrollTo(0, 0)")  # the controls are sticky: back to the top
    page.screenshot(path=str(full), full_page=True)
    assert full.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    open_state(
        page,
        "op=conv_transpose&x=1,2,0,1;0,1,3,2;2,0,1,1;1,1,0,2&w=1,2,1;0,1,-1;2,1,1&stride=2&padding=1",
    )
    page.hover("[data-view=summary] [data-role=out][data-r='2'][data-c='3']")
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "explore-2d.png"), full_page=True)
