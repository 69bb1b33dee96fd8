"""Ops that pick one of their inputs per element: where, maximum, minimum, clamp with tensor
bounds, masked_fill, and the reductions amax, amin.

The gradient of a picked element goes to whichever input supplied it; where two inputs tie
(maximum, minimum) or several elements tie for the extremum (amax, amin) it is shared evenly,
as torch does. Broadcast inputs get their gradient summed back (``unbroadcast``).
"""
import builtins
from collections import namedtuple

import numpy as np

from .. import backend
from ..function import Function
from ..tensor import Tensor
from ._operands import as_operands, check_tensor, normalize_dim, promote, unbroadcast
from .conversion import cast


class WhereFunction(Function):
    """Inputs: condition c (bool, no gradient), a, b."""
    linear = True  # forward is its own Jacobian map (higher_order.py)


    def forward(self, c, a, b):
        self.save_for_backward(c)
        self.shapes = a.shape, b.shape
        return backend.get_array_module(a).where(c, a, b)

    def backward(self, gy):
        (c,) = self.saved_tensors
        zero = gy.dtype.type(0)
        xp = backend.get_array_module(gy)
        ga = unbroadcast(xp.where(c, gy, zero), self.shapes[0]) if self.needs_input_grad[1] \
            else None
        gb = unbroadcast(xp.where(c, zero, gy), self.shapes[1]) if self.needs_input_grad[2] \
            else None
        return None, ga, gb


def where(condition, input=None, other=None):
    """y = input where condition else other (all three broadcast), as ``torch.where``.

    Backward: ga = gy where condition (0 elsewhere), gb = gy elsewhere, each summed back to
    its input's shape. ``where(condition)`` alone is ``nonzero(as_tuple=True)``: one int64
    tensor of indices per dim.
    """
    _check_bool("where", condition)
    xp = backend.get_array_module(condition.data)
    if input is None and other is None:
        return tuple(Tensor(i.astype(np.int64)) for i in xp.nonzero(condition.data))
    if input is None or other is None:
        raise TypeError("where: expected where(condition) or where(condition, input, other)")
    a, b = as_operands("where", input, other)
    try:
        np.broadcast_shapes(condition.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(f"where: condition {condition.shape}, input {a.shape} and other "
                         f"{b.shape} cannot be broadcast together") from None
    return WhereFunction()(condition, a, b)


class MaximumFunction(Function):
    """Elementwise max (``kind="max"``) or min of a and b; NaN wins, as in torch."""

    def __init__(self, kind):
        self.kind = kind

    def forward(self, a, b):
        xp = backend.get_array_module(a)
        self.save_for_backward(a, b)
        return xp.maximum(a, b) if self.kind == "max" else xp.minimum(a, b)

    def backward(self, gy):
        a, b = self.saved_tensors
        xp = backend.get_array_module(gy)
        zero = gy.dtype.type(0)
        shared = xp.where(a == b, gy * gy.dtype.type(0.5), gy)   # a tie: half to each
        a_loses = a < b if self.kind == "max" else a > b
        b_loses = a > b if self.kind == "max" else a < b
        # torch's rule: an input gets gy unless it lost, so with a NaN (no order) both do
        ga = unbroadcast(xp.where(a_loses, zero, shared), a.shape) if self.needs_input_grad[0] \
            else None
        gb = unbroadcast(xp.where(b_loses, zero, shared), b.shape) if self.needs_input_grad[1] \
            else None
        return ga, gb

    def jvp(self, da, db):
        """J·d: the winner's tangent (the mean of both on a tie): piecewise linear."""
        a, b = self.saved_tensors
        xp = backend.get_array_module(a)
        half = xp.where(a == b, 0.5, 1.0).astype(a.dtype)
        a_loses = a < b if self.kind == "max" else a > b
        b_loses = a > b if self.kind == "max" else a < b
        dy = 0
        if da is not None:
            dy = dy + xp.where(a_loses, 0, half) * da
        if db is not None:
            dy = dy + xp.where(b_loses, 0, half) * db
        return dy


def maximum(input, other):
    """y = max(a, b) elementwise (broadcast). Backward: gy goes to the larger input, half to
    each where they are equal, all of it to both where one is NaN (torch's rule)."""
    _check_tensors("maximum", input, other)
    return MaximumFunction("max")(*as_operands("maximum", input, other))


def minimum(input, other):
    """y = min(a, b) elementwise. Backward: gy to the smaller input, half to each on a tie."""
    _check_tensors("minimum", input, other)
    return MaximumFunction("min")(*as_operands("minimum", input, other))


class ClampTensorFunction(Function):
    """Inputs: x, low or None, high or None (arrays already broadcastable)."""

    def forward(self, x, low, high):
        xp = backend.get_array_module(x)
        self.save_for_backward(x, low, high)
        y = x if low is None else xp.maximum(x, low)
        return y if high is None else xp.minimum(y, high)

    def backward(self, gy):
        x, low, high = self.saved_tensors
        zero = gy.dtype.type(0)
        xp = backend.get_array_module(gy)
        inside = True
        if low is not None:
            inside = inside & (x >= low)
        if high is not None:
            inside = inside & (x <= high)
        gx = unbroadcast(xp.where(inside, gy, zero), x.shape) if self.needs_input_grad[0] \
            else None
        g_low = g_high = None
        if self.needs_input_grad[1]:
            # low is the output where it exceeds x, unless high (lower still) overrides it
            picked = (x < low) if high is None else (x < low) & (low < high)
            g_low = unbroadcast(xp.where(picked, gy, zero), low.shape)
        if self.needs_input_grad[2]:
            picked = (x > high) if low is None else (x > high) | (high < low)
            g_high = unbroadcast(xp.where(picked, gy, zero), high.shape)
        return gx, g_low, g_high

    def jvp(self, dx, d_low, d_high):
        """J·d: the tangent of whichever of x, low, high is the output (piecewise linear)."""
        x, low, high = self.saved_tensors
        inside = True
        if low is not None:
            inside = inside & (x >= low)
        if high is not None:
            inside = inside & (x <= high)
        dy = 0 if dx is None else inside * dx
        if d_low is not None:
            dy = dy + ((x < low) if high is None else (x < low) & (low < high)) * d_low
        if d_high is not None:
            dy = dy + ((x > high) if low is None else (x > high) | (high < low)) * d_high
        return dy


def clamp_tensor(input, min=None, max=None):
    """``clamp`` with Tensor bounds: y = min(max(x, low), high), all three broadcast (high
    wins where high < low). Backward: gx = gy where low ≤ x ≤ high; g_low = gy where low
    was picked (x < low < high); g_high = gy where high was picked (x > high, or high < low)."""
    if any(b is not None and not isinstance(b, Tensor) for b in (min, max)):
        kinds = " and ".join(type(b).__name__ for b in (min, max))
        raise TypeError(f"clamp: min and max must both be Tensors (or None) when one is, as "
                        f"in torch; got {kinds}")
    low, high = min, max
    tensors = [t for t in (input, low, high) if t is not None]
    try:
        np.broadcast_shapes(*(t.shape for t in tensors))
    except ValueError:
        raise ValueError(f"clamp: input {input.shape} and bounds "
                         + ", ".join(str(t.shape) for t in tensors[1:])
                         + " cannot be broadcast together") from None
    ref = tensors[0]
    for t in tensors[1:]:
        ref = _DtypeOf(promote(ref, t), builtins.max(ref.ndim, t.ndim))
    x, low, high = (None if t is None else cast(t, ref.dtype) for t in (input, low, high))
    return ClampTensorFunction()(x, low, high)


# what ``promote`` reads of a tensor: its dtype and number of dims
_DtypeOf = namedtuple("_DtypeOf", ["dtype", "ndim"])


class MaskedFillFunction(Function):
    """Inputs: x, value (a 0-d array) or None, mask (bool, broadcast to x, no gradient)."""

    def __init__(self, number):
        self.number = number        # the fill value when it is a Python number

    def forward(self, x, value, mask):
        xp = backend.get_array_module(x)
        self.save_for_backward(mask)
        fill = x.dtype.type(self.number) if value is None else value.astype(x.dtype)
        return xp.where(mask, fill, x)

    def backward(self, gy):
        (mask,) = self.saved_tensors
        xp = backend.get_array_module(gy)
        zero = gy.dtype.type(0)
        gx = xp.where(mask, zero, gy) if self.needs_input_grad[0] else None
        g_value = None
        if self.needs_input_grad[1]:
            g_value = xp.where(mask, gy, zero).sum().reshape(())
        return gx, g_value, None

    def jvp(self, dx, d_value, _):
        """J·d: dv where the mask is set, dx elsewhere."""
        (mask,) = self.saved_tensors
        xp = backend.get_array_module(mask)
        return xp.where(mask, 0 if d_value is None else d_value, 0 if dx is None else dx)


def masked_fill(input, mask, value):
    """y = value where mask else x; ``mask`` (bool) broadcasts to x's shape, ``value`` is a
    number or a 0-d tensor. Backward: gx = gy where not mask; g_value = Σ gy over the mask."""
    _check_bool("masked_fill", mask)
    try:
        if np.broadcast_shapes(mask.shape, input.shape) != input.shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"masked_fill: mask of shape {mask.shape} does not broadcast to the "
                         f"input's shape {input.shape}") from None
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"masked_fill only supports a 0-dimensional value tensor, but got "
                             f"tensor with {value.ndim} dimension(s)")
        return MaskedFillFunction(None)(input, value, mask)
    return MaskedFillFunction(value)(input, None, mask)


class AmaxFunction(Function):
    """amax (kind "max") or amin over ``axes``; ties share the gradient evenly."""

    def __init__(self, kind, axes, keepdim):
        self.kind, self.axes, self.keepdim = kind, axes, keepdim

    def forward(self, x):
        reduce = x.max if self.kind == "max" else x.min
        y = reduce(axis=self.axes, keepdims=True)
        winners = x == y                                   # (x's shape), the tied extrema
        self.save_for_backward(winners)
        return y if self.keepdim else y.reshape(_drop(y.shape, self.axes))

    def backward(self, gy):
        (winners,) = self.saved_tensors
        count = winners.sum(axis=self.axes, keepdims=True)
        gy = gy.reshape(_keep(winners.shape, self.axes))   # the reduced axes back, size 1
        return winners * (gy / count).astype(gy.dtype)

    def jvp(self, dx):
        """J·dx: the mean of dx over each reduction's tied extrema (piecewise linear)."""
        (winners,) = self.saved_tensors
        count = winners.sum(axis=self.axes, keepdims=True)
        return (winners * dx).sum(axis=self.axes, keepdims=True) / count


def _drop(shape, axes):
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _keep(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _amax(kind, input, dim, keepdim):
    op = "a" + kind
    check_tensor(op, input)
    dims = () if dim is None else dim
    dims = normalize_dim(op, tuple(dims) if isinstance(dims, (tuple, list)) else (dims,),
                         input.ndim)
    axes = tuple(sorted(set(dims))) or tuple(range(input.ndim))
    if any(input.shape[a] == 0 for a in axes) or (input.numel() == 0 and not dims):
        raise IndexError(f"{op}(): expected reduction dim {axes} to have non-zero size, "
                         f"got shape {input.shape}")
    return AmaxFunction(kind, axes, keepdim)(input)


def amax(input, dim=(), keepdim=False):
    """The largest value over ``dim`` (an int or tuple; () or None: every dim), values only.
    Backward: gy shared evenly among the elements equal to the maximum (torch's amax rule,
    unlike ``max(x, dim)``, which sends it to one index)."""
    return _amax("max", input, dim, keepdim)


def amin(input, dim=(), keepdim=False):
    """As ``amax``, for the smallest value."""
    return _amax("min", input, dim, keepdim)


def _check_bool(op, mask):
    if not isinstance(mask, Tensor) or mask.dtype != np.bool_:
        shown = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise TypeError(f"{op}: expected a bool tensor as condition/mask, got {shown}")


def _check_tensors(op, *tensors):
    check_tensor(op, *tensors)
