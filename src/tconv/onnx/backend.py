"""tconv as an ONNX backend (``onnx.backend.base``), so that ONNX's own conformance
suite, ``onnx.backend.test.BackendTest``, runs on tconv.

>>> import pytest; onnx = pytest.importorskip("onnx")
>>> from onnx import helper, TensorProto
>>> node = helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2, mode="CRD")
>>> g = helper.make_graph([node], "g",
...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 1, 1])],
...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 2, 2])])
>>> Backend.run_model(helper.make_model(g), [np.arange(4, dtype=np.float32).reshape(1, 4, 1, 1)])
(array([[[[0., 1.],
         [2., 3.]]]], dtype=float32),)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .session import Session, load

if TYPE_CHECKING:
    from onnx.backend.base import Backend as _Backend
    from onnx.backend.base import BackendRep as _BackendRep
else:
    try:
        from onnx.backend.base import Backend as _Backend
        from onnx.backend.base import BackendRep as _BackendRep
    except ImportError:  # the 'onnx' extra is not installed: load() says so when called
        _Backend = _BackendRep = object

__all__ = ["Backend", "BackendRep"]


class BackendRep(_BackendRep):
    """A prepared model: ``run(inputs)`` takes the inputs in the graph's order (a list),
    by name (a dict), or one array, and returns the outputs as a tuple."""

    def __init__(self, session: Session, input_names: list[str]) -> None:
        self.session = session
        self.input_names = input_names

    def run(self, inputs: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
        if isinstance(inputs, Mapping):
            feeds = dict(inputs)
        else:
            values = [inputs] if isinstance(inputs, np.ndarray) else list(inputs)
            feeds = dict(zip(self.input_names, values))
        return tuple(self.session.run(None, feeds))


class Backend(_Backend):
    """tconv's ONNX backend: ``prepare`` checks the model (onnx.checker, then every
    node against the ops tconv runs) and returns a :class:`BackendRep`; CPU only."""

    @classmethod
    def prepare(cls, model: Any, device: str = "CPU", **kwargs: Any) -> BackendRep:
        super().prepare(model, device, **kwargs)  # onnx.checker.check_model
        session = load(model)
        weights = {t.name for t in model.graph.initializer}
        names = [v.name for v in model.graph.input if v.name not in weights]
        return BackendRep(session, names)

    @classmethod
    def run_model(
        cls, model: Any, inputs: Any, device: str = "CPU", **kwargs: Any
    ) -> tuple[np.ndarray, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device == "CPU"
