"""``tconv matrix``: the matrices of a convolution and its transpose, printed."""

from __future__ import annotations

import argparse
import math

import numpy as np

from ... import functional as F
from ... import shapes
from ...matrix import conv_matrix, conv_transpose_matrix
from .._common import (
    MAX_DRAW,
    MAX_MATRIX,
    MAX_VALUE,
    UsageError,
    add_command,
    add_geometry,
    finite_float,
    geometry,
    int_in,
    per_dim,
)

EXAMPLE = """examples:
  tconv matrix                              (the lecture's kernel (k1, k2, k3) over 7 samples)
  tconv matrix --size 8 --kernel-size 3 --stride 2
  tconv matrix --size 4 --weights 1 2 -1
  tconv matrix --size 3 3 --kernel-size 2 2"""

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_TCONV = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "matrix",
        run,
        help="the convolution's matrix M and the transposed convolution's, M^T",
        description="Print the matrix M of a one-channel convolution (conv(x) = M x on the "
        "flattened signal) and the matrix of the transposed convolution with the same "
        "parameters, check that the latter is M^T (the lecture's identity, hence the name), "
        "and check both matrices against the ops. Without --weights the taps are shown as "
        "k1, k2, ... as in the lecture.",
        epilog=EXAMPLE,
    )
    p.add_argument(
        "--size",
        type=int_in(1, MAX_DRAW),
        nargs="+",
        default=[7],
        metavar="N",
        help=f"input size of the convolution, one per dim (default 7; 1..{MAX_DRAW}; the "
        f"matrix has at most {MAX_MATRIX} rows and columns)",
    )
    p.add_argument(
        "--kernel-size",
        type=int_in(1, MAX_DRAW),
        nargs="+",
        default=None,
        metavar="K",
        help="kernel size (default 3, or the number of --weights)",
    )
    p.add_argument(
        "--weights",
        type=finite_float(-MAX_VALUE, MAX_VALUE),
        nargs="+",
        default=None,
        metavar="W",
        help="kernel values, C-order (default: symbolic k1, k2, ...)",
    )
    add_geometry(p, kernel=False, output_padding=False, cap=MAX_DRAW)


def run(args: argparse.Namespace) -> int:
    n = len(args.size)
    # Usage errors first (exit 2): counts, the matrix's size, the number of weights.
    if not 1 <= n <= 3:
        raise UsageError(f"argument --size: takes 1 to 3 values, got {n}")
    if args.kernel_size is not None:
        k = per_dim(args.kernel_size, n, "kernel-size")
    elif args.weights is not None and n == 1:
        k = [len(args.weights)]
    else:
        k = [3] * n
    s, p, d = geometry(args, n, "stride", "padding", "dilation")
    symbolic = args.weights is None
    if not symbolic and len(args.weights) != math.prod(k):
        raise UsageError(
            f"argument --weights: needs prod(kernel size) = {math.prod(k)} values, "
            f"got {len(args.weights)}"
        )
    check_matrix(args.size, k, s, p, d)
    if symbolic:
        w = np.arange(1, math.prod(k) + 1, dtype=np.float64).reshape(1, 1, *k)
    else:
        w = np.asarray(args.weights, dtype=np.float64).reshape(1, 1, *k)
    m = conv_matrix(w, (1, *args.size), s, p, d)
    out = shapes.conv_output_size(tuple(args.size), k, s, p, d)
    # The output_padding that brings the transposed convolution back to the input size.
    a = shapes.output_padding_for(out, tuple(args.size), k, s, p, d)
    mt = conv_transpose_matrix(w, (1, *out), s, p, a, d)  # type: ignore[misc]
    geo = f"stride={tuple(s)}, padding={tuple(p)}, dilation={tuple(d)}"
    print(f"convolution, input {tuple(args.size)}, kernel {tuple(k)}, {geo} -> output {out}")
    print(f"M ({m.shape[0]} x {m.shape[1]}), conv(x).ravel() == M @ x.ravel():")
    print(format_matrix(m, symbolic))
    print()
    print(
        f"transposed convolution, input {out}, same parameters, output_padding={a} -> "
        f"output {tuple(args.size)}"
    )
    print(f"M' ({mt.shape[0]} x {mt.shape[1]}), conv_transpose(y).ravel() == M' @ y.ravel():")
    print(format_matrix(mt, symbolic))
    print()
    same = mt.shape == m.T.shape and bool(np.array_equal(mt, m.T))
    print(
        f"M' == M^T (the transposed convolution's matrix is the transpose): "
        f"{'yes' if same else 'NO'}"
    )
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 1, *args.size))
    y = rng.standard_normal((1, 1, *out))  # type: ignore[misc]
    e1 = float(np.abs(_CONV[n](x, w, None, s, p, d).ravel() - m @ x.ravel()).max())
    e2 = float(np.abs(_TCONV[n](y, w, None, s, p, a, 1, d).ravel() - mt @ y.ravel()).max())
    print(
        f"checked on random signals: max |conv(x) - M x| = {e1:.1e}, "
        f"max |conv_transpose(y) - M' y| = {e2:.1e}"
    )
    if a != (0,) * n:
        print(
            f"note: output_padding={a} is needed because the conv ignores the last "
            "position(s) (see 'tconv shape')"
        )
    tol = 1e-9 * max(1.0, float(np.abs(w).sum()))  # rounding grows with the weights
    return 0 if same and e1 < tol and e2 < tol else 1


def check_matrix(size: list[int], k: list[int], s: list[int], p: list[int], d: list[int]) -> None:
    """A :class:`UsageError` unless the convolution has an output and its matrix at
    most ``MAX_MATRIX`` rows and columns (it is printed whole)."""
    out = [
        (n + 2 * pi - di * (ki - 1) - 1) // si + 1
        for n, ki, si, pi, di in zip(size, k, s, p, d, strict=True)
    ]
    if min(out) < 1:
        dilated = tuple(di * (ki - 1) + 1 for ki, di in zip(k, d))
        padded = tuple(n + 2 * pi for n, pi in zip(size, p))
        raise UsageError(
            f"argument --kernel-size: the dilated kernel {dilated} is larger than the padded "
            f"input {padded}"
        )
    if math.prod(size) > MAX_MATRIX or math.prod(out) > MAX_MATRIX:
        raise UsageError(
            f"argument --size: the matrix would be {math.prod(out)} x {math.prod(size)}; "
            f"at most {MAX_MATRIX} x {MAX_MATRIX}"
        )


def format_matrix(m: np.ndarray, symbolic: bool) -> str:
    """Aligned columns; symbolic: value v is printed as kv (the v-th tap, C-order), 0 as 0."""
    if symbolic:
        cells = [[f"k{int(v)}" if v else "0" for v in row] for row in m.tolist()]
    else:
        cells = [[f"{v:g}" for v in row] for row in m.tolist()]
    width = max((len(c) for row in cells for c in row), default=1)
    return "\n".join("  " + " ".join(c.rjust(width) for c in row) for row in cells)
