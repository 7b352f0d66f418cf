"""Hypothesis strategies for random, valid convolution configurations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st


@dataclass(frozen=True)
class Config:
    transposed: bool
    nd: int
    batch: int | None  # None: unbatched input
    groups: int
    c_in: int
    c_out: int
    size: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: Any  # int, tuple, or 'same'/'valid' for conv
    output_padding: tuple[int, ...]
    bias: bool
    seed: int

    @property
    def weight_shape(self) -> tuple[int, ...]:
        if self.transposed:
            return (self.c_in, self.c_out // self.groups, *self.kernel)
        return (self.c_out, self.c_in // self.groups, *self.kernel)

    @property
    def input_shape(self) -> tuple[int, ...]:
        lead = (self.c_in,) if self.batch is None else (self.batch, self.c_in)
        return lead + self.size

    def arrays(self, dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        rng = np.random.default_rng(self.seed)
        x = rng.standard_normal(self.input_shape).astype(dtype)
        w = rng.standard_normal(self.weight_shape).astype(dtype)
        b = rng.standard_normal(self.c_out).astype(dtype) if self.bias else None
        return x, w, b

    def kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = dict(
            stride=self.stride, padding=self.padding, dilation=self.dilation, groups=self.groups
        )
        if self.transposed:
            kw["output_padding"] = self.output_padding
        return kw


def _maybe_int(draw: Any, values: tuple[int, ...]) -> Any:
    """Give a per-dim tuple, or an int when all dims agree (half of the time)."""
    if len(set(values)) == 1 and draw(st.booleans()):
        return values[0]
    return values


@st.composite
def configs(draw: Any, transposed: bool, max_nd: int = 3) -> Config:
    nd = draw(st.integers(1, max_nd))
    groups = draw(st.sampled_from([1, 1, 1, 2, 3]))
    c_in = groups * draw(st.integers(1, 3))
    c_out = groups * draw(st.integers(1, 3))
    kmax = {1: 5, 2: 4, 3: 3}[nd]
    kernel = tuple(draw(st.integers(1, kmax)) for _ in range(nd))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    smax = {1: 9, 2: 6, 3: 4}[nd]
    if transposed:
        pad = tuple(draw(st.integers(0, 2)) for _ in range(nd))
        out_pad = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
        size = tuple(draw(st.integers(1, smax)) for _ in range(nd))
        # keep the output non-empty: padding crops at most what the scatter produced
        full = [
            (n - 1) * s + d * (k - 1) + a + 1
            for n, s, d, k, a in zip(size, stride, dilation, kernel, out_pad)
        ]
        pad = tuple(min(p, (f - 1) // 2) for p, f in zip(pad, full))
        padding: Any = _maybe_int(draw, pad)
    else:
        out_pad = (0,) * nd
        choice = draw(st.sampled_from(["ints", "ints", "ints", "same", "valid"]))
        if choice == "same" and all(s == 1 for s in stride):
            padding = "same"
            pad = tuple(d * (k - 1) // 2 for d, k in zip(dilation, kernel))
        elif choice == "valid":
            padding, pad = "valid", (0,) * nd
        else:
            pad = tuple(draw(st.integers(0, 2)) for _ in range(nd))
            padding = _maybe_int(draw, pad)
        eff = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
        size = tuple(
            draw(st.integers(max(1, e - 2 * p), max(1, e - 2 * p) + smax)) for e, p in zip(eff, pad)
        )
    batch = draw(st.one_of(st.none(), st.integers(1, 3)))
    return Config(
        transposed,
        nd,
        batch,
        groups,
        c_in,
        c_out,
        size,
        kernel,
        stride,
        dilation,
        padding,
        out_pad,
        draw(st.booleans()),
        draw(st.integers(0, 2**31 - 1)),
    )
