"""Shared argument handling for ops: scalars as tensors, broadcasting, dtype rules, dims."""
import numpy as np

from .. import backend
from ..tensor import Tensor


def as_operands(op, a, b):
    """Make ``a`` and ``b`` tensors of one dtype, following torch's promotion rules.

    Python scalars are "weak": ``float32_tensor * 2.0`` stays float32, ``int_tensor * 0.5``
    becomes float32 (torch's default float). Two tensors promote as NumPy does, except that an
    integer with a float gives that float dtype (NumPy would widen int64 + float32 to float64).
    """
    ref = a if isinstance(a, Tensor) else b
    xp = backend.get_array_module(ref.data)
    if not isinstance(a, Tensor):
        a = _scalar_like(a, ref, xp)
    if not isinstance(b, Tensor):
        b = _scalar_like(b, ref, xp)
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast "
                         "together") from None
    dtype = promote(a.dtype, b.dtype)
    return _cast(a, dtype), _cast(b, dtype)


def promote(d1, d2):
    if (d1.kind == "f") != (d2.kind == "f"):
        return d1 if d1.kind == "f" else d2
    return np.result_type(d1, d2)


def _scalar_like(value, ref, xp):
    if isinstance(value, (bool, np.bool_)):
        dtype = ref.dtype
    elif isinstance(value, (float, np.floating)) and ref.dtype.kind != "f":
        dtype = np.float32
    elif isinstance(value, (int, float, np.number)):
        dtype = ref.dtype if ref.dtype.kind != "b" else np.asarray(value).dtype
    else:
        arr = xp.asarray(value)  # an ndarray or list: an ordinary constant tensor
        return Tensor(arr.astype(np.float32) if arr.dtype == np.float64
                      and not hasattr(value, "dtype") else arr)
    return Tensor(xp.asarray(value, dtype=dtype))


def _cast(t, dtype):
    if t.dtype == dtype:
        return t
    from .conversion import cast
    return cast(t, dtype)


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, back to ``shape``."""
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


def check_same_float_dtype(op, *tensors):
    """matmul, linear and conv refuse two float dtypes, as torch does."""
    dtypes = {t.dtype for t in tensors if t is not None}
    if len(dtypes) > 1:
        shown = ", ".join(f"{t.dtype} {t.shape}" for t in tensors if t is not None)
        raise TypeError(f"{op}: expected all inputs to have the same dtype, got {shown}; "
                        "convert with .float() or .double()")


def check_float(op, t):
    if t.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point tensor, got {t.dtype}")


def normalize_dim(op, dim, ndim):
    """A dim (or tuple of dims) in [-ndim, ndim) as non-negative ints; None stays None."""
    if dim is None:
        return None
    if isinstance(dim, (tuple, list)):
        return tuple(normalize_dim(op, d, ndim) for d in dim)
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: dimension {dim} out of range for a tensor of {ndim} "
                         f"dimensions (expected in [{-n}, {n - 1}])")
    return dim % n
