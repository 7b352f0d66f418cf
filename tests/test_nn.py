"""tconv.nn against torch.nn: names, shapes, init bounds, outputs with a PyTorch
state_dict loaded, gradients, train/eval, and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tconv
from helpers import rel_err
from tconv import nn

LAYERS = [
    ("Conv1d", (4, 6, 3), dict(stride=2, padding=1), (2, 4, 11)),
    ("Conv2d", (4, 6, (3, 2)), dict(padding="same", dilation=2, groups=2), (2, 4, 7, 6)),
    ("Conv2d", (3, 5, 3), dict(padding=2, padding_mode="reflect"), (2, 3, 6, 5)),
    ("Conv2d", (3, 5, 3), dict(padding=(1, 2), padding_mode="replicate", stride=2), (1, 3, 6, 5)),
    ("Conv2d", (2, 2, 3), dict(padding="same", padding_mode="circular", bias=False), (2, 6, 5)),
    (
        "Conv3d",
        (2, 4, 2),
        dict(stride=(1, 2, 1), padding=1, padding_mode="circular"),
        (1, 2, 3, 4, 3),
    ),
    ("ConvTranspose1d", (4, 6, 4), dict(stride=3, padding=1, output_padding=2), (2, 4, 5)),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, groups=2, dilation=2), (2, 4, 4, 5)),
    ("ConvTranspose3d", (2, 3, 3), dict(stride=2, bias=False), (1, 2, 2, 3, 2)),
    ("Linear", (5, 3), dict(), (2, 4, 5)),
]


def _pair(torch, name, args, kw):
    torch.manual_seed(0)
    ref = getattr(torch.nn, name)(*args, **kw).double()
    ours = getattr(nn, name)(*args, **kw, dtype=np.float64)
    return ours, ref


@pytest.mark.parametrize(("name", "args", "kw", "xs"), LAYERS)
def test_layer_matches_torch_after_loading_its_state_dict(torch, name, args, kw, xs):
    ours, ref = _pair(torch, name, args, kw)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in ref.state_dict().items()
    ]
    assert repr(ours) == repr(ref)
    ours.load_state_dict(ref.state_dict())
    x = np.random.default_rng(0).standard_normal(xs)
    X, tx = tconv.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(X), ref(tx)
    assert rel_err(y.data, ty.detach().numpy()) <= 1e-12
    gy = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(gy)
    ty.backward(torch.tensor(gy))
    assert rel_err(X.grad, tx.grad.numpy()) <= 1e-9
    for (k, p), (_, tp) in zip(ours.named_parameters(), ref.named_parameters(), strict=True):
        assert rel_err(p.grad, tp.grad.numpy()) <= 1e-9, k


@pytest.mark.parametrize(("name", "args", "kw", "xs"), LAYERS)
def test_default_init_bounds_as_torch(name, args, kw, xs):
    m = getattr(nn, name)(*args, **{k: v for k, v in kw.items()})
    w = m.weight.data
    assert w.dtype == np.float32
    fan_in = w.shape[1] * math.prod(w.shape[2:])  # transposed: C_out/groups * prod(k)
    bound = 1 / math.sqrt(fan_in)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.5 * bound
    if m.bias is not None:
        assert np.abs(m.bias.data).max() <= bound


def test_transposed_fan_in_reads_weight_size_1():
    nn.init.manual_seed(0)
    m = nn.ConvTranspose2d(64, 2, 3)  # fan_in = 2 * 9 = 18, not 64 * 9
    assert np.abs(m.weight.data).max() > 1 / math.sqrt(64 * 9)
    assert np.abs(m.weight.data).max() <= 1 / math.sqrt(18)


def test_conv_transpose_output_size(torch):
    ours, ref = _pair(torch, "ConvTranspose2d", (3, 2, 3), dict(stride=2, padding=1))
    ours.load_state_dict(ref.state_dict())
    x = np.random.default_rng(0).standard_normal((1, 3, 5, 6))
    for size in [(9, 11), (10, 12), [1, 2, 10, 11]]:
        y = ours(x, output_size=size)
        ty = ref(torch.tensor(x), output_size=size)
        assert rel_err(y.data, ty.detach().numpy()) <= 1e-12
    with pytest.raises(ValueError, match=r"output_size 13 is out of range.*reaches sizes 11 to 12"):
        ours(x, output_size=(10, 13))


def test_batchnorm_train_and_eval_match_torch(torch):
    for name, xs in (
        ("BatchNorm1d", (6, 3)),
        ("BatchNorm1d", (4, 3, 5)),
        ("BatchNorm2d", (4, 3, 2, 5)),
    ):
        for momentum in (0.1, None):
            ours = getattr(nn, name)(3, momentum=momentum, dtype=np.float64)
            ref = getattr(torch.nn, name)(3, momentum=momentum).double()
            with torch.no_grad():
                ref.weight.uniform_(0.5, 1.5)
                ref.bias.uniform_(-1, 1)
            ours.load_state_dict(ref.state_dict())
            rng = np.random.default_rng(2)
            for _ in range(2):  # two training steps update the running statistics
                x = rng.standard_normal(xs) * 2 + 1
                X, tx = tconv.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
                y, ty = ours(X), ref(tx)
                gy = rng.standard_normal(xs)
                y.backward(gy)
                ty.backward(torch.tensor(gy))
                assert rel_err(y.data, ty.detach().numpy()) <= 1e-12
                assert rel_err(X.grad, tx.grad.numpy()) <= 1e-9
                assert rel_err(ours.weight.grad, ref.weight.grad.numpy()) <= 1e-9
            for k, v in ref.state_dict().items():
                assert rel_err(ours.state_dict()[k], v.numpy()) <= 1e-12, k
            ours.eval(), ref.eval()
            x = rng.standard_normal(xs)
            assert rel_err(ours(x).data, ref(torch.tensor(x)).detach().numpy()) <= 1e-12
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(np.ones((1, 3)))
    with pytest.raises(ValueError, match="expected 4-D input"):
        nn.BatchNorm2d(3)(np.ones((2, 3, 4)))


def test_dropout_statistics_and_eval():
    nn.init.manual_seed(0)
    d = nn.Dropout(0.25)
    x = tconv.tensor(np.ones(20000), requires_grad=True)
    y = d(x)
    kept = y.data != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(y.data[kept], 1 / 0.75)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.data)  # gradient uses the same mask
    y = d.eval()(x)  # the identity, as a copy: results never alias inputs
    assert y is not x and not np.shares_memory(y.data, x.data)
    np.testing.assert_array_equal(y.data, x.data)
    with pytest.raises(ValueError, match="probability"):
        nn.Dropout(1.5)


def test_sequential_repr_names_and_modes(torch):
    def build(lib, **kw):
        return lib.Sequential(
            lib.ConvTranspose2d(8, 4, 4, stride=2, padding=1, **kw),
            lib.BatchNorm2d(4, **kw),
            lib.LeakyReLU(0.2),
            lib.Conv2d(4, 2, 3, padding=1, **kw),
            lib.Tanh(),
            lib.Flatten(),
            lib.Unflatten(1, (2, 64)),
            lib.Dropout(0.1),
        )

    ours, ref = build(nn, dtype=np.float64), build(torch.nn, dtype=torch.float64)
    assert repr(ours) == repr(ref)
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in ref.named_parameters()]
    assert len(list(ours.children())) == 8 and len(list(ours.modules())) == 9
    ours.load_state_dict(ref.state_dict())
    ours.eval(), ref.eval()
    assert not any(m.training for m in ours.modules())
    x = np.random.default_rng(0).standard_normal((2, 8, 4, 4))
    assert rel_err(ours(x).data, ref(torch.tensor(x)).detach().numpy()) <= 1e-12
    assert isinstance(ours[0], nn.ConvTranspose2d) and len(ours[1:3]) == 2
    ours.train()
    assert ours[1].training
    ours(x).sum().backward()
    assert ours[0].weight.grad is not None
    ours.zero_grad()
    assert all(p.grad is None for p in ours.parameters())


def test_load_state_dict_errors():
    m = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    sd = {k: v.copy() for k, v in m.state_dict().items()}
    with pytest.raises(KeyError, match=r"missing keys \['2.bias'\]"):
        m.load_state_dict({k: v for k, v in sd.items() if k != "2.bias"})
    with pytest.raises(KeyError, match=r"unexpected keys \['3.weight'\]"):
        m.load_state_dict({**sd, "3.weight": np.zeros(1)})
    with pytest.raises(ValueError, match=r"size mismatch for '0.weight'.*\(3, 2\).*\(2, 3\)"):
        m.load_state_dict({**sd, "0.weight": np.zeros((3, 2))})
    missing, unexpected = m.load_state_dict({"0.weight": np.ones((2, 3))}, strict=False)
    assert "0.bias" in missing and unexpected == []
    np.testing.assert_array_equal(m[0].weight.data, np.ones((2, 3)))


def test_constructor_errors():
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="padding_mode must be 'zeros' or 'circular'"):
        nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="output_padding must be smaller"):
        nn.ConvTranspose1d(1, 1, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="strided"):
        nn.Conv1d(1, 1, 3, stride=2, padding="same")


def test_module_registration():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(2, 2)
            self.scale = nn.Parameter(np.ones(2))
            self.register_buffer("count", np.zeros(()))

        def forward(self, x):
            return self.a(x) * self.scale

    net = Net()
    assert list(net.state_dict()) == ["scale", "count", "a.weight", "a.bias"]
    assert [n for n, _ in net.named_parameters()] == ["scale", "a.weight", "a.bias"]
    net.a = nn.Linear(2, 3)  # replacing a child re-registers it
    assert net.a.out_features == 3
    assert repr(net).startswith("Net(\n  (a): Linear(in_features=2, out_features=3")
