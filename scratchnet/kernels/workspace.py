"""The workspace: a bound on the scratch memory of im2col, and the tiles that respect it.

The column matrix of a convolution holds every input pixel KH·KW times (up to stride): for
VGG16's conv1_2 at batch 32 that is 32·64·9·224·224·4 bytes ≈ 3.7 GB, 115 MB per sample.
scratchnet never builds it whole: ``conv2d`` works through *tiles*, a few samples × a band of
output rows, whose columns are built, multiplied and dropped while they are still in cache.
``tiles(...)`` picks them: on the CPU the rows of one sample whose columns fit ``TILE_BYTES``
(the whole sample for most layers; VGG's 224×224 layers get bands), on the GPU whole samples,
as many as fit. 8 MB was measured, not guessed (benchmarks/README.md): L2-sized tiles (1 MB)
were slower, since BLAS runs narrow products (K up to 2400 rows × ~100 columns) less
efficiently and per-call costs add up, while an 8 MB tile still stays in the last-level cache.

The limit comes from ``set_workspace_limit(nbytes)``, else the environment variable
``SCRATCHNET_WORKSPACE_MB``, else ``DEFAULT_LIMIT``; it caps every tile (at least one output
row of one sample, the smallest unit there is).

The chunks of samples are shared out among scratchnet's workers (kernels/threads.py), each
with its own buffers: two workers that each own a core and run single-threaded GEMMs beat one
BLAS call split in two.

Buffers are reused between calls (``buffer(...)``): allocating and first touching hundreds of
MB costs page faults on every layer of every step. At most one buffer per name is kept, per
thread: two threads running convolutions at once never share one.
"""
import os
import threading

import numpy as np

DEFAULT_LIMIT = 16 * 2**20      # bytes
TILE_BYTES = 8 * 2**20          # bytes: a CPU tile's columns (see the module docstring)
GROUP_BYTES = 2**20             # bytes: samples grouped only to share per-call costs (L2)
_limit = None
_held = threading.local()       # .buffers: {(name, module): bytes}, .limit_set: when made
_limit_set = 0                  # how many times set_workspace_limit ran: older buffers go


def set_workspace_limit(nbytes):
    """Bound the bytes of each im2col scratch buffer; ``None`` restores the default."""
    global _limit, _limit_set
    if nbytes is not None and (not isinstance(nbytes, int) or nbytes <= 0):
        raise ValueError(f"set_workspace_limit: expected a positive number of bytes or None, "
                         f"got {nbytes!r}")
    _limit = nbytes
    _limit_set += 1


def get_workspace_limit():
    if _limit is not None:
        return _limit
    env = os.environ.get("SCRATCHNET_WORKSPACE_MB")
    if env:
        try:
            mb = float(env)
        except ValueError:
            mb = -1
        if mb <= 0:
            raise ValueError(f"SCRATCHNET_WORKSPACE_MB must be a positive number, got {env!r}")
        return int(mb * 2**20)
    return DEFAULT_LIMIT


def buffer(name, shape, dtype, xp):
    """An uninitialised array of ``shape`` reusing the memory of the last buffer ``name``.

    The caller must be done with the previous contents (conv2d uses each buffer only inside
    one call). Arrays larger than the limit are never cached.
    """
    size = 1
    for s in shape:
        size *= s
    nbytes = size * np.dtype(dtype).itemsize
    if getattr(_held, "limit_set", None) != _limit_set:
        _held.buffers, _held.limit_set = {}, _limit_set
    gpu = None if xp is np else xp.cuda.runtime.getDevice()    # one buffer per GPU
    key = (name, xp.__name__, gpu)
    held = _held.buffers.get(key)
    if held is None or held.nbytes < nbytes:
        held = xp.empty(nbytes, xp.uint8)
        if nbytes <= get_workspace_limit():
            _held.buffers[key] = held
    return held[:nbytes].view(dtype).reshape(shape)


def tiles(n, rows, bytes_per_row, xp, workers=1, one_product_per_sample=False):
    """Split n samples × ``rows`` output rows into (sample slices, row slices).

    A tile's columns take at most the budget (``TILE_BYTES`` on the CPU, the limit on the
    GPU, never more than the limit), but at least one row of one sample. Only when a whole
    sample fits are several samples grouped: into a multiple of ``workers`` chunks of equal
    size (give or take one sample), so that every worker gets the same share. When each
    sample gets a product of its own anyway (``one_product_per_sample``), a CPU group holds
    at most ``GROUP_BYTES``, so that its columns are still in the core's L2 cache when the
    products read them (LeNet-5's first layer: 78 KB of columns per sample, 8 MB groups
    bound by memory bandwidth on two cores).
    """
    budget = get_workspace_limit()
    if xp is np:
        budget = min(budget, TILE_BYTES)
    per_tile = max(1, min(rows, budget // max(bytes_per_row, 1)))
    row_tiles = [slice(r, min(r + per_tile, rows)) for r in range(0, rows, per_tile)]
    per_chunk = 1
    if per_tile == rows:
        group = min(budget, GROUP_BYTES) if one_product_per_sample and xp is np else budget
        fit = max(1, group // max(rows * bytes_per_row, 1))      # samples a tile can hold
        chunks = -(-n // fit)
        chunks = -(-chunks // workers) * workers                  # rounded up to W·k
        per_chunk = -(-n // max(chunks, 1))                           # an empty batch: 0
    return [slice(i, min(i + per_chunk, n)) for i in range(0, n, max(per_chunk, 1))], row_tiles
