"""padding='same' / 'valid' and padding_mode='circular' for transposed convolutions.

Oracles, all independent of tconv's geometry code:

* 'same': TF's rule as its docs and REFERENCE.md state it, written here from scratch:
  output ``L s``, crop ``floor(max(full - out, 0) / 2)`` at the start, zeros past the
  full output; the full output from PyTorch (padding 0), cropped by ``F.pad``;
* circular: the full output folded with an explicit modular index (``np.add.at`` at
  ``(f - lo) mod L s``), not a reshape; PyTorch's autograd of that lowering for the
  gradients; the adjoint of PyTorch's own circular convolution (``padding_mode=
  'circular'``), whose input gradient is the circular transposed convolution;
* finite differences (tconv.gradcheck);
* with jax/flax/tensorflow installed (slow): ``jax.lax.conv_transpose(..., 'SAME')``,
  ``tf.nn.conv{1,2,3}d_transpose(..., padding='SAME')`` and
  ``flax.linen.ConvTranspose(padding='CIRCULAR')`` themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tconv
import tconv.functional as F
from helpers import rel_err
from tconv import grad as G
from tconv import nn, shapes

TOL = {np.float64: 1e-10, np.float32: 1e-5}


@dataclass(frozen=True)
class Case:
    batch: int
    groups: int
    c_in: int
    c_out: int
    size: tuple[int, ...]
    k: tuple[int, ...]
    s: tuple[int, ...]
    d: tuple[int, ...]
    p: int  # circular: the int padding (where the fold starts)
    bias: bool
    seed: int

    @property
    def nd(self) -> int:
        return len(self.size)

    @property
    def full(self) -> tuple[int, ...]:
        return tuple(
            (n - 1) * s + d * (k - 1) + 1 for n, s, d, k in zip(self.size, self.s, self.d, self.k)
        )

    @property
    def period(self) -> tuple[int, ...]:
        return tuple(n * s for n, s in zip(self.size, self.s))

    @property
    def tf_crop(self) -> tuple[int, ...]:
        """TF's SAME: ``floor(max(full - out, 0) / 2)`` elements dropped at the start."""
        return tuple(max(f - o, 0) // 2 for f, o in zip(self.full, self.period))

    def arrays(self, dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        rng = np.random.default_rng(self.seed)
        x = rng.standard_normal((self.batch, self.c_in, *self.size)).astype(dtype)
        w = rng.standard_normal((self.c_in, self.c_out // self.groups, *self.k)).astype(dtype)
        b = rng.standard_normal(self.c_out).astype(dtype) if self.bias else None
        return x, w, b

    def op(self) -> Any:
        return getattr(F, f"conv_transpose{self.nd}d")


@st.composite
def cases(draw: st.DrawFn, nd: tuple[int, int] = (1, 3), plain: bool = False) -> Case:
    """``plain``: groups 1 and dilation 1 (TF's CPU transposed convs take neither)."""
    rank = draw(st.integers(*nd))
    groups = 1 if plain else draw(st.sampled_from([1, 1, 2]))
    smax = {1: 7, 2: 4, 3: 3}[rank]
    return Case(
        draw(st.integers(1, 2)), groups, groups * draw(st.integers(1, 2)),
        groups * draw(st.integers(1, 2)),
        tuple(draw(st.integers(1, smax)) for _ in range(rank)),
        tuple(draw(st.integers(1, 5 if rank == 1 else 3)) for _ in range(rank)),
        tuple(draw(st.integers(1, 4)) for _ in range(rank)),
        tuple(draw(st.integers(1, 1 if plain else 2)) for _ in range(rank)),
        draw(st.integers(0, 7)), draw(st.booleans()), draw(st.integers(0, 2**16)),
    )  # fmt: skip


def _full(torch: Any, case: Case, x: Any, w: Any) -> Any:
    """PyTorch's transposed convolution with padding 0: the uncropped output."""
    tf = torch.nn.functional
    return getattr(tf, f"conv_transpose{case.nd}d")(x, w, None, case.s, 0, 0, case.groups, case.d)


def _bias(y: Any, b: Any, nd: int) -> Any:
    return y if b is None else y + b.reshape((1, -1) + (1,) * nd)


def torch_same(torch: Any, case: Case, x: Any, w: Any, b: Any) -> Any:
    """TF's SAME on PyTorch's full output: crop ``tf_crop`` at the start, keep ``L s``."""
    pads = [
        v
        for c, f, o in reversed(list(zip(case.tf_crop, case.full, case.period)))
        for v in (-c, o - (f - c))
    ]
    return _bias(torch.nn.functional.pad(_full(torch, case, x, w), pads), b, case.nd)


def _fold_index(torch: Any, y: Any, axis: int, start: int, period: int) -> Any:
    """``out[j] = sum of y[f]`` over ``f`` with ``(f - start) mod period == j``, along ``axis``."""
    idx = torch.tensor((np.arange(y.shape[axis]) - start) % period)
    shape = list(y.shape)
    shape[axis] = period
    return torch.zeros(shape, dtype=y.dtype).index_add(axis, idx, y)


def torch_circular(torch: Any, case: Case, x: Any, w: Any, b: Any, start: tuple[int, ...]) -> Any:
    """Flax's circular: PyTorch's full output, wrapped with period ``L s`` from ``start``."""
    y = _full(torch, case, x, w)
    for i, (c, p) in enumerate(zip(start, case.period)):
        y = _fold_index(torch, y, 2 + i, c, p)
    return _bias(y, b, case.nd)


def numpy_circular(full: np.ndarray, start: tuple[int, ...], period: tuple[int, ...]) -> np.ndarray:
    """The fold with ``np.add.at``, one spatial axis at a time."""
    y = full
    for i, (c, p) in enumerate(zip(start, period)):
        moved = np.moveaxis(y, 2 + i, 0)
        out = np.zeros((p,) + moved.shape[1:])
        np.add.at(out, (np.arange(moved.shape[0]) - c) % p, moved)
        y = np.moveaxis(out, 0, 2 + i)
    return y


# -- 'same' and 'valid' --------------------------------------------------------------------


@settings(max_examples=80)
@given(case=cases())
def test_same_is_tfs_rule_values_and_gradients(torch, case: Case) -> None:
    x, w, b = case.arrays()
    got = case.op()(x, w, b, case.s, "same", 0, case.groups, case.d)
    assert got.shape == (case.batch, case.c_out, *case.period)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    ty = torch_same(torch, case, tx, tw, tb)
    assert rel_err(got, ty.detach().numpy()) <= TOL[np.float64]
    got32 = case.op()(*(v if v is None else v.astype(np.float32) for v in (x, w, b)),
                      case.s, "same", 0, case.groups, case.d)  # fmt: skip
    assert got32.dtype == np.float32 and rel_err(got32, got) <= TOL[np.float32]
    # the split, as tconv.shapes states it, is TF's crop at the start
    pairs = shapes.conv_transpose_same_padding(case.k, case.s, case.d)
    assert tuple(lo for lo, _ in pairs) == case.tf_crop
    gy = np.random.default_rng(case.seed + 7).standard_normal(got.shape)
    ty.backward(torch.tensor(gy))
    X, W = tconv.tensor(x, requires_grad=True), tconv.tensor(w, requires_grad=True)
    B = None if b is None else tconv.tensor(b, requires_grad=True)
    case.op()(X, W, B, case.s, "same", 0, case.groups, case.d).backward(gy)
    assert rel_err(X.grad, tx.grad.numpy()) <= TOL[np.float64]
    assert rel_err(W.grad, tw.grad.numpy()) <= TOL[np.float64]
    if b is not None:
        assert rel_err(B.grad, tb.grad.numpy()) <= TOL[np.float64]
    kw = dict(stride=case.s, padding="same", groups=case.groups, dilation=case.d)
    gx = getattr(G, f"conv_transpose{case.nd}d_input")(x.shape, w, gy, **kw)
    gw = getattr(G, f"conv_transpose{case.nd}d_weight")(x, w.shape, gy, **kw)
    assert rel_err(gx, tx.grad.numpy()) <= TOL[np.float64]
    assert rel_err(gw, tw.grad.numpy()) <= TOL[np.float64]


@settings(max_examples=30)
@given(case=cases(), a=st.integers(0, 3))
def test_valid_is_padding_zero(torch, case: Case, a: int) -> None:
    a = min(a, max(max(case.s), max(case.d)) - 1)
    op_pad = tuple(min(a, max(s, d) - 1) for s, d in zip(case.s, case.d))
    x, w, b = case.arrays()
    got = case.op()(x, w, b, case.s, "valid", op_pad, case.groups, case.d)
    tf = torch.nn.functional
    ref = getattr(tf, f"conv_transpose{case.nd}d")(
        *(None if v is None else torch.tensor(v) for v in (x, w, b)),
        case.s, 0, op_pad, case.groups, case.d,
    )  # fmt: skip
    assert rel_err(got, ref.numpy()) <= TOL[np.float64]


@settings(max_examples=10)
@given(case=cases(nd=(1, 2)), circular=st.booleans())
def test_same_and_circular_gradients_match_finite_differences(case: Case, circular: bool) -> None:
    assume(np.prod(case.period) * case.batch * case.c_out <= 150)
    x, w, b = case.arrays()
    args = [tconv.tensor(v, requires_grad=True) for v in (x, w) + ((b,) if b is not None else ())]
    kw: dict[str, Any] = dict(stride=case.s, dilation=case.d, groups=case.groups)
    if circular:
        kw.update(padding=case.p, padding_mode="circular")
    else:
        kw.update(padding="same")
    op = case.op()
    assert tconv.gradcheck(lambda *t: op(t[0], t[1], t[2] if len(t) > 2 else None, **kw), args)


# -- circular ------------------------------------------------------------------------------


@settings(max_examples=80)
@given(case=cases(), same=st.booleans())
def test_circular_values_and_gradients(torch, case: Case, same: bool) -> None:
    """The fold starts at the int padding, or at the 'same' crop (TF's) for 'same'."""
    start = case.tf_crop if same else (case.p,) * case.nd
    padding = "same" if same else case.p
    x, w, b = case.arrays()
    got = case.op()(x, w, b, case.s, padding, 0, case.groups, case.d, padding_mode="circular")
    assert got.shape == (case.batch, case.c_out, *case.period)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    full = _full(torch, case, tx, tw).detach().numpy()
    ref = numpy_circular(full, start, case.period)
    if b is not None:
        ref = ref + b.reshape((1, -1) + (1,) * case.nd)
    assert rel_err(got, ref) <= TOL[np.float64]
    got32 = case.op()(*(v if v is None else v.astype(np.float32) for v in (x, w, b)), case.s,
                      padding, 0, case.groups, case.d, padding_mode="circular")  # fmt: skip
    assert got32.dtype == np.float32 and rel_err(got32, got) <= TOL[np.float32]
    tb = None if b is None else torch.tensor(b, requires_grad=True)
    ty = torch_circular(torch, case, tx, tw, tb, start)
    assert rel_err(got, ty.detach().numpy()) <= TOL[np.float64]
    gy = np.random.default_rng(case.seed + 3).standard_normal(got.shape)
    ty.backward(torch.tensor(gy))
    X, W = tconv.tensor(x, requires_grad=True), tconv.tensor(w, requires_grad=True)
    B = None if b is None else tconv.tensor(b, requires_grad=True)
    case.op()(X, W, B, case.s, padding, 0, case.groups, case.d, padding_mode="circular").backward(
        gy
    )
    assert rel_err(X.grad, tx.grad.numpy()) <= TOL[np.float64]
    assert rel_err(W.grad, tw.grad.numpy()) <= TOL[np.float64]
    if b is not None:
        assert rel_err(B.grad, tb.grad.numpy()) <= TOL[np.float64]
    kw = dict(stride=case.s, padding=padding, groups=case.groups, dilation=case.d,
              padding_mode="circular")  # fmt: skip
    gx = getattr(G, f"conv_transpose{case.nd}d_input")(x.shape, w, gy, **kw)
    gw = getattr(G, f"conv_transpose{case.nd}d_weight")(x, w.shape, gy, **kw)
    assert rel_err(gx, tx.grad.numpy()) <= TOL[np.float64]
    assert rel_err(gw, tw.grad.numpy()) <= TOL[np.float64]


@settings(max_examples=60)
@given(case=cases(), data=st.data())
def test_circular_is_the_adjoint_of_torchs_circular_conv(torch, case: Case, data) -> None:
    """PyTorch's ``Conv(padding=p, padding_mode='circular')`` maps ``L s`` to ``L`` when
    ``d(k-1) + 1 - s <= 2p <= d(k-1)``; the input gradient of that convolution is the
    circular transposed convolution with padding ``p``."""
    pads = []
    for s, d, k, P in zip(case.s, case.d, case.k, case.period):
        least, most = -(-max(d * (k - 1) + 1 - s, 0) // 2), min(d * (k - 1) // 2, P)
        assume(least <= most)
        pads.append(data.draw(st.integers(least, most)))
    p = tuple(pads)
    x, w, _ = case.arrays()
    u = torch.zeros((case.batch, case.c_out, *case.period), dtype=torch.float64, requires_grad=True)
    conv = getattr(torch.nn, f"Conv{case.nd}d")(
        case.c_out, case.c_in, case.k, case.s, p, case.d, case.groups, False, "circular",
        dtype=torch.float64,
    )  # fmt: skip
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(w))
    y = conv(u)
    assert tuple(y.shape[2:]) == case.size
    y.backward(torch.tensor(x))
    got = case.op()(x, w, None, case.s, p, 0, case.groups, case.d, padding_mode="circular")
    assert rel_err(got, u.grad.numpy()) <= TOL[np.float64]


# -- sizes: tconv.shapes raises iff the op raises, with the same message --------------------


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        return "ok", call()
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        return type(exc).__name__, msg.split(": ", 1)[1] if ": " in msg else msg


@settings(max_examples=300)
@given(
    nd=st.integers(1, 2),
    size=st.integers(1, 9),
    k=st.integers(1, 5),
    s=st.integers(1, 4),
    d=st.integers(1, 2),
    a=st.integers(0, 2),
    padding=st.one_of(st.sampled_from(["same", "valid", "full"]), st.integers(0, 4),
                      st.just(((1, -1),)), st.just(((0, 1), (2, 0)))),
    mode=st.sampled_from(["zeros", "circular", "reflect"]),
    target=st.one_of(st.none(), st.integers(0, 40)),
)  # fmt: skip
def test_shapes_raise_iff_the_ops_raise(nd, size, k, s, d, a, padding, mode, target) -> None:
    assume(target is None or a == 0)  # output_padding_for takes no output_padding
    x, w = np.zeros((1, 1) + (size,) * nd), np.zeros((1, 1) + (k,) * nd)
    op_fn = getattr(F, f"conv_transpose{nd}d")
    out_size = None if target is None else (target,) * nd
    op = _outcome(lambda: op_fn(x, w, None, s, padding, a, 1, d, output_size=out_size,
                                padding_mode=mode).shape[2:])  # fmt: skip
    if target is None:
        mine = _outcome(lambda: shapes.conv_transpose_output_size(
            (size,) * nd, k, s, padding, a, d, padding_mode=mode))  # fmt: skip
    else:
        mine = _outcome(lambda: shapes.output_padding_for(
            (size,) * nd, out_size, k, s, padding, d, padding_mode=mode))  # fmt: skip
        if mine[0] == "ok":
            mine = ("ok", out_size)
    if op[0] == "ok":
        assert mine == ("ok", tuple(op[1]))
        if padding == "same" or mode == "circular":
            assert tuple(op[1]) == (size * s,) * nd
            rng = shapes.output_size_range(size, k, s, padding, d, padding_mode=mode)
            assert rng == (size * s, size * s)
    else:
        assert mine == op


def test_same_split_examples_where_the_frameworks_agree_and_differ() -> None:
    """k_eff >= s: TF/JAX/ONNX SAME_UPPER's split, odd element at the end; k_eff < s:
    nothing cropped, zeros at the end (TF, JAX)."""
    assert shapes.conv_transpose_same_padding(4, 2) == (1, 1)
    assert shapes.conv_transpose_same_padding(5, 2) == (1, 2)
    assert shapes.conv_transpose_same_padding(3, 3) == (0, 0)
    assert shapes.conv_transpose_same_padding(2, 4) == (0, -2)
    assert shapes.conv_transpose_same_padding(3, 2, dilation=2) == (1, 2)
    y = F.conv_transpose1d(np.ones((1, 1, 2)), np.ones((1, 1, 2)), stride=4, padding="same")
    assert y.tolist() == [[[1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]]]


# -- modules ---------------------------------------------------------------------------------


@settings(max_examples=20)
@given(case=cases(), mode=st.sampled_from(["zeros", "circular"]), same=st.booleans())
def test_modules(case: Case, mode: str, same: bool) -> None:
    padding = "same" if same else case.p
    assume(same or mode == "circular" or all(f > 2 * case.p for f in case.full))
    cls = getattr(nn, f"ConvTranspose{case.nd}d")
    m = cls(case.c_in, case.c_out, case.k, case.s, padding, groups=case.groups, bias=case.bias,
            dilation=case.d, padding_mode=mode, dtype=np.float64)  # fmt: skip
    x, _, _ = case.arrays()
    b = None if m.bias is None else m.bias.data
    want = case.op()(x, m.weight.data, b, case.s, padding, 0, case.groups, case.d,
                     padding_mode=mode)  # fmt: skip
    assert rel_err(m(x).data, want) <= TOL[np.float64]
    if same or mode == "circular":
        assert m(x, output_size=case.period).shape == want.shape
        with pytest.raises(ValueError, match=r"gives the output size input \* stride"):
            m(x, output_size=tuple(v + 1 for v in case.period))


# -- bad input -----------------------------------------------------------------------------

X1, W1 = np.zeros((1, 1, 5)), np.zeros((1, 1, 3))

BAD = [
    (lambda: F.conv_transpose1d(X1, W1, stride=2, padding="same", output_padding=1),
     r"conv_transpose1d: padding='same' gives the output size input \* stride and takes no "
     r"output_padding, got output_padding=\(1,\); give explicit \(lo, hi\) pairs"),
    (lambda: F.conv_transpose1d(X1, W1, stride=2, padding="same", output_size=9),
     r"conv_transpose1d: padding='same' gives the output size input \* stride = \(10,\), got "
     r"output_size=\(9,\); for another size give explicit \(lo, hi\) pairs"),
    (lambda: F.conv_transpose1d(X1, W1, stride=2, padding_mode="circular", output_padding=1),
     r"padding_mode='circular' gives the output size input \* stride and takes no output_padding"),
    (lambda: F.conv_transpose1d(X1, W1, padding=((0, 1),), padding_mode="circular"),
     r"conv_transpose1d: padding_mode='circular' takes an int padding .* got pairs "
     r"padding=\(\(0, 1\),\)"),
    (lambda: F.conv_transpose1d(X1, W1, padding_mode="reflect"),
     r"conv_transpose1d: padding_mode must be 'zeros' or 'circular' for a transposed "
     r"convolution, got padding_mode='reflect'"),
    (lambda: F.conv_transpose1d(X1, W1, padding="full"),
     r"conv_transpose1d: padding string must be 'same' or 'valid', got padding='full'"),
    (lambda: nn.ConvTranspose1d(1, 1, 3, 2, padding="same", output_padding=1),
     r"ConvTranspose1d: padding='same' gives the output size input \* stride and takes no"),
    (lambda: nn.ConvTranspose2d(1, 1, 3, padding=((0, 1), (1, 0)), padding_mode="circular"),
     r"ConvTranspose2d: padding_mode='circular' takes an int padding"),
    (lambda: nn.ConvTranspose3d(1, 1, 3, padding_mode="replicate"),
     r"ConvTranspose3d: padding_mode must be 'zeros' or 'circular'"),
    (lambda: shapes.conv_transpose_same_padding(0, 2),
     r"conv_transpose_same_padding: kernel_size must be positive"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "match"), BAD)
def test_bad_combinations_are_refused(call, match) -> None:
    with pytest.raises(ValueError, match=match):
        call()


# -- the frameworks themselves (slow) ------------------------------------------------------


@pytest.mark.slow
@settings(max_examples=60)
@given(case=cases(), dtype=st.sampled_from([np.float32, np.float64]))
def test_same_against_jax(case: Case, dtype: Any) -> None:
    """``jax.lax.conv_transpose(..., 'SAME', transpose_kernel=True)``: kernel (k..., out,
    in) unflipped, NC... layouts through dimension_numbers; no groups in JAX."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    assume(case.groups == 1)
    x, w, _ = case.arrays(dtype)
    spatial = "DHW"[3 - case.nd :]
    dn = (f"NC{spatial}", f"OI{spatial}", f"NC{spatial}")  # rhs O = tconv's C_in (transposed)
    ref = jax.lax.conv_transpose(x, w, case.s, "SAME", rhs_dilation=case.d,
                                 dimension_numbers=dn, transpose_kernel=True)  # fmt: skip
    got = case.op()(x, w, None, case.s, "same", 0, 1, case.d)
    assert got.dtype == dtype and rel_err(got, np.asarray(ref)) <= TOL[dtype]


@pytest.mark.slow
@settings(max_examples=40)
@given(case=cases(plain=True), dtype=st.sampled_from([np.float32, np.float64]))
def test_same_against_tensorflow(case: Case, dtype: Any) -> None:
    """``tf.nn.conv{n}d_transpose(..., padding='SAME')`` with output_shape ``L s``
    (TF's CPU kernels: no dilation, no groups; NWC/NHWC/NDHWC, filters (k..., out, in))."""
    tf = pytest.importorskip("tensorflow")
    x, w, _ = case.arrays(dtype)
    nd = case.nd
    xt = np.moveaxis(x, 1, -1)
    wt = np.transpose(w, tuple(range(2, 2 + nd)) + (1, 0))
    fn = {1: tf.nn.conv1d_transpose, 2: tf.nn.conv2d_transpose, 3: tf.nn.conv3d_transpose}[nd]
    shape = (case.batch, *case.period, case.c_out)
    ref = np.moveaxis(np.asarray(fn(xt, wt, shape, list(case.s), padding="SAME")), -1, 1)
    got = case.op()(x, w, None, case.s, "same", 0, 1, case.d)
    assert rel_err(got, ref) <= TOL[dtype]


def flax_start(case: Case, transpose_kernel: bool) -> tuple[int, ...]:
    """Where flax.linen.ConvTranspose(padding='CIRCULAR') starts its fold, from its source:
    VALID output ``y`` (``(L-1)s + max(k_eff, s)``), ``diff = -(y - P) mod 2P`` padded
    ``(diff // 2, ...)`` (transpose_kernel) or ``((diff + 1) // 2, ...)`` before the wrap."""
    starts = []
    for n, s, d, k, P in zip(case.size, case.s, case.d, case.k, case.period):
        y = (n - 1) * s + max(d * (k - 1) + 1, s)
        diff = -(y - P) % (2 * P)
        left = diff // 2 if transpose_kernel else (diff + 1) // 2
        starts.append(-left % P)
    return tuple(starts)


@pytest.mark.slow
@settings(max_examples=40)
@given(
    case=cases(), transpose_kernel=st.booleans(), dtype=st.sampled_from([np.float32, np.float64])
)
def test_circular_against_flax(case: Case, transpose_kernel: bool, dtype: Any) -> None:
    """flax.linen.ConvTranspose(padding='CIRCULAR') equals padding_mode='circular' with the
    int padding at Flax's start; its kernel is PyTorch's weight laid out (k..., out, in)
    with transpose_kernel=True, or flipped in space and laid out (k..., in, out) without."""
    jax = pytest.importorskip("jax")
    flax_nn = pytest.importorskip("flax.linen")
    jax.config.update("jax_enable_x64", True)
    assume(case.groups == 1)
    x, w, b = case.arrays(dtype)
    nd = case.nd
    sp = tuple(range(2, 2 + nd))
    kernel = (np.transpose(w, sp + (1, 0)) if transpose_kernel
              else np.transpose(np.flip(w, sp), sp + (0, 1)))  # fmt: skip
    layer = flax_nn.ConvTranspose(case.c_out, case.k, case.s, padding="CIRCULAR",
                                  kernel_dilation=case.d, use_bias=b is not None,
                                  transpose_kernel=transpose_kernel, dtype=dtype,
                                  param_dtype=dtype)  # fmt: skip
    params = {"kernel": kernel} | ({} if b is None else {"bias": b})
    ref = layer.apply({"params": params}, np.moveaxis(x, 1, -1))
    ref = np.moveaxis(np.asarray(ref), -1, 1)
    # the start is Flax's: an int padding per dim there (any offset mod L s is one)
    start = flax_start(case, transpose_kernel)
    got = case.op()(x, w, b, case.s, start, 0, 1, case.d, padding_mode="circular")
    assert got.dtype == dtype and rel_err(got, ref) <= TOL[dtype]
