"""Every figure draws what tconv computes: the tests read back the labels,
bar heights and images of each figure and compare them with the ops."""

from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import matplotlib

matplotlib.use("Agg")

import tconv.functional as F
from tconv import artifacts, shapes
from tconv.lecture.figures import FIGURES, animate, draw, maps, signals
from tconv.lecture.figures._style import fmt, texts_by_gid


def _labels(values) -> list[str]:
    return [fmt(v) for v in np.ravel(values)]


@pytest.fixture(autouse=True)
def _close():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.parametrize(("stride", "padding", "dilation"), [(1, 0, 1), (2, 1, 1), (1, 1, 2)])
def test_conv_inner_products_draws_conv1d(stride, padding, dilation) -> None:
    x, k = (1, 2, 0, -1, 3, 1, 2, 5), (1, 2, 3)
    fig = signals.conv_inner_products(x, k, stride, padding, dilation)
    y = F.conv1d(np.array([[x]], float), np.array([[k]], float), None, stride, padding, dilation)
    assert texts_by_gid(fig, "y") == _labels(y)
    assert texts_by_gid(fig, "x") == _labels(np.pad(np.array(x, float), padding))


@pytest.mark.parametrize(
    ("stride", "padding", "output_padding", "dilation"),
    [(1, 0, 0, 1), (2, 0, 0, 1), (2, 1, 1, 1), (1, 0, 0, 2), (3, 2, 0, 1)],
)
def test_translated_kernels_draws_conv_transpose1d(
    stride, padding, output_padding, dilation
) -> None:
    x, k = (2, 3, 0, -1), (1, 2, -1)
    fig = signals.conv_transpose_translated_kernels(x, k, stride, padding, output_padding, dilation)
    xa, ka = np.array([[x]], float), np.array([[k]], float)
    y = F.conv_transpose1d(xa, ka, None, stride, padding, output_padding, 1, dilation)
    full = F.conv_transpose1d(xa, ka, None, stride, 0, output_padding, 1, dilation)
    assert texts_by_gid(fig, "y") == _labels(y)
    assert texts_by_gid(fig, "full") == _labels(full)
    # each scaled copy is x_i times the kernel
    for i, xv in enumerate(x):
        for t, kv in enumerate(k):
            assert texts_by_gid(fig, f"c{i}.{t}") == [fmt(xv * kv)]


def test_lecture_example_figure_shows_the_lecture_values() -> None:
    fig = signals.conv_transpose_translated_kernels()
    assert texts_by_gid(fig, "y") == ["2", "7", "4", "-4", "-2", "1"]


def test_direct_view_gives_the_same_output_both_ways() -> None:
    fig = signals.conv_transpose_as_conv((2, 3, 0, -1, 4), (1, 2, -1), stride=2, padding=1)
    left, right = fig.axes[:2]
    scatter, gather = texts_by_gid(left, "y"), texts_by_gid(right, "y")
    y = F.conv_transpose1d([[[2.0, 3, 0, -1, 4]]], [[[1.0, 2, -1]]], stride=2, padding=1)
    assert scatter == gather == _labels(y)
    zi = signals.zero_inserted((2, 3, 0, -1, 4), 3, 2, 1, 0, 1)
    assert texts_by_gid(right, "x") == _labels(zi)


def test_direct_view_rejects_padding_beyond_the_kernel() -> None:
    with pytest.raises(ValueError, match="exceeds d\\(k-1\\)"):
        signals.zero_inserted((1, 2), 3, 2, 3, 0, 1)


@pytest.mark.parametrize(("sizes", "k", "s"), [((9, 10), 3, 2), ((7, 8, 9), 4, 3)])
def test_composition_shows_observed_area_and_ignored_samples(sizes, k, s) -> None:
    fig = signals.composition(sizes, k, s)
    for ax, size in zip(fig.axes, sizes):
        z = texts_by_gid(ax, f"z{size}")
        assert len(z) == shapes.observed_size(size, k, s)
        hatched = [i for i, p in enumerate(ax.patches[:size]) if p.get_hatch()]
        assert hatched == list(shapes.ignored_inputs(size, k, s))
        assert ("size kept" in ax.get_title(loc="left")) == shapes.preserves_size(size, k, s)


def test_matrix_view_labels_are_the_conv_matrix_entries() -> None:
    from tconv.matrix import conv_matrix

    fig = maps.matrix_view(7, 3, stride=2, padding=1)
    taps = np.arange(1.0, 4.0).reshape(1, 1, 3)
    m = np.asarray(conv_matrix(taps, (1, 7), stride=2, padding=1))
    labels = texts_by_gid(fig, "conv")
    assert labels == [f"κ{int(v)}" if v else "0" for v in m.ravel()]
    labels_t = texts_by_gid(fig, "transposed")
    assert labels_t == [f"κ{int(v)}" if v else "0" for v in m.T.ravel()]


def test_coverage_1d_bar_heights_equal_coverage() -> None:
    fig = maps.coverage_1d(8, 4, 3)
    heights = [p.get_height() for p in fig.axes[0].patches]
    np.testing.assert_array_equal(heights, artifacts.coverage(8, 4, 3))


def test_coverage_2d_image_is_the_lecture_grid() -> None:
    fig = maps.coverage_2d((6, 6), 4, 3)
    img = fig.axes[0].images[0].get_array()
    np.testing.assert_array_equal(img, artifacts.coverage((6, 6), 4, 3))
    np.testing.assert_array_equal(img[3:6, 3:6], [[4, 2, 2], [2, 1, 1], [2, 1, 1]])


def test_artifact_comparison_draws_coverage_and_outputs() -> None:
    fig = maps.artifact_comparison(8, seed=3)
    axes = fig.axes
    np.testing.assert_array_equal(
        axes[0].images[0].get_array(), artifacts.coverage((8, 8), 3, 2, 1, 1)
    )
    np.testing.assert_array_equal(
        axes[1].images[0].get_array(), artifacts.coverage((8, 8), 4, 2, 1)
    )
    for col in range(3):
        out = np.asarray(axes[3 + col].images[0].get_array())
        ci = float(artifacts.checkerboard_index(out[2:-2, 2:-2], 2))
        shown = float(re.search(r"checkerboard index ([0-9.]+)", axes[3 + col].get_title())[1])
        assert shown == pytest.approx(ci, abs=0.006)
    # the resize-convolution is free of the grid, the k3 s2 transposed conv is not
    t3 = float(re.search(r"index ([0-9.]+)", axes[3].get_title())[1])
    rc = float(re.search(r"index ([0-9.]+)", axes[5].get_title())[1])
    assert rc < 0.01 < t3


def test_upscaling_figure_reports_the_index_of_what_it_shows() -> None:
    fig = maps.upscaling_alternatives(size=24, channels=4, seed=1)
    img = fig.axes[0].images[0].get_array()
    assert img.shape == (24, 24) and 0 <= img.min() and img.max() <= 1
    for ax in fig.axes[1:]:
        assert ax.images[0].get_array().shape == (48, 48)
        assert re.search(r"checkerboard [0-9.]+", ax.get_title())


@pytest.mark.parametrize("nd", [1, 2])
def test_animation_frames_end_with_the_op_output(nd) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5,) * nd)
    k = rng.standard_normal((3,) * nd)
    frames = animate.conv_frames(x, k, (2,) * nd, (1,) * nd, (1,) * nd)
    op = F.conv1d if nd == 1 else F.conv2d
    np.testing.assert_allclose(
        frames[-1].partial, op(x[None, None], k[None, None], stride=2, padding=1)[0, 0]
    )
    assert len(frames) == frames[-1].partial.size
    frames = animate.conv_transpose_frames(x, k, (2,) * nd, (1,) * nd, (1,) * nd)
    top = F.conv_transpose1d if nd == 1 else F.conv_transpose2d
    y = top(x[None, None], k[None, None], stride=2, padding=1)[0, 0]
    last = frames[-1].partial
    np.testing.assert_allclose(last[(slice(1, -1),) * nd], y)
    assert np.isnan(last[(0,) * nd])  # cropped by padding
    assert len(frames) == x.size + 1


def test_gif_has_one_frame_per_step(tmp_path) -> None:
    from PIL import Image

    path = animate.animate_conv_transpose(
        tmp_path / "a.gif", size=(4,), kernel_size=3, stride=2, padding=1
    )
    with Image.open(path) as im:
        assert im.n_frames == 4 + 1


def test_draw_writes_png_and_svg(tmp_path) -> None:
    paths = draw("stride", tmp_path, x=(1, 2))
    assert sorted(p.suffix for p in paths) == [".png", ".svg"]
    assert all(p.stat().st_size > 1000 for p in paths)
    with pytest.raises(ValueError, match="unknown figure 'nope'"):
        draw("nope", tmp_path)


def test_registry_has_the_lecture_figures() -> None:
    static = [n for n, s in FIGURES.items() if not s.animation]
    assert len(static) >= 12 and sum(s.animation for s in FIGURES.values()) >= 4
