"""Tensor: an n-dimensional array that remembers how it was made.

A Tensor wraps a NumPy or CuPy array (``.data``). When it is the output of a Function
recorded by autograd, ``.grad_fn`` points at that Function, and ``backward()`` walks the
graph of Functions back to the leaves, filling their ``.grad``. Operators and methods are
thin wrappers over ``scratchnet.functional`` so that every formula lives in exactly one place.
"""
import weakref

import numpy as np

from . import backend
from .tensor_methods import TensorMethods, parse_to_args

# id -> leaf, for every leaf with post-accumulate hooks: while this is empty, backward does
# no extra work for them.
post_hooked_leaves = weakref.WeakValueDictionary()


class Tensor(TensorMethods):
    """See the module docstring; torch's further methods come from TensorMethods."""

    # Makes ``ndarray + Tensor`` call Tensor.__radd__ instead of NumPy's elementwise loop.
    __array_priority__ = 1000
    __hash__ = object.__hash__  # __eq__ is elementwise, as in torch
    _post_accumulate_hooks = ()  # a list once register_post_accumulate_grad_hook is called
    _grad_accumulator = None     # weakref to this leaf's AccumulateGrad node (next_functions)

    def __init__(self, data, requires_grad=False):
        self.data = data
        self.grad = None
        self.grad_fn = None
        self._output_index = 0  # which output of grad_fn this tensor is
        self._hooks = []
        self._retains_grad = False
        self._requires_grad = False
        self.requires_grad = requires_grad

    # ---- attributes, as torch names them
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        if flag and self.data.dtype.kind not in "fc":
            raise RuntimeError("only Tensors of floating point dtype can require gradients, "
                               f"got {self.data.dtype}")
        self._requires_grad = bool(flag)

    @property
    def shape(self):
        return tuple(self.data.shape)

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self):
        return backend.device_of(self.data)

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self):
        return int(self.data.size)

    def dim(self):
        return self.ndim

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        body = np.array2string(backend.to_numpy(self.data), separator=", ", prefix="tensor(")
        extras = []
        if self.dtype not in (np.float32, np.int64, np.bool_):
            extras.append(f"dtype={self.dtype}")
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{type(self.grad_fn).__name__}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    # ---- conversion
    def numpy(self):
        """The data as a NumPy array (copied from the GPU if needed), as torch's ``numpy()``."""
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on a Tensor that requires grad; "
                               "use tensor.detach().numpy() instead")
        return backend.to_numpy(self.data)

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): a Tensor with {self.data.size} elements cannot be "
                             "converted to a Python scalar")
        return self.data.reshape(()).item()

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

    def detach(self):
        """A new leaf sharing this tensor's data, cut from the graph."""
        return Tensor(self.data)

    def to(self, *args, **kwargs):
        """Move and/or cast, differentiably, with torch's call forms: ``to(device)``,
        ``to(dtype)``, ``to(device, dtype)``, ``to(other_tensor)``, ``to(dtype=...,
        device=..., copy=False, non_blocking=False)``."""
        device, dtype, copy = parse_to_args(args, kwargs)
        out = self if device is None else F.to_device(self, device)
        out = out if dtype is None else F.cast(out, dtype)
        return F.clone(out) if copy and out is self else out

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def long(self):
        return self.to(np.int64)

    # ---- autograd
    def backward(self, gradient=None, retain_graph=False):
        """Accumulate d(self)/d(leaf) · gradient into every leaf's ``.grad``.

        ``gradient`` may be omitted only for a one-element tensor (it is then 1).
        """
        from .function import run_backward  # function.py imports this module

        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no grad_fn; "
                               "did you forget requires_grad=True, or run under no_grad()?")
        xp = backend.get_array_module(self.data)
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError("backward: grad can be implicitly created only for scalar "
                                   f"outputs, but this tensor has shape {self.shape}; pass "
                                   "gradient= of the same shape")
            grad = xp.ones_like(self.data)
        else:
            grad = gradient.data if isinstance(gradient, Tensor) else xp.asarray(gradient)
            if tuple(grad.shape) != self.shape:
                raise RuntimeError(f"backward: gradient has shape {tuple(grad.shape)} but the "
                                   f"tensor has shape {self.shape}")
            grad = grad.astype(self.dtype, copy=False)
        run_backward(self, grad, retain_graph)

    def register_hook(self, hook):
        """``hook(grad) -> Tensor or None`` runs when this tensor's gradient is computed; a
        returned tensor replaces the gradient. Returns a handle whose ``remove()`` undoes it.

        A non-leaf tensor's hooks live on its grad_fn (as in torch), so they run even after
        the Python object itself is gone."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require grad")
        hooks = self._hooks if self.grad_fn is None else self.grad_fn.output_hooks(
            self._output_index)
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """``hook(tensor) -> None`` runs with this leaf once a backward pass has added its
        gradient into ``.grad``: during the pass, as soon as the last Function that feeds
        this leaf has run, so work on the gradient (a distributed all-reduce, say) can start
        while backward goes on. ``.grad`` then holds the accumulated total, and the hook may
        change it in place. Hooks run in the order registered, with grad mode off; leaves
        only, as in torch. Returns a handle whose ``remove()`` undoes it."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require grad")
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        if not self._post_accumulate_hooks:
            self._post_accumulate_hooks = []
        self._post_accumulate_hooks.append(hook)
        post_hooked_leaves[id(self)] = self
        return _HookHandle(self._post_accumulate_hooks, hook, self)

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        self._retains_grad = True

    # ---- shape methods
    def reshape(self, *shape):
        return F.reshape(self, _varargs(shape))

    view = reshape

    def transpose(self, dim0, dim1):
        return F.transpose(self, dim0, dim1)

    def permute(self, *dims):
        return F.permute(self, _varargs(dims))

    def flatten(self, start_dim=0, end_dim=-1):
        return F.flatten(self, start_dim, end_dim)

    def squeeze(self, dim=None):
        return F.squeeze(self, dim)

    def unsqueeze(self, dim):
        return F.unsqueeze(self, dim)

    def split(self, split_size_or_sections, dim=0):
        return F.split(self, split_size_or_sections, dim)

    def chunk(self, chunks, dim=0):
        return F.chunk(self, chunks, dim)

    def __getitem__(self, index):
        return F.getitem(self, index)

    # ---- reductions: torch's positional and keyword forms (``axis=``, ``var(0, True)``)
    def sum(self, *args, **kwargs):
        return F.sum(self, *args, **kwargs)

    def mean(self, *args, **kwargs):
        return F.mean(self, *args, **kwargs)

    def var(self, *args, **kwargs):
        return F.var(self, *args, **kwargs)

    def max(self, *args, **kwargs):
        return F.max(self, *args, **kwargs)

    def min(self, *args, **kwargs):
        return F.min(self, *args, **kwargs)

    def argmax(self, *args, **kwargs):
        return F.argmax(self, *args, **kwargs)

    def argmin(self, *args, **kwargs):
        return F.argmin(self, *args, **kwargs)

    # ---- elementwise methods
    def exp(self):
        return F.exp(self)

    def log(self):
        return F.log(self)

    def sqrt(self):
        return F.sqrt(self)

    def abs(self):
        return F.abs(self)

    def pow(self, exponent):
        return F.pow(self, exponent)

    def clamp(self, min=None, max=None):
        return F.clamp(self, min, max)

    def relu(self):
        return F.relu(self)

    def sigmoid(self):
        return F.sigmoid(self)

    def tanh(self):
        return F.tanh(self)

    def softmax(self, dim):
        return F.softmax(self, dim)

    def log_softmax(self, dim):
        return F.log_softmax(self, dim)

    def matmul(self, other):
        return F.matmul(self, other)

    # ---- operators (NumPy broadcasting; gradients are summed back to each input's shape)
    def __add__(self, other):
        return F.add(self, other)

    def __radd__(self, other):
        return F.add(other, self)

    def __sub__(self, other):
        return F.sub(self, other)

    def __rsub__(self, other):
        return F.sub(other, self)

    def __mul__(self, other):
        return F.mul(self, other)

    def __rmul__(self, other):
        return F.mul(other, self)

    def __truediv__(self, other):
        return F.div(self, other)

    def __rtruediv__(self, other):
        return F.div(other, self)

    def __pow__(self, exponent):
        return F.pow(self, exponent)

    def __rpow__(self, base):
        return F.pow(base, self)

    def __matmul__(self, other):
        return F.matmul(self, other)

    def __rmatmul__(self, other):
        return F.matmul(other, self)

    def __neg__(self):
        return F.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return F.abs(self)

    # comparisons carry no gradient and give bool tensors
    def __eq__(self, other):
        return F.compare(self, other, "eq")

    def __ne__(self, other):
        return F.compare(self, other, "ne")

    def __lt__(self, other):
        return F.compare(self, other, "lt")

    def __le__(self, other):
        return F.compare(self, other, "le")

    def __gt__(self, other):
        return F.compare(self, other, "gt")

    def __ge__(self, other):
        return F.compare(self, other, "ge")

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a Tensor with {self.data.size} elements "
                               "is ambiguous")
        return bool(self.data.reshape(()))

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())


def run_hooks(hooks, grad):
    """Pass ``grad`` (an array) through each hook in turn; a hook may replace it by another
    of the same shape (torch's rule)."""
    for hook in hooks:
        out = hook(Tensor(grad))
        if out is not None:
            out = out.data if isinstance(out, Tensor) else out
            if np.shape(out) != np.shape(grad):
                raise RuntimeError(f"hook {getattr(hook, '__name__', hook)!r} has changed the "
                                   f"gradient's shape from {np.shape(grad)} to "
                                   f"{np.shape(out)}")
            grad = out
    return grad


class _HookHandle:
    def __init__(self, hooks, hook, post_hooked=None):
        self._hooks, self._hook = hooks, hook
        self._leaf = None if post_hooked is None else weakref.ref(post_hooked)

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)
        leaf = self._leaf and self._leaf()
        if leaf is not None and not leaf._post_accumulate_hooks:
            post_hooked_leaves.pop(id(leaf), None)


def _varargs(args):
    """``reshape(2, 3)`` and ``reshape((2, 3))`` both mean the tuple (2, 3)."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


from . import functional as F  # noqa: E402  (functional imports Tensor from this module)
