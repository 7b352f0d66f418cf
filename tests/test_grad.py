"""Gradients of conv and conv_transpose: against PyTorch's autograd, against finite
differences (tconv.gradcheck, no PyTorch), and the lecture's identities (against the
explicit matrix of tconv.matrix, which is built from the definition, not the kernels)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tconv
import tconv.functional as F
from helpers import rel_err
from strategies import configs
from tconv import grad as G
from tconv.matrix import conv_matrix, conv_transpose_matrix


def _op(cfg):
    return getattr(F, f"conv_transpose{cfg.nd}d" if cfg.transposed else f"conv{cfg.nd}d")


def _run_tconv(cfg, x, w, b, gy=None):
    X, W = tconv.tensor(x, requires_grad=True), tconv.tensor(w, requires_grad=True)
    B = None if b is None else tconv.tensor(b, requires_grad=True)
    y = _op(cfg)(X, W, B, **cfg.kwargs())
    assert isinstance(y, tconv.Tensor) and y.requires_grad
    y.backward(gy)
    return y, X, W, B


@settings(max_examples=60)
@given(cfg=st.one_of(configs(transposed=False), configs(transposed=True)))
def test_gradients_match_torch(torch, cfg):
    x, w, b = cfg.arrays()
    y0 = _op(cfg)(x, w, b, **cfg.kwargs())
    gy = np.random.default_rng(cfg.seed + 1).standard_normal(y0.shape)
    y, X, W, B = _run_tconv(cfg, x, w, b, gy)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    tf = getattr(torch.nn.functional, _op(cfg).__name__)
    ty = tf(tx, tw, tb, **cfg.kwargs())
    ty.backward(torch.tensor(gy))
    assert rel_err(y.data, ty.detach().numpy()) <= 1e-12
    assert rel_err(X.grad, tx.grad.numpy()) <= 1e-9
    assert rel_err(W.grad, tw.grad.numpy()) <= 1e-9
    if b is not None:
        assert rel_err(B.grad, tb.grad.numpy()) <= 1e-9


GRADCHECK_CASES = [
    # (op, input shape, weight shape, bias, kwargs)
    ("conv1d", (2, 2, 7), (3, 2, 3), True, dict(stride=2, padding=1)),
    ("conv1d", (1, 4, 6), (4, 2, 2), True, dict(dilation=2, groups=2, padding="same")),
    ("conv2d", (1, 2, 5, 4), (2, 1, 2, 3), True, dict(stride=(2, 1), padding=(1, 0), groups=2)),
    ("conv3d", (1, 1, 3, 3, 3), (2, 1, 2, 2, 2), False, dict(stride=2, padding=1)),
    ("conv_transpose1d", (2, 2, 4), (2, 3, 3), True, dict(stride=2, padding=1, output_padding=1)),
    ("conv_transpose1d", (4, 3), (4, 1, 2), True, dict(groups=2, dilation=3, output_padding=2)),
    ("conv_transpose2d", (1, 2, 3, 2), (2, 2, 3, 2), True, dict(stride=(2, 3), padding=(1, 0))),
    ("conv_transpose3d", (1, 2, 2, 2, 2), (2, 1, 2, 2, 2), True, dict(stride=2, groups=2)),
]


@pytest.mark.parametrize(("name", "xs", "ws", "bias", "kw"), GRADCHECK_CASES)
def test_gradcheck_without_torch(name, xs, ws, bias, kw):
    rng = np.random.default_rng(len(name) + sum(xs))
    args = [tconv.tensor(rng.standard_normal(s), requires_grad=True) for s in (xs, ws)]
    c_out = ws[0] if name.startswith("conv1") or name[4].isdigit() else ws[1] * kw.get("groups", 1)
    if bias:
        args.append(tconv.tensor(rng.standard_normal(c_out), requires_grad=True))
    fn = getattr(F, name)
    assert tconv.gradcheck(lambda *a: fn(a[0], a[1], a[2] if bias else None, **kw), args)


@pytest.mark.parametrize(
    ("name", "xs", "ws", "kw"),
    [
        ("conv_transpose2d", (2, 16, 8, 8), (16, 16, 4, 4), dict(stride=2, padding=1)),
        ("conv2d", (2, 16, 10, 9), (17, 16, 3, 3), dict(stride=2, padding=1)),
        ("conv_transpose3d", (1, 16, 8, 10, 10), (16, 16, 4, 4, 4), dict(stride=2, padding=1)),
    ],
)
def test_directional_finite_differences_through_the_rows_grid(name, xs, ws, kw):
    """Layers whose weight gradient takes conv_weight.phase_rows with numba off (16+
    channels, too many weights for an element-wise gradcheck; with numba on the
    compiled columns take them): ``L = <y, gy>`` is bilinear in (x, w), so its central
    difference along a random direction (dx, dw) equals ``<gx, dx> + <gw, dw>`` up to
    rounding, for any step."""
    rng = np.random.default_rng(len(xs) + ws[0])
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    fn = getattr(F, name)
    with tconv.jit(False):
        gy = rng.standard_normal(fn(x, w, **kw).shape)
        X, W = tconv.tensor(x, requires_grad=True), tconv.tensor(w, requires_grad=True)
        with tconv.kernels.trace() as names:
            fn(X, W, **kw).backward(gy)
        assert "conv_weight.phase_rows" in names, names
        for _ in range(3):
            dx, dw = rng.standard_normal(xs), rng.standard_normal(ws)
            h = 0.5
            up = float(np.vdot(fn(x + h * dx, w + h * dw, **kw), gy))
            down = float(np.vdot(fn(x - h * dx, w - h * dw, **kw), gy))
            predicted = float(np.vdot(X.grad, dx) + np.vdot(W.grad, dw))
            assert abs((up - down) / (2 * h) - predicted) <= 1e-10 * (abs(up) + abs(down) + 1)


def test_gradcheck_catches_a_wrong_gradient():
    x = tconv.tensor(np.arange(3.0), requires_grad=True)

    def bad(t):
        return tconv.autograd.record(t.data**2, (t,), lambda g: (g * t.data,))  # 2x forgotten

    with pytest.raises(ValueError, match="Jacobian mismatch for input 0"):
        tconv.gradcheck(bad, [x])
    assert tconv.gradcheck(bad, [x], raise_exception=False) is False


def _matrix_input_grad(cfg, w, gy):
    """The input gradient as the explicit matrix's transpose times ``gy``, in float64:
    ``tconv.matrix`` builds M entry by entry from the definition, not with the kernels."""
    kw = cfg.kwargs()
    w = np.asarray(w, np.float64)
    chw = (cfg.c_in, *cfg.size)
    if cfg.transposed:
        m = conv_transpose_matrix(
            w, chw, kw["stride"], kw["padding"], kw["output_padding"], kw["dilation"], cfg.groups
        )
    else:
        m = conv_matrix(w, chw, kw["stride"], kw["padding"], kw["dilation"], cfg.groups)
    rows = np.asarray(gy, np.float64).reshape(-1, m.shape[0])  # one row per sample
    return (rows @ m).reshape(cfg.input_shape)


def _torch_grads(torch, cfg, x, w, gy):
    """Input and weight gradients by PyTorch's autograd (any padding, batched or not)."""
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    getattr(torch.nn.functional, _op(cfg).__name__)(tx, tw, None, **cfg.kwargs()).backward(
        torch.tensor(gy)
    )
    return tx.grad.numpy(), tw.grad.numpy()


TOL = {np.float64: 1e-10, np.float32: 1e-5}


@settings(max_examples=40)
@given(cfg=configs(transposed=False), dtype=st.sampled_from([np.float64, np.float32]))
def test_identity_conv_input_gradient_is_the_matrix_transpose(cfg, dtype):
    """The lecture's central fact: d<conv(x, w), gy>/dx = M^T gy, with M the convolution's
    matrix; the tape's gradient (a transposed convolution) against the matrix."""
    x, w, _ = cfg.arrays(dtype)
    y = _op(cfg)(x, w, **cfg.kwargs())
    gy = np.random.default_rng(cfg.seed).standard_normal(y.shape).astype(dtype)
    X = tconv.tensor(x, requires_grad=True)
    _op(cfg)(X, w, **cfg.kwargs()).backward(gy)
    assert X.grad.dtype == dtype
    assert rel_err(X.grad, _matrix_input_grad(cfg, w, gy)) <= TOL[dtype]


@settings(max_examples=40)
@given(cfg=configs(transposed=True), dtype=st.sampled_from([np.float64, np.float32]))
def test_identity_conv_transpose_input_gradient_is_the_matrix_transpose(cfg, dtype):
    """The transposed convolution's input gradient (a convolution) against M^T gy."""
    x, w, _ = cfg.arrays(dtype)
    y = _op(cfg)(x, w, **cfg.kwargs())
    gy = np.random.default_rng(cfg.seed).standard_normal(y.shape).astype(dtype)
    X = tconv.tensor(x, requires_grad=True)
    _op(cfg)(X, w, **cfg.kwargs()).backward(gy)
    assert X.grad.dtype == dtype
    assert rel_err(X.grad, _matrix_input_grad(cfg, w, gy)) <= TOL[dtype]


def test_identity_lecture_example():
    """conv1d of a spike reads the kernel backwards; its input gradient writes it forwards,
    as the transposed matrix's column does."""
    x = tconv.tensor([[[0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]]], requires_grad=True)
    k = np.array([[[1.0, 2.0, 3.0]]])
    gy = np.array([0.0, 0.0, 1.0, 0.0, 0.0])
    F.conv1d(x, k).backward(gy[None, None])
    np.testing.assert_array_equal(x.grad, [[[0, 0, 1, 2, 3, 0, 0]]])
    np.testing.assert_array_equal(x.grad[0, 0], conv_matrix(k, (1, 7)).T @ gy)


@settings(max_examples=30)
@given(cfg=st.one_of(configs(transposed=False), configs(transposed=True)))
def test_nn_grad_functions_match_torch(torch, cfg):
    """tconv.grad's functions against PyTorch's autograd, and against torch.nn.grad's
    functions where those take the call (batched input, no string padding)."""
    x, w, _ = cfg.arrays()
    gy = np.random.default_rng(cfg.seed + 2).standard_normal(_op(cfg)(x, w, **cfg.kwargs()).shape)
    kw = cfg.kwargs()
    if cfg.transposed:
        pre = f"conv_transpose{cfg.nd}d"
        args = (kw["stride"], kw["padding"], kw["output_padding"], kw["groups"], kw["dilation"])
    else:
        pre = f"conv{cfg.nd}d"
        args = (kw["stride"], kw["padding"], kw["dilation"], kw["groups"])
    gx = getattr(G, pre + "_input")(x.shape, w, gy, *args)
    gw = getattr(G, pre + "_weight")(x, w.shape, gy, *args)
    ref_x, ref_w = _torch_grads(torch, cfg, x, w, gy)
    assert rel_err(gx, ref_x) <= 1e-10
    assert rel_err(gw, ref_w) <= 1e-10
    if not cfg.transposed and not isinstance(cfg.padding, str) and cfg.batch is not None:
        tg = getattr(torch.nn.grad, pre + "_input")(
            x.shape, torch.tensor(w), torch.tensor(gy), *args
        )
        assert rel_err(gx, tg.numpy()) <= 1e-10
        tgw = getattr(torch.nn.grad, pre + "_weight")(
            torch.tensor(x), w.shape, torch.tensor(gy), *args
        )
        assert rel_err(gw, tgw.numpy()) <= 1e-10


def test_grad_functions_check_grad_output_shape():
    with pytest.raises(ValueError, match=r"grad_output must have shape \(1, 1, 5\)"):
        G.conv1d_input((1, 1, 7), np.ones((1, 1, 3)), np.ones((1, 1, 4)))
    with pytest.raises(ValueError, match="output_padding"):
        G.conv_transpose1d_weight(np.ones((1, 1, 4)), (1, 1, 3), np.ones((1, 1, 10)), stride=2)


def test_float32_gradients_keep_dtype_and_mixed_inputs(torch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 9)).astype(np.float32)
    w = rng.standard_normal((3, 4, 4, 4)).astype(np.float32)
    X, W = tconv.tensor(x, requires_grad=True), tconv.tensor(w, requires_grad=True)
    y = F.conv_transpose2d(X, W, stride=2, padding=1)
    assert y.dtype == np.float32
    y.sum().backward()
    assert X.grad.dtype == np.float32 and W.grad.dtype == np.float32
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    torch.nn.functional.conv_transpose2d(tx, tw, stride=2, padding=1).sum().backward()
    assert rel_err(X.grad, tx.grad.numpy()) <= 1e-5
    assert rel_err(W.grad, tw.grad.numpy()) <= 1e-5
    # Only the weight is a Tensor: x stays an array, only W gets a gradient.
    W2 = tconv.tensor(w.transpose(1, 0, 2, 3), requires_grad=True)
    F.conv2d(x, W2).sum().backward()
    assert W2.grad.shape == (4, 3, 4, 4) and W2.grad.dtype == np.float32


def test_arrays_in_give_arrays_out():
    y = F.conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)))
    assert type(y) is np.ndarray
