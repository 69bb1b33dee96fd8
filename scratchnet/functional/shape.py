"""Ops that move elements without computing: reshape, transpose, permute, flatten, squeeze,
unsqueeze, indexing, cat, stack, split, chunk.

Their backward moves the gradient back the same way (reshape back, inverse permutation,
scatter into zeros, split instead of concatenate). An output whose array is a view of the
input's (reshape, permute, transpose, basic indexing, split) is a view as torch's: it shares
the input's version counter and in-place writes through it reach the input (_views.py).
"""
import math
from itertools import accumulate
from operator import itemgetter, methodcaller

import numpy as np

from .. import backend
from ..function import Function
from ..tensor import Tensor
from ._operands import check_tensor, normalize_dim
from ._views import track


class ReshapeFunction(Function):
    linear = True  # forward is its own Jacobian map (higher_order.py)

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.x_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):
        return gy.reshape(self.x_shape)


def reshape(input, shape):
    """y = x viewed as ``shape`` (one entry may be -1). Backward: gx = gy reshaped to x's shape."""
    check_tensor("reshape", input)
    shape = tuple(int(n) for n in shape)
    known = math.prod(n for n in shape if n != -1)
    size = input.numel()
    if shape.count(-1) > 1 or (-1 in shape and (known == 0 or size % known)) or (
            -1 not in shape and known != size):
        raise ValueError(f"reshape: shape {shape} is invalid for input of shape {input.shape} "
                         f"({size} elements)")
    if shape == input.shape:
        return input
    return track(ReshapeFunction(shape)(input), input, methodcaller("reshape", shape))


def view(input, shape):
    """reshape that must not copy (torch's ``view``): x's array viewed as ``shape``, sharing its
    memory and version counter; a layout that cannot be viewed so raises, as torch."""
    out = reshape(input, shape)
    if out is not input and out._base is None and input.numel():
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at "
                           "least one dimension spans across two contiguous subspaces). Use "
                           ".reshape(...) instead.")
    return out


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims start_dim..end_dim into one (torch.flatten)."""
    if input.ndim == 0:
        return reshape(input, (1,))
    start = normalize_dim("flatten", start_dim, input.ndim)
    end = normalize_dim("flatten", end_dim, input.ndim)
    shape = input.shape
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for a "
                         f"tensor of shape {shape}")
    return reshape(input, shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:])


def squeeze(input, dim=None):
    """Drop size-1 dims (only ``dim`` when given, and only if it has size 1, as torch)."""
    if dim is None:
        return reshape(input, tuple(n for n in input.shape if n != 1))
    dims = normalize_dim("squeeze", dim if isinstance(dim, tuple) else (dim,), input.ndim)
    return reshape(input, tuple(n for i, n in enumerate(input.shape)
                                if not (i in dims and n == 1)))


def unsqueeze(input, dim):
    """Insert a size-1 dim at ``dim`` (which may be ``ndim`` or negative, as torch)."""
    dim = normalize_dim("unsqueeze", dim, input.ndim + 1)
    return reshape(input, input.shape[:dim] + (1,) + input.shape[dim:])


class PermuteFunction(Function):
    linear = True  # forward is its own Jacobian map (higher_order.py)

    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        return x.transpose(self.dims)

    def backward(self, gy):
        return gy.transpose(sorted(range(len(self.dims)), key=self.dims.__getitem__))  # inverse


def permute(input, dims):
    """y = x with its axes reordered. Backward: gx = gy permuted by the inverse order."""
    dims = normalize_dim("permute", tuple(dims), input.ndim)
    if sorted(dims) != list(range(input.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of the "
                         f"{input.ndim} dims of a tensor of shape {input.shape}")
    return track(PermuteFunction(dims)(input), input, methodcaller("transpose", dims))


def transpose(input, dim0, dim1):
    """Swap two dims: a permute that is its own inverse."""
    dims = list(range(input.ndim))
    d0, d1 = normalize_dim("transpose", (dim0, dim1), input.ndim)
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return permute(input, dims)


class GetItemFunction(Function):
    linear = True  # forward is its own Jacobian map (higher_order.py)

    def __init__(self, index):
        self.index = index

    def forward(self, x):
        self.x_shape, self.x_dtype = x.shape, x.dtype
        return x[self.index]

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        gx = xp.zeros(self.x_shape, self.x_dtype)
        # integer arrays may pick an element twice: add.at accumulates, plain assignment would not
        xp.add.at(gx, self.index, gy)
        return gx


def getitem(input, index):
    """y = x[index], basic or integer-array indexing. Backward: gy scattered (added) into zeros."""
    index = unwrap_index(index)
    parts = index if isinstance(index, tuple) else (index,)
    if all(isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_))
           for i in parts):
        index = parts + (Ellipsis,)  # NumPy's x[0] on 1-d is a scalar copy; x[0, ...] a view
    return track(GetItemFunction(index)(input), input, itemgetter(index))


def unwrap_index(index):
    """An index with Tensors and lists in it as NumPy takes it."""
    if isinstance(index, tuple):
        return tuple(unwrap_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)          # host: a Python list; CuPy indexes with it too
    return index


class CatFunction(Function):
    linear = True  # forward is its own Jacobian map (higher_order.py)

    def __init__(self, dim):
        self.dim = dim

    def forward(self, *xs):
        self.sizes = [x.shape[self.dim] for x in xs]
        return backend.get_array_module(*xs).concatenate(xs, axis=self.dim)

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        # views into gy, one per input: the gradient is never copied
        return tuple(xp.split(gy, list(accumulate(self.sizes[:-1])), axis=self.dim))


def cat(tensors, dim=0):
    """Join tensors along ``dim``; all other dims must agree.

    Shapes: (…, n_i, …) for each input -> (…, Σ n_i, …). Backward: gy split back into
    pieces of sizes n_i, as views of gy (no copy).
    """
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise ValueError(f"cat: zero-dimensional tensor (at position {i}) cannot be "
                             "concatenated; use stack, or reshape it to (1,)")
    dim = normalize_dim("cat", dim, tensors[0].ndim)
    ref = tensors[0].shape
    for t in tensors[1:]:
        if t.ndim != len(ref) or any(a != b for i, (a, b) in enumerate(zip(t.shape, ref))
                                     if i != dim):
            shapes = ", ".join(str(t.shape) for t in tensors)
            raise ValueError(f"cat: tensors must have the same shape except in dim {dim}, "
                             f"got {shapes}")
    floats = [t.dtype for t in tensors if t.dtype.kind == "f"]  # int with float gives the float
    dtype = np.result_type(*(floats or [t.dtype for t in tensors]))
    return CatFunction(dim)(*[t if t.dtype == dtype else t.to(dtype) for t in tensors])


def stack(tensors, dim=0):
    """Join equally shaped tensors along a new dim ``dim``."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    if len({t.shape for t in tensors}) > 1:
        shapes = ", ".join(str(t.shape) for t in tensors)
        raise ValueError(f"stack: expects each tensor to be equal size, got {shapes}")
    dim = normalize_dim("stack", dim, tensors[0].ndim + 1)
    return cat([unsqueeze(t, dim) for t in tensors], dim)


class SplitFunction(Function):
    linear = True  # forward is its own Jacobian map (higher_order.py)

    def __init__(self, sizes, dim):
        self.sizes, self.dim = sizes, dim

    def forward(self, x):
        xp = backend.get_array_module(x)
        return tuple(xp.split(x, list(accumulate(self.sizes[:-1])), axis=self.dim))

    def backward(self, *gys):
        return backend.get_array_module(*gys).concatenate(gys, axis=self.dim)


def split(tensor, split_size_or_sections, dim=0):
    """Cut ``tensor`` along ``dim`` into pieces of ``split_size`` (the last may be smaller) or
    of the listed sizes. Backward: the pieces' gradients concatenated (zeros for unused ones)."""
    dim = normalize_dim("split", dim, tensor.ndim)
    n = tensor.shape[dim]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise ValueError(f"split: split_size must be positive, got {step}")
        sizes = [min(step, n - i) for i in range(0, n, step)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} must be non-negative and sum to {n}, the "
                             f"size of dim {dim} of a tensor of shape {tensor.shape}")
    if len(sizes) == 1:
        return (tensor,)
    pieces = SplitFunction(sizes, dim)(tensor)
    starts = accumulate([0] + sizes[:-1])
    return tuple(track(piece, tensor, itemgetter((slice(None),) * dim + (slice(start, start + n),)),
                       multiple=True) for piece, start, n in zip(pieces, starts, sizes))


def chunk(input, chunks, dim=0):
    """Split into ``chunks`` pieces of ceil(n / chunks) (fewer if n is small), as torch."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    dim = normalize_dim("chunk", dim, input.ndim)
    n = input.shape[dim]
    if n == 0:                          # torch gives ``chunks`` empty pieces
        return split(input, [0] * chunks, dim)
    return split(input, -(-n // chunks), dim)
