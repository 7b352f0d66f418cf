"""Layers with PyTorch's constructors, parameter names and initialisation.

A ``state_dict`` saved by PyTorch loads unchanged (``load_state_dict``), and
every layer runs on :class:`tconv.Tensor` s so that it can be trained.
"""

from __future__ import annotations

# Each family's module lists its layers once, in its own __all__.
from . import activation, container, conv, init, layers, linear, loss, module, pooling, upsample
from .activation import *  # noqa: F403
from .container import *  # noqa: F403
from .conv import *  # noqa: F403
from .layers import *  # noqa: F403
from .linear import *  # noqa: F403
from .loss import *  # noqa: F403
from .module import *  # noqa: F403
from .norm import BatchNorm1d, BatchNorm2d  # not batch_norm: torch.nn has no functions
from .pooling import *  # noqa: F403
from .upsample import *  # noqa: F403

__all__ = ["BatchNorm1d", "BatchNorm2d", "init"]
__all__ += activation.__all__
__all__ += container.__all__
__all__ += conv.__all__
__all__ += layers.__all__
__all__ += linear.__all__
__all__ += loss.__all__
__all__ += module.__all__
__all__ += pooling.__all__
__all__ += upsample.__all__
