"""Building blocks that several update rules share, on raw NumPy/CuPy arrays.

Each follows the exact sequence of torch's single-tensor (``foreach=False``) implementation,
so that rounding agrees with torch's up to its fused multiply-adds.
"""
import numpy as np


def new_step_counter():
    """``state['step']``: a float32 0-d array on the CPU, as torch keeps it (not a Python int),
    so that a state_dict holds the same type as torch's."""
    return np.array(0.0, dtype=np.float32)     # host: the step counter lives on the CPU


def count_step(state):
    """Advance ``state['step']`` in place and return the new count as a Python float."""
    state["step"] += 1
    return float(state["step"])


def effective_grad(param, grad, maximize, weight_decay):
    """g ← -g if maximize, then g ← g + λ θ if λ = weight_decay ≠ 0 (the gradient of the L2
    penalty λ/2 ‖θ‖²). Returns a new array when it changes anything: ``.grad`` stays as is."""
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * param
    return grad


def ema_square_(average, grad, decay):
    """average ← decay · average + (1 - decay) · g², in place (torch's
    ``mul_(decay).addcmul_(g, g, value=1 - decay)``)."""
    average *= decay
    average += (1 - decay) * grad * grad


def lerp_(start, end, weight):
    """start ← start + weight (end - start), in place, with torch's two formulas: the one
    anchored at ``end`` is used for weight >= 0.5, where it rounds better."""
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)
