"""The SGD update (optim/sgd.py) as one pass over each parameter.

NumPy would evaluate ``b ← μ b + (1 − τ) g; θ ← θ − γ b`` as several passes with temporaries
as large as the parameter: for AlexNet's fc6 (151 MB) each temporary costs more in page
faults than the arithmetic, and the update took 40% of a training step. The Numba twin does
every element in one pass, in the parameter's dtype (as torch and NumPy do, the scalars are
cast to it first); its CUDA twin (``_SGD_SRC``, one thread per element, a CuPy
ElementwiseKernel run on the CPU by the tests' harness: kernels/_cupy.py) does the same on
the GPU. The reference is the plain array code, for the cases neither twin takes (a gradient
of another dtype).
"""
import numba
import numpy as np

from ..backend import get_array_module, is_cupy
from . import threads
from ._cupy import elementwise


def sgd_update(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """θ (``param``) and the momentum buffer b updated in place, by the formulas of optim.SGD.

    ``buf`` is None at the first step; returns the buffer (a new one at the first step with
    momentum), or None without momentum.
    """
    if is_cupy(param) and _same_float_dtype(param, grad):
        return _sgd_cupy(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov,
                         maximize)
    if not _can_fuse(param, grad):
        return sgd_update_reference(param, grad, buf, lr, momentum, dampening, weight_decay,
                                    nesterov, maximize)
    first = momentum != 0 and buf is None
    if first:
        buf = np.empty_like(param)
    cast = param.dtype.type
    stand_in = param if buf is None else buf       # without momentum the kernel never reads b
    param, grad, stand_in = param.reshape(-1), grad.reshape(-1), stand_in.reshape(-1)  # views
    threads.parallel_range(param.size, lambda start, stop: _sgd_numba(
        param[start:stop], grad[start:stop], stand_in[start:stop], cast(lr), cast(momentum),
        cast(1 - dampening), cast(weight_decay), nesterov, maximize, first), param.size)
    return buf


def sgd_update_reference(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov,
                         maximize):
    """The same update in array operations (NumPy or CuPy): several passes, temporaries."""
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * param
    if momentum != 0:
        if buf is None:
            buf = grad.copy()
        else:
            buf *= momentum
            buf += (1 - dampening) * grad
        grad = grad + momentum * buf if nesterov else buf
    param -= lr * grad
    return buf


def _can_fuse(param, grad):
    """The Numba twin runs on contiguous NumPy arrays of one float dtype."""
    return (type(param) is np.ndarray and type(grad) is np.ndarray
            and param.flags.c_contiguous and grad.flags.c_contiguous
            and _same_float_dtype(param, grad))


def _same_float_dtype(param, grad):
    return param.dtype == grad.dtype and param.dtype.kind == "f"


# Each worker's chunk is a slice, looped over from 0: see threads.planes.
@numba.njit(cache=True, nogil=True)
def _sgd_numba(param, grad, buf, lr, momentum, undamped, weight_decay, nesterov, maximize,
               first):
    for i in range(param.size):
        g = -grad[i] if maximize else grad[i]
        if weight_decay != 0:
            g = g + weight_decay * param[i]
        if momentum != 0:
            b = g if first else momentum * buf[i] + undamped * g
            buf[i] = b
            g = g + momentum * b if nesterov else b
        param[i] = param[i] - lr * g


# One thread per element i: the loop body of _sgd_numba. param is an output the thread also
# reads; buf is raw (indexed by i) so that without momentum any array can stand in for it.
_SGD_SRC = r"""
    T g = maximize ? -grad : grad;
    if (weight_decay != 0) g = g + weight_decay * param;
    if (momentum != 0) {
        const T b = first ? g : momentum * buf[i] + undamped * g;
        buf[i] = b;
        g = nesterov ? g + momentum * b : b;
    }
    param = param - lr * g;
"""


def _sgd_cupy(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov, maximize):
    first = momentum != 0 and buf is None
    if first:
        buf = get_array_module(param).empty_like(param)
    cast = param.dtype.type
    xp = get_array_module(param)
    kernel = elementwise("T grad, raw T buf, T lr, T momentum, T undamped, T weight_decay, "
                         "bool nesterov, bool maximize, bool first", "T param", _SGD_SRC,
                         "scratchnet_sgd")
    # raw buf is read at param's flat index: both C-contiguous (param is, as a Parameter)
    stand_in = param if buf is None else buf
    kernel(xp.ascontiguousarray(grad), stand_in, cast(lr), cast(momentum), cast(1 - dampening),
           cast(weight_decay), bool(nesterov), bool(maximize), first, param)
    return buf
