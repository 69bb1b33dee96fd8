"""Sorting: sort, argsort, topk.

Each sorts stably along one dim (equal values keep their order, in both directions) and
returns the sorted values with the int64 positions they came from. The backward puts each
value's gradient back at the position it came from: a permutation, so nothing accumulates.
NaN sorts above every number, as in torch.
"""
from collections import namedtuple

import numpy as np

from .. import backend
from ..function import Function
from ..tensor import Tensor
from ._operands import normalize_dim

# What torch.sort and torch.topk return: a (values, indices) pair with names.
ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def stable_order(x, axis, descending):
    """The indices that sort x along ``axis``, stably in either direction."""
    xp = backend.get_array_module(x)
    if not descending:
        return xp.argsort(x, axis=axis, kind="stable")
    # sort the reversed array ascending, then read the result backwards: equal values come
    # out in their original order, and position j of the reversed array is n - 1 - j
    n = x.shape[axis]
    reversed_order = xp.argsort(xp.flip(x, axis), axis=axis, kind="stable")
    return (n - 1) - xp.flip(reversed_order, axis)


class SortFunction(Function):
    """Sort along ``dim`` and keep the first ``k`` (all when k is None)."""

    def __init__(self, dim, descending, k=None):
        self.dim, self.descending, self.k = dim, descending, k

    def forward(self, x):
        xp = backend.get_array_module(x)
        order = stable_order(x, self.dim, self.descending)
        if self.k is not None:
            order = xp.take(order, xp.arange(self.k), axis=self.dim)
        self.save_for_backward(order)
        self.x_shape = x.shape
        return xp.take_along_axis(x, order, axis=self.dim), order.astype(np.int64)

    def backward(self, gy, g_indices):
        (order,) = self.saved_tensors
        xp = backend.get_array_module(gy)
        gx = xp.zeros(self.x_shape, gy.dtype)
        xp.put_along_axis(gx, order, gy, axis=self.dim)
        return gx

    def jvp(self, dx):
        """J·dx: dx in the sorted order (piecewise linear); the indices get none."""
        (order,) = self.saved_tensors
        return backend.get_array_module(dx).take_along_axis(dx, order, axis=self.dim), None


def sort(input, dim=-1, descending=False, stable=False):
    """(values, indices): x sorted along ``dim`` and where each value was. Always stable
    (``stable=False`` allows any order of equal values, so a stable sort is one).
    Backward: gx[indices] = gy along dim."""
    if input.ndim == 0:
        return ValuesIndices(input, _zero_index(input))
    dim = normalize_dim("sort", dim, input.ndim)
    return ValuesIndices(*SortFunction(dim, descending)(input))


def _zero_index(x):
    """The index of a 0-d tensor's only element."""
    return Tensor(backend.get_array_module(x.data).zeros((), np.int64))


def argsort(input, dim=-1, descending=False, stable=False):
    """The int64 indices that sort x along ``dim`` (stable; no gradient)."""
    return sort(input, dim, descending, stable).indices


def topk(input, k, dim=-1, largest=True, sorted=True):
    """(values, indices) of the k largest (``largest=False``: smallest) values along ``dim``,
    in sorted order (``sorted=False`` allows any order; scratchnet still sorts).
    Backward: gy put back at the k positions, 0 elsewhere."""
    n = input.shape[dim] if input.ndim else 1
    if not 0 <= k <= n:
        raise IndexError(f"topk: k ({k}) must be in [0, {n}], the size of dim {dim} of the "
                         f"input of shape {input.shape}")
    if input.ndim == 0:
        return ValuesIndices(input, _zero_index(input))
    dim = normalize_dim("topk", dim, input.ndim)
    return ValuesIndices(*SortFunction(dim, largest, k)(input))
