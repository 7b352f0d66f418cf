"""kernels/reference.py, the in-package oracle, against PyTorch on random geometries.

The geometry strategy here (:func:`geometries`) is shared with
``test_kernel_paths.py``, which checks every fast path against this oracle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import rel_err
from tconv.kernels import reference as R


@dataclass(frozen=True)
class Geo:
    """A kernel call's geometry: ``transposed`` (conv_transpose_nd) or not (conv_nd,
    and the weight gradient of that conv). ``lo`` is the padding on both sides."""

    transposed: bool
    n: int
    groups: int
    c_in_g: int
    c_out_g: int
    size: tuple[int, ...]
    k: tuple[int, ...]
    s: tuple[int, ...]
    d: tuple[int, ...]
    lo: tuple[int, ...]
    out: tuple[int, ...]
    output_padding: tuple[int, ...]
    seed: int

    @property
    def c_in(self) -> int:
        return self.groups * self.c_in_g

    @property
    def c_out(self) -> int:
        return self.groups * self.c_out_g

    def arrays(self, dtype: Any = np.float64) -> tuple[np.ndarray, ...]:
        """x, w, bias and gy (shaped as the output)."""
        rng = np.random.default_rng(self.seed)
        x = rng.standard_normal((self.n, self.c_in, *self.size))
        ws = (self.c_in, self.c_out_g) if self.transposed else (self.c_out, self.c_in_g)
        w = rng.standard_normal(ws + self.k)
        b = rng.standard_normal(self.c_out)
        gy = rng.standard_normal((self.n, self.c_out, *self.out))
        return tuple(a.astype(dtype) for a in (x, w, b, gy))

    def args(self) -> tuple[Any, ...]:
        """stride, dilation, groups, lo, out_size: the kernels' geometry arguments."""
        return self.s, self.d, self.groups, self.lo, self.out


def _ints(v: int | tuple[int, int]) -> st.SearchStrategy[int]:
    return st.just(v) if isinstance(v, int) else st.integers(*v)


@st.composite
def geometries(
    draw: st.DrawFn,
    transposed: bool,
    nd: int | tuple[int, int] = (1, 3),
    n: int | tuple[int, int] = (1, 3),
    groups: int | tuple[int, int] = (1, 3),
    c_in_g: int | tuple[int, int] = (1, 3),
    c_out_g: int | tuple[int, int] = (1, 3),
    size: int | tuple[int, int] = (1, 7),
    k: int | tuple[int, int] = (1, 4),
    s: int | tuple[int, int] = (1, 3),
    d: int | tuple[int, int] = (1, 2),
    lo: int | tuple[int, int] = (0, 2),
) -> Geo:
    """A valid geometry with PyTorch's padding semantics; each argument an int or
    an inclusive range, per spatial dim where it is one."""
    rank = draw(_ints(nd))
    dims = [tuple(draw(_ints(v)) for _ in range(rank)) for v in (size, k, s, d)]
    sz, kk, ss, dd = dims
    pads, outs, ops = [], [], []
    for li, ki, si, di in zip(range(rank), kk, ss, dd):
        span = di * (ki - 1) + 1
        if transposed:
            full = (sz[li] - 1) * si + span
            p = min(draw(_ints(lo)), (full - 1) // 2)  # at least one output
            op = draw(st.integers(0, max(si, di) - 1))
            pads.append(p), ops.append(op), outs.append(full - 2 * p + op)
        else:
            least = max(0, -(-(span - sz[li]) // 2))  # the window fits the padded input
            p = least + draw(_ints(lo))
            pads.append(p), ops.append(0), outs.append((sz[li] + 2 * p - span) // si + 1)
    return Geo(
        transposed, draw(_ints(n)), draw(_ints(groups)), draw(_ints(c_in_g)),
        draw(_ints(c_out_g)), sz, kk, ss, dd, tuple(pads), tuple(outs), tuple(ops),
        draw(st.integers(0, 2**16)),
    )  # fmt: skip


def torch_reference(torch: Any, geo: Geo, op: str) -> np.ndarray:
    """PyTorch's result in float64: op is 'conv', 'conv_transpose' or 'conv_weight'."""
    x, w, b, gy = (torch.from_numpy(a) for a in geo.arrays())
    nd = len(geo.size)
    tf = torch.nn.functional
    kw = dict(stride=geo.s, padding=geo.lo, dilation=geo.d, groups=geo.groups)
    if op == "conv_transpose":
        f = getattr(tf, f"conv_transpose{nd}d")
        return f(x, w, b, output_padding=geo.output_padding, **kw).numpy()  # type: ignore[no-any-return]
    if op == "conv":
        return getattr(tf, f"conv{nd}d")(x, w, b, **kw).numpy()  # type: ignore[no-any-return]
    w.requires_grad_()
    getattr(tf, f"conv{nd}d")(x, w, **kw).backward(gy)
    return w.grad.numpy()  # type: ignore[no-any-return]


@settings(max_examples=60, deadline=None)
@given(geo=geometries(transposed=True))
def test_reference_conv_transpose_is_pytorchs(geo: Geo, torch) -> None:
    x, w, b, _ = geo.arrays()
    got = R.conv_transpose_nd(x, w, *geo.args(), bias=b)
    assert rel_err(got, torch_reference(torch, geo, "conv_transpose")) <= 1e-12


@settings(max_examples=60, deadline=None)
@given(geo=geometries(transposed=False))
def test_reference_conv_and_its_weight_gradient_are_pytorchs(geo: Geo, torch) -> None:
    x, w, b, gy = geo.arrays()
    got = R.conv_nd(x, w, *geo.args(), bias=b)
    assert rel_err(got, torch_reference(torch, geo, "conv")) <= 1e-12
    gw = R.conv_weight_grad_nd(x, gy, geo.k, geo.s, geo.d, geo.groups, geo.lo)
    assert rel_err(gw, torch_reference(torch, geo, "conv_weight")) <= 1e-12


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reference_keeps_the_dtype_and_takes_a_negative_offset(dtype) -> None:
    """A negative ``lo`` (the flipped kernel of a transposed conv padded past
    d (k - 1)) skips inputs: the same as slicing them off."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 9)).astype(dtype)
    w = rng.standard_normal((3, 2, 3)).astype(dtype)
    got = R.conv_nd(x, w, (1,), (1,), 1, (-2,), (4,))
    assert got.dtype == dtype
    assert rel_err(got, R.conv_nd(x[..., 2:], w, (1,), (1,), 1, (0,), (4,))) <= 1e-6
