"""``tconv demo superres``: a x2 super-resolution decoder, trained in seconds, then run
tile by tile on a Zarr mosaic larger than a worker's memory, exact at every seam.

Two decoders (conv 3x3, ReLU, x2 up-sampler, ReLU, conv 3x3 with reflect padding):
``transposed`` (a k4 s2 p1 transposed convolution) and ``subpixel`` (an ICNR-initialised
sub-pixel convolution, tconv.nn.SubPixelConv2d). They learn to invert 2x2 averaging on
patches of scikit-image's bundled images. The transposed variant then up-scales a
mosaic of those images, stored as Zarr, on a ``distributed.LocalCluster`` of two
worker processes with a memory limit each (:func:`tconv.dask.apply`), writing Zarr.

Seams: around crossings of the chunk grid (and at the mosaic's corners), windows of the
tiled result are compared with the whole-array result computed in memory from a
generous input region; for contrast, naive tiling (each chunk alone, no halo) and
overlap-and-blend (MONAI's sliding window: tiles overlapping by a quarter, Gaussian
weights) on the same windows. Files in ``out``: ``metrics.json``, ``seam.png`` /
``seam.svg`` (a crop across a seam: the three versions and their errors),
``input.zarr``, ``output.zarr`` (removed unless ``keep_zarr``).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ... import autograd, nn, optim
from ...functional import mse_loss
from ...kernels import settings
from .. import data
from ._common import blas_threads, format_table, seed_everything, write_json
from .progress import Progress

__all__ = ["IMAGES", "VARIANTS", "make_model", "run"]

#: scikit-image's bundled images the decoders train on and the mosaic is made of.
IMAGES = (
    "camera", "astronaut", "coffee", "chelsea", "moon", "brick",
    "grass", "gravel", "coins", "page", "text", "rocket",
)  # fmt: skip
#: The two x2 up-samplers compared: a k4 s2 transposed convolution, ICNR sub-pixel.
VARIANTS = ("transposed", "subpixel")
PATCH = 32  # high-resolution training patches (inputs 16x16)


def load_images() -> list[np.ndarray]:
    """The bundled images, grey, float32 in [0, 1] (no download: they ship with skimage)."""
    skdata = data._require("skimage.data", "scikit-image", "tconv demo superres")
    color = data._require("skimage.color", "scikit-image", "tconv demo superres")
    out = []
    for name in IMAGES:
        img = np.asarray(getattr(skdata, name)(), dtype=np.float64)
        if img.ndim == 3:
            img = color.rgb2gray(img[..., :3] / 255.0)
        elif img.max() > 1:
            img = img / 255.0
        out.append(img.astype(np.float32))
    return out


def downscale(hr: np.ndarray) -> np.ndarray:
    """2x2 averaging of (..., H, W) with even H and W: the degradation the decoders invert."""
    h, w = hr.shape[-2:]
    return hr.reshape(*hr.shape[:-2], h // 2, 2, w // 2, 2).mean(axis=(-3, -1))


def make_model(variant: str, width: int = 8) -> nn.Sequential:
    """The x2 decoder of ``variant``: (N, 1, H, W) -> (N, 1, 2H, 2W)."""
    if variant == "transposed":
        up: nn.Module = nn.ConvTranspose2d(width, width, 4, stride=2, padding=1)
    elif variant == "subpixel":
        up = nn.SubPixelConv2d(width, width, 3, upscale_factor=2, icnr=True)
    else:
        raise ValueError(f"make_model: variant must be one of {VARIANTS}, got {variant!r}")
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1),
        nn.ReLU(),
        up,
        nn.ReLU(),
        nn.Conv2d(width, 1, 3, padding=1, padding_mode="reflect"),
    )


def _patches(images: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty((n, 1, PATCH, PATCH), np.float32)
    for i in range(n):
        img = images[rng.integers(len(images))]
        r = rng.integers(img.shape[0] - PATCH + 1)
        c = rng.integers(img.shape[1] - PATCH + 1)
        out[i, 0] = img[r : r + PATCH, c : c + PATCH]
    return out


def _psnr(pred: np.ndarray, hr: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((pred.astype(np.float64) - hr) ** 2)))


def train(
    variant: str, images: list[np.ndarray], steps: int, seed: int, progress: bool
) -> tuple[nn.Sequential, dict[str, Any]]:
    """Train one decoder with Adam on random patches; PSNR on held-out patches."""
    rng = seed_everything(seed)
    model = make_model(variant)
    opt = optim.Adam(model.parameters(), lr=3e-3)
    test_hr = _patches(images, 256, np.random.default_rng(seed + 1))
    start = time.perf_counter()
    losses = []
    with Progress(steps, label=variant, stream=sys.stderr, enabled=progress) as bar:
        for _ in range(steps):
            hr = _patches(images, 16, rng)
            opt.zero_grad()
            loss = mse_loss(model(autograd.tensor(downscale(hr))), autograd.tensor(hr))
            loss.backward()
            opt.step()
            losses.append(float(loss.data))
            bar.update(loss=losses[-1])
    model.eval()
    with autograd.no_grad():
        pred = np.asarray(autograd.unwrap(model(downscale(test_hr))))
    nearest = np.repeat(np.repeat(downscale(test_hr), 2, axis=-2), 2, axis=-1)
    return model, {
        "steps": steps,
        "seconds": time.perf_counter() - start,
        "final_loss": float(np.mean(losses[-10:])) if losses else None,
        "psnr_db": _psnr(pred, test_hr),
        "psnr_nearest_db": _psnr(nearest, test_hr),
    }


def _cell(images: list[np.ndarray], u: int, v: int, cell: int) -> np.ndarray:
    """Cell (u, v) of the mosaic: a crop of one image, flipped by the cell's parity."""
    img = images[(u * 5 + v * 3) % len(images)]
    big = np.pad(
        img, ((0, max(0, cell - img.shape[0])), (0, max(0, cell - img.shape[1]))), "reflect"
    )
    out = big[:cell, :cell]
    return out[::-1] if (u + v) % 2 else out


def _mosaic_block(
    block: np.ndarray, images: list[np.ndarray], cell: int, block_info: Any = None
) -> np.ndarray:
    """One chunk of the mosaic, from the images alone (no mosaic in memory)."""
    (r0, r1), (c0, c1) = block_info[None]["array-location"][2:]
    rows, cols = np.arange(r0, r1), np.arange(c0, c1)
    out = np.empty((1, 1, r1 - r0, c1 - c0), np.float32)
    for u in np.unique(rows // cell):
        for v in np.unique(cols // cell):
            ri, ci = rows[rows // cell == u], cols[cols // cell == v]
            tile = _cell(images, int(u), int(v), cell)
            out[0, 0, ri[0] - r0 : ri[-1] - r0 + 1, ci[0] - c0 : ci[-1] - c0 + 1] = tile[
                ri[0] - u * cell : ri[-1] - u * cell + 1, ci[0] - v * cell : ci[-1] - v * cell + 1
            ]
    return out


def _whole(model: nn.Module, x: Any, r0: int, r1: int, c0: int, c1: int, margin: int) -> np.ndarray:
    """Outputs [r0, r1) x [c0, c1) of the whole-array result, in memory: the model on an
    input region ``margin`` pixels wider than the window's reach (or up to the true
    edges, which the whole array pads the same way)."""
    h, w = x.shape[2:]
    a, b = max(r0 // 2 - margin, 0), min(r1 // 2 + margin, h)
    c, d = max(c0 // 2 - margin, 0), min(c1 // 2 + margin, w)
    y = np.asarray(model(np.asarray(x[:, :, a:b, c:d])))
    return y[0, 0, r0 - 2 * a : r1 - 2 * a, c0 - 2 * c : c1 - 2 * c]


def _naive(model: nn.Module, x: Any, chunk: int, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    """Naive tiling: each input chunk run alone (its own padding at the chunk's edges)."""
    out = np.empty((r1 - r0, c1 - c0), np.float32)
    for u in range(r0 // 2 // chunk, (r1 - 1) // 2 // chunk + 1):
        for v in range(c0 // 2 // chunk, (c1 - 1) // 2 // chunk + 1):
            tile = np.asarray(x[:, :, u * chunk : (u + 1) * chunk, v * chunk : (v + 1) * chunk])
            y = np.asarray(model(tile))[0, 0]
            ra, rb = max(r0, 2 * u * chunk), min(r1, 2 * u * chunk + y.shape[0])
            ca, cb = max(c0, 2 * v * chunk), min(c1, 2 * v * chunk + y.shape[1])
            out[ra - r0 : rb - r0, ca - c0 : cb - c0] = y[
                ra - 2 * u * chunk : rb - 2 * u * chunk, ca - 2 * v * chunk : cb - 2 * v * chunk
            ]
    return out


def _starts(n: int, tile: int, step: int) -> list[int]:
    s = list(range(0, max(n - tile, 0) + 1, step))
    if s[-1] + tile < n:
        s.append(n - tile)
    return s


def _blend(model: nn.Module, x: Any, chunk: int, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    """Overlap-and-blend (MONAI's sliding_window_inference, mode 'gaussian'): tiles of
    ``chunk`` inputs overlapping by a quarter, each run alone, blended with a Gaussian of
    sigma = tile / 8."""
    h, w = x.shape[2:]
    step = chunk - chunk // 4
    t2 = 2 * chunk
    g = np.exp(-0.5 * ((np.arange(t2) - (t2 - 1) / 2) / (t2 / 8)) ** 2)
    weight = np.outer(g, g)
    acc = np.zeros((r1 - r0, c1 - c0))
    norm = np.zeros_like(acc)
    for a in _starts(h, chunk, step):
        if 2 * (a + chunk) <= r0 or 2 * a >= r1:
            continue
        for c in _starts(w, chunk, step):
            if 2 * (c + chunk) <= c0 or 2 * c >= c1:
                continue
            y = np.asarray(model(np.asarray(x[:, :, a : a + chunk, c : c + chunk])))[0, 0]
            ra, rb = max(r0, 2 * a), min(r1, 2 * a + y.shape[0])
            ca, cb = max(c0, 2 * c), min(c1, 2 * c + y.shape[1])
            sl = (slice(ra - 2 * a, rb - 2 * a), slice(ca - 2 * c, cb - 2 * c))
            wt = weight[: y.shape[0], : y.shape[1]][sl]
            acc[ra - r0 : rb - r0, ca - c0 : cb - c0] += wt * y[sl]
            norm[ra - r0 : rb - r0, ca - c0 : cb - c0] += wt
    return (acc / norm).astype(np.float32)


def _peak_rss() -> int:
    """This process's peak resident memory in bytes: VmHWM (reset by exec, unlike
    getrusage's ru_maxrss, which a spawned worker inherits from its parent)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    import resource  # not Linux: the getrusage figure

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def upscale(
    model: nn.Module,
    images: list[np.ndarray],
    out: Path,
    side: int,
    chunk: int,
    memory_limit: int,
    progress: bool,
) -> tuple[dict[str, Any], Any]:
    """Build the Zarr mosaic, up-scale it on a 2-process LocalCluster, write Zarr."""
    da = data._require("dask.array", "dask", "tconv demo superres")
    distributed = data._require("distributed", "distributed", "tconv demo superres")
    zarr = data._require("zarr", "zarr", "tconv demo superres")
    from ... import dask as td

    src, dst = out / "input.zarr", out / "output.zarr"
    for p in (src, dst):
        shutil.rmtree(p, ignore_errors=True)
    env = {"TCONV_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    dask = data._require("dask", "dask", "tconv demo superres")
    with (
        # A worker whose resident memory (imports included) passes Dask's 80% pause line
        # stops taking tasks and, holding no data to spill, never resumes: the full run
        # hung there. Pausing is off; the limit still holds (95% kills a worker, and the
        # peaks are reported and checked).
        dask.config.set({"distributed.worker.memory.pause": False}),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            memory_limit=memory_limit,
            dashboard_address=None,
            env=env,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # tconv's temporaries inside a task stay small beside the worker's limit
        client.run(settings.set_memory_budget, memory_limit // 16)
        shape = (1, 1, side, side)
        delayed = dask.delayed

        base = da.zeros(shape, chunks=(1, 1, chunk, chunk), dtype=np.float32)
        mosaic = base.map_blocks(_mosaic_block, images=delayed(images), cell=512, dtype=np.float32)
        da.to_zarr(mosaic, str(src))
        x = da.from_zarr(str(src))
        y = td.apply(model, x)
        store = da.to_zarr(y, str(dst), compute=False)
        start = time.perf_counter()
        future = client.compute(store)
        if progress:  # Dask's bar writes to stdout: stdout keeps only the results
            with contextlib.redirect_stdout(sys.stderr):
                distributed.progress(future)
            print(file=sys.stderr)
        future.result()
        seconds = time.perf_counter() - start
        peaks = list(client.run(_peak_rss).values())
    result = {
        "input_shape": list(shape),
        "output_shape": list(y.shape),
        "chunk": chunk,
        "input_mib": x.nbytes / 2**20,
        "output_mib": y.nbytes / 2**20,
        "memory_limit_mib": memory_limit / 2**20,
        "seconds": seconds,
        "megapixels_per_second": y.shape[2] * y.shape[3] / 1e6 / seconds,
        "peak_rss_per_worker_mib": [p / 2**20 for p in peaks],
        "workers_within_limit": all(p <= memory_limit for p in peaks),
    }
    return result, (zarr.open_array(str(src), mode="r"), zarr.open_array(str(dst), mode="r"))


def seams(
    model: nn.Module, x: Any, y: Any, chunk: int, half: int = 24
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """max |version - whole| over windows centred on chunk-grid crossings and corners."""
    side = x.shape[2]
    out_side = y.shape[2]
    step = 2 * chunk
    centres = [(0, 0), (out_side, out_side)]
    crossings = [k * step for k in range(1, side // chunk)]
    picks = crossings[:: max(1, len(crossings) // 3)][:3]
    centres += [(r, c) for r in picks for c in picks]
    errs: dict[str, float] = {"tiled": 0.0, "naive": 0.0, "blend": 0.0}
    crop: dict[str, np.ndarray] = {}
    for r, c in centres:
        r0, r1 = max(r - half, 0), min(r + half, out_side)
        c0, c1 = max(c - half, 0), min(c + half, out_side)
        whole = _whole(model, x, r0, r1, c0, c1, margin=16)
        versions = {
            "tiled": np.asarray(y[0, 0, r0:r1, c0:c1]),
            "naive": _naive(model, x, chunk, r0, r1, c0, c1),
            "blend": _blend(model, x, chunk, r0, r1, c0, c1),
        }
        for k, v in versions.items():
            errs[k] = max(errs[k], float(np.abs(v.astype(np.float64) - whole).max()))
        if not crop and 0 < r < out_side:
            crop = {"whole": whole, **versions}
    return {"windows": len(centres), "window_side": 2 * half, "max_abs_error": errs}, crop


def figure(crop: dict[str, np.ndarray], errs: dict[str, float], out: Path) -> list[Path]:
    """The crop across a seam: tiled, naive, blended, and |version - whole| below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ("tiled", "naive", "blend")
    titles = {"tiled": "tconv.dask (exact halo)", "naive": "naive tiles (no halo)",
              "blend": "overlap-and-blend"}  # fmt: skip
    fig, axes = plt.subplots(2, 3, figsize=(9, 6.2))
    diffs = [np.abs(crop[k].astype(np.float64) - crop["whole"]) for k in names]
    top = max(max(float(d.max()) for d in diffs), 1e-12)
    for i, k in enumerate(names):
        axes[0, i].imshow(crop[k], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axes[0, i].set_title(titles[k], fontsize=9)
        axes[1, i].imshow(diffs[i], cmap="magma", vmin=0, vmax=top, interpolation="nearest")
        axes[1, i].set_title(f"|{k} - whole|, max {errs[k]:.1e}", fontsize=9)
        for ax in axes[:, i]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("x2 up-scaling across a chunk seam (crossing at the centre)", fontsize=10)
    fig.tight_layout()
    paths = [out / "seam.png", out / "seam.svg"]
    for p in paths:
        fig.savefig(p, dpi=110)
    plt.close(fig)
    return paths


def run(
    *,
    quick: bool,
    out: Path,
    seed: int = 0,
    progress: bool = True,
    figures: bool = True,
    keep_zarr: bool = False,
) -> tuple[dict[str, Any], str]:
    """Train both decoders, up-scale the mosaic, measure the seams; metrics and a table."""
    # A 384 MiB limit per worker: its imports hold about 150 MiB, the fused tiles (256^2
    # inputs, 512^2 outputs, eight channels inside) little, but Dask holds input chunks
    # and glibc keeps freed memory; at 256 MiB a full run's workers reached Dask's 95%
    # kill line. Full: a 12288^2 mosaic, 576 MiB in and 2.25 GiB out.
    # Quick: 2048^2 (16 MiB, under the limit; the out-of-core case is tests/test_dask.py).
    steps, side, chunk = (600, 2048, 256) if quick else (1000, 12288, 256)
    limit = 384 * 2**20
    images = load_images()
    out.mkdir(parents=True, exist_ok=True)
    trained: dict[str, Any] = {}
    models = {}
    with blas_threads(1):
        for variant in VARIANTS:
            models[variant], trained[variant] = train(variant, images, steps, seed, progress)
    model = models["transposed"]
    run_info, (x, y) = upscale(model, images, out, side, chunk, limit, progress)
    seam, crop = seams(model, x, y, chunk)
    metrics = {
        "quick": quick,
        "seed": seed,
        "training": trained,
        "upscale": run_info,
        "seams": seam,
    }
    write_json(out / "metrics.json", metrics)
    if figures and crop:
        figure(crop, seam["max_abs_error"], out)
    if not keep_zarr:
        for p in ("input.zarr", "output.zarr"):
            shutil.rmtree(out / p, ignore_errors=True)
    rows = [
        [v, t["steps"], t["psnr_db"], t["psnr_nearest_db"], t["seconds"]]
        for v, t in trained.items()
    ]
    table = format_table(["variant", "steps", "PSNR dB", "nearest dB", "time s"], rows)
    e = seam["max_abs_error"]
    table += "\n\n" + format_table(
        ["mosaic in", "out MP", "limit MiB", "MP/s", "peak MiB/worker", "seam tiled", "naive",
         "blend"],
        [[
            f"{side}x{side} ({run_info['input_mib']:.0f} MiB)",
            run_info["output_shape"][2] * run_info["output_shape"][3] / 1e6,
            run_info["memory_limit_mib"],
            run_info["megapixels_per_second"],
            " / ".join(f"{p:.0f}" for p in run_info["peak_rss_per_worker_mib"]),
            e["tiled"], e["naive"], e["blend"],
        ]],
    )  # fmt: skip
    return metrics, table
