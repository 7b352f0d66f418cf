"""ONNX in and out: run ONNX models on tconv, export tconv models, and tconv as an
ONNX backend.

- :func:`load` -- an ONNX model as a session with onnxruntime's interface
  (``run(output_names, feeds)``, ``get_inputs()``, ``get_outputs()``), executed by
  tconv's own ops; :func:`check` lists what keeps a model from running;
  :func:`supported_ops` lists the op types.
- :func:`export` -- a :mod:`tconv.nn` model as an ONNX ``ModelProto`` (or file).
- :mod:`tconv.onnx.backend` -- ``Backend`` / ``BackendRep`` for
  ``onnx.backend.test.BackendTest``, ONNX's conformance suite.

ONNX's ``Conv``/``ConvTranspose`` conventions (``auto_pad``, ``pads``,
``output_shape``) are :mod:`tconv.compat.onnx`'s, written once there. The ``onnx``
package (and onnxruntime, to compare) come with the extra: ``pip install
'tconv[onnx]'``; without it, these functions raise an ImportError that says so.

>>> "Resize" in supported_ops()
True
"""

from __future__ import annotations

from .export import export
from .ops import supported_ops
from .session import NodeArg, Session, check, load

__all__ = ["NodeArg", "Session", "check", "export", "load", "supported_ops"]
