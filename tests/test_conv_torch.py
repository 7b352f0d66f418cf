"""Differential tests: tconv's conv and conv_transpose against PyTorch.

Randomized over 1-3 spatial dims, stride, padding (int, tuple, 'same',
'valid'), output_padding, dilation, groups, bias, batched and unbatched input,
in float64 (rel. error <= 1e-10) and float32 (<= 1e-5).
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings

import tconv.functional as F
from helpers import rel_err
from strategies import Config, configs


def _torch_call(torch, cfg: Config, x, w, b):
    import torch.nn.functional as TF

    name = f"conv_transpose{cfg.nd}d" if cfg.transposed else f"conv{cfg.nd}d"
    tb = None if b is None else torch.from_numpy(b)
    kw = cfg.kwargs()
    if cfg.transposed:
        args = (kw["stride"], kw["padding"], kw["output_padding"], kw["groups"], kw["dilation"])
    else:
        args = (kw["stride"], kw["padding"], kw["dilation"], kw["groups"])
    return getattr(TF, name)(torch.from_numpy(x), torch.from_numpy(w), tb, *args).numpy()


def _ours(cfg: Config, x, w, b):
    name = f"conv_transpose{cfg.nd}d" if cfg.transposed else f"conv{cfg.nd}d"
    return getattr(F, name)(x, w, b, **cfg.kwargs())


def _check(torch, cfg: Config, dtype, tol: float) -> None:
    x, w, b = cfg.arrays(dtype)
    x0, w0 = x.copy(), w.copy()
    ref = _torch_call(torch, cfg, x, w, b)
    got = _ours(cfg, x, w, b)
    assert isinstance(got, np.ndarray)
    assert got.dtype == np.dtype(dtype)
    assert got.shape == ref.shape
    assert rel_err(got, ref) <= tol, cfg
    # inputs are never modified, results never alias them
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(w, w0)
    assert not np.shares_memory(got, x) and not np.shares_memory(got, w)


@settings(max_examples=450)
@given(configs(transposed=True))
def test_conv_transpose_float64_matches_torch(torch, cfg: Config) -> None:
    _check(torch, cfg, np.float64, 1e-10)


@settings(max_examples=450)
@given(configs(transposed=False))
def test_conv_float64_matches_torch(torch, cfg: Config) -> None:
    _check(torch, cfg, np.float64, 1e-10)


@settings(max_examples=120)
@given(configs(transposed=True))
def test_conv_transpose_float32_matches_torch(torch, cfg: Config) -> None:
    _check(torch, cfg, np.float32, 1e-5)


@settings(max_examples=120)
@given(configs(transposed=False))
def test_conv_float32_matches_torch(torch, cfg: Config) -> None:
    _check(torch, cfg, np.float32, 1e-5)


@settings(max_examples=60)
@given(configs(transposed=True))
def test_output_size_matches_torch_module(torch, cfg: Config) -> None:
    """``output_size=`` picks output_padding exactly as nn.ConvTranspose*d.forward does."""
    if cfg.batch is None:
        return
    x, w, b = cfg.arrays()
    nd = cfg.nd
    m = getattr(torch.nn, f"ConvTranspose{nd}d")(
        cfg.c_in,
        cfg.c_out,
        cfg.kernel,
        cfg.stride,
        cfg.kwargs()["padding"],
        0,
        cfg.groups,
        cfg.bias,
        cfg.dilation,
    ).double()
    with torch.no_grad():
        m.weight.copy_(torch.from_numpy(w))
        if b is not None:
            m.bias.copy_(torch.from_numpy(b))
    kw = cfg.kwargs()
    kw.pop("output_padding")
    # nn.ConvTranspose*d reaches [L_min, L_min + stride - 1]: output_padding < stride
    kw["output_padding"] = tuple(a % s for a, s in zip(cfg.output_padding, cfg.stride))
    sizes = [
        (n - 1) * s - 2 * p + d * (k - 1) + a + 1
        for n, s, p, d, k, a in zip(
            cfg.size, cfg.stride, np.broadcast_to(cfg.kwargs()["padding"], (nd,)),
            cfg.dilation, cfg.kernel, kw["output_padding"],
        )
    ]
    assume(min(sizes) > 0)  # a smaller output_padding may leave nothing after the crop
    target = getattr(F, f"conv_transpose{nd}d")(x, w, b, **kw).shape[2:]
    kw.pop("output_padding")
    with torch.no_grad():
        ref = m(torch.from_numpy(x), output_size=list(target)).numpy()
    got = getattr(F, f"conv_transpose{nd}d")(x, w, b, **kw, output_size=target)
    assert got.shape == ref.shape
    assert rel_err(got, ref) <= 1e-10


def test_large_batch_and_channels_match_torch(torch, rng) -> None:
    """A bigger layer takes the batched-GEMM path (many positions per sample)."""
    x = rng.standard_normal((2, 8, 40, 40))
    w = rng.standard_normal((8, 6, 4, 4))
    ref = _torch_call(
        torch,
        Config(True, 2, 2, 1, 8, 6, (40, 40), (4, 4), (2, 2), (1, 1), 1, (0, 0), False, 0),
        x,
        w,
        None,
    )
    assert rel_err(F.conv_transpose2d(x, w, stride=2, padding=1), ref) <= 1e-10
    wc = rng.standard_normal((6, 8, 3, 3))
    ref = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(wc), padding=1).numpy()
    assert rel_err(F.conv2d(x, wc, padding=1), ref) <= 1e-10
