"""Other frameworks' convolutions and transposed convolutions, exactly, on NumPy.

One module per framework mirrors its functions: names, argument names and
defaults, layouts (:mod:`tconv.compat.tf`, :mod:`tconv.compat.keras`,
:mod:`tconv.compat.jax`, :mod:`tconv.compat.onnx`). Each has one function,
``lower``, that maps the framework's convention onto tconv's ops (a
:class:`Lowering`: stride, dilation, groups, ``(lo, hi)`` padding pairs, whether the
kernel is mirrored, and the layouts); the calls run it on :mod:`tconv.functional`.
NumPy arrays go in and come out; float32 and float64 are kept. :func:`port` writes
a transposed-convolution layer of one framework in the others' terms
(``tconv port`` on the command line); ``python -m tconv.compat.table`` measures the
frameworks' disagreements (the table in docs/guides/porting.md).

None of this imports the frameworks: they are the tests' oracles only.
"""

from __future__ import annotations

from . import jax, keras, onnx, tf
from ._lowering import Lowering, run
from .porting import FRAMEWORKS, Layer, Port, Target, port

__all__ = [
    "FRAMEWORKS",
    "Layer",
    "Lowering",
    "Port",
    "Target",
    "jax",
    "keras",
    "onnx",
    "port",
    "run",
    "tf",
]
