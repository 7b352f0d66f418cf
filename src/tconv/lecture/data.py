"""Small image data sets that ship inside installed packages, as float arrays in [0, 1].

Nothing is downloaded: the images come with the packages of the ``demo`` extra
(``pip install -e ".[demo]"``):

* :func:`load_digits`: scikit-learn's 1,797 handwritten digits, 8x8, grey
  levels 0..16 divided by 16, labels 0..9;
* :func:`load_faces`: scikit-image's ``data.lfw_subset()``, 200 images of
  25x25 (100 faces, then 100 non-face patches from the same photos), labels
  1 (face) and 0; centre-cropped or zero-padded to ``size`` (default 24, so that
  two stride-2 layers divide it: 24 -> 12 -> 6);
* :func:`synthetic`: random strokes and blobs of any size, for tests and quick
  runs without the extra.

Every loader returns a :class:`Dataset` whose ``images`` have shape
(N, 1, H, W) (NCHW, one channel) and dtype float32 by default. :func:`split`
and :func:`batches` give reproducible train/test indices and mini-batches.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "DATASETS",
    "INSTALL_HINT",
    "Dataset",
    "as_images",
    "batches",
    "fit_size",
    "load",
    "load_digits",
    "load_faces",
    "split",
    "synthetic",
]

INSTALL_HINT = 'pip install -e ".[demo]"  (or: pip install "tconv[demo]")'
"""The command that installs the ``demo`` extra, named in the error when scikit-learn or
scikit-image is missing."""


class Dataset(NamedTuple):
    """Images (N, 1, H, W) in [0, 1], integer labels (N,), a name and a one-line source."""

    images: np.ndarray
    labels: np.ndarray
    name: str
    source: str


def _require(module: str, package: str, fn: str) -> Any:
    """Import ``module`` or raise an ImportError that names the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"tconv.data.{fn} needs {package}, which is not installed; install the demo "
            f"extra: {INSTALL_HINT}"
        ) from exc


def _float_dtype(dtype: Any, fn: str) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"{fn}: dtype must be float32 or float64, got dtype={dt}")
    return dt


def as_images(array: Any, *, dtype: Any = np.float32, fn: str = "as_images") -> np.ndarray:
    """Validate images and return them as (N, 1, H, W) floats in [0, 1].

    Accepts (N, H, W) or (N, 1, H, W) with values already in [0, 1] (an error
    otherwise: rescale first, the loaders divide by the known maximum).

    >>> as_images(np.ones((2, 3, 3))).shape, as_images(np.ones((2, 3, 3))).dtype
    ((2, 1, 3, 3), dtype('float32'))
    """
    dt = _float_dtype(dtype, fn)
    x = np.asarray(array)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(
            f"{fn}: images must have shape (N, H, W) or (N, 1, H, W), got shape {x.shape}"
        )
    if x.size == 0:
        raise ValueError(f"{fn}: images must not be empty, got shape {x.shape}")
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: images must be numeric, got dtype {x.dtype}")
    lo, hi = float(x.min()), float(x.max())
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"{fn}: image values must lie in [0, 1], got min={lo:g}, max={hi:g}; rescale first"
        )
    return np.ascontiguousarray(x, dtype=dt)


def fit_size(images: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop or zero-pad the last two axes to ``size x size``.

    Cropping removes ``(H - size) // 2`` rows at the top and the rest at the
    bottom (25 -> 24 drops the last row); padding adds ``(size - H) // 2`` zero
    rows at the top and the rest at the bottom. The same for columns.

    >>> fit_size(np.arange(25.0).reshape(1, 1, 5, 5), 4)[0, 0, :, 0]
    array([ 0.,  5., 10., 15.])
    >>> fit_size(np.ones((1, 1, 2, 2)), 4)[0, 0]
    array([[0., 0., 0., 0.],
           [0., 1., 1., 0.],
           [0., 1., 1., 0.],
           [0., 0., 0., 0.]])
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"fit_size: size must be a positive int, got size={size!r}")
    x = np.asarray(images)
    if x.ndim < 2:
        raise ValueError(f"fit_size: images need at least 2 axes (H, W), got shape {x.shape}")
    for axis in (-2, -1):
        n = x.shape[axis]
        if n > size:
            start = (n - size) // 2
            x = np.take(x, np.arange(start, start + size), axis=axis)
        elif n < size:
            widths = [(0, 0)] * x.ndim
            before = (size - n) // 2
            widths[axis] = (before, size - n - before)
            x = np.pad(x, widths)
    return x


def load_digits(*, dtype: Any = np.float32) -> Dataset:
    """scikit-learn's handwritten digits: 1,797 images (N, 1, 8, 8) in [0, 1], labels 0..9.

    The grey levels 0..16 are divided by 16. Needs scikit-learn (the ``demo`` extra).
    """
    dt = _float_dtype(dtype, "load_digits")
    datasets = _require("sklearn.datasets", "scikit-learn", "load_digits")
    bunch = datasets.load_digits()
    images = as_images(np.asarray(bunch.images) / 16.0, dtype=dt, fn="load_digits")
    labels = np.asarray(bunch.target, dtype=np.int64)
    return Dataset(images, labels, "digits", "sklearn.datasets.load_digits (UCI ML digits)")


def load_faces(*, size: int = 24, dtype: Any = np.float32) -> Dataset:
    """scikit-image's ``data.lfw_subset()``: 200 images (N, 1, size, size) in [0, 1].

    The first 100 are faces (label 1), the next 100 non-face patches (label 0).
    The 25x25 originals are centre-cropped or zero-padded to ``size`` (see
    :func:`fit_size`; the default 24 drops the last row and column). Needs
    scikit-image (the ``demo`` extra).
    """
    dt = _float_dtype(dtype, "load_faces")
    skdata = _require("skimage.data", "scikit-image", "load_faces")
    raw = np.asarray(skdata.lfw_subset(), dtype=np.float64)
    if raw.max() > 1.0:  # uint8 in some versions of scikit-image
        raw = raw / 255.0
    images = as_images(fit_size(raw, size), dtype=dt, fn="load_faces")
    labels = np.repeat(np.array([1, 0], dtype=np.int64), [100, len(raw) - 100])
    return Dataset(images, labels, "faces", f"skimage.data.lfw_subset (LFW), 25x25 -> {size}")


def synthetic(n: int = 64, size: int = 8, *, seed: int = 0, dtype: Any = np.float32) -> Dataset:
    """``n`` random images (N, 1, size, size) in [0, 1]: a smooth blob plus a bright stroke.

    Labels are the stroke's orientation (0 horizontal, 1 vertical). Smooth on
    purpose: they carry almost no period-2 pattern, so any checkerboard in a
    model's output is the model's.

    >>> d = synthetic(4, 8, seed=1)
    >>> d.images.shape, float(d.images.min()) >= 0, float(d.images.max()) <= 1
    ((4, 1, 8, 8), True, True)
    """
    for name, v in (("n", n), ("size", size)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"synthetic: {name} must be a positive int, got {name}={v!r}")
    dt = _float_dtype(dtype, "synthetic")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    cy, cx = rng.uniform(0.2, 0.8, (2, n, 1, 1)) * (size - 1)
    sigma = rng.uniform(0.15, 0.35, (n, 1, 1)) * size
    blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2))
    labels = rng.integers(0, 2, n)
    pos = rng.uniform(0.2, 0.8, (n, 1, 1)) * (size - 1)
    coord = np.where(labels[:, None, None] == 0, yy, xx)
    stroke = np.exp(-((coord - pos) ** 2) / (2 * (0.08 * size + 0.3) ** 2))
    images = np.clip(0.6 * blob + 0.5 * stroke, 0.0, 1.0)
    return Dataset(
        as_images(images, dtype=dt, fn="synthetic"),
        labels.astype(np.int64),
        "synthetic",
        f"tconv.data.synthetic(seed={seed})",
    )


DATASETS = ("digits", "faces", "synthetic")
"""The names ``load`` accepts."""


def load(name: str, *, dtype: Any = np.float32, **kwargs: Any) -> Dataset:
    """Load a data set by name: ``'digits'``, ``'faces'`` or ``'synthetic'``.

    >>> load("synthetic", n=3).images.shape
    (3, 1, 8, 8)
    """
    loaders = {"digits": load_digits, "faces": load_faces, "synthetic": synthetic}
    if name not in loaders:
        raise ValueError(f"load: name must be one of {' | '.join(DATASETS)}, got {name!r}")
    result: Dataset = loaders[name](dtype=dtype, **kwargs)
    return result


def split(n: int, test_fraction: float = 0.2, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled ``(train, test)`` index arrays of ``range(n)``; at least one of each.

    >>> train, test = split(10, 0.3, seed=0)
    >>> len(train), len(test), sorted(np.concatenate([train, test])) == list(range(10))
    (7, 3, True)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"split: n must be an int >= 2 (one train and one test item), got n={n}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"split: test_fraction must lie in (0, 1), got {test_fraction}")
    order = np.random.default_rng(seed).permutation(n)
    n_test = min(n - 1, max(1, round(n * test_fraction)))
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def batches(
    n: int, batch_size: int, rng: np.random.Generator | None = None
) -> Iterator[np.ndarray]:
    """Index arrays covering ``range(n)`` in batches of ``batch_size`` (the last may be
    smaller), in the order of ``rng.permutation`` or in order when ``rng`` is None.

    >>> [b.tolist() for b in batches(5, 2)]
    [[0, 1], [2, 3], [4]]
    """
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        raise ValueError(f"batches: batch_size must be a positive int, got {batch_size!r}")
    order = np.arange(n) if rng is None else rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]
