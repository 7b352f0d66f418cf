"""tconv.compat.onnx against onnxruntime and onnx's reference implementation (the spec's
executable form), on hypothesis-drawn Conv and ConvTranspose nodes, and ONNX's own
node tests run through compat.onnx. Where onnxruntime and the spec differ, a test
pins the difference (the module docstring and the porting guide's table list them)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from helpers import rel_err
from tconv.compat import onnx as conv_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import helper, reference  # noqa: E402

pytestmark = pytest.mark.slow

TOL = {np.float32: 1e-5, np.float64: 1e-10}


def _model(
    op: str, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, attrs: dict
) -> onnx.ModelProto:
    elem = helper.np_dtype_to_tensor_dtype(x.dtype)
    names = ["X", "W"] + (["B"] if b is not None else [])
    arrays = [x, w] + ([b] if b is not None else [])
    node = helper.make_node(op, names, ["Y"], **attrs)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info(nm, elem, a.shape) for nm, a in zip(names, arrays)],
        [helper.make_tensor_value_info("Y", elem, None)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def run_ort(op: str, x, w, b, attrs: dict) -> np.ndarray:
    model = _model(op, x, w, b, attrs)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {"X": x, "W": w} | ({"B": b} if b is not None else {})
    return sess.run(None, feed)[0]


def run_reference(op: str, x, w, b, attrs: dict) -> np.ndarray:
    model = _model(op, x, w, b, attrs)
    feed = {"X": x, "W": w} | ({"B": b} if b is not None else {})
    return np.asarray(reference.ReferenceEvaluator(model).run(None, feed)[0])


def run_compat(op: str, x, w, b, attrs: dict) -> np.ndarray:
    fn = conv_onnx.conv if op == "Conv" else conv_onnx.conv_transpose
    return fn(x, w, b, **attrs)


@st.composite
def cases(draw, transposed: bool):
    """A node, its arrays and attributes: 1-3 spatial dims, groups, dilations, strides,
    explicit pads, VALID, SAME_UPPER/SAME_LOWER, output_padding, output_shape, a bias."""
    n = draw(st.integers(1, 3))
    g = draw(st.sampled_from([1, 1, 2, 3]))
    cin, cout = g * draw(st.integers(1, 2)), g * draw(st.integers(1, 2))
    k = [draw(st.integers(1, 4)) for _ in range(n)]
    s = [draw(st.integers(1, 3)) for _ in range(n)]
    d = [draw(st.integers(1, 2)) for _ in range(n)]
    L = [draw(st.integers(1, 6)) for _ in range(n)]
    e = [di * (ki - 1) + 1 for ki, di in zip(k, d)]
    mode = draw(st.sampled_from(["pads", "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"]))
    attrs: dict = {"strides": s, "dilations": d, "group": g}
    if draw(st.booleans()):
        attrs["kernel_shape"] = k
    if mode == "pads":
        if transposed:
            attrs["pads"] = [draw(st.integers(0, ei - 1)) for ei in e * 2]
        else:
            attrs["pads"] = [draw(st.integers(0, ei)) for ei in e * 2]
    elif mode != "NOTSET":
        attrs["auto_pad"] = mode
    if transposed:
        if draw(st.booleans()):
            attrs["output_padding"] = [draw(st.integers(0, si - 1)) for si in s]
        if draw(st.integers(0, 3)) == 0:
            full = [(Li - 1) * si + ei for Li, si, ei in zip(L, s, e)]
            attrs["output_shape"] = [draw(st.integers(max(f - 2, 1), f + 2)) for f in full]
            attrs.pop("pads", None)
            if attrs.get("auto_pad") == "VALID":
                attrs.pop("auto_pad")
    pads = attrs.get("pads", [0] * 2 * n)
    if not transposed and mode in ("pads", "NOTSET", "VALID"):  # a non-empty output
        assume(all(L[i] + pads[i] + pads[i + n] >= e[i] for i in range(n)))
    if transposed and "output_shape" not in attrs and mode in ("pads", "NOTSET", "VALID"):
        a = attrs.get("output_padding", [0] * n)
        assume(all((L[i] - 1) * s[i] + e[i] + a[i] - pads[i] - pads[i + n] > 0 for i in range(n)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((2, cin, *L)).astype(dtype)
    wshape = (cin, cout // g, *k) if transposed else (cout, cin // g, *k)
    w = rng.standard_normal(wshape).astype(dtype)
    b = rng.standard_normal(cout).astype(dtype) if draw(st.booleans()) else None
    return x, w, b, attrs


def _ort_agrees(x, w, attrs) -> bool:
    """Where onnxruntime 1.32 computes the spec (measured; the quirk tests below pin the
    rest): explicit pads and VALID; SAME_* where the total crop ``s(L-1) + a + k_eff -
    L s`` is not negative; output_shape where the total ``s(L-1) + a + k_eff - out`` is
    not negative, or is -1 outside SAME_UPPER where onnxruntime accepts the size."""
    n = x.ndim - 2
    mode = attrs.get("auto_pad", "NOTSET")
    if mode not in ("SAME_UPPER", "SAME_LOWER") and "output_shape" not in attrs:
        return True
    k, s, d = w.shape[2:], attrs["strides"], attrs["dilations"]
    a = attrs.get("output_padding", [0] * n)
    out = attrs.get("output_shape") or [Li * si for Li, si in zip(x.shape[2:], s)]
    for Li, si, ai, di, ki, o in zip(x.shape[2:], s, a, d, k, out):
        e = di * (ki - 1) + 1
        t = si * (Li - 1) + ai + e - o
        # onnxruntime's check of output_shape: the convolution of the output (output_padding
        # left out) gives the input
        checked = (o - e) // si + 1 == Li
        if t < 0 and not ("output_shape" in attrs and t == -1 and checked and mode != "SAME_UPPER"):
            return False
    return True


def _reference(x, w, b, attrs) -> np.ndarray:
    """onnx's reference implementation, the spec's executable form, where it is right:
    its group > 1 path fails or adds the bias wrongly, so each group runs alone (the
    spec's definition of groups) and the bias is added here; with output_shape and
    auto_pad NOTSET it ignores the spec's crop, which is SAME_LOWER's (the spec's
    'else' branch covers both)."""
    ref_attrs = dict(attrs, group=1)
    if "output_shape" in attrs and attrs.get("auto_pad", "NOTSET") == "NOTSET":
        ref_attrs["auto_pad"] = "SAME_LOWER"
    g = attrs["group"]
    xs, ws = np.split(x, g, axis=1), np.split(w, g, axis=0)
    y = np.concatenate(
        [run_reference("ConvTranspose", xi, wi, None, ref_attrs) for xi, wi in zip(xs, ws)], axis=1
    )
    if b is not None:
        y = y + b.reshape((-1,) + (1,) * (x.ndim - 2))
    return y


@settings(max_examples=160)
@given(case=cases(transposed=False))
def test_conv_matches_onnxruntime_and_reference(case):
    x, w, b, attrs = case
    got = run_compat("Conv", x, w, b, attrs)
    assert got.dtype == x.dtype
    same = attrs.get("auto_pad") in ("SAME_UPPER", "SAME_LOWER")
    # onnxruntime computes float32 only, and refuses a dilation with SAME_* (which the
    # spec and onnx's reference allow)
    if x.dtype == np.float32 and not (same and any(v > 1 for v in attrs["dilations"])):
        ref = run_ort("Conv", x, w, b, attrs)
    else:
        ref = run_reference("Conv", x, w, b, attrs)
    assert got.shape == ref.shape
    assert rel_err(got, ref) <= TOL[x.dtype.type]


@settings(max_examples=200)
@given(case=cases(transposed=True))
def test_conv_transpose_matches_onnxruntime_and_reference(case):
    x, w, b, attrs = case
    got = run_compat("ConvTranspose", x, w, b, attrs)
    assert got.dtype == x.dtype
    ref = _reference(x, w, b, attrs)
    assert got.shape == ref.shape and rel_err(got, ref) <= TOL[x.dtype.type]
    if x.dtype == np.float32 and _ort_agrees(x, w, attrs):
        ref = run_ort("ConvTranspose", x, w, b, attrs)
        assert got.shape == ref.shape and rel_err(got, ref) <= TOL[np.float32]


def test_onnxruntime_same_with_small_kernel_quirk():
    """Measured: for k_eff < s, onnxruntime's SAME_UPPER and SAME_LOWER return the full
    output s(L-1) + k_eff (L s - 1 for k 1, s 2); the spec (and onnx's reference, and
    compat) give L s, the crop split with ``//`` (SAME_UPPER: a zero at the start)."""
    x = np.arange(1.0, 6.0, dtype=np.float32).reshape(1, 1, 5)
    w = np.ones((1, 1, 1), np.float32)
    for mode, zeros in (("SAME_UPPER", (1, 0)), ("SAME_LOWER", (0, 1))):
        attrs = {"auto_pad": mode, "strides": [2]}
        full = np.zeros(9, np.float32)
        full[::2] = x.ravel()
        assert np.array_equal(run_ort("ConvTranspose", x, w, None, attrs).ravel(), full)
        spec = np.pad(full, zeros)
        assert np.array_equal(run_reference("ConvTranspose", x, w, None, attrs).ravel(), spec)
        assert np.array_equal(run_compat("ConvTranspose", x, w, None, attrs).ravel(), spec)


def test_onnxruntime_output_shape_quirks():
    """Measured: with output_shape past the full output, onnxruntime's SAME_UPPER appends
    the zero (the spec's ``total // 2`` prepends it), and for two past it onnxruntime
    refuses (its check that the convolution of the output gives the input)."""
    x = np.arange(1.0, 6.0, dtype=np.float32).reshape(1, 1, 5)
    w = np.array([[[1.0, 10.0, 100.0]]], np.float32)
    full = run_compat("ConvTranspose", x, w, None, {"strides": [2]}).ravel()
    attrs = {"auto_pad": "SAME_UPPER", "strides": [2], "output_shape": [12]}
    assert np.array_equal(run_ort("ConvTranspose", x, w, None, attrs).ravel(), np.pad(full, (0, 1)))
    assert np.array_equal(
        run_compat("ConvTranspose", x, w, None, attrs).ravel(), np.pad(full, (1, 0))
    )
    assert np.array_equal(
        run_reference("ConvTranspose", x, w, None, attrs).ravel(), np.pad(full, (1, 0))
    )
    with pytest.raises(Exception, match="output_shape is inconsistent"):
        run_ort("ConvTranspose", x, w, None, {"strides": [2], "output_shape": [13]})
    assert run_compat(
        "ConvTranspose", x, w, None, {"strides": [2], "output_shape": [13]}
    ).shape == (1, 1, 13)


def test_output_padding_beyond_stride_follows_the_spec():
    """The spec sets no bound on output_padding (zeros past the full output); onnxruntime
    refuses output_padding >= max(stride, dilation)."""
    x = np.ones((1, 1, 3), np.float32)
    w = np.ones((1, 1, 2), np.float32)
    attrs = {"strides": [2], "output_padding": [3]}
    with pytest.raises(Exception, match="output_padding"):
        run_ort("ConvTranspose", x, w, None, attrs)
    got = run_compat("ConvTranspose", x, w, None, attrs).ravel()
    assert np.array_equal(got, [1, 1, 1, 1, 1, 1, 0, 0, 0])


# -- ONNX's own conformance cases --------------------------------------------------------

FOUR = {
    "test_convtranspose_autopad_same",
    "test_convtranspose_output_shape",
    "test_convtranspose_kernel_shape",
    "test_conv_with_autopad_same",
}


def _node_cases():
    """ONNX's Conv and ConvTranspose node tests, generated in memory (the generator
    modules register their cases when imported; ``collect_testcases`` would generate
    every operator's, about 20 s)."""
    import importlib

    from onnx.backend.test.case import node as node_cases

    for module in ("conv", "convtranspose"):
        importlib.import_module(f"onnx.backend.test.case.node.{module}")
    return [
        case
        for case in node_cases._NodeTestCases
        if len(case.model.graph.node) == 1
        and case.model.graph.node[0].op_type in ("Conv", "ConvTranspose")
    ]


def test_node_tests_through_compat():
    """Every Conv and ConvTranspose node test of ONNX's suite, through compat.onnx,
    including the four that tconv's PyTorch-style ops cannot express."""
    cases = _node_cases()
    names = {c.name for c in cases}
    assert FOUR <= names, FOUR - names
    for case in cases:
        node = case.model.graph.node[0]
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in attrs.items()}
        attrs = {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in attrs.items()}
        for inputs, outputs in case.data_sets:
            fn = conv_onnx.conv if node.op_type == "Conv" else conv_onnx.conv_transpose
            got = fn(*inputs, **attrs)
            assert got.shape == outputs[0].shape, case.name
            np.testing.assert_allclose(
                got, outputs[0], rtol=case.rtol, atol=case.atol, err_msg=case.name
            )


def test_reference_group_bias_quirk():
    """Measured: onnx's reference implementation adds the first group's bias to every
    group's channels of a grouped ConvTranspose; onnxruntime and compat add each
    channel's own (why the hypothesis test runs the reference one group at a time)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 2, 3)).astype(np.float32)
    w = rng.standard_normal((2, 1, 2)).astype(np.float32)
    b = np.array([1.0, 2.0], np.float32)
    attrs = {"group": 2}
    good = run_ort("ConvTranspose", x, w, b, attrs)
    bad = run_reference("ConvTranspose", x, w, b, attrs)
    assert rel_err(run_compat("ConvTranspose", x, w, b, attrs), good) < 1e-6
    assert np.allclose(bad[:, 1] + 1.0, good[:, 1]) and np.allclose(bad[:, 0], good[:, 0])


def test_onnxruntime_has_no_float64_convolutions():
    """Why float64 cases are checked against onnx's reference only."""
    x, w = np.ones((1, 1, 4)), np.ones((1, 1, 2))
    for op in ("Conv", "ConvTranspose"):
        with pytest.raises(Exception, match=r"NOT_IMPLEMENTED|Could not find an implementation"):
            run_ort(op, x, w, None, {})
        assert run_compat(op, x, w, None, {}).dtype == np.float64
