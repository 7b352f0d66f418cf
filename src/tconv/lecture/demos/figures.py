"""The demos' figures: reconstruction grids, the comparison of the variants,
loss curves, and the "dream" inputs. matplotlib is imported when a function
here is called, never at import."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..figures._style import pyplot, save
from ._common import fmt_number

if TYPE_CHECKING:
    from .autoencoder import VariantResult

__all__ = ["comparison_figure", "dream_figure", "loss_curves", "reconstruction_grid"]

GREY = "gray"


def _show(
    ax: Any,
    img: np.ndarray,
    *,
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    cmap: str = GREY,
) -> None:
    ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _stretch(img: np.ndarray) -> np.ndarray:
    """Min-max scaled to [0, 1] (a constant image gives 0.5), to show faint patterns."""
    lo, hi = float(img.min()), float(img.max())
    return (
        np.full_like(img, 0.5) if hi - lo <= 1e-12 * max(1.0, abs(hi)) else (img - lo) / (hi - lo)
    )


def reconstruction_grid(
    result: VariantResult, targets: np.ndarray, path: Path, n: int = 12
) -> Path:
    """PNG: held-out images (top), the model's outputs at initialisation (middle, each
    stretched to its own range so that faint grids show) and after training (bottom)."""
    plt = pyplot()
    n = min(n, len(targets))
    rows = [
        ("held-out", targets[:n, 0], False),
        ("init (stretched)", result.init["outputs"][:n, 0], True),
        ("trained", result.trained["outputs"][:n, 0], False),
    ]
    fig, axes = plt.subplots(3, n, figsize=(0.9 * n, 3.1), squeeze=False)
    for r, (label, imgs, stretch) in enumerate(rows):
        for c in range(n):
            _show(axes[r, c], _stretch(imgs[c]) if stretch else imgs[c])
        axes[r, 0].set_ylabel(label, fontsize=8)
    fig.suptitle(
        f"{result.variant}: {result.layer}   held-out MSE {fmt_number(result.trained['mse'])}, "
        f"checkerboard {fmt_number(result.init['checkerboard'])} at init -> "
        f"{fmt_number(result.trained['checkerboard'])} trained",
        fontsize=9,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def comparison_figure(
    results: Sequence[VariantResult], targets: np.ndarray, stem: Path, index: int = 0
) -> list[Path]:
    """PNG + SVG: one column per variant. Rows: the output for one held-out image at
    initialisation (stretched), the decoder's answer to a constant latent at
    initialisation (stretched; a flat grey square means no artifact), and the
    trained output; each titled with its measured numbers."""
    plt = pyplot()
    k = len(results)
    fig, axes = plt.subplots(3, k + 1, figsize=(1.9 * (k + 1), 6.6), squeeze=False)
    labels = (
        "output at init\n(stretched)",
        "decoder's answer\nto a constant\nlatent, at init\n(stretched)",
        "",
    )
    for r, label in enumerate(labels):
        axes[r, 0].axis("off")
        axes[r, 0].text(
            0.5, 0.5, label, ha="center", va="center", fontsize=9, transform=axes[r, 0].transAxes
        )
    _show(axes[2, 0], targets[index, 0])
    axes[2, 0].axis("on")
    axes[2, 0].set_title("held-out image\n(target)", fontsize=8)
    for c, res in enumerate(results, start=1):
        init_out = res.init["outputs"][index, 0]
        _show(axes[0, c], _stretch(init_out))
        axes[0, c].set_title(
            f"{res.variant}\nCB {fmt_number(res.init['checkerboard'], 3)}  "
            f"spec {fmt_number(res.init['spectral'], 3)}",
            fontsize=8,
        )
        _show(axes[1, c], _stretch(res.init["constant_response"]))
        axes[1, c].set_title(f"CB {fmt_number(res.init['checkerboard_constant'], 3)}", fontsize=8)
        _show(axes[2, c], res.trained["outputs"][index, 0])
        axes[2, c].set_title(
            f"trained: MSE {fmt_number(res.trained['mse'], 3)}\n"
            f"CB {fmt_number(res.trained['checkerboard'], 3)}"
            f"  spec {fmt_number(res.trained['spectral'], 3)}",
            fontsize=8,
        )
    fig.suptitle(
        "Up-sampling layers compared: CB = checkerboard index (period 2), "
        "spec = share of power at Nyquist",
        fontsize=9,
    )
    return save(fig, stem)


def loss_curves(results: Sequence[VariantResult], path: Path) -> Path:
    """PNG: training loss per epoch and held-out MSE per epoch, log scale, per variant."""
    plt = pyplot()
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    for res in results:
        epochs = np.arange(1, len(res.loss_curve) + 1)
        a.plot(epochs, res.loss_curve, label=res.variant)
        b.plot(np.arange(len(res.test_curve)), res.test_curve, label=res.variant)
    a.set(title="training loss (MSE, mean over the epoch)", xlabel="epoch", yscale="log")
    b.set(title="held-out MSE", xlabel="epoch", yscale="log")
    b.legend(fontsize=8)
    for ax in (a, b):
        ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def dream_figure(
    rows: Sequence[tuple[str, np.ndarray, np.ndarray, Any, Any]],
    stem: Path,
    crop: int = 0,
    period: int = 4,
) -> list[Path]:
    """PNG + SVG for ``tconv demo dream``: per classifier, two rows over the classes:
    the input gradient of each class logit at a grey canvas (its interior: ``crop``
    border pixels left out, colours stretched to the interior's range) and the
    optimised canvas. ``rows``: (name, gradients (C, H, W), inputs (C, H, W),
    gradient indices, input indices), indices of the given ``period``."""
    plt = pyplot()
    n_cls = rows[0][1].shape[0]
    fig, axes = plt.subplots(
        2 * len(rows), n_cls, figsize=(1.05 * n_cls, 2.6 * len(rows)), squeeze=False
    )
    for i, (name, grads, inputs, cb_grad, cb_in) in enumerate(rows):
        for c in range(n_cls):
            g = grads[c, crop : grads.shape[1] - crop, crop : grads.shape[2] - crop]
            _show(axes[2 * i, c], _stretch(g), cmap="RdBu_r")
            axes[2 * i, c].set_title(f"{c}: {cb_grad[c]:.2f}", fontsize=7)
            _show(axes[2 * i + 1, c], inputs[c])
            axes[2 * i + 1, c].set_title(f"{cb_in[c]:.2f}", fontsize=7)
        axes[2 * i, 0].set_ylabel(f"{name}\ngradient\n(interior)", fontsize=8)
        axes[2 * i + 1, 0].set_ylabel("optimised\ninput", fontsize=8)
    fig.suptitle(
        f"Input gradient at a grey canvas and optimised canvas, per class (numbers: "
        f"checkerboard index, period {period}, interior)",
        fontsize=9,
    )
    return save(fig, stem)
