"""The SGD update (optim/sgd.py) as one pass over each parameter.

NumPy would evaluate ``b ← μ b + (1 − τ) g; θ ← θ − γ b`` as several passes with temporaries
as large as the parameter: for AlexNet's fc6 (151 MB) each temporary costs more in page
faults than the arithmetic, and the update took 40% of a training step. The Numba twin does
every element in one pass, in the parameter's dtype (as torch and NumPy do, the scalars are
cast to it first). Its reference is the plain array code, which also serves CuPy.
"""
import numba
import numpy as np

from . import threads


def sgd_update(param, grad, buf, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """θ (``param``) and the momentum buffer b updated in place, by the formulas of optim.SGD.

    ``buf`` is None at the first step; returns the buffer (a new one at the first step with
    momentum), or None without momentum.
    """
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
            and param.dtype == grad.dtype and param.dtype.kind == "f")


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
