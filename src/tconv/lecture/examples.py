"""The lecture's worked examples (EE-559, 9.1), as data that tconv recomputes.

Each example records the call as the lecture writes it in PyTorch, the value
the lecture prints, and a function that computes it with tconv. The
``tconv examples`` command and the tour print them side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import functional as F


@dataclass(frozen=True)
class Example:
    title: str
    code: str  # the lecture's PyTorch lines
    expected: tuple[float, ...]  # the value the lecture prints
    compute: Callable[[], np.ndarray]

    def run(self) -> tuple[np.ndarray, bool]:
        """Compute with tconv; True when it equals the lecture's value exactly."""
        got = np.asarray(self.compute())
        ok = got.shape[-1] == len(self.expected) and bool(
            np.array_equal(got.ravel(), np.asarray(self.expected))
        )
        return got, ok


X = [[[0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]]]
K = [[[1.0, 2.0, 3.0]]]

EXAMPLES = [
    Example(
        "convolution: a series of inner products (the kernel is read forwards)",
        "F.conv1d(x, k)   # x = [[[0, 0, 1, 0, 0, 0, 0]]], k = [[[1, 2, 3]]]",
        (3.0, 2.0, 1.0, 0.0, 0.0),
        lambda: F.conv1d(X, K),
    ),
    Example(
        "transposed convolution: a weighted sum of translated kernels",
        "F.conv_transpose1d(x, k)",
        (0.0, 0.0, 1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 0.0),
        lambda: F.conv_transpose1d(X, K),
    ),
    Example(
        "nn.ConvTranspose1d(1, 1, kernel_size=3), bias 0, weight [1, 2, -1]",
        "m(torch.tensor([[[2., 3., 0., -1.]]]))",
        (2.0, 7.0, 4.0, -4.0, -2.0, 1.0),
        lambda: _lecture_module(),
    ),
]


def _lecture_module() -> np.ndarray:
    """The lecture's third example as it is written: a module, bias zeroed, weight copied."""
    from ..nn import ConvTranspose1d

    m = ConvTranspose1d(1, 1, kernel_size=3, dtype=np.float64)
    m.bias.data[...] = 0.0
    m.weight.data[...] = [[[1.0, 2.0, -1.0]]]
    return np.asarray(m([[[2.0, 3.0, 0.0, -1.0]]]).data)


def format_values(values: np.ndarray | tuple[float, ...]) -> str:
    """Values as the lecture prints them: ``[ 3., 2., 1.]`` style, compact."""
    return "[" + ", ".join(f"{float(v):g}" for v in np.ravel(values)) + "]"
