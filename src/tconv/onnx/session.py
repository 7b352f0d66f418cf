"""``tconv.onnx.load``: an ONNX model as a session with onnxruntime's interface, run by
tconv's own ops (:mod:`tconv.onnx.ops`).

The graph is compiled once, at load time: every node's op type is looked up in
:data:`tconv.onnx.ops.OPS` and its attributes are decoded and checked, so that a
model tconv cannot run fails there, naming the nodes, never half-way through a
run. ``run`` then walks the nodes in order, keeps each intermediate only until its
last reader, and returns arrays that share no memory with the feeds or the
model's weights.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _proto
from .ops import CHECKS, OPS, Node, supported_ops

ModelLike = Any  # a path, bytes, or an onnx.ModelProto

_FN = "tconv.onnx.load"


@dataclass(frozen=True)
class NodeArg:
    """A graph input or output as onnxruntime describes it: ``name``, ``shape`` (an int
    per fixed dim, the symbol of a named one, None otherwise) and ``type``
    (e.g. ``'tensor(float)'``)."""

    name: str
    shape: list[int | str | None]
    type: str


def read_model(path_or_model: ModelLike, fn: str = _FN, base_dir: str | None = None) -> Any:
    """The ``ModelProto`` of a path (its external data read from the file's folder),
    of serialized bytes, or a ModelProto itself (external data read from
    ``base_dir``). A file that is not an ONNX model is a ValueError."""
    onnx = _proto.require(fn)
    if isinstance(path_or_model, onnx.ModelProto):
        model = path_or_model
        if base_dir is not None:
            model = onnx.ModelProto.FromString(model.SerializeToString())
            onnx.external_data_helper.load_external_data_for_model(model, base_dir)
        return model
    if isinstance(path_or_model, (bytes, bytearray)):
        try:
            return onnx.load_model_from_string(bytes(path_or_model))
        except Exception as exc:  # protobuf's DecodeError and kin
            raise ValueError(f"{fn}: the bytes are not an ONNX model ({exc})") from None
    if not isinstance(path_or_model, (str, os.PathLike)):
        raise TypeError(
            f"{fn}: path_or_model must be a path, bytes or an onnx.ModelProto, "
            f"got {type(path_or_model).__name__}"
        )
    path = os.fspath(path_or_model)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{fn}: no such file: {path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{fn}: {path!r} is a folder, not an ONNX model")
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and kin
        raise ValueError(f"{fn}: {path!r} is not an ONNX model ({type(exc).__name__})") from None
    if not isinstance(model, onnx.ModelProto) or not model.HasField("graph"):
        raise ValueError(f"{fn}: {path!r} is not an ONNX model (it holds no graph)")
    try:
        onnx.external_data_helper.load_external_data_for_model(
            model, base_dir or os.path.dirname(os.path.abspath(path))
        )
    except (OSError, ValueError) as exc:
        raise ValueError(f"{fn}: {path!r}: its external data cannot be read: {exc}") from None
    return model


def _opset(model: Any) -> int:
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    return 1 if not model.opset_import else 0


def _node_name(node: Any, index: int) -> str:
    return node.name or f"#{index} ({node.op_type})"


def compile_graph(model: Any, fn: str = _FN) -> tuple[list[Node], list[str]]:
    """The graph's nodes as :class:`Node` s, and one line per node that tconv cannot run
    (an unknown op, a foreign domain, an attribute tconv does not honour)."""
    opset = _opset(model)
    nodes: list[Node] = []
    problems: list[str] = []
    for i, n in enumerate(model.graph.node):
        name = _node_name(n, i)
        if n.domain not in ("", "ai.onnx"):
            problems.append(f"node {name!r}: op {n.domain}.{n.op_type} (domain {n.domain!r})")
            continue
        if n.op_type not in OPS:
            problems.append(f"node {name!r}: op {n.op_type}")
            continue
        try:
            attrs = {a.name: _proto.attribute(a, fn, f"node {name!r}") for a in n.attribute}
            node = Node(n.op_type, name, tuple(n.input), tuple(n.output), attrs, opset)
            check = CHECKS.get(n.op_type)
            if check is not None:
                check(node)
        except (ValueError, TypeError) as exc:
            problems.append(str(exc).removeprefix("tconv.onnx: ").removeprefix(f"{fn}: "))
            continue
        nodes.append(node)
    return nodes, problems


def check(path_or_model: ModelLike) -> list[str]:
    """What keeps tconv from running a model: one line per node (empty when it runs).

    >>> import pytest; onnx = pytest.importorskip("onnx")
    >>> from onnx import helper, TensorProto
    >>> g = helper.make_graph(
    ...     [helper.make_node("Relu", ["x"], ["h"]), helper.make_node("Erf", ["h"], ["y"])],
    ...     "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
    ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    >>> check(helper.make_model(g))
    ["node '#1 (Erf)': op Erf"]
    """
    return compile_graph(read_model(path_or_model, "tconv.onnx.check"), "tconv.onnx.check")[1]


class Session:
    """An ONNX model run by tconv, with onnxruntime's ``InferenceSession`` interface:
    ``run(output_names, input_feed)``, ``get_inputs()``, ``get_outputs()``.

    Build it with :func:`tconv.onnx.load`.
    """

    def __init__(self, model: Any) -> None:
        onnx = _proto.require(_FN)
        graph = model.graph
        if len(graph.sparse_initializer):
            raise ValueError(f"{_FN}: sparse initializers are not supported")
        for v in [*graph.input, *graph.output]:
            if not v.type.HasField("tensor_type"):
                kind = v.type.WhichOneof("value") or "untyped"
                raise ValueError(
                    f"{_FN}: graph {'input' if v in graph.input else 'output'} {v.name!r} is "
                    f"a {kind.removesuffix('_type')} value; tconv runs tensors only"
                )
        self.opset = _opset(model)
        nodes, problems = compile_graph(model)
        if problems:
            raise ValueError(
                f"{_FN}: the model has {len(problems)} node(s) tconv cannot run: "
                + "; ".join(problems)
                + f". tconv runs these ONNX ops (default domain): {', '.join(supported_ops())}"
            )
        self._nodes = nodes
        self._weights: dict[str, np.ndarray] = {}
        for t in graph.initializer:
            if t.data_location == onnx.TensorProto.EXTERNAL and not t.raw_data:
                raise ValueError(
                    f"{_FN}: initializer {t.name!r} is stored in an external file that was "
                    "not read: load the model from its path, or pass base_dir"
                )
            self._weights[t.name] = _proto.to_array(t)
        self._inputs = [
            NodeArg(v.name, _proto.dims(v), _proto.type_name(v.type.tensor_type.elem_type))
            for v in graph.input
            if v.name not in self._weights
        ]
        self._input_types = {
            v.name: v.type.tensor_type.elem_type for v in graph.input if v.name not in self._weights
        }
        self._outputs = [
            NodeArg(v.name, _proto.dims(v), _proto.type_name(v.type.tensor_type.elem_type))
            for v in graph.output
        ]
        # every value is computed before it is read (ONNX keeps nodes in order)
        known = set(self._weights) | {a.name for a in self._inputs} | {""}
        for node in nodes:
            for name in node.inputs:
                if name not in known:
                    raise ValueError(
                        f"{_FN}: node {node.name!r} ({node.op_type}) reads {name!r}, which no "
                        "input, initializer or earlier node provides"
                    )
            known.update(node.outputs)
        for out in self._outputs:
            if out.name not in known:
                raise ValueError(f"{_FN}: graph output {out.name!r} is computed by no node")
        # the last node that reads each value: it is dropped after that node runs
        last: dict[str, int] = {}
        for i, node in enumerate(nodes):
            for name in node.inputs:
                last[name] = i
        keep = {o.name for o in self._outputs}
        self._free: list[list[str]] = [[] for _ in nodes]
        for name, i in last.items():
            if name and name not in keep:
                self._free[i].append(name)

    def get_inputs(self) -> list[NodeArg]:
        """The inputs to feed (initializers excluded), as onnxruntime lists them."""
        return list(self._inputs)

    def get_outputs(self) -> list[NodeArg]:
        """The graph's outputs."""
        return list(self._outputs)

    @property
    def ops(self) -> list[str]:
        """The op types of the graph's nodes, in order of first use."""
        return list(dict.fromkeys(n.op_type for n in self._nodes))

    def _feeds(self, input_feed: Mapping[str, Any]) -> dict[str, np.ndarray]:
        if not isinstance(input_feed, Mapping):
            raise TypeError(
                f"Session.run: input_feed must be a dict of input name -> array, "
                f"got {type(input_feed).__name__}"
            )
        names = {a.name for a in self._inputs}
        unknown = [k for k in input_feed if k not in names and k not in self._weights]
        if unknown:
            raise ValueError(
                f"Session.run: {unknown} are not inputs of the model; its inputs: {sorted(names)}"
            )
        missing = [a.name for a in self._inputs if a.name not in input_feed]
        if missing:
            raise ValueError(
                f"Session.run: missing inputs {missing}; feed every one of {sorted(names)}"
            )
        feeds = {}
        for arg in self._inputs:
            x = np.asarray(input_feed[arg.name])
            want = _proto.np_dtype(
                self._input_types[arg.name], "Session.run", f"input {arg.name!r}"
            )
            if x.dtype != want:
                raise TypeError(
                    f"Session.run: input {arg.name!r} must be {arg.type}, got an array of "
                    f"{x.dtype}; convert it with .astype(np.{want})"
                )
            if arg.shape and (
                len(arg.shape) != x.ndim
                or any(isinstance(d, int) and d != v for d, v in zip(arg.shape, x.shape))
            ):
                raise ValueError(
                    f"Session.run: input {arg.name!r} must have shape {arg.shape} (names and "
                    f"None are free), got {x.shape}"
                )
            feeds[arg.name] = x
        for k, v in input_feed.items():  # initializers a caller overrides
            if k in self._weights:
                feeds[k] = np.asarray(v)
        return feeds

    def run(
        self,
        output_names: Sequence[str] | None,
        input_feed: Mapping[str, Any],
        run_options: Any = None,
    ) -> list[np.ndarray]:
        """The outputs named in ``output_names`` (all when None), computed from
        ``input_feed`` (input name -> array of the declared type)."""
        wanted = [o.name for o in self._outputs] if not output_names else list(output_names)
        outs = {o.name for o in self._outputs}
        bad = [n for n in wanted if n not in outs]
        if bad:
            raise ValueError(f"Session.run: {bad} are not outputs; the outputs: {sorted(outs)}")
        feeds = self._feeds(input_feed)
        env: dict[str, Any] = {**self._weights, **feeds}
        for node, free in zip(self._nodes, self._free):
            args = [env[name] if name else None for name in node.inputs]
            try:
                results = OPS[node.op_type](node, args)
            except (ValueError, TypeError) as exc:
                text = str(exc)
                if text.startswith("tconv.onnx"):
                    raise
                raise type(exc)(f"tconv.onnx: {node.op_type} node {node.name!r}: {text}") from exc
            for name, value in zip(node.outputs, results):
                if name:
                    env[name] = value
            for name in free:
                if name not in self._weights and name not in feeds:
                    env.pop(name, None)
        # results own their memory: no feed, weight or other result shares it
        owned: list[np.ndarray] = []
        sources = [*feeds.values(), *self._weights.values()]
        for name in wanted:
            y = np.asarray(env[name])
            if any(np.may_share_memory(y, s) for s in (*sources, *owned)):
                y = y.copy()
            owned.append(y)
        return owned


def load(path_or_model: ModelLike, *, base_dir: str | None = None) -> Session:
    """Load an ONNX model to run on tconv, with onnxruntime's interface.

    ``path_or_model``: a file path (external data is read from the file's folder),
    serialized bytes, or an ``onnx.ModelProto`` (with ``base_dir``, the folder of its
    external data). Every node is checked here: an op tconv does not run fails now,
    naming the op type, the node and the ops tconv runs. ``run`` computes float32
    and float64 models with tconv's ops; shapes follow each op's ONNX definition.

    >>> import pytest; onnx = pytest.importorskip("onnx")
    >>> from onnx import helper, numpy_helper, TensorProto
    >>> w = numpy_helper.from_array(np.ones((1, 1, 3), np.float32), "w")
    >>> g = helper.make_graph(
    ...     [helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2])], "g",
    ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2])],
    ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    >>> session = load(helper.make_model(g))
    >>> [(a.name, a.shape, a.type) for a in session.get_inputs()]
    [('x', [1, 1, 2], 'tensor(float)')]
    >>> session.run(None, {"x": np.array([[[1.0, 2.0]]], np.float32)})
    [array([[[1., 1., 3., 2., 2.]]], dtype=float32)]
    """
    return Session(read_model(path_or_model, _FN, base_dir))
