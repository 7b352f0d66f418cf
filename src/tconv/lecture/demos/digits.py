"""``tconv demo digits``: train the five autoencoders, measure them, write the results.

Files written to ``out``:

* ``metrics.json``: the settings, the data set's own checkerboard numbers (the
  level a perfect reconstruction would show), and per variant ``mse``,
  ``checkerboard_init``, ``checkerboard_trained``, ``spectral_init``,
  ``spectral_trained``, ``checkerboard_constant_init``/``_trained``, the curves
  and the time taken (see :mod:`tconv.demos.autoencoder` for the definitions);
* ``summary.md``: the summary table (also printed);
* ``recon_<variant>.png``: held-out images, outputs at init and after training;
* ``comparison.png`` / ``comparison.svg``: the variants side by side with their numbers;
* ``loss_curves.png``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ... import artifacts
from .. import data
from ._common import blas_threads, format_table, write_json
from .autoencoder import PERIOD, VARIANTS, VariantResult, train_variant

__all__ = ["DEFINITIONS", "run", "summary_table"]

DEFINITIONS = {
    "mse": "mean squared error of the reconstructions of the held-out images (pixels in [0, 1])",
    "checkerboard": "mean over held-out outputs of tconv.artifacts.checkerboard_index(period=2):"
    " share of the image's variance explained by its 2x2 phase pattern (0 none, 1 pure grid)",
    "spectral": "mean over held-out outputs of tconv.artifacts.checkerboard_spectrum(period=2):"
    " share of the non-DC power at the Nyquist rows and columns",
    "checkerboard_constant": "checkerboard_index of the decoder's output for a constant latent"
    " image (per-channel mean held-out code on a 12x12 grid), 8-pixel border cropped;"
    " 0 = a constant input gives a constant output",
}
"""What each metric of ``metrics.json`` and the summary table measures."""


def summary_table(results: Sequence[VariantResult], data_cb: float) -> str:
    """The Markdown summary table: one row per variant, then the data set's own level."""
    header = [
        "variant",
        "params",
        "MSE",
        "CB init",
        "CB trained",
        "spec init",
        "spec trained",
        "CB const init",
        "CB const trained",
        "time s",
    ]
    rows: list[list[Any]] = [
        [
            r.variant,
            r.params,
            r.trained["mse"],
            r.init["checkerboard"],
            r.trained["checkerboard"],
            r.init["spectral"],
            r.trained["spectral"],
            r.init["checkerboard_constant"],
            r.trained["checkerboard_constant"],
            round(r.seconds, 1),
        ]
        for r in results
    ]
    table = format_table(header, rows)
    return (
        table
        + f"\n\nCB of the held-out images themselves (a perfect reconstruction): {data_cb:.4f}"
    )


def _load(name: str, seed: int) -> data.Dataset:
    if name == "synthetic":
        return data.synthetic(256, 8, seed=seed)
    return data.load(name)


def run(
    dataset: str = "digits",
    *,
    epochs: int = 40,
    seed: int = 0,
    out: Path | str = Path("tconv-demo/digits"),
    variants: Sequence[str] | None = None,
    batch_size: int = 32,
    lr: float = 3e-3,
    width: int = 16,
    latent: int = 8,
    test_fraction: float = 0.2,
    figures: bool = True,
    progress: bool = True,
    threads: int | None = 1,
    stream: Any = None,
) -> tuple[dict[str, Any], str]:
    """Train and measure each variant on ``dataset``; write the files; return
    ``(metrics, summary table)``."""
    if dataset not in data.DATASETS:
        raise ValueError(
            f"run: dataset must be one of {' | '.join(data.DATASETS)}, got {dataset!r}"
        )
    names = list(VARIANTS) if variants is None else list(variants)
    unknown = [v for v in names if v not in VARIANTS]
    if unknown or not names:
        raise ValueError(
            f"run: variants must be a non-empty list among {' | '.join(VARIANTS)}, got {names!r}"
        )
    out = Path(out)
    start = time.perf_counter()
    ds = _load(dataset, seed)
    tr, te = data.split(len(ds.images), test_fraction, seed=seed)
    train, test = ds.images[tr], ds.images[te]
    data_cb = float(np.mean(artifacts.checkerboard_index(test[:, 0], PERIOD)))
    data_spec = float(np.mean(artifacts.checkerboard_spectrum(test[:, 0], PERIOD)))
    results: list[VariantResult] = []
    with blas_threads(threads):
        for v in names:
            results.append(
                train_variant(
                    v,
                    train,
                    test,
                    epochs=epochs,
                    batch_size=batch_size,
                    lr=lr,
                    seed=seed,
                    width=width,
                    latent=latent,
                    progress=progress,
                    stream=stream,
                )
            )
    table = summary_table(results, data_cb)
    metrics: dict[str, Any] = {
        "dataset": ds.name,
        "source": ds.source,
        "image_size": list(train.shape[2:]),
        "n_train": len(train),
        "n_test": len(test),
        "dtype": str(train.dtype),
        "output_dtype": str(results[0].trained["outputs"].dtype),
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "width": width,
        "latent": latent,
        "data_checkerboard": data_cb,
        "data_spectral": data_spec,
        "definitions": DEFINITIONS,
        "variants": {r.variant: r.metrics() for r in results},
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.md").write_text(table + "\n")
    if figures:
        from .figures import comparison_figure, loss_curves, reconstruction_grid

        for r in results:
            reconstruction_grid(r, test, out / f"recon_{r.variant}.png")
        comparison_figure(results, test, out / "comparison")
        loss_curves(results, out / "loss_curves.png")
    metrics["seconds_total"] = time.perf_counter() - start
    write_json(out / "metrics.json", metrics)
    return metrics, table
