"""Time the optional numba depthwise kernels (tconv.kernels._jit) against the
NumPy kernels (tconv.kernels.conv, groups=C) and PyTorch.

    python benchmarks/bench_jit.py                    # both dtypes
    python benchmarks/bench_jit.py --cold --dtype float32

The case: a depthwise k4 s2 p1 up-sampling layer, x (8, 256, 16, 16) -> (8, 256,
32, 32), and the two ops of its backward: the convolution of a (8, 256, 32, 32)
output gradient (stride 2, padding 1 -> 16x16) and the weight gradient. Min of
--repeat runs after a warm-up, a pause before every timed call, torch on
--threads threads (the numba kernels are serial). The first call of each jit op
is timed separately: a compile, or a load from numba's cache (--cold compiles
into a fresh cache dir).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_conv import _timeit  # imports tconv, which imports numba on first use only

Op = tuple[str, Callable[[], object], Callable[[], object], Callable[[], object]]


def _ops(n: int, c: int, m: int, dtype: str) -> list[Op]:
    """(name, numpy kernel, jit kernel, torch) for the three ops of the case."""
    import torch
    import torch.nn.functional as TF
    from torch.nn.grad import conv2d_weight

    from tconv.kernels import _jit
    from tconv.kernels import settings as _config
    from tconv.kernels.conv import conv_nd, conv_transpose_nd, conv_weight_grad_nd

    def numpy_only(f: Callable[[], object]) -> Callable[[], object]:
        """conv.py may hand depthwise calls to the jit: time its NumPy path."""
        switch = getattr(_config, "jit", None)
        if switch is None:
            return f

        def run() -> object:
            with switch(False):
                return f()

        return run

    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, m, m)).astype(dtype)
    w = rng.standard_normal((c, 1, 4, 4)).astype(dtype)
    big = rng.standard_normal((n, c, 2 * m, 2 * m)).astype(dtype)  # the output gradient
    tx, tw, tbig = (torch.from_numpy(a) for a in (x, w, big))
    s, d, lo, k = (2, 2), (1, 1), (1, 1), (4, 4)
    big_out, small_out = (2 * m, 2 * m), (m, m)
    return [
        (
            "conv_transpose",
            numpy_only(lambda: conv_transpose_nd(x, w, s, d, c, lo, big_out)),
            lambda: _jit.depthwise_conv_transpose(x, w, s, d, lo, big_out),
            lambda: TF.conv_transpose2d(tx, tw, None, 2, 1, 0, c),
        ),
        (
            "conv",
            numpy_only(lambda: conv_nd(big, w, s, d, c, lo, small_out)),
            lambda: _jit.depthwise_conv(big, w, s, d, lo, small_out),
            lambda: TF.conv2d(tbig, tw, None, 2, 1, 1, c),
        ),
        (
            "weight_grad",
            numpy_only(lambda: conv_weight_grad_nd(big, x, k, s, d, c, lo)),
            lambda: _jit.depthwise_conv_weight_grad(big, x, k, s, d, lo),
            lambda: conv2d_weight(tbig, tw.shape, tx, 2, 1, 1, c),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per op (default 7)")
    parser.add_argument("--pause", type=float, default=0.2, help="sleep before each timed call")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--channels", type=int, default=256)
    parser.add_argument("--size", type=int, default=16, help="input side of the up-sampling")
    parser.add_argument("--cold", action="store_true", help="compile into an empty numba cache")
    args = parser.parse_args(argv)

    if args.cold:  # before numba is imported (tconv imports it on first use): read once
        assert "numba" not in sys.modules
        os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench_jit_")
    import numba
    import torch

    from tconv.kernels import _jit

    if not _jit.AVAILABLE:
        print("numba is not installed")
        return 1
    torch.set_num_threads(args.threads)
    n, c, m = args.batch, args.channels, args.size
    print(
        f"depthwise k4 s2 p1: x ({n}, {c}, {m}, {m}) -> ({n}, {c}, {2 * m}, {2 * m}) and its "
        f"backward; {args.threads} threads, numba {numba.__version__}, min of {args.repeat}"
    )
    rows, firsts = [], []
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    for dtype in dtypes:
        for name, ref, jit, theirs in _ops(n, c, m, dtype):
            t0 = time.perf_counter()
            got = np.asarray(jit())
            firsts.append((name, dtype, time.perf_counter() - t0))
            want = np.asarray(ref())
            err = float(np.abs(got - want).max() / np.abs(want).max())
            t_np, t_jit, t_torch = (
                min(_timeit(f, args.repeat, args.pause)) for f in (ref, jit, theirs)
            )
            rows.append((name, dtype, t_np, t_jit, t_torch, err))

    print(
        f"\n{'op':<15}{'dtype':<9}{'numpy ms':>10}{'jit ms':>9}{'torch ms':>10}"
        f"{'np/jit':>8}{'torch/jit':>10}{'rel err':>10}"
    )
    for name, dtype, t_np, t_jit, t_torch, err in rows:
        print(
            f"{name:<15}{dtype:<9}{t_np * 1e3:>10.2f}{t_jit * 1e3:>9.2f}{t_torch * 1e3:>10.2f}"
            f"{t_np / t_jit:>8.1f}{t_torch / t_jit:>10.1f}{err:>10.1e}"
        )
    where = "compile, fresh cache" if args.cold else "compile, or load from numba's cache"
    print(f"\nfirst calls ({where}):")
    for name, dtype, t in firsts:
        print(f"  {name:<15}{dtype:<9}{t:6.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
