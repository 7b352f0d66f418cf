"""tconv.kernels.trace(): nested blocks each see the calls made while they are open."""

from __future__ import annotations

import numpy as np

import tconv.functional as F
from tconv.kernels import route, trace


def test_an_inner_block_that_closed_leaves_the_outer_one_recording() -> None:
    x, w = np.ones((1, 1, 5)), np.ones((1, 1, 3))
    with trace() as outer:
        with trace() as inner:  # equal to outer (both empty) when it closes
            pass
        F.conv1d(x, w)
    assert inner == []
    assert outer == [route("conv", x, w, (1,), (1,), 1, (0,), (3,))]


def test_nested_blocks_both_record() -> None:
    x, w = np.ones((1, 1, 5)), np.ones((1, 1, 3))
    with trace() as outer:
        F.conv1d(x, w)
        with trace() as inner:
            F.conv_transpose1d(x, w)
    assert len(outer) == 2 and inner == outer[1:]
