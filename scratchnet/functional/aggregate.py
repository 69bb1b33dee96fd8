"""More reductions: prod, logsumexp, norm, std, any, all; and the running sum cumsum.

As in reduction.py, a backward first gives ``gy`` back the reduced axes (size 1), then
broadcasts it against the input.
"""
import math

import numpy as np

from .. import backend
from ..function import Function
from ..tensor import Tensor
from ._operands import as_float, check_float, normalize_dim
from .arithmetic import sqrt
from .reduction import var, variance_args


def _axes(dim, ndim):
    if dim is None:
        return tuple(range(ndim))
    return tuple(sorted(dim)) if isinstance(dim, tuple) else (dim,)


def _keep(gy, shape, axes):
    """``gy`` reshaped to broadcast against an input of ``shape`` reduced over ``axes``."""
    return gy.reshape(tuple(1 if i in axes else n for i, n in enumerate(shape)))


def _reduced_shape(shape, axes, keepdim):
    return tuple(1 if i in axes else n for i, n in enumerate(shape) if keepdim or i not in axes)


class ProdFunction(Function):
    """Product along one axis (``axis``), or of every element when axis is None."""

    def __init__(self, axis, keepdim):
        self.axis, self.keepdim = axis, keepdim

    def forward(self, x):
        self.save_for_backward(x)
        axes = _axes(self.axis, x.ndim)
        return x.prod(axis=self.axis, keepdims=self.keepdim).reshape(
            _reduced_shape(x.shape, axes, self.keepdim))

    def backward(self, gy):
        (x,) = self.saved_tensors
        flat = x.reshape(-1) if self.axis is None else x
        axis = 0 if self.axis is None else self.axis
        others = _product_of_others(flat, axis).reshape(x.shape)
        return _keep(gy, x.shape, _axes(self.axis, x.ndim)) * others

    def composite_inputs(self):
        return (self.graph_input(0, self.saved_tensors[0]),)

    def composite(self, x):
        """The product as a chain of multiplications (exact where x has zeros, unlike
        exp Σ log): n − 1 ops along the axis, for create_graph only."""
        flat = x.reshape(-1) if self.axis is None else x.transpose(0, self.axis)
        y = flat[0]
        for k in range(1, flat.shape[0]):
            y = y * flat[k]
        if self.axis is not None and y.ndim:
            y = y.unsqueeze(0).transpose(0, self.axis).squeeze(self.axis)
        return y.reshape(self._output_meta[0][0])


def _product_of_others(x, axis):
    """For each element, the product of the others along ``axis``: the running product of
    the elements before it times that of the elements after it. Exact when x holds zeros,
    where y / x would give nan."""
    xp = backend.get_array_module(x)
    n = x.shape[axis]
    if n == 0:
        return x.copy()

    def shifted_running_product(a):          # [1, a0, a0·a1, ..., a0···a(n−2)] along axis
        head = xp.ones_like(xp.take(a, [0], axis=axis))
        return xp.cumprod(xp.concatenate([head, xp.take(a, range(n - 1), axis=axis)],
                                         axis=axis), axis=axis)
    before = shifted_running_product(x)
    after = xp.flip(shifted_running_product(xp.flip(x, axis)), axis)
    return before * after


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """y = Π x along ``dim`` (one int), or over every element. Backward: gx_i = gy · Π_{j≠i}
    x_j, computed from running products (so zeros in x are handled exactly)."""
    if dtype is not None:
        input = input.to(dtype)
    if dim is not None:
        dim = normalize_dim("prod", dim, input.ndim)
    return ProdFunction(dim, keepdim)(input)


class CumsumFunction(Function):
    linear = True  # forward is its own Jacobian map (higher_order.py)

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        return backend.get_array_module(x).cumsum(x, axis=self.axis)

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        # y_j = Σ_{i≤j} x_i, so gx_i = Σ_{j≥i} gy_j: a running sum from the end
        return xp.flip(xp.cumsum(xp.flip(gy, self.axis), axis=self.axis), self.axis)


def cumsum(input, dim, *, dtype=None):
    """y_j = Σ_{i≤j} x_i along ``dim``. Backward: gx_i = Σ_{j≥i} gy_j (a reversed cumsum).
    Integer and bool inputs give int64, as torch."""
    if dtype is not None:
        input = input.to(dtype)
    elif input.dtype.kind in "biu":
        input = input.long()
    if input.ndim == 0:
        return input.reshape(())
    return CumsumFunction(normalize_dim("cumsum", dim, input.ndim))(input)


class LogSumExpFunction(Function):
    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        xp = backend.get_array_module(x)
        # torch's rule: shift by the max, but by 0 where the max is ±inf, so that all −inf
        # gives −inf (not nan) and +inf gives +inf
        m = x.max(axis=self.axes, keepdims=True) if x.size else xp.zeros(
            _reduced_shape(x.shape, self.axes, True), x.dtype)
        m = xp.where(xp.isinf(m), 0, m).astype(x.dtype)
        with np.errstate(divide="ignore"):            # log 0 = −inf: a row of all −inf
            y = xp.log(xp.exp(x - m).sum(axis=self.axes, keepdims=True)) + m
        self.save_for_backward(x, y)
        return y if self.keepdim else y.reshape(_reduced_shape(x.shape, self.axes, False))

    def backward(self, gy):
        x, y = self.saved_tensors
        xp = backend.get_array_module(gy)
        return _keep(gy, x.shape, self.axes) * xp.exp(x - y)       # gy · softmax(x)

    def backward_graph(self, gy):
        x, y = self.saved_tensors
        X, Y = self.graph_input(0, x), self.graph_output(0, y.reshape(self._output_meta[0][0]))
        return _keep(gy, x.shape, self.axes) * (X - _keep(Y, x.shape, self.axes)).exp()


def logsumexp(input, dim, keepdim=False):
    """y = log Σ exp(x) over ``dim`` (an int or tuple), computed as m + log Σ exp(x − m) with
    m the max (torch's rule: m = 0 where the max is infinite). Backward: gx = gy·softmax(x)
    = gy·exp(x − y)."""
    input = as_float(input)
    dim = normalize_dim("logsumexp", dim, input.ndim)
    return LogSumExpFunction(_axes(dim, input.ndim), keepdim)(input)


class NormFunction(Function):
    """The p-norm (Σ |x|^p)^(1/p) over ``axes``; p may be inf, −inf or 0."""

    def __init__(self, p, axes, keepdim):
        self.p, self.axes, self.keepdim = p, axes, keepdim

    def forward(self, x):
        xp = backend.get_array_module(x)
        a, p = xp.abs(x), self.p
        if p == math.inf:
            y = a.max(axis=self.axes, keepdims=True)
        elif p == -math.inf:
            y = a.min(axis=self.axes, keepdims=True)
        elif p == 0:
            y = (x != 0).sum(axis=self.axes, keepdims=True).astype(x.dtype)
        elif p == 1:
            y = a.sum(axis=self.axes, keepdims=True)
        elif p == 2:
            y = xp.sqrt((x * x).sum(axis=self.axes, keepdims=True))
        else:
            y = (a ** p).sum(axis=self.axes, keepdims=True) ** (1 / p)
        self.save_for_backward(x, y)
        return y if self.keepdim else y.reshape(_reduced_shape(x.shape, self.axes, False))

    def backward(self, gy):
        x, y = self.saved_tensors
        xp = backend.get_array_module(gy)
        gy, p = _keep(gy, x.shape, self.axes), self.p
        zero = gy.dtype.type(0)
        if p == 0:
            return xp.zeros_like(x)
        if p == 1:
            return gy * xp.sign(x)
        if abs(p) == math.inf:
            # the elements at the extreme share the gradient evenly, each with x's sign
            winners = xp.abs(x) == y
            return gy * xp.sign(x) * winners / winners.sum(axis=self.axes, keepdims=True)
        # ∂y/∂x = sign(x)·|x|^(p−1) / y^(p−1); torch's rule: 0 where the norm is 0
        scale = xp.where(y == 0, zero, gy / xp.where(y == 0, 1, y) ** (p - 1))
        if p == 2:
            return x * scale
        return xp.sign(x) * xp.abs(x) ** (p - 1) * scale

    def composite_inputs(self):
        return (self.graph_input(0, self.saved_tensors[0]),)

    def composite(self, x):
        """The norm with scratchnet ops (create_graph; higher_order.py)."""
        a, p = x.abs(), self.p
        if p == 0:
            return Tensor((x.data != 0).sum(axis=self.axes, keepdims=self.keepdim)
                          .astype(x.dtype))
        if abs(p) == math.inf:
            from .selection import amax, amin
            return (amax if p > 0 else amin)(a, self.axes, self.keepdim)
        if p == 2:
            return (x * x).sum(dim=self.axes, keepdim=self.keepdim).sqrt()
        return (a ** p).sum(dim=self.axes, keepdim=self.keepdim) ** (1 / p)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """The p-norm over ``dim`` (all elements when None), as ``torch.norm``: p = "fro" or 2
    (Euclidean), 1, inf (max |x|), −inf (min |x|), 0 (count of non-zeros) or any other number.

    Backward: gx = gy·sign(x)·|x|^(p−1) / y^(p−1) (x·gy / y for p = 2, 0 where y = 0); for
    ±inf gy·sign(x) shared among the elements at the extreme; 0 for p = 0.
    """
    if dtype is not None:
        input = input.to(dtype)
    check_float("norm", input)
    if p == "fro":
        p = 2
    elif isinstance(p, str):
        raise ValueError(f"norm: p={p!r} is not supported; expected 'fro' or a number")
    dim = normalize_dim("norm", dim, input.ndim)
    return NormFunction(float(p), _axes(dim, input.ndim), keepdim)(input)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """y = √var(x) over ``dim``, with var's arguments. Backward (sqrt after var):
    gx = gy·(x − mean) / ((n − correction)·y)."""
    dim, correction = variance_args("std", dim, unbiased, correction)
    return sqrt(var(input, dim, correction=correction, keepdim=keepdim))


def _truth(kind, input, dim, keepdim):
    xp = backend.get_array_module(input.data)
    reduce = xp.any if kind == "any" else xp.all
    if dim is not None:
        dim = normalize_dim(kind, dim, input.ndim)
    return Tensor(xp.asarray(reduce(input.data != 0, axis=dim, keepdims=keepdim)))


def any(input, dim=None, keepdim=False):
    """True where some element over ``dim`` (all when None) is non-zero; bool, no gradient."""
    return _truth("any", input, dim, keepdim)


def all(input, dim=None, keepdim=False):
    """True where every element over ``dim`` is non-zero; bool, no gradient."""
    return _truth("all", input, dim, keepdim)
