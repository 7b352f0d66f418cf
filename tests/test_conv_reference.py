"""The second oracle, independent of PyTorch: slow loops written from the
lecture's definitions, the adjoint identity, and the lecture's examples."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings

import tconv.functional as F
from helpers import rel_err
from strategies import Config, configs


def scatter_reference(x, w, b, stride, padding, output_padding, groups, dilation):
    """Transposed convolution from its definition: every input sample adds a
    scaled, translated copy of the kernel ("a weighted sum of translated
    kernels"), then ``padding`` crops the result. Loops over positions and taps."""
    n, c_in, *size = x.shape
    k = w.shape[2:]
    nd = len(k)
    c_in_g, c_out_g = c_in // groups, w.shape[1]
    full_size = [(L - 1) * s + d * (kk - 1) + 1 for L, s, d, kk in zip(size, stride, dilation, k)]
    out_size = [f - 2 * p + a for f, p, a in zip(full_size, padding, output_padding)]
    # room for output_padding past the scattered signal
    full = np.zeros((n, c_out_g * groups, *[f + a for f, a in zip(full_size, output_padding)]))
    for g in range(groups):
        xs = x[:, g * c_in_g : (g + 1) * c_in_g]
        for i in itertools.product(*(range(L) for L in size)):
            for t in itertools.product(*(range(kk) for kk in k)):
                pos = tuple(ii * s + tt * d for ii, tt, s, d in zip(i, t, stride, dilation))
                # (n, c_in_g) @ (c_in_g, c_out_g)
                contrib = (
                    xs[(slice(None), slice(None), *i)]
                    @ w[(slice(g * c_in_g, (g + 1) * c_in_g), slice(None), *t)]
                )
                full[(slice(None), slice(g * c_out_g, (g + 1) * c_out_g), *pos)] += contrib
    crop = tuple(slice(p, p + o) for p, o in zip(padding, out_size))
    y = full[(slice(None), slice(None), *crop)]
    assert y.ndim == nd + 2
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * nd)
    return y


def correlation_reference(x, w, b, stride, pad_lo, pad_hi, dilation, groups):
    """Convolution (the lecture's ⊛): ``y_i = sum_a x_{i s + a d} k_a`` over the padded input."""
    n, c_in, *size = x.shape
    k = w.shape[2:]
    c_in_g, c_out_g = c_in // groups, w.shape[0] // groups
    xp = np.pad(x, [(0, 0), (0, 0), *zip(pad_lo, pad_hi)])
    out = [
        (L + lo + hi - d * (kk - 1) - 1) // s + 1
        for L, lo, hi, d, kk, s in zip(size, pad_lo, pad_hi, dilation, k, stride)
    ]
    y = np.zeros((n, w.shape[0], *out))
    for g in range(groups):
        for o in itertools.product(*(range(m) for m in out)):
            for t in itertools.product(*(range(kk) for kk in k)):
                pos = tuple(oo * s + tt * d for oo, tt, s, d in zip(o, t, stride, dilation))
                xv = xp[(slice(None), slice(g * c_in_g, (g + 1) * c_in_g), *pos)]  # (n, c_in_g)
                wv = w[
                    (slice(g * c_out_g, (g + 1) * c_out_g), slice(None), *t)
                ]  # (c_out_g, c_in_g)
                y[(slice(None), slice(g * c_out_g, (g + 1) * c_out_g), *o)] += xv @ wv.T
    if b is not None:
        y = y + b.reshape((1, -1) + (1,) * len(k))
    return y


def _batched(cfg: Config, x):
    return x if cfg.batch is not None else x[None]


@settings(max_examples=150)
@given(configs(transposed=True))
def test_conv_transpose_matches_scatter_definition(cfg: Config) -> None:
    x, w, b = cfg.arrays()
    pad = cfg.padding if isinstance(cfg.padding, tuple) else (cfg.padding,) * cfg.nd
    ref = scatter_reference(
        _batched(cfg, x), w, b, cfg.stride, pad, cfg.output_padding, cfg.groups, cfg.dilation
    )
    got = getattr(F, f"conv_transpose{cfg.nd}d")(x, w, b, **cfg.kwargs())
    assert rel_err(_batched(cfg, got), ref) <= 1e-12


@settings(max_examples=150)
@given(configs(transposed=False))
def test_conv_matches_correlation_definition(cfg: Config) -> None:
    x, w, b = cfg.arrays()
    if cfg.padding == "same":
        total = [d * (k - 1) for d, k in zip(cfg.dilation, cfg.kernel)]
        lo, hi = [t // 2 for t in total], [t - t // 2 for t in total]
    elif cfg.padding == "valid":
        lo = hi = [0] * cfg.nd
    else:
        lo = hi = list(cfg.padding) if isinstance(cfg.padding, tuple) else [cfg.padding] * cfg.nd
    ref = correlation_reference(
        _batched(cfg, x), w, b, cfg.stride, lo, hi, cfg.dilation, cfg.groups
    )
    got = getattr(F, f"conv{cfg.nd}d")(x, w, b, **cfg.kwargs())
    assert rel_err(_batched(cfg, got), ref) <= 1e-12


@settings(max_examples=200)
@given(configs(transposed=False))
def test_adjoint_identity(cfg: Config) -> None:
    """<conv(x, w), y> == <x, conv_transpose(y, w)> for the same stride, padding,
    dilation and groups: the transposed convolution is the adjoint of the convolution."""
    if isinstance(cfg.padding, str):
        return  # 'same' may pad asymmetrically; transposed convs crop symmetrically
    x, w, _ = cfg.arrays()
    x = _batched(cfg, x)
    kw = dict(stride=cfg.stride, padding=cfg.padding, dilation=cfg.dilation, groups=cfg.groups)
    cx = getattr(F, f"conv{cfg.nd}d")(x, w, **kw)
    y = np.random.default_rng(cfg.seed + 1).standard_normal(cx.shape)
    ty = getattr(F, f"conv_transpose{cfg.nd}d")(y, w, **kw, output_size=x.shape[2:])
    lhs, rhs = float(np.vdot(cx, y)), float(np.vdot(x, ty))
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs), float(np.abs(cx).sum()))


def test_stride_one_transposed_conv_is_full_signal_processing_convolution(rng) -> None:
    """The lecture: conv_transpose1d(x, k) with stride 1 is x * k, the full convolution."""
    x, k = rng.standard_normal(11), rng.standard_normal(4)
    got = F.conv_transpose1d(x[None, None], k[None, None])[0, 0]
    np.testing.assert_allclose(got, np.convolve(x, k, mode="full"), rtol=1e-12, atol=1e-12)


def test_conv_is_correlation_with_the_kernel_read_forwards(rng) -> None:
    x, k = rng.standard_normal(11), rng.standard_normal(4)
    got = F.conv1d(x[None, None], k[None, None])[0, 0]
    np.testing.assert_allclose(got, np.correlate(x, k, mode="valid"), rtol=1e-12, atol=1e-12)


def test_upfirdn_oracle(rng) -> None:
    """1-D, one channel: the scatter before the crop is scipy.signal.upfirdn(w, x, up=s)."""
    signal = pytest.importorskip("scipy.signal")
    x, w = rng.standard_normal(9), rng.standard_normal(5)
    for s in (1, 2, 3):
        full = signal.upfirdn(w, x, up=s)[: (len(x) - 1) * s + len(w)]
        for p in (0, 1, 2):
            got = F.conv_transpose1d(x[None, None], w[None, None], stride=s, padding=p)[0, 0]
            np.testing.assert_allclose(got, full[p : len(full) - p], rtol=1e-12, atol=1e-12)


# The lecture's worked examples, exactly.
def test_lecture_conv1d_example() -> None:
    y = F.conv1d([[[0.0, 0, 1, 0, 0, 0, 0]]], [[[1.0, 2, 3]]])
    np.testing.assert_array_equal(y, [[[3.0, 2, 1, 0, 0]]])


def test_lecture_conv_transpose1d_example() -> None:
    y = F.conv_transpose1d([[[0.0, 0, 1, 0, 0, 0, 0]]], [[[1.0, 2, 3]]])
    np.testing.assert_array_equal(y, [[[0.0, 0, 1, 2, 3, 0, 0, 0, 0]]])


def test_lecture_conv_transpose_module_example() -> None:
    y = F.conv_transpose1d([[[2.0, 3, 0, -1]]], [[[1.0, 2, -1]]], [0.0])
    np.testing.assert_array_equal(y, [[[2.0, 7, 4, -4, -2, 1]]])


def test_lecture_examples_command_agrees(capsys) -> None:
    from tconv.cli import main

    assert main(["examples"]) == 0
    out = capsys.readouterr().out
    assert out.count("agrees") == 3 and "DIFFERS" not in out
    assert "[2, 7, 4, -4, -2, 1]" in out
