"""Helpers shared by the tests (imported as ``from helpers import ...``)."""

from __future__ import annotations

import numpy as np


def rel_err(got: np.ndarray, ref: np.ndarray) -> float:
    """Max abs difference relative to the max magnitude of the reference."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape, f"shape {got.shape} != reference shape {ref.shape}"
    scale = max(float(np.abs(ref).max(initial=0.0)), 1e-30)
    return float(np.abs(got - ref).max(initial=0.0)) / scale
