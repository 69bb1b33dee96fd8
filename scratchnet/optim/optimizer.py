"""Optimizer: the bookkeeping every update rule shares, as ``torch.optim.Optimizer`` has it.

An optimizer holds ``param_groups``, a list of dicts, each with ``'params'`` (a list of
Tensors) and that group's options (``lr``, ``momentum``, ...), and ``state``, a dict from each
parameter to its own buffers (momentum, moment estimates, step count). A subclass writes one
rule, ``_update(param, grad, state, group)``, on raw NumPy/CuPy arrays; ``step()`` calls it for
every parameter whose ``.grad`` is set. Updates are in place on ``param.data`` and never touch
autograd: the arrays are updated directly, so no graph is recorded.
"""
import warnings
from collections import defaultdict

import numpy as np

from .. import backend
from ..function import enable_grad
from ..tensor import Tensor


class Optimizer:
    """Base class of all optimizers.

    ``params`` is an iterable of Tensors, or of dicts that each define a parameter group:
    ``{'params': [...], 'lr': 0.1}``; options a group leaves out come from ``defaults``.
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._validate(defaults)
        if isinstance(params, Tensor):
            raise TypeError(f"{self._name}: params should be an iterable of Tensors or dicts, "
                            "but got a Tensor")
        self.state = defaultdict(dict)
        self.param_groups = []
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self):
        return type(self).__name__

    def add_param_group(self, param_group):
        """Append a group (a dict with ``'params'`` and any per-group options), e.g. to start
        training layers that were frozen. Options it leaves out come from ``defaults``."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}: param_group must be a dict, "
                            f"but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, set):
            raise TypeError(f"{self._name}: optimizer parameters need to be organized in ordered "
                            "collections, but the ordering of tensors in sets will change "
                            "between runs; use a list instead")
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{self._name}: optimizer can only optimize Tensors, "
                                f"but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{self._name}: can't optimize a non-leaf Tensor "
                                 f"(shape {p.shape}, made by {type(p.grad_fn).__name__})")
        group = {**self.defaults, **param_group, "params": params}
        self._validate(group)
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            warnings.warn(f"{self._name}: a parameter group contains duplicate parameters; "
                          "they are updated once per occurrence", stacklevel=2)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if not seen.isdisjoint(ids):
            raise ValueError(f"{self._name}: some parameters appear in more than one "
                             "parameter group")
        self.param_groups.append(group)

    def _validate(self, options):
        check_implementation_flags(self._name, options)
        self._check_options(options)

    def _check_options(self, options):
        """Raise a ValueError naming the optimizer and the option when one is out of range."""

    def zero_grad(self, set_to_none=True):
        """Forget the gradients of every parameter: ``.grad = None`` (the default, as in torch),
        or, with ``set_to_none=False``, fill the existing gradient arrays with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.zero_()

    def step(self, closure=None):
        """Update every parameter that has a ``.grad``; those with ``grad is None`` are skipped.

        ``closure``, if given, re-evaluates the model (zero_grad, forward, backward) and
        returns the loss; it runs with grad mode on, and ``step`` returns its loss.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        updates = []  # every gradient is checked before any parameter changes
        for g, group in enumerate(self.param_groups):
            for i, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                grad = p.grad.data
                if grad.shape != p.data.shape or grad.dtype != p.data.dtype:
                    raise ValueError(
                        f"{self._name}.step: parameter {i} of group {g} has shape {p.shape} and "
                        f"dtype {p.dtype}, but its grad has shape {tuple(grad.shape)} and dtype "
                        f"{grad.dtype}")
                updates.append((p, grad, group))
        for p, grad, group in updates:
            state = self.state.get(p, {})  # .get: no entry for rules that keep no buffer
            with backend.using_device_of(p.data):     # the parameter's GPU is the current one
                self._update(p.data, grad, state, group)
            p._version_counter.version += 1  # an in-place write, as torch counts it
            if state:
                self.state[p] = state
        return loss

    def _update(self, param, grad, state, group):
        """Update the array ``param`` in place from ``grad``; ``state`` is its dict of buffers."""
        raise NotImplementedError

    def state_dict(self):
        """The optimizer's state in torch's layout::

            {'state': {index: {'momentum_buffer': array, ...}, ...},
             'param_groups': [{'lr': 0.1, ..., 'params': [0, 1]}, ...]}

        Parameters are numbered in the order of ``param_groups``. The arrays are the live
        buffers (as in torch): copy them before stepping again if you need a snapshot.
        """
        index, groups = {}, []
        for group in self.param_groups:
            start = sum(len(g["params"]) for g in groups)  # torch's numbering, duplicates too
            for i, p in enumerate(group["params"], start):
                index.setdefault(id(p), i)
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore what ``state_dict()`` returned (arrays may be NumPy or CuPy). Buffers are
        copied onto each parameter's device and dtype; ``step`` counters stay on the CPU."""
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups):
            raise ValueError(f"{self._name}.load_state_dict: the state dict has {len(saved)} "
                             f"parameter groups, the optimizer has {len(self.param_groups)}")
        params_at = {}
        for g, (ours, theirs) in enumerate(zip(self.param_groups, saved)):
            if len(ours["params"]) != len(theirs["params"]):
                raise ValueError(
                    f"{self._name}.load_state_dict: parameter group {g} has "
                    f"{len(theirs['params'])} parameters in the state dict but "
                    f"{len(ours['params'])} in the optimizer")
            params_at.update(zip(theirs["params"], ours["params"]))
        state = defaultdict(dict)
        for index, buffers in state_dict["state"].items():
            if int(index) not in params_at:
                raise ValueError(f"{self._name}.load_state_dict: state for parameter "
                                 f"{index}, which no parameter group lists")
            p = params_at[int(index)]
            state[p] = {key: self._load_buffer(p, index, key, value)
                        for key, value in buffers.items()}
        # options missing from an older state dict fall back to the defaults, as in torch
        self.param_groups = [{**self.defaults, **theirs, "params": ours["params"]}
                             for ours, theirs in zip(self.param_groups, saved)]
        self.state = state

    def _load_buffer(self, p, index, key, value):
        value = value.data if isinstance(value, Tensor) else value
        if key == "step":
            return np.array(backend.to_numpy(value))  # host: a copy, on the CPU as in torch
        if not (isinstance(value, np.ndarray) or backend.is_cupy(value)):
            return value
        if tuple(value.shape) != p.shape:
            raise ValueError(f"{self._name}.load_state_dict: {key!r} of parameter {index} has "
                             f"shape {tuple(value.shape)}, the parameter has shape {p.shape}")
        return backend.to_device(value, p.device).astype(p.dtype, copy=True)

    def __repr__(self):
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"


def check_non_negative(optimizer, description, name, value):
    """torch's range check, with the optimizer and the argument named:
    ``SGD: Invalid learning rate: lr=-0.1 (must be >= 0)``."""
    if not value >= 0.0:  # also catches NaN
        raise ValueError(f"{optimizer}: Invalid {description}: {name}={value} (must be >= 0)")


def check_implementation_flags(optimizer, options):
    """torch's ``foreach``, ``fused`` and ``capturable`` choose among implementations of one
    formula (a loop, multi-tensor kernels, one fused kernel, CUDA-graph capture); scratchnet has
    one implementation per array backend, so they are accepted, kept in the param groups (as
    torch keeps them) and otherwise ignored. ``differentiable=True`` asks for a step recorded by
    autograd, which an in-place update on arrays cannot give: it is refused."""
    if options.get("differentiable"):
        raise NotImplementedError(
            f"{optimizer}: differentiable=True is not supported: scratchnet optimizers update "
            "the parameter arrays in place, outside autograd, so a step cannot be "
            "differentiated; leave differentiable=False")
    if options.get("fused") and options.get("foreach"):
        raise RuntimeError(f"{optimizer}: `fused` and `foreach` cannot be `True` together.")
