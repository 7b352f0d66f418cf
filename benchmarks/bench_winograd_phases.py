"""Time the k4 s2 polyphase Winograd paths against the exact ones: the measurements
behind ``tuning.WINOGRAD_PHASES_*``.

    python benchmarks/bench_winograd_phases.py
    python benchmarks/bench_winograd_phases.py --dtype float64 --layers 64x256x8x128,8x64x32x32
    python benchmarks/bench_winograd_phases.py --layers 4x64x8x16x32  # 3-d

Per layer ``N x C_in x H x C_out`` (a k4 s2 p1 transposed convolution of an HxH map,
the DCGAN generator's; ``N x C_in x D x H x C_out`` a 3-d one of a D x H x H volume,
by depth slices), three calls, each with ``tconv.winograd`` on (the path the
table takes, named) and off (the exact path, named), and PyTorch's where it is
installed: the transposed convolution (``conv_transpose.winograd_phases_jit``), the
convolution that is its input gradient (``conv.winograd_phases_jit``, a
discriminator's down-convolution), and its backward, the input and weight gradients
in one call (``conv_weight.winograd_phases_jit``). Interleaved, min of --repeat wall
times after a warm-up and a 0.12 s pause before each call, on tconv's worker threads;
the thresholds are lowered so that every layer runs both ways.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from typing import Any
from unittest import mock

import numpy as np

import tconv
import tconv.functional as F
from bench_winograd import _min_time
from record import cpu_name
from tconv import kernels
from tconv.kernels import conv as K
from tconv.kernels import tuning

DEFAULT = "64x256x8x128,64x128x16x64,16x256x8x128,4x128x16x64,8x64x32x32,2x32x8x32,64x512x4x256"


def _path(fn: Callable[[], object]) -> str:
    with kernels.trace() as names:
        fn()
    return names[0]


def _torch_calls(x: Any, w: Any, gy: Any, nd: int) -> dict[str, Callable[[], object]]:
    try:
        import torch
    except ImportError:
        return {}
    torch.set_num_threads(tconv.get_num_threads())
    tf = torch.nn.functional
    ct, conv = getattr(tf, f"conv_transpose{nd}d"), getattr(tf, f"conv{nd}d")
    tx, tw, tgy = (torch.from_numpy(a) for a in (x, w, gy))

    def backward() -> object:  # the input and weight gradients alone, as tconv's call
        return torch.ops.aten.convolution_backward(
            tgy, tx, tw, None, [2] * nd, [1] * nd, [1] * nd, True, [0] * nd, 1,
            [True, True, False],
        )  # fmt: skip

    def nograd(fn: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            with torch.no_grad():
                return fn()

        return run

    return {
        "transposed": nograd(lambda: ct(tx, tw, stride=2, padding=1)),
        "conv": nograd(lambda: conv(tgy, tw, stride=2, padding=1)),
        "backward": backward,
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="example: python benchmarks/bench_winograd_phases.py --layers 64x256x8x128",
    )
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument(
        "--layers",
        default=DEFAULT,
        help="N x C_in x H x C_out (3-d: N x C_in x D x H x C_out), comma-separated",
    )
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    dt = np.dtype(args.dtype)
    rng = np.random.default_rng(0)
    print(f"{cpu_name()}, {tconv.get_num_threads()} worker threads, {dt.name}; "
          "ms, Winograd / exact (/ PyTorch)")  # fmt: skip
    for spec in args.layers.split(","):
        print(f"{spec}: " + "; ".join(_layer(spec, dt, rng, args.repeat)), flush=True)


_LOWERED = {"WINOGRAD_PHASES_MIN_CHANNELS": 1, "WINOGRAD_PHASES_MIN_OUTPUTS": 1,
            "WINOGRAD_PHASES_CONV_MIN_OUTPUTS": 1,
            "WINOGRAD_PHASES_WEIGHT_MIN_OUTPUTS": 1}  # fmt: skip


def _layer(spec: str, dt: np.dtype, rng: np.random.Generator, repeat: int) -> list[str]:
    """One layer's three calls, each with the Winograd paths on and off."""
    v = [int(v) for v in spec.split("x")]
    n, c_in, c_out, size = v[0], v[1], v[-1], (*v[2:-2], v[-2], v[-2])
    nd = len(size)
    x = rng.standard_normal((n, c_in, *size)).astype(dt)
    w = (rng.standard_normal((c_in, c_out, *(4,) * nd)) * 0.05).astype(dt)
    gy = rng.standard_normal((n, c_out, *(2 * s for s in size))).astype(dt)
    ct, conv = getattr(F, f"conv_transpose{nd}d"), getattr(F, f"conv{nd}d")
    geo = ((4,) * nd, (2,) * nd, (1,) * nd, 1, (1,) * nd)
    calls: dict[str, Callable[[], object]] = {
        "transposed": lambda: ct(x, w, stride=2, padding=1),
        "conv": lambda: conv(gy, w, stride=2, padding=1),
        "backward": lambda: K.conv_and_weight_grad_nd(gy, x, *geo, w),
    }
    peers = _torch_calls(x, w, gy, nd)
    cells = []
    for name, call in calls.items():

        def on(call: Callable[[], object] = call) -> object:
            with contextlib.ExitStack() as stack:
                for key, value in _LOWERED.items():
                    stack.enter_context(mock.patch.object(tuning, key, value))
                return call()

        def off(call: Callable[[], object] = call) -> object:
            with tconv.winograd(False):
                return call()

        fns = {"on": on, "off": off} | ({"torch": peers[name]} if name in peers else {})
        t = _min_time(fns, repeat)
        peer = f" / {t['torch']:.1f}" if "torch" in t else ""
        cells.append(
            f"{name} {t['on']:.1f} ({_path(on).split('.')[1]}) / {t['off']:.1f} "
            f"({_path(off).split('.')[1]}){peer}: {t['on'] / t['off']:.2f}"
        )
    return cells


if __name__ == "__main__":
    main()
