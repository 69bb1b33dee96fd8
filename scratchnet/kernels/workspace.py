"""The workspace: a bound on the scratch memory of im2col, and the batch chunks that respect it.

The column matrix of a convolution holds every input pixel KH·KW times (up to stride): for
VGG16's conv1_2 at batch 32 that is 32·64·9·224·224·4 bytes ≈ 3.7 GB. scratchnet never builds
it whole. ``conv2d`` processes the batch in chunks of ``batch_chunk(...)`` samples whose column
buffer stays under the limit, and the per-sample GEMMs give the same numbers in any chunking.

The limit comes from ``set_workspace_limit(nbytes)``, else the environment variable
``SCRATCHNET_WORKSPACE_MB``, else ``DEFAULT_LIMIT``. One sample is always allowed, even if its
columns alone exceed the limit (there is no smaller unit to split at).

Buffers are reused between calls (``buffer(...)``): allocating and first touching hundreds of
MB costs page faults on every layer of every step. At most one buffer per name is kept.
"""
import os

import numpy as np

# Bytes. Small on purpose: a chunk's columns are written by im2col and read back by the GEMM
# right away, so a chunk that stays in cache is faster than the whole batch's columns (per
# sample GEMM of benchmarks/ops.py's 3x3 layer: 1.8 ms with cache-hot columns, 2.9 ms cold),
# and peak memory stays near torch's. A sample larger than this is still one chunk.
DEFAULT_LIMIT = 16 * 2**20
_limit = None
_buffers = {}


def set_workspace_limit(nbytes):
    """Bound the bytes of each im2col scratch buffer; ``None`` restores the default."""
    global _limit
    if nbytes is not None and (not isinstance(nbytes, int) or nbytes <= 0):
        raise ValueError(f"set_workspace_limit: expected a positive number of bytes or None, "
                         f"got {nbytes!r}")
    _limit = nbytes
    _buffers.clear()


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


def batch_chunk(n, bytes_per_sample):
    """Samples per chunk: as many as fit under the limit, at least 1, at most n."""
    return max(1, min(n, get_workspace_limit() // max(bytes_per_sample, 1)))


def chunks(n, bytes_per_sample):
    """``slice``s that cover range(n) in chunks of ``batch_chunk(n, bytes_per_sample)``."""
    step = batch_chunk(n, bytes_per_sample)
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def buffer(name, shape, dtype, xp):
    """An uninitialised array of ``shape`` reusing the memory of the last buffer ``name``.

    The caller must be done with the previous contents (conv2d uses each buffer only inside
    one call). Arrays larger than the limit are never cached.
    """
    size = 1
    for s in shape:
        size *= s
    nbytes = size * np.dtype(dtype).itemsize
    key = (name, xp.__name__)
    held = _buffers.get(key)
    if held is None or held.nbytes < nbytes:
        held = xp.empty(nbytes, xp.uint8)
        if nbytes <= get_workspace_limit():
            _buffers[key] = held
    return held[:nbytes].view(dtype).reshape(shape)
