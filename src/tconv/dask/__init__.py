"""tconv on Dask: convolutions, transposed convolutions and up-sampling, tile by tile,
exact at every seam (the optional extra ``tconv[dask]``: dask[array], distributed).

Each output block is computed from its input window alone
(:func:`tconv.shapes.input_window`: ``W = w + s q`` inputs for a convolution, the
landing inputs and the stride phase for a transposed one), so a tiled result equals the
whole-array result to rounding, seams included; padding, the crop and output_padding
act once, at the array's true edges. The graph is plain Dask: run it with any Dask
scheduler, ``dask.distributed`` included.

>>> import dask.array as da, numpy as np
>>> import tconv.dask as td, tconv.functional as F
>>> x = np.random.default_rng(0).standard_normal((2, 3, 9, 11))
>>> w = np.random.default_rng(1).standard_normal((3, 2, 3, 3))
>>> y = td.conv_transpose2d(da.from_array(x, chunks=(1, 3, 4, 2)), w, stride=2, padding=1)
>>> bool(np.abs(y.compute() - F.conv_transpose2d(x, w, stride=2, padding=1)
...                          ).max() < 1e-12)
True
"""

from __future__ import annotations

from ._apply import apply
from ._ops import (
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    interpolate,
    pixel_shuffle,
    pixel_unshuffle,
)

__all__ = [
    "apply",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "interpolate",
    "pixel_shuffle",
    "pixel_unshuffle",
]
