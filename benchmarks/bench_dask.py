"""``tconv.dask.apply`` on a 2-process ``distributed.LocalCluster`` vs ``module(x)`` in one
process, on an array that fits in memory (the issue's target: at least 0.7x).

    python benchmarks/bench_dask.py                 # prints a Markdown section
    python benchmarks/bench_dask.py --side 512 --repeat 2

The model is a small x2 super-resolution decoder (conv 3x3, ReLU, transposed conv k4
s2 p1, ReLU, conv 3x3 with reflect padding), float32. One process: ``module(x)`` with
tconv's default threads. Cluster: 2 worker processes of 1 thread each (tconv and the
BLAS on one thread there), input chunks of ``--chunk`` pixels; the timed call builds
the graph, computes and gathers the result into this process. Reported: the best of
``--repeat`` runs after a warm-up, output megapixels per second, and the ratio.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

import numpy as np

from tconv import nn


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown CPU"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def model(channels: int) -> nn.Module:
    nn.init.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, channels, 3, padding=1),
        nn.ReLU(),
        nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(channels, 3, 3, padding=1, padding_mode="reflect"),
    ).eval()


def best(fn, repeat: int) -> float:
    fn()  # warm-up (imports, first-touch of buffers, worker start-up)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--side", type=int, default=768, help="input side in pixels (default 768)")
    ap.add_argument("--chunk", type=int, default=256, help="input chunk side (default 256)")
    ap.add_argument("--channels", type=int, default=32, help="hidden channels (default 32)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    import dask.array as da
    import distributed

    import tconv
    import tconv.dask as td

    net = model(args.channels)
    x = np.random.default_rng(0).standard_normal((1, 3, args.side, args.side)).astype(np.float32)
    out_mp = (2 * args.side) ** 2 / 1e6
    whole: list[np.ndarray] = []
    t_one = best(lambda: whole.append(np.asarray(net(x))), args.repeat)

    env = {"TCONV_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, env=env
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        xd = da.from_array(x, chunks=(1, 3, args.chunk, args.chunk)).persist()
        distributed.wait(xd)
        tiled: list[np.ndarray] = []
        t_two = best(lambda: tiled.append(client.compute(td.apply(net, xd)).result()), args.repeat)
    err = float(np.abs(tiled[-1] - whole[-1]).max())
    lines = [
        "## Dask: `tconv.dask.apply` on a 2-process LocalCluster vs `module(x)`",
        "",
        f"`python benchmarks/bench_dask.py --side {args.side} --chunk {args.chunk} "
        f"--channels {args.channels}` on {cpu_name()} ({os.cpu_count()} CPUs). Model: conv "
        f"3x3 (3->{args.channels}), ReLU, transposed conv k4 s2 p1, ReLU, conv 3x3 reflect "
        f"(->3), float32; input (1, 3, {args.side}, {args.side}), output "
        f"{out_mp:.2f} MP. Best of {args.repeat} after a warm-up.",
        "",
        "| run | time (s) | MP/s | vs one process |",
        "|-----|---------:|-----:|---------------:|",
        f"| `module(x)`, one process, {tconv.get_num_threads()} tconv threads "
        f"| {t_one:.3f} | {out_mp / t_one:.2f} | 1.00x |",
        f"| `apply`, LocalCluster 2 processes x 1 thread, chunks {args.chunk}^2 "
        f"| {t_two:.3f} | {out_mp / t_two:.2f} | {t_one / t_two:.2f}x |",
        "",
        f"max |tiled - whole| = {err:.2e} (float32).",
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
