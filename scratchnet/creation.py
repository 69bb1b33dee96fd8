"""Making tensors: ``tensor`` and the factories, as torch names them."""
import numpy as np

from . import backend, random
from .tensor import Tensor

float32, float64, int64, bool_ = np.dtype(np.float32), np.dtype(np.float64), np.dtype(
    np.int64), np.dtype(np.bool_)


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new leaf tensor holding a copy of ``data``.

    Python floats give float32, Python ints int64, bools bool; a NumPy or CuPy array keeps its
    dtype (float64 stays float64), as ``torch.tensor`` does.
    """
    if isinstance(data, np.generic):  # a NumPy scalar keeps its dtype, like an array
        data = np.asarray(data)
    if device is None and _is_array(data):
        device = backend.device_of(_raw(data))
    device = backend.check_device(device)
    if _is_array(data):
        array = _raw(data).copy()
    else:
        array = np.asarray(data)
        if array.dtype == np.float64:  # from Python floats: torch's default float
            array = array.astype(np.float32)
        elif array.dtype.kind in "iu":
            array = array.astype(np.int64)
        elif array.dtype.kind not in "fb":
            raise TypeError(f"tensor: cannot make a tensor from {type(data).__name__} "
                            f"of dtype {array.dtype}")
    if dtype is not None:
        array = array.astype(dtype)
    return Tensor(backend.to_device(array, device), requires_grad=requires_grad)


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
        array = array.astype(dtype, copy=False)
    return Tensor(backend.to_device(array, device), requires_grad=requires_grad)


def zeros(*size, dtype=float32, requires_grad=False, device=None):
    return _make(np.zeros(_shape(size), dtype), None, requires_grad, device)


def ones(*size, dtype=float32, requires_grad=False, device=None):
    return _make(np.ones(_shape(size), dtype), None, requires_grad, device)


def full(size, fill_value, dtype=None, requires_grad=False, device=None):
    if dtype is None:
        dtype = tensor(fill_value).dtype
    return _make(np.full(tuple(size), fill_value, dtype), None, requires_grad, device)


def zeros_like(input, dtype=None, requires_grad=False, device=None):
    return zeros(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad,
                 device=device or input.device)


def ones_like(input, dtype=None, requires_grad=False, device=None):
    return ones(input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad,
                device=device or input.device)


def rand(*size, dtype=float32, requires_grad=False, device=None):
    """Uniform on [0, 1), from the generator that ``manual_seed`` seeds."""
    return _make(random.generator().random(_shape(size)), dtype, requires_grad, device)


def randn(*size, dtype=float32, requires_grad=False, device=None):
    """Standard normal, from the generator that ``manual_seed`` seeds."""
    return _make(random.generator().standard_normal(_shape(size)), dtype, requires_grad,
                 device)


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None):
    """Values in [start, end) spaced by step; int64 for integer arguments, else float32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = int64 if ints else float32
    return _make(np.arange(start, end, step), dtype, requires_grad, device)
