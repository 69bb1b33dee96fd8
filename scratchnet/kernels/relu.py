"""ReLU's forward and backward (functional/activation.py), one pass each.

NumPy evaluates the backward ``gy * (y > 0)`` as two passes and a temporary mask, and every
pass over a freshly allocated array pays its page faults: LeNet-5's four ReLUs took 9 ms of
backward against torch's 0.8 ms. The Numba twins read and write each element once, shared
out among the workers (kernels/threads.py); the CUDA twins (``_RELU_SRC``, ``_RELU_GRAD_SRC``,
one thread per element, run on the CPU by the tests' harness: kernels/_cupy.py) do the same
on the GPU. The references are the plain array code, for what the twins do not take
(integer dtypes, non-contiguous arrays, gy of another dtype).

Both follow torch's comparisons, which decide NaNs and signed zeros: the forward is
y = 0 where x < 0, else x (a NaN stays NaN, −0 stays −0), the backward threshold_backward
(gx = 0 where y <= 0, else gy: a NaN gy at an inactive unit gives 0, and a NaN y passes gy).
"""
import numba

from ..backend import get_array_module, is_cupy
from . import threads
from ._cupy import elementwise


def relu_forward(x, out=None):
    """y = max(x, 0) elementwise (0 where x < 0), into ``out`` (which may be x) if given."""
    xp = get_array_module(x)
    if out is None:
        out = xp.empty_like(x)
    if x.dtype.kind != "f" or out.dtype != x.dtype:
        return relu_forward_reference(x, out)
    if is_cupy(x):
        elementwise("T x", "T y", _RELU_SRC, "scratchnet_relu")(x, out)
        return out
    if not (x.flags.c_contiguous and out.flags.c_contiguous):
        return relu_forward_reference(x, out)
    flat_x, flat_y = x.reshape(-1), out.reshape(-1)
    threads.parallel_range(flat_x.size, lambda start, stop: _relu_numba(
        flat_x[start:stop], flat_y[start:stop]), flat_x.size)
    return out


def relu_backward(gy, y):
    """gx = gy where y > 0, else 0 (torch's threshold_backward: 0 where y <= 0), a new array
    of y's shape."""
    xp = get_array_module(y)
    if y.dtype.kind != "f" or gy.dtype != y.dtype or gy.shape != y.shape:
        return relu_backward_reference(gy, y)
    gx = xp.empty_like(y)
    if is_cupy(y):
        elementwise("T gy, T y", "T gx", _RELU_GRAD_SRC, "scratchnet_relu_grad")(gy, y, gx)
        return gx
    if not (gy.flags.c_contiguous and y.flags.c_contiguous):
        return relu_backward_reference(gy, y)
    flat_gy, flat_y, flat_gx = gy.reshape(-1), y.reshape(-1), gx.reshape(-1)
    threads.parallel_range(flat_y.size, lambda start, stop: _relu_grad_numba(
        flat_gy[start:stop], flat_y[start:stop], flat_gx[start:stop]), flat_y.size)
    return gx


def relu_forward_reference(x, out=None):
    """The same in array operations: where(x < 0, 0, x)."""
    y = get_array_module(x).where(x < 0, x.dtype.type(0), x)
    if out is None:
        return y
    out[...] = y
    return out


def relu_backward_reference(gy, y):
    """The same in array operations: where(y <= 0, 0, gy), in the result dtype of gy·y."""
    xp = get_array_module(y)
    dtype = xp.result_type(gy, y)
    return xp.where(y <= 0, dtype.type(0), gy).astype(dtype, copy=False)


# Each worker's chunk is a slice, looped over from 0: see threads.planes.
@numba.njit(cache=True, nogil=True)
def _relu_numba(x, y):
    for i in range(x.size):
        y[i] = 0 if x[i] < 0 else x[i]


@numba.njit(cache=True, nogil=True)
def _relu_grad_numba(gy, y, gx):
    for i in range(y.size):
        gx[i] = 0 if y[i] <= 0 else gy[i]


# One thread per element i: the loop bodies above.
_RELU_SRC = "y = x < (T)0 ? (T)0 : x;"
_RELU_GRAD_SRC = "gx = y <= (T)0 ? (T)0 : gy;"
