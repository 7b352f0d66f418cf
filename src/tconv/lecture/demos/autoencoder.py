"""One small autoencoder, five up-sampling layers: trained with tconv and measured.

The lecture: "constructing deep generative architectures requires layers to
increase the signal dimension", and transposed convolutions "may create some
grid-structure artifacts". Here the same autoencoder (a strided-convolution
encoder) is trained with each of five decoders that differ only in their
up-sampling layer:

==================  =============================================================
``tconv_k3s2``      ``ConvTranspose2d(k=3, s=2, padding=1, output_padding=1)``
``tconv_k4s2``      ``ConvTranspose2d(k=4, s=2, padding=1)``
``resize_nearest``  nearest up-scaling x2, then ``Conv2d(k=3, padding='same')``
``resize_bilinear`` bilinear up-scaling x2, then ``Conv2d(k=3, padding='same')``
``subpixel_icnr``   ``Conv2d(k=3)`` to 4C channels + ``PixelShuffle(2)``, ICNR init
==================  =============================================================

Architecture (H = 8 for digits, 24 for faces; every layer float32)::

    encoder  Conv2d(1, W, 3, s=2, p=1) ReLU  Conv2d(W, L, 3, s=2, p=1) ReLU   H -> H/4
    decoder  Up(L, W) ReLU  Up(W, 1) Sigmoid                                 H/4 -> H

Measured, never set (see :func:`measure`): on the held-out images, the MSE of
the reconstructions; the mean :func:`tconv.artifacts.checkerboard_index`
(period 2) of the output images; the mean
:func:`tconv.artifacts.checkerboard_spectrum` (share of non-DC power at
Nyquist); and the checkerboard index of the decoder's answer to a *constant*
latent image (the per-channel mean latent of the held-out set, spread over a
12x12 grid; the 48x48 output's 8-pixel border cropped): the constant-input test
of Sugawara et al. on the whole decoder. Each is taken at initialisation and after training.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ... import artifacts, autograd, nn, optim
from ...functional import mse_loss
from ...nn.upsample import ResizeConv2d, SubPixelConv2d
from ..data import batches
from ._common import n_params, seed_everything
from .progress import Progress

__all__ = [
    "VARIANTS",
    "AutoEncoder",
    "VariantResult",
    "measure",
    "train_variant",
    "upsampler",
]

VARIANTS: dict[str, str] = {
    "tconv_k3s2": "ConvTranspose2d(k=3, s=2, p=1, output_padding=1)",
    "tconv_k4s2": "ConvTranspose2d(k=4, s=2, p=1)",
    "resize_nearest": "nearest x2 + Conv2d(k=3, 'same')",
    "resize_bilinear": "bilinear x2 + Conv2d(k=3, 'same')",
    "subpixel_icnr": "Conv2d(k=3) -> PixelShuffle(2), ICNR",
}
"""The compared up-sampling layers: name -> the decoder's up-sampler, in PyTorch's terms."""

PERIOD = 2  # the stride of every up-sampling layer: the period of its artifacts
CONSTANT_GRID = 12  # side of the constant latent image (output 4x larger)
CONSTANT_CROP = 8  # output border (pixels) left out: the reach of the zero padding


def upsampler(variant: str, in_channels: int, out_channels: int) -> nn.Module:
    """The x2 up-sampling layer of a variant (see :data:`VARIANTS`).

    >>> upsampler("tconv_k3s2", 2, 3)(np.ones((1, 2, 4, 4), np.float32)).shape
    (1, 3, 8, 8)
    """
    c_in, c_out = in_channels, out_channels
    if variant == "tconv_k3s2":
        return nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1)
    if variant == "tconv_k4s2":
        return nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1)
    if variant == "resize_nearest":
        return ResizeConv2d(c_in, c_out, 3, scale_factor=2, mode="nearest")
    if variant == "resize_bilinear":
        return ResizeConv2d(c_in, c_out, 3, scale_factor=2, mode="bilinear")
    if variant == "subpixel_icnr":
        return SubPixelConv2d(c_in, c_out, 3, upscale_factor=2, icnr=True)
    raise ValueError(f"upsampler: variant must be one of {' | '.join(VARIANTS)}, got {variant!r}")


class AutoEncoder(nn.Module):
    """Strided-convolution encoder (H -> H/4) and a decoder of two ``variant`` layers.

    ``width`` channels in the middle, ``latent`` channels in the code. H must be
    divisible by 4.

    >>> m = AutoEncoder("subpixel_icnr", width=4, latent=2)
    >>> m(np.zeros((3, 1, 8, 8), np.float32)).shape
    (3, 1, 8, 8)
    """

    def __init__(self, variant: str, *, width: int = 16, latent: int = 8) -> None:
        super().__init__()
        self.variant = variant
        self.encoder = nn.Sequential(
            nn.Conv2d(1, width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, latent, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.decoder = nn.Sequential(
            upsampler(variant, latent, width),
            nn.ReLU(),
            upsampler(variant, width, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: Any) -> Any:
        return self.decoder(self.encoder(x))


def _predict(module: nn.Module, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """``module(x)`` as an array, without recording, in batches."""
    with autograd.no_grad():
        parts = [
            autograd.unwrap(module(autograd.tensor(x[i : i + batch_size])))
            for i in range(0, len(x), batch_size)
        ]
    return np.concatenate(parts)


def _float64_copy(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` with float64 parameters (tconv's Module has no ``.double()``):
    float32 rounding (relative 1e-7) of a constant image must not read as a pattern."""
    dup = copy.deepcopy(module)
    for p in dup.parameters():
        p.data = p.data.astype(np.float64)
    return dup


def measure(model: AutoEncoder, images: np.ndarray) -> dict[str, Any]:
    """The metrics of ``model`` on ``images`` (N, 1, H, W), computed from its outputs.

    Returns ``mse`` (mean squared error of the reconstructions),
    ``checkerboard`` and ``spectral`` (means over the images of
    ``checkerboard_index`` and ``checkerboard_spectrum``, period 2, of the
    output images), ``checkerboard_constant`` (index of the decoder's output
    for a constant latent image: the per-channel mean code of ``images`` on a
    12x12 grid, border of 8 output pixels cropped, computed in float64), the
    ``constant_response`` itself and the ``outputs``.
    """
    out = _predict(model, images)
    codes = _predict(model.encoder, images)
    const = np.broadcast_to(
        codes.mean(axis=(0, 2, 3), dtype=np.float64)[None, :, None, None],
        (1, codes.shape[1], CONSTANT_GRID, CONSTANT_GRID),
    ).copy()
    c = CONSTANT_CROP
    response = _predict(_float64_copy(model.decoder), const)[0, 0, c:-c, c:-c]
    return {
        "mse": float(np.mean((out.astype(np.float64) - images) ** 2)),
        "checkerboard": float(np.mean(artifacts.checkerboard_index(out[:, 0], PERIOD))),
        "spectral": float(np.mean(artifacts.checkerboard_spectrum(out[:, 0], PERIOD))),
        "checkerboard_constant": float(artifacts.checkerboard_index(response, PERIOD)),
        "constant_response": response,
        "outputs": out,
    }


@dataclass
class VariantResult:
    """Everything one variant's run produced: metrics, curves, sample outputs, the model."""

    variant: str
    layer: str
    params: int
    init: dict[str, Any]
    trained: dict[str, Any]
    loss_curve: list[float] = field(default_factory=list)
    test_curve: list[float] = field(default_factory=list)
    seconds: float = 0.0
    model: AutoEncoder | None = None

    def metrics(self) -> dict[str, Any]:
        """The JSON-ready numbers of this variant."""
        return {
            "layer": self.layer,
            "params": self.params,
            "mse": self.trained["mse"],
            "mse_init": self.init["mse"],
            "checkerboard_init": self.init["checkerboard"],
            "checkerboard_trained": self.trained["checkerboard"],
            "spectral_init": self.init["spectral"],
            "spectral_trained": self.trained["spectral"],
            "checkerboard_constant_init": self.init["checkerboard_constant"],
            "checkerboard_constant_trained": self.trained["checkerboard_constant"],
            "train_loss_per_epoch": self.loss_curve,
            "test_mse_per_epoch": self.test_curve,
            "seconds": self.seconds,
        }


def train_variant(
    variant: str,
    train: np.ndarray,
    test: np.ndarray,
    *,
    epochs: int = 20,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    width: int = 16,
    latent: int = 8,
    progress: bool = True,
    stream: Any = None,
) -> VariantResult:
    """Build ``AutoEncoder(variant)`` from ``seed``, measure it, train it with Adam on
    ``train`` (MSE, shuffled mini-batches), measure it again on ``test``.

    Every variant built with the same seed starts from the same encoder weights
    and sees the same batches. ``test_curve[e]`` is the held-out MSE after ``e``
    epochs (``e = 0..epochs``); ``loss_curve[e]`` the mean training loss of epoch
    ``e + 1``.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"train_variant: epochs must be an int >= 0, got epochs={epochs!r}")
    for name, arr in (("train", train), ("test", test)):
        if arr.ndim != 4 or arr.shape[1] != 1 or arr.shape[2] % 4 or arr.shape[3] % 4:
            raise ValueError(
                f"train_variant: {name} must have shape (N, 1, H, W) with H and W divisible "
                f"by 4, got {arr.shape}"
            )
    rng = seed_everything(seed)
    model = AutoEncoder(variant, width=width, latent=latent)
    start = time.perf_counter()
    init = measure(model, test)
    opt = optim.Adam(model.parameters(), lr=lr)
    steps = max(1, epochs * -(-len(train) // batch_size))
    losses: list[float] = []
    test_curve = [init["mse"]]
    with Progress(steps, label=variant, stream=stream, enabled=progress) as bar:
        for epoch in range(1, epochs + 1):
            total, count = 0.0, 0
            for idx in batches(len(train), batch_size, rng):
                x = autograd.tensor(train[idx])
                opt.zero_grad()
                loss = mse_loss(model(x), x)
                loss.backward()
                opt.step()
                value = float(loss.item())
                total += value * len(idx)
                count += len(idx)
                bar.update(epoch=epoch, epochs=epochs, loss=value)
            losses.append(total / count)
            test_curve.append(float(np.mean((_predict(model, test) - test) ** 2)))
    trained = measure(model, test)
    return VariantResult(
        variant,
        VARIANTS[variant],
        n_params(model),
        init,
        trained,
        losses,
        test_curve,
        time.perf_counter() - start,
        model,
    )


def run_variants(
    variants: Sequence[str],
    train: np.ndarray,
    test: np.ndarray,
    **kwargs: Any,
) -> list[VariantResult]:
    """:func:`train_variant` for each name in ``variants``, in order."""
    for v in variants:
        if v not in VARIANTS:
            raise ValueError(
                f"run_variants: variants must be among {' | '.join(VARIANTS)}, got {v!r}"
            )
    return [train_variant(v, train, test, **kwargs) for v in variants]
