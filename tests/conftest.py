"""Shared test settings.

Hypothesis runs without deadlines (the machines are shared and timing varies);
each test chooses its own ``max_examples``. PyTorch is the test oracle: tests
that need it import it through ``pytest.importorskip`` so that the rest of the
suite still runs where it is missing, and CI installs it (pinned).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
# CI draws the same examples every run (derandomized), so that a landing never
# hinges on a lucky draw; local runs explore new examples each time.
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default")
)


@pytest.fixture(scope="session")
def torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)

