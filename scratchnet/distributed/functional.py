"""Collectives inside the autograd graph, for model parallelism (a model split over ranks).

Two primitives, Megatron-LM's "gather from" and "copy to" the model-parallel region:

    gather_along(x, dim)   forward: every rank's x, concatenated along dim, on every rank
                           backward: this rank's slice of the incoming gradient
    sum_gradients(x)       forward: x
                           backward: the gradient summed over ranks

``gather_along`` alone suits a *replicated* consumer (every rank computes the same loss from
the gathered logits: each already holds the whole gradient). A consumer that differs by rank
(each rank's half of the next layer reads the whole gathered input) sends each rank a
different partial gradient, which must be summed: ``sum_gradients(gather_along(x, dim))``.
"""
from ..backend import get_array_module
from ..function import Function
from . import process_group
from .work import ReduceOp


class GatherAlongFunction(Function):
    def __init__(self, group, dim):
        self.group, self.dim = group, dim

    def forward(self, x):
        work, gathered = self.group.all_gather(x)
        work.wait()
        self.length = x.shape[self.dim]
        xp = get_array_module(x)
        return xp.concatenate(list(gathered), axis=self.dim)   # W x (.., n, ..) -> (.., W n, ..)

    def backward(self, gy):
        start = self.group.rank() * self.length
        index = [slice(None)] * gy.ndim
        index[self.dim] = slice(start, start + self.length)
        return get_array_module(gy).ascontiguousarray(gy[tuple(index)])


class SumGradientsFunction(Function):
    def __init__(self, group):
        self.group = group

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        total = get_array_module(gy).ascontiguousarray(gy).copy()
        self.group.all_reduce(total, ReduceOp.SUM).wait()
        return total


def gather_along(x, dim, group=None):
    """Every rank's ``x`` (all of one shape), concatenated along ``dim`` in rank order, on
    every rank; backward returns this rank's slice of the gradient. Shapes: x (..., n, ...)
    -> (..., world_size·n, ...)."""
    group = process_group._default(group, "gather_along")
    dim = dim % x.ndim
    return GatherAlongFunction(group, dim)(x)


def sum_gradients(x, group=None):
    """``x`` unchanged; backward sums the gradient every rank computed for it."""
    return SumGradientsFunction(process_group._default(group, "sum_gradients"))(x)
