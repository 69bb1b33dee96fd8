"""The Tensor methods torch users type beyond the core ones in tensor.py (issue 15): each
delegates to scratchnet.functional, where the op and its backward live.

``Tensor`` inherits them from ``TensorMethods``; its own methods (tensor.py) take precedence.
"""
import numpy as np

from . import backend, dtypes


class TensorMethods:
    """Mixed into Tensor: reductions, sorting, indexing, copies, bitwise operators, dtype
    conversions, ``new_*`` factories, in-place autograd flags and ``__array__``."""

    def std(self, *args, **kwargs):
        return F.std(self, *args, **kwargs)

    def prod(self, *args, **kwargs):
        return F.prod(self, *args, **kwargs)

    def norm(self, *args, **kwargs):
        return F.norm(self, *args, **kwargs)

    def logsumexp(self, *args, **kwargs):
        return F.logsumexp(self, *args, **kwargs)

    def amax(self, *args, **kwargs):
        return F.amax(self, *args, **kwargs)

    def amin(self, *args, **kwargs):
        return F.amin(self, *args, **kwargs)

    def any(self, *args, **kwargs):
        return F.any(self, *args, **kwargs)

    def all(self, *args, **kwargs):
        return F.all(self, *args, **kwargs)

    def cumsum(self, dim, *, dtype=None):
        return F.cumsum(self, dim, dtype=dtype)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        return F.topk(self, k, dim, largest, sorted)

    def sort(self, dim=-1, descending=False, stable=False):
        return F.sort(self, dim, descending, stable)

    def argsort(self, dim=-1, descending=False, stable=False):
        return F.argsort(self, dim, descending, stable)

    def gather(self, dim, index):
        return F.gather(self, dim, index)

    def scatter_add(self, dim, index, src):
        return F.scatter_add(self, dim, index, src)

    def index_select(self, dim, index):
        return F.index_select(self, dim, index)

    def masked_fill(self, mask, value):
        return F.masked_fill(self, mask, value)

    def where(self, condition, other):
        return F.where(condition, self, other)

    def maximum(self, other):
        return F.maximum(self, other)

    def minimum(self, other):
        return F.minimum(self, other)

    def clone(self, *, memory_format=None):
        return F.clone(self)

    def expand(self, *sizes):
        return F.expand(self, *sizes)

    def expand_as(self, other):
        return F.expand(self, other.shape)

    def repeat(self, *sizes):
        return F.repeat(self, *sizes)

    def view_as(self, other):
        return self.reshape(other.shape)

    reshape_as = view_as

    def t(self):
        """The transpose of a matrix; a 0-d or 1-d tensor is returned as is (torch.t)."""
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor with <= 2 dimensions, but self is "
                             f"{self.ndim}D; use transpose(dim0, dim1) or mT")
        return self if self.ndim < 2 else self.transpose(0, 1)

    @property
    def mT(self):
        """The last two dims swapped (a batch of matrices transposed)."""
        if self.ndim < 2:
            raise ValueError(f"tensor.mT is only supported on matrices or batches of matrices. "
                             f"Got {self.ndim}-D tensor.")
        return self.transpose(-2, -1)

    def contiguous(self, memory_format=None):
        """self if its array is C-contiguous, else a contiguous copy (differentiable)."""
        return self if self.is_contiguous() else F.clone(self)

    def is_contiguous(self, memory_format=None):
        return bool(self.data.flags.c_contiguous)

    def add(self, other, *, alpha=1):
        return F.add(self, other, alpha)

    def sub(self, other, *, alpha=1):
        return F.sub(self, other if alpha == 1 else other * alpha)

    def mul(self, other):
        return F.mul(self, other)

    def div(self, other):
        return F.div(self, other)

    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def lt(self, other):
        return self < other

    def le(self, other):
        return self <= other

    def gt(self, other):
        return self > other

    def ge(self, other):
        return self >= other

    # bitwise ops: bool and integer tensors only (logical for bool), as torch
    def __and__(self, other):
        return F.bitwise_and(self, other)

    def __rand__(self, other):
        return F.bitwise_and(other, self)

    def __or__(self, other):
        return F.bitwise_or(self, other)

    def __ror__(self, other):
        return F.bitwise_or(other, self)

    def __xor__(self, other):
        return F.bitwise_xor(self, other)

    def __rxor__(self, other):
        return F.bitwise_xor(other, self)

    def __invert__(self):
        return F.bitwise_not(self)

    def logical_not(self):
        return F.logical_not(self)

    # dtype conversions
    def int(self):
        return self.to(np.int32)

    def bool(self):
        return self.to(np.bool_)

    def half(self):
        return self.to(np.float16)

    def type(self, dtype=None, non_blocking=False):
        """No argument: the type's name, "scratchnet.FloatTensor" (torch's names under
        scratchnet); with a dtype or such a name: the tensor cast to it."""
        if dtype is None:
            return dtypes.type_name(self.dtype)
        return self.to(dtypes.as_dtype(dtype))

    def type_as(self, other):
        return self.to(other.dtype)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        """A tensor of ``data`` with this one's dtype and device unless told otherwise."""
        return self._new("tensor", data, dtype, device, requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new("zeros", _varargs(size), dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new("ones", _varargs(size), dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new("empty", _varargs(size), dtype, device, requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return self._new("full", tuple(size), dtype, device, requires_grad, fill_value)

    def _new(self, factory, first, dtype, device, requires_grad, *rest):
        from . import creation  # creation imports Tensor, which is made from this class
        return getattr(creation, factory)(first, *rest, dtype=dtype or self.dtype,
                                          device=device or self.device,
                                          requires_grad=requires_grad)

    # autograd flags, in place
    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` (leaves; as the attribute) and return self."""
        self.requires_grad = requires_grad
        return self

    def detach_(self):
        """Cut this tensor from the graph in place: it becomes a leaf that requires no grad."""
        self.grad_fn = None
        self._requires_grad = False
        return self

    def __array__(self, dtype=None, copy=None):
        """``np.asarray(t)`` for a CPU tensor that requires no grad (torch's rule)."""
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        if self.device != "cpu":
            raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use "
                            "Tensor.cpu() to copy the tensor to host memory first.")
        array = self.data if dtype is None else self.data.astype(dtype, copy=False)
        return array.copy() if copy else array


def parse_to_args(args, kwargs):
    """(device or None, dtype or None, copy) from torch's forms of ``Tensor.to``."""
    device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for arg in args:
        if isinstance(arg, TensorMethods):                # a Tensor: its device and dtype
            device, dtype = arg.device, arg.dtype
        elif isinstance(arg, str):              # a device name, as in torch
            device = arg
        elif isinstance(arg, bool):             # to(dtype, non_blocking, copy) positionally
            continue
        else:
            dtype = arg
    return (None if device is None else backend.check_device(device),
            None if dtype is None else dtypes.as_dtype(dtype), copy)


def _varargs(args):
    """``f(2, 3)`` and ``f((2, 3))`` both mean the tuple (2, 3)."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


from . import functional as F  # noqa: E402  (functional imports Tensor, which imports this)
