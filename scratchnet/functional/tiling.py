"""Ops that copy elements: clone, expand (a broadcast view), repeat (tiles).

Each output element is a copy of one input element, so the backward sums the gradients of
all copies of an element: nothing to sum for clone, the broadcast axes for expand, the tiles
for repeat.
"""
import numpy as np

from .. import backend
from ..function import Function
from ._operands import unbroadcast


class CloneFunction(Function):
    linear = True  # forward is its own Jacobian map (higher_order.py)

    def forward(self, x):
        return backend.get_array_module(x).array(x, copy=True, order="C")

    def backward(self, gy):
        return gy


def clone(input):
    """y = a copy of x with its own memory (C-contiguous). Backward: gx = gy."""
    return CloneFunction()(input)


class ExpandFunction(Function):
    linear = True  # forward is its own Jacobian map (higher_order.py)

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        return backend.get_array_module(x).broadcast_to(x, self.shape)   # a read-only view

    def backward(self, gy):
        return unbroadcast(gy, self.x_shape)


def expand(input, *sizes):
    """x broadcast to ``sizes`` without copying (a read-only view): new dims go in front, a
    size-1 dim may grow, -1 keeps a dim's size. Backward: gy summed over the broadcast axes."""
    sizes = _sizes(sizes)
    extra = len(sizes) - input.ndim
    if extra < 0:
        raise ValueError(f"expand: the number of sizes provided ({len(sizes)}) must be greater "
                         f"or equal to the number of dimensions in the tensor ({input.ndim})")
    shape = []
    for i, n in enumerate(sizes):
        own = input.shape[i - extra] if i >= extra else None
        if n == -1:
            if own is None:
                raise ValueError(f"expand: -1 is not allowed in a leading, new dimension "
                                 f"(sizes {sizes})")
            n = own
        if own is not None and own != n and own != 1:
            raise ValueError(f"expand: the expanded size of the tensor ({n}) must match the "
                             f"existing size ({own}) at non-singleton dimension {i}; target "
                             f"sizes {sizes}, tensor shape {input.shape}")
        shape.append(n)
    if tuple(shape) == input.shape:
        return input
    return ExpandFunction(tuple(shape))(input)


class RepeatFunction(Function):
    linear = True  # forward is its own Jacobian map (higher_order.py)

    def __init__(self, repeats):
        self.repeats = repeats

    def forward(self, x):
        self.x_shape = x.shape
        return backend.get_array_module(x).tile(x, self.repeats)

    def backward(self, gy):
        r = self.repeats
        s = (1,) * (len(r) - len(self.x_shape)) + self.x_shape
        # (r0·s0, r1·s1, ...) -> (r0, s0, r1, s1, ...): the tile index before each own index
        tiles = gy.reshape(tuple(n for pair in zip(r, s) for n in pair))
        return tiles.sum(axis=tuple(range(0, 2 * len(r), 2))).reshape(self.x_shape)


def repeat(input, *repeats):
    """x tiled ``repeats[d]`` times along each dim d (extra leading repeats add dims), as
    ``torch.Tensor.repeat`` (NumPy's ``tile``). Backward: the gradients of the tiles summed."""
    repeats = _sizes(repeats)
    if len(repeats) < input.ndim:
        raise ValueError(f"repeat: number of dimensions of repeat dims ({len(repeats)}) can "
                         f"not be smaller than number of dimensions of tensor ({input.ndim})")
    if any(n < 0 for n in repeats):
        raise ValueError(f"repeat: repeats must be non-negative, got {repeats}")
    return RepeatFunction(repeats)(input)


def _sizes(args):
    """``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` all mean (2, 3)."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    return tuple(int(n) for n in np.asarray(args, dtype=np.int64).reshape(-1))  # host: ints
