"""Time forward + backward (input, weight and bias gradients) of tconv against PyTorch.

    python benchmarks/bench_backward.py --only dcgan2 --dtype float32

Same public suite, pauses and reporting as ``bench_conv.py`` (whose ``SUITE``,
``Case`` and ``_timeit`` it reuses): each timed call runs the op on Tensors that
require gradients and back-propagates a fixed output gradient.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys

import numpy as np

import tconv
import tconv.functional as F
from bench_conv import SUITE, Case, _timeit


def run_case(case: Case, dtype: str, repeat: int, pause: float) -> dict[str, float]:
    import torch
    import torch.nn.functional as TF

    rng = np.random.default_rng(0)
    x = rng.standard_normal(case.input_shape).astype(dtype)
    w = (rng.standard_normal(case.weight_shape()) * 0.05).astype(dtype)
    b = rng.standard_normal(case.out_channels).astype(dtype)
    name = f"{case.op}{case.nd}d"
    ours, theirs = getattr(F, name), getattr(TF, name)
    kw = dict(stride=case.stride, padding=case.padding, groups=case.groups)
    gy = rng.standard_normal(ours(x, w, b, **kw).shape).astype(dtype)
    tgy = torch.from_numpy(gy)
    X, W, B = (tconv.tensor(a, requires_grad=True) for a in (x, w, b))
    tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))

    def run_ours() -> tuple[object, ...]:
        for t in (X, W, B):
            t.grad = None
        ours(X, W, B, **kw).backward(gy)
        return X.grad, W.grad, B.grad

    def run_theirs() -> tuple[object, ...]:
        for t in (tx, tw, tb):
            t.grad = None
        theirs(tx, tw, tb, **kw).backward(tgy)
        return tx.grad, tw.grad, tb.grad

    got, ref = run_ours(), run_theirs()
    err = max(
        float(np.abs(g - r.numpy()).max() / (np.abs(r.numpy()).max() + 1e-30))  # type: ignore[attr-defined,operator]
        for g, r in zip(got, ref, strict=True)
    )
    t_ours = _timeit(run_ours, repeat, pause)
    t_theirs = _timeit(run_theirs, repeat, pause)
    return {
        "ours_min": min(t_ours),
        "ours_med": statistics.median(t_ours),
        "torch_min": min(t_theirs),
        "torch_med": statistics.median(t_theirs),
        "ratio": min(t_ours) / min(t_theirs),
        "err": err,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    parser.add_argument("--only", default="", help="run the cases whose name contains this")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per case (default 7)")
    parser.add_argument("--pause", type=float, default=0.2, help="sleep before each timed call")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    header = (
        f"{'case':<11} {'dtype':<8} {'tconv ms':>9} {'(med)':>8} {'torch ms':>9} {'(med)':>8} "
        f"{'ratio':>6} {'max rel err':>11}"
    )
    print("forward + backward (dx, dw, db)")
    print(header)
    print("-" * len(header))
    ratios: list[float] = []
    for dtype in dtypes:
        for case in SUITE:
            if args.only not in case.name:
                continue
            r = run_case(case, dtype, args.repeat, args.pause)
            ratios.append(r["ratio"])
            print(
                f"{case.name:<11} {dtype:<8} {r['ours_min'] * 1e3:9.2f} {r['ours_med'] * 1e3:8.2f} "
                f"{r['torch_min'] * 1e3:9.2f} {r['torch_med'] * 1e3:8.2f} {r['ratio']:6.2f} "
                f"{r['err']:11.1e}",
                flush=True,
            )
    if ratios:
        print(f"geometric mean ratio: {math.exp(np.mean(np.log(ratios))):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
