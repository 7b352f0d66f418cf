"""The project's performance record: every benchmark, one command, RESULTS.md.

    python benchmarks/run_all.py                  # full run (about 12 minutes), writes RESULTS.md
    python benchmarks/run_all.py --repeat 3 --no-write   # a quick look

It measures the machine's NumPy GEMM peak (float32 and float64), then times the
public conv suite forward and forward + backward (dx, dw, db) against PyTorch
(`torch.set_num_threads(2)`, min of --repeat runs after a warm-up, a pause before
every timed call), the interpolate suite (float32 and float64), and the large-input memory case
(`conv_transpose2d`, (8, 64, 256, 256) -> 32, k4 s2 p1, float32: time and peak
temporary memory under tracemalloc). Tables give times, ratios tconv/torch
(below 1: tconv is faster), GFLOP/s and the share of the GEMM peak, and the
kernel path each case took (``tconv.kernels.trace()``). The sections listed in
``KEPT`` of the old RESULTS.md (the hand-written "## Kernel paths" and the ONNX
section that ``bench_onnx.py`` writes) are kept as they were.
"""

from __future__ import annotations

import argparse
import datetime
import math
import platform
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

import tconv
import tconv.functional as F
from tconv import kernels

sys.path.insert(0, str(Path(__file__).parent))
import bench_backward
import bench_conv
import bench_interpolate


def gemm_peak(dtype: str, repeat: int) -> float:
    """GFLOP/s of a 2048^3 NumPy matmul, the best of ``repeat``."""
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(dtype)
    a @ a
    best = math.inf
    for _ in range(repeat):
        time.sleep(0.2)
        t0 = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - t0)
    return 2 * 2048**3 / best / 1e9


def geomean(values: list[float]) -> float:
    return math.exp(float(np.mean(np.log(values)))) if values else float("nan")


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        names = [line.split(":", 1)[1].strip() for line in out.splitlines()
                 if line.startswith("Model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    import torch

    return (
        f"{cpu}, {len(__import__('os').sched_getaffinity(0))} cores; Python "
        f"{platform.python_version()}, NumPy {np.__version__}, PyTorch {torch.__version__}, "
        f"tconv {tconv.__version__}"
    )


def accelerator() -> str:
    """One line on the optional numba kernels: used or not, and why."""
    if not tconv.jit_available():
        return "numba is not installed: every kernel is NumPy (`pip install tconv[fast]` adds it)."
    import numba

    state = "on" if tconv.get_jit() else "off (TCONV_JIT=0)"
    return (f"numba {numba.__version__} installed, JIT {state}: depthwise layers run its "
            "kernels (every other kernel is NumPy).")


def threads() -> str:
    """One line on the kernels' worker threads."""
    from tconv.kernels import _threads

    blas = _threads.blas()
    if blas is None:
        return ("NumPy's BLAS cannot be limited here: tconv's kernels run serially, the "
                "BLAS threaded as usual.")
    return (f"tconv's kernels on {tconv.get_num_threads()} worker threads, each with a "
            f"one-thread BLAS ({blas.name}); `TCONV_NUM_THREADS=1` runs them serially.")


# Hand-written or separately measured sections of the old RESULTS.md, kept as they were.
KEPT = (
    "## Kernel paths: the measurements behind the constants",
    "## ONNX: tconv sessions, onnxruntime and onnx's reference evaluator",  # bench_onnx.py
    "## Dask: `tconv.dask.apply` on a 2-process LocalCluster vs `module(x)`",  # bench_dask.py
)


def kept_section(path: Path) -> list[str]:
    """The kept sections of the old RESULTS.md (each up to the next ``## ``), if any."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    lines: list[str] = []
    for heading in KEPT:
        if heading not in text:
            continue
        rest = text[text.index(heading) :]
        end = rest.find("\n## ", len(heading))
        if lines:
            lines.append("")
        lines += (rest if end < 0 else rest[:end]).rstrip("\n").split("\n")
    return lines


def paths_taken(case: bench_conv.Case, dtype: str) -> tuple[list[str], list[str]]:
    """The kernel paths of one forward call, and of one forward + backward."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(case.input_shape).astype(dtype)
    w = (rng.standard_normal(case.weight_shape()) * 0.05).astype(dtype)
    op = getattr(F, f"{case.op}{case.nd}d")
    kw = dict(stride=case.stride, padding=case.padding, groups=case.groups)
    with kernels.trace() as forward:
        y = op(x, w, **kw)
    xt, wt = tconv.tensor(x, requires_grad=True), tconv.tensor(w, requires_grad=True)
    with kernels.trace() as both:
        op(xt, wt, **kw).backward(np.ones(y.shape, dtype=dtype))
    return forward, both


def large_case(repeat: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 64, 256, 256)).astype(np.float32)
    w = (rng.standard_normal((64, 32, 4, 4)) * 0.05).astype(np.float32)
    F.conv_transpose2d(x, w, stride=2, padding=1)
    best = math.inf
    for _ in range(repeat):
        time.sleep(0.2)
        t0 = time.perf_counter()
        y = F.conv_transpose2d(x, w, stride=2, padding=1)
        best = min(best, time.perf_counter() - t0)
    del y
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    y = F.conv_transpose2d(x, w, stride=2, padding=1)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    flops = 2.0 * 8 * 256 * 256 * 64 * 32 * 16
    return {"time": best, "temporary": peak - y.nbytes, "output": y.nbytes,
            "gflops": flops / best / 1e9}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per case (default 7)")
    parser.add_argument("--pause", type=float, default=0.2, help="sleep before each timed call")
    parser.add_argument("--only", default="", help="conv cases whose name contains this")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "RESULTS.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    lines: list[str] = []

    def emit(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    peak = {dt: gemm_peak(dt, args.repeat) for dt in ("float32", "float64")}
    emit("# tconv performance record")
    emit()
    emit(f"Measured {datetime.date.today()} on: {machine()}.")
    emit(f"NumPy GEMM peak (2048^3 matmul): {peak['float32']:.0f} GFLOP/s float32, "
         f"{peak['float64']:.0f} GFLOP/s float64.")
    emit(f"Command: `python benchmarks/run_all.py` (min of {args.repeat} runs after a warm-up, "
         f"{args.pause} s pause before each timed call, torch with 2 threads).")
    emit(accelerator())
    emit(threads())
    emit()
    emit("## Convolutions: the public suite")
    emit()
    emit("The column 'vs its GEMM' divides the forward time by that of ONE NumPy matmul of "
         "the layer's im2col shape (transposed: `(K*C_out, C_in) @ (C_in, N*P_in)`; conv: "
         "`(C_out, K*C_in) @ (K*C_in, N*P_out)`), the BLAS on 2 threads: how far the kernel is "
         "from being bound by its GEMM alone.")
    emit()
    emit("| case | dtype | GFLOP | fwd tconv ms | fwd torch ms | fwd ratio | fwd GFLOP/s "
         "| % of peak | vs its GEMM | fwd+bwd tconv ms | fwd+bwd torch ms | fwd+bwd ratio |")
    emit("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    ratios: dict[str, list[float]] = {"float32": [], "float64": []}
    grouped: list[float] = []
    large: list[tuple[str, float]] = []  # (case/dtype, share of peak) of layers >= 1 GFLOP
    for dtype in ("float32", "float64"):
        for case in bench_conv.SUITE:
            if args.only not in case.name:
                continue
            f = bench_conv.run_case(case, dtype, args.repeat, args.pause)
            b = bench_backward.run_case(case, dtype, args.repeat, args.pause)
            ratios[dtype] += [f["ratio"], b["ratio"]]
            if case.groups > 1:
                grouped += [f["ratio"], b["ratio"]]
            share = f["gflops_ours"] / peak[dtype] * 100
            if case.flops() >= 1e9:
                large.append((f"{case.name} {dtype}", share))
            shape = case.gemm_shape()
            vs = "-"
            if shape is not None:
                alone = bench_conv.gemm_time(shape, dtype, args.repeat, args.pause)
                vs = f"{f['ours_min'] / alone:.2f}"
            emit(f"| {case.name} | {dtype} | {case.flops() / 1e9:.2f} | {f['ours_min'] * 1e3:.1f} "
                 f"| {f['torch_min'] * 1e3:.1f} | {f['ratio']:.2f} | {f['gflops_ours']:.0f} "
                 f"| {share:.0f}% | {vs} | {b['ours_min'] * 1e3:.1f} | {b['torch_min'] * 1e3:.1f} "
                 f"| {b['ratio']:.2f} |")
    every = ratios["float32"] + ratios["float64"]
    emit()
    emit(f"Geometric mean of the ratios (forward and forward+backward): all {geomean(every):.2f}, "
         f"float32 {geomean(ratios['float32']):.2f}, float64 {geomean(ratios['float64']):.2f}"
         + (f", grouped/depthwise {geomean(grouped):.2f}" if grouped else "")
         + f"; worst case {max(every):.2f}." if every else "")
    if large:
        reach = [name for name, share in large if share >= 60]
        emit(f"Large layers (>= 1 GFLOP) at 60% of the GEMM peak or more, forward: "
             f"{len(reach)} of {len(large)}" + (f" ({', '.join(reach)})" if reach else "")
             + f"; median share {float(np.median([s for _, s in large])):.0f}%.")
    emit()
    emit("Kernel paths each case takes (`tconv.kernels.trace()`; a path that runs another "
         "kernel is followed by that kernel's path):")
    emit()
    emit("| case | dtype | forward | forward + backward |")
    emit("|---|---|---|---|")
    for dtype in ("float32", "float64"):
        for case in bench_conv.SUITE:
            if args.only in case.name:
                fwd, both = paths_taken(case, dtype)
                emit(f"| {case.name} | {dtype} | {', '.join(fwd)} | {', '.join(both)} |")
    if grouped and tconv.get_jit():
        emit()
        emit("The grouped/depthwise cases with the NumPy kernels only (`TCONV_JIT=0`):")
        emit()
        emit("| case | dtype | fwd tconv ms | fwd torch ms | fwd ratio "
             "| fwd+bwd tconv ms | fwd+bwd torch ms | fwd+bwd ratio |")
        emit("|---|---|--:|--:|--:|--:|--:|--:|")
        plain: list[float] = []
        with tconv.jit(False):
            for dtype in ("float32", "float64"):
                for case in bench_conv.SUITE:
                    if case.groups == 1 or args.only not in case.name:
                        continue
                    f = bench_conv.run_case(case, dtype, args.repeat, args.pause)
                    b = bench_backward.run_case(case, dtype, args.repeat, args.pause)
                    plain += [f["ratio"], b["ratio"]]
                    emit(f"| {case.name} | {dtype} | {f['ours_min'] * 1e3:.1f} "
                         f"| {f['torch_min'] * 1e3:.1f} | {f['ratio']:.2f} "
                         f"| {b['ours_min'] * 1e3:.1f} | {b['torch_min'] * 1e3:.1f} "
                         f"| {b['ratio']:.2f} |")
        emit()
        emit(f"Geometric mean, grouped/depthwise with NumPy only: {geomean(plain):.2f}.")
    emit()
    emit("## interpolate")
    emit()
    emit("| case | dtype | pass | tconv ms | torch ms | ratio |")
    emit("|---|---|---|--:|--:|--:|")
    interp: dict[str, list[float]] = {"float32": [], "float64": []}
    for dtype in ("float32", "float64"):
        for icase in bench_interpolate.SUITE:
            x = np.random.default_rng(0).standard_normal(icase.shape).astype(dtype)
            for label, ours, theirs in bench_interpolate._runs(
                x, torch.from_numpy(x), icase.kwargs, True
            ):
                a = bench_interpolate._timeit(ours, args.repeat, args.pause)
                t = bench_interpolate._timeit(theirs, args.repeat, args.pause)
                interp[dtype].append(min(a) / min(t))
                emit(f"| {icase.name} | {dtype} | {label} | {min(a) * 1e3:.1f} "
                     f"| {min(t) * 1e3:.1f} | {min(a) / min(t):.2f} |")
    emit()
    emit(f"Geometric mean of the interpolate ratios: all "
         f"{geomean(interp['float32'] + interp['float64']):.2f}, float32 "
         f"{geomean(interp['float32']):.2f}, float64 {geomean(interp['float64']):.2f}.")
    emit()
    big = large_case(max(3, args.repeat // 2))
    emit("## Large input, bounded memory")
    emit()
    emit(f"`conv_transpose2d` (8, 64, 256, 256) -> 32, k4 s2 p1, float32 (17.2 GFLOP): "
         f"{big['time'] * 1e3:.0f} ms ({big['gflops']:.0f} GFLOP/s, "
         f"{big['gflops'] / peak['float32'] * 100:.0f}% of peak); temporaries at peak "
         f"{big['temporary'] / 2**20:.1f} MiB beside the {big['output'] / 2**20:.0f} MiB output "
         f"(budget {tconv.get_memory_budget() / 2**20:.0f} MiB).")
    kept = kept_section(args.out)
    if kept:
        emit()
        for line in kept:
            emit(line)
    if not args.no_write:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
