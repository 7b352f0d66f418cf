"""``tconv demo digits``, ``dream`` and ``superres``: models trained with tconv on real data.

Needs the ``demo`` extra (scikit-learn and scikit-image for the data,
matplotlib and pillow for the figures): ``pip install -e ".[demo]"``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ...lecture.data import INSTALL_HINT
from .._common import (
    MAX_BATCH,
    MAX_CANVAS,
    MAX_EPOCHS,
    MAX_LR,
    MAX_SEED,
    MAX_STEPS,
    MAX_THREADS,
    UsageError,
    add_command,
    finite_float,
    folder,
    int_in,
    make_folder,
)


def register(sub: argparse._SubParsersAction) -> None:
    from ...lecture.demos.autoencoder import VARIANTS

    p = add_command(
        sub,
        "demo",
        lambda args: _usage(p),
        help="train models with tconv on real data and measure checkerboard artifacts",
        description="Demonstrations on real data (scikit-learn's digits, scikit-image's faces), "
        "trained with tconv alone. Needs the demo extra: " + INSTALL_HINT,
        epilog="examples:\n  tconv demo digits\n  tconv demo dream\n  tconv demo superres --quick",
    )
    demos = p.add_subparsers(dest="demo", metavar="DEMO")

    d = add_command(
        demos,
        "digits",
        run_digits,
        help="one autoencoder, five up-sampling layers: MSE and checkerboard numbers",
        description="Train the same small autoencoder (strided-conv encoder) with five "
        "decoders: " + ", ".join(VARIANTS) + ". Measure on held-out images the MSE, the "
        "checkerboard index and spectral measure of the outputs (at initialisation and after "
        "training), and the decoder's answer to a constant latent. Writes metrics.json, "
        "summary.md, recon_<variant>.png, comparison.png/.svg and loss_curves.png; prints "
        "the summary table. Progress goes to stderr.",
        epilog="examples:\n  tconv demo digits\n  tconv demo digits --epochs 2 --out /tmp/d\n"
        "  tconv demo digits --dataset faces --epochs 60 --out faces",
    )
    d.add_argument(
        "--dataset",
        choices=("digits", "faces", "synthetic"),
        default="digits",
        help="digits: sklearn 8x8 (default); faces: skimage lfw_subset cropped to "
        "24x24; synthetic: random blobs, no extra needed",
    )
    d.add_argument("--epochs", type=int_in(0, MAX_EPOCHS), default=40, help="epochs (default: 40)")
    d.add_argument(
        "--seed", type=int_in(0, MAX_SEED), default=0, help="seed of weights, split, batches"
    )
    d.add_argument(
        "--out", type=folder, default=None, help="output folder (default: tconv-demo/DATASET)"
    )
    d.add_argument(
        "--variants",
        nargs="+",
        choices=list(VARIANTS),
        default=None,
        help="the up-sampling layers to train (default: all five)",
    )
    d.add_argument("--batch-size", type=int_in(1, MAX_BATCH), default=32, help="(default: 32)")
    d.add_argument(
        "--lr",
        type=finite_float(0.0, MAX_LR, positive=True),
        default=3e-3,
        help="Adam's learning rate (default: 3e-3)",
    )
    d.add_argument(
        "--threads",
        type=int_in(1, MAX_THREADS),
        default=1,
        help="BLAS threads while training (default: 1, fastest for these tiny products)",
    )
    d.add_argument("--no-figures", action="store_true", help="write metrics.json only")
    d.add_argument("--quiet", action="store_true", help="no progress bars")

    r = add_command(
        demos,
        "dream",
        run_dream,
        help="optimise a classifier's input: the checkerboard of strided convs' gradients",
        description="Train two digit classifiers (strided convolutions; stride-1 convolutions "
        "+ 2x2 average pooling), then measure the checkerboard index of the input gradient "
        "of each class logit and of inputs optimised by gradient ascent (weights frozen), on "
        "the 8x8 digits and on a larger grey canvas. Writes dream.json, summary.md, "
        "dream.png/.svg and dream_arrays.npz; prints the summary table.",
        epilog="examples:\n  tconv demo dream\n  tconv demo dream --steps 100 --canvas 48 "
        "--out /tmp/dream",
    )
    r.add_argument(
        "--epochs", type=int_in(0, MAX_EPOCHS), default=15, help="classifier epochs (default: 15)"
    )
    r.add_argument(
        "--steps",
        type=int_in(0, MAX_STEPS),
        default=60,
        help="gradient-ascent steps on the input (default: 60)",
    )
    r.add_argument(
        "--canvas",
        type=int_in(20, MAX_CANVAS),
        default=32,
        help="side of the large grey canvas, a multiple of 4 >= 20 (default: 32)",
    )
    r.add_argument("--seed", type=int_in(0, MAX_SEED), default=0)
    r.add_argument(
        "--dataset", choices=("digits", "synthetic"), default="digits", help=argparse.SUPPRESS
    )
    r.add_argument(
        "--out",
        type=folder,
        default=Path("tconv-demo/dream"),
        help="output folder (default: tconv-demo/dream)",
    )
    r.add_argument(
        "--threads", type=int_in(1, MAX_THREADS), default=1, help="BLAS threads (default: 1)"
    )
    r.add_argument("--no-figures", action="store_true")
    r.add_argument("--quiet", action="store_true", help="no progress bars")

    q = add_command(
        demos,
        "superres",
        run_superres,
        help="x2 super-resolution on Dask: a Zarr mosaic beyond a worker's memory, exact seams",
        description="Train two small x2 super-resolution decoders (transposed convolution; "
        "ICNR sub-pixel convolution) on patches of scikit-image's bundled images, then "
        "up-scale a Zarr mosaic larger than a worker's memory limit with tconv.dask.apply on "
        "a LocalCluster of 2 worker processes, writing Zarr. Reports MP/s, the peak memory "
        "of each worker and the largest seam error max|tiled - whole| (against naive tiling "
        "and overlap-and-blend). Writes metrics.json and seam.png/.svg. Needs the demo and "
        'dask extras: pip install -e ".[demo,dask]".',
        epilog="examples:\n  tconv demo superres --quick\n  tconv demo superres --out /tmp/sr",
    )
    q.add_argument(
        "--quick", action="store_true", help="fewer steps, a smaller mosaic (under 2 minutes)"
    )
    q.add_argument("--seed", type=int_in(0, MAX_SEED), default=0)
    q.add_argument(
        "--out",
        type=folder,
        default=Path("tconv-demo/superres"),
        help="output folder (default: tconv-demo/superres)",
    )
    q.add_argument("--keep-zarr", action="store_true", help="keep input.zarr and output.zarr")
    q.add_argument("--no-figures", action="store_true", help="write metrics.json only")
    q.add_argument("--quiet", action="store_true", help="no progress bars")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    print("tconv demo: error: give a DEMO (the list above)", file=sys.stderr)
    return 2


def run_digits(args: argparse.Namespace) -> int:
    from ...lecture.demos import digits

    out = args.out if args.out is not None else Path("tconv-demo") / args.dataset
    make_folder(out, "--out")  # before minutes of training, not after them
    start = time.perf_counter()
    try:
        metrics, table = digits.run(
            args.dataset,
            epochs=args.epochs,
            seed=args.seed,
            out=out,
            variants=args.variants,
            batch_size=args.batch_size,
            lr=args.lr,
            figures=not args.no_figures,
            progress=not args.quiet,
            threads=args.threads,
        )
    except ImportError as exc:
        print(f"tconv demo digits: {exc}", file=sys.stderr)
        return 1
    print(
        f"{metrics['dataset']}: {metrics['n_train']} training / {metrics['n_test']} held-out "
        f"images of {metrics['image_size'][0]}x{metrics['image_size'][1]}, "
        f"{args.epochs} epochs, seed {args.seed}\n"
    )
    print(table)
    print(
        f"\nwrote {out}/ (metrics.json, summary.md"
        + (", recon_*.png, comparison.png/.svg, loss_curves.png" if not args.no_figures else "")
        + f") in {time.perf_counter() - start:.1f} s"
    )
    return 0


def run_dream(args: argparse.Namespace) -> int:
    from ...lecture.demos import dream

    if args.canvas % 4:
        raise UsageError(f"argument --canvas: must be a multiple of 4, got {args.canvas}")
    make_folder(args.out, "--out")
    start = time.perf_counter()
    try:
        _, table = dream.run(
            epochs=args.epochs,
            steps=args.steps,
            canvas=args.canvas,
            seed=args.seed,
            out=args.out,
            dataset=args.dataset,
            figures=not args.no_figures,
            progress=not args.quiet,
            threads=args.threads,
        )
    except ImportError as exc:
        print(f"tconv demo dream: {exc}", file=sys.stderr)
        return 1
    print(table)
    print(
        f"\nwrote {args.out}/ (dream.json, summary.md"
        + (", dream.png/.svg" if not args.no_figures else "")
        + f", dream_arrays.npz) in {time.perf_counter() - start:.1f} s"
    )
    return 0


def run_superres(args: argparse.Namespace) -> int:
    from ...lecture.demos import superres

    make_folder(args.out, "--out")
    start = time.perf_counter()
    try:
        _, table = superres.run(
            quick=args.quick,
            out=args.out,
            seed=args.seed,
            progress=not args.quiet,
            figures=not args.no_figures,
            keep_zarr=args.keep_zarr,
        )
    except ImportError as exc:
        print(f"tconv demo superres: {exc}", file=sys.stderr)
        return 1
    print(table)
    print(
        f"\nwrote {args.out}/ (metrics.json"
        + (", seam.png/.svg" if not args.no_figures else "")
        + f") in {time.perf_counter() - start:.1f} s"
    )
    return 0
