"""Time tconv against torch.nn.functional on the public benchmark suite.

    python benchmarks/bench_conv.py                 # forward, float32 and float64
    python benchmarks/bench_conv.py --dtype float32 --only dcgan --repeat 9

Both libraries run on the CPU with 2 threads. Before every timed call the
script sleeps (--pause, default 0.2 s): after a NumPy call OpenBLAS's worker
threads spin for about 0.1 s and steal the cores from whatever runs next, which
made PyTorch look 2-3x slower than it is (and the reverse). Reported: min and
median of --repeat runs after a warm-up, the ratio of the minima tconv/torch,
and GFLOP/s (2 multiply-adds per weight tap and input/output pair).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import tconv.functional as F


@dataclass(frozen=True)
class Case:
    name: str
    op: str  # "conv_transpose" or "conv"
    input_shape: tuple[int, ...]
    out_channels: int
    kernel: int
    stride: int
    padding: int
    groups: int = 1

    @property
    def nd(self) -> int:
        return len(self.input_shape) - 2

    def weight_shape(self) -> tuple[int, ...]:
        c_in = self.input_shape[1]
        k = (self.kernel,) * self.nd
        if self.op == "conv_transpose":
            return (c_in, self.out_channels // self.groups, *k)
        return (self.out_channels, c_in // self.groups, *k)

    def flops(self) -> float:
        """Multiply-adds x 2 of the direct definition (no work on inserted zeros)."""
        n, c_in = self.input_shape[:2]
        k = self.kernel**self.nd
        if self.op == "conv_transpose":
            positions = math.prod(self.input_shape[2:])
            return 2.0 * n * positions * c_in * (self.out_channels // self.groups) * k
        out = [
            (size + 2 * self.padding - self.kernel) // self.stride + 1
            for size in self.input_shape[2:]
        ]
        return 2.0 * n * math.prod(out) * self.out_channels * (c_in // self.groups) * k

    def gemm_shape(self) -> tuple[int, int, int] | None:
        """(M, K, N) of the layer as ONE matrix product, im2col-style: for the
        transposed convolution ``W^T (K*C_out, C_in) @ x (C_in, N*P_in)``, for the
        convolution ``W (C_out, K*C_in) @ cols (K*C_in, N*P_out)``; None when
        grouped (many small products)."""
        if self.groups > 1:
            return None
        n, c_in = self.input_shape[:2]
        k = self.kernel**self.nd
        if self.op == "conv_transpose":
            return k * self.out_channels, c_in, n * math.prod(self.input_shape[2:])
        out = [
            (size + 2 * self.padding - self.kernel) // self.stride + 1
            for size in self.input_shape[2:]
        ]
        return self.out_channels, k * c_in, n * math.prod(out)


def gemm_time(shape: tuple[int, int, int], dtype: str, repeat: int, pause: float) -> float:
    """Seconds of one NumPy matmul of ``shape`` (M, K, N), the best of ``repeat``."""
    m, k, n = shape
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    out = np.empty((m, n), dtype=dtype)
    return min(_timeit(lambda: np.matmul(a, b, out=out), repeat, pause))


SUITE = [
    Case("dcgan1", "conv_transpose", (64, 512, 4, 4), 256, 4, 2, 1),
    Case("dcgan2", "conv_transpose", (64, 256, 8, 8), 128, 4, 2, 1),
    Case("dcgan3", "conv_transpose", (64, 128, 16, 16), 64, 4, 2, 1),
    Case("dcgan4", "conv_transpose", (64, 64, 32, 32), 3, 4, 2, 1),
    Case("unet1", "conv_transpose", (8, 256, 32, 32), 128, 2, 2, 0),
    Case("unet2", "conv_transpose", (8, 128, 64, 64), 64, 2, 2, 0),
    Case("audio1d", "conv_transpose", (16, 256, 2000), 128, 16, 8, 4),
    Case("volume3d", "conv_transpose", (4, 64, 8, 16, 16), 32, 4, 2, 1),
    Case("depthwise", "conv_transpose", (8, 256, 16, 16), 256, 4, 2, 1, groups=256),
    Case("conv_k3", "conv", (16, 64, 56, 56), 64, 3, 1, 1),
    Case("conv_k3s2", "conv", (16, 128, 28, 28), 256, 3, 2, 1),
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


def run_case(case: Case, dtype: str, repeat: int, pause: float) -> dict[str, float]:
    import torch
    import torch.nn.functional as TF

    rng = np.random.default_rng(0)
    x = rng.standard_normal(case.input_shape).astype(dtype)
    w = (rng.standard_normal(case.weight_shape()) * 0.05).astype(dtype)
    b = rng.standard_normal(case.out_channels).astype(dtype)
    tx, tw, tb = (torch.from_numpy(a) for a in (x, w, b))
    nd = case.nd
    if case.op == "conv_transpose":
        ours = getattr(F, f"conv_transpose{nd}d")
        theirs = getattr(TF, f"conv_transpose{nd}d")
        kw = dict(stride=case.stride, padding=case.padding, groups=case.groups)
    else:
        ours = getattr(F, f"conv{nd}d")
        theirs = getattr(TF, f"conv{nd}d")
        kw = dict(stride=case.stride, padding=case.padding, groups=case.groups)

    def run_ours() -> object:
        return ours(x, w, b, **kw)

    def run_theirs() -> object:
        with torch.no_grad():
            return theirs(tx, tw, tb, **kw)

    ref = run_theirs().numpy()  # type: ignore[attr-defined]
    got = run_ours()
    err = float(np.abs(got - ref).max() / (np.abs(ref).max() + 1e-30))  # type: ignore[operator]
    t_ours = _timeit(run_ours, repeat, pause)
    t_theirs = _timeit(run_theirs, repeat, pause)
    return {
        "ours_min": min(t_ours),
        "ours_med": statistics.median(t_ours),
        "torch_min": min(t_theirs),
        "torch_med": statistics.median(t_theirs),
        "ratio": min(t_ours) / min(t_theirs),
        "gflops_ours": case.flops() / min(t_ours) / 1e9,
        "gflops_torch": case.flops() / min(t_theirs) / 1e9,
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
        f"{'ratio':>6} {'GF/s':>6} {'torch GF/s':>10} {'max rel err':>11}"
    )
    print(header)
    print("-" * len(header))
    ratios: dict[str, list[float]] = {d: [] for d in dtypes}
    for dtype in dtypes:
        for case in SUITE:
            if args.only not in case.name:
                continue
            r = run_case(case, dtype, args.repeat, args.pause)
            ratios[dtype].append(r["ratio"])
            print(
                f"{case.name:<11} {dtype:<8} {r['ours_min'] * 1e3:9.2f} {r['ours_med'] * 1e3:8.2f} "
                f"{r['torch_min'] * 1e3:9.2f} {r['torch_med'] * 1e3:8.2f} {r['ratio']:6.2f} "
                f"{r['gflops_ours']:6.1f} {r['gflops_torch']:10.1f} {r['err']:11.1e}",
                flush=True,
            )
    every = [v for vs in ratios.values() for v in vs]
    for dtype, vs in ratios.items():
        if vs:
            print(f"geometric mean ratio {dtype}: {math.exp(np.mean(np.log(vs))):.2f}")
    if every:
        print(f"geometric mean ratio, all: {math.exp(np.mean(np.log(every))):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
