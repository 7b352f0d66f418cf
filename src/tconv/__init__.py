"""tconv: transposed convolutions, convolutions, their gradients and up-sampling, on NumPy.

The public ops live in :mod:`tconv.functional` (PyTorch's names and argument
order); size arithmetic in :mod:`tconv.shapes`.
"""

from __future__ import annotations

from . import functional, shapes
from ._config import get_memory_budget, memory_budget, set_memory_budget

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "functional",
    "get_memory_budget",
    "memory_budget",
    "set_memory_budget",
    "shapes",
]
