"""The Tensor and its tape: a small reverse-mode autograd over NumPy (micrograd, with arrays).

Every op computes its output with NumPy and, when an input is a
:class:`Tensor` that requires a gradient and the calling thread's grad mode is on
(:mod:`.mode`), :func:`record` attaches the op's vector-Jacobian product (VJP): a
function from the output gradient to one gradient per input. :meth:`Tensor.backward`
walks the recorded graph in reverse topological order and accumulates gradients
into the leaves' ``.grad``, as PyTorch does (``.grad`` adds up over calls until it
is reset).

The pattern every differentiable op follows (the functional ops too)::

    y = kernel(unwrap(x))
    return record(y, (x,), lambda g: (adjoint(g),)) if any_tensor(x) else y

This file holds the Tensor's own ops (operators, reductions, shape ops and the
elementwise primitives behind its methods, ``exp`` to ``tanh``), each with its VJP;
:mod:`.ops` holds the array ops that are not methods (concatenate, stack, pad).

>>> x = tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> y = (x * x).sum()
>>> y.backward()
>>> x.grad
array([2., 4., 6.])
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Callable, Sequence
from typing import Any, Union

import numpy as np

from ..kernels import _threads
from .mode import is_grad_enabled

VJP = Callable[[np.ndarray], Sequence[np.ndarray | None]]
Axis = Union[int, Sequence[int], None]

__all__ = [
    "Tensor",
    "any_tensor",
    "clip",
    "elementwise",
    "exp",
    "log",
    "matmul",
    "record",
    "relu",
    "sigmoid",
    "sqrt",
    "tanh",
    "tensor",
    "unwrap",
]


class Tensor:
    """An array that remembers how it was computed.

    ``data`` is the ndarray; ``grad`` is None until :meth:`backward` reaches
    this tensor (leaves only, as in PyTorch), then an ndarray of the same shape
    and dtype. Operators broadcast as NumPy does and their gradients are summed
    back to each operand's shape.
    """

    __array_ufunc__ = None  # ndarray (op) Tensor defers to Tensor's reflected operator
    __array_priority__ = 1000

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data: np.ndarray = np.asarray(unwrap(data), dtype=dtype)
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(
                f"only floating point tensors can require gradients, got dtype {self.data.dtype}"
            )
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self._parents: tuple[Tensor | None, ...] = ()
        self._vjp: VJP | None = None

    # -- properties and conversions -------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return int(self.data.ndim)

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user created (and Parameters), False for op results."""
        return self._vjp is None

    def size(self, dim: int | None = None) -> Any:
        return self.shape if dim is None else self.shape[dim]

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The data as an ndarray (shared, not copied; as ``torch.Tensor.numpy``)."""
        return self.data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def item(self) -> Any:
        return self.data.item()

    def detach(self) -> Tensor:
        """A new leaf sharing the data, cut from the graph."""
        return Tensor(self.data)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        if flag and self.data.dtype.kind not in "fc":
            raise TypeError(f"only floating point tensors can require gradients, got {self.dtype}")
        self.requires_grad = flag
        return self

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ", requires_grad=True" if self.requires_grad else ""
        return f"tensor({body}{extra})"

    def __bool__(self) -> bool:
        return bool(self.data)

    # -- backward -------------------------------------------------------------------
    def backward(self, grad: Any = None) -> None:
        """Accumulate d(self)/d(leaf), contracted with ``grad``, into every leaf's ``.grad``.

        ``grad`` has this tensor's shape; it may be omitted only for a single-element
        output (a loss), where it defaults to 1. The graph and the leaves' ``.grad`` are
        shared between threads with no lock: two threads backpropagating into the same
        leaf at the same time may lose one of the two additions. A leaf's first
        gradient is the array its VJP made when nothing else holds it (PyTorch likewise
        steals an unshared one), a copy otherwise: no two ``.grad`` share memory, nor
        one and the caller's ``grad``.
        """
        if not self.requires_grad:
            raise ValueError(
                "backward: this tensor does not require grad and has no recorded history; "
                "create the inputs with requires_grad=True (and not under no_grad())"
            )
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward: grad can be omitted only for a scalar output, but this tensor "
                    f"has shape {self.shape}; pass grad= an array of shape {self.shape} "
                    "(or reduce first, e.g. y.sum().backward())"
                )
            g = np.ones_like(self.data)
        else:
            g = np.asarray(unwrap(grad), dtype=self.dtype)
            if g.shape != self.shape:
                raise ValueError(
                    f"backward: grad must have the output's shape {self.shape}, got {g.shape}"
                )
        grads: dict[int, np.ndarray] = {id(self): g}
        del g  # the caller's array: referenced by grads alone, so a leaf copies it
        for t in reversed(_topological_order(self)):
            gt = grads.pop(id(t), None)
            if gt is None:
                continue
            if t._vjp is None:
                if t.grad is not None:
                    t.grad = t.grad + gt
                elif gt.dtype == t.dtype and _unshared(gt):
                    t.grad = gt  # as PyTorch steals an unshared gradient: no copy
                else:
                    t.grad = gt.astype(t.dtype, copy=True)
                continue
            for p, gp in zip(t._parents, t._vjp(gt), strict=False):
                if p is None or gp is None:
                    continue
                gp = _sum_to(np.asarray(gp), p.shape).astype(p.dtype, copy=False)
                grads[id(p)] = grads[id(p)] + gp if id(p) in grads else gp
            gp = None  # the loop's last gradient: no reference left behind

    # -- operators ------------------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return _binary(self, other, "+")

    def __radd__(self, other: Any) -> Tensor:
        return _binary(other, self, "+")

    def __sub__(self, other: Any) -> Tensor:
        return _binary(self, other, "-")

    def __rsub__(self, other: Any) -> Tensor:
        return _binary(other, self, "-")

    def __mul__(self, other: Any) -> Tensor:
        return _binary(self, other, "*")

    def __rmul__(self, other: Any) -> Tensor:
        return _binary(other, self, "*")

    def __truediv__(self, other: Any) -> Tensor:
        return _binary(self, other, "/")

    def __rtruediv__(self, other: Any) -> Tensor:
        return _binary(other, self, "/")

    def __pow__(self, other: Any) -> Tensor:
        return _binary(self, other, "**")

    def __rpow__(self, other: Any) -> Tensor:
        return _binary(other, self, "**")

    def __matmul__(self, other: Any) -> Tensor:
        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return matmul(other, self)

    def __neg__(self) -> Tensor:
        return record(-self.data, (self,), lambda g: (-g,))

    def __lt__(self, other: Any) -> np.ndarray:
        return self.data < unwrap(other)

    def __le__(self, other: Any) -> np.ndarray:
        return self.data <= unwrap(other)

    def __gt__(self, other: Any) -> np.ndarray:
        return self.data > unwrap(other)

    def __ge__(self, other: Any) -> np.ndarray:
        return self.data >= unwrap(other)

    def __getitem__(self, key: Any) -> Tensor:
        key = (
            tuple(unwrap(k) if isinstance(k, Tensor) else k for k in key)
            if isinstance(key, tuple)
            else (unwrap(key) if isinstance(key, Tensor) else key)
        )
        shape, dtype = self.shape, self.dtype

        def vjp(g: np.ndarray) -> tuple[np.ndarray]:
            gx = np.zeros(shape, dtype=dtype)
            np.add.at(gx, key, g)  # also right for repeated fancy indices
            return (gx,)

        return record(self.data[key], (self,), vjp)

    # -- reductions -----------------------------------------------------------------
    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis`` (all by default); the gradient broadcasts back."""
        shape = self.shape
        return record(
            self.data.sum(axis=_axis(axis), keepdims=keepdims),
            (self,),
            lambda g: (np.broadcast_to(_keep(g, axis, keepdims, len(shape)), shape),),
        )

    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Mean over ``axis`` (all by default)."""
        shape = self.shape
        count = self.data.size // max(1, np.asarray(self.data.sum(axis=_axis(axis))).size)
        return record(
            self.data.mean(axis=_axis(axis), keepdims=keepdims),
            (self,),
            lambda g: (np.broadcast_to(_keep(g, axis, keepdims, len(shape)) / count, shape),),
        )

    def max(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Maximum over ``axis``; ties share the gradient evenly (as ``torch.amax``)."""
        return _extremum(self, axis, keepdims, np.max)

    def min(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Minimum over ``axis``; ties share the gradient evenly (as ``torch.amin``)."""
        return _extremum(self, axis, keepdims, np.min)

    # -- shape ops ------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        """Same data, new shape (one entry may be -1)."""
        new = tuple(shape[0]) if len(shape) == 1 and not isinstance(shape[0], int) else shape
        old = self.shape
        try:
            out = self.data.reshape(new)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {old} ({self.data.size} elements) "
                f"into shape {tuple(new)}"
            ) from None
        return record(out, (self,), lambda g: (g.reshape(old),))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge dims ``start_dim..end_dim`` into one (as ``torch.flatten``)."""
        nd = max(self.ndim, 1)
        s, e = start_dim % nd, end_dim % nd
        if s > e:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        shp = self.shape or (1,)
        return self.reshape((*shp[:s], math.prod(shp[s : e + 1]), *shp[e + 1 :]))

    def permute(self, *dims: Any) -> Tensor:
        """Reorder the axes (as ``torch.permute``)."""
        order = tuple(dims[0]) if len(dims) == 1 and not isinstance(dims[0], int) else dims
        if sorted(d % max(self.ndim, 1) for d in order) != list(range(self.ndim)):
            raise ValueError(f"permute: dims {order} are not a permutation of {self.ndim} dims")
        inv = np.argsort([d % self.ndim for d in order])
        return record(self.data.transpose(order), (self,), lambda g: (g.transpose(inv),))

    def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
        """Swap two axes (as ``torch.transpose``)."""
        return record(
            np.swapaxes(self.data, dim0, dim1), (self,), lambda g: (np.swapaxes(g, dim0, dim1),)
        )

    def unsqueeze(self, dim: int) -> Tensor:
        return self.reshape(np.expand_dims(self.data, dim).shape)

    def squeeze(self, dim: int | None = None) -> Tensor:
        return self.reshape(np.squeeze(self.data, dim).shape)

    def astype(self, dtype: Any) -> Tensor:
        """A copy in another dtype; the gradient comes back in this tensor's dtype."""
        return record(self.data.astype(dtype), (self,), lambda g: (g,))

    # -- elementwise ----------------------------------------------------------------
    def exp(self) -> Tensor:
        return exp(self)

    def log(self) -> Tensor:
        return log(self)

    def sqrt(self) -> Tensor:
        return sqrt(self)

    def abs(self) -> Tensor:
        return elementwise(self, np.abs, lambda x, y, g: g * np.sign(x))

    def clip(self, min: Any = None, max: Any = None) -> Tensor:
        return clip(self, min, max)

    clamp = clip

    def relu(self) -> Tensor:
        return relu(self)

    def sigmoid(self) -> Tensor:
        return sigmoid(self)

    def tanh(self) -> Tensor:
        return tanh(self)

    __abs__ = abs


# -- creating tensors and recording ops -------------------------------------------------


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new leaf Tensor holding a copy of ``data`` (as ``torch.tensor``).

    >>> t = tensor([[1.0, 2.0]], requires_grad=True)
    >>> t.shape, t.dtype, t.requires_grad
    ((1, 2), dtype('float64'), True)
    """
    return Tensor(np.array(unwrap(data), dtype=dtype), requires_grad=requires_grad)


def unwrap(x: Any) -> Any:
    """Tensor -> its ``.data``; None -> None; anything else -> ``np.asarray(x)``."""
    if isinstance(x, Tensor):
        return x.data
    if x is None:
        return None
    return np.asarray(x)


def any_tensor(*xs: Any) -> bool:
    """True when any argument is a :class:`Tensor`."""
    return any(isinstance(x, Tensor) for x in xs)


def record(out: np.ndarray, inputs: Sequence[Any], vjp: VJP) -> Tensor:
    """Wrap ``out`` in a Tensor and, if some input needs a gradient, remember ``vjp``.

    Nothing is remembered while the calling thread's grad mode is off
    (:class:`~tconv.autograd.no_grad` in this thread; other threads' modes do not
    matter). ``vjp(grad_out)`` returns one gradient (or None) per entry of
    ``inputs``; entries that are not Tensors needing a gradient are ignored.
    Gradients are summed down to each input's shape (broadcasting) and cast to its
    dtype.
    """
    t = Tensor(out)
    if is_grad_enabled() and any(isinstance(i, Tensor) and i.requires_grad for i in inputs):
        t.requires_grad = True
        t._parents = tuple(i if isinstance(i, Tensor) and i.requires_grad else None for i in inputs)
        t._vjp = vjp
    return t


# -- the backward pass's helpers -------------------------------------------------------


def _topological_order(root: Tensor) -> list[Tensor]:
    """Tensors reachable from ``root`` that need grad, each after all of its parents."""
    order: list[Tensor] = []
    seen: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        stack.extend((p, False) for p in t._parents if p is not None and id(p) not in seen)
    return order


def _unshared(a: np.ndarray) -> bool:
    """Whether ``a`` (just popped from the backward's dict) is referenced by nothing
    else: it owns its memory (or is a whole-array view of an array only it holds),
    C-contiguous and writable, and its reference count is the caller's variable and
    this call's argument. Then a leaf may keep it as its ``.grad`` without a copy,
    which nothing else can see or change (a gradient two parents share, the caller's
    ``grad=`` array or a saved one has more references and is copied)."""
    if not (a.flags.c_contiguous and a.flags.writeable):
        return False
    base = a.base
    if base is not None:  # e.g. a kernel's output reshaped: its buffer held by a alone
        if not isinstance(base, np.ndarray) or base.base is not None or base.size != a.size:
            return False
        if sys.getrefcount(base) > 3:  # a.base, the variable and getrefcount's argument
            return False
    return sys.getrefcount(a) <= 3  # the caller's variable, the argument, getrefcount's


def _sum_to(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a broadcast gradient back down to ``shape``."""
    if g.shape == shape:
        return g
    if g.ndim < len(shape):
        return np.broadcast_to(g, shape)
    g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
    pairs = enumerate(zip(g.shape, shape, strict=True))
    axes = tuple(i for i, (a, b) in pairs if b == 1 and a != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape) if axes else g.reshape(shape)


# -- the ops behind the methods: reductions, operators, matmul ---------------------------


def _axis(axis: Axis) -> Any:
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


def _keep(g: np.ndarray, axis: Axis, keepdims: bool, ndim: int) -> np.ndarray:
    """Re-insert the reduced axes into ``g`` so that it broadcasts against the input."""
    if keepdims or axis is None:
        return g.reshape((1,) * ndim) if axis is None and not keepdims else g
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    return np.expand_dims(g, tuple(int(a) % ndim for a in axes))


def _extremum(x: Tensor, axis: Axis, keepdims: bool, fn: Callable[..., Any]) -> Tensor:
    m = fn(x.data, axis=_axis(axis), keepdims=True)

    def vjp(g: np.ndarray) -> tuple[np.ndarray]:
        mask = x.data == m
        return (
            mask * (_keep(g, axis, keepdims, x.ndim) / mask.sum(axis=_axis(axis), keepdims=True)),
        )

    out = m if keepdims else (m.reshape(()) if axis is None else np.squeeze(m, _axis(axis)))
    return record(out, (x,), vjp)


def _value(x: Any) -> Any:
    """Tensor -> data; Python numbers stay numbers (weak dtype, as NumPy 2 treats them)."""
    if isinstance(x, Tensor):
        return x.data
    return x if isinstance(x, numbers.Number) else np.asarray(x)


def _binary(a: Any, b: Any, op: str) -> Tensor:
    x, y = _value(a), _value(b)
    xs, ys = np.shape(x), np.shape(y)
    try:
        np.broadcast_shapes(xs, ys)
    except ValueError:
        raise ValueError(
            f"operator {op}: shapes {xs} and {ys} do not broadcast (each trailing dim must be "
            "equal, or 1 in one of them)"
        ) from None
    if op == "+":
        return record(x + y, (a, b), lambda g: (g, g))
    if op == "-":
        return record(x - y, (a, b), lambda g: (g, -g))
    if op == "*":
        return record(x * y, (a, b), lambda g: (g * y, g * x))
    if op == "/":
        return record(x / y, (a, b), lambda g: (g / y, -g * x / (y * y)))
    out = x**y

    def vjp_pow(g: np.ndarray) -> tuple[Any, Any]:
        gx = g * y * x ** (y - 1) if isinstance(a, Tensor) and a.requires_grad else None
        gy = None
        if isinstance(b, Tensor) and b.requires_grad:
            gy = g * out * np.log(np.where(x > 0, x, 1))  # torch: 0 where x <= 0 and y >= 0
        return gx, gy

    return record(out, (a, b), vjp_pow)


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's rules (1-D operands, batch broadcasting)."""
    x, y = unwrap(a), unwrap(b)
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError("operator @: operands must be at least 1-D, got a 0-D operand")
    kx, ky = x.shape[-1], y.shape[0] if y.ndim == 1 else y.shape[-2]
    if kx != ky:
        raise ValueError(
            f"operator @: shapes {x.shape} and {y.shape} do not match: the last dim of the "
            f"left ({kx}) must equal the {'only' if y.ndim == 1 else 'second-to-last'} dim of "
            f"the right ({ky})"
        )

    def vjp(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x2 = x[None, :] if x.ndim == 1 else x
        y2 = y[:, None] if y.ndim == 1 else y
        g2 = g[..., None, :] if x.ndim == 1 else g
        g2 = g2[..., None] if y.ndim == 1 else g2
        gx = _threads.matmul(g2, np.swapaxes(y2, -1, -2))
        gy = _threads.matmul(np.swapaxes(x2, -1, -2), g2)
        gx = gx[..., 0, :] if x.ndim == 1 else gx
        gy = gy[..., 0] if y.ndim == 1 else gy
        return gx, gy

    return record(_threads.matmul(x, y), (a, b), vjp)


# -- elementwise primitives (arrays in, arrays out; Tensors in, recorded) ---------------


def elementwise(
    x: Any,
    f: Callable[[np.ndarray], np.ndarray],
    df: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
) -> Any:
    """Apply ``f`` to ``x``; the VJP is ``df(x, y, g)`` (input, output, output gradient).

    An array in gives ``f``'s array out; a Tensor in gives a Tensor, recorded. The
    elementwise ops here and the activations of :mod:`tconv.functional` are written
    with it, forward and VJP side by side.

    >>> elementwise(np.array([1.0, -2.0]), np.square, lambda x, y, g: 2 * x * g)
    array([1., 4.])
    """
    xd = unwrap(x)
    y = f(xd)
    return record(y, (x,), lambda g: (df(xd, y, g),)) if isinstance(x, Tensor) else y


def exp(x: Any) -> Any:
    """Elementwise ``e**x``.

    >>> exp(np.zeros(2))
    array([1., 1.])
    """
    return elementwise(x, np.exp, lambda x, y, g: g * y)


def log(x: Any) -> Any:
    """Elementwise natural logarithm."""
    return elementwise(x, np.log, lambda x, y, g: g / x)


def sqrt(x: Any) -> Any:
    """Elementwise square root."""
    return elementwise(x, np.sqrt, lambda x, y, g: g / (2 * y))


def clip(x: Any, min: Any = None, max: Any = None) -> Any:
    """Clamp into ``[min, max]``; the gradient passes where ``min <= x <= max`` (as torch)."""

    def df(xd: np.ndarray, y: np.ndarray, g: np.ndarray) -> np.ndarray:
        inside = np.ones(xd.shape, dtype=bool)
        if min is not None:
            inside &= xd >= min
        if max is not None:
            inside &= xd <= max
        return g * inside

    return elementwise(x, lambda xd: np.clip(xd, min, max), df)


def relu(input: Any) -> Any:
    """``max(x, 0)``; gradient 0 at x = 0 (as PyTorch).

    >>> relu(np.array([-1.0, 0.0, 2.0]))
    array([0., 0., 2.])
    """
    return elementwise(input, lambda x: np.maximum(x, 0), lambda x, y, g: g * (x > 0))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def sigmoid(input: Any) -> Any:
    """``1 / (1 + exp(-x))``, computed without overflow; gradient ``y (1 - y)``.

    >>> sigmoid(np.array([0.0]))
    array([0.5])
    """
    return elementwise(input, _sigmoid, lambda x, y, g: g * y * (1 - y))


def tanh(input: Any) -> Any:
    """Hyperbolic tangent; gradient ``1 - y**2``."""
    return elementwise(input, np.tanh, lambda x, y, g: g * (1 - y * y))
