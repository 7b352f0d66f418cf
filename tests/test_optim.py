"""Optimisers: three steps on a conv loss give PyTorch's parameters."""

from __future__ import annotations

import numpy as np
import pytest

import tconv
from helpers import rel_err
from tconv import nn, optim

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
]


def _model(lib, **kw):
    return lib.Sequential(
        lib.ConvTranspose2d(3, 4, 4, stride=2, padding=1, **kw),
        lib.Tanh(),
        lib.Conv2d(4, 2, 3, padding=1, **kw),
    )


@pytest.mark.parametrize(("name", "kw"), CONFIGS)
def test_three_steps_match_torch(torch, name, kw):
    torch.manual_seed(0)
    ref = _model(torch.nn, dtype=torch.float64)
    ours = _model(nn, dtype=np.float64)
    ours.load_state_dict(ref.state_dict())
    opt = getattr(optim, name)(ours.parameters(), **kw)
    topt = getattr(torch.optim, name)(ref.parameters(), **kw)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.standard_normal((2, 3, 5, 5))
        target = rng.standard_normal((2, 2, 10, 10))
        opt.zero_grad()
        loss = tconv.functional.mse_loss(ours(x), target)
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss = torch.nn.functional.mse_loss(ref(torch.tensor(x)), torch.tensor(target))
        tloss.backward()
        topt.step()
        assert abs(loss.item() - tloss.item()) <= 1e-12 * abs(tloss.item())
    for (k, p), (_, tp) in zip(ours.named_parameters(), ref.named_parameters(), strict=True):
        assert rel_err(p.data, tp.detach().numpy()) <= 1e-10, k


def test_param_groups_skip_missing_grads_and_errors():
    a = nn.Parameter(np.ones(2))
    b = nn.Parameter(np.ones(2))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    a.grad = np.ones(2)
    opt.step()  # b has no grad: untouched
    np.testing.assert_allclose(a.data, 0.9)
    np.testing.assert_array_equal(b.data, 1.0)
    opt.zero_grad()
    assert a.grad is None
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="lr must be >= 0"):
        optim.SGD([a], lr=-1)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([a], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([a], betas=(1.0, 0.9))
