"""``autograd.grad``: gradients of outputs with respect to chosen inputs, returned rather
than added into ``.grad``, with torch's signature and semantics."""
from ..function import run_backward
from ..tensor import Tensor, seed_gradient


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Σ_j ⟨grad_outputs_j, ∂outputs_j/∂input⟩ for each input, as a tuple of Tensors.

    ``inputs`` may be leaves or intermediate tensors; only the part of the graph between the
    outputs and them is run, and no ``.grad`` changes. ``grad_outputs`` defaults to 1 for
    one-element outputs. ``create_graph=True`` returns gradients that are themselves in a
    graph (differentiate them again for second derivatives); ``retain_graph`` defaults to
    ``create_graph``. An input the outputs do not depend on is an error unless
    ``allow_unused=True`` (its gradient is then None) or ``materialize_grads=True`` (zeros).
    """
    if is_grads_batched:
        raise NotImplementedError("grad: is_grads_batched=True is not supported (no vmap)")
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when "
                         "materialize_grads=True, but got: allow_unused=False.")
    allow_unused = materialize_grads if allow_unused is None else allow_unused
    outputs = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
    single_input = isinstance(inputs, Tensor)
    inputs = (inputs,) if single_input else tuple(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = (grad_outputs,) * len(outputs) if grad_outputs is None else (
            grad_outputs,)
    grad_outputs = tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad requires one grad_output per output: got {len(outputs)} "
                           f"outputs and {len(grad_outputs)} grad_outputs")
    for i, y in enumerate(outputs):
        if not y.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not "
                               "have a grad_fn")
    for x in inputs:
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    seeds = [seed_gradient(y, g, create_graph, "grad") for y, g in zip(outputs, grad_outputs)]
    retain = create_graph if retain_graph is None else retain_graph
    found = run_backward(outputs, seeds, retain, create_graph, inputs, accumulate=False)
    result = []
    for x, g in zip(inputs, found):
        if g is None:
            if not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have "
                                   "been used in the graph. Set allow_unused=True if this "
                                   "is the desired behavior.")
            if materialize_grads:
                g = Tensor(x.data * 0)
        elif not isinstance(g, Tensor):
            g = Tensor(g)
        result.append(g)
    return tuple(result)
