"""Differential tests: tconv's conv and conv_transpose against PyTorch.

Randomized over 1-3 spatial dims, stride, padding (int, tuple, 'same',
'valid'), output_padding, dilation, groups, bias, batched and unbatched input,
in float64 (rel. error <= 1e-10) and float32 (<= 1e-5).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

import tconv
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
    if dtype == np.float32:
        # float32 sums that cancel carry both sides' rounding relative to their terms,
        # not to the small result (seen: 3 terms near 1 summing to 1.3e-3, PyTorch's
        # float32 off by 2.3e-5 of it, tconv's exact): scale by the largest sum of
        # |terms| too, the float64 call on |x|, |w| and |b|
        absolute = (np.abs(a).astype(np.float64) if a is not None else None for a in (x, w, b))
        terms = float(np.abs(_torch_call(torch, cfg, *absolute)).max(initial=0.0))
        scale = max(float(np.abs(ref).max(initial=0.0)), terms, 1e-30)
        assert float(np.abs(got.astype(np.float64) - ref).max(initial=0.0)) <= tol * scale, cfg
    else:
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
@example(  # 3 products near 1 that cancel to 1.3e-3: PyTorch's float32 off by 2.3e-5 of it
    cfg=Config(True, 1, None, 1, 3, 1, (1,), (5,), (1,), (1,), (2,), (0,), True, 1327)
)
def test_conv_transpose_float32_matches_torch(torch, cfg: Config) -> None:
    _check(torch, cfg, np.float32, 1e-5)


@settings(max_examples=120)
@given(configs(transposed=False))
def test_conv_float32_matches_torch(torch, cfg: Config) -> None:
    _check(torch, cfg, np.float32, 1e-5)


@settings(max_examples=60)
@given(configs(transposed=True), st.booleans())
def test_output_size_matches_torch_module(torch, cfg: Config, full: bool) -> None:
    """``output_size=`` picks output_padding exactly as nn.ConvTranspose*d.forward does,
    batched or unbatched, given as the spatial sizes or with the leading (N, C) or (C)."""
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
    # nn.ConvTranspose*d reaches [L_min, L_min + stride - 1]: output_padding < stride
    kw["output_padding"] = tuple(a % s for a, s in zip(cfg.output_padding, cfg.stride))
    try:
        tconv.shapes.conv_transpose_output_size(
            cfg.size, cfg.kernel, cfg.stride, kw["padding"], kw["output_padding"], cfg.dilation
        )
    except ValueError as err:  # a smaller output_padding may leave nothing after the crop
        assert "empty output" in str(err)
        assume(False)
    y = getattr(F, f"conv_transpose{nd}d")(x, w, b, **kw)
    target = y.shape if full else y.shape[-nd:]
    kw.pop("output_padding")
    with torch.no_grad():
        ref = m(torch.from_numpy(x), output_size=list(target)).numpy()
    got = getattr(F, f"conv_transpose{nd}d")(x, w, b, **kw, output_size=target)
    assert got.shape == ref.shape
    assert rel_err(got, ref) <= 1e-10
    ours = tconv.nn.__dict__[f"ConvTranspose{nd}d"](
        cfg.c_in,
        cfg.c_out,
        cfg.kernel,
        cfg.stride,
        kw["padding"],
        0,
        cfg.groups,
        cfg.bias,
        cfg.dilation,
        dtype=np.float64,
    )
    ours.weight.data[...] = w
    if b is not None:
        ours.bias.data[...] = b
    assert rel_err(ours(x, output_size=target).data, ref) <= 1e-10


@pytest.mark.parametrize(
    ("shape", "output_size", "ok"),
    [
        ((1, 4, 4), (1, 8, 8), True),  # unbatched: (C, *spatial), the case
        ((1, 4, 4), (8, 8), True),
        ((1, 4, 4), (1, 1, 8, 8), False),  # unbatched: no (N, C, *spatial)
        ((1, 1, 4, 4), (1, 1, 8, 8), True),
        ((1, 1, 4, 4), (1, 8, 8), False),  # batched: no (C, *spatial)
        ((1, 1, 4, 4), (3, 1, 1, 8, 8), False),
    ],
)
def test_output_size_lengths_as_torch(torch, shape, output_size, ok) -> None:
    """PyTorch's ``_output_padding`` drops ``num_non_spatial_dims`` leading entries: 2 for
    a batched input, 1 for an unbatched one; any other length is an error."""
    x = np.ones(shape)
    m = tconv.nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1, dtype=np.float64)
    tm = torch.nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1).double()
    with torch.no_grad():
        tm.weight.copy_(torch.from_numpy(m.weight.data))
        tm.bias.copy_(torch.from_numpy(m.bias.data))
        if ok:
            ref = tm(torch.from_numpy(x), output_size=list(output_size)).numpy()
            assert rel_err(m(x, output_size=output_size).data, ref) <= 1e-12
            f = F.conv_transpose2d(x, m.weight.data, m.bias.data, 2, 1, output_size=output_size)
            assert rel_err(f, ref) <= 1e-12
        else:
            with pytest.raises(ValueError, match="output_size must have 2"):
                tm(torch.from_numpy(x), output_size=list(output_size))
            with pytest.raises(ValueError, match=r"output_size must have 2 entries \(spatial\)"):
                m(x, output_size=output_size)


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
