"""Activations, ``linear`` and losses, differentiable, with PyTorch's formulas.

Each takes arrays or :class:`~tconv.autograd.Tensor` s: arrays in give arrays
out, a Tensor in gives a Tensor recorded on the tape. Activations are
primitives with a hand-written VJP; ``relu``, ``sigmoid`` and ``tanh`` are also
Tensor methods, so they are defined once, in :mod:`tconv.autograd`, and re-exported
here. The losses are compositions of recorded ops (so their gradients, the
target's included, come from the tape), except ``binary_cross_entropy``, whose VJP
is PyTorch's clamped formula.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _args
from ..autograd import (  # relu, sigmoid, tanh: the Tensor methods' primitives
    Tensor,
    any_tensor,
    elementwise,
    record,
    relu,
    sigmoid,
    tanh,
    unwrap,
)
from ..kernels import _threads

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "gelu",
    "l1_loss",
    "leaky_relu",
    "linear",
    "log_softmax",
    "mse_loss",
    "relu",
    "sigmoid",
    "softmax",
    "softplus",
    "tanh",
]

_REDUCTIONS = ("mean", "sum", "none")


def leaky_relu(input: Any, negative_slope: float = 0.01) -> Any:
    """``x`` for x > 0, else ``negative_slope * x``.

    >>> leaky_relu(np.array([-2.0, 3.0]), 0.5)
    array([-1.,  3.])
    """
    return elementwise(
        input,
        lambda x: np.where(x > 0, x, x * negative_slope),
        lambda x, y, g: g * np.where(x > 0, 1, negative_slope).astype(x.dtype),
    )


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    """``log(1 + exp(beta x)) / beta``, linear where ``beta x > threshold`` (as PyTorch).

    >>> softplus(np.array([0.0, 30.0]))
    array([ 0.693..., 30. ])
    """

    def f(x: np.ndarray) -> np.ndarray:
        bx = x * beta
        return np.where(bx > threshold, x, np.log1p(np.exp(np.minimum(bx, threshold))) / beta)

    return elementwise(
        input, f, lambda x, y, g: g * np.where(x * beta > threshold, 1, sigmoid(x * beta))
    )


def _erf(x: np.ndarray) -> np.ndarray:
    """Error function to double precision, vectorised (NumPy has none).

    Series ``erf(z) = 2/sqrt(pi) exp(-z^2) sum_n (2z^2)^n z / (1*3*...*(2n+1))``: all
    terms positive, so no cancellation; |z| >= 6 gives +-1 to double precision.
    """
    z = np.minimum(np.abs(x.astype(np.float64)), 6.0)
    term = z.copy()
    total = z.copy()
    for n in range(1, 400):
        term = term * (2 * z * z) / (2 * n + 1)
        total += term
        if not np.any(term > 1e-17 * total):
            break
    out = np.sign(x) * np.minimum(2 / math.sqrt(math.pi) * np.exp(-z * z) * total, 1.0)
    return out.astype(x.dtype, copy=False)


def gelu(input: Any, approximate: str = "none") -> Any:
    """``x Phi(x)`` with Phi the normal CDF; ``approximate='tanh'`` as PyTorch.

    >>> gelu(np.array([0.0, 1.0]))
    array([0.       , 0.841...])
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    if approximate == "tanh":
        c = math.sqrt(2 / math.pi)

        def f(x: np.ndarray) -> np.ndarray:
            return 0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x**3)))

        def df(x: np.ndarray, y: np.ndarray, g: np.ndarray) -> np.ndarray:
            t = np.tanh(c * (x + 0.044715 * x**3))
            return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x))

        return elementwise(input, f, df)

    def cdf(x: np.ndarray) -> np.ndarray:
        return 0.5 * (1 + _erf(x / math.sqrt(2)))

    def dgelu(x: np.ndarray, y: np.ndarray, g: np.ndarray) -> np.ndarray:
        return g * (cdf(x) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi))

    return elementwise(input, lambda x: x * cdf(x), dgelu)


def softmax(input: Any, dim: int = -1) -> Any:
    """``exp(x) / sum(exp(x))`` along ``dim``.

    >>> softmax(np.array([0.0, 0.0]))
    array([0.5, 0.5])
    """

    def f(x: np.ndarray) -> np.ndarray:
        e = np.exp(x - x.max(axis=dim, keepdims=True))
        return e / e.sum(axis=dim, keepdims=True)

    return elementwise(input, f, lambda x, y, g: y * (g - (g * y).sum(axis=dim, keepdims=True)))


def log_softmax(input: Any, dim: int = -1) -> Any:
    """``x - logsumexp(x)`` along ``dim``, computed stably."""

    def f(x: np.ndarray) -> np.ndarray:
        m = x.max(axis=dim, keepdims=True)
        return x - m - np.log(np.exp(x - m).sum(axis=dim, keepdims=True))

    return elementwise(input, f, lambda x, y, g: g - np.exp(y) * g.sum(axis=dim, keepdims=True))


def linear(input: Any, weight: Any, bias: Any = None) -> Any:
    """``y = x W^T + b``, as ``torch.nn.functional.linear``.

    input (*, in_features); weight (out_features, in_features); bias (out_features,).

    >>> linear(np.ones((2, 3)), np.ones((4, 3)), np.arange(4.0))
    array([[3., 4., 5., 6.],
           [3., 4., 5., 6.]])
    """
    fn = "linear"
    x, w = _args.as_array(unwrap(input), "input", fn), _args.as_array(unwrap(weight), "weight", fn)
    b = None if bias is None else _args.as_array(unwrap(bias), "bias", fn)
    dtype, out_dtype = _args.compute_dtype(x, w, b)  # the ops' one dtype rule
    x, w = x.astype(dtype, copy=False), w.astype(dtype, copy=False)
    b = None if b is None else b.astype(dtype, copy=False)
    if w.ndim != 2 or x.ndim < 1 or x.shape[-1] != w.shape[1]:
        raise ValueError(
            f"linear: input's last dim must equal weight.shape[1] with a 2-D weight "
            f"(out_features, in_features); got input {x.shape}, weight {w.shape}"
        )
    if b is not None and b.shape != (w.shape[0],):
        raise ValueError(f"linear: bias must have shape ({w.shape[0]},), got {b.shape}")
    y = _threads.matmul(x, w.T)
    if b is not None:
        y = y + b
    y = y.astype(out_dtype, copy=False)
    if not any_tensor(input, weight, bias):
        return y

    def vjp(g: np.ndarray) -> tuple[Any, Any, Any]:
        g2 = g.reshape(-1, w.shape[0])
        gw = _threads.matmul(g2.T, x.reshape(-1, w.shape[1]))
        return _threads.matmul(g, w), gw, (g2.sum(axis=0) if b is not None else None)

    return record(y, (input, weight, bias), vjp)


# -- losses ----------------------------------------------------------------------------


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


def _reduce(loss: Tensor, reduction: str, fn: str) -> Tensor:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def _same_shape(x: Tensor, t: Tensor, fn: str) -> None:
    if x.shape != t.shape:
        raise ValueError(
            f"{fn}: input and target must have the same shape, got input {x.shape} and "
            f"target {t.shape}"
        )


def _out(result: Tensor, *inputs: Any) -> Any:
    return result if any_tensor(*inputs) else result.data


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    """Mean squared error ``(x - y)**2``, reduced (as ``torch.nn.functional.mse_loss``).

    >>> float(mse_loss(np.array([1.0, 3.0]), np.array([0.0, 0.0])))
    5.0
    """
    x, t = _t(input), _t(target)
    _same_shape(x, t, "mse_loss")
    return _out(_reduce((x - t) ** 2, reduction, "mse_loss"), input, target)


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Any:
    """Mean absolute error ``|x - y|``, reduced."""
    x, t = _t(input), _t(target)
    _same_shape(x, t, "l1_loss")
    return _out(_reduce(abs(x - t), reduction, "l1_loss"), input, target)


def binary_cross_entropy(
    input: Any, target: Any, weight: Any = None, reduction: str = "mean"
) -> Any:
    """``-w (y log x + (1 - y) log(1 - x))`` with the logs clamped at -100 (as PyTorch).

    >>> round(float(binary_cross_entropy(np.array([0.5]), np.array([1.0]))), 4)
    0.6931
    """
    x, t = unwrap(input), unwrap(target)
    if x.shape != t.shape:
        raise ValueError(f"binary_cross_entropy: input {x.shape} and target {t.shape} differ")
    if np.any((x < 0) | (x > 1)):
        raise ValueError("binary_cross_entropy: input must hold probabilities in [0, 1]")
    w = 1.0 if weight is None else unwrap(weight)
    logs = np.maximum(np.log(x), -100), np.maximum(np.log1p(-x), -100)
    loss = -w * (t * logs[0] + (1 - t) * logs[1])

    def vjp(g: np.ndarray) -> tuple[Any, Any]:
        gx = g * w * (x - t) / np.maximum((1 - x) * x, 1e-12)
        return gx, g * w * (logs[1] - logs[0])

    rec = record(loss, (input, target), vjp)
    return _out(_reduce(rec, reduction, "binary_cross_entropy"), input, target)


def _log1pexp(z: Tensor) -> Tensor:
    """``log(1 + exp(z))`` without overflow; gradient ``sigmoid(z)``."""
    zd = z.data
    return record(
        np.maximum(zd, 0) + np.log1p(np.exp(-np.abs(zd))), (z,), lambda g: (g * sigmoid(zd),)
    )


def binary_cross_entropy_with_logits(
    input: Any, target: Any, weight: Any = None, reduction: str = "mean", pos_weight: Any = None
) -> Any:
    """``binary_cross_entropy(sigmoid(x), y)`` computed stably from the logits ``x``.

    >>> round(float(binary_cross_entropy_with_logits(np.array([0.0]), np.array([1.0]))), 4)
    0.6931
    """
    x, t = _t(input), _t(target)
    _same_shape(x, t, "binary_cross_entropy_with_logits")
    scale: Any = 1.0 if pos_weight is None else 1 + (_t(pos_weight) - 1) * t
    loss = (1 - t) * x + scale * _log1pexp(-x)
    if weight is not None:
        loss = loss * _t(weight)
    return _out(
        _reduce(loss, reduction, "binary_cross_entropy_with_logits"),
        input,
        target,
        weight,
        pos_weight,
    )


def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Any:
    """Softmax cross-entropy over the class dim (dim 1, or 0 when unbatched), as PyTorch.

    input (N, C, *d) or (C,); target class indices (N, *d) or (), or class
    probabilities of the input's shape.

    >>> round(float(cross_entropy(np.array([[0.0, 0.0]]), np.array([1]))), 4)
    0.6931
    """
    x = _t(input)
    tgt = unwrap(target)
    cdim = 0 if x.ndim == 1 else 1
    c = x.shape[cdim]
    logp = log_softmax(x, dim=cdim)
    wshape = [1] * x.ndim
    wshape[cdim] = c
    w = None if weight is None else unwrap(weight).reshape(wshape)
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"cross_entropy: reduction must be 'mean', 'sum' or 'none', got {reduction!r}"
        )
    eps = label_smoothing
    if tgt.dtype.kind == "f":  # class probabilities
        _same_shape(x, _t(target), "cross_entropy")
        t = _t(target) * (1 - eps) + eps / c if eps else _t(target)
        loss = -(logp * t * (w if w is not None else 1.0)).sum(axis=cdim)
        result = (
            loss.sum() / max(1, loss.numel())
            if reduction == "mean"
            else _reduce(loss, reduction, "cross_entropy")
        )
        return _out(result, input, target, weight)
    expect = x.shape[:cdim] + x.shape[cdim + 1 :]
    if tgt.shape != expect:
        raise ValueError(
            f"cross_entropy: class-index target must have shape {expect} for input {x.shape}, "
            f"got {tgt.shape}"
        )
    keep = tgt != ignore_index
    if np.any(keep & ((tgt < 0) | (tgt >= c))):
        raise ValueError(
            f"cross_entropy: target class indices must lie in [0, {c}), got "
            f"{tgt[keep & ((tgt < 0) | (tgt >= c))].ravel()[:5]}"
        )
    onehot = np.expand_dims(np.where(keep, tgt, 0), cdim) == np.arange(c).reshape(wshape)
    mask = (onehot & np.expand_dims(keep, cdim)).astype(x.dtype)
    wm = mask if w is None else mask * w
    nll = -(logp * wm).sum(axis=cdim)
    denom = wm.sum()
    if eps:
        smooth = -(logp * (np.expand_dims(keep, cdim) * (1.0 if w is None else w))).sum(axis=cdim)
        if reduction == "mean":
            ce = (nll.sum() * (1 - eps) + smooth.sum() * (eps / c)) / denom
        else:
            ce = _reduce(nll * (1 - eps) + smooth * (eps / c), reduction, "cross_entropy")
    else:
        ce = nll.sum() / denom if reduction == "mean" else _reduce(nll, reduction, "cross_entropy")
    return _out(ce, input, target, weight)
