"""Gradient clipping, as ``torch.nn.utils``: rescale or clamp the parameters' ``.grad`` in place.

All of it works on the gradient arrays directly, so no graph is ever recorded (torch wraps the
same functions in ``no_grad``). ``foreach`` picks one of torch's two implementations of the
same formulas; scratchnet has one, so the argument is accepted and ignored.
"""
import types
import warnings

import numpy as np

from ... import backend
from ...tensor import Tensor


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    r"""The p-norm of ``tensors`` (one Tensor or an iterable) viewed as one concatenated vector:
    ‖(‖t_1‖_p, ..., ‖t_n‖_p)‖_p, with p = ``norm_type`` (``inf`` gives max |x|).

    Returns a 0-d Tensor on the first tensor's device, in the dtype the per-tensor norms
    promote to (float32 zero for no tensors, as torch). ``error_if_nonfinite`` raises a
    RuntimeError when the norm is NaN or infinite.
    """
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return Tensor(np.zeros((), dtype=np.float32))
    device = tensors[0].device
    norms = [backend.to_device(_vector_norm(t.data, norm_type), device) for t in tensors]
    xp = backend.get_array_module(norms[0])
    total = _vector_norm(xp.stack(norms), norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} for gradients from "
            "`parameters` is non-finite, so it cannot be clipped. To disable this error and "
            "scale the gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
    return Tensor(xp.asarray(total))


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    r"""Scale every ``.grad`` of ``parameters`` in place by min(max_norm / (total_norm + 1e-6), 1),
    so the gradients shrink when their norm exceeds ``max_norm`` and are never enlarged.
    ``total_norm`` is a Tensor (or array) such as ``get_total_norm`` returns."""
    parameters = [parameters] if isinstance(parameters, Tensor) else parameters
    grads = [p.grad.data for p in parameters if p.grad is not None]
    if not grads:
        return
    total = total_norm.data if isinstance(total_norm, Tensor) else total_norm
    xp = backend.get_array_module(total)
    coef = xp.minimum(float(max_norm) / (total + 1e-6), 1.0)  # a NaN norm stays NaN, as torch
    for g in grads:
        # the factor is cast to each gradient's dtype first, as torch's mul_ does
        g *= backend.to_device(xp.asarray(coef), backend.device_of(g)).astype(g.dtype)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    r"""Rescale the gradients of ``parameters`` (one Tensor or an iterable) so that their total
    p-norm (``get_total_norm``, p = ``norm_type``) is at most ``max_norm``:
    g ← g · min(max_norm / (‖g‖_p + 1e-6), 1). Parameters without ``.grad`` are skipped.

    Returns the total norm *before* clipping, a 0-d Tensor, as ``torch.nn.utils.clip_grad_norm_``.
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if is_generator and not parameters:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.",
                          stacklevel=2)
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_value_(parameters, clip_value, foreach=None):
    r"""Clamp every element of the gradients of ``parameters`` (one Tensor or an iterable) to
    [-clip_value, clip_value], in place; parameters without ``.grad`` are skipped."""
    parameters = [parameters] if isinstance(parameters, Tensor) else parameters
    clip_value = float(clip_value)
    for p in parameters:
        if p.grad is not None:
            g = p.grad.data
            backend.get_array_module(g).clip(g, -clip_value, clip_value, out=g)


def _vector_norm(array, norm_type):
    """‖array‖_p over all its elements, in its own dtype (torch.linalg.vector_norm): NumPy's
    rules for p = inf, -inf and 0 (max |x|, min |x|, count of non-zeros) are torch's."""
    xp = backend.get_array_module(array)
    return xp.linalg.norm(array.ravel(), norm_type)
