"""Size arithmetic against the ops, brute force over a grid of geometries."""

from __future__ import annotations

import itertools
import math
import re
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tconv.functional as F
from tconv import shapes

GRID = [
    (L, k, s, p, d)
    for L, k, s, p, d in itertools.product(
        range(1, 11), range(1, 5), range(1, 4), range(0, 3), range(1, 3)
    )
    if L + 2 * p >= d * (k - 1) + 1  # the kernel fits the padded input
]


def direct_ignored(L: int, k: int, s: int, p: int, d: int) -> tuple[int, ...]:
    """Inputs no output reads, by a plain triple loop over outputs, taps and inputs."""
    n_out = (L + 2 * p - d * (k - 1) - 1) // s + 1
    read = {o * s + t * d - p for o in range(n_out) for t in range(k)}
    return tuple(i for i in range(L) if i not in read)


def test_grid_against_the_ops() -> None:
    """conv, conv_transpose, observed size, preservation and ignored inputs, by running the ops."""
    for L, k, s, p, d in GRID:
        x = np.zeros((1, 1, L))
        w = np.ones((1, 1, k))
        out = shapes.conv_output_size(L, k, s, p, d)
        assert out == F.conv1d(x, w, stride=s, padding=p, dilation=d).shape[-1]
        for a in range(max(s, d)):
            if (L - 1) * s - 2 * p + d * (k - 1) + a + 1 < 1:  # empty: both refuse
                with pytest.raises(ValueError, match="empty output"):
                    shapes.conv_transpose_output_size(L, k, s, p, a, d)
                continue
            got = shapes.conv_transpose_output_size(L, k, s, p, a, d)
            ref = F.conv_transpose1d(x, w, stride=s, padding=p, output_padding=a, dilation=d)
            assert got == ref.shape[-1], (L, k, s, p, a, d)
        # the round trip, run with the ops
        y = F.conv1d(np.ones((1, 1, L)), w, stride=s, padding=p, dilation=d)
        obs = shapes.observed_size(L, k, s, p, d)
        if obs >= 1:
            back = F.conv_transpose1d(y, w, stride=s, padding=p, dilation=d)
            assert obs == back.shape[-1], (L, k, s, p, d)
            assert obs == shapes.conv_transpose_output_size(out, k, s, p, 0, d)
        # the lecture's W = w + s q, generalised: L + 2p = d(k-1) + 1 + s q
        q, r = divmod(L + 2 * p - d * (k - 1) - 1, s)
        assert shapes.preserves_size(L, k, s, p, d) == (r == 0 and q >= 0)
        assert shapes.preserves_size(L, k, s, p, d) == (obs == L)
        # ignored inputs: a direct count, and the op's own view (zero gradient)
        ign = shapes.ignored_inputs(L, k, s, p, d)
        assert ign == direct_ignored(L, k, s, p, d), (L, k, s, p, d)
        grad = (
            F.conv_transpose1d(
                np.ones((1, 1, out)), w, stride=s, padding=p, dilation=d, output_size=L
            )
            if L - obs < max(s, d)
            else None
        )
        if grad is not None:
            assert tuple(np.flatnonzero(grad[0, 0] == 0)) == ign


def test_ignored_inputs_examples() -> None:
    assert shapes.ignored_inputs(8, 3, 2) == (7,)  # the brief's example
    assert shapes.ignored_inputs(9, 3, 2) == ()
    assert shapes.ignored_inputs(8, 3, 2, padding=1) == ()  # the padding is what is skipped
    assert shapes.ignored_inputs(10, 2, 4) == (2, 3, 6, 7)  # holes between windows
    assert shapes.ignored_inputs(10, 2, 4, dilation=2) == (1, 3, 5, 7, 8, 9)  # reads 0, 2 and 4, 6
    assert shapes.observed_size(8, 3, 2, padding=1) == 7  # the crop: 10 - 1 - 2*1


def test_lecture_rule_w_plus_s_q() -> None:
    """'a 1d convolution of kernel size w and stride s ... maintains the signal size W only if
    W = w + s q'."""
    for w, s in itertools.product(range(1, 6), range(1, 5)):
        keeps = {W for W in range(w, 40) if shapes.preserves_size(W, w, s)}
        assert keeps == {w + s * q for q in range(40) if w + s * q < 40}


def test_tuples_in_tuples_out() -> None:
    assert shapes.conv_output_size((9, 8), (3, 2), 2) == (4, 4)
    assert shapes.conv_transpose_output_size((4, 4), (3, 2), 2, 0, (0, 1)) == (9, 9)
    assert shapes.observed_size((9, 8), 3, 2) == (9, 7)
    assert shapes.preserves_size((9, 8), 3, 2) == (True, False)
    assert shapes.ignored_inputs((9, 8), 3, 2) == ((), (7,))
    assert shapes.output_padding_for((4, 4), (9, 10), 3, 2) == (0, 1)
    assert shapes.output_size_range((4, 4), 3, (2, 3)) == ((9, 10), (12, 14))
    with pytest.raises(ValueError, match=r"kernel_size must be an int or a tuple of 2 ints"):
        shapes.conv_output_size((9, 8), (3, 2, 1))


def test_output_padding_for_reaches_the_target_by_running_the_op() -> None:
    for L, k, s, p, d in GRID[::3]:
        if (L - 1) * s - 2 * p + d * (k - 1) + s < 1:  # nothing reachable: both refuse
            with pytest.raises(ValueError, match="empty output"):
                shapes.output_size_range(L, k, s, p, d)
            continue
        lo, hi = shapes.output_size_range(L, k, s, p, d)
        assert lo >= 1
        for target in range(lo, hi + 1):
            a = shapes.output_padding_for(L, target, k, s, p, d)
            if not (a < s or a < d):
                continue  # PyTorch refuses such an output_padding
            y = F.conv_transpose1d(
                np.zeros((1, 1, L)),
                np.zeros((1, 1, k)),
                stride=s,
                padding=p,
                output_padding=a,
                dilation=d,
            )
            assert y.shape[-1] == target


@pytest.mark.parametrize(
    "L,target,k,s,p", [(16, 34, 3, 2, 1), (16, 20, 3, 2, 0), (8, 16, 3, 2, 0), (5, 12, 4, 2, 2)]
)
def test_output_padding_for_error_states_range_and_a_working_suggestion(L, target, k, s, p):
    with pytest.raises(ValueError) as info:
        shapes.output_padding_for(L, target, k, s, p)
    msg = str(info.value)
    lo, hi = shapes.output_size_range(L, k, s, p)
    assert f"reaches sizes {lo} to {hi}" in msg and f"output_size {target}" in msg
    m = re.search(r"use padding=(\d+), output_padding=(\d+)", msg)
    assert m, msg
    p2, a2 = int(m.group(1)), int(m.group(2))
    y = F.conv_transpose1d(
        np.zeros((1, 1, L)), np.zeros((1, 1, k)), stride=s, padding=p2, output_padding=a2
    )
    assert y.shape[-1] == target


def test_output_padding_for_suggests_a_stride_when_out_of_reach() -> None:
    with pytest.raises(ValueError, match="stride of at least 3"):
        shapes.output_padding_for(16, 40, 3, 1)


@pytest.mark.parametrize("fn", [shapes.ignored_inputs, shapes.observed_size, shapes.preserves_size])
def test_errors_name_argument_and_value(fn) -> None:
    with pytest.raises(ValueError, match="stride must be positive, got stride=0"):
        fn(8, 3, 0)
    with pytest.raises(ValueError, match="padding must be non-negative"):
        fn(8, 3, 1, -1)
    with pytest.raises(
        ValueError, match=r"kernel larger than the padded input.*dilated kernel size \(9,\)"
    ):
        fn(4, 5, 1, 0, 2)


@settings(max_examples=40)
@given(
    nd=st.integers(2, 3),
    data=st.data(),
)
def test_nd_sizes_against_torch(torch, nd, data) -> None:
    dims = st.lists
    k = tuple(data.draw(dims(st.integers(1, 4), min_size=nd, max_size=nd)))
    s = tuple(data.draw(dims(st.integers(1, 3), min_size=nd, max_size=nd)))
    d = tuple(data.draw(dims(st.integers(1, 2), min_size=nd, max_size=nd)))
    p = tuple(data.draw(dims(st.integers(0, 2), min_size=nd, max_size=nd)))
    size = tuple(
        data.draw(st.integers(max(1, di * (ki - 1) + 1 - 2 * pi), 9))
        for ki, di, pi in zip(k, d, p, strict=True)
    )
    conv = getattr(torch.nn.functional, f"conv{nd}d")
    tconv_ = getattr(torch.nn.functional, f"conv_transpose{nd}d")
    x = torch.zeros((1, 1, *size))
    w = torch.zeros((1, 1, *k))
    out = conv(x, w, stride=s, padding=p, dilation=d).shape[2:]
    assert shapes.conv_output_size(size, k, s, p, d) == tuple(out)
    obs = shapes.observed_size(size, k, s, p, d)
    if all(o >= 1 for o in obs):
        back = tconv_(torch.zeros((1, 1, *out)), w, stride=s, padding=p, dilation=d)
        assert tuple(back.shape[2:]) == obs
    a = tuple(L - o for L, o in zip(size, obs, strict=True))
    # output_padding r < s always restores the size
    assert all(ai < si for ai, si in zip(a, s, strict=True))
    if all(o >= 1 for o in obs):
        back = tconv_(
            torch.zeros((1, 1, *out)), w, stride=s, padding=p, dilation=d, output_padding=a
        )
        assert tuple(back.shape[2:]) == size


def _outcome(call: Any) -> tuple[str, Any]:
    """('ok', result) or (exception type name, message without the function's name)."""
    try:
        return "ok", call()
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        return type(exc).__name__, msg.split(": ", 1)[1] if ": " in msg else msg


# Arguments as users pass them: mostly small ints, sometimes zero, negative, bools,
# floats, or huge.
ARG = st.one_of(
    st.integers(-2, 6),
    st.integers(-2, 6),
    st.integers(-2, 6),
    st.sampled_from([True, False, 1.5, 2.0, 10**9, 2**63]),
)
SIZE = st.integers(1, 12)
KERNEL = st.integers(1, 5)


@settings(max_examples=300)
@given(
    nd=st.integers(1, 2),
    size=SIZE,
    k=KERNEL,
    s=ARG,
    p=st.one_of(ARG, st.sampled_from(["same", "valid", "full"])),
    d=ARG,
)
def test_conv_output_size_raises_iff_the_op_raises(nd, size, k, s, p, d) -> None:
    conv = getattr(F, f"conv{nd}d")
    mine = _outcome(lambda: shapes.conv_output_size((size,) * nd, (k,) * nd, s, p, d))
    # shapes computes any size; the op would allocate it (or refuse it for memory)
    assume(mine[0] != "ok" or math.prod(mine[1]) < 10**6)
    op = _outcome(
        lambda: conv(
            np.zeros((1, 1) + (size,) * nd), np.zeros((1, 1) + (k,) * nd), None, s, p, d
        ).shape[2:]
    )
    if op[0] == "ok":
        assert mine == ("ok", tuple(op[1]))
    else:
        assert mine == op


@settings(max_examples=300)
@given(
    nd=st.integers(1, 2),
    size=SIZE,
    k=KERNEL,
    s=ARG,
    p=ARG,
    a=ARG,
    d=ARG,
)
def test_conv_transpose_output_size_raises_iff_the_op_raises(nd, size, k, s, p, a, d) -> None:
    tconv_ = getattr(F, f"conv_transpose{nd}d")
    mine = _outcome(lambda: shapes.conv_transpose_output_size((size,) * nd, k, s, p, a, d))
    assume(mine[0] != "ok" or math.prod(mine[1]) < 10**6)
    op = _outcome(
        lambda: tconv_(
            np.zeros((1, 1) + (size,) * nd), np.zeros((1, 1) + (k,) * nd), None, s, p, a, 1, d
        ).shape[2:]
    )
    if op[0] == "ok":
        assert mine == ("ok", tuple(op[1]))
    else:
        assert mine == op


@settings(max_examples=200)
@given(size=SIZE, target=st.integers(-1, 40), k=KERNEL, s=ARG, p=ARG, d=ARG)
def test_output_padding_for_and_range_agree_with_the_op(size, target, k, s, p, d) -> None:
    assume(not any(isinstance(v, int) and v > 6 for v in (s, d)))
    x, w = np.zeros((1, 1, size)), np.zeros((1, 1, k))
    op = _outcome(
        lambda: F.conv_transpose1d(x, w, None, s, p, 0, 1, d, output_size=[target]).shape[-1]
    )
    mine = _outcome(lambda: shapes.output_padding_for(size, target, k, s, p, d))
    assert (op[0] == "ok") == (mine[0] == "ok"), (op, mine)
    if op[0] == "ok":
        assert op[1] == target
        y = F.conv_transpose1d(x, w, None, s, p, mine[1], 1, d)
        assert y.shape[-1] == target
        lo, hi = shapes.output_size_range(size, k, s, p, d)
        assert lo <= target <= hi
    else:
        assert mine == op


def test_issue_13_output_padding_not_below_stride() -> None:
    """``conv_transpose_output_size(16, 3, stride=2, output_padding=5)`` returned 38."""
    with pytest.raises(ValueError) as mine:
        shapes.conv_transpose_output_size(16, 3, stride=2, output_padding=5)
    with pytest.raises(ValueError) as op:
        F.conv_transpose1d(np.zeros((1, 1, 16)), np.zeros((1, 1, 3)), stride=2, output_padding=5)
    assert str(mine.value).split(": ", 1)[1] == str(op.value).split(": ", 1)[1]


@pytest.mark.parametrize(
    "call",
    [
        lambda: shapes.conv_output_size(0, 3),
        lambda: shapes.conv_output_size(-4, 3),
        lambda: shapes.conv_output_size(5, 0),
        lambda: shapes.conv_output_size(True, 3),
        lambda: shapes.conv_output_size(5.0, 3),
        lambda: shapes.conv_transpose_output_size(5, 3, padding=5),
        lambda: shapes.observed_size(5, 3, stride=True),
        lambda: shapes.preserves_size(5, 7),
        lambda: shapes.ignored_inputs(5, 3, dilation=0),
        lambda: shapes.same_padding(0),
        lambda: shapes.same_padding(3, dilation=1.5),
        lambda: shapes.output_size_range(1, 1, 1, 3),
        lambda: shapes.suggest_transpose_params(0, 4, 3, 2),
        lambda: shapes.suggest_transpose_params(4, 8, 3, False),
    ],
)
def test_every_function_refuses_bad_arguments(call) -> None:
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    name = str(info.value).split(":", 1)[0]
    assert name in shapes.__all__, info.value


def test_suggest_is_constant_time_for_huge_strides() -> None:
    hint = shapes.suggest_transpose_params(16, 32, 3, 10**18)
    assert "out of reach" in hint or "use padding" in hint
