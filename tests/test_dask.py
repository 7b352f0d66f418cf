"""tconv.dask against tconv.functional and the modules: tiled equals whole, seams included.

Hypothesis draws the layers, their parameters and the chunkings (chunks smaller than
the halo, chunks of one, uneven last chunks, a split channel axis), in 1-3 d; float64
results agree to 1e-12. One test runs on a distributed.LocalCluster of two processes,
one pushes a Zarr array larger than a worker's memory limit through such a cluster.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tconv.functional as F
from strategies import configs
from tconv import nn

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
td = pytest.importorskip("tconv.dask")

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


@st.composite
def chunking(draw: st.DrawFn, size: int) -> tuple[int, ...]:
    """Chunks of an axis: ones, uneven pieces, or the whole axis."""
    style = draw(st.sampled_from(["ones", "random", "whole", "regular"]))
    if style == "ones":
        return (1,) * size
    if style == "whole":
        return (size,)
    if style == "regular":
        c = draw(st.integers(1, size))
        return (c,) * (size // c) + ((size % c,) if size % c else ())
    out, left = [], size
    while left:
        c = draw(st.integers(1, left))
        out.append(c)
        left -= c
    return tuple(out)


def dask_of(x: np.ndarray, draw: st.DrawFn) -> da.Array:
    """``x`` as a Dask array chunked at random along every axis (channels included)."""
    return da.from_array(x, chunks=tuple(draw(chunking(n)) for n in x.shape))


def compute(y: da.Array) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return y.compute()


@settings(max_examples=60)
@given(st.booleans(), st.data())
def test_conv_and_conv_transpose_equal_functional(transposed: bool, data) -> None:
    cfg = data.draw(configs(transposed))
    x, w, b = cfg.arrays(np.float64)
    name = f"conv_transpose{cfg.nd}d" if transposed else f"conv{cfg.nd}d"
    try:
        want = getattr(F, name)(x, w, b, **cfg.kwargs())
    except ValueError:
        assume(False)
    xd = dask_of(x, data.draw)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = getattr(td, name)(xd, w, b, **cfg.kwargs())
    split = len(xd.chunks[-cfg.nd - 1]) > 1
    assert any("channel axis" in str(c.message) for c in caught) == split
    assert y.shape == want.shape
    got = y.compute()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * max(1.0, np.abs(want).max()))
    if cfg.batch is not None:  # the chunks are the images of the input's chunks
        assert y.chunks[0] == xd.chunks[0]


@settings(max_examples=40)
@given(st.integers(1, 2), st.sampled_from(["pairs", "same", "valid", "circular"]), st.data())
def test_padding_pairs_same_and_circular_equal_functional(nd: int, style: str, data) -> None:
    """Asymmetric (lo, hi) pairs (negative crops of a transposed conv included), 'same'
    for transposed convs at any stride, and circular transposed convs."""
    transposed = style != "pairs" or data.draw(st.booleans())
    k = tuple(data.draw(st.integers(1, 4)) for _ in range(nd))
    s = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    d = tuple(data.draw(st.integers(1, 2)) for _ in range(nd))
    size = tuple(data.draw(st.integers(1, 8)) for _ in range(nd))
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    x = rng.standard_normal((2, 2, *size))
    w = rng.standard_normal((2, 3, *k) if transposed else (3, 2, *k))
    b = rng.standard_normal(3)
    kw: dict = {"stride": s, "dilation": d}
    lo_min = -2 if transposed else 0
    if style == "pairs":
        kw["padding"] = tuple(
            (data.draw(st.integers(lo_min, 3)), data.draw(st.integers(lo_min, 3)))
            for _ in range(nd)
        )
    elif style == "circular":
        kw["padding"], kw["padding_mode"] = data.draw(st.integers(0, 3)), "circular"
    else:
        kw["padding"] = style
    name = f"conv_transpose{nd}d" if transposed else f"conv{nd}d"
    try:
        want = getattr(F, name)(x, w, b, **kw)
    except ValueError:
        assume(False)
    got = compute(getattr(td, name)(dask_of(x, data.draw), w, b, **kw))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * max(1.0, np.abs(want).max()))


@settings(max_examples=40)
@given(st.integers(1, 3), st.data())
def test_interpolate_equals_functional(nd: int, data) -> None:
    mode = data.draw(st.sampled_from(["nearest", ("linear", "bilinear", "trilinear")[nd - 1]]))
    size = tuple(data.draw(st.integers(1, 7)) for _ in range(nd))
    r = tuple(data.draw(st.integers(1, 3)) for _ in range(nd))
    x = np.random.default_rng(data.draw(st.integers(0, 99))).standard_normal((2, 2, *size))
    by_size = data.draw(st.booleans())
    kw = {"size": tuple(n * f for n, f in zip(size, r))} if by_size else {"scale_factor": r}
    want = F.interpolate(x, mode=mode, **kw)
    got = compute(td.interpolate(dask_of(x, data.draw), mode=mode, **kw))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@settings(max_examples=30)
@given(st.integers(1, 3), st.integers(1, 6), st.integers(1, 6), st.data())
def test_pixel_shuffle_and_unshuffle_equal_functional(r: int, h: int, w: int, data) -> None:
    x = np.random.default_rng(0).standard_normal((2, 2 * r * r, h, w))
    got = compute(td.pixel_shuffle(dask_of(x, data.draw), r))
    np.testing.assert_array_equal(got, F.pixel_shuffle(x, r))
    z = np.random.default_rng(1).standard_normal((2, 3, h * r, w * r))
    got = compute(td.pixel_unshuffle(dask_of(z, data.draw), r))
    np.testing.assert_array_equal(got, F.pixel_unshuffle(z, r))


@st.composite
def stacks(draw: st.DrawFn, nd: int) -> tuple[nn.Module, int]:
    """A random fully convolutional stack of rank ``nd`` and its input channels."""
    conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[nd - 1]
    tconv_ = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)[nd - 1]
    c0 = c = draw(st.integers(1, 3))
    layers: list[nn.Module] = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(
                ["conv", "tconv", "up", "act", "bn", "drop", "resize", "subpixel", "shuffle"]
            )
        )
        c_out = draw(st.integers(1, 3))
        k = draw(st.integers(1, 4))
        if kind == "conv":
            mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
            s = draw(st.integers(1, 2))
            p = draw(st.integers(0, 2))
            if mode != "zeros" and draw(st.booleans()):
                layers.append(conv(c, c_out, k, padding="same", padding_mode=mode))
            else:
                layers.append(
                    conv(
                        c,
                        c_out,
                        k,
                        stride=s,
                        padding=p,
                        dilation=draw(st.integers(1, 2)),
                        padding_mode=mode,
                    )
                )
        elif kind == "tconv":
            s = draw(st.integers(1, 3))
            if draw(st.booleans()):
                layer = tconv_(
                    c, c_out, k, stride=s, padding=draw(st.integers(0, 2)), padding_mode="circular"
                )
            else:
                layer = tconv_(
                    c,
                    c_out,
                    k,
                    stride=s,
                    padding=draw(st.integers(0, 1)),
                    output_padding=draw(st.integers(0, s - 1)),
                )
            layers.append(layer)
        elif kind == "up":
            mode = draw(st.sampled_from(["nearest", ("linear", "bilinear", "trilinear")[nd - 1]]))
            layers.append(nn.Upsample(scale_factor=draw(st.integers(1, 3)), mode=mode))
            c_out = c
        elif kind == "act":
            layers.append(
                draw(
                    st.sampled_from(
                        [nn.ReLU(), nn.LeakyReLU(0.1), nn.Tanh(), nn.Sigmoid(), nn.GELU()]
                    )
                )
            )
            c_out = c
        elif kind == "bn" and nd == 2:
            bn = nn.BatchNorm2d(c)
            bn.running_mean[...] = np.random.default_rng(0).standard_normal(c)
            layers.append(bn)
            c_out = c
        elif kind == "drop":
            layers.append(nn.Dropout(0.5))
            c_out = c
        elif kind == "resize":
            resize = (nn.ResizeConv1d, nn.ResizeConv2d, nn.ResizeConv3d)[nd - 1]
            layers.append(
                resize(
                    c, c_out, k, scale_factor=2, mode=draw(st.sampled_from(["nearest", "linear"]))
                )
            )
        elif kind == "subpixel" and nd == 2:
            layers.append(nn.SubPixelConv2d(c, c_out, k, upscale_factor=draw(st.integers(1, 2))))
        elif kind == "shuffle" and nd == 2 and c % 4 == 0:
            layers.append(nn.PixelShuffle(2))
            c_out = c // 4
        else:
            layers.append(nn.ReLU())
            c_out = c
        c = c_out
    return nn.Sequential(*layers).double().eval(), c0


@settings(max_examples=40)
@given(st.integers(1, 3), st.data())
def test_apply_equals_the_module(nd: int, data) -> None:
    net, c = data.draw(stacks(nd))
    size = tuple(data.draw(st.integers(3, {1: 12, 2: 7, 3: 4}[nd])) for _ in range(nd))
    x = np.random.default_rng(data.draw(st.integers(0, 99))).standard_normal((2, c, *size))
    try:
        want = np.asarray(net(x))
    except ValueError:
        assume(False)
    assume(want.size < 200_000)
    got = compute(td.apply(net, dask_of(x, data.draw)))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10 * max(1.0, np.abs(want).max()))


def test_apply_fuses_the_layers_into_one_task_per_block() -> None:
    """The layers run fused: one graph layer beside the input's (no intermediate array is
    stored or moved), one task per output block and batch chunk; a circular layer starts
    a second chain. A k4 s2 p1 up-sampler maps chunks of c to chunks of 2c."""
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.ConvTranspose2d(4, 4, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 1, 3, padding=1, padding_mode="reflect"),
    ).double()
    x = np.random.default_rng(0).standard_normal((2, 1, 20, 24))
    xd = da.from_array(x, chunks=(1, 1, 8, 6))
    y = td.apply(net, xd)
    assert len(y.dask.layers) == 2
    blocks = [k for k in y.__dask_graph__().layers[y.name] if isinstance(k, tuple)]
    assert len(blocks) == 2 * 3 * 4
    assert y.chunks[2:] == ((16, 16, 8), (12, 12, 12, 12))
    np.testing.assert_allclose(y.compute(), np.asarray(net(x)), rtol=0, atol=1e-12)
    circ = nn.Sequential(net, nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular")).double()
    yc = td.apply(circ, xd)
    assert len(yc.dask.layers) == 3
    np.testing.assert_allclose(yc.compute(), np.asarray(circ(x)), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "module, name",
    [
        (nn.Sequential(nn.Conv2d(1, 1, 3), nn.Linear(3, 3)), "Linear"),
        (nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True), "align_corners"),
        (nn.AdaptiveAvgPool2d(2), "AdaptiveAvgPool2d"),
        (nn.BatchNorm2d(1), "BatchNorm2d.*training"),
        (nn.Upsample(scale_factor=1.5), "scale_factor"),
        (nn.Upsample(scale_factor=2, mode="bicubic"), "bicubic"),
        (nn.Flatten(), "Flatten"),
    ],
)
def test_layers_that_do_not_tile_are_refused_by_name(module, name) -> None:
    x = da.ones((1, 1, 8, 8), chunks=4)
    with pytest.raises(ValueError, match=name):
        td.apply(module, x)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(TypeError, match=r"dask\.array\.Array"):
        td.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="4-D"):
        td.conv2d(da.ones((4, 4)), np.ones((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="kernel larger"):
        td.conv2d(da.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="output_padding"):
        td.conv_transpose1d(da.ones((1, 1, 4)), np.ones((1, 1, 3)), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="whole number"):
        td.interpolate(da.ones((1, 1, 4)), scale_factor=1.5)
    with pytest.raises(ValueError, match="divisible"):
        td.pixel_unshuffle(da.ones((1, 1, 5, 4)), 2)


def test_a_local_cluster_of_two_processes_computes_the_same() -> None:
    distributed = pytest.importorskip("distributed")
    net = (
        nn.Sequential(
            nn.ConvTranspose2d(3, 4, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(4, 2, 3, padding=1, padding_mode="reflect"),
        )
        .double()
        .eval()
    )
    x = np.random.default_rng(0).standard_normal((2, 3, 40, 36))
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        y = td.apply(net, da.from_array(x, chunks=(1, 3, 13, 10)))
        got = client.compute(y).result()
        assert len(client.scheduler_info()["workers"]) == 2
    np.testing.assert_allclose(got, np.asarray(net(x)), rtol=0, atol=1e-12)


def test_out_of_core_zarr_larger_than_a_workers_memory_limit(tmp_path, monkeypatch) -> None:
    import dask

    from tconv.kernels.settings import set_memory_budget
    from tconv.lecture.demos import superres

    distributed = pytest.importorskip("distributed")
    zarr = pytest.importorskip("zarr")
    # 400 MiB of float32 > 380 MiB a worker; a worker's imports alone hold ~270 MiB, so a
    # tighter limit reaches Dask's 95% kill line in a long test session
    side, chunk, limit = 10_240, 512, 380 * 2**20
    w = np.random.default_rng(0).standard_normal((1, 1, 3, 3)).astype(np.float32)
    # A worker whose resident memory (imports included) passes Dask's 80% pause
    # threshold stops taking tasks and, holding no data to spill, never resumes: the run
    # hung once. Pausing is off; the limit is still asserted below, and a worker past
    # 95% is still killed (the pid check).
    monkeypatch.setenv("DASK_DISTRIBUTED__WORKER__MEMORY__PAUSE", "False")
    with (
        dask.config.set({"distributed.worker.memory.pause": False}),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            memory_limit=limit,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        pids = client.run(lambda: __import__("os").getpid())
        client.run(set_memory_budget, 16 * 2**20)  # tconv's temporaries in a task
        src = da.random.default_rng(0).standard_normal(
            (1, 1, side, side), chunks=(1, 1, chunk, chunk), dtype=np.float32
        )
        da.to_zarr(src, str(tmp_path / "in.zarr"), compressors=None)
        x = da.from_zarr(str(tmp_path / "in.zarr"))
        assert x.nbytes > limit
        y = td.conv2d(x, w, padding=1)
        store = da.to_zarr(y, str(tmp_path / "out.zarr"), compressors=None, compute=False)
        client.compute(store).result(timeout=240)  # a hang fails the test, not CI
        peak = client.run(superres._peak_rss)  # each worker's peak resident memory (VmHWM)
        assert max(peak.values()) < limit
        assert client.run(lambda: __import__("os").getpid()) == pids  # no worker restarted
    xin = zarr.open_array(str(tmp_path / "in.zarr"), mode="r")
    out = zarr.open_array(str(tmp_path / "out.zarr"), mode="r")
    m = 9
    for r0, c0 in [(0, 0), (chunk - 5, 3 * chunk - 7), (side - m, side - m)]:  # edges, seams
        tile = np.zeros((1, 1, m + 2, m + 2), np.float32)  # the zero padding, then the data
        r, c = max(r0 - 1, 0), max(c0 - 1, 0)
        part = xin[:, :, r : r0 + m + 1, c : c0 + m + 1]
        tile[
            :, :, r - r0 + 1 : r - r0 + 1 + part.shape[2], c - c0 + 1 : c - c0 + 1 + part.shape[3]
        ] = part
        want = F.conv2d(tile, w)
        np.testing.assert_allclose(out[:, :, r0 : r0 + m, c0 : c0 + m], want, rtol=0, atol=1e-5)
