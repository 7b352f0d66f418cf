"""tconv.lecture.demos: the numbers are measured from the models' outputs, training
works, the files are written, and the structural claims hold at initialisation."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

import tconv
from tconv import artifacts, data
from tconv.cli import main
from tconv.lecture.demos import autoencoder as ae
from tconv.lecture.demos import dream
from tconv.lecture.demos._common import format_table
from tconv.lecture.demos.progress import Progress, format_seconds


@pytest.fixture(scope="module")
def tiny() -> tuple[np.ndarray, np.ndarray]:
    ds = data.synthetic(48, 8, seed=5)
    return ds.images[:32], ds.images[32:]


# -- progress bar ---------------------------------------------------------------------


def test_progress_without_a_tty_writes_a_few_full_lines() -> None:
    s = io.StringIO()
    with Progress(50, label="k3", stream=s) as bar:
        for i in range(50):
            bar.update(epoch=i // 10 + 1, epochs=5, loss=1.0 / (i + 1))
    lines = s.getvalue().splitlines()
    assert 2 <= len(lines) <= 11 and "\r" not in s.getvalue()
    assert "epoch 5/5" in lines[-1] and "100%" in lines[-1] and "loss 0.02000" in lines[-1]
    assert "took" in lines[-1] and "left" in lines[0]


def test_progress_on_a_tty_redraws_in_place() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    s = Tty()
    bar = Progress(3, stream=s, interval=0.0)
    for _ in range(3):
        bar.update(loss=0.5)
    bar.close()
    bar.close()  # once only
    assert s.getvalue().count("\r") == 4 and s.getvalue().count("\n") == 1


def test_progress_disabled_and_bad_total() -> None:
    s = io.StringIO()
    with Progress(2, stream=s, enabled=False) as bar:
        bar.update(2)
    assert s.getvalue() == ""
    with pytest.raises(ValueError, match="total must be a positive int"):
        Progress(0)
    assert format_seconds(59.6) == "1:00" and format_seconds(-1) == "?"


def test_format_table_aligns_numbers_right() -> None:
    text = format_table(["a", "b"], [["x", 1.5], ["yy", 0.00001]])
    assert text.splitlines()[1] == "|----|---------:|"
    assert "1.00e-05" in text and "|      1.5 |" in text


# -- autoencoder ------------------------------------------------------------------------


@pytest.mark.parametrize("variant", list(ae.VARIANTS))
def test_every_upsampler_doubles_the_size_in_float32(variant) -> None:
    y = ae.upsampler(variant, 3, 2)(tconv.tensor(np.ones((2, 3, 5, 4), np.float32)))
    assert y.shape == (2, 2, 10, 8) and y.dtype == np.float32


def test_unknown_variant_is_named() -> None:
    with pytest.raises(ValueError, match="tconv_k3s2 \\| tconv_k4s2"):
        ae.upsampler("deconv", 1, 1)


def test_metrics_are_computed_from_the_outputs(tiny) -> None:
    _, test = tiny
    tconv.nn.init.manual_seed(0)
    model = ae.AutoEncoder("tconv_k3s2", width=4, latent=2)
    m = ae.measure(model, test)
    out = model(tconv.tensor(test)).data
    np.testing.assert_allclose(m["outputs"], out)
    assert m["mse"] == pytest.approx(float(np.mean((out.astype(float) - test) ** 2)))
    assert m["checkerboard"] == pytest.approx(
        float(np.mean(artifacts.checkerboard_index(out[:, 0], 2)))
    )
    assert m["spectral"] == pytest.approx(
        float(np.mean(artifacts.checkerboard_spectrum(out[:, 0], 2)))
    )
    # change the weights: every number changes with them
    last = model.decoder[2]
    last.weight.data[...] = np.ones_like(last.weight.data) * 0.1
    m2 = ae.measure(model, test)
    for key in ("mse", "checkerboard", "spectral", "checkerboard_constant"):
        assert m2[key] != pytest.approx(m[key], rel=1e-3, abs=1e-6), key
    # an all-equal k3 s2 kernel has unequal phase sums: a grid for a constant input
    assert m2["checkerboard_constant"] > 0.1


def test_literature_at_initialisation(tiny) -> None:
    """Resize-convolutions and ICNR sub-pixel answer a constant latent with a constant
    image; a k3 s2 transposed convolution does not (Odena et al. 2016; Aitken et al. 2017)."""
    _, test = tiny
    cb = {}
    for variant in ae.VARIANTS:
        tconv.nn.init.manual_seed(1)
        cb[variant] = ae.measure(ae.AutoEncoder(variant, width=4, latent=2), test)
    for free in ("resize_nearest", "resize_bilinear", "subpixel_icnr"):
        assert cb[free]["checkerboard_constant"] < 1e-6, free
    assert cb["subpixel_icnr"]["checkerboard"] < 1e-6  # nearest-like 2x2 blocks
    assert cb["tconv_k3s2"]["checkerboard_constant"] > 0.1
    assert cb["tconv_k3s2"]["checkerboard"] > 2 * cb["resize_nearest"]["checkerboard"]


def test_training_decreases_the_loss(tiny) -> None:
    train, test = tiny
    r = ae.train_variant(
        "resize_nearest",
        train,
        test,
        epochs=3,
        batch_size=8,
        lr=1e-2,
        width=4,
        latent=2,
        progress=False,
    )
    assert len(r.loss_curve) == 3 and len(r.test_curve) == 4
    assert r.loss_curve[-1] < r.loss_curve[0]
    assert r.test_curve[-1] < r.test_curve[0] == pytest.approx(r.init["mse"])
    assert r.trained["mse"] == pytest.approx(r.test_curve[-1], rel=1e-5)
    assert r.metrics()["mse"] == r.trained["mse"] != r.init["mse"]


def test_train_variant_checks_shapes(tiny) -> None:
    with pytest.raises(ValueError, match="divisible by 4"):
        ae.train_variant("tconv_k4s2", np.zeros((4, 1, 6, 6), np.float32), tiny[1], epochs=1)


def test_run_writes_metrics_and_figures(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    from tconv.lecture.demos import digits

    _, table = digits.run(
        "synthetic",
        epochs=1,
        variants=["tconv_k3s2", "subpixel_icnr"],
        width=4,
        latent=2,
        out=tmp_path,
        progress=False,
    )
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert set(saved["variants"]) == {"tconv_k3s2", "subpixel_icnr"}
    for v in saved["variants"].values():
        for key in (
            "mse",
            "checkerboard_init",
            "checkerboard_trained",
            "spectral_init",
            "spectral_trained",
            "checkerboard_constant_init",
        ):
            assert isinstance(v[key], float)
    assert saved["dtype"] == saved["output_dtype"] == "float32"
    for name in (
        "recon_tconv_k3s2.png",
        "recon_subpixel_icnr.png",
        "comparison.png",
        "comparison.svg",
        "loss_curves.png",
        "summary.md",
    ):
        assert (tmp_path / name).stat().st_size > 0, name
    assert "tconv_k3s2" in table and "subpixel_icnr" in table


def test_cli_demo_digits(tmp_path, capsys) -> None:
    rc = main(
        [
            "demo",
            "digits",
            "--dataset",
            "synthetic",
            "--epochs",
            "1",
            "--variants",
            "tconv_k4s2",
            "--out",
            str(tmp_path),
            "--no-figures",
        ]
    )
    out, err = capsys.readouterr()
    assert rc == 0
    assert "| tconv_k4s2" in out and "CB init" in out and "loss" not in out
    assert "tconv_k4s2" in err and "100%" in err  # progress on stderr
    assert (tmp_path / "metrics.json").exists() and not (tmp_path / "comparison.png").exists()


@pytest.mark.parametrize(
    "argv", [["demo", "--help"], ["demo", "digits", "--help"], ["demo", "dream", "--help"]]
)
def test_cli_help_has_an_example(argv, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0 and "example" in capsys.readouterr().out


# -- dream ------------------------------------------------------------------------------


def test_avg_pool_and_its_gradient() -> None:
    x = tconv.tensor(np.arange(32.0).reshape(1, 2, 4, 4), requires_grad=True)
    y = dream.AvgPool2()(x)
    np.testing.assert_allclose(y.data, x.data.reshape(1, 2, 2, 2, 2, 2).mean((3, 5)))
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.full((1, 2, 4, 4), 0.25))


def test_input_gradient_matches_torch(torch) -> None:
    tconv.nn.init.manual_seed(2)
    model = dream.classifier("strided", classes=3)
    x = np.random.default_rng(0).random((2, 1, 8, 8)).astype(np.float32)
    g = dream.input_gradient(model, x, np.array([0, 2]))
    tm = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, 2, 1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3, 2, 1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(32, 3, 1),
    )
    tm.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()})
    xt = torch.from_numpy(x).requires_grad_(True)
    logits = tm(xt).mean((2, 3))
    (logits[0, 0] + logits[1, 2]).backward()
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_strided_gradient_has_a_grid_pooled_has_none() -> None:
    """At a constant (grey) canvas, the input gradient of the strided classifier is a
    period-4 grid in the interior, that of the pooled one is constant (float64)."""
    grey = np.full((1, 1, 32, 32), 0.5)
    cb = {}
    for kind in dream.CLASSIFIERS:
        tconv.nn.init.manual_seed(3)
        model = dream._to_float64(dream.classifier(kind, classes=2))
        g = dream.input_gradient(model, grey, np.array([1]))[0, 0, 8:-8, 8:-8]
        assert np.abs(g).max() > 0
        cb[kind] = artifacts.checkerboard_index(g, 4)
    assert cb["strided"] > 0.5 and cb["pooled"] < 1e-9


def test_optimise_input_raises_the_logit() -> None:
    tconv.nn.init.manual_seed(4)
    model = dream.classifier("pooled", classes=2)
    start = np.full((2, 1, 8, 8), 0.5, np.float32)
    x = dream.optimise_input(model, start, np.array([0, 1]), steps=5, step_size=0.05)
    before, after = model(start).data, model(x).data
    assert after[0, 0] > before[0, 0] and after[1, 1] > before[1, 1]
    assert x.min() >= 0 and x.max() <= 1 and x.dtype == np.float32


def test_dream_run_writes_its_files(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    _, table = dream.run(
        epochs=1, steps=2, canvas=20, out=tmp_path, dataset="synthetic", progress=False
    )
    saved = json.loads((tmp_path / "dream.json").read_text())
    assert set(saved["classifiers"]) == {"strided", "pooled"}
    for r in saved["classifiers"].values():
        for key in (
            "test_accuracy",
            "grad_checkerboard_grey",
            "grad_checkerboard_canvas",
            "dream_checkerboard",
            "dream_target_probability",
        ):
            assert 0.0 <= r[key] <= 1.0
    for name in ("dream.png", "dream.svg", "summary.md", "dream_arrays.npz"):
        assert (tmp_path / name).stat().st_size > 0
    assert "strided" in table
    with pytest.raises(ValueError, match="canvas must be a multiple of 4"):
        dream.run(canvas=18, out=tmp_path)
