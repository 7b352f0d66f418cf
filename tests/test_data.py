"""tconv.data: loaders of packaged data sets, validation, splits and batches."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from tconv import data


def test_as_images_adds_the_channel_axis_and_keeps_values(rng) -> None:
    x = rng.random((3, 5, 6))
    out = data.as_images(x)
    assert out.shape == (3, 1, 5, 6) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], x, rtol=1e-6)
    assert data.as_images(x[:, None], dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.full((2, 3, 3), 2.0), r"\[0, 1\].*max=2"),
        (np.full((2, 3, 3), -0.5), r"min=-0.5"),
        (np.zeros((2, 3, 3, 3)), r"\(N, H, W\) or \(N, 1, H, W\)"),
        (np.zeros((3, 3)), r"shape \(3, 3\)"),
        (np.zeros((0, 3, 3)), "empty"),
    ],
)
def test_as_images_rejects_bad_images(array, match) -> None:
    with pytest.raises(ValueError, match=match):
        data.as_images(array)


def test_as_images_rejects_integer_dtype_request() -> None:
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        data.as_images(np.zeros((1, 2, 2)), dtype=np.int32)


def test_fit_size_crops_centre_and_pads_with_zeros() -> None:
    x = np.arange(2 * 25 * 25, dtype=float).reshape(2, 1, 25, 25)
    np.testing.assert_array_equal(data.fit_size(x, 24), x[..., :24, :24])
    np.testing.assert_array_equal(data.fit_size(x, 21), x[..., 2:23, 2:23])
    padded = data.fit_size(np.ones((1, 1, 3, 3)), 6)
    assert padded.shape == (1, 1, 6, 6)
    assert padded.sum() == 9 and padded[0, 0, 1:4, 1:4].sum() == 9
    with pytest.raises(ValueError, match="size must be a positive int"):
        data.fit_size(x, 0)


def test_synthetic_is_reproducible_and_in_range() -> None:
    a, b, c = data.synthetic(16, 12, seed=3), data.synthetic(16, 12, seed=3), data.synthetic(16, 12)
    assert a.images.shape == (16, 1, 12, 12) and a.images.dtype == np.float32
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)
    assert 0.0 <= a.images.min() and a.images.max() <= 1.0
    assert set(np.unique(a.labels)) <= {0, 1}
    with pytest.raises(ValueError, match="n must be a positive int"):
        data.synthetic(0)


def test_split_is_a_reproducible_partition() -> None:
    train, test = data.split(100, 0.25, seed=1)
    assert len(test) == 25 and len(train) == 75
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(100))
    again = data.split(100, 0.25, seed=1)
    assert np.array_equal(train, again[0]) and np.array_equal(test, again[1])
    assert not np.array_equal(test, data.split(100, 0.25, seed=2)[1])
    with pytest.raises(ValueError, match="test_fraction"):
        data.split(10, 1.0)
    with pytest.raises(ValueError, match="n must be an int >= 2"):
        data.split(1)


def test_batches_cover_every_index_once(rng) -> None:
    seen = np.concatenate(list(data.batches(10, 3, rng)))
    assert sorted(seen.tolist()) == list(range(10))
    assert [len(b) for b in data.batches(10, 4)] == [4, 4, 2]
    with pytest.raises(ValueError, match="batch_size"):
        list(data.batches(10, 0))


def test_load_by_name_and_unknown_name() -> None:
    assert data.load("synthetic", n=5, size=4).images.shape == (5, 1, 4, 4)
    with pytest.raises(ValueError, match=r"digits \| faces \| synthetic"):
        data.load("mnist")


def test_load_digits_matches_scikit_learn() -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    ds = data.load_digits()
    ref = datasets.load_digits()
    assert ds.images.shape == (1797, 1, 8, 8) and ds.images.dtype == np.float32
    assert ds.images.min() == 0.0 and ds.images.max() == 1.0
    np.testing.assert_allclose(ds.images[:, 0] * 16, ref.images, atol=1e-5)
    assert np.array_equal(ds.labels, ref.target)


def test_load_faces_crops_to_24() -> None:
    skdata = pytest.importorskip("skimage.data")
    ds = data.load_faces()
    raw = np.asarray(skdata.lfw_subset(), dtype=float)
    raw = raw / 255.0 if raw.max() > 1 else raw
    assert ds.images.shape == (200, 1, 24, 24) and ds.images.dtype == np.float32
    np.testing.assert_allclose(ds.images[:, 0], raw[:, :24, :24], atol=1e-6)
    assert ds.labels[:100].tolist() == [1] * 100 and ds.labels[100:].tolist() == [0] * 100
    assert data.load_faces(size=32).images.shape == (200, 1, 32, 32)


@pytest.mark.parametrize(
    ("loader", "module", "package"),
    [
        (data.load_digits, "sklearn.datasets", "scikit-learn"),
        (data.load_faces, "skimage.data", "scikit-image"),
    ],
)
def test_missing_package_names_the_extra(monkeypatch, loader, module, package) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(ImportError, match=rf"{package}.*pip install -e \"\.\[demo\]\""):
        loader()
