"""Module backward hooks (``register_full_backward_hook``, ``register_full_backward_pre_hook``)
the way torch builds them: two identity Functions around the module's forward.

    inputs ──► [InputsBoundary] ──► forward(...) ──► [OutputsBoundary] ──► outputs

Backward reaches ``OutputsBoundary`` first, with the gradients of the outputs: it runs the
pre-hooks (which may replace them) and keeps them. It then reaches ``InputsBoundary`` with
the gradients of the inputs: the hooks run there, with both, and may replace the inputs'
gradients. When no input requires grad there is no ``InputsBoundary``, and the hooks run at
the outputs with a grad_input of Nones (torch's rule). Under ``create_graph`` the boundaries
hand the hooks the gradients of the graph themselves (``backward_graph``), so what a hook
returns stays differentiable.
"""
from ..function import Function
from ..tensor import Tensor


class _Call:
    """One forward call of a hooked module: what its two boundaries share."""

    def __init__(self, module, n_inputs):
        self.module, self.n_inputs = module, n_inputs
        self.grad_output = None
        self.has_input_boundary = False

    def run_hooks(self, grad_input):
        for hook in list(self.module._backward_hooks.values()):
            result = hook(self.module, grad_input, self.grad_output)
            if result is None:
                continue
            if not self.has_input_boundary:
                raise RuntimeError("backward hook returned a grad_input, but no input of the "
                                   f"module {type(self.module).__name__} requires grad")
            result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
            if len(result) != len(grad_input):
                raise RuntimeError(f"backward hook returned {len(result)} gradients, expected "
                                   f"{len(grad_input)} (one per input of "
                                   f"{type(self.module).__name__})")
            grad_input = result
        return grad_input


class InputsBoundary(Function):
    """Identity on the module's inputs; its backward runs the hooks on their gradients."""

    def __init__(self, call, slots):
        self.call, self.slots = call, slots     # slots: where each input sits in args/output

    def forward(self, *arrays):
        return arrays

    def backward(self, *grads):
        return self.hooked(tuple(Tensor(g) for g in grads), _array)

    def backward_graph(self, *grads):
        return self.hooked(grads, _tensor)

    def hooked(self, grads, give):
        """Run the hooks on ``grads`` (Tensors); ``give`` turns each result into what the
        engine expects back (an array, or a Tensor under create_graph)."""
        grad_input = [None] * self.call.n_inputs     # None for arguments that are not floats
        for slot, g, graded in zip(self.slots, grads, self.needs_input_grad):
            if g.dtype.kind == "f":                  # zeros for a tensor without grad (torch)
                grad_input[slot] = g if graded else g * 0
        grad_input = self.call.run_hooks(tuple(grad_input))
        return tuple(give(grad_input[slot]) for slot in self.slots)


class OutputsBoundary(InputsBoundary):
    """Identity on the module's outputs; its backward runs the pre-hooks and keeps the
    outputs' gradients for the hooks."""

    def hooked(self, grad_output, give):
        for hook in list(self.call.module._backward_pre_hooks.values()):
            result = hook(self.call.module, grad_output)
            if result is not None:
                grad_output = tuple(result) if isinstance(result, (tuple, list)) else (result,)
        self.call.grad_output = grad_output
        if not self.call.has_input_boundary:
            self.call.run_hooks((None,) * self.call.n_inputs)
        return tuple(give(g) for g in grad_output)


def _array(g):
    return None if g is None else g.data


def _tensor(g):
    return g if g is None or isinstance(g, Tensor) else Tensor(g)


def wrap_inputs(module, args):
    """(the call's shared state, args with their tensors passed through an InputsBoundary
    when any of them requires grad; then all of them get a gradient, as in torch)."""
    call = _Call(module, len(args))
    slots = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    if not any(args[i].requires_grad for i in slots):
        return call, args
    call.has_input_boundary = True
    outs = InputsBoundary(call, slots)(*(args[i] for i in slots))
    outs = outs if isinstance(outs, tuple) else (outs,)
    args = list(args)
    for i, y in zip(slots, outs):
        args[i] = y
    return call, tuple(args)


def wrap_outputs(call, output):
    """``output`` (a Tensor, or a tuple/list holding Tensors) with the tensors that require
    grad passed through an OutputsBoundary."""
    items = list(output) if isinstance(output, (tuple, list)) else [output]
    graded = [i for i, y in enumerate(items) if isinstance(y, Tensor) and y.requires_grad]
    if not graded:
        return output
    outs = OutputsBoundary(call, graded)(*(items[i] for i in graded))
    outs = outs if isinstance(outs, tuple) else (outs,)
    for i, y in zip(graded, outs):
        items[i] = y
    if isinstance(output, (tuple, list)):
        return type(output)(items)
    return items[0]
