"""ONNX on tconv: a session's cost over tconv's own module, against onnxruntime and
onnx's reference evaluator.

    python benchmarks/bench_onnx.py               # writes its section of RESULTS-<family>.md
    python benchmarks/bench_onnx.py --no-write --repeat 3

Two cases, float32:

- DCGAN's generator (nz 100, ngf 64, 1x1 -> 64x64, BatchNorm in eval mode), batch
  32, three ways: the tconv module, ``tconv.onnx.load`` of its export, and
  onnxruntime on the same file (2 intra-op threads);
- the issue's (1, 16, 32, 32) -> 8 channels, k4 s2 p1 ConvTranspose node: the tconv
  session, onnx's ``ReferenceEvaluator`` and onnxruntime.

Min and median of --repeat runs after a warm-up, a pause before each timed call (after
a NumPy call OpenBLAS's threads spin for about 0.1 s). The section "## ONNX" of this
machine's record, ``RESULTS-intel.md`` or ``RESULTS-amd.md`` (``record.py``), is replaced
(``run_all.py`` keeps it when it rewrites the file).
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import record
import tconv
import tconv.onnx
from tconv import nn

HEADING = "## ONNX: tconv sessions, onnxruntime and onnx's reference evaluator"


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return platform.processor() or "unknown CPU"
    names = [ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")]
    return names[0] if names else platform.processor() or "unknown CPU"


def timed(fns: list[Callable[[], object]], repeat: int, pause: float) -> list[tuple[float, float]]:
    """(min, median) seconds of ``repeat`` calls of each function after one warm-up,
    interleaved (one call of each per round), so that a shared machine's load changes
    reach every runner alike."""
    times: list[list[float]] = [[] for _ in fns]
    for fn in fns:
        fn()
    for _ in range(repeat):
        for fn, t in zip(fns, times):
            time.sleep(pause)
            t0 = time.perf_counter()
            fn()
            t.append(time.perf_counter() - t0)
    return [(min(t), statistics.median(t)) for t in times]


def dcgan(nz: int = 100, ngf: int = 64) -> nn.Module:
    rng = np.random.default_rng(0)
    layers: list[nn.Module] = []
    chans = [nz, ngf * 8, ngf * 4, ngf * 2, ngf]
    for i, (a, b) in enumerate(itertools.pairwise(chans)):
        layers.append(nn.ConvTranspose2d(a, b, 4, 1 if i == 0 else 2, 0 if i == 0 else 1,
                                         bias=False))  # fmt: skip
        norm = nn.BatchNorm2d(b)
        norm.running_mean[...] = rng.standard_normal(b) * 0.1
        norm.running_var[...] = rng.uniform(0.5, 1.5, b)
        layers += [norm, nn.ReLU()]
    layers += [nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers).eval()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--pause", type=float, default=0.2)
    parser.add_argument("--out", type=Path, default=record.results_path())
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    from onnx.reference import ReferenceEvaluator

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.inter_op_num_threads = 1

    def ort_session(model: onnx.ModelProto) -> ort.InferenceSession:
        return ort.InferenceSession(model.SerializeToString(), opts,
                                    providers=["CPUExecutionProvider"])  # fmt: skip

    lines: list[str] = []

    def emit(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    rng = np.random.default_rng(1)
    # DCGAN generator, three ways
    net = dcgan()
    z = rng.standard_normal((32, 100, 1, 1)).astype(np.float32)
    model = tconv.onnx.export(net, z)
    session = tconv.onnx.load(model)
    rt = ort_session(model)
    want = np.asarray(tconv.autograd.unwrap(net(z)))
    err_load = float(np.abs(session.run(None, {"input": z})[0] - want).max())
    err_ort = float(np.abs(rt.run(None, {"input": z})[0] - want).max())

    def module() -> object:
        with tconv.no_grad():  # inference: no tape, as in the session
            return net(z)

    t_module, t_session, t_ort = timed(
        [
            module,
            lambda: session.run(None, {"input": z}),
            lambda: rt.run(None, {"input": z}),
        ],
        args.repeat,
        args.pause,
    )

    # the ConvTranspose node
    x = rng.standard_normal((1, 16, 32, 32)).astype(np.float32)
    w = (rng.standard_normal((16, 8, 4, 4)) * 0.1).astype(np.float32)
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], pads=[1, 1, 1, 1])
    graph = helper.make_graph(
        [node], "ct", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "w")])  # fmt: skip
    ct = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)], ir_version=9)
    ct_tconv, ct_ref, ct_ort = tconv.onnx.load(ct), ReferenceEvaluator(ct), ort_session(ct)
    y_ref = ct_ref.run(None, {"x": x})[0]
    err_ct = float(np.abs(ct_tconv.run(None, {"x": x})[0] - y_ref).max())
    # A 2-ms call on two worker threads is at the mercy of the machine's other load:
    # more rounds for the fast runners, 3 for the reference evaluator (about 1 s each).
    c_tconv, c_ort = timed(
        [lambda: ct_tconv.run(None, {"x": x}), lambda: ct_ort.run(None, {"x": x})],
        3 * args.repeat,
        args.pause,
    )
    [c_ref] = timed([lambda: ct_ref.run(None, {"x": x})], 3, args.pause)

    ms = 1e3
    emit(HEADING)
    emit()
    emit(f"Measured {datetime.date.today()} on {cpu_name()}, {len(os.sched_getaffinity(0))} "
         f"cores; onnx {onnx.__version__}, onnxruntime {ort.__version__} (2 intra-op threads), "
         f"NumPy {np.__version__}, tconv {tconv.__version__}. Command: `python "
         f"benchmarks/bench_onnx.py` (min and median of {args.repeat} runs after a warm-up, "
         f"{args.pause} s pause before each; the runners interleaved, one call of each "
         f"per round).")  # fmt: skip
    emit()
    emit("DCGAN generator (nz 100, ngf 64, 1x1 -> 64x64, BatchNorm eval), batch 32, float32:")
    emit()
    emit("| runner | min ms | median ms | vs tconv module | max abs diff to the module |")
    emit("|---|--:|--:|--:|--:|")
    emit(f"| tconv module (no_grad) | {t_module[0] * ms:.1f} | {t_module[1] * ms:.1f} | 1.00 | 0 |")
    emit(
        f"| tconv.onnx.load(export) | {t_session[0] * ms:.1f} | {t_session[1] * ms:.1f} | "
        f"{t_session[0] / t_module[0]:.2f} | {err_load:.1e} |"
    )
    emit(
        f"| onnxruntime | {t_ort[0] * ms:.1f} | {t_ort[1] * ms:.1f} | "
        f"{t_ort[0] / t_module[0]:.2f} | {err_ort:.1e} |"
    )
    emit()
    emit(
        f"The tconv session costs {t_session[0] / t_module[0]:.2f}x the module (target <= "
        f"1.2x); it takes {t_session[0] / t_ort[0]:.2f}x onnxruntime's time."
    )
    emit()
    emit(
        "The issue's ConvTranspose node, (1, 16, 32, 32) -> 8 channels, k4 s2 p1, float32 "
        f"({3 * args.repeat} rounds; the reference evaluator 3):"
    )
    emit()
    emit("| runner | min ms | median ms | vs tconv session |")
    emit("|---|--:|--:|--:|")
    emit(f"| tconv.onnx.load | {c_tconv[0] * ms:.2f} | {c_tconv[1] * ms:.2f} | 1 |")
    emit(
        f"| onnx ReferenceEvaluator | {c_ref[0] * ms:.0f} | {c_ref[1] * ms:.0f} | "
        f"{c_ref[0] / c_tconv[0]:.0f}x slower |"
    )
    emit(
        f"| onnxruntime | {c_ort[0] * ms:.2f} | {c_ort[1] * ms:.2f} | {c_ort[0] / c_tconv[0]:.2f} |"
    )
    emit()
    emit(
        f"tconv is {c_ref[0] / c_tconv[0]:.0f}x faster than the reference evaluator "
        f"(target >= 100x); max abs difference {err_ct:.1e}."
    )
    if not args.no_write:
        write_section(args.out, lines)
        print(f"\nwrote the section to {args.out}")
    return 0


def write_section(path: Path, lines: list[str]) -> None:
    """Replace (or append) this benchmark's section of the record."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    section = "\n".join(lines).rstrip("\n") + "\n"
    if HEADING in text:
        start = text.index(HEADING)
        end = text.find("\n## ", start + len(HEADING))
        text = text[:start] + section + ("" if end < 0 else "\n" + text[end + 1 :])
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
