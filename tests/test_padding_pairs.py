"""Asymmetric ``(lo, hi)`` padding pairs in conv{1,2,3}d and conv_transpose{1,2,3}d.

The oracles are independent of tconv's kernels and geometry: PyTorch's convolution of
an input padded by ``torch.nn.functional.pad`` (asymmetric), and PyTorch's transposed
convolution with padding 0 whose full output ``F.pad`` crops (negative pads) or extends
with zeros (positive pads), both with their autograd for the gradients; finite
differences (tconv.gradcheck); kernels/reference.py with the same geometry. Every
kernel path is run on geometries whose offset ``lo`` and output size are skewed away
from PyTorch's symmetric padding (negative offsets included), against the reference.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import tconv
import tconv.functional as F
from helpers import rel_err
from tconv import grad as G
from tconv import nn, shapes
from tconv.kernels import reference as R
from test_kernel_paths import CASES, JIT_CASES, check_path, needs_jit

TOL = {np.float64: 1e-10, np.float32: 1e-5}


@dataclass(frozen=True)
class Case:
    """One call with per-dim (lo, hi) padding; ``a`` is a transposed call's output_padding."""

    transposed: bool
    batch: int
    groups: int
    c_in: int
    c_out: int
    size: tuple[int, ...]
    k: tuple[int, ...]
    s: tuple[int, ...]
    d: tuple[int, ...]
    lo: tuple[int, ...]
    hi: tuple[int, ...]
    a: tuple[int, ...]
    bias: bool
    seed: int

    @property
    def nd(self) -> int:
        return len(self.size)

    @property
    def pairs(self) -> tuple[tuple[int, int], ...]:
        return tuple(zip(self.lo, self.hi))

    @property
    def full(self) -> tuple[int, ...]:
        """A transposed call's output before the crop, ``(L - 1) s + d(k-1) + 1``."""
        return tuple(
            (n - 1) * s + d * (k - 1) + 1 for n, s, d, k in zip(self.size, self.s, self.d, self.k)
        )

    @property
    def out(self) -> tuple[int, ...]:
        """The output size, from the definitions (not from tconv.shapes)."""
        if self.transposed:
            return tuple(
                f + a - lo - hi for f, a, lo, hi in zip(self.full, self.a, self.lo, self.hi)
            )
        return tuple(
            (n + lo + hi - d * (k - 1) - 1) // s + 1
            for n, lo, hi, d, k, s in zip(self.size, self.lo, self.hi, self.d, self.k, self.s)
        )

    def arrays(self, dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        rng = np.random.default_rng(self.seed)
        x = rng.standard_normal((self.batch, self.c_in, *self.size))
        ws = (
            (self.c_in, self.c_out // self.groups)
            if self.transposed
            else (self.c_out, self.c_in // self.groups)
        )
        w = rng.standard_normal(ws + self.k)
        b = rng.standard_normal(self.c_out).astype(dtype) if self.bias else None
        return x.astype(dtype), w.astype(dtype), b

    def kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = dict(
            stride=self.s, padding=self.pairs, dilation=self.d, groups=self.groups
        )
        if self.transposed:
            kw["output_padding"] = self.a
        return kw

    def op(self) -> Any:
        return getattr(F, f"conv_transpose{self.nd}d" if self.transposed else f"conv{self.nd}d")


@st.composite
def cases(draw: st.DrawFn, transposed: bool, nd: tuple[int, int] = (1, 3)) -> Case:
    rank = draw(st.integers(*nd))
    groups = draw(st.sampled_from([1, 1, 2]))
    smax = {1: 8, 2: 5, 3: 4}[rank]
    size = tuple(draw(st.integers(1, smax)) for _ in range(rank))
    k = tuple(draw(st.integers(1, 4 if rank < 3 else 3)) for _ in range(rank))
    s = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    d = tuple(draw(st.integers(1, 2)) for _ in range(rank))
    low = -3 if transposed else 0
    lo = tuple(draw(st.integers(low, 4)) for _ in range(rank))
    hi = tuple(draw(st.integers(low, 4)) for _ in range(rank))
    a = tuple(draw(st.integers(0, max(si, di) - 1)) if transposed else 0 for si, di in zip(s, d))
    case = Case(
        transposed, draw(st.integers(1, 2)), groups, groups * draw(st.integers(1, 2)),
        groups * draw(st.integers(1, 2)), size, k, s, d, lo, hi, a, draw(st.booleans()),
        draw(st.integers(0, 2**16)),
    )  # fmt: skip
    if transposed:
        assume(all(o >= 1 for o in case.out))
    else:
        assume(all(n + p + q >= di * (ki - 1) + 1 for n, p, q, di, ki in zip(size, lo, hi, d, k)))
    return case


def _torch_pad(case: Case) -> list[int]:
    """F.pad's flat list (last dim first) for the input pads of a convolution, or the
    crop (negative) / zero extension (positive) of a transposed convolution's full output."""
    if case.transposed:
        pairs = [(-lo, a - hi) for lo, hi, a in zip(case.lo, case.hi, case.a)]
    else:
        pairs = list(case.pairs)
    return [v for pair in reversed(pairs) for v in pair]


def torch_lowering(torch: Any, case: Case, x: Any, w: Any, b: Any) -> Any:
    """PyTorch's ops with symmetric padding 0 and F.pad: the definition of pairs."""
    tf = torch.nn.functional
    if case.transposed:
        full = getattr(tf, f"conv_transpose{case.nd}d")(
            x, w, None, case.s, 0, 0, case.groups, case.d
        )
        # zeros first, then the crops (a crop may reach past the full output's zeros)
        pads = _torch_pad(case)
        y = tf.pad(tf.pad(full, [max(v, 0) for v in pads]), [min(v, 0) for v in pads])
    else:
        y = getattr(tf, f"conv{case.nd}d")(
            tf.pad(x, _torch_pad(case)), w, None, case.s, 0, case.d, case.groups
        )
    return y if b is None else y + b.reshape((1, -1) + (1,) * case.nd)


def _reference(case: Case, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """kernels/reference.py, with the offset ``lo`` and the output size of the definition."""
    fn = R.conv_transpose_nd if case.transposed else R.conv_nd
    return fn(x, w, case.s, case.d, case.groups, case.lo, case.out, b)


@settings(max_examples=120)
@given(case=st.one_of(cases(True), cases(False)))
def test_values_and_gradients_match_the_torch_lowering(torch, case: Case) -> None:
    x, w, b = case.arrays()
    got = case.op()(x, w, b, **case.kwargs())
    assert got.shape == (case.batch, case.c_out, *case.out)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    ty = torch_lowering(torch, case, tx, tw, tb)
    assert rel_err(got, ty.detach().numpy()) <= TOL[np.float64]
    assert rel_err(got, _reference(case, x, w, b)) <= TOL[np.float64]
    # float32 stays float32, within 1e-5
    got32 = case.op()(
        *(v if v is None else v.astype(np.float32) for v in (x, w, b)), **case.kwargs()
    )
    assert got32.dtype == np.float32 and rel_err(got32, got) <= TOL[np.float32]
    # gradients: tconv's tape against PyTorch's autograd of the lowering
    gy = np.random.default_rng(case.seed + 1).standard_normal(got.shape)
    ty.backward(torch.tensor(gy))
    X, W = tconv.tensor(x, requires_grad=True), tconv.tensor(w, requires_grad=True)
    B = None if b is None else tconv.tensor(b, requires_grad=True)
    case.op()(X, W, B, **case.kwargs()).backward(gy)
    assert rel_err(X.grad, tx.grad.numpy()) <= TOL[np.float64]
    assert rel_err(W.grad, tw.grad.numpy()) <= TOL[np.float64]
    if b is not None:
        assert rel_err(B.grad, tb.grad.numpy()) <= TOL[np.float64]
    # tconv.grad's functions: the same VJPs, from the sizes alone
    kind = "conv_transpose" if case.transposed else "conv"
    gx = getattr(G, f"{kind}{case.nd}d_input")(x.shape, w, gy, **case.kwargs())
    gw = getattr(G, f"{kind}{case.nd}d_weight")(x, w.shape, gy, **case.kwargs())
    assert rel_err(gx, tx.grad.numpy()) <= TOL[np.float64]
    assert rel_err(gw, tw.grad.numpy()) <= TOL[np.float64]


@settings(max_examples=12)
@given(case=st.one_of(cases(True, nd=(1, 2)), cases(False, nd=(1, 2))))
def test_gradients_match_finite_differences(case: Case) -> None:
    """No PyTorch: central differences of the op itself (small cases, one backward per
    output element)."""
    assume(np.prod(case.out) * case.batch * case.c_out <= 200)
    x, w, b = case.arrays()
    args = [tconv.tensor(v, requires_grad=True) for v in (x, w) + ((b,) if b is not None else ())]
    op, kw = case.op(), case.kwargs()
    assert tconv.gradcheck(lambda *t: op(t[0], t[1], t[2] if len(t) > 2 else None, **kw), args)


# -- every kernel path, with the offset and output size skewed off PyTorch's symmetric ones --


@st.composite
def _skewed(draw: st.DrawFn, strategy: Any) -> Any:
    """A path's geometry with ``lo`` moved by -3..2 (negative offsets: zeros before a
    transposed convolution's full output; a convolution reading past its input's start,
    as the transposed one's input gradient does) and the output size moved by -2..3."""
    geo = draw(strategy)
    lo = tuple(v + draw(st.integers(-3, 2)) for v in geo.lo)
    out = tuple(max(1, v + draw(st.integers(-2, 3))) for v in geo.out)
    return replace(geo, lo=lo, out=out)


def _skewed_case(name: str, strategy: Any, budgets: Any, jit: bool, with_w: bool) -> Any:
    @settings(max_examples=6, suppress_health_check=[HealthCheck.filter_too_much])
    @given(geo=_skewed(strategy), budget=st.sampled_from(budgets))
    def test(geo: Any, budget: Any) -> None:
        check_path(name, geo, budget, jit, with_w)

    return test


# exact_cover_jit takes no padding and the full output only: a skewed one goes elsewhere
_UNSKEWED = (".empty", ".exact_cover_jit")


@pytest.mark.parametrize(
    ("name", "strategy", "budgets", "jit", "with_w"),
    [c for c in CASES if not c[0].endswith(_UNSKEWED)]
    + [pytest.param(*c, marks=needs_jit) for c in JIT_CASES if not c[0].endswith(_UNSKEWED)],
    ids=[
        c[0] + ("+conv" if c[4] else "") for c in CASES + JIT_CASES if not c[0].endswith(_UNSKEWED)
    ],
)
def test_every_path_takes_skewed_offsets(name, strategy, budgets, jit, with_w) -> None:
    _skewed_case(name, strategy, budgets, jit, with_w)()


# -- sizes: tconv.shapes raises iff the op raises, with the same message ----------------------


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", call()
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        return type(exc).__name__, msg.split(": ", 1)[1] if ": " in msg else msg


PAIR = st.tuples(st.integers(-4, 5), st.integers(-4, 5))
ENTRY = st.one_of(PAIR, st.integers(-1, 4), st.sampled_from([(1, 2, 3), (1.5, 0), "x", (True, 0)]))


@settings(max_examples=300)
@given(
    nd=st.integers(1, 2),
    transposed=st.booleans(),
    size=st.integers(1, 9),
    k=st.integers(1, 5),
    s=st.integers(1, 3),
    d=st.integers(1, 2),
    a=st.integers(0, 2),
    pads=st.lists(ENTRY, min_size=1, max_size=3),
)
def test_shapes_raise_iff_the_ops_raise(nd, transposed, size, k, s, d, a, pads) -> None:
    """Pairs (valid, negative, too many, malformed) through conv_output_size /
    conv_transpose_output_size and through the ops: same outcome, same message."""
    padding = tuple(pads)
    x, w = np.zeros((1, 1) + (size,) * nd), np.zeros((1, 1) + (k,) * nd)
    if transposed:
        mine = _outcome(
            lambda: shapes.conv_transpose_output_size((size,) * nd, k, s, padding, a, d)
        )
        op = _outcome(
            lambda: getattr(F, f"conv_transpose{nd}d")(x, w, None, s, padding, a, 1, d).shape[2:]
        )
    else:
        mine = _outcome(lambda: shapes.conv_output_size((size,) * nd, k, s, padding, d))
        op = _outcome(lambda: getattr(F, f"conv{nd}d")(x, w, None, s, padding, d).shape[2:])
    if op[0] == "ok":
        assert mine == ("ok", tuple(op[1]))
    else:
        assert mine == op


@settings(max_examples=200)
@given(
    size=st.integers(1, 9),
    target=st.integers(-1, 30),
    k=st.integers(1, 5),
    s=st.integers(1, 3),
    d=st.integers(1, 2),
    pair=PAIR,
)
def test_output_padding_for_and_range_with_pairs_agree_with_the_op(size, target, k, s, d, pair):
    x, w = np.zeros((1, 1, size)), np.zeros((1, 1, k))
    padding = (pair,)
    op = _outcome(
        lambda: F.conv_transpose1d(x, w, None, s, padding, 0, 1, d, output_size=[target]).shape[-1]
    )
    mine = _outcome(lambda: shapes.output_padding_for(size, target, k, s, padding, d))
    assert (op[0] == "ok") == (mine[0] == "ok"), (op, mine)
    if op[0] == "ok":
        assert op[1] == target
        y = F.conv_transpose1d(x, w, None, s, padding, mine[1], 1, d)
        assert y.shape[-1] == target
        ((first, last),) = shapes.output_size_range(size, k, s, padding, d)
        assert first <= target <= last
        # L_min from the definition: full - lo - hi
        assert target - mine[1][0] == (size - 1) * s + d * (k - 1) + 1 - sum(pair)
    else:
        assert mine == op


@settings(max_examples=100)
@given(
    size=st.integers(1, 9), k=st.integers(1, 5), s=st.integers(1, 3), d=st.integers(1, 2),
    pair=st.tuples(st.integers(0, 4), st.integers(0, 4)),
)  # fmt: skip
def test_observed_size_and_ignored_inputs_with_pairs(size, k, s, d, pair) -> None:
    """The round trip of a conv with pairs, run with the ops; ignored inputs by brute force."""
    lo, hi = pair
    assume(size + lo + hi >= d * (k - 1) + 1)
    padding = (pair,)
    out = (size + lo + hi - d * (k - 1) - 1) // s + 1
    read = {o * s + t * d - lo for o in range(out) for t in range(k)}
    assert shapes.ignored_inputs(size, k, s, padding, d) == (
        tuple(i for i in range(size) if i not in read),
    )
    obs = shapes.observed_size(size, k, s, padding, d)[0]
    assert obs == (out - 1) * s + d * (k - 1) + 1 - lo - hi
    if obs >= 1:
        y = F.conv1d(
            np.ones((1, 1, size)), np.ones((1, 1, k)), stride=s, padding=padding, dilation=d
        )
        back = F.conv_transpose1d(y, np.ones((1, 1, k)), stride=s, padding=padding, dilation=d)
        assert back.shape[-1] == obs
        assert shapes.preserves_size(size, k, s, padding, d) == ((obs == size),)


# -- modules -------------------------------------------------------------------------------


@settings(max_examples=25)
@given(
    case=st.one_of(cases(True), cases(False)),
    mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
)
def test_modules_take_pairs(torch, case: Case, mode: str) -> None:
    """nn.Conv*/ConvTranspose* with pairs: the functional op (zeros), or PyTorch's own
    module on the input padded by F.pad in that mode (the other modes, convolutions)."""
    assume(
        case.transposed or mode == "zeros" or all(max(p) < n for p, n in zip(case.pairs, case.size))
    )
    mode = "zeros" if case.transposed else mode
    kind = "ConvTranspose" if case.transposed else "Conv"
    cls = getattr(nn, f"{kind}{case.nd}d")
    extra = dict(output_padding=case.a) if case.transposed else {}
    m = cls(case.c_in, case.c_out, case.k, stride=case.s, padding=case.pairs, dilation=case.d,
            groups=case.groups, bias=case.bias, padding_mode=mode, dtype=np.float64, **extra)  # fmt: skip
    x, _, _ = case.arrays()
    got = m(x)
    b = None if m.bias is None else m.bias.data
    if mode == "zeros":
        ref = case.op()(x, m.weight.data, b, **case.kwargs())
    else:
        tf = torch.nn.functional
        padded = tf.pad(torch.tensor(x), _torch_pad(case), mode=mode)
        tb = None if b is None else torch.tensor(b)
        conv = getattr(tf, f"conv{case.nd}d")
        ref = conv(padded, torch.tensor(m.weight.data), tb, case.s, 0, case.d, case.groups).numpy()
    assert rel_err(got.data if hasattr(got, "data") else got, ref) <= TOL[np.float64]
    assert str(case.pairs) in repr(m)


# -- bad input ---------------------------------------------------------------------------

X1, W1, WT1 = np.zeros((1, 1, 5)), np.zeros((1, 1, 3)), np.zeros((1, 1, 3))
X2, W2 = np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 3, 3))

BAD = [
    (lambda: F.conv1d(X1, W1, padding=(1, 2)), ValueError,
     r"conv1d: padding must be an int or a tuple of 1 ints .*got 2 values \(1, 2\); for "
     r"per-side padding give one \(lo, hi\) pair per dim, first spatial dim first, e.g. "
     r"padding=\(\(1, 2\),\)"),
    (lambda: F.conv2d(X2, W2, padding=((1, 2),)), ValueError,
     r"conv2d: padding pairs must give one \(lo, hi\) pair per spatial dim, 2 in all, got 1"),
    (lambda: F.conv2d(X2, W2, padding=((1, 2), (1, 2, 3))), ValueError,
     r"conv2d: each padding pair must hold 2 ints \(lo, hi\), got 3 values \(1, 2, 3\)"),
    (lambda: F.conv2d(X2, W2, padding=((1, 2.5), 1)), TypeError,
     r"conv2d: padding entries must be ints or \(lo, hi\) pairs of ints, got tuple \(1, 2.5\)"),
    (lambda: F.conv2d(X2, W2, padding=((True, 0), 1)), TypeError,
     r"padding entries must be ints or \(lo, hi\) pairs of ints"),
    (lambda: F.conv1d(X1, W1, padding=((1, -1),)), ValueError,
     r"conv1d: padding pairs of a convolution must be non-negative \(they pad the input\), got "
     r"padding=\(\(1, -1\),\); to crop the input, slice it"),
    (lambda: F.conv1d(X1, np.zeros((1, 1, 9)), padding=((1, 2),)), ValueError,
     r"conv1d: kernel larger than the padded input: padded input size \(8,\)"),
    (lambda: F.conv_transpose1d(X1, WT1, padding=((5, 3),)), ValueError,
     r"conv_transpose1d: empty output: .*padding=\(\(5, 3\),\).*output size \(-1,\)"),
    (lambda: F.conv_transpose1d(X1, WT1, padding=((2**63, 0),)), ValueError,
     r"padding must fit in an int64"),
    (lambda: F.conv_transpose1d(X1, WT1, stride=2, padding=((0, 1),), output_size=20), ValueError,
     r"output_size 20 is out of range: .*padding=\(0, 1\).*reaches sizes 10 to 11"),
    (lambda: nn.Conv1d(1, 1, 3, padding=((1, -1),)), ValueError,
     r"Conv1d: padding pairs of a convolution must be non-negative"),
    (lambda: nn.ConvTranspose2d(1, 1, 3, padding=((1, 2),)), ValueError,
     r"ConvTranspose2d: padding pairs must give one \(lo, hi\) pair per spatial dim"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "exc", "match"), BAD)
def test_bad_pairs_are_refused_with_tconvs_errors(call, exc, match) -> None:
    with pytest.raises(exc, match=match):
        call()


def test_pairs_accept_arrays_and_mixed_entries() -> None:
    """An (n, 2) array, and ints among pairs (an int is (p, p))."""
    x, w = np.ones((1, 1, 6, 5)), np.ones((1, 1, 3, 2))
    want = F.conv2d(x, w, padding=((1, 2), (0, 0)))
    assert want.shape == (1, 1, 7, 4)
    assert np.array_equal(F.conv2d(x, w, padding=np.array([[1, 2], [0, 0]])), want)
    assert np.array_equal(F.conv2d(x, w, padding=[(1, 2), 0]), want)
    assert np.array_equal(F.conv2d(x, w, padding=((1, 1), (2, 2))), F.conv2d(x, w, padding=(1, 2)))
