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

# conv.winograd_jit: F(4x4, 3x3), all three transforms compiled, the layout
# copies fused into them. 2-thread wall time against the exact paths (float32;
# benchmarks/RESULTS-intel.md, "Kernel paths"): 0.23-0.86 with 16-128 channels on
# 7x7-112x112 maps (16 samples of 7x7: 0.3-0.6; the suite's conv_k3: 0.4), float64
# 0.2-0.8 there. Its weight transform (36 C_in C_out values, 4x the weights) is
# paid per call and its GEMMs stream it per chunk: with 256 channels it won on
# 3136 positions (0.75-0.83) and not on 490-784 (0.9-2.3), with 512 it lost up to
# 56x56 on one sample (1.3-3.9). So the positions over the batch it needs grow with the
# transformed weights beyond about one core's L2.
# The same thresholds pick conv_weight.winograd_jit, the weight gradient (its 36
# C_in C_out sums per worker as the forward's transformed weights), measured on 2
# workers against conv_weight.row_shift in float32: 64 channels on 16 x 56x56 0.38
# (44.0 -> 16.9 ms, PyTorch 23.7), 128 on 16 x 28x28 0.59, 32 on 8 x 112x112 0.40,
# and 256 on 4 x 14x14 1.08 (left to row_shift by the weight-size rule).
WINOGRAD_JIT_MIN_CHANNELS = 16  # each of C_in and C_out
WINOGRAD_JIT_MIN_POSITIONS = 28 * 28  # N * output positions, at least
WINOGRAD_JIT_WEIGHT_BYTES = 36 * 128 * 128 * 4  # beyond it, proportionally more

# conv_transpose.winograd_phases_jit (kernels/winograd.py, conv_transpose_k4s2): a
# k4 s2 transposed convolution's 4 output phases by F(2x2, 2x2), 36 multiplications
# per 4x4 output block instead of 64, compiled transforms. Measured on 2 workers
# against the table's exact paths (benchmarks/RESULTS-intel.md, "Kernel paths").
# 3-d layers (by depth slices) on the same thresholds: 0.36-0.79 of the exact paths'
# time on 3-d shapes from 16 to 128 channels, a tie on 4x4x4 maps.
WINOGRAD_PHASES_MIN_CHANNELS = 16  # each of C_in and C_out
WINOGRAD_PHASES_MIN_OUTPUTS = 32 * 32  # N * output positions, at least
WINOGRAD_PHASES_WEIGHT_BYTES = 36 * 256 * 256 * 4  # beyond it, proportionally more
# conv.winograd_phases_jit (conv_k4s2): a k4 s2 convolution (the input gradient of
# the transposed one) by the same transform, the 4 tap parities in the GEMMs' depth.
# (2-d transposed layers take conv_transpose.winograd_adjoint_jit on the thresholds above.)
WINOGRAD_PHASES_CONV_MIN_OUTPUTS = 32 * 32  # N * output positions, at least
# conv_weight.winograd_phases_jit (conv_and_weight_k4s2), 2-d: the weight gradient
# sums 9 x C_out x 4 C_in products per chunk whatever its tiles (a cost that the
# outputs do not share): at 1024 outputs 0.95-1.34 of conv_weight.im2col_jit's time,
# from 2048 0.76-0.92 (bench_winograd_phases.py, 2026-12-03, after the compiled
# columns' evenly split blocks). 3-d layers keep the conv's threshold: 0.49-0.75 of
# the exact paths' time at 1024 outputs.
WINOGRAD_PHASES_WEIGHT_MIN_OUTPUTS = 64 * 32  # N * output positions, at least

# conv.winograd (kernels/winograd.py): F(4x4, 3x3) runs GEMMs with 4x fewer
# multiply-adds than im2col's, but of C_in deep instead of 9 C_in, around
# memory-bound NumPy transform passes. float32, serial CPU time against the exact
# paths (benchmarks/RESULTS-intel.md, "Kernel paths"): 0.72-0.80 with 256-512 channels
# on 28x28-56x56 maps, 0.92 at 128 -> 256, a tie at 128 -> 128 (0.93-0.97),
# slower on 14x14 maps and below (1.04-2.4: small GEMMs, the weight transform)
# and at 64 channels (1.2-1.5).
# On 2 workers it lost everywhere measured (1.0-2.1 with 128-256 channels, 1.2-6
# with 512), and with numba off in wall time on 1 and 2 workers too (1.05-3.1 with
# 256-512 channels on 28x28-56x56): off by default. The path stays in the table,
# tested, for a machine where it wins (WINOGRAD_NUMPY = True, these thresholds).
WINOGRAD_NUMPY = False
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

# conv_transpose.flat_phases_jit goes in blocks of rows when one phase of one sample
# (its padded input and its slabs) is more than this: whole, a large map's slabs went
# out of cache and doubled the temporaries. (8, 64, 256, 256) -> 32, k4 s2 p1, float32:
# 406-460 ms and 51 MiB of temporaries in blocks, 570 ms and 97 MiB whole; the
# suite's volume3d and audio1d (about 4 MiB a phase) stay whole.
PHASES_JIT_BLOCK_BYTES = 8 * 2**20

# conv.im2col_jit / conv_weight.im2col_jit (kernels/columns.py): a block's columns
# of about this many bytes, written by one compiled pass and read right after by its
# GEMMs, in L2 (2 MiB a core here). Where phase_split went, on the suite's strided
# convolutions and transposed layers' backward (benchmarks/RESULTS-intel.md, "Kernel
# paths"): 0.52-0.85 of its time where it won clearly (unet, dcgan4, audio1d, float64
# volume3d), within the noise on dcgan2-3 and conv_k3s2. The weight gradients go there
# before phase_rows since the fill's indices are unsigned (vectorised): 0.53-0.79 of
# phase_rows' time on 2-d and 3-d k3 s2 layers, float32 (float64 0.52-0.93).
COLUMNS_JIT_BYTES = 2 * 2**20
# From this many output positions a sample, a block's whole samples get a GEMM each,
# written into the output directly (no copy out of a block-wide product).
COLUMNS_JIT_SAMPLE_GEMM = 256

# conv_transpose.exact_cover_jit: bytes of a worker's GEMM buffer (input rows of a
# sample x prod(k) C_out x W). 2 workers, float32, min of 9: unet2 (8 x 128 x 64x64
# -> 64, k2 s2) 13.7 / 14.1 / 13.1 ms at 4 / 8 / 16 rows (256 KiB .. 1 MiB), unet1
# (8 x 256 x 32x32 -> 128) 9.0 / 8.9 / 7.9; the exact_cover path took 24.4 and 18.8
EXACT_JIT_BYTES = 2**20
