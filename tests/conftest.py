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


@pytest.fixture(params=["serial", "threads"])
def threads(request, monkeypatch):
    """Run the test serially, then with the kernels' two worker threads even on
    small inputs (the size threshold off), where NumPy's BLAS can be limited."""
    import tconv
    from tconv.kernels import _threads

    if request.param == "serial":
        with tconv.num_threads(1):
            yield request.param
        return
    if _threads.blas() is None:
        pytest.skip("the BLAS's threads cannot be controlled here: the kernels stay serial")
    monkeypatch.setattr(_threads, "_MIN_WORK", 0)
    with tconv.num_threads(2):
        yield request.param
