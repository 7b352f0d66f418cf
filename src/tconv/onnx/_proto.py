"""What the ONNX face reads from and writes to protobuf: the ``onnx`` package, imported
on first use (the runtime core stays NumPy-only), element types, attributes and
tensors as NumPy values.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

HINT = "pip install 'tconv[onnx]' (onnx==1.23.2, onnxruntime==1.32.0)"


# ONNX element types that are NumPy's own (the rest need ml_dtypes and have no arithmetic)
_NUMPY_TYPES = (
    "FLOAT", "DOUBLE", "FLOAT16", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16",
    "UINT32", "UINT64", "BOOL", "COMPLEX64", "COMPLEX128",
)  # fmt: skip


def require(fn: str, module: str = "onnx") -> Any:
    """The ``onnx`` package (or one of its submodules); an ImportError with the extra
    to install when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # the optional extra is not installed
        raise ImportError(f"{fn}: needs the 'onnx' package: {HINT}") from exc


def np_dtype(elem_type: int, fn: str, where: str) -> np.dtype:
    """The NumPy dtype of an ONNX element type; a TypeError for the types NumPy lacks
    (bfloat16, the float8 and 4-bit types, strings are kept as object arrays)."""
    onnx = require(fn)
    name = onnx.TensorProto.DataType.Name(elem_type)
    if name == "STRING":
        return np.dtype(object)
    if name not in _NUMPY_TYPES:  # ml_dtypes' bfloat16, float8, float4, int4...
        raise TypeError(
            f"{fn}: {where} has element type {name}, which tconv does not compute in; "
            f"supported: {', '.join(_NUMPY_TYPES)}, STRING"
        )
    return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type))


def type_name(elem_type: int) -> str:
    """onnxruntime's name of a tensor type, e.g. ``'tensor(float)'``."""
    onnx = require("type_name")
    return f"tensor({onnx.TensorProto.DataType.Name(elem_type).lower()})"


def to_array(tensor: Any, base_dir: str | None = None) -> np.ndarray:
    """A TensorProto as a NumPy array (external data read from ``base_dir``)."""
    numpy_helper = require("to_array", "onnx.numpy_helper")
    if base_dir is not None:
        return np.asarray(numpy_helper.to_array(tensor, base_dir))
    return np.asarray(numpy_helper.to_array(tensor))


def attribute(attr: Any, fn: str, where: str) -> Any:
    """An AttributeProto's value: ints, floats and strings (decoded) as Python values,
    lists as tuples, tensors as arrays; graphs (If, Loop, Scan) are refused."""
    onnx = require(fn)
    kind = attr.type
    A = onnx.AttributeProto
    if kind in (A.GRAPH, A.GRAPHS):
        raise ValueError(
            f"{fn}: {where}: attribute {attr.name!r} holds a subgraph; tconv runs none"
        )
    if attr.ref_attr_name:
        raise ValueError(f"{fn}: {where}: attribute {attr.name!r} refers to a function attribute")
    value = onnx.helper.get_attribute_value(attr)
    if kind == A.STRING:
        return value.decode("utf-8")
    if kind == A.STRINGS:
        return tuple(v.decode("utf-8") for v in value)
    if kind == A.TENSOR:
        return to_array(value)
    if kind in (A.INTS, A.FLOATS):
        return tuple(value)
    if kind in (A.SPARSE_TENSOR, A.TENSORS, A.SPARSE_TENSORS, A.TYPE_PROTO, A.TYPE_PROTOS):
        raise ValueError(f"{fn}: {where}: attribute {attr.name!r} has a type tconv does not read")
    return value


def dims(value_info: Any) -> list[int | str | None]:
    """onnxruntime's ``shape`` of a graph input or output: an int per known dim, the
    symbol of a named one, None for an unknown one."""
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return []
    out: list[int | str | None] = []
    for d in t.shape.dim:
        if d.HasField("dim_value"):
            out.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            out.append(str(d.dim_param))
        else:
            out.append(None)
    return out
