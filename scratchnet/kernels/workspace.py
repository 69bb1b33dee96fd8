"""The workspace: a bound on the scratch memory of im2col, the tiles that respect it, and the
CPU threads that work through them.

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

``parallel_for(...)`` runs the chunks of samples on the CPU's threads (``numba``'s thread
count, which ``torch.set_num_threads``-style callers set), each worker with its own buffers
and BLAS held to one thread meanwhile: two workers that each own a core beat one BLAS call
split in two, and no spinning BLAS thread fights Numba's for the same cores.

Buffers are reused between calls (``buffer(...)``): allocating and first touching hundreds of
MB costs page faults on every layer of every step. At most one buffer per name is kept.
"""
import concurrent.futures
import functools
import os

import numba
import numpy as np

try:                          # optional: without it BLAS keeps its threads and conv2d uses one
    import threadpoolctl
except ImportError:           # pragma: no cover
    threadpoolctl = None

DEFAULT_LIMIT = 16 * 2**20      # bytes
TILE_BYTES = 8 * 2**20          # bytes: a CPU tile's columns (see the module docstring)
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


def tiles(n, rows, bytes_per_row, xp, workers=1):
    """Split n samples × ``rows`` output rows into (sample slices, row slices).

    A tile's columns take at most the budget (``TILE_BYTES`` on the CPU, the limit on the
    GPU, never more than the limit), but at least one row of one sample. Only when a whole
    sample fits are several samples grouped, and never so many that a worker goes idle.
    """
    budget = get_workspace_limit()
    if xp is np:
        budget = min(budget, TILE_BYTES)
    per_tile = max(1, min(rows, budget // max(bytes_per_row, 1)))
    row_tiles = [slice(r, min(r + per_tile, rows)) for r in range(0, rows, per_tile)]
    per_chunk = 1
    if per_tile == rows:
        per_chunk = max(1, min(-(-n // workers), budget // max(rows * bytes_per_row, 1)))
    return [slice(i, min(i + per_chunk, n)) for i in range(0, n, per_chunk)], row_tiles


def workers(xp):
    """How many CPU workers ``parallel_for`` uses: Numba's thread count, but 1 on the GPU,
    without threadpoolctl, or with a Numba threading layer that two threads cannot share."""
    if xp is not np or threadpoolctl is None or not _numba_threadsafe():
        return 1
    return numba.get_num_threads()


@functools.cache
def _numba_threadsafe():
    _touch(np.zeros(1))                # Numba picks its threading layer at the first launch
    try:
        return numba.threading_layer() in ("omp", "tbb")   # "workqueue" is not thread-safe
    except ValueError:                 # NUMBA_DISABLE_JIT=1: no layer, plain Python
        return True


@numba.njit(cache=True, parallel=True)
def _touch(a):
    for i in numba.prange(a.size):
        a[i] = 0


def workers_for(items, xp):
    """How many workers ``parallel_for(items, ...)`` uses: worker indices are below it."""
    return min(workers(xp), len(items))


def parallel_for(items, fn, xp):
    """Call ``fn(item, worker)`` for every item; returns nothing, re-raises any error.

    Worker w of W takes items w, w + W, w + 2·W, ... in order: a fixed split, so anything a
    worker sums over its items comes out the same on every run with the same thread count.
    """
    count = workers_for(items, xp)
    if count <= 1:
        for item in items:
            fn(item, 0)
        return

    def run(w):
        numba.set_num_threads(1)       # thread-local: this worker's kernels stay on its core
        for item in items[w::count]:
            fn(item, w)
    with _blas_threads().limit(limits=1):
        jobs = [_pool(count).submit(run, w) for w in range(count)]
        for job in jobs:
            job.result()


@functools.cache
def _pool(count):
    return concurrent.futures.ThreadPoolExecutor(count, thread_name_prefix="scratchnet")


@functools.cache
def _blas_threads():
    return threadpoolctl.ThreadpoolController().select(user_api="blas")
