"""Time Winograd F(4x4, 3x3) against the exact paths on a grid of 3x3 stride-1 layers:
the measurements behind ``tuning.WINOGRAD_JIT_*`` (and ``WINOGRAD_*`` with --numpy).

    python benchmarks/bench_winograd.py --dtype float32 --channels 16,64,128 --maps 7,14,56
    python benchmarks/bench_winograd.py --dtype float64 --numpy

Per layer C -> C channels on an HxH map with padding 1, the batch sized to about
3e8 multiply-adds (1 to 16 samples): ``winograd.conv3x3(..., jit=True)`` (the path
``conv.winograd_jit`` runs), with --numpy also the NumPy transforms (``conv.winograd``),
and ``F.conv2d`` under ``tconv.winograd(False)`` (the exact path the table would
take), interleaved, min of --repeat wall times after a warm-up and a pause before
each call, on tconv's worker threads (``tconv.set_num_threads``). The last column
names the path the table takes now.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

import tconv
import tconv.functional as F
from tconv.kernels import route
from tconv.kernels import winograd as W


def _min_time(fns: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            time.sleep(0.12)  # the BLAS's threads spin ~0.1 s after a call
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: min(ts) * 1e3 for name, ts in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--channels", default="16,32,64,128,256,512")
    ap.add_argument("--maps", default="7,14,28,56,112")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--numpy", action="store_true", help="also the NumPy transforms")
    args = ap.parse_args()
    dt = np.dtype(args.dtype)
    rng = np.random.default_rng(0)
    print(f"{tconv.get_num_threads()} worker threads; ratios: time / the exact path's")
    for c in (int(v) for v in args.channels.split(",")):
        for hw in (int(v) for v in args.maps.split(",")):
            n = int(max(1, min(16, round(3e8 / (hw * hw * c * c * 9)))))
            if n * c * hw * hw * dt.itemsize > 2**29:
                continue
            x = rng.standard_normal((n, c, hw, hw)).astype(dt)
            w = rng.standard_normal((c, c, 3, 3)).astype(dt)
            y = np.empty((n, c, hw, hw), dt)

            def exact(x: np.ndarray = x, w: np.ndarray = w) -> None:
                with tconv.winograd(False):
                    F.conv2d(x, w, padding=1)

            def jit(x: np.ndarray = x, w: np.ndarray = w, y: np.ndarray = y, hw: int = hw) -> None:
                W.conv3x3(x, w, y, (1, 1), (hw, hw), None, 4, jit=True)

            def numpy(
                x: np.ndarray = x, w: np.ndarray = w, y: np.ndarray = y, hw: int = hw
            ) -> None:
                W.conv3x3(x, w, y, (1, 1), (hw, hw), None, 4, jit=False)

            fns: dict[str, Callable[[], object]] = {"jit": jit, "exact": exact}
            if args.numpy:
                fns["numpy"] = numpy
            ms = _min_time(fns, args.repeat)
            geo = (x, w, (1, 1), (1, 1), 1, (1, 1), (hw, hw))
            with tconv.winograd(False):
                exact_path = route("conv", *geo)
            line = (
                f"{dt.name} C={c:4d} {hw:3d}x{hw:<3d} n={n:2d}  {exact_path} {ms['exact']:7.2f} ms"
                f"  jit {ms['jit']:7.2f} ({ms['jit'] / ms['exact']:.2f})"
            )
            if args.numpy:
                line += f"  numpy {ms['numpy']:7.2f} ({ms['numpy'] / ms['exact']:.2f})"
            print(line + f"  now -> {route('conv', *geo)}", flush=True)


if __name__ == "__main__":
    main()
