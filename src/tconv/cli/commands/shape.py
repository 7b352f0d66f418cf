"""``tconv shape``: output sizes forwards and backwards, with the formulas spelt out."""

from __future__ import annotations

import argparse

from ... import shapes
from .._common import (
    MAX_SIZE,
    MAX_TARGET,
    add_command,
    add_geometry,
    check_output_padding,
    geometry,
    int_in,
    per_dim,
)

EXAMPLE = """examples:
  tconv shape 16 --kernel 4 --stride 2 --padding 1
  tconv shape 8 --kernel 3 --stride 2             (the last sample is ignored)
  tconv shape 16 --to 32 --kernel 3 --stride 2 --padding 1
  tconv shape 28 27 --kernel 3 --stride 2         (one size per spatial dim)"""


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "shape",
        run,
        help="output sizes of conv and transposed conv, forwards and backwards",
        description="Compute the output size of a convolution and of a transposed convolution "
        "with your numbers in the formulas, the round trip conv -> transposed conv (the "
        "lecture's 'W = w + s q'), the inputs a strided convolution ignores, and, with --to, "
        "the output_padding that reaches a target size.",
        epilog=EXAMPLE,
    )
    p.add_argument(
        "size",
        type=int_in(1, MAX_SIZE),
        nargs="+",
        help=f"input size, one per spatial dim (1..{MAX_SIZE})",
    )
    add_geometry(p, cap=MAX_SIZE)
    p.add_argument(
        "--to",
        type=int_in(1, MAX_TARGET),
        nargs="+",
        metavar="N",
        help="target output size of the transposed convolution",
    )


def run(args: argparse.Namespace) -> int:
    n = len(args.size)
    # Per-dim counts and PyTorch's output_padding rule are usage errors (exit 2).
    k, s, pad, d, a = geometry(args, n, "kernel", "stride", "padding", "dilation", "output_padding")
    targets = per_dim(args.to, n, "to") if args.to else None
    check_output_padding(a, s, d)
    status = 0
    for i in range(n):
        if n > 1:
            print(f"dim {i}:")
        lines, ok = explain(
            args.size[i], k[i], s[i], pad[i], d[i], a[i], None if targets is None else targets[i]
        )
        status = status or (0 if ok else 1)
        for line in lines:
            print(("  " if n > 1 else "") + line)
    return status


def explain(
    L: int, k: int, s: int, p: int, d: int, a: int, target: int | None
) -> tuple[list[str], bool]:
    """The lines printed for one dim; False when the target size cannot be reached."""
    for name, v in (("size", L), ("kernel", k), ("stride", s), ("dilation", d)):
        if v < 1:
            return [f"error: --{name} must be positive, got {v}"], False
    if p < 0 or a < 0:
        return ["error: --padding and --output-padding must be non-negative"], False
    e = d * (k - 1) + 1
    lines = [
        f"input {L}, kernel {k}, stride {s}, padding {p}, dilation {d}"
        + (f" (dilated kernel d(k-1)+1 = {e})" if d > 1 else "")
    ]
    conv = shapes.conv_output_size(L, k, s, p, d)
    num = L + 2 * p - d * (k - 1) - 1
    lines.append(
        f"conv:            floor((L + 2p - d(k-1) - 1) / s) + 1 = floor(({L} + 2*{p} - "
        f"{d}*({k}-1) - 1) / {s}) + 1 = floor({num}/{s}) + 1 = {conv}"
    )
    if conv < 1:
        lines.append(
            f"                 no output: the kernel ({e}) is larger than the padded "
            f"input ({L + 2 * p})"
        )
    tc = shapes.conv_transpose_output_size(L, k, s, p, a, d)
    lines.append(
        f"conv_transpose:  (L - 1) s - 2p + d(k-1) + a + 1 = ({L}-1)*{s} - 2*{p} + "
        f"{d}*({k}-1) + {a} + 1 = {tc}"
    )
    lo, hi = shapes.output_size_range(L, k, s, p, d)
    lines.append(
        f"backwards:       a conv maps sizes {lo}..{hi} to {L}; a transposed conv maps {L} to "
        f"{lo}..{hi} (output_padding 0..{s - 1})"
    )
    if conv >= 1:
        obs = shapes.observed_size(L, k, s, p, d)
        r = L - obs  # type: ignore[operator]
        trip = f"round trip:      conv then conv_transpose: {L} -> {conv} -> {obs}"
        if r == 0:
            q = conv - 1  # L + 2p - e = s (conv - 1) exactly when nothing is lost
            lines.append(
                f"{trip}, size preserved: L + 2p = {L + 2 * p} = {e} + {s}*{q} "
                "(the lecture's W = w + s q)"
            )
        else:
            lines.append(
                f"{trip}: {L + 2 * p} - {e} = {L + 2 * p - e} is not a multiple of "
                f"{s}, so the last {r} padded position(s) are never read"
                + (
                    " (padding only: every input is read, but the symmetric crop loses them)"
                    if r <= p
                    else ""
                )
                + f"; output_padding={r} "
                f"restores {L}"
            )
        ign = shapes.ignored_inputs(L, k, s, p, d)
        if ign:
            shown = ", ".join(map(str, ign[:12])) + (", ..." if len(ign) > 12 else "")
            lines.append(f"ignored inputs:  {len(ign)} of {L} never read by the conv: [{shown}]")
    ok = True
    if target is not None:
        try:
            need = shapes.output_padding_for(L, target, k, s, p, d)
            lines.append(f"to reach {target}:     output_padding = {target} - {lo} = {need}")
        except ValueError as exc:
            lines.append(f"to reach {target}:     impossible: {exc}")
            ok = False
    return lines, ok
