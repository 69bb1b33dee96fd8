"""``autograd.grad``: gradients of outputs with respect to chosen inputs, returned rather
than added into ``.grad``; ``autograd.backward``: ``Tensor.backward`` for several outputs at
once. torch's signatures and semantics."""
import warnings

from .. import backend
from ..engine import run_backward
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
    outputs, grad_outputs = _paired(outputs, grad_outputs, "grad", "output", "grad_output")
    single_input = isinstance(inputs, Tensor)
    inputs = (inputs,) if single_input else tuple(inputs)
    for x in inputs:
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    seeds = [seed_gradient(y, g, create_graph, "grad") for y, g in zip(outputs, grad_outputs)]
    retain = create_graph if retain_graph is None else retain_graph
    found = run_backward(outputs, seeds, retain, create_graph, inputs, accumulate=False)
    result, given = [], [s for s in seeds if not isinstance(s, Tensor)]
    for x, g in zip(inputs, found):
        if g is None:
            if not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have "
                                   "been used in the graph. Set allow_unused=True if this "
                                   "is the desired behavior.")
            if materialize_grads:
                g = Tensor(x.data * 0)
        elif not isinstance(g, Tensor):
            # an array that backward also gave to another input, or the seed: a copy of its
            # own, so that writing into one result never changes another (add's gradients)
            if any(backend.get_array_module(g).shares_memory(g, other) for other in given):
                g = g.copy()
            given.append(g)
            g = Tensor(g)
        result.append(g)
    return tuple(result)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             inputs=None):
    """Σ_j ⟨grad_tensors_j, ∂tensors_j/∂leaf⟩ added into every leaf's ``.grad`` (only into
    ``inputs``' when given), in one pass over the graph: ``Tensor.backward`` for several
    outputs, as ``torch.autograd.backward``."""
    tensors, grad_tensors = _paired(tensors, grad_tensors, "backward", "tensor", "grad_tensor")
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        if not inputs:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    if create_graph:
        warnings.warn("Using backward() with create_graph=True will create a reference cycle "
                      "between the parameter and its gradient which can cause a memory leak. "
                      "We recommend using autograd.grad when creating the graph to avoid "
                      "this. If you have to use this function, make sure to reset the .grad "
                      "fields of your parameters to None after use to break the cycle and "
                      "avoid the leak.", UserWarning, stacklevel=2)
    seeds = [seed_gradient(y, g, create_graph, "backward")
             for y, g in zip(tensors, grad_tensors)]
    retain = create_graph if retain_graph is None else retain_graph
    run_backward(tensors, seeds, retain, create_graph, inputs)


def _paired(outputs, grads, call, output, grad):
    """(outputs, one gradient or None per output) as tuples, checked with torch's messages."""
    outputs = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
    if grads is None:
        grads = (None,) * len(outputs)
    grads = (grads,) if isinstance(grads, Tensor) else tuple(grads)
    if len(grads) != len(outputs):
        raise RuntimeError(f"{call} requires one {grad} per {output}: got {len(outputs)} "
                           f"{output}s and {len(grads)} {grad}s")
    for i, y in enumerate(outputs):
        if not y.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not "
                               "have a grad_fn")
    return outputs, grads
