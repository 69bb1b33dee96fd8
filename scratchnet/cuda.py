"""``sn.cuda``, as much of ``torch.cuda`` as a training script asks: is a GPU there, which one,
wait for it, how much memory (CuPy's memory pool) and the seed of CuPy's own generator.

Without CuPy or a GPU, ``is_available()`` is False, ``device_count()`` 0, and the functions
that need a GPU raise the RuntimeError of ``backend.cupy_module`` (it says what is missing).
The peak of ``max_memory_allocated`` is tracked by a thin allocator over CuPy's pool (CuPy
keeps no peak itself), installed when CuPy is first imported.
"""
from . import backend

_peak = {}                 # GPU index -> the most bytes the pool had in use


def is_available():
    """True when CuPy is installed and sees a CUDA GPU."""
    return backend.cuda_is_available()


def device_count():
    """The number of GPUs CuPy sees (0 without CuPy)."""
    if not backend.cuda_is_available():
        return 0
    return backend.cupy_module().cuda.runtime.getDeviceCount()


def current_device():
    """The index of the current GPU (the one ``"cuda"`` without an index means)."""
    return backend.cupy_module().cuda.runtime.getDevice()


def set_device(device):
    """Make GPU ``device`` (an index, "cuda:1" or a device) the current one."""
    index = device if isinstance(device, int) else backend.check_device(device).index
    backend.cupy_module().cuda.Device(index or 0).use()


def synchronize(device=None):
    """Wait until every kernel queued on the GPU (the current one by default) has finished."""
    cupy = backend.cupy_module()
    index = current_device() if device is None else _index(device)
    cupy.cuda.Device(index).synchronize()


def memory_allocated(device=None):
    """Bytes of GPU memory held by arrays now (CuPy's pool: used, not cached)."""
    with backend.cupy_module().cuda.Device(_index(device)):
        return _pool().used_bytes()


def max_memory_allocated(device=None):
    """The most bytes held by arrays at once since the start or the last reset."""
    index = _index(device)
    return max(_peak.get(index, 0), memory_allocated(index))


def reset_peak_memory_stats(device=None):
    """Start the peak of ``max_memory_allocated`` again from the memory held now."""
    index = _index(device)
    _peak[index] = memory_allocated(index)


def empty_cache():
    """Give the pool's cached, unused blocks back to the driver (torch.cuda.empty_cache)."""
    _pool().free_all_blocks()


def manual_seed(seed):
    """Seed CuPy's global generator (``cupy.random``) on every GPU; scratchnet's own draws
    (dropout masks, factories) come from ``sn.manual_seed``'s generator on both devices."""
    if backend.cuda_is_available():
        backend.cupy_module().random.seed(int(seed))


manual_seed_all = manual_seed


def _index(device):
    if device is None:
        return current_device()
    if isinstance(device, int):
        return device
    index = backend.check_device(device).index
    return current_device() if index is None else index


def _pool():
    return backend.cupy_module().get_default_memory_pool()


def track_peak_memory(cupy):
    """Route CuPy's allocations through its default pool, noting the peak of used bytes (per
    GPU). Called by backend.py when it first imports CuPy."""
    pool = cupy.get_default_memory_pool()

    def malloc(size):
        memory = pool.malloc(size)
        index = memory.device_id
        _peak[index] = max(_peak.get(index, 0), pool.used_bytes())
        return memory
    cupy.cuda.set_allocator(malloc)
