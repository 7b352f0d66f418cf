"""Argument normalisation and validation shared by every public op.

Each public function validates its arguments once, here, and passes plain
tuples of Python ints to the kernels, which trust them. Errors name the
function, the argument, the rule and the value (Chainer's "Expect / Actual"
habit, in one sentence).
"""

from __future__ import annotations

import numbers
import os
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
        value = (value,) * n
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
    result = tuple(of(v) for v in items)
    if of is int and any(abs(v) > _INT64_MAX for v in result):
        raise ValueError(
            f"{fn}: {name} must fit in an int64 (at most 2**63 - 1 in absolute value, as in "
            f"PyTorch), got {name}={_show(result)}"
        )
    return result


_INT64_MAX = 2**63 - 1


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
    if value > _INT64_MAX:
        raise ValueError(
            f"{fn}: {name} must fit in an int64 (at most 2**63 - 1, as in PyTorch), "
            f"got {name}={value}"
        )
    return int(value)


def _show(values: tuple[int, ...]) -> str:
    return str(values[0]) if len(set(values)) == 1 else str(values)


_FLOATS = (np.float32, np.float64)


def as_array(value: Any, name: str, fn: str) -> np.ndarray:
    """``np.asarray`` with a clear TypeError for what tconv does not compute with.

    Accepted: bools, signed and unsigned integers, float16, float32 and float64
    (lists such as the lecture's ``[0, 0, 1, 0]`` become int64 and compute in
    float64). Refused with a TypeError naming ``fn``, the argument and the dtype:
    complex, object, string, datetime and extended-precision (``longdouble``) arrays.

    >>> as_array([0, 0, 1, 0], "input", "conv1d").dtype
    dtype('int64')
    >>> as_array(np.ones(2, complex), "weight", "conv1d")
    Traceback (most recent call last):
        ...
    TypeError: conv1d: weight must hold real numbers (bool, int, float16, float32 or float64), \
got dtype complex128 from ndarray
    """
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:  # ragged lists and the like
        raise TypeError(
            f"{fn}: {name} must be a numeric array, got {type(value).__name__}: {exc}"
        ) from None
    if arr.dtype.kind not in "biuf" or arr.dtype.itemsize > 8:
        raise TypeError(
            f"{fn}: {name} must hold real numbers (bool, int, float16, float32 or float64), "
            f"got dtype {arr.dtype} from {type(value).__name__}"
        )
    return arr


def compute_dtype(*arrays: np.ndarray | None) -> tuple[np.dtype, np.dtype]:
    """The dtypes an op computes in and returns: ``(compute, result)``.

    The rule (NumPy's promotion, restricted to floats; PyTorch would refuse mixed
    float dtypes, tconv promotes them):

    * the result is ``np.result_type`` of the *floating* operands: float32 stays
      float32, float64 stays float64, float32 with float64 gives float64, float16
      with float32 gives float32;
    * bool and integer operands do not take part when a float operand is present
      (an int64 input with a float32 weight gives float32); with no float operand
      at all, the result is float64;
    * float16 results are computed in float32 and rounded to float16 at the end.

    Complex, object and other dtypes never get here: :func:`as_array` refuses them.

    >>> compute_dtype(np.zeros(1, np.float16), None)
    (dtype('float32'), dtype('float16'))
    >>> compute_dtype(np.zeros(1, np.float32), np.zeros(1, np.float64))
    (dtype('float64'), dtype('float64'))
    >>> compute_dtype(np.zeros(1, np.int64), np.zeros(1, np.float32))
    (dtype('float32'), dtype('float32'))
    >>> compute_dtype(np.zeros(1, bool))
    (dtype('float64'), dtype('float64'))
    """
    floats = [a.dtype for a in arrays if a is not None and a.dtype.kind == "f"]
    if not floats:
        return np.dtype(np.float64), np.dtype(np.float64)
    result = np.dtype(np.result_type(*floats))
    compute = np.dtype(np.float32) if result.itemsize < 4 else result
    return compute, result


# -- outputs: their size, and that they never alias an input --------------------------------

#: Outputs above this many bytes are refused with a ValueError: no machine holds them
#: (2**62 bytes = 4 EiB; it also keeps element counts far from int64 overflow).
MAX_OUTPUT_BYTES = 2**62

#: Below this many bytes, an output is not compared with the available memory (no
#: system call on the normal path).
_CHECK_MEMORY_ABOVE = 2**30


def _human(nbytes: int) -> str:
    """``nbytes`` in the largest binary unit below it: '1.5 GiB', '16.0 TiB'."""
    size = float(nbytes)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{int(size)} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _read_int(path: str, key: str = "") -> int | None:
    """The integer in a one-line file, or on the ``key:`` line of ``/proc/meminfo``."""
    try:
        with open(path, encoding="ascii") as fh:
            for line in fh:
                if not key:
                    return None if line.strip() == "max" else int(line)
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def available_memory() -> int | None:
    """Bytes this process can still get, or None when the platform does not say.

    The smallest of: the machine's ``MemAvailable`` (else its physical memory), the
    address-space limit (``ulimit -v``), and the cgroup v2 limit less its usage.
    """
    limits = []
    free = _read_int("/proc/meminfo", "MemAvailable:")
    if free is None:
        try:
            free = int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, OSError, ValueError):  # pragma: no cover - not POSIX
            free = None
    if free is not None:
        limits.append(free)
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            limits.append(int(soft))
    except (ImportError, OSError, ValueError):  # pragma: no cover - not POSIX
        pass
    cap = _read_int("/sys/fs/cgroup/memory.max")
    if cap is not None:
        limits.append(max(0, cap - (_read_int("/sys/fs/cgroup/memory.current") or 0)))
    return min(limits) if limits else None


def check_output_size(
    fn: str, shape: Sequence[int], dtype: Any, because: str, what: str = "output"
) -> None:
    """Refuse an output that cannot exist, before anything is allocated.

    The one rule for absurd sizes (called by every op with the shape it is about to
    return; O(1), pure integer arithmetic):

    * more than :data:`MAX_OUTPUT_BYTES` (2**62 bytes) is a ValueError: no machine
      addresses it, and NumPy would fail with "array is too big" or "Maximum allowed
      dimension exceeded";
    * more than the memory available now (checked for outputs above 1 GiB only) is a
      MemoryError.

    Both messages name ``fn``, the output's shape and size, and ``because``: the
    arguments that set the size (e.g. ``"stride=(1000000000,), padding=(0,)"``).
    Temporaries are a separate matter (:func:`tconv.get_memory_budget`).

    >>> check_output_size("conv1d", (1, 1, 5), np.float64, "stride=1")
    >>> check_output_size("conv_transpose2d", (1, 1, 10**10, 10**10), np.float64,
    ...                   "stride=(10**9, 10**9)")
    Traceback (most recent call last):
        ...
    ValueError: conv_transpose2d: the output would have shape (1, 1, 10000000000, 10000000000) \
(100000000000000000000 elements of float64, 800000000000000000000 bytes), more than the \
2**62 bytes tconv can address; check stride=(10**9, 10**9)
    """
    count = 1
    for v in shape:
        count *= int(v)
    itemsize = np.dtype(dtype).itemsize
    nbytes = count * itemsize
    if nbytes <= _CHECK_MEMORY_ABOVE:
        return
    shown = tuple(int(v) for v in shape)
    if nbytes > MAX_OUTPUT_BYTES:
        raise ValueError(
            f"{fn}: the {what} would have shape {shown} ({count} elements of "
            f"{np.dtype(dtype)}, {nbytes} bytes), more than the 2**62 bytes tconv can "
            f"address; check {because}"
        )
    free = available_memory()
    if free is not None and nbytes > free:
        raise MemoryError(
            f"{fn}: the {what} would have shape {shown} ({count} elements of "
            f"{np.dtype(dtype)}, {_human(nbytes)}), more than the {_human(free)} of memory "
            f"available; check {because}"
        )


def _data(a: Any) -> Any:
    return getattr(a, "data", a) if not isinstance(a, np.ndarray) else a


def shares(out: np.ndarray, inp: Any) -> bool:
    """Whether ``out`` and the array ``inp`` (or a Tensor's ``.data``) share memory.

    The bounds test (``np.may_share_memory``) settles the common case at no cost; only
    overlapping bounds pay the exact test, which rules out interleaved views.
    """
    a = _data(inp)
    if not isinstance(a, np.ndarray) or not np.may_share_memory(out, a):
        return False
    try:
        return bool(np.shares_memory(out, a))
    except np.exceptions.TooHardError:  # pragma: no cover - pathological strides
        return True


def owned(out: Any, *inputs: Any) -> Any:
    """``out`` itself, or a copy where it shares memory with one of ``inputs``.

    The contract: results never alias the inputs (writing to a result never changes
    an input). ``out`` is an ndarray, or a Tensor whose ``.data`` is replaced by a copy
    (its recorded gradient does not depend on it). Inputs may be arrays, Tensors or
    anything else (ignored).

    >>> x = np.arange(4.0)
    >>> owned(x.reshape(2, 2), x).base is None
    True
    """
    if isinstance(out, np.ndarray):
        if any(shares(out, i) for i in inputs):
            return out.copy()
        return out
    data = getattr(out, "data", None)
    if isinstance(data, np.ndarray) and any(shares(data, i) for i in inputs):
        out.data = data.copy()
    return out


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
