"""Time ``tconv.functional.interpolate`` against ``torch.nn.functional.interpolate``.

    python benchmarks/bench_interpolate.py                    # forward, float32
    python benchmarks/bench_interpolate.py --backward --repeat 7

Both libraries run on the CPU with 2 threads. Before every timed call the script
sleeps (--pause, default 0.2 s): after a NumPy call OpenBLAS's worker threads
spin for about 0.1 s and take the cores from whatever runs next. Reported: the
min and median of --repeat runs after a warm-up, and the ratio of the minima
tconv/torch (below 1: tconv is faster).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import tconv
import tconv.functional as F


@dataclass(frozen=True)
class Case:
    name: str
    shape: tuple[int, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


SUITE = [
    Case("bilinear_x2", (16, 64, 128, 128), dict(scale_factor=2, mode="bilinear")),
    Case("bicubic_x2", (16, 64, 128, 128), dict(scale_factor=2, mode="bicubic")),
    Case("nearest_x2", (16, 64, 128, 128), dict(scale_factor=2, mode="nearest")),
    Case("trilinear_x2", (2, 16, 32, 64, 64), dict(scale_factor=2, mode="trilinear")),
    Case(
        "bilinear_aa_/2",
        (16, 64, 128, 128),
        dict(scale_factor=0.5, mode="bilinear", antialias=True),
    ),
    Case("area_/2", (16, 64, 128, 128), dict(scale_factor=0.5, mode="area")),
]


def _timeit(fn: Callable[[], object], repeat: int, pause: float) -> list[float]:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        time.sleep(pause)
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


Fn = Callable[[], object]


def _runs(x: np.ndarray, xt: Any, kw: dict[str, Any], backward: bool) -> list[tuple[str, Fn, Fn]]:
    """(label, tconv call, torch call) pairs for one case."""
    import torch

    tf = torch.nn.functional
    runs: list[tuple[str, Fn, Fn]] = [
        ("fwd", lambda: F.interpolate(x, **kw), lambda: tf.interpolate(xt, **kw))
    ]
    if backward:

        def ours() -> None:
            xs = tconv.tensor(x, requires_grad=True)
            F.interpolate(xs, **kw).sum().backward()

        def theirs() -> None:
            xr = xt.clone().requires_grad_()
            tf.interpolate(xr, **kw).sum().backward()

        runs.append(("fwd+bwd", ours, theirs))
    return runs


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--pause", type=float, default=0.2)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--backward", action="store_true", help="also time forward + backward")
    ap.add_argument("--only", default="", help="substring of the case names to run")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    dtype = np.dtype(args.dtype)
    print(
        f"{'case':16s} {'pass':8s} {'tconv min/med ms':>18s} {'torch min/med ms':>18s} "
        f"{'ratio':>6s}"
    )
    ratios = []
    for case in SUITE:
        if args.only not in case.name:
            continue
        x = np.random.default_rng(0).standard_normal(case.shape).astype(dtype)
        xt = torch.from_numpy(x)
        for label, ours_fn, theirs_fn in _runs(x, xt, case.kwargs, args.backward):
            a = _timeit(ours_fn, args.repeat, args.pause)
            b = _timeit(theirs_fn, args.repeat, args.pause)
            ratio = min(a) / min(b)
            ratios.append(ratio)
            print(
                f"{case.name:16s} {label:8s} "
                f"{1e3 * min(a):8.1f}/{1e3 * statistics.median(a):8.1f} "
                f"{1e3 * min(b):8.1f}/{1e3 * statistics.median(b):8.1f} {ratio:6.2f}"
            )
    if ratios:
        print(f"geometric mean ratio tconv/torch: {statistics.geometric_mean(ratios):.2f}")


if __name__ == "__main__":
    main()
