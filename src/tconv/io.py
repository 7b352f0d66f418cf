"""Weights in and out: ``.npz`` (NumPy) and ``.safetensors`` (optional extra).

Keys are PyTorch's parameter names (``"0.weight"``, ``"1.running_mean"``), so a
``state_dict`` exported from PyTorch (``{k: v.numpy() for k, v in sd.items()}``
saved with ``numpy.savez`` or ``safetensors.torch.save_file``) loads into the
matching tconv module with ``module.load_state_dict(tconv.load(path))``.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from .autograd import unwrap

__all__ = ["load", "save"]


def _kind(path: Any, fn: str) -> str:
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in (".npz", ".safetensors"):
        raise ValueError(f"{fn}: path must end in .npz or .safetensors, got {os.fspath(path)!r}")
    return ext


def _safetensors(fn: str) -> Any:
    try:
        import safetensors.numpy as st
    except ImportError:
        raise ImportError(
            f"{fn}: .safetensors files need the 'safetensors' package "
            "(pip install 'tconv[safetensors]' or pip install safetensors)"
        ) from None
    return st


def save(obj: Any, path: Any) -> None:
    """Save a Module's ``state_dict`` (or a mapping of name -> array) to ``.npz``/``.safetensors``.

    >>> import tempfile, os, tconv
    >>> m = tconv.nn.Linear(2, 3)
    >>> p = os.path.join(tempfile.mkdtemp(), "w.npz")
    >>> save(m, p); sorted(load(p))
    ['bias', 'weight']
    """
    state = obj.state_dict() if hasattr(obj, "state_dict") else obj
    if not isinstance(state, Mapping):
        raise TypeError(f"save: expected a Module or a mapping of arrays, got {type(obj).__name__}")
    arrays = {str(k): np.asarray(unwrap(v), order="C") for k, v in state.items()}
    if _kind(path, "save") == ".npz":
        with open(path, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]
    else:
        _safetensors("save").save_file(arrays, os.fspath(path))


def load(path: Any) -> OrderedDict[str, np.ndarray]:
    """Load a state dict (name -> ndarray) saved by :func:`save`, NumPy or safetensors."""
    if _kind(path, "load") == ".npz":
        with np.load(path, allow_pickle=False) as z:
            return OrderedDict((k, z[k]) for k in z.files)
    return OrderedDict(_safetensors("load").load_file(os.fspath(path)).items())
