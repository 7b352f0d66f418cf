"""Argument normalisation and validation shared by every public op.

Each public function validates its arguments once, here, and passes plain
tuples of Python ints to the kernels, which trust them. Errors name the
function, the argument, the rule and the value (Chainer's "Expect / Actual"
habit, in one sentence).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, Union

import numpy as np

IntOrTuple = Union[int, Sequence[int]]


def ntuple(
    value: Any,
    n: int,
    name: str,
    fn: str,
    *,
    of: type = int,
    broadcast_one: bool = True,
    where: str = "",
) -> tuple[Any, ...]:
    """Turn an int (``of=float``: a real) or a length-``n`` sequence into a tuple of ``n``.

    PyTorch's habit for per-dim arguments: one value for every dim, or one per dim.
    ``broadcast_one`` also takes a 1-tuple for every dim, as the conv ops do (not
    ``interpolate``). ``where`` adds context to the length error.

    >>> ntuple(2, 3, "stride", "conv3d")
    (2, 2, 2)
    >>> ntuple((1, 2), 2, "stride", "conv2d")
    (1, 2)
    >>> ntuple(2, 2, "scale_factor", "interpolate", of=float)
    (2.0, 2.0)
    """
    is_item, kind, one = (_is_int, "int", "an int") if of is int else (_is_real, "float", "a float")
    if is_item(value):
        return (of(value),) * n
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise TypeError(
            f"{fn}: {name} must be {one} or a tuple of {n} {kind}s, "
            f"got {type(value).__name__} {value!r}"
        )
    items = tuple(value)
    if len(items) == 1 and n > 1 and broadcast_one:
        # PyTorch accepts a 1-tuple for every dim, as it does an int.
        items = items * n
    if len(items) != n:
        raise ValueError(
            f"{fn}: {name} must be {one} or a tuple of {n} {kind}s (one entry per spatial "
            f"dim{where}), got {len(items)} values {tuple(value)!r}"
        )
    bad = [v for v in items if not is_item(v)]
    if bad:
        raise TypeError(
            f"{fn}: {name} must contain {kind}s, got {type(bad[0]).__name__} {bad[0]!r} "
            f"in {value!r}"
        )
    return tuple(of(v) for v in items)


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_))


def positive(values: tuple[int, ...], name: str, fn: str) -> tuple[int, ...]:
    if any(v <= 0 for v in values):
        raise ValueError(f"{fn}: {name} must be positive, got {name}={_show(values)}")
    return values


def non_negative(values: tuple[int, ...], name: str, fn: str) -> tuple[int, ...]:
    if any(v < 0 for v in values):
        raise ValueError(f"{fn}: {name} must be non-negative, got {name}={_show(values)}")
    return values


def positive_ntuple(value: Any, n: int, name: str, fn: str) -> tuple[int, ...]:
    """:func:`ntuple`, then :func:`positive`: a stride, dilation or kernel size.

    >>> positive_ntuple(2, 2, "stride", "conv2d")
    (2, 2)
    """
    return positive(ntuple(value, n, name, fn), name, fn)


def non_negative_ntuple(value: Any, n: int, name: str, fn: str) -> tuple[int, ...]:
    """:func:`ntuple`, then :func:`non_negative`: a padding or output_padding.

    >>> non_negative_ntuple((0, 1), 2, "padding", "conv2d")
    (0, 1)
    """
    return non_negative(ntuple(value, n, name, fn), name, fn)


def positive_int(value: Any, name: str, fn: str) -> int:
    if not _is_int(value):
        raise TypeError(f"{fn}: {name} must be an int, got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"{fn}: {name} must be positive, got {name}={value}")
    return int(value)


def _show(values: tuple[int, ...]) -> str:
    return str(values[0]) if len(set(values)) == 1 else str(values)


_FLOATS = (np.float32, np.float64)


def as_array(value: Any, name: str, fn: str) -> np.ndarray:
    """``np.asarray`` with a clear TypeError for non-numeric data."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged lists and the like
        raise TypeError(
            f"{fn}: {name} must be a numeric array, got {type(value).__name__}: {exc}"
        ) from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{fn}: {name} must hold real numbers (float32 or float64), "
            f"got dtype {arr.dtype} from {type(value).__name__}"
        )
    return arr


def compute_dtype(*arrays: np.ndarray | None) -> tuple[np.dtype, np.dtype]:
    """The dtypes an op computes in and returns: ``(compute, result)``.

    float32 stays float32 and float64 stays float64; integers and bools (the
    lecture's lists of small ints) are promoted to float64; float16 computes in
    float32 and returns float16. Mixed float32/float64 gives float64, as NumPy does.

    >>> compute_dtype(np.zeros(1, np.float16), None)
    (dtype('float32'), dtype('float16'))
    """
    floats = [a.dtype for a in arrays if a is not None and a.dtype.kind == "f"]
    if not floats:
        return np.dtype(np.float64), np.dtype(np.float64)
    result = np.dtype(np.result_type(*floats))
    compute = np.dtype(np.float32) if result.itemsize < 4 else result
    return compute, result


def spatial_dims_of(x: np.ndarray, n: int, name: str, fn: str) -> bool:
    """Check that ``x`` is (N, C, *n) or (C, *n); return True when batched."""
    if x.ndim == n + 2:
        return True
    if x.ndim == n + 1:
        return False
    raise ValueError(
        f"{fn}: {name} must be {n + 2}-D (N, C, {_spatial_names(n)}) or "
        f"{n + 1}-D unbatched (C, {_spatial_names(n)}), got {x.ndim}-D {name} of shape {x.shape}"
    )


def _spatial_names(n: int) -> str:
    return {1: "L", 2: "H, W", 3: "D, H, W"}.get(n, ", ".join(f"L{i}" for i in range(n)))
