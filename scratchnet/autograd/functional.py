"""``autograd.functional``, as torch's: vjp, jvp, vhp, hvp, jacobian and hessian of a Python
function of Tensors, each built on ``autograd.grad``.

``inputs`` is a Tensor or a tuple of them, and results follow that form (a Tensor, or a
tuple; a Jacobian of tuples is a tuple per output of tuples per input). The inputs are
taken as fresh leaves (detached) unless ``create_graph=True``, when the results stay
differentiable with respect to inputs that require grad.

jvp uses the double-vjp trick (as torch does): u ↦ Jᵀu is linear, so J·v = ∂⟨Jᵀu, v⟩/∂u.
"""
from .. import backend
from ..function import enable_grad
from ..tensor import Tensor
from .grad import grad


def _tuple(x):
    return ((x,), False) if isinstance(x, Tensor) else (tuple(x), True)


def _prepare(inputs, create_graph):
    """Leaves that require grad (aliases of the inputs under create_graph)."""
    out = []
    for x in inputs:
        if create_graph and x.requires_grad:
            out.append(x.view_as(x))       # still connected to x
        else:
            leaf = x.detach()
            leaf.requires_grad = True
            out.append(leaf)
    return tuple(out)


def _finish(values, create_graph):
    return tuple(None if v is None else (v if create_graph else v.detach()) for v in values)


def _grads(outputs, inputs, grad_outputs, create_graph, strict):
    """∂⟨outputs, grad_outputs⟩/∂inputs; zeros for inputs the outputs do not use (an error
    with ``strict=True``, as torch)."""
    live = [(y, g) for y, g in zip(outputs, grad_outputs) if y.requires_grad]
    if not live:
        found = (None,) * len(inputs)
    else:
        found = grad([y for y, _ in live], inputs, [g for _, g in live], retain_graph=True,
                     create_graph=create_graph, allow_unused=True)
    result = []
    for x, g in zip(inputs, found):
        if g is None:
            if strict:
                raise RuntimeError("The output of the user-provided function is independent "
                                   "of an input. This is not allowed in strict mode.")
            g = Tensor(backend.get_array_module(x.data).zeros_like(x.data))
        result.append(g)
    return tuple(result)


def _check_v(v, like, name):
    if v is None:
        if any(t.numel() != 1 for t in like):
            raise RuntimeError(f"The vector v can only be None if the {name} is a single "
                               "element Tensor.")
        return tuple(Tensor(backend.get_array_module(t.data).ones_like(t.data)) for t in like)
    v, _ = _tuple(v)
    if len(v) != len(like) or any(a.shape != b.shape for a, b in zip(v, like)):
        raise RuntimeError(f"v has the wrong shape for the {name}: expected "
                           f"{[t.shape for t in like]}, got {[t.shape for t in v]}")
    return v


def _call(func, inputs):
    """func's outputs as a tuple, and whether func returned a tuple."""
    return _tuple(func(*inputs))


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), vᵀ·J): the vector-Jacobian product at ``inputs``."""
    inputs, is_tuple = _tuple(inputs)
    with enable_grad():
        x = _prepare(inputs, create_graph)
        outputs, out_tuple = _call(func, x)
        v = _check_v(v, outputs, "outputs")
        result = _grads(outputs, x, v, create_graph, strict)
    outputs = _finish(outputs, create_graph)
    return (outputs if out_tuple else outputs[0]), (
        _finish(result, create_graph) if is_tuple else _finish(result, create_graph)[0])


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J·v): the Jacobian-vector product, by two vjps."""
    inputs, _ = _tuple(inputs)
    with enable_grad():
        x = _prepare(inputs, create_graph)
        v = _check_v(v, x, "inputs")
        outputs, out_tuple = _call(func, x)
        dummies = []
        for y in outputs:
            u = Tensor(backend.get_array_module(y.data).zeros_like(y.data))
            u.requires_grad = True
            dummies.append(u)
        g = _grads(outputs, x, dummies, True, strict)             # Jᵀu, linear in u
        live = [(gi, vi) for gi, vi in zip(g, v) if gi.requires_grad]
        result = _grads([a for a, _ in live], dummies, [b for _, b in live], create_graph,
                        strict)
    outputs = _finish(outputs, create_graph)
    result = _finish(result, create_graph)
    return (outputs if out_tuple else outputs[0]), (result if out_tuple else result[0])


def _scalar_output(func, x, name):
    outputs, out_tuple = _call(func, x)
    if out_tuple or outputs[0].numel() != 1:
        raise RuntimeError(f"The function given to {name} should return a single element "
                           "Tensor")
    return outputs[0]


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), vᵀ·H) for a scalar ``func``: the gradient of ⟨∇f, v⟩."""
    inputs, is_tuple = _tuple(inputs)
    with enable_grad():
        x = _prepare(inputs, create_graph)
        y = _scalar_output(func, x, "vhp")
        v = _check_v(v, x, "inputs")
        g = _grads((y,), x, (Tensor(backend.get_array_module(y.data).ones_like(y.data)),),
                   True, strict)
        live = [(gi, vi) for gi, vi in zip(g, v) if gi.requires_grad]
        result = _grads([a for a, _ in live], x, [b for _, b in live], create_graph, strict)
    result = _finish(result, create_graph)
    return _finish((y,), create_graph)[0], (result if is_tuple else result[0])


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H·v). The Hessian is symmetric, so this is vhp (torch computes it by
    the double-vjp trick; the values agree)."""
    return vhp(func, inputs, v, create_graph, strict)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """∂func(inputs)/∂inputs, one row (one backward) per output element: for an output of
    shape S and an input of shape T the block has shape S + T."""
    if strategy != "reverse-mode":
        raise NotImplementedError("jacobian: only strategy='reverse-mode' is supported")
    inputs, is_tuple = _tuple(inputs)
    with enable_grad():
        x = _prepare(inputs, create_graph)
        outputs, out_tuple = _call(func, x)
        blocks = []
        for y in outputs:
            rows = [[] for _ in x]
            xp = backend.get_array_module(y.data)
            for k in range(y.numel()):
                onehot = xp.zeros(y.numel(), y.dtype)
                onehot[k] = 1
                g = _grads((y,), x, (Tensor(onehot.reshape(y.shape)),), create_graph, strict)
                for row, gi in zip(rows, g):
                    row.append(gi)
            blocks.append(tuple(_stack_rows(row, y.shape, xi.shape, xp)
                                for row, xi in zip(rows, x)))
    blocks = [_finish(b, create_graph) for b in blocks]
    blocks = [b if is_tuple else b[0] for b in blocks]
    return tuple(blocks) if out_tuple else blocks[0]


def _stack_rows(rows, out_shape, in_shape, xp):
    from ..functional import stack

    if not rows:
        return Tensor(xp.zeros(tuple(out_shape) + tuple(in_shape)))
    return stack(rows).reshape(tuple(out_shape) + tuple(in_shape))


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """∂²func/∂inputs² for a scalar ``func``: the Jacobian of its gradient (shape T + T for
    an input of shape T; a tuple of tuples for several inputs)."""
    inputs, is_tuple = _tuple(inputs)

    def gradient(*x):
        y = _scalar_output(func, x, "hessian")
        return _grads((y,), x, (Tensor(backend.get_array_module(y.data).ones_like(y.data)),),
                      True, strict)

    result = jacobian(gradient, inputs, create_graph, strict, vectorize,
                      outer_jacobian_strategy)
    return result if is_tuple else result[0][0]

