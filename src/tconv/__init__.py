"""tconv: transposed convolutions, convolutions, their gradients and up-sampling, on NumPy.

The public ops live in :mod:`tconv.functional` (PyTorch's names and argument
order); size arithmetic in :mod:`tconv.shapes`.
"""

from __future__ import annotations

from . import artifacts, functional, grad, matrix, nn, optim, shapes, upsampling
from .autograd import (
    Tensor,
    enable_grad,
    gradcheck,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
    tensor,
)
from .io import load, save
from .kernels.settings import (
    get_jit,
    get_memory_budget,
    get_num_threads,
    get_winograd,
    jit,
    jit_available,
    memory_budget,
    num_threads,
    set_jit,
    set_memory_budget,
    set_num_threads,
    set_winograd,
    winograd,
)

__version__ = "0.1.0"

__all__ = [
    "Tensor",
    "__version__",
    "artifacts",
    "enable_grad",
    "functional",
    "get_jit",
    "get_memory_budget",
    "get_num_threads",
    "get_winograd",
    "grad",
    "gradcheck",
    "is_grad_enabled",
    "jit",
    "jit_available",
    "load",
    "matrix",
    "memory_budget",
    "nn",
    "no_grad",
    "num_threads",
    "optim",
    "save",
    "set_grad_enabled",
    "set_jit",
    "set_memory_budget",
    "set_num_threads",
    "set_winograd",
    "shapes",
    "tensor",
    "upsampling",
    "winograd",
]
