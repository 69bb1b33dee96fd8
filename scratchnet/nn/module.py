"""Module and Parameter: the building blocks of networks, as in torch.nn.

A Module owns Parameters (tensors that training updates), buffers (arrays it keeps but does
not train, like batch norm's running statistics) and child Modules, each registered under
the attribute name it is assigned to. Names join with dots into the state_dict keys that
PyTorch uses (``layer1.0.conv1.weight``), in registration order, so torch checkpoints map
onto scratchnet models key for key.
"""
from collections import OrderedDict, namedtuple

import numpy as np

from .. import backend
from ..function import is_grad_enabled
from ..tensor import Tensor, parse_to_args
from . import _backward_hooks

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Parameter(Tensor):
    """A Tensor that a Module registers as trainable; requires grad by default."""

    def __init__(self, data, requires_grad=True):
        if isinstance(data, Tensor):
            data = data.data
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of every layer and model. Subclasses set attributes in ``__init__`` and
    define ``forward``; calling the module runs pre-hooks, ``forward``, then hooks."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_backward_hooks", OrderedDict())
        object.__setattr__(self, "_backward_pre_hooks", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() is called")
        if isinstance(value, Parameter):
            self._forget(name)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            self._modules[name] = value
        elif name in self._buffers:
            self._buffers[name] = None if value is None else _array(value)
        elif value is None and (name in self._parameters or name in self._modules):
            (self._parameters if name in self._parameters else self._modules)[name] = None
        else:
            self._forget(name)
            object.__setattr__(self, name, value)

    def _forget(self, name):
        for registry in (self._parameters, self._buffers, self._modules, self.__dict__):
            registry.pop(name, None)

    def __getattr__(self, name):
        for registry in ("_parameters", "_buffers", "_modules"):
            table = self.__dict__.get(registry)
            if table is not None and name in table:
                return table[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is None:
            self._parameters[name] = None
        else:
            setattr(self, name, param)

    def register_buffer(self, name, array):
        """Keep ``array`` (NumPy/CuPy, a Tensor's data, or None) under ``name``: it moves with
        ``to()`` and is saved in the state_dict, but is not a parameter."""
        self._forget(name)
        self._buffers[name] = None if array is None else _array(array)

    def add_module(self, name, module):
        if module is None:
            self._modules[name] = None
        else:
            setattr(self, name, module)

    register_module = add_module

    # ---- calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        hooked = self.__dict__.get("_backward_hooks") or self.__dict__.get("_backward_pre_hooks")
        if hooked and is_grad_enabled():
            call, args = _backward_hooks.wrap_inputs(self, args)
        # the input's GPU is the current one, for the layer's own array work (buffer updates)
        with backend.using_device_of(*(a.data for a in args if isinstance(a, Tensor))):
            out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        if hooked and is_grad_enabled():
            out = _backward_hooks.wrap_outputs(call, out)
        return out

    def register_forward_hook(self, hook):
        """``hook(module, inputs, output)`` after forward; a returned value replaces output."""
        return _Handle(self._forward_hooks, hook)

    def register_forward_pre_hook(self, hook):
        """``hook(module, inputs)`` before forward; a returned value replaces the inputs."""
        return _Handle(self._forward_pre_hooks, hook)

    def register_full_backward_hook(self, hook):
        """``hook(module, grad_input, grad_output)`` once the gradients of the module's inputs
        are computed: tuples with one entry per positional argument (None where it is not a
        float tensor) and per output tensor. A returned tuple replaces grad_input."""
        return _Handle(self._backward_hooks, hook)

    def register_full_backward_pre_hook(self, hook):
        """``hook(module, grad_output)`` once the gradients of the module's outputs are
        computed, before those of its inputs; a returned tuple replaces grad_output."""
        return _Handle(self._backward_pre_hooks, hook)

    # ---- traversal
    def named_modules(self, prefix="", memo=None):
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for name, child in self._modules.items():
            if child is not None:
                yield name, child

    def children(self):
        for _, child in self.named_children():
            yield child

    def _named_members(self, registry, prefix, recurse):
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix="", recurse=True):
        yield from self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- modes and moves
    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def apply(self, fn):
        """Call ``fn(module)`` on every submodule (children first, as torch) and on self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` on every parameter (freeze a part with False); returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.zero_()  # in place, as torch: a reference to .grad sees the zeros

    def to(self, *args, **kwargs):
        """Move every parameter and buffer to a device ("cpu"/"cuda") and/or cast the floating
        ones to a dtype, with torch's call forms (``to(device)``, ``to(dtype)``,
        ``to(device, dtype)``, ``to(tensor)``, keywords). Parameters stay the same objects,
        so optimizers keep working."""
        device, dtype, _ = parse_to_args(args, kwargs)

        def convert(a):
            if dtype is not None and a.dtype.kind == "f":
                a = a.astype(dtype)
            return a if device is None else backend.to_device(a, device)
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None:
                    p.data = convert(p.data)
                    if p.grad is not None:
                        p.grad = Tensor(convert(p.grad.data))
            for name, b in m._buffers.items():
                if b is not None:
                    m._buffers[name] = convert(b)
        return self

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def half(self):
        return self.to(np.float16)

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    # ---- state
    def state_dict(self, prefix=""):
        """An ordered dict of dotted name -> live array: each module's parameters, then its
        buffers, then its children's, in registration order (torch's order)."""
        state = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                state[prefix + name] = p.data
        for name, b in self._buffers.items():
            if b is not None:
                state[prefix + name] = b
        for name, child in self._modules.items():
            if child is not None:
                state.update(child.state_dict(prefix + name + "."))
        return state

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays (NumPy, CuPy or Tensors) into this module's parameters and buffers,
        keeping their device and dtype. With ``strict`` every key must match; the error lists
        the missing keys, the unexpected keys and every shape mismatch at once."""
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        not_arrays = [k for k in own if k in state_dict and not _is_array(state_dict[k])]
        mismatched = [f"{k}: checkpoint {tuple(_array(state_dict[k]).shape)}, model "
                      f"{tuple(own[k].shape)}" for k in own if k in state_dict
                      and k not in not_arrays
                      and tuple(_array(state_dict[k]).shape) != own[k].shape]
        if not_arrays or mismatched or (strict and (missing or unexpected)):
            lines = [f"Error(s) in loading state_dict for {type(self).__name__}:"]
            lines += [f"  While copying the parameter named \"{k}\", expected an array or "
                      f"Tensor from checkpoint but received {type(state_dict[k])}"
                      for k in not_arrays]
            if missing:
                lines.append("  missing keys: " + ", ".join(missing))
            if unexpected:
                lines.append("  unexpected keys: " + ", ".join(unexpected))
            if mismatched:
                lines.append("  size mismatch: " + "; ".join(mismatched))
            raise RuntimeError("\n".join(lines))
        params = dict(self.named_parameters())
        for key, target in own.items():
            if key in state_dict:
                xp = backend.get_array_module(target)
                source = backend.to_device(_array(state_dict[key]), backend.device_of(target))
                target[...] = xp.asarray(source).astype(target.dtype, copy=False)
                if key in params:  # an in-place write, counted as torch's copy_ counts it
                    params[key]._version_counter.version += 1
        return IncompatibleKeys(missing, unexpected)

    # ---- printing
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        for name, child in self._modules.items():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n" + "\n".join(lines) + "\n)"


def _array(value):
    """The raw array behind a Tensor, or the array itself."""
    return value.data if isinstance(value, Tensor) else value


def _is_array(value):
    """A NumPy or CuPy array (or scalar), or a Tensor: what a state_dict entry may be."""
    return isinstance(value, (Tensor, np.ndarray, np.generic)) or backend.is_cupy(value)


class _Handle:
    _next_id = 0

    def __init__(self, table, hook):
        _Handle._next_id += 1
        self.table, self.id = table, _Handle._next_id
        table[self.id] = hook

    def remove(self):
        self.table.pop(self.id, None)
