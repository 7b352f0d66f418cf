"""``tconv figure NAME``: draw one of the lecture's figures with your parameters."""

from __future__ import annotations

import argparse
import inspect
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._common import (
    MAX_ANIMATION_CELLS,
    MAX_FIGURE_CELLS,
    MAX_FIGURE_SIZES,
    MAX_FIGURE_VALUES,
    MAX_FRAMES,
    MAX_VALUE,
    UsageError,
    add_command,
    error,
    finite_float,
    folder,
    int_in,
    make_folder,
)

# The sides of the drawn matrices of `figure matrix`, whose every entry is a labelled
# cell (about 30 s for 32 x 30 entries on a laptop).
MAX_FIGURE_MATRIX = 16
# Images whose every pixel is computed by several layers (`figure artifacts`, `upscaling`).
MAX_FIGURE_IMAGE = {"artifact_comparison": 32, "upscaling_alternatives": 64}


def register(sub: argparse._SubParsersAction) -> None:
    cap = MAX_FIGURE_CELLS
    p = add_command(
        sub,
        "figure",
        run,
        help="draw one figure (PNG + SVG, or a GIF for animations)",
        description="Draw one of the lecture's figures with your parameters. "
        "'tconv figure --list' lists them with the sentence each illustrates. "
        f"A figure draws at most {cap} cells along an axis, {MAX_FIGURE_VALUES} input or "
        f"kernel values and {MAX_FRAMES} frames of an animation.",
        epilog="examples:\n  tconv figure conv-transpose --x 1 2 3 --kernel 1 0 -1 --stride 2 "
        "--padding 1\n  tconv figure coverage-2d --kernel 4 --stride 3 --size 8 8 --out figs\n"
        "  tconv figure anim-conv-transpose2d --stride 2 --padding 1",
    )
    p.add_argument("name", nargs="?", help="the figure's name (see --list)")
    p.add_argument("--list", action="store_true", help="list the figures and exit")
    value = finite_float(-MAX_VALUE, MAX_VALUE)
    p.add_argument("--x", type=value, nargs="+", help="input values (1-D figures)")
    p.add_argument(
        "--kernel",
        type=value,
        nargs="+",
        help="kernel values (1-D figures) or kernel size (one int)",
    )
    p.add_argument("--stride", type=int_in(1, cap), help=f"1..{cap}")
    p.add_argument("--padding", type=int_in(0, cap), help=f"0..{cap}")
    p.add_argument("--output-padding", type=int_in(0, cap), help=f"0..{cap}")
    p.add_argument("--dilation", type=int_in(1, cap), help=f"1..{cap}")
    p.add_argument("--size", type=int_in(1, cap), nargs="+", help=f"input size(s), 1..{cap}")
    p.add_argument("--out", type=folder, default=Path("."), help="output folder (default: .)")


def _params(fn: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The figure function's keyword arguments from the options; a :class:`UsageError`
    for an option the figure does not take."""
    accepted = inspect.signature(fn).parameters
    params: dict[str, Any] = {}
    for opt in ("stride", "padding", "output_padding", "dilation"):
        value = getattr(args, opt)
        if value is not None:
            if opt not in accepted:
                raise UsageError(f"this figure has no --{opt.replace('_', '-')}")
            params[opt] = value
    if args.x is not None:
        if "x" not in accepted:
            raise UsageError("this figure has no --x (input values)")
        params["x"] = tuple(args.x)
    if args.kernel is not None:
        if "kernel" in accepted:
            params["kernel"] = tuple(args.kernel)
        elif (
            "kernel_size" in accepted
            and len(args.kernel) == 1
            and args.kernel[0].is_integer()
            and 1 <= args.kernel[0] <= MAX_FIGURE_CELLS
        ):
            params["kernel_size"] = int(args.kernel[0])
        else:
            raise UsageError(
                f"argument --kernel: this figure takes one integer size in "
                f"1..{MAX_FIGURE_CELLS}, got {' '.join(f'{v:g}' for v in args.kernel)}"
            )
    if args.size is not None:
        for name in ("input_size", "size", "sizes"):
            if name in accepted:
                params[name] = _sizes(name, accepted[name].default, args.size)
                break
        else:
            raise UsageError("this figure has no --size")
    return params


def _sizes(name: str, default: Any, sizes: list[int]) -> int | tuple[int, ...]:
    """``--size`` as the figure takes it: one int, one size per dim of a fixed number
    of dims (one value repeated), or a list of sizes (``sizes``)."""
    if isinstance(default, int):
        if len(sizes) != 1:
            raise UsageError(f"argument --size: this figure takes one size, got {len(sizes)}")
        return sizes[0]
    if name == "sizes":
        if len(sizes) > MAX_FIGURE_SIZES:
            raise UsageError(f"argument --size: at most {MAX_FIGURE_SIZES} sizes, got {len(sizes)}")
        return tuple(sizes)
    dims = (1, 2) if name == "size" else (len(default),)  # animations draw 1-D or 2-D
    if len(sizes) == 1 and 1 not in dims:
        return (sizes[0],) * dims[-1]  # one value: a square
    if len(sizes) not in dims:
        raise UsageError(
            f"argument --size: this figure takes {' or '.join(map(str, dims))} sizes, "
            f"got {len(sizes)}"
        )
    return tuple(sizes)


def _conv_out(n: int, k: int, s: int, p: int, d: int) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _tconv_full(n: int, k: int, s: int, a: int, d: int) -> int:
    return (n - 1) * s + d * (k - 1) + a + 1


def _size(kw: dict[str, Any]) -> Any:
    """The input size of a figure, whichever the name of its argument."""
    return kw["input_size"] if "input_size" in kw else kw["size"]


def _cap(option: str, what: str, value: int, limit: int) -> None:
    if value > limit:
        raise UsageError(f"argument {option}: {what} would be {value} cells; at most {limit}")


def check(fn: str, kw: dict[str, Any]) -> None:
    """A :class:`UsageError` unless the figure function named ``fn`` (of
    :mod:`tconv.lecture.figures`) with the keyword arguments ``kw``
    (its defaults and the options) is a valid geometry that draws in a few seconds.

    Pure integer arithmetic, before any array or figure is made: the cells along
    each drawn axis, the number of drawn rows and of animation frames.
    """
    s, p, d = kw.get("stride", 1), kw.get("padding", 0), kw.get("dilation", 1)
    a = kw.get("output_padding", 0)
    if a >= max(s, d):
        raise UsageError(
            f"argument --output-padding: must be < max(stride, dilation) = {max(s, d)}, got {a}"
        )
    if "x" in kw:  # the 1-D signal figures
        x, k = kw["x"], kw["kernel"]
        for option, values in (("--x", x), ("--kernel", k)):
            if len(values) > MAX_FIGURE_VALUES:
                raise UsageError(
                    f"argument {option}: at most {MAX_FIGURE_VALUES} values, got {len(values)}"
                )
        if fn == "conv_inner_products":
            out = _conv_out(len(x), len(k), s, p, d)
            _cap("--x", "the padded input", len(x) + 2 * p, MAX_FIGURE_CELLS)
        else:
            full = _tconv_full(len(x), len(k), s, a, d)
            out = full - 2 * p
            _cap("--stride", "the transposed convolution's support", full, MAX_FIGURE_CELLS)
            if fn == "conv_transpose_as_conv":
                edge = d * (len(k) - 1) - p
                if edge < 0:
                    raise UsageError(
                        f"argument --padding: the direct view needs padding <= d(k-1) = "
                        f"{d * (len(k) - 1)}, got {p}"
                    )
                zero_inserted = (len(x) - 1) * s + 1 + 2 * edge + a
                _cap("--stride", "the zero-inserted input", zero_inserted, MAX_FIGURE_CELLS)
        if out < 1:
            raise UsageError(f"argument --padding: the output would have {out} samples")
        return
    k = kw.get("kernel_size", 1)
    if fn == "composition":
        for n in kw["sizes"]:
            _cap("--size", "the input", n + 2 * p, MAX_FIGURE_CELLS)
            if _conv_out(n, k, s, p, d) < 1:
                raise UsageError(f"argument --kernel: the dilated kernel exceeds input {n}")
        return
    if fn in MAX_FIGURE_IMAGE:
        _cap("--size", "a side of the image", _size(kw), MAX_FIGURE_IMAGE[fn])
        return
    size = _size(kw)
    sizes: Sequence[int] = (size,) if isinstance(size, int) else tuple(size)
    if fn in ("matrix_view", "animate_conv"):
        outs = [_conv_out(n, k, s, p, d) for n in sizes]
        if min(outs) < 1:
            raise UsageError(
                f"argument --kernel: the dilated kernel {d * (k - 1) + 1} is larger than the "
                f"padded input {tuple(n + 2 * p for n in sizes)}"
            )
        if fn == "matrix_view":
            _cap("--size", "a side of the matrix", max(*sizes, *outs), MAX_FIGURE_MATRIX)
            return
        _cap("--size", "a side of the padded input", max(sizes) + 2 * p, MAX_ANIMATION_CELLS)
        frames = math.prod(outs)
    else:  # coverage maps and transposed-convolution animations
        fulls = [_tconv_full(n, k, s, a, d) for n in sizes]
        if min(fulls) - 2 * p < 1:
            raise UsageError(
                f"argument --padding: padding {p} crops the whole output {tuple(fulls)}"
            )
        side = MAX_ANIMATION_CELLS if fn.startswith("animate") else MAX_FIGURE_CELLS
        _cap("--size", "a side of the output", max(fulls), side)
        frames = math.prod(sizes) + 1
    if fn.startswith("animate") and frames > MAX_FRAMES:
        raise UsageError(
            f"argument --size: the animation would have {frames} frames; at most {MAX_FRAMES}"
        )


def run(args: argparse.Namespace) -> int:
    from ...lecture.figures import FIGURES, draw

    if args.list or not args.name:
        for name, spec in FIGURES.items():
            print(f"{name:<24} {'(GIF) ' if spec.animation else ''}{spec.caption}")
        if args.list:
            return 0
        return error("figure", "give a figure's name (the list above)")
    if args.name not in FIGURES:
        return error("figure", f"unknown figure {args.name!r}; 'tconv figure --list' lists them")
    spec = FIGURES[args.name]
    params = _params(spec.function, args)
    check(spec.function.__name__, {**_defaults(spec.function), **spec.defaults, **params})
    make_folder(args.out, "--out")
    for path in draw(args.name, args.out, **params):
        print(path)
    return 0


def _defaults(fn: Any) -> dict[str, Any]:
    """The figure function's own defaults (under the registry's and the options)."""
    return {
        name: par.default
        for name, par in inspect.signature(fn).parameters.items()
        if par.default is not inspect.Parameter.empty
    }
