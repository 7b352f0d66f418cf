"""``tconv onnx info MODEL`` and ``tconv onnx run MODEL --input x.npy``: ONNX models on tconv.

Needs the ``onnx`` extra (``pip install 'tconv[onnx]'``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from .._common import UsageError, add_command, error


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "onnx",
        lambda args: _usage(p),
        help="inspect an ONNX model, or run it on tconv",
        description="ONNX models on tconv: 'info' lists a model's inputs, outputs, ops and "
        "parameter count and says whether tconv can run it; 'run' runs it on .npy inputs "
        "with tconv's own ops. Needs the onnx extra: pip install 'tconv[onnx]'.",
        epilog="examples:\n  tconv onnx info decoder.onnx\n"
        "  tconv onnx run decoder.onnx --input z.npy --output images.npy",
    )
    cmds = p.add_subparsers(dest="onnx_command", metavar="COMMAND")
    i = add_command(
        cmds,
        "info",
        run_info,
        help="inputs, outputs, ops, parameter count, and whether tconv can run it",
        description="Print an ONNX model's inputs and outputs (name, type, shape), the ops "
        "of its graph with their counts, its parameter count (elements of its floating "
        "initializers), and whether tconv can run it (if not, the nodes it cannot run).",
        epilog="examples:\n  tconv onnx info decoder.onnx",
    )
    i.add_argument("model", type=Path, help="the .onnx file")
    r = add_command(
        cmds,
        "run",
        run_run,
        help="run a model on .npy inputs with tconv",
        description="Run an ONNX model with tconv on inputs read from .npy files (one "
        "--input per model input, in the model's order, or NAME=FILE). Floating inputs are "
        "converted to the model's floating type. Writes the first output to --output "
        "(.npy), or every output by name (.npz); without --output, prints each output's "
        "shape, dtype and range.",
        epilog="examples:\n  tconv onnx run decoder.onnx --input z.npy --output images.npy\n"
        "  tconv onnx run unet.onnx --input image=x.npy --output all.npz",
    )
    r.add_argument("model", type=Path, help="the .onnx file")
    r.add_argument(
        "--input",
        action="append",
        required=True,
        metavar="[NAME=]FILE",
        help="an input array (.npy); repeat for each model input",
    )
    r.add_argument("--output", type=Path, default=None, help="where to write: .npy or .npz")


_FLOATS: dict[str, np.dtype] = {
    "tensor(float)": np.dtype(np.float32),
    "tensor(double)": np.dtype(np.float64),
    "tensor(float16)": np.dtype(np.float16),
}


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    print("tconv onnx: error: give a COMMAND (info or run)", file=sys.stderr)
    return 2


def _model_file(path: Path) -> str:
    """The model's path, checked to be a regular file (not a folder or a device)."""
    if not path.exists():
        raise UsageError(f"argument model: no such file: {str(path)!r}")
    if not path.is_file():
        raise UsageError(f"argument model: {str(path)!r} is not a regular file")
    return os.fspath(path)


def _read(path: str) -> Any:
    from ...onnx.session import read_model

    return read_model(path, "tconv onnx")


def _describe(arg: Any) -> str:
    shape = ", ".join("?" if d is None else str(d) for d in arg.shape)
    return f"  {arg.name}  {arg.type}  [{shape}]"


def run_info(args: argparse.Namespace) -> int:
    try:
        from ... import onnx as tonnx
        from ...onnx import _proto
        from ...onnx.session import NodeArg
    except ImportError as exc:  # pragma: no cover - tconv.onnx imports no onnx at import time
        return error("onnx info", exc)
    try:
        model = _read(_model_file(args.model))
    except ImportError as exc:
        return error("onnx info", exc)
    graph = model.graph
    weights = {t.name: t for t in graph.initializer}
    print(f"model: {args.model} (IR {model.ir_version}, producer {model.producer_name or '?'})")
    opsets = ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import)
    print(f"opsets: {opsets}")

    def arg(v: Any) -> NodeArg:
        return NodeArg(v.name, _proto.dims(v), _proto.type_name(v.type.tensor_type.elem_type))

    print("inputs:")
    for v in graph.input:
        if v.name not in weights:
            print(_describe(arg(v)))
    print("outputs:")
    for v in graph.output:
        print(_describe(arg(v)))
    counts = Counter(
        (n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}")
        for n in graph.node
    )
    print(f"ops ({len(graph.node)} nodes): " + ", ".join(f"{k} x{v}" for k, v in counts.items()))
    floating = (1, 10, 11, 16)  # FLOAT, FLOAT16, DOUBLE, BFLOAT16
    params = sum(int(np.prod(t.dims)) for t in graph.initializer if t.data_type in floating)
    print(f"parameters: {params:,} (in {len(graph.initializer)} initializers)")
    problems = tonnx.check(model)
    if problems:
        print(f"tconv can run it: no ({len(problems)} node(s)):")
        for line in problems:
            print(f"  {line}")
    else:
        print("tconv can run it: yes")
    return 0


def _load_array(text: str) -> np.ndarray:
    path = Path(text)
    if not path.is_file():
        raise UsageError(f"argument --input: {text!r} is not a file")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise UsageError(f"argument --input: {text!r} is not a .npy array ({exc})") from None


def run_run(args: argparse.Namespace) -> int:
    from ... import onnx as tonnx

    if args.output is not None and args.output.suffix not in (".npy", ".npz"):
        raise UsageError(f"argument --output: must end in .npy or .npz, got {str(args.output)!r}")
    try:
        session = tonnx.load(_model_file(args.model))
    except ImportError as exc:
        return error("onnx run", exc)
    inputs = session.get_inputs()
    by_name: dict[str, np.ndarray] = {}
    positional: list[np.ndarray] = []
    for item in args.input:
        name, sep, file = item.partition("=")
        if sep and name in {a.name for a in inputs}:
            by_name[name] = _load_array(file)
        else:
            positional.append(_load_array(item))
    free = [a for a in inputs if a.name not in by_name]
    if len(positional) != len(free):
        raise UsageError(
            f"argument --input: the model has inputs {[a.name for a in inputs]}; got "
            f"{len(by_name) + len(positional)} --input"
        )
    by_name.update(zip((a.name for a in free), positional))
    feeds = {}
    for a in inputs:
        x = by_name[a.name]
        want = _FLOATS.get(a.type)
        if want is not None and x.dtype != want and x.dtype.kind == "f":
            x = x.astype(want)  # a float64 .npy for a float32 model
        feeds[a.name] = x
    outputs = session.run(None, feeds)
    names = [o.name for o in session.get_outputs()]
    if args.output is None:
        for name, y in zip(names, outputs):
            rng = (
                f", range [{y.min():.6g}, {y.max():.6g}]"
                if y.size and y.dtype.kind in "fiu"
                else ""
            )
            print(f"{name}: shape {tuple(y.shape)}, {y.dtype}{rng}")
        return 0
    if args.output.suffix == ".npz":
        np.savez(args.output, **dict(zip(names, outputs)))  # type: ignore[arg-type]
    else:
        np.save(args.output, outputs[0])
    shapes = ", ".join(f"{n} {tuple(y.shape)}" for n, y in zip(names, outputs))
    print(f"wrote {args.output} ({shapes})")
    return 0
