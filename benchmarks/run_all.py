"""The project's performance record: every benchmark, one command, one file per machine.

    python benchmarks/run_all.py          # full run, writes benchmarks/RESULTS-<family>.md
    python benchmarks/run_all.py --quick  # 3 layers, 2 rounds, prints only (a smoke test)
    python benchmarks/run_all.py --peers torch,onnxruntime   # without JAX/XLA

A full run should take about 20-25 minutes on the 2-core VM (estimated from --quick,
2.5 minutes; JAX's slow convolutions are timed by a single call, or estimated from one
sample and left out past a minute).
    python benchmarks/run_all.py --readme README.md docs/guides/speed.md   # + the summaries

It names the CPU and writes the record of its family, ``RESULTS-intel.md`` or
``RESULTS-amd.md`` (by ``/proc/cpuinfo``'s vendor; ``record.py``), then the index
``RESULTS.md``. It measures the machine's NumPy GEMM peak (float32 and float64), then
times the public conv suite forward and forward + backward (dx, dw, db) against
PyTorch, onnxruntime and JAX/XLA (``bench_peers.py``: every peer checked against
tconv's result first, the runners interleaved, min of --repeat rounds after a
warm-up, a pause before every timed call), the interpolate suite (float32 and
float64), and the large-input memory case (``conv_transpose2d``, (8, 64, 256, 256) ->
32, k4 s2 p1, float32: time and peak temporary memory under tracemalloc). Tables give
times, ratios tconv/peer (below 1: tconv is faster), GFLOP/s, the share of the GEMM
peak, each layer against its own bare im2col GEMM, and the kernel path each case took
(``tconv.kernels.trace()``); a "## Summary" at the top reads issue 18's acceptance list
off the run (``record.py --write README.md`` copies it into the README). The sections
listed in ``KEPT`` of the old record (the hand-written "## Kernel paths", the ONNX
section that ``bench_onnx.py`` writes, the Dask section) are kept as they were.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import tconv
import tconv.functional as F
from tconv import kernels

sys.path.insert(0, str(Path(__file__).parent))
import bench_conv
import bench_interpolate
import bench_peers
import record


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


def machine(versions: dict[str, str]) -> str:
    """The CPU, its cores and every library's version, on one line."""
    peers = ", ".join(f"{name} {v}" for name, v in versions.items())
    return (
        f"{record.cpu_name()}, {len(os.sched_getaffinity(0))} cores; Python "
        f"{platform.python_version()}, NumPy {np.__version__}, tconv {tconv.__version__}; "
        f"{peers}"
    )


def accelerator() -> str:
    """One line on the optional numba kernels: used or not, and why."""
    if not tconv.jit_available():
        return "numba is not installed: every kernel is NumPy (`pip install tconv[fast]` adds it)."
    import numba

    from tconv.kernels import TABLES

    state = "on" if tconv.get_jit() else "off (TCONV_JIT=0)"
    compiled = [p.name for table in TABLES.values() for p in table if p.name.endswith("_jit")]
    return (
        f"numba {numba.__version__} installed, JIT {state}: the compiled paths "
        f"{', '.join(f'`{n}`' for n in compiled)} where their tables take them (every "
        "other path is NumPy)."
    )


def threads() -> str:
    """One line on the kernels' worker threads."""
    from tconv.kernels import _threads

    blas = _threads.blas()
    if blas is None:
        return (
            "NumPy's BLAS cannot be limited here: tconv's kernels run serially, the "
            "BLAS threaded as usual."
        )
    return (
        f"tconv's kernels on {tconv.get_num_threads()} worker threads, each with a "
        f"one-thread BLAS ({blas.name}); `TCONV_NUM_THREADS=1` runs them serially."
    )


# Hand-written or separately measured sections of the old record, kept as they were.
KEPT = (
    "## Kernel paths: the measurements behind the constants",
    "## ONNX: tconv sessions, onnxruntime and onnx's reference evaluator",  # bench_onnx.py
    "## Dask: `tconv.dask.apply` on a 2-process LocalCluster vs `module(x)`",  # bench_dask.py
)


def kept_section(path: Path) -> list[str]:
    """The kept sections of the old record (each up to the next ``## ``), if any."""
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
    return {
        "time": best,
        "temporary": peak - y.nbytes,
        "output": y.nbytes,
        "gflops": flops / best / 1e9,
    }


QUICK = ("dcgan2", "conv_k3", "depthwise")  # --quick: a transposed, a direct, a grouped layer
WINOGRAD_NOTE = "W"


@dataclass
class Row:
    case: bench_conv.Case
    dtype: str
    res: bench_peers.Result
    vs_gemm: float | None  # forward time / the bare GEMM's (None: grouped)
    forward_paths: list[str]
    both_paths: list[str]

    @property
    def winograd(self) -> bool:
        return any("winograd" in path for path in self.forward_paths)

    def ratio(self, peer: str, both: bool = False) -> float | None:
        t = self.res.both if both else self.res.forward
        return t["tconv"] / t[peer] if peer in t and "tconv" in t else None


def _fmt(value: float | None) -> str:
    """A ratio: two decimals, two significant digits below 0.1 (XLA's slow cases)."""
    if value is None:
        return "-"
    return f"{value:.2f}" if value >= 0.1 else f"{value:.2g}"


def _ms(times: dict[str, float], name: str) -> str:
    return f"{times[name] * 1e3:.1f}" if name in times else "-"


def cell(row: Row, name: str, both: bool = False) -> str:
    """A runner's time in ms, '*' when it was timed once (``bench_peers.SLOW``)."""
    mark = "*" if f"{name} {'fwd+bwd' if both else 'fwd'}" in row.res.once else ""
    return _ms(row.res.both if both else row.res.forward, name) + mark


def ratios(rows: list[Row], peer: str, dtype: str | None = None,
           both: bool | None = None) -> list[float]:  # fmt: skip
    """tconv/peer ratios of the rows of ``dtype`` (None: both), forward, forward +
    backward or both passes (``both`` None)."""
    passes = (False, True) if both is None else (both,)
    out = []
    for row in rows:
        if dtype is None or row.dtype == dtype:
            out += [r for b in passes if (r := row.ratio(peer, b)) is not None]
    return out


def not_timed(rows: list[Row]) -> list[str]:
    """One line per peer, pass and reason that left cases untimed, naming the cases."""
    cases: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        for key, why in row.res.missing.items():
            reason = why if key.startswith("onnxruntime") else "estimated too slow"
            cases.setdefault((key, reason), []).append(f"{row.case.name} {row.dtype}")
    lines = []
    for (key, reason), names in cases.items():
        if key.startswith("jax"):
            details = "; ".join(
                f"{row.case.name} {row.dtype}: {row.res.missing[key]}"
                for row in rows if key in row.res.missing
            )  # fmt: skip
            lines.append(f"- Not timed, {key} (left out of its geometric means): {details}.")
        else:
            lines.append(f"- Not timed, {key}: {reason} ({', '.join(names)}).")
    return lines


def summary(rows: list[Row], when: str, command: str, extra: list[str]) -> list[str]:
    """The "## Summary" section: issue 18's acceptance list read off this run, and
    where tconv is ahead of each peer and where not."""

    def gm(values: list[float]) -> str:
        return _fmt(geomean(values)) if values else "-"

    def met(values: list[float], target: float) -> str:
        return ("yes" if geomean(values) <= target else "no") if values else "-"

    f32_fwd = ratios(rows, "torch", "float32", False)
    f32_both = ratios(rows, "torch", "float32", True)
    f64 = ratios(rows, "torch", "float64")
    every = ratios(rows, "torch")
    worst = max(
        (
            (r, f"{row.case.name} {'fwd+bwd' if b else 'fwd'}")
            for row in rows
            if row.dtype == "float32"
            for b in (False, True)
            if (r := row.ratio("torch", b)) is not None
        ),
        default=None,
    )
    large = [row for row in rows if row.case.flops() >= 1e9 and row.vs_gemm is not None]
    within = [row for row in large if row.vs_gemm is not None and row.vs_gemm <= 1.3]
    below = [row for row in large if row.vs_gemm is not None and row.vs_gemm < 1.0]
    below_text = (
        f"; below it: {', '.join(f'{r.case.name} {r.dtype}' for r in below)}"
        + (" (Winograd)" if below and all(r.winograd for r in below) else "")
        if below else ""
    )  # fmt: skip
    lines = [
        "## Summary",
        "",
        record.SUMMARY_BEGIN,
        f"Measured {when}; `{command}`. Ratios are tconv's time over the peer's (below 1, "
        "tconv is faster), geometric means over the public suite's layers, each case's min "
        "of the interleaved runs.",
        "",
        "| issue 18 acceptance | target | measured | met |",
        "|---|--:|--:|:-:|",
        f"| float32 vs PyTorch, forward | <= 0.9 | {gm(f32_fwd)} | {met(f32_fwd, 0.9)} |",
        f"| float32 vs PyTorch, forward + backward | <= 0.9 | {gm(f32_both)} "
        f"| {met(f32_both, 0.9)} |",
        "| float32 worst case vs PyTorch | <= 1.5 | "
        + (
            f"{worst[0]:.2f} ({worst[1]}) | {'yes' if worst[0] <= 1.5 else 'no'} |"
            if worst
            else "- | - |"
        ),
        f"| float64 vs PyTorch | <= 0.75 | {gm(f64)} | {met(f64, 0.75)} |",
        f"| all cases vs PyTorch | <= 0.8 | {gm(every)} | {met(every, 0.8)} |",
        f"| large layers (>= 1 GFLOP) forward at <= 1.3x their bare GEMM | all | "
        f"{len(within)} of {len(large)}{below_text} "
        f"| {('yes' if len(within) == len(large) else 'no') if large else '-'} |",
    ]
    for peer, label in (("onnxruntime", "onnxruntime"), ("jax", "JAX/XLA")):
        for dtype in ("float32", "float64"):
            fwd, both = ratios(rows, peer, dtype, False), ratios(rows, peer, dtype, True)
            if fwd or both:
                lines.append(f"| vs {label}, {dtype}, forward / forward + backward | - | "
                             f"{gm(fwd)} / {gm(both)} | |")  # fmt: skip
    lines += [
        "",
        "Per layer, tconv/peer (forward / forward + backward; onnxruntime forward only):",
        "",
        "| layer | GFLOP | PyTorch float32 | PyTorch float64 | onnxruntime float32 "
        "| JAX float32 | JAX float64 |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    by_case: dict[str, dict[str, Row]] = {}
    for row in rows:
        by_case.setdefault(row.case.name, {})[row.dtype] = row

    def pair(row: Row | None, peer: str) -> str:
        if row is None:
            return "-"
        return f"{_fmt(row.ratio(peer))} / {_fmt(row.ratio(peer, True))}"

    for name, per in by_case.items():
        r32, r64 = per.get("float32"), per.get("float64")
        flops = next(iter(per.values())).case.flops() / 1e9
        lines.append(
            f"| {name} | {flops:.2f} | {pair(r32, 'torch')} | {pair(r64, 'torch')} "
            f"| {_fmt(r32.ratio('onnxruntime') if r32 else None)} | {pair(r32, 'jax')} "
            f"| {pair(r64, 'jax')} |"
        )
    lines.append("")
    for peer, label in (("torch", "PyTorch"), ("onnxruntime", "onnxruntime"),
                        ("jax", "JAX/XLA")):  # fmt: skip
        timed = [
            (r, f"{row.case.name} {row.dtype} {'fwd+bwd' if b else 'fwd'}")
            for row in rows for b in (False, True) if (r := row.ratio(peer, b)) is not None
        ]  # fmt: skip
        if not timed:
            continue
        ahead = sorted(t for t in timed if t[0] < 1)
        behind = sorted((t for t in timed if t[0] >= 1), reverse=True)
        text = f"- vs {label}: tconv ahead in {len(ahead)} of {len(timed)} timings"
        if ahead:
            text += f" (most: {', '.join(f'{n} {_fmt(r)}' for r, n in ahead[:3])})"
        if behind:
            text += f"; behind in {len(behind)} (most: "
            text += ", ".join(f"{n} {_fmt(r)}" for r, n in behind[:3]) + ")"
        lines.append(text + ".")
    lines += not_timed(rows)
    lines += extra
    lines.append(record.SUMMARY_END)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7, help="timed rounds per case (default 7)")
    parser.add_argument("--pause", type=float, default=0.2, help="sleep before each timed call")
    parser.add_argument("--only", default="", help="conv cases whose name contains this")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a smoke test: conv cases {', '.join(QUICK)}, 2 rounds, one "
        "interpolate case, no large input; prints only unless --out",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="the record (default benchmarks/RESULTS-<family>.md)"
    )
    parser.add_argument("--peers", default=",".join(bench_peers.PEERS),
                        help="comma-separated peers (default: all of them)")  # fmt: skip
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument(
        "--readme",
        type=Path,
        nargs="+",
        default=[],
        metavar="PAGE",
        help="after writing, copy the summary into these pages' blocks (README.md, ...)",
    )
    args = parser.parse_args(argv)
    write = not args.no_write and (args.out is not None or not args.quick)
    out = args.out or record.results_path()
    repeat = 2 if args.quick else args.repeat

    def selected(case: bench_conv.Case) -> bool:
        return args.only in case.name and (not args.quick or case.name in QUICK)

    peers = tuple(p for p in args.peers.split(",") if p)
    if "torch" not in peers or not set(peers) <= set(bench_peers.PEERS):
        parser.error(f"--peers: torch and any of {', '.join(bench_peers.PEERS)}, got {args.peers}")
    versions = bench_peers.setup(peers)
    import torch

    lines: list[str] = []

    def emit(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    peak = {dt: gemm_peak(dt, repeat) for dt in ("float32", "float64")}
    when = f"{datetime.date.today()} on: {machine(versions)}"
    command = "python benchmarks/run_all.py" + (" --quick" if args.quick else "")
    emit(f"# tconv performance record: {record.NAMES.get(record.family(), record.family())}")
    emit()
    emit(f"Measured {when}.")
    emit(
        f"NumPy GEMM peak (2048^3 matmul): {peak['float32']:.0f} GFLOP/s float32, "
        f"{peak['float64']:.0f} GFLOP/s float64."
    )
    emit(
        f"Command: `{command}` (min of {repeat} rounds after a warm-up, the runners "
        f"interleaved, {args.pause} s pause before each timed call)."
    )
    emit(bench_peers.threads_note())
    emit(accelerator())
    emit(threads())
    header_end = len(lines)
    emit()
    emit("## Convolutions: the public suite against PyTorch")
    emit()
    emit(
        "The column 'vs its GEMM' divides the forward time by that of ONE NumPy matmul of "
        "the layer's im2col shape (transposed: `(K*C_out, C_in) @ (C_in, N*P_in)`; conv: "
        "`(C_out, K*C_in) @ (K*C_in, N*P_out)`), the BLAS on 2 threads: how far the kernel is "
        f"from being bound by its GEMM alone. {WINOGRAD_NOTE}: the layer ran a Winograd path "
        "(`tconv.kernels.trace()`), which does fewer multiplications than that GEMM and can "
        "be below 1. Every peer's result was checked against tconv's before timing (max "
        "difference over max value at most "
        f"{bench_peers.TOL['float32']:.0e} float32, {bench_peers.TOL['float64']:.0e} float64)."
    )
    emit()
    emit(
        "| case | dtype | GFLOP | fwd tconv ms | fwd torch ms | fwd ratio | fwd GFLOP/s "
        "| % of peak | vs its GEMM | fwd+bwd tconv ms | fwd+bwd torch ms | fwd+bwd ratio |"
    )
    emit("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    rows: list[Row] = []
    for dtype in ("float32", "float64"):
        for case in bench_conv.SUITE:
            if not selected(case):
                continue
            res = bench_peers.run_case(case, dtype, repeat, args.pause, peers)
            shape = case.gemm_shape()
            vs = None
            if shape is not None:
                vs = res.forward["tconv"] / bench_conv.gemm_time(shape, dtype, repeat, args.pause)
            row = Row(case, dtype, res, vs, *paths_taken(case, dtype))
            rows.append(row)
            f, b = res.forward, res.both
            gflops = case.flops() / f["tconv"] / 1e9
            vs_text = (
                "-" if vs is None else f"{vs:.2f}" + (f" {WINOGRAD_NOTE}" if row.winograd else "")
            )
            emit(
                f"| {case.name} | {dtype} | {case.flops() / 1e9:.2f} | {_ms(f, 'tconv')} "
                f"| {_ms(f, 'torch')} | {_fmt(row.ratio('torch'))} | {gflops:.0f} "
                f"| {gflops / peak[dtype] * 100:.0f}% | {vs_text} | {_ms(b, 'tconv')} "
                f"| {_ms(b, 'torch')} | {_fmt(row.ratio('torch', True))} |"
            )
    every = ratios(rows, "torch")
    grouped = [
        r
        for row in rows
        if row.case.groups > 1
        for r in (row.ratio("torch"), row.ratio("torch", True))
        if r is not None
    ]
    emit()
    if every:
        emit(
            f"Geometric mean of the ratios (forward and forward+backward): all "
            f"{geomean(every):.2f}, float32 {geomean(ratios(rows, 'torch', 'float32')):.2f}, "
            f"float64 {geomean(ratios(rows, 'torch', 'float64')):.2f}"
            + (f", grouped/depthwise {geomean(grouped):.2f}" if grouped else "")
            + f"; worst case {max(every):.2f}."
        )
    emit()
    emit("## Convolutions: onnxruntime and JAX/XLA")
    emit()
    emit(
        "The same layers and inputs, timed in the same rounds as the table above (tconv's "
        "times are the same measurement). onnxruntime: one Conv/ConvTranspose node built "
        "with onnx's helper API, forward only. JAX: `jax.lax.conv_general_dilated` under "
        "`jax.jit`, compiled ahead of time (untimed), `block_until_ready`; forward + "
        "backward is `jax.vjp` returning the output and (dx, dw, db). `jax.lax.conv_transpose` "
        "and flax's `ConvTranspose` lower to the same input-dilated convolution: these are "
        "XLA's CPU convolutions as JAX users get them, compilation excluded."
    )
    emit()
    emit(
        "| case | dtype | fwd tconv ms | fwd onnxruntime ms | fwd ratio | fwd jax ms "
        "| fwd ratio | fwd+bwd tconv ms | fwd+bwd jax ms | fwd+bwd ratio |"
    )
    emit("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for row in rows:
        emit(
            f"| {row.case.name} | {row.dtype} | {cell(row, 'tconv')} | {cell(row, 'onnxruntime')} "
            f"| {_fmt(row.ratio('onnxruntime'))} | {cell(row, 'jax')} | {_fmt(row.ratio('jax'))} "
            f"| {cell(row, 'tconv', True)} | {cell(row, 'jax', True)} "
            f"| {_fmt(row.ratio('jax', True))} |"
        )
    emit()
    if any(row.res.once for row in rows):
        emit(
            f"*: timed by its first call alone (compiled beforehand), which took over "
            f"{bench_peers.SLOW:.0f} s."
        )
        emit()
    for peer in ("onnxruntime", "jax"):
        for dtype in ("float32", "float64"):
            fwd, both = ratios(rows, peer, dtype, False), ratios(rows, peer, dtype, True)
            if fwd:
                emit(
                    f"- tconv/{peer}, {dtype}: forward {_fmt(geomean(fwd))}"
                    + (f", forward + backward {_fmt(geomean(both))}" if both else "")
                    + " (geometric means)."
                )
    for line in not_timed(rows):
        emit(line)
    emit()
    emit(
        "Kernel paths each case takes (`tconv.kernels.trace()`; a path that runs another "
        "kernel is followed by that kernel's path):"
    )
    emit()
    emit("| case | dtype | forward | forward + backward |")
    emit("|---|---|---|---|")
    for row in rows:
        emit(
            f"| {row.case.name} | {row.dtype} | {', '.join(row.forward_paths)} "
            f"| {', '.join(row.both_paths)} |"
        )
    if grouped and tconv.get_jit():
        emit()
        emit("The grouped/depthwise cases with the NumPy kernels only (`TCONV_JIT=0`):")
        emit()
        emit(
            "| case | dtype | fwd tconv ms | fwd torch ms | fwd ratio "
            "| fwd+bwd tconv ms | fwd+bwd torch ms | fwd+bwd ratio |"
        )
        emit("|---|---|--:|--:|--:|--:|--:|--:|")
        plain: list[float] = []
        with tconv.jit(False):
            for row in rows:
                if row.case.groups == 1:
                    continue
                res = bench_peers.run_case(row.case, row.dtype, repeat, args.pause, ("torch",))
                f, b = res.forward, res.both
                fr, br = f["tconv"] / f["torch"], b["tconv"] / b["torch"]
                plain += [fr, br]
                emit(
                    f"| {row.case.name} | {row.dtype} | {_ms(f, 'tconv')} | {_ms(f, 'torch')} "
                    f"| {fr:.2f} | {_ms(b, 'tconv')} | {_ms(b, 'torch')} | {br:.2f} |"
                )
        emit()
        emit(f"Geometric mean, grouped/depthwise with NumPy only: {geomean(plain):.2f}.")
    emit()
    emit("## interpolate")
    emit()
    emit("| case | dtype | pass | tconv ms | torch ms | ratio |")
    emit("|---|---|---|--:|--:|--:|")
    interp: dict[str, list[float]] = {"float32": [], "float64": []}
    icases = bench_interpolate.SUITE[:1] if args.quick else bench_interpolate.SUITE
    for dtype in ("float32", "float64"):
        for icase in icases:
            x = np.random.default_rng(0).standard_normal(icase.shape).astype(dtype)
            for label, ours, theirs in bench_interpolate._runs(
                x, torch.from_numpy(x), icase.kwargs, True
            ):
                t = bench_peers.timed({"tconv": ours, "torch": theirs}, repeat, args.pause)
                interp[dtype].append(t["tconv"] / t["torch"])
                emit(
                    f"| {icase.name} | {dtype} | {label} | {t['tconv'] * 1e3:.1f} "
                    f"| {t['torch'] * 1e3:.1f} | {t['tconv'] / t['torch']:.2f} |"
                )
    emit()
    emit(
        f"Geometric mean of the interpolate ratios: all "
        f"{geomean(interp['float32'] + interp['float64']):.2f}, float32 "
        f"{geomean(interp['float32']):.2f}, float64 {geomean(interp['float64']):.2f}."
    )
    extra = [
        f"- `interpolate` vs PyTorch: geometric mean "
        f"{geomean(interp['float32'] + interp['float64']):.2f} (float32 "
        f"{geomean(interp['float32']):.2f}, float64 {geomean(interp['float64']):.2f})."
    ]
    if not args.quick:
        emit()
        big = large_case(max(3, repeat // 2))
        emit("## Large input, bounded memory")
        emit()
        emit(
            f"`conv_transpose2d` (8, 64, 256, 256) -> 32, k4 s2 p1, float32 (17.2 GFLOP): "
            f"{big['time'] * 1e3:.0f} ms ({big['gflops']:.0f} GFLOP/s, "
            f"{big['gflops'] / peak['float32'] * 100:.0f}% of peak); temporaries at peak "
            f"{big['temporary'] / 2**20:.1f} MiB beside the {big['output'] / 2**20:.0f} MiB "
            f"output (budget {tconv.get_memory_budget() / 2**20:.0f} MiB)."
        )
        extra.append(
            f"- The large input, `conv_transpose2d` (8, 64, 256, 256) -> 32, k4 s2 p1, "
            f"float32: {big['time'] * 1e3:.0f} ms, {big['temporary'] / 2**20:.0f} MiB of "
            "temporaries."
        )
    kept = kept_section(out)
    if kept:
        emit()
        for line in kept:
            emit(line)
    head = summary(rows, when, command, extra)
    print("\n" + "\n".join(head), flush=True)
    lines[header_end:header_end] = ["", *head]
    if write:
        out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"\nwrote {out}")
        if out.resolve().parent == record.HERE.resolve():
            record.write_index()
            print(f"wrote {record.HERE / 'RESULTS.md'}")
        for page in args.readme:
            record.write_readme(page, out)
            print(f"wrote the speed summary into {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
