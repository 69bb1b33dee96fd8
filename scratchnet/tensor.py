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


class VersionCounter:
    """How many times a tensor's array has been written in place (torch's ``_version``).

    In-place ops add 1. A Function records the version of every tensor whose array it saves
    and checks it again before backward uses the array. Views share their base's counter
    (a write through any of them changes the memory all of them see)."""

    __slots__ = ("version",)

    def __init__(self):
        self.version = 0


class Tensor(TensorMethods):
    """See the module docstring; torch's further methods come from TensorMethods."""
    # Makes ``ndarray + Tensor`` call Tensor.__radd__ instead of NumPy's elementwise loop.
    __array_priority__ = 1000
    __hash__ = object.__hash__  # __eq__ is elementwise, as in torch
    _post_accumulate_hooks = ()  # a list once register_post_accumulate_grad_hook is called
    _grad_accumulator = None     # weakref to this leaf's AccumulateGrad node (next_functions)
    # Views (functional/_views.py): the tensor whose array this one views (torch's ``_base``,
    # always the root), the steps from its array to this one's, whether it was made with grad
    # mode on, and for a root the WeakSet of its views
    _base = None
    _view_path = None
    _view_kind = None
    _views = None
    # What a new tensor starts with, as class attributes: __init__ then sets only what every
    # tensor has its own of (a tensor is made per op: each attribute set there costs time)
    _grad = None
    grad_fn = None
    _output_index = 0       # which output of grad_fn this tensor is
    _hooks = ()             # a list once register_hook is called on this leaf
    _retains_grad = False
    _requires_grad = False

    def __init__(self, data, requires_grad=False):
        self.data = data
        self._version_counter = VersionCounter()
        if requires_grad:                   # the setter's checks, only when it is asked for
            self.requires_grad = requires_grad

    # ---- attributes, as torch names them
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        if self.grad_fn is not None:
            hint = "" if flag else (
                " If you want to use a computed variable in a subgraph that doesn't require "
                "differentiation use var_no_grad = var.detach().")
            raise RuntimeError("you can only change requires_grad flags of leaf variables."
                               + hint)
        if flag and self.data.dtype.kind not in "fc":
            raise RuntimeError("only Tensors of floating point dtype can require gradients, "
                               f"got {self.data.dtype}")
        self._requires_grad = bool(flag)

    @property
    def grad(self):
        """The gradient backward accumulated (in place, once it exists), or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            _check_assigned_grad(self, value)
        self._grad = value

    @property
    def _version(self):
        """How many in-place writes this tensor's array has had (shared with its views)."""
        return self._version_counter.version

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

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def __repr__(self):
        body = np.array2string(backend.to_numpy(self.data), separator=", ",  # host: copied
                               prefix="tensor(")
        extras = []
        if self.dtype not in (np.float32, np.int64, np.bool_):
            extras.append(f"dtype={self.dtype}")
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.data.size == 0 and self.ndim > 1:  # torch shows an empty tensor's shape
            extras.insert(0, f"size={self.shape}")
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
        """A new leaf sharing this tensor's data (and version counter), cut from the graph."""
        detached = Tensor(self.data)
        detached._version_counter = self._version_counter
        return detached

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
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) · gradient into every leaf's ``.grad``.

        ``gradient`` may be omitted only for a one-element tensor (it is then 1).
        ``create_graph=True`` records the backward pass itself, so that the ``.grad`` it
        fills can be differentiated again; ``retain_graph`` then defaults to True (torch's
        rule: it defaults to ``create_graph``). ``inputs``: only these tensors (leaves or
        not) get their ``.grad``, as torch.
        """
        from .autograd.grad import backward  # it imports this module

        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no grad_fn; "
                               "did you forget requires_grad=True, or run under no_grad()?")
        with backend.using_device_of(self.data):          # self's GPU is the current one
            backward((self,), (gradient,), retain_graph, create_graph, inputs)

    def register_hook(self, hook):
        """``hook(grad) -> Tensor or None`` runs when this tensor's gradient is computed; a
        returned tensor replaces the gradient. Returns a handle whose ``remove()`` undoes it.

        A non-leaf tensor's hooks live on its grad_fn (as in torch), so they run even after
        the Python object itself is gone."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require grad")
        if self.grad_fn is not None:
            hooks = self.grad_fn.output_hooks(self._output_index)
        else:
            if not self._hooks:
                self._hooks = []
            hooks = self._hooks
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

    def __getstate__(self):
        """What pickle and deepcopy take: not the view bookkeeping (weak references, and a copy
        is a view of nothing: its array is copied on its own)."""
        state = self.__dict__.copy()
        for name in ("_base", "_view_path", "_view_kind", "_views", "_grad_accumulator"):
            state.pop(name, None)
        return state

    # ---- shape methods
    def reshape(self, *shape):
        return F.reshape(self, _varargs(shape))

    def view(self, *shape):
        return F.view(self, _varargs(shape))

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

    def __floordiv__(self, other):
        return F.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return F.floor_divide(other, self)

    def __mod__(self, other):
        return F.remainder(self, other)

    def __rmod__(self, other):
        return F.remainder(other, self)

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

    # ---- in place (functional/inplace.py): the same Tensor, its array written, its version
    # counted; `@=` has no in-place form, as in torch (it rebinds the name to x @ y)
    def __iadd__(self, other):
        return F.inplace.add_(self, other)

    def __isub__(self, other):
        return F.inplace.sub_(self, other)

    def __imul__(self, other):
        return F.inplace.mul_(self, other)

    def __itruediv__(self, other):
        return F.inplace.div_(self, other)

    def __ifloordiv__(self, other):
        return F.inplace.floor_divide_(self, other)

    def __imod__(self, other):
        return F.inplace.remainder_(self, other)

    def __ipow__(self, exponent):
        return F.inplace.pow_(self, exponent)

    def __setitem__(self, index, value):
        F.inplace.setitem_(self, index, value)

    def add_(self, other, alpha=1):
        return F.inplace.add_(self, other, alpha)

    def sub_(self, other, alpha=1):
        return F.inplace.sub_(self, other, alpha)

    def mul_(self, other):
        return F.inplace.mul_(self, other)

    def div_(self, other, rounding_mode=None):
        return F.inplace.div_(self, other, rounding_mode)

    def clamp_(self, min=None, max=None):
        return F.inplace.clamp_(self, min, max)

    def relu_(self):
        return F.relu(self, inplace=True)

    def zero_(self):
        return F.inplace.fill_(self, 0)

    def fill_(self, value):
        return F.inplace.fill_(self, value)

    def copy_(self, src):
        return F.inplace.copy_(self, src)

    def uniform_(self, a=0.0, b=1.0):
        return F.inplace.uniform_(self, a, b)

    def normal_(self, mean=0.0, std=1.0):
        return F.inplace.normal_(self, mean, std)


def _check_assigned_grad(tensor, grad):
    """What torch checks when ``tensor.grad = grad`` is assigned."""
    if not isinstance(grad, Tensor):
        kind = type(grad)
        name = kind.__name__ if kind.__module__ == "builtins" else \
            f"{kind.__module__}.{kind.__qualname__}"
        raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                        f"{name}")
    if grad is tensor:
        raise RuntimeError("can't assign Variable as its own grad")
    if grad.device != tensor.device:
        raise RuntimeError(f"attempting to assign a gradient located on device '{grad.device}' "
                           f"to a tensor located on device '{tensor.device}'. Please ensure "
                           "that the gradient and the tensor are on the same device")
    if grad.shape != tensor.shape:
        raise RuntimeError(f"attempting to assign a gradient of size '{list(grad.shape)}' to a "
                           f"tensor of size '{list(tensor.shape)}'. Please ensure that the "
                           "gradient and the tensor are the same size")
    if grad.dtype != tensor.dtype:
        raise RuntimeError(f"attempting to assign a gradient with dtype '{grad.dtype}' to a "
                           f"tensor with dtype '{tensor.dtype}'. The gradient must match the "
                           "tensor's dtype")


def run_hooks(hooks, grad):
    """Pass ``grad`` (an array) through each hook in turn; a hook may replace it by another
    of the same shape (torch's rule), which is copied: it may become a leaf's ``.grad``,
    which later backward calls add into, and the hook's caller may still hold it. Under
    ``create_graph`` the gradient is a Tensor, passed and returned as it is."""
    if hooks and isinstance(grad, Tensor):
        return _run_graph_hooks(hooks, grad)
    for hook in hooks:
        out = hook(Tensor(grad))
        if out is not None:
            out = out.data if isinstance(out, Tensor) else out
            if np.shape(out) != np.shape(grad):
                raise RuntimeError(f"hook {getattr(hook, '__name__', hook)!r} has changed the "
                                   f"gradient's shape from {np.shape(grad)} to "
                                   f"{np.shape(out)}")
            grad = out if out is grad else out.copy()
    return grad


def seed_gradient(output, gradient, create_graph, op):
    """The gradient backward starts from at ``output``: ``gradient`` (a Tensor, an array or a
    number) of its shape and dtype, or 1 for a one-element output. A Tensor under
    ``create_graph``, so that it can itself require grad."""
    xp = backend.get_array_module(output.data)
    if gradient is None:
        if output.data.size != 1:
            raise RuntimeError(f"{op}: grad can be implicitly created only for scalar "
                               f"outputs, but this tensor has shape {output.shape}; pass "
                               "gradient= of the same shape")
        grad = xp.ones_like(output.data)
    elif create_graph and isinstance(gradient, Tensor):
        if gradient.shape != output.shape:
            raise RuntimeError(f"{op}: gradient has shape {gradient.shape} but the tensor "
                               f"has shape {output.shape}")
        return gradient if gradient.dtype == output.dtype else gradient.to(output.dtype)
    else:
        grad = gradient.data if isinstance(gradient, Tensor) else xp.asarray(gradient)
        if tuple(grad.shape) != output.shape:
            raise RuntimeError(f"{op}: gradient has shape {tuple(grad.shape)} but the "
                               f"tensor has shape {output.shape}")
        grad = grad.astype(output.dtype, copy=False)
    return Tensor(grad) if create_graph else grad


def _run_graph_hooks(hooks, grad):
    for hook in hooks:
        out = hook(grad)
        if out is not None:
            out = out if isinstance(out, Tensor) else Tensor(out)
            if out.shape != grad.shape:
                raise RuntimeError(f"hook {getattr(hook, '__name__', hook)!r} has changed the "
                                   f"gradient's shape from {grad.shape} to {out.shape}")
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
