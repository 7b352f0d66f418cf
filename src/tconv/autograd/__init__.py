"""A small reverse-mode autograd: the Tensor, the tape, grad mode and gradcheck.

Each op records its output with its inputs and a VJP (the op and its backward side
by side, as in micrograd); ``Tensor.backward`` runs the VJPs in reverse
topological order. One file per concept, each importing only those listed before it
(and :mod:`tconv.kernels`):

- :mod:`.mode`: grad mode, per thread (``no_grad``, ``enable_grad``, ``set_grad_enabled``);
- :mod:`.engine`: the Tensor, ``record`` and the backward pass, the Tensor's ops and the
  elementwise primitives (``exp`` ... ``relu``, ``sigmoid``, ``tanh``);
- :mod:`.ops`: ``concatenate``/``cat``, ``stack``, ``pad``;
- :mod:`.gradcheck`: the finite-difference check.

The activations and losses live in :mod:`tconv.functional`, which builds on this package.
"""

from __future__ import annotations

from .engine import (
    Tensor,
    any_tensor,
    clip,
    elementwise,
    exp,
    log,
    matmul,
    record,
    relu,
    sigmoid,
    sqrt,
    tanh,
    tensor,
    unwrap,
)
from .gradcheck import GradcheckError, gradcheck
from .mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .ops import cat, concatenate, pad, stack

__all__ = [
    "GradcheckError",
    "Tensor",
    "any_tensor",
    "cat",
    "clip",
    "concatenate",
    "elementwise",
    "enable_grad",
    "exp",
    "gradcheck",
    "is_grad_enabled",
    "log",
    "matmul",
    "no_grad",
    "pad",
    "record",
    "relu",
    "set_grad_enabled",
    "sigmoid",
    "sqrt",
    "stack",
    "tanh",
    "tensor",
    "unwrap",
]
