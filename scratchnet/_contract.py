"""What the engine requires of a Function, checked where forward and backward return.

``Function.__call__`` and ``run_backward`` compare what they get with what they expect in a
comparison or two; only when that fails do they call these, which either take the value as
it is meant (a CuPy array, a NumPy scalar as a 0-d array, a float gradient of another
precision cast to its input's, as torch casts) or raise an error naming the Function, the
input or output index, and what is wrong.
"""
import numpy as np

from . import backend
from .tensor import Tensor


def _is_array(a):
    return isinstance(a, np.ndarray) or backend.is_cupy(a)


def _describe(value):
    if isinstance(value, Tensor):
        return "a Tensor (Functions work on arrays: return its .data)"
    return f"a {type(value).__name__}"


def checked_output(fn, k, y):
    """Output ``k`` of ``fn.forward`` when it is not a plain NumPy array: a CuPy array passes,
    a NumPy scalar (what NumPy gives for a full reduction) becomes a 0-d array."""
    if isinstance(y, np.generic):
        return np.asarray(y)
    if not _is_array(y):
        raise RuntimeError(f"{type(fn).__name__}.forward returned {_describe(y)} as output "
                           f"{k}; forward must return an array or a tuple of arrays")
    return y


def one_per_input(fn, grads):
    """Backward's gradients, one per input: extra Nones at the end are dropped (torch allows
    them); any other count is an error."""
    n = len(fn.inputs)
    if len(grads) > n and all(g is None for g in grads[n:]):
        return grads[:n]
    raise RuntimeError(f"{type(fn).__name__}.backward returned {len(grads)} gradients for "
                       f"{n} inputs; return one per input of forward, None where no gradient "
                       "is needed")


def checked_gradient(fn, grads, x, g):
    """The gradient ``g`` among ``grads`` (what ``fn.backward`` returned) for the input ``x``
    (a leaf Tensor, an Edge, or None for a missing input) when its array type, shape or
    dtype differ from the input's: a NumPy scalar becomes a 0-d array and another float
    precision is cast (as torch casts); anything else is an error naming the Function and
    the input's index."""
    i = next(k for k, (a, b) in enumerate(zip(fn.inputs, grads)) if a is x and b is g)
    where = f"{type(fn).__name__}.backward returned"
    if x is None:
        raise RuntimeError(f"{where} a gradient for input {i}, which was None")
    if isinstance(g, np.generic):
        g = np.asarray(g)
    if not _is_array(g):
        raise RuntimeError(f"{where} {_describe(g)} as the gradient of input {i}; expected "
                           "an array of the input's shape, or None")
    if backend.device_of(g) != x.device:
        raise RuntimeError(f"{where} a gradient on {backend.device_of(g)} for input {i}, "
                           f"which is on {x.device}")
    if tuple(g.shape) != x.shape:
        raise RuntimeError(f"{where} a gradient of shape {tuple(g.shape)} for input {i}, "
                           f"which has shape {x.shape}")
    if g.dtype != x.dtype:
        if g.dtype.kind != x.dtype.kind:
            raise RuntimeError(f"{where} a {g.dtype} gradient for input {i}, which is "
                               f"{x.dtype}")
        g = g.astype(x.dtype)
    return g
