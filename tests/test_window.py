"""tconv.shapes.input_window against brute force: perturb one input element at a time
and see which outputs change (PyTorch computes the layers: an independent oracle).

For one layer, the window is exactly the hull of the inputs the outputs depend on
(wherever it lies inside the input), and the phase places the range in the layer's
result over the window alone. For a chain, the window is the hull of hulls, stage by
stage, and holds every input the outputs depend on.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tconv import shapes
from tconv.shapes import Layer, Window

torch = pytest.importorskip("torch")


@st.composite
def layers(
    draw: st.DrawFn, kinds: tuple[str, ...] = ("conv", "conv_transpose", "nearest", "linear")
) -> tuple[Layer, dict]:
    kind = draw(st.sampled_from(kinds))
    if kind in ("conv", "conv_transpose"):
        k = draw(st.integers(1, 5))
        s = draw(st.integers(1, 3))
        d = draw(st.integers(1, 3))
        p = draw(st.integers(0, 3))
        w = draw(st.lists(st.floats(0.5, 1.5), min_size=k, max_size=k))
        if kind == "conv":
            return Layer.conv(k, s, p, d), {"w": w}
        a = draw(st.integers(0, max(s, d) - 1))
        return Layer.conv_transpose(k, s, p, a, d), {"w": w}
    r = draw(st.integers(1, 4))
    return Layer.upsample(r, kind), {}


def run(layer: Layer, params: dict, x: np.ndarray) -> np.ndarray:
    """The layer on a batch of 1-d signals (B, L), by PyTorch, float64."""
    t = torch.from_numpy(x)[:, None]
    s, p, d = (getattr(layer, f) for f in ("stride", "padding", "dilation"))
    if layer.kind in ("conv", "conv_transpose"):
        w = torch.tensor(params["w"], dtype=torch.float64)[None, None]
        if layer.kind == "conv":
            y = torch.nn.functional.conv1d(t, w, stride=s, padding=p, dilation=d)
        else:
            y = torch.nn.functional.conv_transpose1d(
                t, w, stride=s, padding=p, output_padding=layer.output_padding, dilation=d
            )
    else:
        mode = "nearest" if layer.kind == "nearest" else "linear"
        y = torch.nn.functional.interpolate(t, scale_factor=float(layer.factor), mode=mode)
    return y[:, 0].numpy()


def depends(layer: Layer, params: dict, size: int) -> np.ndarray:
    """``D[i, j]``: output ``j`` changes when input ``i`` does."""
    base = np.random.default_rng(0).standard_normal(size)
    x = base + np.vstack([np.zeros(size), np.eye(size)])
    y = run(layer, params, x)
    return np.abs(y[1:] - y[0]) > 1e-9


def out_size(layer: Layer, size: int) -> int | None:
    """The output size by tconv.shapes, None when the layer refuses the size."""
    try:
        if layer.kind == "conv":
            return int(
                shapes.conv_output_size(
                    size, layer.kernel_size, layer.stride, layer.padding, layer.dilation
                )
            )
        if layer.kind == "conv_transpose":
            return int(
                shapes.conv_transpose_output_size(
                    size,
                    layer.kernel_size,
                    layer.stride,
                    layer.padding,
                    layer.output_padding,
                    layer.dilation,
                )
            )
    except ValueError:
        return None
    return size * int(layer.factor)


def local_result(layer: Layer, params: dict, x: np.ndarray, win: Window) -> np.ndarray:
    """The layer on the window alone (no padding, no crop): what the phase indexes."""
    bare = Layer(layer.kind, layer.kernel_size, layer.stride, 0, layer.dilation, 0, layer.factor)
    return run(bare, params, x[None, win.start : win.stop])[0]


@settings(max_examples=150)
@given(layers(), st.integers(1, 30), st.data())
def test_one_layer_window_is_the_hull_of_what_the_outputs_depend_on(lp, size, data) -> None:
    layer, params = lp
    n_out = out_size(layer, size)
    assume(n_out is not None and n_out > 0)
    a = data.draw(st.integers(0, n_out - 1))
    b = data.draw(st.integers(a + 1, n_out))
    win = shapes.input_window(layer, a, b)
    dep = np.flatnonzero(depends(layer, params, size)[:, a:b].any(axis=1))
    # every input the outputs depend on lies in the window
    assert all(win.start <= i < win.stop for i in dep), (win, dep)
    if win.start >= 0 and win.stop <= size:
        # inside the input, the window is exactly the hull (its ends are read)
        if dep.size:
            assert (win.start, win.stop) == (dep[0], dep[-1] + 1), (win, dep)
        else:
            assert win.stop == win.start
        if win.stop > win.start:
            # the phase: the range sits at `phase` in the layer's result over the window
            x = np.random.default_rng(1).standard_normal(size)
            whole = run(layer, params, x[None])[0][a:b]
            local = local_result(layer, params, x, win)
            got = np.zeros(b - a)  # zeros where no input lands (transposed conv holes)
            for j in range(b - a):
                if 0 <= win.phase + j < local.size:
                    got[j] = local[win.phase + j]
            np.testing.assert_allclose(got, whole, rtol=0, atol=1e-12)


@settings(max_examples=60)
@given(st.lists(layers(), min_size=2, max_size=3), st.integers(4, 24), st.data())
def test_chain_window_composes_the_stage_hulls_and_holds_every_dependence(
    chain, size, data
) -> None:
    sizes = [size]
    for layer, _ in chain:
        nxt = out_size(layer, sizes[-1])
        assume(nxt is not None and 0 < nxt <= 200)
        sizes.append(nxt)
    a = data.draw(st.integers(0, sizes[-1] - 1))
    b = data.draw(st.integers(a + 1, sizes[-1]))
    wins = shapes.input_windows([layer for layer, _ in chain], a, b)
    assert shapes.input_window([layer for layer, _ in chain], a, b) == wins[0]
    # stage by stage, each window is the brute-force hull of the next stage's range
    lo, hi = a, b
    for (layer, params), win, n_in in reversed(list(zip(chain, wins, sizes))):
        if hi <= lo:
            assert win.stop == win.start
            continue
        assume(0 <= win.start and win.stop <= n_in)
        dep = np.flatnonzero(depends(layer, params, n_in)[:, lo:hi].any(axis=1))
        if dep.size:
            assert (win.start, win.stop) == (dep[0], dep[-1] + 1)
        else:
            assert win.stop == win.start
        lo, hi = win.start, win.stop
    # the whole chain: every input the outputs depend on lies in the chain's window
    base = np.random.default_rng(0).standard_normal(size)
    x = base + np.vstack([np.zeros(size), np.eye(size)])
    for layer, params in chain:
        x = run(layer, params, x)
    dep = np.flatnonzero((np.abs(x[1:, a:b] - x[0, a:b]) > 1e-9).any(axis=1))
    assert all(wins[0].start <= i < wins[0].stop for i in dep)


@pytest.mark.parametrize("r", [1, 2, 3])
def test_pixel_shuffle_and_unshuffle_windows_by_brute_force(r: int) -> None:
    h = 5
    for up in (True, False):
        layer = Layer.pixel_shuffle(r) if up else Layer.pixel_unshuffle(r)
        size_in = h if up else h * r
        c = r * r if up else 1
        base = np.random.default_rng(0).standard_normal((c, size_in, r))
        n_out = size_in * r if up else h
        dep = np.zeros((size_in, n_out), bool)
        op = torch.nn.functional.pixel_shuffle if up else torch.nn.functional.pixel_unshuffle
        y0 = op(torch.from_numpy(base)[None], r)[0].numpy()
        for i in range(size_in):
            x = base.copy()
            x[:, i] += 1
            y = op(torch.from_numpy(x)[None], r)[0].numpy()
            dep[i] = (np.abs(y - y0) > 0).any(axis=(0, 2))
        for a in range(n_out):
            for b in range(a + 1, n_out + 1):
                win = shapes.input_window(layer, a, b)
                d = np.flatnonzero(dep[:, a:b].any(axis=1))
                assert (win.start, win.stop) == (d[0], d[-1] + 1)


def test_per_dim_ranges_give_one_window_per_dim_and_lecture_arithmetic() -> None:
    # W = w + s q: q + 1 outputs of a stride-s conv read w + s q inputs
    for k, s, q in [(3, 2, 3), (4, 1, 0), (5, 3, 2)]:
        win = shapes.input_window(Layer.conv(k, s), 0, q + 1)
        assert win.stop - win.start == k + s * q
    wins = shapes.input_window(Layer.conv((3, 1), (2, 1), (1, 0)), (2, 5), (4, 7))
    assert wins == (
        shapes.input_window(Layer.conv(3, 2, 1), 2, 4),
        shapes.input_window(Layer.conv(1), 5, 7),
    )
    pair = shapes.input_window(Layer.conv(3, 1, ((2, 0),)), (0,), (2,))
    assert pair == (Window(-2, 2, 0),)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: shapes.input_window(Layer.conv(3), 4, 4), "non-empty"),
        (lambda: shapes.input_window([], 0, 1), "non-empty sequence of Layers"),
        (lambda: shapes.input_window(["conv"], 0, 1), "Layer"),
        (lambda: shapes.input_window(Layer.conv(0), 0, 1), "kernel_size"),
        (lambda: shapes.input_window(Layer.conv(3, padding=-1), 0, 1), "padding"),
        (lambda: shapes.input_window(Layer.conv(3, padding="same"), 0, 1), "same_padding"),
        (lambda: Layer.upsample(2, "bicubic"), "mode"),
        (lambda: Layer("pool"), "kind"),
        (lambda: shapes.input_window(Layer.conv(3), (0, 0), (1,)), "one entry per spatial dim"),
    ],
)
def test_bad_arguments_are_refused_by_name(call, match) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        call()


@pytest.mark.parametrize("pads", [((2, 0),), ((0, 3),), ((-2, 1),), ((1, -2),), ((-1, -1),)])
@pytest.mark.parametrize("k, s, d", [(3, 2, 1), (4, 2, 1), (2, 3, 2), (1, 2, 1)])
def test_padding_pairs_and_negative_crops_by_brute_force(pads, k, s, d) -> None:
    """Transposed convs with (lo, hi) pairs, negative crops (zeros before the result)
    included, by tconv.functional (PyTorch has no pairs): the window's start moves with
    lo only, and it is the hull of what the outputs depend on."""
    import tconv.functional as F

    size = 9
    w = np.linspace(0.5, 1.5, k)[None, None]
    base = np.random.default_rng(0).standard_normal(size)
    x = (base + np.vstack([np.zeros(size), np.eye(size)]))[:, None]
    y = F.conv_transpose1d(x, w, stride=s, padding=pads, dilation=d)[:, 0]
    dep = np.abs(y[1:] - y[0]) > 1e-9
    layer = Layer.conv_transpose(k, s, pads, 0, d)
    for a in range(y.shape[1]):
        for b in range(a + 1, min(a + 4, y.shape[1]) + 1):
            win = shapes.input_window(layer, a, b)
            got = np.flatnonzero(dep[:, a:b].any(axis=1))
            assert all(win.start <= i < win.stop for i in got)
            if 0 <= win.start and win.stop <= size:
                if got.size:
                    assert (win.start, win.stop) == (got[0], got[-1] + 1)
                else:
                    assert win.start == win.stop
