"""``Module.double()``, ``.float()``, ``.to(dtype)`` and ``.type(dtype)``.

They cast parameters (and their gradients) and floating buffers in place,
keeping the Parameter objects (an optimiser built before still updates them),
and return the module; a converted model computes in the new dtype and matches
PyTorch's converted model.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tconv
from helpers import rel_err
from tconv import nn, optim


def _model() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.BatchNorm2d(3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(3, 4, 3),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 2),
    )


def test_double_gives_float64_outputs_and_state(rng) -> None:
    model = _model()
    x = rng.standard_normal((2, 1, 8, 8))
    assert model(x.astype(np.float32)).dtype == np.float32
    assert model.double() is model
    state = model.state_dict()
    for key, value in state.items():
        want = np.int64 if key.endswith("num_batches_tracked") else np.float64
        assert isinstance(value, np.ndarray) and value.dtype == want, key
    xt = tconv.tensor(x, requires_grad=True)
    out = model(xt)
    assert out.dtype == np.float64
    out.sum().backward()
    assert xt.grad.dtype == np.float64
    assert all(p.grad.dtype == np.float64 for p in model.parameters())
    assert model.float() is model
    assert all(v.dtype == np.float32 for k, v in model.state_dict().items() if "num_b" not in k)
    assert model(x.astype(np.float32)).dtype == np.float32


def test_parameters_are_kept_so_optimisers_still_work(rng) -> None:
    model = _model()
    params = list(model.parameters())
    opt = optim.SGD(model.parameters(), lr=0.1)
    model.double()
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    before = [p.data.copy() for p in params]
    opt.zero_grad()
    model(rng.standard_normal((2, 1, 8, 8))).sum().backward()
    opt.step()
    for p, b in zip(params, before, strict=True):
        assert p.data.dtype == np.float64 and p.grad.dtype == np.float64
        np.testing.assert_allclose(p.data, b - 0.1 * p.grad, rtol=1e-12, atol=1e-15)
    assert not np.array_equal(params[0].data, before[0])


def test_gradients_are_cast_too(rng) -> None:
    lin = nn.Linear(3, 2)
    lin(tconv.tensor(rng.standard_normal((4, 3)).astype(np.float32))).sum().backward()
    assert lin.weight.grad.dtype == np.float32
    lin.double()
    assert lin.weight.grad.dtype == np.float64 and lin.bias.grad.dtype == np.float64


def test_converted_model_matches_torch(torch, rng) -> None:
    ours = _model()
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(1, 3, 3, padding=1),
        torch.nn.BatchNorm2d(3),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4, 2),
    )
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})
    ours.double().eval()
    theirs.double().eval()
    for k, v in theirs.state_dict().items():
        assert str(v.dtype).rpartition(".")[2] == str(ours.state_dict()[k].dtype), k
    x = rng.standard_normal((3, 1, 9, 9))
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = theirs(xt)
    xx = tconv.tensor(x, requires_grad=True)
    y = ours(xx)
    assert rel_err(y.data, yt.detach().numpy()) <= 1e-10
    y.sum().backward()
    yt.sum().backward()
    assert rel_err(xx.grad, xt.grad.numpy()) <= 1e-9


@pytest.mark.parametrize(
    ("args", "kwargs", "want"),
    [
        ((np.float64,), {}, np.float64),
        ((np.dtype("float64"),), {}, np.float64),
        (("float64",), {}, np.float64),
        (("float32",), {}, np.float32),
        (("double",), {}, np.float64),
        ((), {"dtype": np.float64}, np.float64),
        (("cpu", np.float64), {}, np.float64),
        (("cpu",), {}, np.float32),
        ((), {"device": "cpu"}, np.float32),
        ((), {}, np.float32),
    ],
)
def test_to_accepts_numpy_dtypes_names_and_cpu(args, kwargs, want) -> None:
    model = _model()
    assert model.to(*args, **kwargs) is model
    assert model[0].weight.dtype == want and model[1].running_var.dtype == want
    assert model[1].num_batches_tracked.dtype == np.int64


def test_to_rejects_torch_dtypes_and_non_floats(torch) -> None:
    model = _model()
    with pytest.raises(TypeError, match=r"Module\.to: dtype must be a NumPy dtype.*np\.float64"):
        model.to(torch.float64)
    with pytest.raises(TypeError, match="PyTorch object"):
        model.to(dtype=torch.float32)
    with pytest.raises(TypeError, match=r"only floating point dtypes.*int64"):
        model.to(np.int64)
    with pytest.raises(TypeError, match="NumPy dtype"):
        model.to("not-a-dtype")
    with pytest.raises(ValueError, match="device must be 'cpu', got 'cuda'"):
        model.to("cuda")
    with pytest.raises(TypeError, match="dtype given twice"):
        model.to(np.float32, np.float64)
    with pytest.raises(TypeError, match=r"Module\.type: dtype must be"):
        model.type(None)
    assert model[0].weight.dtype == np.float32  # nothing was cast
    assert model.to(torch.device("cpu")) is model


def test_type_casts_every_buffer() -> None:
    model = _model().type(np.float64)
    assert model[1].num_batches_tracked.dtype == np.float64
    assert model[0].weight.dtype == np.float64


@settings(max_examples=25)
@given(st.lists(st.sampled_from(["double", "float", "float32", "float64"]), max_size=5))
def test_any_sequence_of_moves_ends_in_the_last_dtype(moves) -> None:
    model = _model()
    weight = model[0].weight
    want = np.dtype(np.float32)
    for move in moves:
        if move in ("double", "float"):
            getattr(model, move)()
            want = np.dtype(np.float64 if move == "double" else np.float32)
        else:
            model.to(move)
            want = np.dtype(move)
    assert model[0].weight is weight
    assert {v.dtype for k, v in model.state_dict().items() if "num_b" not in k} == {want}
    x = np.zeros((1, 1, 6, 6), dtype=want)
    assert model(x).dtype == want
