"""Weights in and out: .npz and .safetensors round trips, PyTorch state_dicts."""

from __future__ import annotations

import numpy as np
import pytest

import tconv
from helpers import rel_err
from tconv import nn


def _model(lib, **kw):
    return lib.Sequential(
        lib.ConvTranspose2d(4, 3, 4, stride=2, padding=1, **kw),
        lib.BatchNorm2d(3, **kw),
        lib.ReLU(),
        lib.Conv2d(3, 2, 3, **kw),
    )


@pytest.mark.parametrize("ext", [".npz", ".safetensors"])
def test_round_trip(tmp_path, ext):
    if ext == ".safetensors":
        pytest.importorskip("safetensors")
    a, b = _model(nn), _model(nn)
    a[1].running_mean[...] = np.arange(3)
    path = tmp_path / f"w{ext}"
    tconv.save(a, path)
    loaded = tconv.load(path)
    assert list(loaded) == list(a.state_dict()) or sorted(loaded) == sorted(a.state_dict())
    b.load_state_dict(loaded)
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k], v)
        assert b.state_dict()[k].dtype == v.dtype


def test_torch_state_dict_runs_unchanged(torch, tmp_path):
    torch.manual_seed(0)
    ref = _model(torch.nn).double().eval()
    with torch.no_grad():
        ref[1].running_mean.uniform_(-1, 1)
        ref[1].running_var.uniform_(0.5, 2)
    path = tmp_path / "torch.npz"
    np.savez(path, **{k: v.numpy() for k, v in ref.state_dict().items()})
    ours = _model(nn, dtype=np.float64).eval()
    ours.load_state_dict(tconv.load(path))
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 5))
    assert rel_err(ours(x).data, ref(torch.tensor(x)).detach().numpy()) <= 1e-12
    ours.load_state_dict(ref.state_dict())  # torch tensors load directly too


def test_bad_paths_and_objects(tmp_path):
    with pytest.raises(ValueError, match=r"\.npz or \.safetensors"):
        tconv.save(nn.Linear(2, 2), tmp_path / "w.pt")
    with pytest.raises(TypeError, match="Module or a mapping"):
        tconv.save(42, tmp_path / "w.npz")
