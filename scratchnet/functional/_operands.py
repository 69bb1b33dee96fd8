"""Shared argument handling for ops: scalars as tensors, broadcasting, dtype rules, dims."""
import functools
import math

import numpy as np

from .. import backend
from ..function import not_a_tensor
from ..tensor import Tensor


def as_operands(op, a, b):
    """Make ``a`` and ``b`` tensors of one dtype, following torch's promotion rules.

    Python scalars are "weak": ``float32_tensor * 2.0`` stays float32, ``int_tensor * 0.5``
    becomes float32 (torch's default float). Two tensors promote as NumPy does, except that an
    integer with a float gives that float dtype (NumPy would widen int64 + float32 to float64)
    and that a 0-d tensor does not widen a dimensioned one of its kind (float32 (3,) + float64
    () stays float32, as in torch).
    """
    if not isinstance(a, Tensor) or not isinstance(b, Tensor):   # a number (or an array)
        if not isinstance(a, Tensor) and not isinstance(b, Tensor):
            raise not_a_tensor(op, (a, b))
        ref = a if isinstance(a, Tensor) else b
        xp = backend.get_array_module(ref.data)
        if not isinstance(a, Tensor):
            a = _scalar_like(a, ref, xp)
        if not isinstance(b, Tensor):
            b = _scalar_like(b, ref, xp)
    if a.data.shape != b.data.shape:
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ValueError(f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast "
                             "together") from None
    if a.data.dtype == b.data.dtype:        # nothing to promote (the common case)
        return a, b
    dtype = promote(a, b)
    return _cast(a, dtype), _cast(b, dtype)


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}  # torch's order: bool < integer < floating


def promote(a, b):
    """The dtype torch gives an elementwise op on tensors ``a`` and ``b``."""
    ca, cb = _CATEGORY[a.dtype.kind], _CATEGORY[b.dtype.kind]
    if ca != cb:
        return (a if ca > cb else b).dtype
    if (a.ndim == 0) != (b.ndim == 0):  # same category: the dimensioned tensor decides
        return (b if a.ndim == 0 else a).dtype
    return np.result_type(a.dtype, b.dtype)


def _scalar_like(value, ref, xp):
    """``value`` as a constant Tensor on ref's device (its GPU, when ref is on one)."""
    with backend.using_device_of(ref.data):
        return _constant(value, ref, xp)


def _constant(value, ref, xp):
    if isinstance(value, (bool, np.bool_)):
        dtype = ref.dtype
    elif isinstance(value, (float, np.floating)) and ref.dtype.kind != "f":
        dtype = np.float32
    elif isinstance(value, (int, float, np.number)):
        dtype = ref.dtype if ref.dtype.kind != "b" else np.result_type(value)
        if isinstance(value, int) and dtype.kind in "iu":
            value = wrapped_int(value, dtype)
    else:
        arr = xp.asarray(value)  # an ndarray or list: an ordinary constant tensor
        return Tensor(arr.astype(np.float32) if arr.dtype == np.float64
                      and not hasattr(value, "dtype") else arr)
    return Tensor(xp.asarray(value, dtype=dtype))


def wrapped_int(value, dtype):
    """A Python int as an element of integer ``dtype`` the way torch takes it in arithmetic and
    comparisons: modulo 2**bits (``int8_tensor + 300`` adds 44), an OverflowError only beyond
    the 64-bit range."""
    if value >= 2 ** 64:
        raise OverflowError("int too big to convert")
    if value < -2 ** 63:
        raise OverflowError("can't convert negative int to unsigned")
    bits = 8 * np.dtype(dtype).itemsize
    value %= 1 << bits
    if np.dtype(dtype).kind == "i" and value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


# torch's names for dtypes: its ScalarType (in "result type Float can't be cast ...") and the
# C type (in "value cannot be converted to type int8_t without overflow")
_TORCH_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short",
                "int32": "Int", "int64": "Long", "float16": "Half", "float32": "Float",
                "float64": "Double"}
_C_NAMES = {"uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int",
            "int64": "int64_t", "float16": "c10::Half", "float32": "float", "float64": "double"}


def torch_name(dtype):
    return _TORCH_NAMES.get(np.dtype(dtype).name, str(dtype))


def can_cast(source, target):
    """torch's rule for writing a result of dtype ``source`` into a tensor of dtype ``target``
    (in-place ops): never float into integer or bool, nor integer into bool."""
    return _CATEGORY[np.dtype(source).kind] <= _CATEGORY[np.dtype(target).kind]


def check_scalar_fits(value, dtype):
    """torch's check when a Python number becomes an element of ``dtype`` (fill_, setitem,
    clamp bounds): integers must lie in the type's range (unsigned ones accept down to
    −max, which wraps), floats must be finite there; floats must not overflow a float type."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return
    if isinstance(value, (int, np.integer)) and not -2 ** 63 <= value < 2 ** 64:
        raise OverflowError("int too big to convert")
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        low = -int(info.max) if dtype.kind == "u" else int(info.min)
        if isinstance(value, (float, np.floating)):
            fits = math.isfinite(value) and low - 1 < value < int(info.max) + 1
        else:
            fits = low <= int(value) <= info.max
    else:
        fits = not (math.isfinite(value) and abs(value) > np.finfo(dtype).max)
    if not fits:
        raise RuntimeError(f"value cannot be converted to type {_C_NAMES[dtype.name]} without "
                           "overflow")


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


def as_float(t):
    """Integer and bool tensors as float32 (torch's default float): for exp, log, sqrt and the
    other ops whose result is a float whatever the input (NumPy would give float64 or float16)."""
    return t if t.dtype.kind == "f" else _cast(t, np.float32)


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


def numpy_names(op):
    """Let ``op`` also take NumPy's keyword names, as torch's functions do: ``axis`` for
    ``dim`` and ``keepdims`` for ``keepdim`` (``x.sum(axis=1)``)."""
    @functools.wraps(op)
    def wrapper(*args, **kwargs):
        if "axis" not in kwargs and "keepdims" not in kwargs:     # torch's names: as they are
            return op(*args, **kwargs)
        for alias, name in (("axis", "dim"), ("keepdims", "keepdim")):
            if alias in kwargs:
                if name in kwargs:
                    raise TypeError(f"{op.__name__}() got both {name!r} and its alias {alias!r}")
                kwargs[name] = kwargs.pop(alias)
        return op(*args, **kwargs)
    return wrapper


def check_tensor(op, *values):
    """Raise torch's kind of TypeError, with the fix, if a value is not a Tensor (a NumPy
    array passed to an op, say); None values are skipped."""
    if not all(v is None or isinstance(v, Tensor) for v in values):
        raise not_a_tensor(op, values)
