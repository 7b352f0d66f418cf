"""ONNX's own conformance suite, run on tconv through ``onnx.backend.test.BackendTest``.

The oracle here is written by others: the node tests that onnx generates in memory
(``onnx.backend.test.case.node``; the wheel ships no node data, and BackendTest
builds them itself) and the model tests the wheel ships (pytorch-converted, pytorch-operator, simple). A test is
included when every op of its graph is one tconv runs (:func:`tconv.onnx.supported_ops`):
the node tests of those ops, the ``_expanded`` variants made of them, and e.g.
``test_ConvTranspose2d`` and ``test_PixelShuffle``. Nothing is downloaded (the
``real`` and ``light`` model tests, which fetch or recompute their models, are left
out). Each exclusion below states why; ``test_suite_coverage`` keeps the selection
honest. README.md states the pass count.
"""

from __future__ import annotations

import os
import re
import unittest
from typing import Any
from unittest import mock

import numpy as np
import pytest

pytestmark = pytest.mark.slow
onnx = pytest.importorskip("onnx")

import onnx.backend.test.runner as _runner  # noqa: E402
from onnx import numpy_helper  # noqa: E402
from onnx.backend.test import BackendTest  # noqa: E402
from onnx.backend.test import loader as _loader  # noqa: E402

from tconv.onnx import supported_ops  # noqa: E402
from tconv.onnx.backend import Backend  # noqa: E402

SUPPORTED = set(supported_ops())
# The ops the issue names: each must have node tests in the selection.
REQUIRED = [
    "Conv", "ConvTranspose", "Resize", "Upsample", "DepthToSpace", "SpaceToDepth",
    "AveragePool", "MaxPool", "GlobalAveragePool", "BatchNormalization",
    "InstanceNormalization", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Add", "Sub", "Mul",
    "Div", "MatMul", "Gemm", "Reshape", "Flatten", "Transpose", "Concat", "Pad",
    "Identity", "Constant", "Shape", "Gather", "Unsqueeze", "Squeeze", "Slice", "Cast",
]  # fmt: skip

# name pattern -> why the test is not run. Each is a behaviour tconv refuses with an
# error at load or run time, never a different result: test_excluded_are_refused runs
# every excluded test and checks that it raises.
EXCLUDED: dict[str, str] = {
    r"^test_averagepool_.*dilations": "AveragePool with dilations: tconv's avg_pool, as "
    "PyTorch's, has no dilation",
    r"^test_batchnorm_.*training_mode": "BatchNormalization in training mode (batch "
    "statistics, running-statistics outputs): tconv runs the inference form",
    r"^test_cast(like)?_.*(BFLOAT16|FLOAT8|FLOAT4|INT4|UINT4|INT2|UINT2)": "element types "
    "NumPy has no arithmetic for (bfloat16, float8, float4, int2, int4)",
    r"^test_identity_(opt|sequence)": "optional and sequence values: tconv runs tensors",
    r"^test_training_dropout": "Dropout in training mode draws random masks: tconv runs inference",
    r"^test_resize_.*tf_crop_and_resize": "Resize's crop by roi (tf_crop_and_resize): no "
    "interpolate mode of PyTorch's",
    r"^test_resize_.*not_(larger|smaller)": "keep_aspect_ratio_policy other than stretch",
    r"^test_resize_.*cubic_A_n0p5_exclude_outside": "cubic with cubic_coeff_a=-0.5 and "
    "exclude_outside=1 (TensorFlow's bicubic); PyTorch's is -0.75 with clamped border taps",
    r"^test_resize_upsample_scales_cubic_asymmetric": "cubic on asymmetric coordinates "
    "(x / scale); PyTorch's bicubic is half-pixel or align-corners",
    r"^test_resize_downsample_scales_(cubic|linear)_align_corners": "align_corners with a "
    "non-integer output length (input x scale = 3.2, 2.4): ONNX divides by that length "
    "minus 1, PyTorch by the integer output size minus 1",
    r"^test_resize_.*_antialias": "antialias with exclude_outside=0: ONNX repeats the border "
    "samples in the filter window, PyTorch drops them (equal with exclude_outside=1, "
    "tested in test_onnx_load); the cubic ones also take a=-0.75, PyTorch's anti-aliased "
    "bicubic -0.5",
    r"^test_resize_.*half_pixel_symmetric": "half_pixel_symmetric with a non-integer output "
    "length input x scale: an offset PyTorch has not",
    r"^test_resize_downsample_sizes_linear_pytorch_half_pixel": "pytorch_half_pixel with an "
    "output size of 1 samples input 0; PyTorch's interpolate samples the middle",
    r"^test_resize_(up|down)sample_sizes_nearest(_axes_\d_\d)?_cpu$": "nearest, "
    "round_prefer_floor, with outputs exactly half-way between inputs (2 -> 7: output 3 "
    "maps to 0.5): ONNX rounds down, PyTorch's nearest-exact up",
    r"^test_resize_upsample_sizes_nearest_ceil_half_pixel": "nearest_mode='ceil': no PyTorch mode",
    r"^test_resize_upsample_sizes_nearest_floor_align_corners": "nearest on align_corners "
    "coordinates: no PyTorch mode",
    r"^test_resize_upsample_sizes_nearest_round_prefer_ceil_asymmetric": "nearest rounding "
    "asymmetric coordinates: PyTorch's nearest floors them",
}


def _ops(model: onnx.ModelProto) -> set[str]:
    return {n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}"
            for n in model.graph.node}  # fmt: skip


def _runnable(model: onnx.ModelProto) -> bool:
    return not model.functions and _ops(model) <= SUPPORTED


def _model(test: Any) -> Any:
    if test.model is not None:  # node tests: generated in memory
        return test.model
    return onnx.load(os.path.join(test.model_dir, "model.onnx"), load_external_data=False)


def _load_model_tests(data_dir: str = _loader.DATA_DIR, kind: str | None = None) -> list:
    if kind in ("node", *SHIPPED_KINDS):
        return [t for t in _loader.load_model_tests(kind=kind)
                if (t.model is not None or t.model_dir) and _runnable(_model(t))]  # fmt: skip
    return []  # real (and light): downloads, or models recomputed by onnx's reference evaluator


SHIPPED_KINDS = ("pytorch-converted", "pytorch-operator", "simple")
with mock.patch.object(_runner, "load_model_tests", _load_model_tests):
    backend_test = BackendTest(Backend, __name__)
for _pattern in EXCLUDED:
    backend_test.exclude(_pattern)

globals().update(backend_test.test_cases)

SELECTED = sorted(
    name for cases in backend_test._test_items.values() for name in cases if name.endswith("_cpu")
)


def test_suite_coverage() -> None:
    """Every op the issue names has node tests here, including the issue's counts
    (ConvTranspose 11, Conv 6 plus their variants), and the pytorch-converted
    ConvTranspose2d and PixelShuffle models are in."""
    node_models = [t.model for t in _load_model_tests(kind="node")]
    for op in REQUIRED:
        assert any(op in _ops(m) for m in node_models), f"no node test runs {op}"
    names = set(SELECTED)
    assert len([n for n in names if n.startswith("test_convtranspose")]) >= 11
    assert len([n for n in names if n.startswith("test_conv_")]) >= 3
    assert len([n for n in names if n.startswith("test_resize_")]) >= 39
    for name in ("test_ConvTranspose2d_cpu", "test_ConvTranspose2d_no_bias_cpu",
                 "test_PixelShuffle_cpu"):  # fmt: skip
        assert name in names


def test_exclusions_match_something() -> None:
    """No stale exclusion: each pattern names a selected test."""
    for pattern in EXCLUDED:
        assert any(re.search(pattern, n) for n in SELECTED), pattern


def _excluded_tests() -> list[Any]:
    tests = [t for kind in ("node", *SHIPPED_KINDS) for t in _load_model_tests(kind=kind)]
    return [t for t in tests if any(re.search(p, f"{t.name}_cpu") for p in EXCLUDED)]


@pytest.mark.parametrize("test", _excluded_tests(), ids=lambda t: t.name)
def test_excluded_are_refused(test: Any) -> None:
    """Every excluded test is refused with an error (at load or at run time): tconv
    never computes something else."""
    model = _model(test)
    with pytest.raises((ValueError, TypeError)) as info:
        rep = Backend.prepare(model)
        for inputs, _ in test.data_sets:
            rep.run(
                [
                    numpy_helper.to_array(a) if isinstance(a, onnx.TensorProto) else np.asarray(a)
                    for a in inputs
                ]
            )
    assert "tconv" in str(info.value)


if __name__ == "__main__":
    unittest.main()
