"""The kernel ops and their tables of named fast paths.

No validation happens here: the public ops in :mod:`tconv.functional` check
their arguments and call these functions with plain tuples of ints. Per spatial
dim: stride ``s``, dilation ``d``, leading offset ``lo``, output size; the
definitions are in :mod:`.reference`:

* ``conv_nd``: ``y[o] = sum_t x[o s + t d - lo] w[t]`` (zeros outside ``x``);
* ``conv_transpose_nd``: ``full[i s + t d] += x[i] w[t]``, ``y[j] = full[j + lo]``;
* ``conv_weight_grad_nd``: ``gw[t] = sum_o gy[o] x[o s + t d - lo]``.

Each op has ONE table, read top to bottom: the first path whose ``when`` holds
for the call's geometry runs (and records its name in :func:`.paths.trace`).
Every ``when`` includes what its path needs of the memory budget, so a chosen
path never refuses. :func:`route` names the path a call would take, without
computing. The constants the conditions read are in :mod:`.tuning`; the bodies
in :mod:`._gemm`, :mod:`.phases` and :mod:`._jit`.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any

import numpy as np

from . import _jit, _threads, paths, settings, tuning
from ._gemm import (
    _conv_and_weight_im2col,
    _conv_depthwise,
    _conv_im2col,
    _conv_row_shift,
    _conv_transpose_channels_last,
    _conv_transpose_depthwise,
    _conv_transpose_depthwise_strided,
    _conv_transpose_gemm,
    _exact_cover,
    _weight_grad_row_shift,
    conv_row_shift_bytes,
    conv_transpose_exact_jit,
    depthwise_transpose_bytes,
    exact_rows,
    weight_row_shift_bytes,
)
from ._layout import GATHER_RATIO, SPARSE_PHASES, Ints, _span, _tap_slices, gather_windows
from .columns import conv_columns_jit
from .paths import Path
from .phases import (
    ConvPlan,
    _conv_phase_rows,
    _conv_phases,
    _conv_transpose_phases,
    conv_plan,
    phase_rows_bytes,
    transpose_plan,
)
from .winograd import (
    conv3x3,
    conv_and_weight_k4s2,
    conv_k4s2,
    conv_transpose_k4s2,
    conv_transpose_k4s2_adjoint,
    k4s2_adjoint_bytes,
    k4s2_bytes,
    k4s2_conv_bytes,
    least_bytes,
    weight_grad3x3,
)

__all__ = [
    "CONV",
    "CONV_TRANSPOSE",
    "CONV_WEIGHT",
    "conv_and_weight_grad_nd",
    "conv_nd",
    "conv_transpose_nd",
    "conv_weight_grad_nd",
    "route",
]
_ = _exact_cover  # re-exported: the tests check it against coverage counts


def _budget() -> int:
    return settings.get_memory_budget()


def _finite(a: np.ndarray) -> bool:
    """No NaN or inf in ``a``: for a contiguous float array, one BLAS dot of it with
    itself, which reads it once and allocates nothing (a sum of squares that overflows
    only takes a finite call down an exact path); else ``np.isfinite``. The dot runs
    on one BLAS thread: threaded (OpenBLAS's float64 dot is, on large arrays), it
    leaves a BLAS thread spinning on a core that the kernel's workers start on next;
    a large array is split over the workers instead (one dot each)."""
    if a.size and a.flags.c_contiguous and a.dtype in (np.float32, np.float64):
        flat = a.reshape(-1)
        # split from 4M elements (a serial dot of 8M float32: 1.15 ms, on 2 workers 0.72;
        # of 2M: 0.30 and 0.39, the hand-off's cost)
        nw = _threads.workers(flat.size // 2)
        parts = _threads.even_ranges(flat.size, -(-flat.size // nw), nw)

        def squares(r: tuple[int, int]) -> float:
            piece = flat[r[0] : r[1]]
            with np.errstate(over="ignore"):  # an overflow reads as non-finite
                return float(np.dot(piece, piece))

        with _threads.serial_blas():
            sums = _threads.map_chunks(squares, parts, nw) if nw > 1 else [squares(parts[0])]
        return bool(np.isfinite(sums).all())
    return bool(np.isfinite(a).all())


class _Call:
    """What every op's conditions ask of a call: sizes from ``x``'s shape and dtype
    only (so :func:`route` may pass shape-only stand-ins), the budget at call time."""

    x: Any
    k: Ints
    stride: Ints
    dilation: Ints
    groups: int
    lo: Ints
    out_size: Ints

    @cached_property
    def n(self) -> int:
        return int(self.x.shape[0])

    @cached_property
    def c_in(self) -> int:
        return int(self.x.shape[1])

    @cached_property
    def n_in(self) -> Ints:
        return tuple(self.x.shape[2:])

    @cached_property
    def itemsize(self) -> int:
        return np.dtype(self.x.dtype).itemsize

    @cached_property
    def p_out(self) -> int:
        return math.prod(self.out_size)

    @cached_property
    def jit(self) -> bool:
        """The numba kernels take the call: installed, enabled, float, large
        enough to pay their first call's compile, and not sparse (their loops and
        buffers run over every phase)."""
        return (
            not self.sparse
            and math.prod(self.x.shape) >= tuning.JIT_MIN_SIZE
            and np.dtype(self.x.dtype) in (np.float32, np.float64)
            and settings.get_jit()
        )

    @cached_property
    def strided(self) -> bool:
        return any(s > 1 for s in self.stride)

    @cached_property
    def gather(self) -> bool:
        """A convolution whose padded span exceeds its columns (output x taps)
        GATHER_RATIO times over: a path that pads the span costs the stride."""
        span = math.prod(_span(self.k, self.stride, self.dilation, self.out_size))
        return span > GATHER_RATIO * self.p_out * math.prod(self.k)

    def k4s2_winograd(self, c_out: int, min_outputs: int) -> bool:
        """What the k4 s2 Winograd paths (winograd.py's polyphase F(2x2, 2x2)) need of
        every op's call: a 2-d or 3-d kernel of 4 taps a dim at stride 2, groups and
        dilation 1, float32 or float64, numba on, the Winograd paths allowed
        (``tconv.winograd``), each of C_in and ``c_out`` at least
        tuning.WINOGRAD_PHASES_MIN_CHANNELS, and ``min_outputs`` outputs over the batch,
        proportionally more when the weights' transform (36 C_in C_out per depth tap)
        outgrows tuning.WINOGRAD_PHASES_WEIGHT_BYTES (the GEMMs of each chunk read it
        whole)."""
        if not (
            self.groups == 1
            and len(self.k) in (2, 3)
            and all(k == 4 for k in self.k)
            and all(s == 2 for s in self.stride)
            and all(d == 1 for d in self.dilation)
            and np.dtype(self.x.dtype) in (np.float32, np.float64)
            and settings.get_winograd()
            and self.jit
            and min(self.c_in, c_out) >= tuning.WINOGRAD_PHASES_MIN_CHANNELS
        ):
            return False
        u_bytes = 36 * self.depth_taps * self.c_in * c_out * self.itemsize
        grow = max(1.0, u_bytes / tuning.WINOGRAD_PHASES_WEIGHT_BYTES)
        return self.n * self.p_out >= min_outputs * grow

    @cached_property
    def depth_taps(self) -> int:
        """A 3-d kernel's taps along its first dim (1 for a 2-d one): the k4 s2 Winograd
        paths transform each depth slice as a 2-d map and keep these as GEMM columns."""
        return self.k[0] if len(self.k) == 3 else 1

    @cached_property
    def depth_in(self) -> int:
        """The input's depth slices (1 for a 2-d map)."""
        return self.n_in[0] if len(self.k) == 3 else 1

    def gathered(self) -> tuple[np.ndarray, Ints, Ints, Ints]:
        """The windows' input (see gather_windows) and its stride, dilation, offset."""
        nd = len(self.k)
        xg = gather_windows(self.x, self.k, self.stride, self.dilation, self.lo, self.out_size)
        return xg, self.k, (1,) * nd, (0,) * nd

    @cached_property
    def sparse(self) -> bool:
        """The stride's ``s^nd`` phases outnumber the kernel's taps SPARSE_PHASES
        times over: most are empty, and a path that loops over them costs the stride."""
        return math.prod(self.stride) > SPARSE_PHASES * math.prod(self.k)

    #: set by :func:`route`, whose arrays may be stand-ins: their values are not read
    shape_only = False

    @cached_property
    def operands(self) -> tuple[np.ndarray, ...]:
        """The arrays whose NaN or inf the non-finite paths are for."""
        found = (self.x, getattr(self, "w", None), getattr(self, "gy", None))
        return tuple(a for a in found if a is not None)

    #: elements of the call's result (set by each op's call class)
    result_size = 0

    @cached_property
    def nonfinite(self) -> bool:
        """``x``, ``w`` or ``gy`` holds a NaN or an inf: one pass over each (asked only
        by the calls that reach a condition that asks)."""
        if self.shape_only:
            return False
        return not all(_finite(a) for a in self.operands)

    @cached_property
    def nonfinite_lazy(self) -> bool:
        """:attr:`nonfinite`, or, when the result is smaller than the operands, an
        optimistic False that :meth:`retry` checks on the result. Only for paths whose
        sums hold every product PyTorch makes (they may add products with zeros): a
        finite result then means finite products, and only a non-finite one can
        differ from PyTorch's."""
        if self.shape_only or "nonfinite" in self.__dict__:
            return self.nonfinite
        if self.result_size < sum(a.size for a in self.operands):
            self._deferred = True
            return False
        return self.nonfinite

    def retry(self, result: Any) -> bool:
        """After a path ran: whether the call must run again, because its finiteness
        check was deferred to the result, which is not finite, and an operand is not."""
        if not self.__dict__.pop("_deferred", False):
            return False
        parts = result if isinstance(result, tuple) else (result,)
        if all(a is None or _finite(a) for a in parts):
            return False
        self.__dict__["nonfinite_lazy"] = self.nonfinite
        return self.nonfinite


# --------------------------------------------------------------------------
# conv_transpose_nd


class TransposeCall(_Call):
    """One call of :func:`conv_transpose_nd`: its arguments and derived geometry."""

    def __init__(
        self, x: Any, w: Any, stride: Ints, dilation: Ints, groups: int, lo: Ints,
        out_size: Ints, bias: np.ndarray | None = None,
    ) -> None:  # fmt: skip
        self.x, self.w, self.bias = x, w, bias
        self.stride, self.dilation, self.groups = tuple(stride), tuple(dilation), groups
        self.lo, self.out_size = tuple(lo), tuple(out_size)
        self.k: Ints = tuple(w.shape[2:])
        self.c_out_g = int(w.shape[1])
        self.c_out = self.c_out_g * groups
        self.result_size = int(x.shape[0]) * self.c_out * math.prod(self.out_size)

    @cached_property
    def taps(self) -> list[tuple[int, tuple[slice, ...], tuple[slice, ...]]]:
        """Per live tap: its index, the inputs it reads, the strided outputs it reaches."""
        geometry = (self.k, self.stride, self.dilation, self.lo, self.n_in, self.out_size)
        return list(_tap_slices(*geometry))

    @cached_property
    def depthwise(self) -> bool:
        return self.c_in // self.groups == 1 and self.c_out_g == 1

    @cached_property
    def p_in(self) -> int:
        return math.prod(self.n_in)

    @cached_property
    def plan(self) -> Any:
        return transpose_plan(
            self.taps, self.stride, self.n_in, self.out_size, self.c_in, self.c_out,
            self.itemsize, math.prod(self.w.shape) * self.itemsize,
        )  # fmt: skip

    @cached_property
    def flipped(self) -> bool:
        """Stride 1 and a 2-d+ kernel of more than one row, for the row-shift conv
        (one sample or large maps) or a Winograd path (small maps in batches too)."""
        return (
            self.groups == 1
            and not self.strided
            and len(self.k) >= 2
            and self.k[0] > 1
            and (self.p_out >= tuning.FOLD_BELOW or self.n == 1 or self.winograd)
        )

    @cached_property
    def winograd(self) -> bool:
        """The flipped-kernel convolution (of :meth:`_ct_flipped`) would take a
        Winograd path: asked of a shape-only stand-in of the flipped weight."""
        if self.k != (3, 3) or self.dilation != (1, 1):
            return False
        w = np.lib.stride_tricks.as_strided(
            np.empty(1, dtype=self.w.dtype), (self.c_out, self.c_in, 3, 3), (0, 0, 0, 0)
        )
        lo = tuple(2 - lo for lo in self.lo)
        conv = ConvCall(self.x, w, self.stride, self.dilation, 1, lo, self.out_size)
        conv.shape_only = True
        return conv.winograd_jit or conv.winograd

    @cached_property
    def winograd_phases(self) -> bool:
        """:meth:`k4s2_winograd` from tuning.WINOGRAD_PHASES_MIN_OUTPUTS, not tiny 2-d
        maps, and the transformed weights with one row of tiles within the budget."""
        if not self.k4s2_winograd(self.c_out, tuning.WINOGRAD_PHASES_MIN_OUTPUTS):
            return False
        tw = -(-self.out_size[-1] // 4)
        need = k4s2_bytes(self.c_in, self.c_out, tw, self.itemsize, self.depth_in, self.depth_taps)
        # 2-d 4x4 maps: channels-last measured faster; 3-d ones (8x8x8, 4x8x8): not
        return not (len(self.k) == 2 and self.tiny) and need <= _budget()

    @cached_property
    def winograd_adjoint(self) -> bool:
        """:meth:`winograd_phases`'s conditions for a 2-d layer, and the transformed
        weights with two rows of tiles within the budget."""
        min_outputs = tuning.WINOGRAD_PHASES_MIN_OUTPUTS
        if len(self.k) != 2 or not self.k4s2_winograd(self.c_out, min_outputs):
            return False
        t1n = -(-self.n_in[1] // 2)
        need = k4s2_adjoint_bytes(self.c_in, self.c_out, t1n, self.out_size[1], self.itemsize)
        return not self.tiny and need <= _budget()

    @cached_property
    def tiny(self) -> bool:
        """The phase grid pads the map by CL_PADDING or more, and channels-last fits."""
        cl_sample = (self.p_in * (self.c_in + self.c_out) + self.p_out * self.c_out) * self.itemsize
        return (
            self.groups == 1
            and math.prod(self.plan.pitch) >= tuning.CL_PADDING * self.p_in
            and cl_sample <= _budget()  # it chunks over the batch only
        )

    @cached_property
    def exact(self) -> bool:
        return _exact_cover(self.k, self.stride, self.dilation, self.lo, self.n_in, self.out_size)

    @cached_property
    def exact_jit(self) -> bool:
        """A kernel equal to the stride (no padding, no output padding, groups 1),
        numba on, one worker's buffer for a row within the budget."""
        if not (self.jit and self.groups == 1 and self.k == self.stride):
            return False
        plain = not any(self.lo) and all(d == 1 for d in self.dilation)
        if not plain or self.out_size != tuple(k * i for k, i in zip(self.k, self.n_in)):
            return False
        need = exact_rows(self.c_in, self.c_out, self.k, self.n_in[-1], self.itemsize)[1]
        return need <= _budget()

    @cached_property
    def fold(self) -> bool:
        return self.p_in < tuning.FOLD_BELOW and self.n > 1

    def empty_y(self) -> np.ndarray:
        """The output (N, g, C_out/g, *out), uninitialised."""
        return np.empty((self.n, self.groups, self.c_out_g, *self.out_size), dtype=self.x.dtype)

    @cached_property
    def by(self) -> np.ndarray | None:
        """The bias shaped for (N, g, C_out/g, *out)."""
        if self.bias is None:
            return None
        return self.bias.reshape((1, self.groups, self.c_out_g) + (1,) * len(self.out_size))

    def done(self, y: np.ndarray) -> np.ndarray:
        return y.reshape(self.n, self.c_out, *self.out_size)


def _ct_empty(c: TransposeCall) -> np.ndarray:
    y = c.empty_y()
    y[...] = 0 if c.by is None else c.by
    return c.done(y)


def _ct_depthwise_jit(c: TransposeCall) -> np.ndarray:
    return _jit.depthwise_conv_transpose(c.x, c.w, c.stride, c.dilation, c.lo, c.out_size, c.bias)


def _ct_depthwise(c: TransposeCall) -> np.ndarray:
    y = c.empty_y()
    _conv_transpose_depthwise(c.x, c.w, y, c.taps, c.stride, c.bias)
    return c.done(y)


def _ct_depthwise_strided(c: TransposeCall) -> np.ndarray:
    y = c.empty_y()
    _conv_transpose_depthwise_strided(c.x, c.w, y, c.taps, c.bias)
    return c.done(y)


def _ct_flipped(c: TransposeCall) -> np.ndarray:
    # the convolution with the flipped kernel and left padding d (k - 1) - lo
    flipped = np.ascontiguousarray(np.flip(c.w.swapaxes(0, 1), axis=tuple(range(2, c.w.ndim))))
    lo_c = tuple(d * (k - 1) - lo for d, k, lo in zip(c.dilation, c.k, c.lo))
    return conv_nd(c.x, flipped, c.stride, c.dilation, 1, lo_c, c.out_size, c.bias)


def _ct_channels_last(c: TransposeCall) -> np.ndarray:
    y = c.done(c.empty_y())
    _conv_transpose_channels_last(c.x, c.w, y, c.taps, c.bias)
    return y


def _ct_phases(c: TransposeCall) -> np.ndarray:
    y = c.empty_y()
    _conv_transpose_phases(c.x, c.w, y, c.plan, c.stride, c.by)
    return c.done(y)


def _ct_phases_jit(c: TransposeCall) -> np.ndarray:
    y = c.empty_y()
    _conv_transpose_phases(c.x, c.w, y, c.plan, c.stride, c.by, jit=True)
    return c.done(y)


def _ct_winograd_phases(c: TransposeCall) -> np.ndarray:
    y = np.empty((c.n, c.c_out, *c.out_size), dtype=c.x.dtype)
    conv_transpose_k4s2(c.x, c.w, y, c.lo, c.bias)
    return y


def _ct_winograd_adjoint(c: TransposeCall) -> np.ndarray:
    y = np.empty((c.n, c.c_out, *c.out_size), dtype=c.x.dtype)
    conv_transpose_k4s2_adjoint(c.x, c.w, y, c.lo, c.bias)
    return y


def _ct_sparse(c: TransposeCall) -> np.ndarray:
    y = c.empty_y()
    if c.depthwise:
        _conv_transpose_depthwise_strided(c.x, c.w, y, c.taps, c.bias)
    else:
        _conv_transpose_gemm(c.x, c.w, y, c.taps, c.by, False, c.fold)
    return c.done(y)


def _ct_exact_jit(c: TransposeCall) -> np.ndarray:
    y = np.empty((c.n, c.c_out, *c.out_size), dtype=c.x.dtype)
    conv_transpose_exact_jit(c.x, c.w, y, c.bias)
    return y


def _ct_gemm(c: TransposeCall) -> np.ndarray:
    y = c.empty_y()
    _conv_transpose_gemm(c.x, c.w, y, c.taps, c.by, c.exact, c.fold)
    return c.done(y)


CONV_TRANSPOSE: tuple[Path[TransposeCall], ...] = (
    Path("conv_transpose.empty", lambda c: not c.taps or c.n == 0,
         "no tap reaches the output, or no sample: the bias alone", _ct_empty),
    Path("conv_transpose.sparse_taps", lambda c: c.sparse,
         "stride^nd far above the taps: the output filled once, each tap added to its "
         "strided share (cost follows the output and the taps, not the stride)", _ct_sparse),
    Path("conv_transpose.depthwise_jit", lambda c: c.depthwise and c.jit and not c.nonfinite,
         "one channel per group, numba on, input large enough, finite: a compiled loop",
         _ct_depthwise_jit),
    Path("conv_transpose.depthwise",
         lambda c: c.depthwise and depthwise_transpose_bytes(
             c.n_in, c.out_size, c.stride, c.groups, c.itemsize) <= _budget(),
         "one channel per group: scaled adds into channels-last phase buffers, no GEMM",
         _ct_depthwise),
    Path("conv_transpose.depthwise_strided", lambda c: c.depthwise,
         "one channel per group, no room for phase buffers: strided adds in place",
         _ct_depthwise_strided),
    Path("conv_transpose.nonfinite", lambda c: c.nonfinite_lazy,
         "a NaN or an inf in x or w: per-tap col2im of real products only, as PyTorch "
         "(a padded grid or a flipped conv would multiply its zeros by the inf)", _ct_gemm),
    Path("conv_transpose.stride1_flipped", lambda c: c.flipped,
         "stride 1: conv with the flipped kernel, whose row-shifted columns copy less "
         "(or Winograd's 3x3 paths take)", _ct_flipped),
    Path("conv_transpose.winograd_adjoint_jit", lambda c: c.winograd_adjoint and not c.nonfinite,
         "k4 s2 2-d: the adjoint of F(2x2,2x2) on 2x2 tiles of x, one input transform for "
         "the 4 phases, whose weights share the GEMMs' columns (4x wider than "
         "winograd_phases_jit's), compiled transforms, 36 multiplications per 4x4 block "
         "instead of 64, error within winograd.PHASES_ERROR", _ct_winograd_adjoint),
    Path("conv_transpose.winograd_phases_jit", lambda c: c.winograd_phases and not c.nonfinite,
         "k4 s2 (2-d; 3-d by depth slices, the depth taps as GEMM columns): each output "
         "phase a 2x2 correlation by F(2x2,2x2), compiled transforms, 36 multiplications "
         "per 4x4 block instead of 64, error within winograd.PHASES_ERROR",
         _ct_winograd_phases),
    Path("conv_transpose.channels_last", lambda c: c.tiny,
         "tiny maps: per-tap GEMMs, adds over batch x channels rows, no padded grid",
         _ct_channels_last),
    Path("conv_transpose.exact_cover_jit", lambda c: c.exact_jit,
         "kernel = stride, no padding, numba on: per block of a sample's input rows one "
         "GEMM from x's rows in place, its slabs interleaved into y's rows by one "
         "compiled pass while in cache", _ct_exact_jit),
    Path("conv_transpose.exact_cover", lambda c: c.exact,
         "each output gets one tap (k = s): slabs copied into the output, no adds", _ct_gemm),
    Path("conv_transpose.flat_phases_jit",
         lambda c: c.jit and (c.strided or c.plan.blocked) and c.plan.least <= _budget(),
         "strided, or a sample's phase buffers beyond the working size, numba on: GEMMs of "
         "a few phases at a time, each summed and interleaved into y by one compiled pass",
         _ct_phases_jit),
    Path("conv_transpose.flat_phases_blocked",
         lambda c: c.plan.blocked and c.plan.least <= _budget(),
         "a sample's phase buffers exceed the working size: flat phases in row blocks",
         _ct_phases),
    Path("conv_transpose.flat_phases", lambda c: c.plan.least <= _budget(),
         "one contiguous add per tap on a padded phase grid, not strided rows; 2-d+ on "
         "a (rows, batch, *rest) grid, the first dim unpadded", _ct_phases),
    Path("conv_transpose.gemm_col2im_folded", lambda c: c.fold,
         "no room for phases, small maps: batch folded into one GEMM, strided adds", _ct_gemm),
    Path("conv_transpose.gemm_col2im", lambda c: True,
         "no room for phases: a GEMM per sample (taps chunked), strided adds", _ct_gemm),
)  # fmt: skip


def conv_transpose_nd(
    x: np.ndarray,
    w: np.ndarray,
    stride: Ints,
    dilation: Ints,
    groups: int,
    lo: Ints,
    out_size: Ints,
    bias: np.ndarray | None = None,
) -> np.ndarray:
    """Transposed convolution: x (N, C_in, *L), w (C_in, C_out/g, *k) -> (N, C_out, *out_size),
    plus ``bias`` (C_out,) if given, added where the output is written anyway
    (no extra pass over it)."""
    call = TransposeCall(x, w, stride, dilation, groups, lo, out_size, bias)
    return paths.run(CONV_TRANSPOSE, call)


# --------------------------------------------------------------------------
# conv_nd


class _ConvCall(_Call):
    """What a convolution and its weight gradient share: the channel counts and
    the phase-split plan of the im2col over the input."""

    c_out: int

    @cached_property
    def depthwise(self) -> bool:
        return self.c_in == self.groups and self.c_out == self.groups

    @cached_property
    def plan(self) -> ConvPlan:
        return conv_plan(
            self.n_in, self.k, self.stride, self.dilation, self.lo, self.out_size,
            self.c_in, self.c_out, self.itemsize,
        )  # fmt: skip

    @cached_property
    def winograd_shape(self) -> bool:
        """A 2-D 3x3 kernel, stride and dilation 1, groups 1, float32 or float64, the
        Winograd paths allowed (``tconv.winograd``), the weight transform and one
        row of tiles within the budget."""
        return (
            self.groups == 1
            and self.k == (3, 3)
            and self.stride == (1, 1)
            and self.dilation == (1, 1)
            and np.dtype(self.x.dtype) in (np.float32, np.float64)
            and settings.get_winograd()
            and least_bytes(
                self.c_in, self.c_out, -(-self.out_size[1] // tuning.WINOGRAD_M),
                tuning.WINOGRAD_M, self.itemsize,
            ) <= _budget()
        )  # fmt: skip

    @cached_property
    def winograd_phases(self) -> bool:
        """:meth:`k4s2_winograd` from tuning.WINOGRAD_PHASES_CONV_MIN_OUTPUTS (a 2-d weight
        gradient: tuning.WINOGRAD_PHASES_WEIGHT_MIN_OUTPUTS), and the transformed weights
        with one row of tiles (and, for the weight gradient, its sums) within the budget."""
        grad = isinstance(self, WeightCall)
        least = (
            tuning.WINOGRAD_PHASES_WEIGHT_MIN_OUTPUTS
            if grad and len(self.k) == 2
            else tuning.WINOGRAD_PHASES_CONV_MIN_OUTPUTS
        )
        if not self.k4s2_winograd(self.c_out, least):
            return False
        tw = -(-self.out_size[-1] // 2)
        need = k4s2_conv_bytes(
            self.c_in, self.c_out, tw, self.itemsize, grad, self.depth_in, self.depth_taps
        )
        return need <= _budget()

    @cached_property
    def winograd_jit(self) -> bool:
        """:attr:`winograd_shape`, numba on, channels enough, and enough output
        positions over the batch to pay for transforming the weights, the more
        so when their transform outgrows the cache (tuning.WINOGRAD_JIT_*)."""
        u_bytes = 36 * self.c_in * self.c_out * self.itemsize  # F(4,3)'s weight transform
        grow = max(1.0, u_bytes / tuning.WINOGRAD_JIT_WEIGHT_BYTES)
        need = tuning.WINOGRAD_JIT_MIN_POSITIONS * grow
        return (
            self.winograd_shape
            and self.jit
            and min(self.c_in, self.c_out) >= tuning.WINOGRAD_JIT_MIN_CHANNELS
            and self.n * self.p_out >= need
        )

    @cached_property
    def phase_split(self) -> bool:
        """Strided, the phase grid pads the output by less than CL_PADDING, and fits."""
        return (
            self.strided
            and not self.sparse
            and self.plan.plane <= tuning.CL_PADDING * self.p_out
            and self.plan.least <= _budget()
        )

    @cached_property
    def columns_jit(self) -> bool:
        """Where :attr:`phase_split` would go, and numba on: im2col in L2-sized
        blocks by a compiled pass."""
        return self.jit and self.phase_split

    @cached_property
    def phase_rows(self) -> bool:
        """:attr:`phase_split` on a 2-d or larger map whose grid pads the first dim
        (the padding this path saves; k = s has none), 16 channels or more on each
        side (fewer: the grid's transposing copies outweigh the columns saved), and one
        sample's rows grid fits."""
        return (
            self.phase_split
            and len(self.k) >= 2
            and self.plan.pitch[0] > self.out_size[0]
            and min(self.c_in, self.c_out) >= tuning.PHASE_ROWS_MIN_CHANNELS * self.groups
            and phase_rows_bytes(self.plan, self.out_size, self.c_in, self.c_out, self.itemsize)
            <= _budget()
        )


class ConvCall(_ConvCall):
    """One call of :func:`conv_nd`: its arguments and derived geometry."""

    def __init__(
        self, x: Any, w: Any, stride: Ints, dilation: Ints, groups: int, lo: Ints,
        out_size: Ints, bias: np.ndarray | None = None,
    ) -> None:  # fmt: skip
        self.x, self.w, self.bias = x, w, bias
        self.stride, self.dilation, self.groups = tuple(stride), tuple(dilation), groups
        self.lo, self.out_size = tuple(lo), tuple(out_size)
        self.k: Ints = tuple(w.shape[2:])
        self.c_out = int(w.shape[0])
        self.result_size = int(x.shape[0]) * self.c_out * math.prod(self.out_size)

    @cached_property
    def fold(self) -> bool:
        return self.p_out < tuning.FOLD_BELOW and self.n > 1

    @cached_property
    def row_shift(self) -> bool:
        """groups=1, stride 1 along a first dim of more than one tap, a GEMM per
        sample, and one sample's columns fit the budget."""
        return (
            self.groups == 1
            and len(self.k) >= 2
            and self.k[0] > 1
            and self.stride[0] == 1
            and not self.fold
            and conv_row_shift_bytes(
                self.c_in, self.c_out, self.k, self.stride, self.dilation, self.out_size,
                self.itemsize,
            ) <= _budget()
        )  # fmt: skip

    @cached_property
    def winograd(self) -> bool:
        """tuning.WINOGRAD_NUMPY (off by default: these NumPy transforms lost to the
        exact paths wherever measured), :attr:`winograd_shape` in float32, numba off,
        and channels and map large enough (tuning.WINOGRAD_*)."""
        return (
            tuning.WINOGRAD_NUMPY
            and self.winograd_shape
            and not self.jit
            and np.dtype(self.x.dtype) == np.float32
            and min(self.c_in, self.c_out) >= tuning.WINOGRAD_MIN_CHANNELS
            and self.c_in * self.c_out >= tuning.WINOGRAD_MIN_CHANNEL_PAIRS
            and self.p_out >= tuning.WINOGRAD_MIN_OUTPUTS
        )

    def y(self) -> np.ndarray:
        """The output (N, g, C_out/g, P), uninitialised."""
        g = self.groups
        return np.empty((self.n, g, self.c_out // g, self.p_out), dtype=self.x.dtype)

    @cached_property
    def by(self) -> np.ndarray | None:
        g = self.groups
        return None if self.bias is None else self.bias.reshape(1, g, self.c_out // g, 1)

    def done(self, y: np.ndarray) -> np.ndarray:
        return y.reshape(self.n, self.c_out, *self.out_size)


def _c_gathered(c: ConvCall) -> np.ndarray:
    xg, s, d, lo = c.gathered()
    return conv_nd(xg, c.w, s, d, c.groups, lo, c.out_size, c.bias)


def _c_empty(c: ConvCall) -> np.ndarray:
    return c.done(c.y())


def _c_depthwise_jit(c: ConvCall) -> np.ndarray:
    return _jit.depthwise_conv(c.x, c.w, c.stride, c.dilation, c.lo, c.out_size, c.bias)


def _c_winograd_phases(c: ConvCall) -> np.ndarray:
    y = np.empty((c.n, c.c_out, *c.out_size), dtype=c.x.dtype)
    conv_k4s2(c.x, c.w, y, c.lo, c.bias)
    return y


def _c_depthwise(c: ConvCall) -> np.ndarray:
    y = c.y()
    _conv_depthwise(c.x, c.w, y, c.stride, c.dilation, c.lo, c.out_size, c.by)
    return c.done(y)


def _c_winograd(c: ConvCall) -> np.ndarray:
    y = np.empty((c.n, c.c_out, *c.out_size), dtype=c.x.dtype)
    conv3x3(c.x, c.w, y, c.lo, c.out_size, c.bias, tuning.WINOGRAD_M)
    return y


def _c_winograd_jit(c: ConvCall) -> np.ndarray:
    y = np.empty((c.n, c.c_out, *c.out_size), dtype=c.x.dtype)
    conv3x3(c.x, c.w, y, c.lo, c.out_size, c.bias, tuning.WINOGRAD_M, jit=True)
    return y


def _c_row_shift(c: ConvCall) -> np.ndarray:
    y = c.y()
    by = None if c.bias is None else c.bias.reshape(1, c.c_out, 1)
    _conv_row_shift(
        c.x, c.w, y.reshape(c.n, c.c_out, c.p_out), c.stride, c.dilation, c.lo, c.out_size, by
    )
    return c.done(y)


def _c_phase_split(c: ConvCall) -> np.ndarray:
    y = c.done(c.y())
    _conv_phases(c.x, c.w, None, c.k, c.stride, c.dilation, c.groups, c.plan, c.out_size,
                 c.bias, y)  # fmt: skip
    return y


def _c_columns_jit(c: ConvCall) -> np.ndarray:
    y = np.empty((c.n, c.c_out, *c.out_size), dtype=c.x.dtype)
    conv_columns_jit(c.x, c.w, None, c.k, c.stride, c.dilation, c.groups, c.lo, c.out_size,
                     c.bias, y)  # fmt: skip
    return y


def _c_im2col(c: ConvCall) -> np.ndarray:
    y = c.y()
    _conv_im2col(c.x, c.w, y, c.stride, c.dilation, c.lo, c.out_size, c.by, c.fold)
    return c.done(y)


CONV: tuple[Path[ConvCall], ...] = (
    Path("conv.empty", lambda c: c.n == 0 or c.p_out == 0,
         "no sample or no output position: nothing to compute", _c_empty),
    Path("conv.gathered", lambda c: c.gather,
         "the padded span far exceeds output x taps: the windows gathered first, then a "
         "conv of stride k over them (cost follows the output, not the stride)", _c_gathered),
    Path("conv.depthwise_jit", lambda c: c.depthwise and c.jit and not c.nonfinite,
         "one channel per group, numba on, input large enough, finite (its loop skips the "
         "padding, PyTorch multiplies it): a compiled loop", _c_depthwise_jit),
    Path("conv.depthwise", lambda c: c.depthwise,
         "one channel per group: channels-last scaled adds per tap, no GEMM", _c_depthwise),
    Path("conv.winograd_jit", lambda c: c.winograd_jit and not c.nonfinite,
         "3x3, stride 1, >= 16 channels, numba on, finite: Winograd "
         "F(4x4,3x3) with compiled transforms, error within winograd.ERROR", _c_winograd_jit),
    Path("conv.winograd", lambda c: c.winograd and not c.nonfinite,
         "float32 3x3, stride 1, numba off, tuning.WINOGRAD_NUMPY (off: lost to the "
         "exact paths where measured), finite: Winograd F(4x4,3x3) with NumPy "
         "transforms, error within winograd.ERROR", _c_winograd),
    Path("conv.winograd_phases_jit", lambda c: c.winograd_phases and not c.nonfinite,
         "k4 s2 (2-d; 3-d by depth slices): the 4 tap parities, each a 2x2 correlation of "
         "an input phase, by F(2x2,2x2) stacked in the GEMMs' depth, compiled transforms, "
         "36 multiplications "
         "per 2x2 block instead of 64, error within winograd.PHASES_ERROR",
         _c_winograd_phases),
    Path("conv.row_shift", lambda c: c.row_shift,
         "stride 1 along the first dim: its taps read shifted views of shared columns",
         _c_row_shift),
    Path("conv.im2col_jit", lambda c: c.columns_jit,
         "strided where phase_split goes, numba on: each L2-sized block's columns "
         "written by one compiled pass, then its GEMM (no padded grid)", _c_columns_jit),
    Path("conv.phase_split", lambda c: c.phase_split,
         "strided: each tap's columns one contiguous copy from the input's phases",
         _c_phase_split),
    Path("conv.im2col_folded", lambda c: c.fold,
         "small maps: one strided copy per tap, the batch folded into one GEMM", _c_im2col),
    Path("conv.im2col", lambda c: True,
         "one strided copy per tap (taps chunked to the budget), a GEMM per sample", _c_im2col),
)  # fmt: skip


def conv_nd(
    x: np.ndarray,
    w: np.ndarray,
    stride: Ints,
    dilation: Ints,
    groups: int,
    lo: Ints,
    out_size: Ints,
    bias: np.ndarray | None = None,
) -> np.ndarray:
    """Convolution (cross-correlation).

    x (N, C_in, *L), w (C_out, C_in/g, *k) -> (N, C_out, *out_size), plus
    ``bias`` (C_out,) if given, added as the output is first written.
    """
    call = ConvCall(x, w, stride, dilation, groups, lo, out_size, bias)
    return paths.run(CONV, call)


# --------------------------------------------------------------------------
# conv_weight_grad_nd / conv_and_weight_grad_nd


class WeightCall(_ConvCall):
    """One call of :func:`conv_and_weight_grad_nd`: its arguments and geometry."""

    def __init__(
        self, x: Any, gy: Any, kernel_size: Ints, stride: Ints, dilation: Ints, groups: int,
        lo: Ints, w: np.ndarray | None = None,
    ) -> None:  # fmt: skip
        self.x, self.gy, self.w = x, gy, w
        self.k: Ints = tuple(kernel_size)
        self.stride, self.dilation, self.groups = tuple(stride), tuple(dilation), groups
        self.lo, self.out_size = tuple(lo), tuple(gy.shape[2:])
        self.c_out = int(gy.shape[1])
        dw = self.c_out * (int(x.shape[1]) // groups) * math.prod(self.k)
        y = 0 if w is None else int(x.shape[0]) * self.c_out * math.prod(self.out_size)
        self.result_size = dw + y

    @cached_property
    def row_shift(self) -> bool:
        """groups=1, the gradient alone, stride 1 along a first dim of more than
        one tap, and one sample's columns fit the budget."""
        return (
            self.groups == 1
            and self.w is None
            and len(self.k) >= 2
            and self.k[0] > 1
            and self.stride[0] == 1
            and weight_row_shift_bytes(
                self.c_in, self.c_out, self.k, self.stride, self.dilation, self.out_size,
                self.itemsize,
            ) <= _budget()
        )  # fmt: skip

    @cached_property
    def y(self) -> np.ndarray | None:
        """The convolution's output when ``w`` is given, uninitialised."""
        if self.w is None:
            return None
        return np.empty((self.n, self.c_out, *self.out_size), dtype=self.x.dtype)


_Pair = tuple[np.ndarray, np.ndarray | None]


def _w_gathered(c: WeightCall) -> _Pair:
    xg, s, d, lo = c.gathered()
    return conv_and_weight_grad_nd(xg, c.gy, c.k, s, d, c.groups, lo, c.w)


def _w_empty(c: WeightCall) -> _Pair:
    gw = np.zeros((c.c_out, c.c_in // c.groups, *c.k), dtype=c.x.dtype)
    return gw, c.y


def _w_winograd_jit(c: WeightCall) -> _Pair:
    return weight_grad3x3(c.x, c.gy, c.lo), None


def _w_winograd_phases(c: WeightCall) -> _Pair:
    return conv_and_weight_k4s2(c.x, c.gy, c.lo, c.w)


def _w_row_shift(c: WeightCall) -> _Pair:
    return _weight_grad_row_shift(c.x, c.gy, c.k, c.stride, c.dilation, c.lo), None


def _w_depthwise_jit(c: WeightCall) -> _Pair:
    gw = _jit.depthwise_conv_weight_grad(c.x, c.gy, c.k, c.stride, c.dilation, c.lo)
    y = None
    if c.w is not None:
        y = _jit.depthwise_conv(c.x, c.w, c.stride, c.dilation, c.lo, c.out_size)
    return gw, y


def _w_phase_split(c: WeightCall) -> _Pair:
    y, gw = _conv_phases(
        c.x, c.w, c.gy, c.k, c.stride, c.dilation, c.groups, c.plan, c.out_size, None, c.y
    )
    assert gw is not None
    return gw, y


def _w_phase_rows(c: WeightCall) -> _Pair:
    y, gw = _conv_phase_rows(
        c.x, c.w, c.gy, c.k, c.stride, c.dilation, c.groups, c.plan, c.out_size, None, c.y
    )
    assert gw is not None
    return gw, y


def _w_columns_jit(c: WeightCall) -> _Pair:
    y, gw = conv_columns_jit(c.x, c.w, c.gy, c.k, c.stride, c.dilation, c.groups, c.lo,
                             c.out_size, None, c.y)  # fmt: skip
    assert gw is not None
    return gw, y


def _w_im2col(c: WeightCall) -> _Pair:
    return _conv_and_weight_im2col(c.x, c.gy, c.k, c.stride, c.dilation, c.groups, c.lo, c.w)


CONV_WEIGHT: tuple[Path[WeightCall], ...] = (
    Path("conv_weight.empty", lambda c: c.n == 0 or c.p_out == 0,
         "no sample or no output position: a zero gradient", _w_empty),
    Path("conv_weight.gathered", lambda c: c.gather,
         "the padded span far exceeds output x taps: the windows gathered first, then "
         "stride k over them (cost follows the output, not the stride)", _w_gathered),
    Path("conv_weight.winograd_jit",
         lambda c: c.winograd_jit and c.w is None and not c.nonfinite,
         "the gradient alone, 3x3, stride 1, >= 16 channels, numba on, finite: Winograd "
         "F(4x4,3x3) backward, error within winograd.WEIGHT_ERROR", _w_winograd_jit),
    Path("conv_weight.winograd_phases_jit", lambda c: c.winograd_phases and not c.nonfinite,
         "k4 s2 (2-d or 3-d), conv.winograd_phases_jit's conditions: F(2x2,2x2) backward, the "
         "convolution too when asked, one input transform for both, error within "
         "winograd.PHASES_ERROR", _w_winograd_phases),
    Path("conv_weight.row_shift", lambda c: c.row_shift,
         "stride 1 along the first dim: its taps read shifted views of shared columns",
         _w_row_shift),
    Path("conv_weight.depthwise_jit", lambda c: c.depthwise and c.jit and not c.nonfinite,
         "one channel per group, numba on, input large enough, finite (its loops skip the "
         "padding, PyTorch multiplies it): a compiled loop", _w_depthwise_jit),
    Path("conv_weight.im2col_jit", lambda c: c.columns_jit,
         "strided where phase_split goes, numba on: each L2-sized block's columns "
         "written by one compiled pass, then its GEMMs", _w_columns_jit),
    Path("conv_weight.phase_rows", lambda c: c.phase_rows and not c.nonfinite_lazy,
         "strided, 2-d+, finite: phase_split's columns on a (rows, batch, *rest) grid, "
         "the first dim unpadded; the gradient's GEMM with taps x channels as rows",
         _w_phase_rows),
    Path("conv_weight.phase_split", lambda c: c.phase_split and not c.nonfinite_lazy,
         "strided, finite: each tap's columns one contiguous copy from the input's phases "
         "(their GEMM meets the input's unread tail)",
         _w_phase_split),
    Path("conv_weight.im2col", lambda c: True,
         "one strided copy per tap (taps chunked to the budget), the batch folded in",
         _w_im2col),
)  # fmt: skip


def conv_weight_grad_nd(
    x: np.ndarray,
    gy: np.ndarray,
    kernel_size: Ints,
    stride: Ints,
    dilation: Ints,
    groups: int,
    lo: Ints,
) -> np.ndarray:
    """Gradient of ``conv_nd`` with respect to its weight.

    ``gw[co, ci, t] = sum_{n, o} gy[n, co, o] x[n, ci, o s + t d - lo]``: the
    correlation of the input with the output gradient. Returns (C_out, C_in/g, *k).

    The weight gradient of ``conv_transpose_nd`` is this function with the roles
    of its input and output gradient swapped.
    """
    return conv_and_weight_grad_nd(x, gy, kernel_size, stride, dilation, groups, lo, None)[0]


def conv_and_weight_grad_nd(
    x: np.ndarray,
    gy: np.ndarray,
    kernel_size: Ints,
    stride: Ints,
    dilation: Ints,
    groups: int,
    lo: Ints,
    w: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`conv_weight_grad_nd`, and with ``w`` also ``conv_nd(x, w)`` (of
    ``gy``'s size) from the same im2col columns.

    A transposed convolution's backward needs both over its output gradient
    (dx is the convolution of it, dw its correlation with the input): building
    the columns once saves one of the two im2col passes. Records a
    ``conv_weight.*`` path either way.
    """
    call = WeightCall(x, gy, kernel_size, stride, dilation, groups, lo, w)
    return paths.run(CONV_WEIGHT, call)


# --------------------------------------------------------------------------

TABLES: dict[str, tuple[Path[Any], ...]] = {
    "conv_transpose": CONV_TRANSPOSE,
    "conv": CONV,
    "conv_weight": CONV_WEIGHT,
}
"""The three tables of named paths, by kernel op; each is read top to bottom."""
_CALLS: dict[str, type[_Call]] = {
    "conv_transpose": TransposeCall,
    "conv": ConvCall,
    "conv_weight": WeightCall,
}


def route(op: str, *args: Any, **kwargs: Any) -> str:
    """The name of the path that kernel ``op`` would take for these arguments,
    without computing: ``op`` is ``"conv_transpose"``, ``"conv"`` or
    ``"conv_weight"``, the arguments those of :func:`conv_transpose_nd`,
    :func:`conv_nd` or :func:`conv_and_weight_grad_nd`. Arrays may be stand-ins
    with ``shape`` and ``dtype`` only: their values are not read, so the route is
    that of finite values. Reads the current memory budget and jit setting.

    >>> import numpy as np
    >>> route("conv_transpose", np.empty((1, 2, 4, 4)), np.empty((2, 3, 2, 2)),
    ...       (2, 2), (1, 1), 1, (0, 0), (8, 8))
    'conv_transpose.exact_cover'
    """
    call = _CALLS[op](*args, **kwargs)
    call.shape_only = True
    return paths.choose(TABLES[op], call).name
