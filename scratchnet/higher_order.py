"""The differentiable backward that ``create_graph=True`` runs for each Function.

A Function's ``backward`` works on arrays, which no later pass can differentiate. Under
``create_graph`` the engine calls ``differentiable_backward(fn, grad_outputs)`` instead, with
the gradients as Tensors; it takes the first of these that ``fn`` offers:

1. ``backward_graph(*grad_outputs)``: the backward formula once more, written with scratchnet
   ops on Tensors (``graph_input``/``graph_output`` turn the arrays forward saved back into
   tensors of the graph). For ops with a second derivative: mul, exp, matmul, conv, softmax.
2. ``jvp(*input_tangents)`` on arrays, or ``linear = True`` (forward itself is the Jacobian
   map): an op whose Jacobian J does not depend on its inputs wherever it is differentiable
   (linear ops: reshape, sum, add, avg pool; piecewise linear ones: relu, max pool, dropout)
   has gx = Jᵀ·gy, linear in gy alone. ``Adjoint(op)`` is that map as a Function (forward
   Jᵀ·g = ``op.backward``, backward J·g = ``op.jvp``); its differentiable backward is
   ``Tangent(op)``, J as a Function, whose own is ``Adjoint(op)`` again: every order, for
   the price of one jvp.
3. ``composite(*inputs)``: the op rebuilt from other scratchnet ops (batch norm, LRN,
   cross-entropy, layer norm), with ``composite_inputs()`` giving its inputs as tensors of
   the graph: its gradient is that composite's, taken with create_graph (each input behind
   a ``Capture``, so the pass stops there). The fused array backward stays what first-order
   backward runs.

A Function with none of these (a custom one) still runs under ``create_graph``: its array
gradients come out of a ``NotDifferentiableTwice`` node that raises, naming the Function,
only if a later backward reaches it (torch's ``once_differentiable`` behaves the same).
"""
import copy
import weakref

import numpy as np

from . import backend
from .function import Function, _graph_tensor, _no_tensor, enable_grad
from .tensor import Tensor

# what Function.__call__ and the engine set on a Function; a fresh call of an op drops them
_ENGINE_STATE = ("inputs", "outputs", "_output_meta", "generation", "needs_input_grad",
                 "_saved", "_saved_versions", "_released", "_output_hooks", "_forward_trace")


def differentiable_backward(fn, grads):
    """``fn``'s input gradients as Tensors of a graph (module docstring), from ``grads``
    (one Tensor per output)."""
    with enable_grad():
        if getattr(fn, "backward_graph", None) is not None:
            return fn.backward_graph(*grads)
        if fn.linear or getattr(fn, "jvp", None) is not None:
            return adjoint_of(fn, grads)
        if getattr(fn, "composite", None) is not None:
            return composite_gradients(fn, grads)
    return not_differentiable_twice(fn, grads)


def _positions(op):
    return [i for i, need in enumerate(op.needs_input_grad) if need]


def _spread(op, values):
    """Per input of ``op``: the value for each input that needs a gradient, else None."""
    full = [None] * len(op.needs_input_grad)
    for i, v in zip(_positions(op), values):
        full[i] = v
    return tuple(full)


def adjoint_of(op, grads):
    """gx = Jᵀ·gy for an op with a constant Jacobian, as the Function ``Adjoint(op)``. It
    holds a shallow copy of ``op``: the copy keeps what op saved after op's own backward
    frees it (as torch's double-backward nodes keep their own saved tensors)."""
    return _spread(op, _as_tuple(Adjoint(copy.copy(op))(*grads)))


def _as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


class Adjoint(Function):
    """g ↦ Jᵀ·g for an op whose Jacobian J is constant (``op.backward`` on the arrays); one
    input per output of ``op``, one output per input of ``op`` that needs a gradient."""

    def __init__(self, op):
        self.op = op

    def forward(self, *grad_outputs):
        return vjp_arrays(self.op, grad_outputs)

    def backward(self, *tangents):
        return jvp_arrays(self.op, tangents, self.op_outputs_differentiable())

    def backward_graph(self, *tangents):
        out = _as_tuple(Tangent(self.op)(*tangents))
        return tuple(t if keep else None
                     for t, keep in zip(out, self.op_outputs_differentiable()))

    def op_outputs_differentiable(self):
        return [np.dtype(dtype).kind == "f" for _, dtype in self.op._output_meta]


class Tangent(Function):
    """d ↦ J·d for the same ops as ``Adjoint``: one input per input of ``op`` that needs a
    gradient, one output per output of ``op``. Its backward is ``Adjoint``'s forward."""

    def __init__(self, op):
        self.op = op

    def forward(self, *tangents):
        return jvp_arrays(self.op, tangents, None)

    def backward(self, *grad_outputs):
        return vjp_arrays(self.op, grad_outputs)

    def backward_graph(self, *grad_outputs):
        return Adjoint(self.op)(*grad_outputs)


def vjp_arrays(op, grad_outputs):
    """Jᵀ·g: ``op.backward``'s gradients for the inputs that need one (zeros for a None)."""
    grads = _as_tuple(op.backward(*grad_outputs))
    xp = backend.get_array_module(*[g for g in grad_outputs if g is not None])
    out = []
    for i in _positions(op):
        g = grads[i]
        out.append(xp.zeros(op.inputs[i].shape, op.inputs[i].dtype) if g is None
                   else xp.asarray(g, dtype=op.inputs[i].dtype))
    return tuple(out)


def jvp_arrays(op, tangents, keep):
    """J·d: the output tangents of ``op`` for input tangents ``tangents`` (one per input that
    needs a gradient). ``op.jvp`` gets None for the other inputs; a ``linear`` op's forward
    gets zeros for other float inputs and the actual values of the rest (indices)."""
    xp = backend.get_array_module(*tangents)
    full = list(_spread(op, tangents))
    if hasattr(op, "jvp"):
        out = _as_tuple(op.jvp(*full))
    else:
        for i, x in enumerate(op.inputs):
            if full[i] is None and x is not None:
                full[i] = (xp.zeros(x.shape, x.dtype) if np.dtype(x.dtype).kind == "f"
                           else x.data)
        out = _as_tuple(fresh(op).forward(*full))
    result = []
    for k, (shape, dtype) in enumerate(op._output_meta):
        y = out[k] if k < len(out) else None
        if keep is not None and not keep[k]:
            result.append(None)
        elif y is None:
            result.append(xp.zeros(shape, dtype))
        else:
            result.append(xp.asarray(y, dtype=dtype).reshape(shape))
    return tuple(result)


def fresh(op):
    """A new, unrecorded instance of ``op`` with its settings (stride, dims, shapes...)."""
    new = object.__new__(type(op))
    new.__dict__.update({k: v for k, v in op.__dict__.items() if k not in _ENGINE_STATE})
    return new


class Capture(Function):
    """The identity; while ``box`` is a list, backward puts its gradient there and sends
    nothing further. ``composite_gradients`` sets inputs behind these to collect their
    gradients in one pass that does not run on into the graph that made them."""

    linear = True
    box = None

    def forward(self, x):
        return x

    def backward(self, gy):
        if self.box is not None:
            self.box.append(gy)
            return None
        return gy

    backward_graph = backward


def composite_gradients(fn, grads, inputs=None):
    """The gradients of ``fn.composite`` at ``fn``'s inputs (each behind a ``Capture``),
    for the output gradients ``grads``, as Tensors of a graph."""
    from .engine import run_backward

    inputs = fn.composite_inputs() if inputs is None else inputs
    captures = [Capture() if x is not None and need else None
                for x, need in zip(inputs, fn.needs_input_grad)]
    seen = [c(x) if c is not None else x for c, x in zip(captures, inputs)]
    outputs = _as_tuple(fn.composite(*seen))
    live = [(y, g) for y, g in zip(outputs, grads) if y.requires_grad]
    for c in captures:
        if c is not None:
            c.box = []
    if live:
        run_backward([y for y, _ in live], [g for _, g in live], retain_graph=True,
                     create_graph=True)
    result = []
    for c, x in zip(captures, seen):
        if c is None:
            result.append(None)
            continue
        box, c.box = c.box, None
        result.append(box[0] if box else None)
    return tuple(result)


class NotDifferentiableTwice(Function):
    """Where the gradients of a Function without a differentiable backward come from under
    ``create_graph``: backpropagating into it raises, naming that Function."""

    always_run = True  # autograd.grad must reach it (and raise), though it has no inputs

    def __init__(self, name):
        self.name = name

    def backward(self, *grad_outputs):
        raise RuntimeError(
            f"{self.name}: its backward is not differentiable (it defines no backward_graph, "
            "jvp or composite), so the gradients it computed under create_graph=True cannot "
            "be differentiated again")


def not_differentiable_twice(fn, grads):
    """``fn``'s array backward, its gradients made outputs of a ``NotDifferentiableTwice``."""
    arrays = _as_tuple(fn.backward(*(g.data for g in grads)))
    node = NotDifferentiableTwice(type(fn).__name__)
    node.inputs, outputs = (), []
    for k, a in enumerate(arrays):
        if a is None:
            outputs.append(None)
            continue
        a = np.asarray(a) if isinstance(a, np.generic) else a
        outputs.append(_graph_tensor(a, node, k) if a.dtype.kind == "f" else Tensor(a))
    node.outputs = [weakref.ref(t) if t is not None else _no_tensor for t in outputs]
    node._output_meta = [((0,), np.float32) if t is None else (t.data.shape, t.data.dtype)
                         for t in outputs]
    return tuple(outputs)


def sum_to(t, shape):
    """``t`` summed over the axes it was broadcast on to reach ``shape`` (differentiable
    unbroadcast, for backward_graph formulas)."""
    shape = tuple(shape)
    if t.shape == shape:
        return t
    lead = t.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and t.shape[lead + i] != 1)
    return t.sum(dim=axes, keepdim=True).reshape(shape) if axes else t.reshape(shape)
