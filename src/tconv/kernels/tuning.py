"""The measured constants that pick the kernels' paths and size their chunks.

One place for all of them, each with its reason; the measurements behind them
are in ``benchmarks/RESULTS-intel.md`` ("Kernel paths"). The path tables that read
them are in :mod:`.conv`.
"""

from __future__ import annotations

# The flat phase buffers run their GEMMs over a zero-padded grid: at this many
# times the map or more (tiny maps) the waste outweighs their contiguous adds, and
# the transposed convolution goes channels-last, the convolution to im2col.
CL_PADDING = 1.4

# Below this many output positions per sample the batch is folded into one GEMM's
# columns; above it a GEMM per sample avoids the transposes that folding costs.
FOLD_BELOW = 1024

# Inputs smaller than this stay on NumPy: they take well under a millisecond
# there, and a numba kernel's first call compiles for about 5 s.
JIT_MIN_SIZE = 2**15

# Temporaries in chunks of about this many bytes: they stay in cache and are
# recycled by the allocator, where large ones are fresh pages every call.
CHUNK_BYTES = 8 * 2**20

# Below this many multiply-adds (about a millisecond) a call stays serial: the
# hand-off to the worker threads costs tens of microseconds.
MIN_WORK = 2**21

# conv.winograd_jit: the same F(4x4, 3x3) with the transforms as numba kernels
# (one pass each, per tile, over runs of C contiguous values): 0.51-0.53 of the
# exact paths' serial CPU time with 64-128 channels (the suite's conv_k3: 0.52),
# 0.74-0.76 with 32 and 256 channels, 0.53 on 14x14 maps; slower at 16 channels (1.85).
# float64 (error ~1e-14): 0.65 on conv_k3, 0.48 at 128 channels, 0.87 with 256 on
# 14x14, a tie at 32 channels (1.03): twice the channels.
WINOGRAD_JIT_MIN_CHANNELS = 32  # each of C_in and C_out (float64: twice)
WINOGRAD_JIT_MIN_OUTPUTS = 14 * 14  # output positions per sample

# conv.winograd (kernels/winograd.py): F(4x4, 3x3) runs GEMMs with 4x fewer
# multiply-adds than im2col's, but of C_in deep instead of 9 C_in, around
# memory-bound NumPy transform passes. float32, serial CPU time against the exact
# paths (benchmarks/RESULTS-intel.md, "Kernel paths"): 0.72-0.80 with 256-512 channels
# on 28x28-56x56 maps, 0.92 at 128 -> 256, a tie at 128 -> 128 (0.93-0.97),
# slower on 14x14 maps and below (1.04-2.4: small GEMMs, the weight transform)
# and at 64 channels (1.2-1.5).
WINOGRAD_M = 4
WINOGRAD_MIN_CHANNELS = 128  # each of C_in and C_out
WINOGRAD_MIN_CHANNEL_PAIRS = 128 * 256  # C_in * C_out
WINOGRAD_MIN_OUTPUTS = 28 * 28  # output positions per sample

# conv_weight.phase_rows (2-d+ strided weight gradients): with fewer channels than
# this on either side, its grid's transposing copies cost more than the GEMM
# columns it saves (measured on a k4 s2 layer with 3 -> 64 channels).
PHASE_ROWS_MIN_CHANNELS = 16

# conv_transpose.flat_phases_jit: its chunks (a batch chunk's padded input and the
# slabs of one GEMM's phases) of about this many bytes: the kernel reads the slabs
# right after the GEMM wrote them, in L2 (2 MiB a core here) or close to it. With
# 2, 4 and 8 MiB the suite's volume3d ran 0.70-0.79 of flat_phases_blocked's time in
# float32 (0.55-0.64 in float64), audio1d 0.98-1.06 (float64 0.75-0.79).
PHASES_JIT_BYTES = 4 * 2**20
