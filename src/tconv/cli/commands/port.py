"""``tconv port``: a transposed-convolution layer from one framework in every other's terms."""

from __future__ import annotations

import argparse
import re
from typing import Any

from ...compat.porting import FRAMEWORKS, Layer, port
from .._common import MAX_CHANNELS, MAX_SIZE, UsageError, add_command, int_in, per_dim

EXAMPLE = """examples:
  tconv port --from tf --kernel 4 --stride 2 --padding SAME --input 7 --to torch
  tconv port --from onnx --kernel 1 --stride 2 --padding SAME_UPPER --input 5
  tconv port --from torch --kernel 3 --stride 2 --padding 1 --output-padding 1 --input 16 16
  tconv port --from jax --kernel 4 --stride 2 --padding 2,1 --input 7 --to torch keras

--padding takes the source framework's own value: an int per dim (torch, tconv); SAME or
VALID (tf, jax); same or valid (keras); lo,hi pairs (jax, tconv: e.g. 2,1 or 2,1/0,0 for
2-D); NOTSET, SAME_UPPER, SAME_LOWER, VALID or a pads list b1,..,e1,.. (onnx)."""

_DEFAULT_PADDING = {
    "torch": "0",
    "tconv": "0",
    "tf": "SAME",
    "keras": "valid",
    "jax": "SAME",
    "onnx": "NOTSET",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "port",
        run,
        help="a transposed conv layer from one framework in PyTorch, TF, Keras, JAX, ONNX terms",
        description="Read a transposed-convolution layer in one framework's terms and print "
        "its output size and crop, then the same layer in each other framework: the layer "
        "and its padding arguments, the weight re-laid and mirrored, and where the target "
        "cannot express the crop, the exact recipe (the nearest layer plus a slice or "
        "zeros). Last, what each framework's named paddings give for this geometry, and "
        "where they disagree.",
        epilog=EXAMPLE,
    )
    p.add_argument(
        "--from",
        dest="source",
        choices=FRAMEWORKS,
        required=True,
        help="the framework the layer comes from",
    )
    p.add_argument(
        "--to",
        nargs="+",
        choices=FRAMEWORKS,
        default=None,
        metavar="FRAMEWORK",
        help="target frameworks (default: all the others)",
    )
    p.add_argument(
        "-k",
        "--kernel",
        type=int_in(1, MAX_SIZE),
        nargs="+",
        required=True,
        metavar="K",
        help=f"kernel size (1 value or 1 per dim; 1..{MAX_SIZE})",
    )
    p.add_argument(
        "-s",
        "--stride",
        type=int_in(1, MAX_SIZE),
        nargs="+",
        default=[1],
        metavar="S",
        help=f"stride (1..{MAX_SIZE})",
    )
    p.add_argument(
        "-d",
        "--dilation",
        type=int_in(1, MAX_SIZE),
        nargs="+",
        default=[1],
        metavar="D",
        help=f"dilation (1..{MAX_SIZE})",
    )
    p.add_argument(
        "--input",
        type=int_in(1, MAX_SIZE),
        nargs="+",
        required=True,
        metavar="N",
        help=f"input size, one per spatial dim (1-3 dims; 1..{MAX_SIZE})",
    )
    p.add_argument(
        "-p", "--padding", default=None, help="the source framework's padding (see below)"
    )
    p.add_argument(
        "-a",
        "--output-padding",
        type=int_in(0, MAX_SIZE),
        nargs="+",
        default=None,
        metavar="A",
        help="output_padding (torch, keras, onnx)",
    )
    p.add_argument(
        "--output-shape",
        type=int_in(1, MAX_SIZE),
        nargs="+",
        default=None,
        metavar="N",
        help="spatial output sizes (tf: default L*s for SAME, "
        "(L-1)s + k_eff for VALID; onnx: the output_shape attribute)",
    )
    p.add_argument(
        "--transpose-kernel",
        action="store_true",
        help="jax: the kernel is (k, out, in), mirrored by JAX",
    )
    p.add_argument(
        "--in-channels", type=int_in(1, MAX_CHANNELS), default=1, help="input channels (default 1)"
    )
    p.add_argument(
        "--out-channels",
        type=int_in(1, MAX_CHANNELS),
        default=1,
        help="output channels (default 1)",
    )


def _padding(source: str, text: str, n: int) -> Any:
    """The source framework's padding value from its text."""
    t = text.strip()
    if source in ("tf", "jax", "onnx", "keras") and t.isalpha():
        allowed = {
            "tf": ("SAME", "VALID"),
            "jax": ("SAME", "VALID"),
            "keras": ("same", "valid"),
            "onnx": ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"),
        }[source]
        if t not in allowed:
            raise UsageError(
                f"argument --padding: {source} takes {', '.join(allowed)} here, got {t!r}"
            )
        return t
    if source == "onnx" and re.fullmatch(r"\d+(,\d+)*", t):
        pads = [int(v) for v in t.split(",")]
        if len(pads) != 2 * n:
            raise UsageError(
                f"argument --padding: onnx pads need {2 * n} values b1,..,e1,.. for {n} dims, "
                f"got {len(pads)}"
            )
        return pads
    if source in ("torch", "tconv") and re.fullmatch(r"\d+", t):
        return int(t)
    if source in ("jax", "tconv") and re.fullmatch(r"-?\d+,-?\d+(/-?\d+,-?\d+)*", t):
        pairs = [tuple(int(v) for v in part.split(",")) for part in t.split("/")]
        if len(pairs) == 1:
            pairs = pairs * n
        if len(pairs) != n:
            raise UsageError(
                f"argument --padding: give 1 lo,hi pair or {n} (one per dim, separated by /), "
                f"got {len(pairs)}"
            )
        if any(abs(v) > MAX_SIZE for pr in pairs for v in pr):
            raise UsageError(f"argument --padding: values must be within +-{MAX_SIZE}, got {t!r}")
        return pairs
    raise UsageError(f"argument --padding: {t!r} is not a {source} padding")


def run(args: argparse.Namespace) -> int:
    n = len(args.input)
    if n > 3:
        raise UsageError(f"argument --input: 1 to 3 spatial dims, got {n}")
    k = per_dim(args.kernel, n, "kernel")
    s = per_dim(args.stride, n, "stride")
    d = per_dim(args.dilation, n, "dilation")
    a = per_dim(args.output_padding, n, "output-padding") if args.output_padding else None
    out = per_dim(args.output_shape, n, "output-shape") if args.output_shape else None
    if out is not None and args.source not in ("tf", "onnx"):
        raise UsageError("argument --output-shape: only tf and onnx layers take output_shape")
    if a is not None and args.source not in ("torch", "tconv", "keras", "onnx"):
        raise UsageError(f"argument --output-padding: {args.source} layers take no output_padding")
    if args.transpose_kernel and args.source != "jax":
        raise UsageError("argument --transpose-kernel: only jax layers take it")
    text = args.padding if args.padding is not None else _DEFAULT_PADDING[args.source]
    padding = _padding(args.source, text, n)
    layer = Layer(
        args.source,
        tuple(k),
        tuple(s),
        padding,
        tuple(args.input),
        tuple(d),
        None if a is None else tuple(a),
        None if out is None else tuple(out),
        args.in_channels,
        args.out_channels,
        args.transpose_kernel,
    )
    print(port(layer, args.to).text())
    return 0
