"""A small reverse-mode autograd: the Tensor, the tape, grad mode and gradcheck.

Each op records its output with its inputs and a VJP (the op and its backward side
by side, as in micrograd); ``Tensor.backward`` runs the VJPs in reverse
topological order.
"""

from __future__ import annotations

from .gradcheck import GradcheckError, gradcheck
from .tensor import *  # noqa: F403
from .tensor import __all__ as _tensor_all
from .tensor import _unary  # noqa: F401  (the elementwise ops of functional build on it)

__all__ = [*_tensor_all, "GradcheckError", "gradcheck"]
