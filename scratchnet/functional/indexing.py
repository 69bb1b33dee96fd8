"""Ops that read or write elements at given indices: gather, scatter_add, index_select,
embedding, one_hot.

Their backward is the opposite move: what a gather read, the backward adds back into zeros
at the same places (``add.at``, so that an index met twice accumulates twice), and what a
scatter wrote, the backward reads.
"""
import numpy as np

from .. import backend
from ..function import Function
from ..tensor import Tensor
from ._operands import check_tensor, normalize_dim


def along(index, dim, xp):
    """The fancy index that pairs ``index`` (values along ``dim``) with every other dim's own
    position: ``a[along(index, dim)][i, j, k] = a[i, index[i, j, k], k]`` for dim 1."""
    where = []
    for d, n in enumerate(index.shape):
        if d == dim:
            where.append(index)
        else:
            shape = [1] * index.ndim
            shape[d] = n
            where.append(xp.arange(n).reshape(shape))          # broadcasts over index
    return tuple(where)


class GatherFunction(Function):
    linear = True  # forward is its own Jacobian map (higher_order.py)

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x, index):
        xp = backend.get_array_module(x)
        self.save_for_backward(index)
        self.x_shape = x.shape
        return x[along(index, self.dim, xp)]

    def backward(self, gy):
        (index,) = self.saved_tensors
        xp = backend.get_array_module(gy)
        gx = xp.zeros(self.x_shape, gy.dtype)
        xp.add.at(gx, along(index, self.dim, xp), gy)
        return gx, None


def gather(input, dim, index, *, sparse_grad=False):
    """y[i][j][k] = x[i][index[i][j][k]][k] for dim = 1 (likewise for any dim), as
    ``torch.gather``; y has index's shape. Backward: gx = zeros with gy added at the gathered
    places (twice where an index repeats)."""
    dim = _check_index_args("gather", input, dim, index, index.shape)
    return GatherFunction(dim)(input, index)


class ScatterAddFunction(Function):
    linear = True  # forward is its own Jacobian map (higher_order.py)

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x, index, src):
        xp = backend.get_array_module(x)
        self.save_for_backward(index)
        self.src_shape = src.shape
        y = x.copy()
        xp.add.at(y, along(index, self.dim, xp), src[_leading(index.shape)])
        return y

    def backward(self, gy):
        (index,) = self.saved_tensors
        xp = backend.get_array_module(gy)
        g_src = None
        if self.needs_input_grad[2]:
            g_src = xp.zeros(self.src_shape, gy.dtype)
            g_src[_leading(index.shape)] = gy[along(index, self.dim, xp)]
        return gy, None, g_src


def _leading(shape):
    """The slices that cut an array to its first ``shape`` elements along every dim."""
    return tuple(slice(0, n) for n in shape)


def scatter_add(input, dim, index, src):
    """y = x, then y[i][index[i][j][k]][k] += src[i][j][k] for dim = 1 (only src's first
    index.shape elements are read), as ``torch.scatter_add``. Backward: gx = gy,
    g_src = gy gathered at the same places (0 where src was not read)."""
    if src.ndim != index.ndim or any(i > s for i, s in zip(index.shape, src.shape)):
        raise ValueError(f"scatter_add: expected index {index.shape} to be no larger than src "
                         f"{src.shape} in every dim")
    dim = _check_index_args("scatter_add", input, dim, index, index.shape)
    if src.dtype != input.dtype:
        raise TypeError(f"scatter_add: expected self and src to have the same dtype, got "
                        f"{input.dtype} and {src.dtype}")
    return ScatterAddFunction(dim)(input, index, src)


def _check_index_args(op, input, dim, index, index_shape):
    """Torch's rules for gather/scatter: an integer index with input's number of dims, no
    larger than the input in the other dims, every value within the dim's size."""
    if not isinstance(index, Tensor) or index.dtype.kind not in "iu":
        shown = index.dtype if isinstance(index, Tensor) else type(index).__name__
        raise TypeError(f"{op}(): expected an int64 index tensor, got {shown}")
    dim = normalize_dim(op, dim, input.ndim)
    if index.ndim != input.ndim or input.ndim == 0:
        raise ValueError(f"{op}(): index {index.shape} and input {input.shape} must have the "
                         "same number of dimensions, at least 1")
    for d, (i, n) in enumerate(zip(index_shape, input.shape)):
        if d != dim and i > n:
            raise ValueError(f"{op}(): index {index.shape} is larger than input {input.shape} "
                             f"in dim {d}")
    _check_range(op, index, input.shape[dim], dim)
    return dim


def _check_range(op, index, size, dim):
    values = index.data
    bad = (values < 0) | (values >= size)
    if values.size and bool(bad.any()):
        raise IndexError(f"{op}(): index {int(values[bad][0])} is out of bounds for dimension "
                         f"{dim} with size {size}")


class IndexSelectFunction(Function):
    linear = True  # forward is its own Jacobian map (higher_order.py)

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x, index):
        xp = backend.get_array_module(x)
        self.save_for_backward(index)
        self.x_shape = x.shape
        return xp.take(x, index, axis=self.dim)

    def backward(self, gy):
        (index,) = self.saved_tensors
        xp = backend.get_array_module(gy)
        gx = xp.zeros(self.x_shape, gy.dtype)
        xp.add.at(gx, (slice(None),) * self.dim + (index,), gy)
        return gx, None


def index_select(input, dim, index):
    """The slices of x at positions ``index`` (1-d, int) along ``dim``: y has x's shape with
    dim's size len(index). Backward: gx = zeros with each slice of gy added at its index."""
    if not isinstance(index, Tensor) or index.dtype.kind not in "iu" or index.ndim > 1:
        shown = (f"{index.dtype} {index.shape}" if isinstance(index, Tensor)
                 else type(index).__name__)
        raise TypeError(f"index_select(): expected a 1-d int64 index tensor, got {shown}")
    dim = normalize_dim("index_select", dim, input.ndim)
    if input.ndim == 0:
        return IndexSelectFunction(0)(input.reshape(1), index.reshape(-1)).reshape(())
    _check_range("index_select", index, input.shape[dim], dim)
    return IndexSelectFunction(dim)(input, index.reshape(-1))


class EmbeddingFunction(Function):
    """Inputs: weight (V, D), indices (*) -> (*, D)."""

    def __init__(self, padding_idx, scale_grad_by_freq):
        self.padding_idx, self.scale_grad_by_freq = padding_idx, scale_grad_by_freq

    def forward(self, weight, indices):
        self.save_for_backward(indices)
        self.weight_shape = weight.shape
        return weight[indices]

    def backward(self, gy):
        (indices,) = self.saved_tensors
        xp = backend.get_array_module(gy)
        V, D = self.weight_shape
        flat = indices.reshape(-1)
        rows = gy.reshape(-1, D)                                 # (n, D), one row per index
        if self.scale_grad_by_freq:
            counts = xp.bincount(flat, minlength=V)
            rows = rows / counts[flat][:, None].astype(gy.dtype)
        gw = xp.zeros((V, D), gy.dtype)
        xp.add.at(gw, flat, rows)
        if self.padding_idx is not None:
            gw[self.padding_idx] = 0
        return gw, None

    def jvp(self, dw, _):
        """J·dW, the transpose of backward: rows of dW picked by the indices (0 for
        padding_idx, divided by their counts with scale_grad_by_freq)."""
        (indices,) = self.saved_tensors
        xp = backend.get_array_module(dw)
        rows = dw[indices]
        if self.scale_grad_by_freq:
            counts = xp.bincount(indices.reshape(-1), minlength=self.weight_shape[0])
            rows = rows / counts[indices][..., None].astype(dw.dtype)
        if self.padding_idx is not None:
            rows = rows * (indices != self.padding_idx)[..., None]
        return rows


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` (V, D) at the integer ``input`` (*) -> (*, D), as
    ``torch.nn.functional.embedding``. Backward: each row of gy added to gW at its index
    (divided by the index's count in the batch with ``scale_grad_by_freq``); the row
    ``padding_idx`` gets no gradient. ``max_norm`` first rescales, in place, each referenced
    row whose ``norm_type``-norm exceeds it (torch's embedding_renorm_)."""
    check_tensor("embedding", input, weight)
    if input.dtype.kind not in "iu":
        raise TypeError(f"embedding(): expected an integer index tensor, got {input.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding(): expected weight (num_embeddings, embedding_dim), got "
                         f"{weight.shape}")
    if sparse:
        raise ValueError("embedding(): sparse=True is not supported (scratchnet has no sparse "
                         "tensors); use sparse=False")
    V = weight.shape[0]
    if padding_idx is not None:
        if not -V <= padding_idx < V:
            raise ValueError(f"embedding(): padding_idx {padding_idx} must be within "
                             f"num_embeddings {V}")
        padding_idx %= V
    _check_range("embedding", input, V, 0)
    if max_norm is not None:
        _renorm_rows(weight.data, input.data, max_norm, norm_type)
    return EmbeddingFunction(padding_idx, scale_grad_by_freq)(weight, input)


def _renorm_rows(weight, indices, max_norm, norm_type):
    """Scale the rows of ``weight`` at ``indices`` whose norm exceeds max_norm down to it, in
    place (torch's scale: max_norm / (norm + 1e-7))."""
    xp = backend.get_array_module(weight)
    rows = xp.unique(indices.reshape(-1))
    norms = (xp.abs(weight[rows]) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
    weight[rows] *= scale[:, None].astype(weight.dtype)


def one_hot(tensor, num_classes=-1):
    """int64 (*, C) with a 1 at each class index of ``tensor`` (*), C = num_classes, or the
    largest index + 1 when -1. No gradient (an integer output)."""
    check_tensor("one_hot", tensor)
    if tensor.dtype.kind not in "iu":
        raise TypeError(f"one_hot is only applicable to index tensor of type LongTensor, "
                        f"got {tensor.dtype}")
    xp = backend.get_array_module(tensor.data)
    t = tensor.data.astype(np.int64)
    if t.size and int(t.min()) < 0:
        raise RuntimeError("one_hot: Class values must be non-negative.")
    if num_classes == -1:
        if t.size == 0:
            raise RuntimeError("one_hot: Can not infer total number of classes from empty "
                               "tensor.")
        num_classes = int(t.max()) + 1
    elif t.size and int(t.max()) >= num_classes:
        raise RuntimeError(f"one_hot: Class values must be smaller than num_classes "
                           f"({num_classes}), got {int(t.max())}.")
    return Tensor((t[..., None] == xp.arange(num_classes)).astype(np.int64))
