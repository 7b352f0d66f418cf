"""The autograd: every op's value and gradients against PyTorch's (float64), against
finite differences (tconv.gradcheck), and the tape's bookkeeping and errors."""

from __future__ import annotations

import numpy as np
import pytest

import tconv
import tconv.functional as F
from helpers import rel_err
from tconv.autograd import any_tensor, record, unwrap

# (name, tconv function, torch function (given the torch module), input shapes)
OPS = [
    ("add_broadcast", lambda a, b: a + b, lambda T, a, b: a + b, [(3, 1, 4), (2, 4)]),
    ("sub_scalar", lambda a: 2.5 - a, lambda T, a: 2.5 - a, [(3, 4)]),
    ("mul_broadcast", lambda a, b: a * b, lambda T, a, b: a * b, [(2, 3), (3,)]),
    ("div", lambda a, b: a / (b * b + 1), lambda T, a, b: a / (b * b + 1), [(2, 3), (2, 1)]),
    ("rdiv", lambda a: 1 / (a * a + 1), lambda T, a: 1 / (a * a + 1), [(4,)]),
    ("pow_scalar", lambda a: (a * a + 1) ** 1.5, lambda T, a: (a * a + 1) ** 1.5, [(3, 2)]),
    ("pow_tensor", lambda a, b: (a * a + 1) ** b, lambda T, a, b: (a * a + 1) ** b, [(3,), (3,)]),
    ("rpow", lambda a: 2.0**a, lambda T, a: 2.0**a, [(3,)]),
    ("neg", lambda a: -a, lambda T, a: -a, [(3,)]),
    ("matmul", lambda a, b: a @ b, lambda T, a, b: a @ b, [(2, 3, 4), (4, 5)]),
    ("matmul_vec", lambda a, b: a @ b, lambda T, a, b: a @ b, [(4,), (3, 4, 2)]),
    ("matvec", lambda a, b: a @ b, lambda T, a, b: a @ b, [(2, 3, 4), (4,)]),
    ("sum_axis", lambda a: a.sum(axis=1), lambda T, a: a.sum(dim=1), [(2, 3, 4)]),
    (
        "sum_keep",
        lambda a: a.sum(axis=(0, 2), keepdims=True),
        lambda T, a: a.sum(dim=(0, 2), keepdim=True),
        [(2, 3, 4)],
    ),
    ("mean", lambda a: a.mean(axis=-1), lambda T, a: a.mean(dim=-1), [(2, 5)]),
    ("mean_all", lambda a: a.mean(), lambda T, a: a.mean(), [(2, 5)]),
    ("max_axis", lambda a: a.max(axis=0), lambda T, a: a.amax(dim=0), [(4, 3)]),
    ("max_all", lambda a: a.max(), lambda T, a: a.max(), [(4, 3)]),
    (
        "min_keep",
        lambda a: a.min(axis=1, keepdims=True),
        lambda T, a: a.amin(dim=1, keepdim=True),
        [(4, 3)],
    ),
    ("reshape", lambda a: a.reshape(6, -1), lambda T, a: a.reshape(6, -1), [(2, 3, 4)]),
    ("flatten", lambda a: a.flatten(1), lambda T, a: a.flatten(1), [(2, 3, 4)]),
    ("transpose", lambda a: a.transpose(0, 2), lambda T, a: a.transpose(0, 2), [(2, 3, 4)]),
    ("permute", lambda a: a.permute(2, 0, 1), lambda T, a: a.permute(2, 0, 1), [(2, 3, 4)]),
    ("slice", lambda a: a[1:, ::2, None, -1], lambda T, a: a[1:, ::2, None, -1], [(3, 5, 2)]),
    ("fancy_index_repeats", lambda a: a[[0, 2, 0]], lambda T, a: a[[0, 2, 0]], [(3, 2)]),
    (
        "concatenate",
        lambda a, b: tconv.autograd.concatenate([a, b, a], axis=1),
        lambda T, a, b: T.cat([a, b, a], dim=1),
        [(2, 3), (2, 1)],
    ),
    (
        "stack",
        lambda a, b: tconv.autograd.stack([a, b], axis=1),
        lambda T, a, b: T.stack([a, b], dim=1),
        [(2, 3), (2, 3)],
    ),
    ("exp", lambda a: a.exp(), lambda T, a: a.exp(), [(3,)]),
    ("log", lambda a: (a * a + 0.5).log(), lambda T, a: (a * a + 0.5).log(), [(3,)]),
    ("sqrt", lambda a: (a * a + 0.5).sqrt(), lambda T, a: (a * a + 0.5).sqrt(), [(3,)]),
    ("abs", lambda a: abs(a), lambda T, a: a.abs(), [(5,)]),
    ("clip", lambda a: a.clip(-0.3, 0.4), lambda T, a: a.clamp(-0.3, 0.4), [(6,)]),
    ("relu", F.relu, lambda T, a: T.relu(a), [(7,)]),
    (
        "leaky_relu",
        lambda a: F.leaky_relu(a, 0.2),
        lambda T, a: T.nn.functional.leaky_relu(a, 0.2),
        [(7,)],
    ),
    ("sigmoid", F.sigmoid, lambda T, a: T.sigmoid(a), [(7,)]),
    ("sigmoid_large", lambda a: F.sigmoid(a * 40), lambda T, a: T.sigmoid(a * 40), [(7,)]),
    ("tanh", F.tanh, lambda T, a: T.tanh(a), [(7,)]),
    (
        "softplus",
        lambda a: F.softplus(a * 10, beta=2, threshold=5),
        lambda T, a: T.nn.functional.softplus(a * 10, beta=2, threshold=5),
        [(9,)],
    ),
    ("gelu", lambda a: F.gelu(a * 3), lambda T, a: T.nn.functional.gelu(a * 3), [(9,)]),
    (
        "gelu_tanh",
        lambda a: F.gelu(a * 3, approximate="tanh"),
        lambda T, a: T.nn.functional.gelu(a * 3, approximate="tanh"),
        [(9,)],
    ),
    ("softmax", lambda a: F.softmax(a, dim=1), lambda T, a: T.softmax(a, dim=1), [(2, 4)]),
    (
        "log_softmax",
        lambda a: F.log_softmax(a, dim=0),
        lambda T, a: T.log_softmax(a, dim=0),
        [(3, 2)],
    ),
    (
        "linear",
        F.linear,
        lambda T, a, b, c: T.nn.functional.linear(a, b, c),
        [(2, 3, 4), (5, 4), (5,)],
    ),
    (
        "pad_reflect",
        lambda a: F.pad(a, (2, 1, 1, 2), mode="reflect"),
        lambda T, a: T.nn.functional.pad(a, (2, 1, 1, 2), mode="reflect"),
        [(1, 2, 3, 4)],
    ),
    (
        "pad_replicate",
        lambda a: F.pad(a, (3, 1), mode="replicate"),
        lambda T, a: T.nn.functional.pad(a, (3, 1), mode="replicate"),
        [(1, 2, 3)],
    ),
    (
        "pad_circular",
        lambda a: F.pad(a, (2, 1, 1, 1), mode="circular"),
        lambda T, a: T.nn.functional.pad(a, (2, 1, 1, 1), mode="circular"),
        [(1, 1, 3, 4)],
    ),
    (
        "pad_constant",
        lambda a: F.pad(a, (1, 2), value=0.5),
        lambda T, a: T.nn.functional.pad(a, (1, 2), value=0.5),
        [(2, 3)],
    ),
]


def _inputs(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


@pytest.mark.parametrize(("name", "ours", "theirs", "shapes"), OPS, ids=[o[0] for o in OPS])
def test_op_value_and_gradients_match_torch(torch, name, ours, theirs, shapes):
    arrays = _inputs(shapes)
    ts = [tconv.tensor(a, requires_grad=True) for a in arrays]
    y = ours(*ts)
    gy = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(gy)
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    ty = theirs(torch, *tt)
    ty.backward(torch.tensor(gy))
    assert rel_err(y.data, ty.detach().numpy()) <= 1e-12
    for t, r in zip(ts, tt, strict=True):
        assert rel_err(t.grad, r.grad.numpy()) <= 1e-9, name


GRADCHECKED = [
    o
    for o in OPS
    if o[0]
    not in ("abs", "clip", "relu", "leaky_relu", "max_all", "max_axis", "min_keep", "softplus")
]


@pytest.mark.parametrize(
    ("name", "ours", "shapes"),
    [(o[0], o[1], o[3]) for o in GRADCHECKED],
    ids=[o[0] for o in GRADCHECKED],
)
def test_op_gradcheck(name, ours, shapes):
    ts = [tconv.tensor(a, requires_grad=True) for a in _inputs(shapes, seed=3)]
    assert tconv.gradcheck(ours, ts)


LOSSES = [
    ("mse", lambda x, t: F.mse_loss(x, t), lambda T, x, t: T.nn.functional.mse_loss(x, t)),
    (
        "mse_sum",
        lambda x, t: F.mse_loss(x, t, reduction="sum"),
        lambda T, x, t: T.nn.functional.mse_loss(x, t, reduction="sum"),
    ),
    (
        "l1_none",
        lambda x, t: F.l1_loss(x, t, reduction="none"),
        lambda T, x, t: T.nn.functional.l1_loss(x, t, reduction="none"),
    ),
    (
        "bce",
        lambda x, t: F.binary_cross_entropy(F.sigmoid(x), F.sigmoid(t)),
        lambda T, x, t: T.nn.functional.binary_cross_entropy(T.sigmoid(x), T.sigmoid(t)),
    ),
    (
        "bce_logits",
        lambda x, t: F.binary_cross_entropy_with_logits(x * 5, F.sigmoid(t)),
        lambda T, x, t: T.nn.functional.binary_cross_entropy_with_logits(x * 5, T.sigmoid(t)),
    ),
    (
        "bce_logits_pos_weight",
        lambda x, t: F.binary_cross_entropy_with_logits(
            x, F.sigmoid(t), pos_weight=np.arange(1.0, 5)
        ),
        lambda T, x, t: T.nn.functional.binary_cross_entropy_with_logits(
            x, T.sigmoid(t), pos_weight=T.arange(1.0, 5, dtype=T.float64)
        ),
    ),
    (
        "ce_probs",
        lambda x, t: F.cross_entropy(x, F.softmax(t, dim=1), label_smoothing=0.1),
        lambda T, x, t: T.nn.functional.cross_entropy(x, T.softmax(t, dim=1), label_smoothing=0.1),
    ),
]


@pytest.mark.parametrize(("name", "ours", "theirs"), LOSSES, ids=[c[0] for c in LOSSES])
def test_losses_match_torch(torch, name, ours, theirs):
    x, t = _inputs([(3, 4), (3, 4)], seed=5)
    X, Tt = tconv.tensor(x, requires_grad=True), tconv.tensor(t, requires_grad=True)
    y = ours(X, Tt)
    gy = np.ones(y.shape)
    y.backward(gy)
    tx, tt = torch.tensor(x, requires_grad=True), torch.tensor(t, requires_grad=True)
    ty = theirs(torch, tx, tt)
    ty.backward(torch.tensor(gy))
    assert rel_err(y.data, ty.detach().numpy()) <= 1e-12
    assert rel_err(X.grad, tx.grad.numpy()) <= 1e-9
    assert rel_err(Tt.grad, tt.grad.numpy()) <= 1e-9
    assert type(ours(x, t)) is np.ndarray  # arrays in, array out


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"reduction": "sum"},
        {"reduction": "none"},
        {"ignore_index": 2},
        {"weight": np.array([0.5, 2.0, 1.0, 3.0])},
        {"label_smoothing": 0.2},
        {"weight": np.array([0.5, 2.0, 1.0, 3.0]), "label_smoothing": 0.1, "ignore_index": 1},
    ],
)
def test_cross_entropy_class_indices_match_torch(torch, kw):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((5, 4, 3))
    t = rng.integers(0, 4, (5, 3))
    X = tconv.tensor(x, requires_grad=True)
    y = F.cross_entropy(X, t, **kw)
    y.backward(np.ones(y.shape))
    tkw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.cross_entropy(tx, torch.tensor(t), **tkw)
    ty.backward(torch.ones(ty.shape, dtype=torch.float64))
    assert rel_err(y.data, ty.detach().numpy()) <= 1e-12
    assert rel_err(X.grad, tx.grad.numpy()) <= 1e-9


def test_backward_accumulates_and_shared_subgraph():
    x = tconv.tensor([1.0, -2.0], requires_grad=True)
    y = x * x
    z = (y + y * 3).sum()  # y used twice
    z.backward()
    np.testing.assert_allclose(x.grad, 8 * x.data)
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad, 8 * x.data + 2)  # accumulated, as PyTorch


def test_deep_chain_needs_no_recursion():
    x = tconv.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0001**5000])


def test_no_grad_detach_and_leaves():
    x = tconv.tensor([1.0, 2.0], requires_grad=True)
    with tconv.no_grad():
        assert not tconv.is_grad_enabled()
        y = x * 3
    assert tconv.is_grad_enabled() and not y.requires_grad
    d = (x * 3).detach()
    assert not d.requires_grad and d.is_leaf
    z = x * 2 + tconv.tensor([1.0, 1.0])  # a constant Tensor gets no grad
    z.sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_backward_errors():
    x = tconv.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"only for a scalar output.*shape \(2, 3\)"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"grad must have the output's shape \(2, 3\)"):
        (x * 2).backward(np.ones(3))
    with pytest.raises(ValueError, match="does not require grad"):
        tconv.tensor([1.0]).backward()
    with pytest.raises(TypeError, match="floating point"):
        tconv.tensor([1, 2], requires_grad=True)


def test_operator_shape_errors():
    a, b = tconv.tensor(np.ones((2, 3))), tconv.tensor(np.ones((4,)))
    with pytest.raises(
        ValueError, match=r"operator \+: shapes \(2, 3\) and \(4,\) do not broadcast"
    ):
        a + b
    with pytest.raises(ValueError, match=r"operator @: shapes \(2, 3\) and \(4,\) do not match"):
        a @ b
    with pytest.raises(ValueError, match="cannot reshape"):
        a.reshape(4, 2)
    with pytest.raises(ValueError, match="linear: input's last dim"):
        F.linear(a, np.ones((5, 4)))
    with pytest.raises(ValueError, match="same shape"):
        F.mse_loss(a, np.ones((3, 2)))
    with pytest.raises(ValueError, match="class indices must lie in"):
        F.cross_entropy(np.ones((2, 3)), np.array([0, 3]))


def test_contract_helpers():
    t = tconv.tensor([1.0, 2.0], requires_grad=True)
    assert any_tensor(1, t) and not any_tensor(1, np.ones(2), None)
    assert unwrap(None) is None and unwrap(t) is t.data
    assert isinstance(unwrap([1, 2]), np.ndarray)
    # record: non-Tensor inputs are ignored, gradients are summed to each input's shape
    out = record(t.data[None, :] * np.ones((3, 1)), (t, np.ones(2)), lambda g: (g, g))
    out.backward(np.ones((3, 2)))
    np.testing.assert_array_equal(t.grad, [3.0, 3.0])
    assert not record(np.ones(2), (np.ones(2),), lambda g: (g,)).requires_grad


def test_tensor_basics():
    t = tconv.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.dtype == np.float64 and t.numel() == 6
    assert t.numpy() is t.data and np.asarray(t) is t.data
    assert "requires_grad=True" in repr(t)
    assert isinstance(np.ones(3) * tconv.tensor([1.0, 2.0, 3.0]), tconv.Tensor)
    src = np.zeros(2)
    assert tconv.tensor(src).data is not src  # tensor() copies, as torch.tensor


def test_tensor_methods_are_the_functional_activations():
    # one primitive each: F.relu/sigmoid/tanh are autograd's, which the methods call
    a = np.random.default_rng(2).standard_normal(5)
    for name in ("relu", "sigmoid", "tanh"):
        assert getattr(F, name) is getattr(tconv.autograd, name)
        x1, x2 = tconv.tensor(a, requires_grad=True), tconv.tensor(a, requires_grad=True)
        y1, y2 = getattr(x1, name)(), getattr(F, name)(x2)
        np.testing.assert_array_equal(y1.data, y2.data)
        y1.sum().backward()
        y2.sum().backward()
        np.testing.assert_array_equal(x1.grad, x2.grad)
        assert type(getattr(F, name)(a)) is np.ndarray


def test_autograd_holds_no_losses_or_layers():
    # they live in tconv.functional, above the autograd
    for name in ("mse_loss", "cross_entropy", "linear", "softmax", "gelu", "leaky_relu"):
        assert not hasattr(tconv.autograd, name) and hasattr(F, name)


def test_a_leafs_gradient_is_its_own_array():
    """backward hands a leaf an unshared gradient without copying it (as PyTorch steals
    one) and copies every other: two leaves given the same gradient, the caller's
    ``grad=`` array (a leaf's own backward too), a view into a larger array. No leaf's
    ``.grad`` then shares memory with another's or the caller's, and writing into one
    changes nothing else."""
    a, b = (tconv.tensor(np.ones(3), requires_grad=True) for _ in range(2))
    g = np.arange(3.0)
    (a + b).backward(g)  # add's VJP returns the same array for both
    assert not np.shares_memory(a.grad, b.grad) and not np.shares_memory(a.grad, g)
    a.grad[0] = 100.0
    np.testing.assert_array_equal(b.grad, [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(g, [0.0, 1.0, 2.0])
    c = tconv.tensor(np.ones(3), requires_grad=True)
    c.backward(g)  # the caller's array reaches the leaf itself
    assert not np.shares_memory(c.grad, g)
    big = np.arange(10.0)
    d = tconv.tensor(np.ones(5), requires_grad=True)
    record(np.ones(5), (d,), lambda gy: (big[:5],)).backward(np.ones(5))
    assert not np.shares_memory(d.grad, big)
    d.grad[0] = -1.0
    assert big[0] == 0.0
    made = {}

    def fresh(gy: np.ndarray) -> tuple[np.ndarray]:
        made["grad"] = gy * 3.0
        return (made.pop("grad"),)  # a new array nothing else holds

    e = tconv.tensor(np.ones(4), requires_grad=True)
    record(np.ones(4), (e,), fresh).backward(np.ones(4))
    np.testing.assert_array_equal(e.grad, np.full(4, 3.0))
    saved = np.full(4, 7.0)  # an array the VJP keeps (in its closure) and returns
    f = tconv.tensor(np.ones(4), requires_grad=True)
    record(np.ones(4), (f,), lambda gy: (saved,)).backward(np.ones(4))
    assert not np.shares_memory(f.grad, saved)
    x = tconv.tensor(np.ones((2, 3, 5, 5)), requires_grad=True)
    w = tconv.tensor(np.ones((3, 2, 4, 4)), requires_grad=True)
    gy = np.ones((2, 2, 10, 10))
    F.conv_transpose2d(x, w, stride=2, padding=1).backward(gy)
    for t in (x, w):
        assert not np.shares_memory(t.grad, gy) and t.grad.flags.writeable
    assert not np.shares_memory(x.grad, w.grad)
