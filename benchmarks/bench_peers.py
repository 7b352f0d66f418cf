"""Time tconv against PyTorch, onnxruntime and JAX/XLA on the public suite, on the CPU.

    python benchmarks/bench_peers.py                          # every case, both dtypes
    python benchmarks/bench_peers.py --only dcgan --dtype float32 --repeat 5

The layers are ``bench_conv.SUITE``'s, with the same inputs for every library
(``inputs``). The peers:

- PyTorch: ``torch.nn.functional``, ``torch.set_num_threads(2)``; forward and
  forward + backward (dx, dw, db), float32 and float64;
- onnxruntime: one ``Conv`` / ``ConvTranspose`` node built in memory with onnx's
  ``helper`` API (weight and bias as initializers), CPU provider, 2 intra-op threads
  and 1 inter-op; forward only (onnxruntime is an inference engine). Its CPU provider
  has no float64 kernel for these ops: the session is tried and the reason it gives
  is recorded instead of a time;
- JAX/XLA: ``jax.lax.conv_general_dilated`` (transposed: the input dilated by the
  stride, the kernel flipped and its channel axes swapped, as PyTorch defines it)
  under ``jax.jit``, ``jax_enable_x64`` on for float64; forward and forward +
  backward (``jax.vjp`` in the same jitted function, returning the output too so
  that XLA cannot drop the forward). XLA's CPU thread pool keeps its default size,
  the number of cores the process may use (``os.sched_getaffinity``). Each call
  ends in ``block_until_ready``; compilation happens in the warm-up call, which is
  not timed.

Before timing, every peer's result is compared with tconv's (max abs difference over
the max abs value of tconv's result: at most ``TOL[dtype]``); a peer that disagrees
stops the run rather than have a wrong answer timed. Then the runners are timed
interleaved, one call of each per round, ``--repeat`` rounds after a warm-up, with a
``--pause`` sleep before every timed call (after a NumPy or BLAS call the library's
threads spin for about 0.1 s and slow whatever runs next); reported: the minimum. A
runner whose first call took more than ``SLOW`` seconds is timed by that call (marked).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import tconv
import tconv.functional as F
from bench_conv import SUITE, Case

PEERS = ("torch", "onnxruntime", "jax")
RUNNERS = ("tconv", *PEERS)
# Agreement with tconv's result before timing: max |peer - tconv| / max |tconv|. float32
# allows for sums of up to 4096 products in another order (and Winograd's few lost bits).
TOL = {"float32": 1e-4, "float64": 1e-10}
THREADS = 2
# A runner whose first call (checked against tconv, after compiling) takes longer is
# timed by that call alone: some of XLA's CPU convolutions take 10-50 s or more a call
# on the suite's layers (measured: dcgan1 float64 forward + backward 49 s).
SLOW = 4.0
# XLA calls estimated (from one sample) to take longer are not run: the weight gradient
# of the audio decoder's transposed convolution took over 4 minutes a call.
JAX_CAP = 60.0


@dataclass
class Result:
    """One case in one dtype: the minimum seconds per runner (absent: not run) and, per
    peer that did not run, why; the largest disagreement with tconv seen."""

    forward: dict[str, float] = field(default_factory=dict)
    both: dict[str, float] = field(default_factory=dict)  # forward + backward
    missing: dict[str, str] = field(default_factory=dict)  # "runner pass": why not
    err: float = 0.0
    once: set[str] = field(default_factory=set)  # "runner pass" timed once (``SLOW``)


def setup(peers: tuple[str, ...] = PEERS) -> dict[str, str]:
    """Configure the peers' threads once per process; returns each peer's version,
    or why it is not available (not installed)."""
    versions: dict[str, str] = {}
    for name in peers:
        try:
            if name == "torch":
                import torch

                torch.set_num_threads(THREADS)
                versions[name] = torch.__version__
            elif name == "onnxruntime":
                import onnx
                import onnxruntime

                versions[name] = f"{onnxruntime.__version__} (onnx {onnx.__version__})"
            elif name == "jax":
                import jax

                jax.config.update("jax_enable_x64", True)  # float32 arrays stay float32
                versions[name] = f"{jax.__version__} ({jax.default_backend()})"
        except ImportError as exc:
            versions[name] = f"not installed ({exc.name})"
    return versions


def threads_note() -> str:
    cores = len(os.sched_getaffinity(0))
    return (f"PyTorch on {THREADS} threads (`torch.set_num_threads`), onnxruntime on {THREADS} "
            f"intra-op threads (1 inter-op), XLA's CPU thread pool at its default, the "
            f"{cores} cores this process may use.")  # fmt: skip


def inputs(case: Case, dtype: str) -> tuple[np.ndarray, ...]:
    """x, w, b and the output gradient gy of ``case``, the same for every library."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(case.input_shape).astype(dtype)
    w = (rng.standard_normal(case.weight_shape()) * 0.05).astype(dtype)
    b = rng.standard_normal(case.out_channels).astype(dtype)
    y = _tconv_op(case)(x, w, b, **_kw(case))
    gy = rng.standard_normal(y.shape).astype(dtype)
    return x, w, b, gy


def _kw(case: Case) -> dict[str, int]:
    return dict(stride=case.stride, padding=case.padding, groups=case.groups)


def _tconv_op(case: Case) -> Callable[..., Any]:
    return getattr(F, f"{case.op}{case.nd}d")  # type: ignore[no-any-return]


# --- the runners: each returns a function of no arguments and the arrays it produces


def tconv_runners(case: Case, x: np.ndarray, w: np.ndarray, b: np.ndarray, gy: np.ndarray
                  ) -> tuple[Callable[[], object], Callable[[], object]]:  # fmt: skip
    op, kw = _tconv_op(case), _kw(case)
    X, W, B = (tconv.tensor(a, requires_grad=True) for a in (x, w, b))

    def forward() -> np.ndarray:
        return op(x, w, b, **kw)

    def both() -> tuple[object, ...]:
        for t in (X, W, B):
            t.grad = None
        op(X, W, B, **kw).backward(gy)
        return X.grad, W.grad, B.grad

    return forward, both


def torch_runners(case: Case, x: np.ndarray, w: np.ndarray, b: np.ndarray, gy: np.ndarray
                  ) -> tuple[Callable[[], object], Callable[[], object]]:  # fmt: skip
    import torch
    import torch.nn.functional as TF

    op, kw = getattr(TF, f"{case.op}{case.nd}d"), _kw(case)
    tx, tw, tb, tgy = (torch.from_numpy(a) for a in (x, w, b, gy))
    gx, gw, gb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))

    def forward() -> np.ndarray:
        with torch.no_grad():
            return op(tx, tw, tb, **kw).numpy()  # type: ignore[no-any-return]

    def both() -> tuple[object, ...]:
        for t in (gx, gw, gb):
            t.grad = None
        op(gx, gw, gb, **kw).backward(tgy)
        return tuple(t.grad.numpy() for t in (gx, gw, gb))  # type: ignore[union-attr]

    return forward, both


def onnx_model(case: Case, w: np.ndarray, b: np.ndarray) -> bytes:
    """One Conv or ConvTranspose node (PyTorch's weight layout is ONNX's), serialized."""
    from onnx import TensorProto, helper, numpy_helper

    elem = TensorProto.DOUBLE if w.dtype == np.float64 else TensorProto.FLOAT
    nd = case.nd
    node = helper.make_node(
        "ConvTranspose" if case.op == "conv_transpose" else "Conv", ["x", "w", "b"], ["y"],
        kernel_shape=[case.kernel] * nd, strides=[case.stride] * nd,
        pads=[case.padding] * (2 * nd), group=case.groups,
    )  # fmt: skip
    graph = helper.make_graph(
        [node], case.name,
        [helper.make_tensor_value_info("x", elem, list(case.input_shape))],
        [helper.make_tensor_value_info("y", elem, None)],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what onnxruntime reads for opset 17
    return model.SerializeToString()  # type: ignore[no-any-return]


def onnxruntime_runner(case: Case, x: np.ndarray, w: np.ndarray, b: np.ndarray
                       ) -> Callable[[], object] | str:  # fmt: skip
    """The forward runner, or onnxruntime's reason for refusing the model."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = THREADS
    opts.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(onnx_model(case, w, b), opts,
                                       providers=["CPUExecutionProvider"])  # fmt: skip
    except Exception as exc:  # onnxruntime raises its own Fail/NotImplemented types
        return str(exc).split(":")[-1].strip().split(" with name")[0] or type(exc).__name__
    feed = {"x": x}

    def forward() -> np.ndarray:
        return session.run(None, feed)[0]  # type: ignore[no-any-return]

    return forward


def jax_runners(case: Case, x: np.ndarray, w: np.ndarray, b: np.ndarray, gy: np.ndarray
                ) -> tuple[Callable[[], object], Callable[[], object]]:  # fmt: skip
    import jax
    import jax.numpy as jnp

    nd, g, k, s, p = case.nd, case.groups, case.kernel, case.stride, case.padding
    spatial = "DHW"[-nd:] if nd > 1 else "W"
    dims = ("NC" + spatial, "OI" + spatial, "NC" + spatial)

    def conv(xa: jax.Array, wa: jax.Array, ba: jax.Array) -> jax.Array:
        if case.op == "conv_transpose":
            # PyTorch's transposed conv = a stride-1 conv of the input dilated by the
            # stride, padded by k - 1 - p, with the kernel flipped and (per group) its
            # (C_in, C_out/g) axes swapped to (C_out, C_in/g).
            c_in, c_og = wa.shape[:2]
            wt = wa.reshape(g, c_in // g, c_og, *wa.shape[2:]).swapaxes(1, 2)
            wt = wt.reshape(g * c_og, c_in // g, *wa.shape[2:])
            wt = jnp.flip(wt, axis=tuple(range(2, 2 + nd)))
            y = jax.lax.conv_general_dilated(
                xa, wt, window_strides=(1,) * nd, padding=[(k - 1 - p, k - 1 - p)] * nd,
                lhs_dilation=(s,) * nd, dimension_numbers=dims, feature_group_count=g,
            )  # fmt: skip
        else:
            y = jax.lax.conv_general_dilated(
                xa, wa, window_strides=(s,) * nd, padding=[(p, p)] * nd,
                dimension_numbers=dims, feature_group_count=g,
            )  # fmt: skip
        return y + ba.reshape((1, -1) + (1,) * nd)

    def grads(xa: jax.Array, wa: jax.Array, ba: jax.Array, ga: jax.Array) -> tuple[jax.Array, ...]:
        y, pull = jax.vjp(conv, xa, wa, ba)
        return (y, *pull(ga))  # y returned: XLA may not skip the forward

    jx, jw, jb, jgy = (jax.device_put(a) for a in (x, w, b, gy))
    # Compiled here, ahead of time: every call of the runners is a run only.
    fwd = jax.jit(conv).lower(jx, jw, jb).compile()
    bwd = jax.jit(grads).lower(jx, jw, jb, jgy).compile()

    def forward() -> np.ndarray:
        return fwd(jx, jw, jb).block_until_ready()  # type: ignore[no-any-return]

    def both() -> tuple[object, ...]:
        return jax.block_until_ready(bwd(jx, jw, jb, jgy))[1:]  # type: ignore[no-any-return]

    return forward, both


# --- checking and timing


def disagreement(got: object, want: object) -> float:
    """max |got - want| / max |want|, the worst over the arrays of a tuple."""
    if isinstance(want, tuple):
        return max(disagreement(a, b) for a, b in zip(got, want, strict=True))  # type: ignore[call-overload]
    g, r = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if g.shape != r.shape:
        return math.inf
    return float(np.abs(g - r).max() / (np.abs(r).max() + 1e-300))


def timed(
    fns: dict[str, Callable[[], object]],
    repeat: int,
    pause: float,
    first: dict[str, float] | None = None,
) -> dict[str, float]:
    """Minimum seconds of ``repeat`` calls of each function after one warm-up each,
    interleaved (one call of each per round, a pause before every call), so that a
    shared machine's load changes reach every runner alike. ``first``: seconds of a
    runner's first (checked, compiled-beforehand) call; one over ``SLOW`` is the
    runner's time and it is not called again."""
    first = first or {}
    slow = {name for name, t in first.items() if t > SLOW}
    best = {name: first[name] for name in slow}
    live = {name: fn for name, fn in fns.items() if name not in slow}
    for fn in live.values():
        fn()
    best.update(dict.fromkeys(live, math.inf))
    for _ in range(repeat):
        for name, fn in live.items():
            time.sleep(pause)
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def run_case(case: Case, dtype: str, repeat: int, pause: float,
             peers: tuple[str, ...] = PEERS, backward: bool = True) -> Result:  # fmt: skip
    """Check every available peer against tconv on ``case``, then time them all."""
    res = Result()
    x, w, b, gy = inputs(case, dtype)
    fwd: dict[str, Callable[[], object]] = {}
    both: dict[str, Callable[[], object]] = {}
    fwd["tconv"], both["tconv"] = tconv_runners(case, x, w, b, gy)
    for name in peers:
        try:
            if name == "torch":
                fwd[name], both[name] = torch_runners(case, x, w, b, gy)
            elif name == "jax":
                n = case.input_shape[0]
                one = jax_runners(case, x[:1], w, b, gy[:1])  # one sample: a cost estimate
                full = jax_runners(case, x, w, b, gy)
                for label, table, i in (("fwd", fwd, 0), ("fwd+bwd", both, 1)):
                    t0 = time.perf_counter()
                    one[i]()
                    guess = (time.perf_counter() - t0) * n
                    if guess > JAX_CAP:
                        res.missing[f"jax {label}"] = (
                            f"one sample took {guess / n:.1f} s, the batch of {n} would take "
                            f"about {guess:.0f} s (over {JAX_CAP:.0f} s)"
                        )
                    else:
                        table[name] = full[i]
            elif name == "onnxruntime":
                runner = onnxruntime_runner(case, x, w, b)
                if isinstance(runner, str):
                    res.missing[f"{name} fwd"] = runner
                else:
                    fwd[name] = runner
        except ImportError as exc:
            res.missing[f"{name} fwd"] = f"not installed ({exc.name})"
    if not backward:
        both = {}
    for label, table in (("fwd", fwd), ("fwd+bwd", both)):
        if not table:
            continue
        want = table["tconv"]()
        first: dict[str, float] = {}
        for name, fn in table.items():
            if name == "tconv":
                continue
            time.sleep(pause)
            t0 = time.perf_counter()
            got = fn()
            first[name] = time.perf_counter() - t0
            err = disagreement(got, want)
            if not err <= TOL[dtype]:
                raise AssertionError(
                    f"{name} disagrees with tconv on {case.name} {dtype} ({label}): relative "
                    f"difference {err:.1e} > {TOL[dtype]:.0e}; not timing a wrong answer"
                )
            res.err = max(res.err, err)
        times = timed(table, repeat, pause, first)
        res.once |= {f"{name} {label}" for name, t in first.items() if t > SLOW}
        if label == "fwd":
            res.forward = times
        else:
            res.both = times
    return res


def geomean(values: list[float]) -> float:
    return math.exp(float(np.mean(np.log(values)))) if values else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dtype", choices=["float32", "float64", "both"], default="both")
    parser.add_argument("--only", default="", help="run the cases whose name contains this")
    parser.add_argument("--repeat", type=int, default=7, help="timed rounds per case (default 7)")
    parser.add_argument("--pause", type=float, default=0.2, help="sleep before each timed call")
    parser.add_argument("--no-backward", action="store_true", help="forward only")
    args = parser.parse_args(argv)

    versions = setup()
    print("; ".join(f"{k} {v}" for k, v in versions.items()))
    print(threads_note())
    dtypes = ["float32", "float64"] if args.dtype == "both" else [args.dtype]
    ratios: dict[str, list[float]] = {p: [] for p in PEERS}
    print(f"{'case':<11} {'dtype':<8} {'pass':<8} " + " ".join(f"{r:>12}" for r in RUNNERS)
          + "   ms; then tconv/peer")  # fmt: skip
    for dtype in dtypes:
        for case in SUITE:
            if args.only not in case.name:
                continue
            r = run_case(case, dtype, args.repeat, args.pause, backward=not args.no_backward)
            for label, t in (("fwd", r.forward), ("fwd+bwd", r.both)):
                if not t:
                    continue
                cells = [f"{t[n] * 1e3:12.1f}" if n in t else f"{'-':>12}" for n in RUNNERS]
                rs = [f"{t['tconv'] / t[p]:.2f}" if p in t else "-" for p in PEERS]
                for p in PEERS:
                    if p in t:
                        ratios[p].append(t["tconv"] / t[p])
                print(f"{case.name:<11} {dtype:<8} {label:<8} " + " ".join(cells)
                      + "   " + " ".join(rs), flush=True)  # fmt: skip
            for p, why in r.missing.items():
                print(f"    {p}: {why}")
    for p, vs in ratios.items():
        if vs:
            print(f"geometric mean tconv/{p}: {geomean(vs):.2f} over {len(vs)} timings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
