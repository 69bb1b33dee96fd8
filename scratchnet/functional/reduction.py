"""Reductions: sum, mean, var, max, min, argmax, argmin.

Backward of a reduction broadcasts ``gy`` back over the reduced axes; ``keep`` re-inserts
those axes (size 1) when ``keepdim=False`` removed them.
"""
import warnings
from collections import namedtuple

from .. import backend
from ..function import Function
from ..tensor import Tensor
from . import selection
from ._operands import check_tensor, normalize_dim, torch_name

# What torch.max(x, dim) returns: a (values, indices) pair with names.
MaxMin = namedtuple("MaxMin", ["values", "indices"])


def _axes(dim, ndim):
    """The reduced axes as a tuple, every axis when dim is None or () (torch 2.13 reduces an
    empty dim list over everything)."""
    if dim is None or dim == ():
        return tuple(range(ndim))
    return dim if isinstance(dim, tuple) else (dim,)


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def _keep(gy, axes, keepdim):
    """Give ``gy`` back its reduced axes (size 1) so that it broadcasts against the input."""
    if keepdim:
        return gy
    shape = list(gy.shape)
    for a in sorted(axes):
        shape.insert(a, 1)
    return gy.reshape(shape)


class SumFunction(Function):
    linear = True  # forward is its own Jacobian map (higher_order.py)

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        self.x_shape = x.shape
        return x.sum(axis=self.axes, keepdims=self.keepdim)

    def backward(self, gy):
        gx = backend.get_array_module(gy).empty(self.x_shape, gy.dtype)
        gx[...] = _keep(gy, self.axes, self.keepdim)       # broadcast over the summed axes
        return gx


def sum(input, dim=None, keepdim=False):
    """y = Σ x over ``dim`` (all elements when None). Backward: gx = gy broadcast over dim."""
    dim = normalize_dim("sum", dim, input.ndim)
    return SumFunction(_axes(dim, input.ndim), keepdim)(input)


def mean(input, dim=None, keepdim=False):
    """y = Σ x / n over ``dim``. Backward: gx = gy / n broadcast over dim. Floating point
    input only, as torch (an integer mean has no dtype to round to)."""
    if input.dtype.kind != "f":
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {torch_name(input.dtype)}")
    dim = normalize_dim("mean", dim, input.ndim)
    axes = _axes(dim, input.ndim)
    return sum(input, axes, keepdim) / _count(input.shape, axes)


class VarFunction(Function):
    def __init__(self, axes, correction, keepdim, every_dim):
        self.axes, self.correction, self.keepdim = axes, correction, keepdim
        self.every_dim = every_dim

    def forward(self, x):
        xp = backend.get_array_module(x)
        n = _count(x.shape, self.axes)
        self.dof = n - self.correction
        # n = 0 gives nan, dof <= 0 inf: IEEE division, as torch
        centred = x - x.sum(axis=self.axes, keepdims=True) / xp.asarray(n, x.dtype)
        self.save_for_backward(centred)
        squares = (centred * centred).sum(axis=self.axes, keepdims=self.keepdim)
        return squares / xp.maximum(xp.asarray(self.dof, x.dtype), 0)

    def backward(self, gy):
        (centred,) = self.saved_tensors
        xp = backend.get_array_module(gy)
        gy = _keep(gy, self.axes, self.keepdim)
        if self.every_dim and self.dof <= 0:
            # torch's rule when 2 / dof is infinite: inf·gy, and nan where x equals the mean
            return gy * xp.where(centred == 0, xp.nan, xp.inf).astype(centred.dtype)
        # d/dx_i Σ(x_j − mean)² = 2(x_i − mean): the mean's own dependence on x_i sums to 0.
        return gy * (xp.asarray(2, gy.dtype) / xp.asarray(self.dof, gy.dtype)) * centred

    def backward_graph(self, gy):
        """gx = gy·2/dof·(x − mean(x)) with scratchnet ops. x itself is not saved, but the
        formula is unchanged by shifting x, so the saved x − mean stands in for it."""
        (centred,) = self.saved_tensors
        X = self.graph_input(0, centred)
        c = X - X.mean(dim=self.axes, keepdim=True)
        gy = _keep(gy, self.axes, self.keepdim)
        return gy * (2.0 / self.dof) * c


def variance_args(op, dim, unbiased, correction):
    """torch's overloads of var and std, as (dim, correction): ``var(dim, unbiased,
    keepdim)``, ``var(unbiased)`` and ``var(dim, *, correction, keepdim)``."""
    if isinstance(dim, bool):                 # var(True): the old (unbiased) form
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}: pass either unbiased or correction, not both")
    if unbiased is not None:
        return dim, int(bool(unbiased))
    return dim, 1 if correction is None else correction


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """y = Σ (x − mean)² / (n − correction) over ``dim``; correction=1 is Bessel's (torch's
    default, ``unbiased=True``). torch's call forms all work: ``var(dim, unbiased, keepdim)``,
    ``var(unbiased)``, ``var(dim, correction=c)``. Backward: gx = gy · 2(x − mean) / (n −
    correction).

    As torch, n ≤ correction gives inf (nan where every x equals the mean) with a warning; the
    gradient is then inf·gy (nan where x is the mean) over all elements, and 2/(n − correction)
    as written (negative or infinite) over a given ``dim``."""
    check_tensor("var", input)
    if input.dtype.kind != "f":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    dim, correction = variance_args("var", dim, unbiased, correction)
    dim = normalize_dim("var", dim, input.ndim)
    axes = _axes(dim, input.ndim)
    kept = _count(input.shape, [d for d in range(input.ndim) if d not in axes])
    if input.numel() // (kept or 1) - correction <= 0:  # torch's test: numel in / numel out
        warnings.warn("var(): degrees of freedom is <= 0. Correction should be strictly less "
                      "than the reduction factor (input numel divided by output numel).",
                      UserWarning, stacklevel=2)
    return VarFunction(axes, correction, keepdim, dim is None)(input)


class ExtremumFunction(Function):
    """max or min over every element; ties share the gradient equally (torch's rule)."""

    def __init__(self, kind):
        self.kind = kind

    def forward(self, x):
        xp = backend.get_array_module(x)
        y = x.max() if self.kind == "max" else x.min()
        # NaN wins (and propagates); several NaNs share the gradient as ties do, as in torch
        self.save_for_backward(xp.isnan(x) if xp.isnan(y) else x == y)
        return y

    def backward(self, gy):
        (winners,) = self.saved_tensors
        return winners * (gy / winners.sum())

    def jvp(self, dx):
        """J·dx: the mean of dx over the tied winners (piecewise linear)."""
        (winners,) = self.saved_tensors
        return (winners * dx).sum() / winners.sum()


class ExtremumDimFunction(Function):
    """max or min along one dim, returning (values, indices); the gradient goes to the index."""

    def __init__(self, kind, dim, keepdim):
        self.kind, self.dim, self.keepdim = kind, dim, keepdim

    def forward(self, x):
        xp = backend.get_array_module(x)
        arg = xp.argmax if self.kind == "max" else xp.argmin
        indices = xp.expand_dims(arg(x, axis=self.dim), self.dim)  # first extremum on ties
        values = xp.take_along_axis(x, indices, axis=self.dim)
        self.x_shape = x.shape
        self.save_for_backward(indices)
        if not self.keepdim:
            values, indices = values.squeeze(self.dim), indices.squeeze(self.dim)
        return values, indices.astype("int64")

    def backward(self, gy, g_indices):
        (indices,) = self.saved_tensors
        xp = backend.get_array_module(gy)
        gx = xp.zeros(self.x_shape, gy.dtype)
        xp.put_along_axis(gx, indices, _keep(gy, (self.dim,), self.keepdim), axis=self.dim)
        return gx

    def jvp(self, dx):
        """J·dx: dx at the saved indices (piecewise linear); the indices get none."""
        (indices,) = self.saved_tensors
        dy = backend.get_array_module(dx).take_along_axis(dx, indices, axis=self.dim)
        return (dy if self.keepdim else dy.squeeze(self.dim)), None


def _extremum(kind, input, dim, keepdim):
    check_tensor(kind, input)
    if isinstance(dim, Tensor):              # max(a, b): torch's elementwise form
        return (selection.maximum if kind == "max" else selection.minimum)(input, dim)
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError(f"{kind}(): expected a non-empty tensor, got shape "
                               f"{input.shape}; specify the reduction dim with the 'dim' "
                               "argument (torch: Expected reduction dim to be specified for "
                               "input.numel() == 0)")
        return ExtremumFunction(kind)(input)
    dim = normalize_dim(kind, dim, input.ndim)
    if input.ndim == 0:  # a 0-d tensor is its own extremum along its one "dim", at index 0
        values, indices = _extremum(kind, input.reshape((1,)), 0, False)
        return MaxMin(values.reshape(()), indices.reshape(()))
    if input.shape[dim] == 0:
        raise IndexError(f"{kind}(): Expected reduction dim {dim} to have non-zero size "
                         f"(input of shape {input.shape}).")
    return MaxMin(*ExtremumDimFunction(kind, dim, keepdim)(input))


def max(input, dim=None, keepdim=False):
    """``max(x)``: the largest element; backward splits gy evenly among tied maxima.
    ``max(x, dim)``: ``(values, indices)``; backward sends gy to the returned (first) index.
    ``max(x, other)`` with a Tensor: ``maximum(x, other)``, as torch."""
    return _extremum("max", input, dim, keepdim)


def min(input, dim=None, keepdim=False):
    """As ``max``, for the smallest element."""
    return _extremum("min", input, dim, keepdim)


def _arg(kind, input, dim, keepdim):
    check_tensor(kind, input)
    xp = backend.get_array_module(input.data)
    fn = xp.argmax if kind == "argmax" else xp.argmin
    if dim is None:
        if input.numel() == 0:
            raise IndexError(f"{kind}(): Expected reduction dim to be specified for "
                             f"input.numel() == 0 (input of shape {input.shape}).")
        out = fn(input.data.reshape(-1))
        return Tensor(out.reshape((1,) * input.ndim) if keepdim else out).long()
    dim = normalize_dim(kind, dim, input.ndim)
    if input.ndim == 0:
        return Tensor(xp.zeros((), "int64"))
    if input.shape[dim] == 0:
        raise IndexError(f"{kind}(): Expected reduction dim {dim} to have non-zero size "
                         f"(input of shape {input.shape}).")
    out = fn(input.data, axis=dim)
    return Tensor(xp.expand_dims(out, dim) if keepdim else out).long()


def argmax(input, dim=None, keepdim=False):
    """Index of the largest element (of the flattened tensor when dim is None); no gradient."""
    return _arg("argmax", input, dim, keepdim)


def argmin(input, dim=None, keepdim=False):
    return _arg("argmin", input, dim, keepdim)
