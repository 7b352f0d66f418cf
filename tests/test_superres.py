"""tconv demo superres, in pieces: the decoders, the mosaic, and the seam measurements
(tiled by tconv.dask exact; naive tiling and overlap-and-blend not), on small arrays."""

from __future__ import annotations

import numpy as np
import pytest

from tconv.cli import main
from tconv.lecture.demos import superres

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("variant", superres.VARIANTS)
def test_decoders_double_the_size(variant: str) -> None:
    m = superres.make_model(variant).eval()
    assert np.asarray(m(np.zeros((2, 1, 5, 7), np.float32))).shape == (2, 1, 10, 14)
    with pytest.raises(ValueError, match="variant"):
        superres.make_model("bicubic")


def test_downscale_is_2x2_averaging() -> None:
    hr = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(superres.downscale(hr)[0, 0], [[2.5, 4.5], [10.5, 12.5]])


def test_mosaic_blocks_agree_with_the_whole() -> None:
    images = [np.random.default_rng(i).random((40, 50), dtype=np.float32) for i in range(3)]
    info = {None: {"array-location": [(0, 1), (0, 1), (0, 64), (0, 64)]}}
    whole = superres._mosaic_block(None, images, 16, info)
    part = {None: {"array-location": [(0, 1), (0, 1), (10, 40), (20, 33)]}}
    np.testing.assert_array_equal(
        superres._mosaic_block(None, images, 16, part), whole[..., 10:40, 20:33]
    )


def test_seams_tiled_is_exact_naive_and_blend_are_not() -> None:
    da = pytest.importorskip("dask.array")
    import dask

    import tconv.dask as td
    from tconv import nn

    nn.init.manual_seed(0)
    model = superres.make_model("transposed").eval()
    x = np.random.default_rng(0).random((1, 1, 96, 96), dtype=np.float32)
    chunk = 32
    with dask.config.set(scheduler="synchronous"):
        y = td.apply(model, da.from_array(x, chunks=(1, 1, chunk, chunk))).compute()
    result, crop = superres.seams(model, x, y, chunk, half=12)
    err = result["max_abs_error"]
    assert err["tiled"] <= 1e-5
    assert err["naive"] > 100 * max(err["tiled"], 1e-7)
    assert err["blend"] > 100 * max(err["tiled"], 1e-7)
    assert set(crop) == {"whole", "tiled", "naive", "blend"}


@pytest.mark.parametrize("argv", [["demo", "superres", "--help"]])
def test_cli_help_has_an_example(argv, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0 and "tconv demo superres --quick" in capsys.readouterr().out
