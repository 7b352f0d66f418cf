"""Weight initialisers, as ``torch.nn.init`` (in place, returning the tensor).

Random numbers come from one module-level ``numpy.random.Generator``; seed it
with :func:`manual_seed` or pass ``generator=``. The draws are NumPy's, so the
values differ from PyTorch's, but the distributions and bounds are the same.

Fans, as PyTorch computes them: for a weight of shape (A, B, *k),
``fan_in = B * prod(k)`` and ``fan_out = A * prod(k)``. For a transposed
convolution the weight is (C_in, C_out/groups, *k), so its ``fan_in`` is
``C_out/groups * prod(k)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autograd import Tensor

__all__ = [
    "calculate_gain",
    "constant_",
    "default_layer_init_",
    "icnr_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "manual_seed",
    "normal_",
    "ones_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]

_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator that initialisers and Dropout draw from.

    >>> manual_seed(0); a = uniform_(np.empty(3)); manual_seed(0)
    >>> bool(np.all(a == uniform_(np.empty(3))))
    True
    """
    global _rng
    _rng = np.random.default_rng(seed)


def get_generator() -> np.random.Generator:
    return _rng


def _arr(t: Any) -> np.ndarray:
    a = t.data if isinstance(t, Tensor) else t
    if not isinstance(a, np.ndarray):
        raise TypeError(
            f"init: expected a Tensor or ndarray to fill in place, got {type(t).__name__}"
        )
    return a


def _fill(t: Any, values: Any) -> Any:
    a = _arr(t)
    a[...] = values
    return t


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table).

    >>> calculate_gain("relu") == math.sqrt(2)
    True
    """
    linear = (
        "linear",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
        "sigmoid",
    )
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(t: Any) -> tuple[int, int]:
    shape = _arr(t).shape
    if len(shape) < 2:
        raise ValueError(
            f"init: fan in and fan out need a tensor with at least 2 dims, got shape {shape}"
        )
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def uniform_(t: Any, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Any:
    """Fill with U(a, b)."""
    arr = _arr(t)
    return _fill(t, (generator or _rng).uniform(a, b, arr.shape))


def normal_(t: Any, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Any:
    """Fill with N(mean, std**2)."""
    arr = _arr(t)
    return _fill(t, (generator or _rng).normal(mean, std, arr.shape))


def constant_(t: Any, val: float) -> Any:
    """Fill with ``val``."""
    return _fill(t, val)


def zeros_(t: Any) -> Any:
    """Fill ``t`` (a Parameter, Tensor or array) with zeros, in place; return it.

    >>> zeros_(np.ones(3))
    array([0., 0., 0.])
    """
    return _fill(t, 0)


def ones_(t: Any) -> Any:
    """Fill ``t`` (a Parameter, Tensor or array) with ones, in place; return it.

    >>> ones_(np.zeros(3))
    array([1., 1., 1.])
    """
    return _fill(t, 1)


def xavier_uniform_(t: Any, gain: float = 1.0, generator: Any = None) -> Any:
    """U(-b, b) with ``b = gain sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound, generator)


def xavier_normal_(t: Any, gain: float = 1.0, generator: Any = None) -> Any:
    """N(0, std**2) with ``std = gain sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(t: Any, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(t)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(
    t: Any,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Any:
    """U(-b, b) with ``b = gain sqrt(3 / fan)``; PyTorch's layers use ``a = sqrt(5)``,
    which gives ``b = 1 / sqrt(fan_in)``.

    >>> w = kaiming_uniform_(np.empty((8, 4, 3)), a=math.sqrt(5))
    >>> bool(np.abs(w).max() <= 1 / math.sqrt(12))
    True
    """
    bound = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity)
    return uniform_(t, -bound, bound, generator)


def kaiming_normal_(
    t: Any,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Any:
    """N(0, std**2) with ``std = gain / sqrt(fan)``."""
    return normal_(t, 0.0, _kaiming_std(t, a, mode, nonlinearity), generator)


def default_layer_init_(weight: Any, bias: Any = None, generator: Any = None) -> None:
    """PyTorch's default for Linear and Conv layers (their ``reset_parameters``):
    ``kaiming_uniform_(weight, a=sqrt(5))``, i.e. U(-1/sqrt(fan_in), +), and the
    bias, if any, U(-1/sqrt(fan_in), +) too (0 when fan_in is 0).

    >>> w, b = np.empty((4, 3)), np.empty(4)
    >>> default_layer_init_(w, b)
    >>> bool(np.abs(w).max() <= 1 / math.sqrt(3)) and bool(np.abs(b).max() <= 1 / math.sqrt(3))
    True
    """
    kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound, generator)


def icnr_(
    t: Any,
    upscale_factor: int = 2,
    initializer: Any = None,
    generator: Any = None,
) -> Any:
    """ICNR (Aitken et al. 2017, "Checkerboard artifact free sub-pixel convolution"):
    initialise the weight (C r^n, C_in, *k) of a convolution that pixel shuffle follows
    so that the pair starts equal to a convolution followed by nearest up-scaling.

    A (C, C_in, *k) kernel is drawn with ``initializer`` (default: PyTorch's conv
    init, ``kaiming_uniform_(a=sqrt(5))``, whose fan_in is the same) and each of its
    output channels is repeated r^n times (n spatial dims), in pixel shuffle's order:
    channel ``c r^2 + i r + j`` lands on pixel ``(i, j)`` of block ``c``.

    >>> w = icnr_(np.empty((8, 3, 3, 3)), upscale_factor=2)
    >>> bool(np.all(w[:4] == w[0])) and bool(np.all(w[4:] == w[4]))
    True
    """
    a = _arr(t)
    n = a.ndim - 2
    if n < 1:
        raise ValueError(f"icnr_: expected a conv weight (C_out, C_in, *k), got shape {a.shape}")
    if (
        not isinstance(upscale_factor, int)
        or isinstance(upscale_factor, bool)
        or upscale_factor < 1
    ):
        raise ValueError(f"icnr_: upscale_factor must be a positive int, got {upscale_factor!r}")
    copies = upscale_factor**n
    if a.shape[0] % copies:
        raise ValueError(
            f"icnr_: weight.shape[0]={a.shape[0]} must be divisible by "
            f"upscale_factor**{n} = {copies} (out_channels * r^{n} for pixel shuffle)"
        )
    sub = np.empty((a.shape[0] // copies, *a.shape[1:]), dtype=a.dtype)
    if initializer is None:
        default_layer_init_(sub, generator=generator)
    else:
        initializer(sub)
    a[...] = np.repeat(sub, copies, axis=0)
    return t
