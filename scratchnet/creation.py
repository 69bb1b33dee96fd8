"""Making tensors: ``tensor`` and the factories, as torch names them.

Every ``dtype=`` takes any spelling ``dtypes.as_dtype`` reads (``sn.long``, "float32",
``np.float64``...); every ``device=`` a name or an ``sn.device``.
"""
import numpy as np

from . import backend, random
from .dtypes import as_dtype, bool_, float32, float64, int64  # noqa: F401  (re-exported)
from .tensor import Tensor


def tensor(data, dtype=None, requires_grad=False, device=None, pin_memory=False):
    """A new leaf tensor holding a copy of ``data``.

    Python floats give float32, Python ints int64, bools bool; a NumPy or CuPy array keeps its
    dtype (float64 stays float64), as ``torch.tensor`` does. ``data`` may be a (nested) list
    of numbers or of 0-d tensors. ``pin_memory`` is accepted and has no effect (no pinned
    host memory in scratchnet).
    """
    if isinstance(data, np.generic):  # a NumPy scalar keeps its dtype, like an array
        data = np.asarray(data)                    # host: a NumPy scalar
    if device is None and _is_array(data):
        device = backend.device_of(_raw(data))
    device = backend.check_device(device)
    if _is_array(data):
        array = _raw(data).copy()
    else:
        array = np.asarray(_plain(data))           # host: Python numbers
        kept = _tensor_dtypes(data)   # a dtype some Tensor in the list has is kept
        if array.dtype == np.float64 and array.dtype not in kept:
            array = array.astype(np.float32)  # from Python floats: torch's default float
        elif array.dtype.kind in "iu" and array.dtype not in kept:
            array = array.astype(np.int64)
        elif array.dtype.kind not in "fiub":
            raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__} "
                            f"of dtype {array.dtype}")
    if dtype is not None:
        array = array.astype(as_dtype(dtype))
    return Tensor(backend.to_device(array, device), requires_grad=requires_grad)


def _plain(data):
    """Nested lists and tuples with every Tensor replaced by its NumPy value."""
    if isinstance(data, Tensor):
        return backend.to_numpy(data.data)
    if isinstance(data, (list, tuple)):
        return [_plain(d) for d in data]
    return data


def _tensor_dtypes(data):
    """The dtypes of the Tensors in nested lists and tuples."""
    if isinstance(data, Tensor):
        return {data.dtype}
    if isinstance(data, (list, tuple)):
        return set().union(*(_tensor_dtypes(d) for d in data))
    return set()


def as_tensor(data, dtype=None, device=None):
    """``data`` as a Tensor, sharing its memory when it already has the dtype and device
    asked for: a Tensor is returned as is, a NumPy/CuPy array wrapped without a copy."""
    if isinstance(data, Tensor):
        out = data if device is None else data.to(backend.check_device(device))
        return out if dtype is None else out.to(as_dtype(dtype))
    if _is_array(data):
        array = data
        if dtype is not None:
            array = array.astype(as_dtype(dtype), copy=False)
        if device is not None:
            array = backend.to_device(array, backend.check_device(device))
        return Tensor(array)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array):
    """A Tensor sharing the memory of the NumPy ``array`` (writes show in both), its dtype
    kept; as ``torch.from_numpy``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(array).__name__})")
    if array.dtype not in (np.dtype(d) for d in (np.float16, np.float32, np.float64,
                                                 np.int8, np.int16, np.int32, np.int64,
                                                 np.uint8, np.bool_)):
        raise TypeError(f"from_numpy: can't convert np.ndarray of type {array.dtype}; the "
                        "supported types are: float64, float32, float16, int64, int32, "
                        "int16, int8, uint8, and bool")
    return Tensor(array)


def _is_array(data):
    return isinstance(data, (np.ndarray, Tensor)) or backend.is_cupy(data)


def _raw(data):
    return data.data if isinstance(data, Tensor) else data


def _shape(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(size)


def _make(array, dtype, requires_grad, device):
    device = backend.check_device(device)
    if dtype is not None:
        array = array.astype(as_dtype(dtype), copy=False)
    return Tensor(backend.to_device(array, device), requires_grad=requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _make(np.zeros(_shape(size), float32), dtype, requires_grad, device)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _make(np.ones(_shape(size), float32), dtype, requires_grad, device)


def empty(*size, dtype=None, device=None, requires_grad=False):
    """A tensor whose values are whatever the memory held (torch.empty): fill it before use."""
    return _make(np.empty(_shape(size), float32), dtype, requires_grad, device)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = tensor(fill_value).dtype
    return _make(np.full(tuple(size), fill_value, as_dtype(dtype)), None, requires_grad,
                 device)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """The n×m identity (m = n by default)."""
    return _make(np.eye(n, n if m is None else m, dtype=float32), dtype, requires_grad, device)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """``steps`` values from start to end, both included, evenly spaced."""
    if steps < 0:
        raise ValueError(f"linspace: number of steps must be non-negative, got {steps}")
    return _make(np.linspace(start, end, steps), dtype or float32, requires_grad, device)


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Uniform on [0, 1), from ``generator`` or the one that ``manual_seed`` seeds."""
    rng = random.numpy_generator(generator)
    return _make(rng.random(_shape(size)), dtype or float32, requires_grad, device)


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Standard normal, from ``generator`` or the one that ``manual_seed`` seeds."""
    rng = random.numpy_generator(generator)
    return _make(rng.standard_normal(_shape(size)), dtype or float32, requires_grad, device)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False):
    """Integers uniform in [low, high): ``randint(high, size)`` or ``randint(low, high,
    size)``, int64 unless ``dtype`` says otherwise, as torch.randint."""
    if size is None:                      # randint(high, size)
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint: missing the size argument: randint(high, size) or "
                        "randint(low, high, size)")
    if high <= low:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    rng = random.numpy_generator(generator)
    values = rng.integers(low, high, tuple(size), dtype=np.int64)
    return _make(values, dtype, requires_grad, device)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Values in [start, end) spaced by step; int64 for integer arguments, else float32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = int64 if ints else float32
    return _make(np.arange(start, end, step), dtype, requires_grad, device)


def _like(make, input, dtype, device, requires_grad, *args):
    return make(*args, input.shape, dtype=input.dtype if dtype is None else dtype,
                device=input.device if device is None else device,
                requires_grad=requires_grad)


def zeros_like(input, dtype=None, device=None, requires_grad=False):
    return _like(zeros, input, dtype, device, requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False):
    return _like(ones, input, dtype, device, requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False):
    return _like(empty, input, dtype, device, requires_grad)


def rand_like(input, dtype=None, device=None, requires_grad=False):
    return _like(rand, input, dtype, device, requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False):
    return _like(randn, input, dtype, device, requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False):
    return full(input.shape, fill_value, dtype=input.dtype if dtype is None else dtype,
                device=input.device if device is None else device, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, dtype=None, device=None, requires_grad=False):
    """``randint_like(x, high)`` or ``randint_like(x, low, high)``, x's dtype by default."""
    if high is None:
        low, high = 0, low
    return randint(low, high, input.shape, dtype=input.dtype if dtype is None else dtype,
                   device=input.device if device is None else device,
                   requires_grad=requires_grad)
