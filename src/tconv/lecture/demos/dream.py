"""``tconv demo dream``: optimising the input of a classifier, and the checkerboard
that strided convolutions leave in the gradient.

The lecture: "generative processes that consist of optimizing the input rely on
back-propagation to expand the signal from a low-dimension representation to
the high-dimension signal space". The backward pass of a strided convolution
*is* a transposed convolution, so the gradient with respect to the input
carries the same uneven-coverage grid (Odena, Dumoulin & Olah, Distill 2016).

Two classifiers of the 8x8 digits, trained with tconv, same channel widths:

* ``strided``: ``Conv2d(1, 16, 3, s=2, p=1)`` ReLU ``Conv2d(16, 32, 3, s=2, p=1)``
  ReLU, then ``Linear(128, 10)``: its input gradient passes through two
  k3 s2 transposed convolutions;
* ``pooled``: the same convolutions with stride 1 (``padding=1``), each
  followed by a 2x2 average pooling: the gradient passes through stride-1
  convolutions and nearest up-scaling (the pooling's adjoint), which spread
  it evenly.

Measured (``checkerboard_index``, period 2; white noise of 8x8 scores about
3/64 = 0.047): the gradient of each class logit at a grey image, the gradient
of the true class's logit at each held-out digit, and the input obtained by
gradient ascent on one class logit (the input alone is optimised; weights
frozen), from the grey image.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ... import artifacts, autograd, nn, optim
from ...functional import cross_entropy
from .. import data
from ._common import blas_threads, format_table, n_params, seed_everything, write_json
from .progress import Progress

__all__ = ["CLASSIFIERS", "AvgPool2", "classifier", "input_gradient", "optimise_input", "run"]

CLASSIFIERS = ("strided", "pooled")
"""The two classifiers: ``'strided'`` (stride-2 convolutions) and ``'pooled'`` (stride-1
convolutions and average pooling)."""
PERIOD = 2


class AvgPool2(nn.AvgPool2d):
    """2x2 average pooling with stride 2: ``nn.AvgPool2d(2)``, kept under its old name.
    Its gradient is nearest up-scaling divided by 4.

    >>> AvgPool2()(np.arange(16.0).reshape(1, 1, 4, 4))[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """

    def __init__(self) -> None:
        super().__init__(2)


def classifier(kind: str, *, classes: int = 10) -> nn.Sequential:
    """The ``strided`` or ``pooled`` classifier: fully convolutional (a 1x1
    convolution to class scores, then their spatial mean), so that it takes any
    size divisible by 4; 8x8 digits give a 2x2 score map.

    >>> classifier("pooled")(np.zeros((2, 1, 8, 8), np.float32)).shape
    (2, 10)
    >>> classifier("strided")(np.zeros((1, 1, 32, 32), np.float32)).shape
    (1, 10)
    """
    if kind == "strided":
        body: list[nn.Module] = [
            nn.Conv2d(1, 16, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(),
        ]
    elif kind == "pooled":
        body = [
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.AvgPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.AvgPool2d(2),
        ]
    else:
        raise ValueError(f"classifier: kind must be one of {' | '.join(CLASSIFIERS)}, got {kind!r}")
    # global average pooling of the score map: (N, classes, h, w) -> (N, classes)
    return nn.Sequential(*body, nn.Conv2d(32, classes, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def input_gradient(model: nn.Module, x: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """d logit[classes[i]] / d x[i] for each image of ``x`` (N, 1, H, W), as an array."""
    xt = autograd.tensor(x, requires_grad=True)
    logits = model(xt)
    onehot = np.zeros(logits.shape, dtype=logits.dtype)
    onehot[np.arange(len(x)), classes] = 1
    (logits * onehot).sum().backward()
    assert xt.grad is not None
    return xt.grad


def optimise_input(
    model: nn.Module,
    start: np.ndarray,
    classes: np.ndarray,
    *,
    steps: int = 60,
    step_size: float = 0.02,
) -> np.ndarray:
    """Gradient ascent on the inputs alone: ``x += step_size * g / rms(g)`` with
    ``g = d logit[class] / d x`` (per image), clipped to [0, 1] after each step."""
    x = np.array(start, copy=True)
    for _ in range(steps):
        g = input_gradient(model, x, classes).astype(np.float64)
        rms = np.sqrt(np.mean(g * g, axis=(1, 2, 3), keepdims=True)) + 1e-12
        x = np.clip(x + step_size * g / rms, 0.0, 1.0).astype(start.dtype)
    return x


def _train(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    lr: float,
    rng: np.random.Generator,
    label: str,
    progress: bool,
    stream: Any,
) -> list[float]:
    opt = optim.Adam(model.parameters(), lr=lr)
    curve = []
    steps = max(1, epochs * -(-len(x) // 32))
    with Progress(steps, label=label, stream=stream, enabled=progress) as bar:
        for epoch in range(1, epochs + 1):
            total = 0.0
            for idx in data.batches(len(x), 32, rng):
                opt.zero_grad()
                loss = cross_entropy(model(autograd.tensor(x[idx])), y[idx])
                loss.backward()
                opt.step()
                total += float(loss.item()) * len(idx)
                bar.update(epoch=epoch, epochs=epochs, loss=float(loss.item()))
            curve.append(total / len(x))
    return curve


def _cb(images: np.ndarray, crop: int = 0, period: int = PERIOD) -> np.ndarray:
    """checkerboard_index of each image of (N, 1, H, W), ``crop`` border pixels left out."""
    x = images[:, 0, crop : images.shape[2] - crop, crop : images.shape[3] - crop]
    return np.asarray(artifacts.checkerboard_index(x, period), dtype=np.float64)


def _spec(images: np.ndarray, crop: int = 0, period: int = PERIOD) -> float:
    x = images[:, 0, crop : images.shape[2] - crop, crop : images.shape[3] - crop]
    return float(np.mean(artifacts.checkerboard_spectrum(x, period)))


def _to_float64(model: nn.Module) -> nn.Module:
    """``model`` with its parameters cast to float64, in place (``model.double()``)."""
    return model.double()


def _measure(
    model: nn.Module, ds: data.Dataset, test: np.ndarray, n_cls: int, steps: int, canvas: int
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The gradient and dream numbers of one trained classifier (see the module doc).

    Accuracy in float32; the gradients and dreams in float64, so that float32
    rounding (relative 1e-7) of a constant gradient is not measured as a pattern.
    """
    with autograd.no_grad():
        pred = np.argmax(model(autograd.tensor(ds.images[test])).data, axis=1)
    model = _to_float64(model)
    targets = np.arange(n_cls)
    grey = np.full((n_cls, 1, *ds.images.shape[2:]), 0.5)
    big = np.full((n_cls, 1, canvas, canvas), 0.5)
    g_grey = input_gradient(model, grey, targets)
    g_big = input_gradient(model, big, targets)
    g_test = input_gradient(model, ds.images[test].astype(np.float64), ds.labels[test])
    dreams = optimise_input(model, grey, targets, steps=steps)
    dreams_big = optimise_input(model, big, targets, steps=steps)
    with autograd.no_grad():
        logits = model(autograd.tensor(dreams)).data
    prob = np.exp(logits - logits.max(1, keepdims=True))
    prob /= prob.sum(1, keepdims=True)
    c, p4 = CANVAS_CROP, PERIOD * PERIOD
    numbers = {
        "test_accuracy": float(np.mean(pred == ds.labels[test])),
        "grad_checkerboard_grey": float(_cb(g_grey).mean()),
        "grad_spectral_grey": _spec(g_grey),
        "grad_checkerboard_heldout": float(_cb(g_test).mean()),
        "grad_spectral_heldout": _spec(g_test),
        "grad_checkerboard_canvas": float(_cb(g_big, c).mean()),
        "grad_checkerboard_canvas_period4": float(_cb(g_big, c, p4).mean()),
        "grad_spectral_canvas": _spec(g_big, c),
        "dream_checkerboard": float(_cb(dreams).mean()),
        "dream_checkerboard_canvas": float(_cb(dreams_big, c).mean()),
        "dream_checkerboard_canvas_period4": float(_cb(dreams_big, c, p4).mean()),
        "dream_target_probability": float(prob[targets, targets].mean()),
    }
    return numbers, g_big[:, 0], dreams_big[:, 0]


CANVAS_CROP = 8  # border pixels of the large canvas left out (the borders' reach)


def run(
    *,
    epochs: int = 15,
    steps: int = 60,
    canvas: int = 32,
    seed: int = 0,
    out: Path | str = Path("tconv-demo/dream"),
    dataset: str = "digits",
    figures: bool = True,
    progress: bool = True,
    threads: int | None = 1,
    stream: Any = None,
) -> tuple[dict[str, Any], str]:
    """Train both classifiers, measure their input gradients and dreams; write
    ``dream.json``, ``summary.md``, ``dream_arrays.npz`` and ``dream.png``/``.svg``;
    return (metrics, summary table).

    Measures on the data's own size (8x8: grey image, held-out digits, dream from
    grey) and on a grey ``canvas x canvas`` image (the classifiers are fully
    convolutional), where the border (``CANVAS_CROP`` pixels) is left out so that
    the interior shows what the backward pass does to a constant signal.
    """
    if dataset not in ("digits", "synthetic"):
        raise ValueError(f"run: dataset must be digits | synthetic, got {dataset!r}")
    if (
        isinstance(canvas, bool)
        or not isinstance(canvas, int)
        or canvas < 2 * CANVAS_CROP + 4
        or canvas % 4
    ):
        raise ValueError(
            f"run: canvas must be a multiple of 4 that is >= {2 * CANVAS_CROP + 4},"
            f" got canvas={canvas!r}"
        )
    start_time = time.perf_counter()
    ds = data.load_digits() if dataset == "digits" else data.synthetic(256, 8, seed=seed)
    n_cls = int(ds.labels.max()) + 1
    tr, te = data.split(len(ds.images), 0.2, seed=seed)
    results: dict[str, Any] = {}
    fig_rows = []
    with blas_threads(threads):
        for kind in CLASSIFIERS:
            t0 = time.perf_counter()
            rng = seed_everything(seed)
            model = classifier(kind, classes=n_cls)
            curve = _train(
                model, ds.images[tr], ds.labels[tr], epochs, 3e-3, rng, kind, progress, stream
            )
            numbers, grads, dreams = _measure(model, ds, te, n_cls, steps, canvas)
            results[kind] = {
                "params": n_params(model),
                **numbers,
                "train_loss_per_epoch": curve,
                "seconds": time.perf_counter() - t0,
            }
            c = CANVAS_CROP
            fig_rows.append(
                (
                    kind,
                    grads,
                    dreams,
                    _cb(grads[:, None], c, PERIOD * PERIOD),
                    _cb(dreams[:, None], c, PERIOD * PERIOD),
                )
            )
    header = [
        "classifier",
        "test acc",
        "grad 8x8",
        "grad held-out",
        "grad canvas",
        "grad canvas p4",
        "dream 8x8",
        "dream canvas",
        "dream canvas p4",
        "p(target)",
    ]
    table = format_table(
        header,
        [
            [
                k,
                r["test_accuracy"],
                r["grad_checkerboard_grey"],
                r["grad_checkerboard_heldout"],
                r["grad_checkerboard_canvas"],
                r["grad_checkerboard_canvas_period4"],
                r["dream_checkerboard"],
                r["dream_checkerboard_canvas"],
                r["dream_checkerboard_canvas_period4"],
                r["dream_target_probability"],
            ]
            for k, r in results.items()
        ],
    )
    h, w = ds.images.shape[-2:]
    inner = canvas - 2 * CANVAS_CROP
    table += (
        f"\n\nCheckerboard index (period 2; 'p4': period 4), 0 = no grid, 1 = a pure grid. "
        f"'grad': d logit / d input at a grey image ({h}x{w}, or the {canvas}x{canvas} canvas "
        f"with a {CANVAS_CROP}-pixel border left out), or at the held-out digits (true class); "
        f"'dream': the input after {steps} steps of gradient ascent from grey. White noise "
        f"scores {3 / (h * w):.3f} ({h}x{w}), {3 / inner**2:.3f} / {15 / inner**2:.3f} "
        f"(canvas interior, period 2 / 4)."
    )
    metrics = {
        "dataset": ds.name,
        "n_train": len(tr),
        "n_test": len(te),
        "epochs": epochs,
        "steps": steps,
        "canvas": canvas,
        "canvas_crop": CANVAS_CROP,
        "seed": seed,
        "period": PERIOD,
        "noise_checkerboard": (PERIOD**2 - 1) / (h * w),
        "classifiers": results,
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.md").write_text(table + "\n")
    if figures:
        from .figures import dream_figure

        dream_figure(fig_rows, out / "dream", crop=CANVAS_CROP, period=PERIOD * PERIOD)
    arrays: dict[str, Any] = {}
    for kind, grads, dreams, _, _ in fig_rows:
        arrays[f"{kind}_grad"], arrays[f"{kind}_input"] = grads, dreams
    np.savez(out / "dream_arrays.npz", **arrays)
    metrics["seconds_total"] = time.perf_counter() - start_time
    write_json(out / "dream.json", metrics)
    return metrics, table
