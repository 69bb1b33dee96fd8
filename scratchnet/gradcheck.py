"""Numerical gradient checking: analytic backward against central differences.

For inputs x_1..x_k and outputs y_1..y_m, draw a random upstream gradient u_j per output and
compare, for every element of every input that requires grad,

    analytic:  ∂/∂x (Σ_j <u_j, y_j>)    by one backward pass
    numeric:   (L(x + eps) − L(x − eps)) / (2 eps)   with L = Σ_j <u_j, y_j>

which checks the whole Jacobian contracted with u. A random u (never all ones) matters: for
softmax or batch norm the gradient of ``y.sum()`` is identically zero and checks nothing.
"""
import numpy as np

from . import backend
from .function import enable_grad, no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    pass


def _outputs(fn, inputs):
    out = fn(*inputs)
    return [y for y in (out if isinstance(out, (tuple, list)) else (out,))
            if isinstance(y, Tensor) and y.dtype.kind == "f"]


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """True if ``fn``'s backward matches central differences on ``inputs`` (float64 tensors).

    Passes when the analytic gradient has its input's shape and |analytic − numeric| ≤
    atol + rtol·|numeric| for every element (torch's rule).
    Otherwise raises ``GradcheckError`` naming the input, the element index and both values of
    the worst element, or returns False when ``raise_exception=False``.
    """
    inputs = tuple(inputs)
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.requires_grad and x.dtype != np.float64:
            raise ValueError(f"gradcheck: input {i} is {x.dtype}; central differences need "
                             "float64 inputs (use .double())")
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")

    rng = np.random.default_rng(seed)
    outputs = _outputs(fn, inputs)
    xp = backend.get_array_module(outputs[0].data)
    upstream = [xp.asarray(rng.standard_normal(y.shape)) for y in outputs]

    for i in checked:
        inputs[i].grad = None
    total = sum((y * Tensor(u)).sum() for y, u in zip(outputs, upstream))
    total.backward()

    def loss():
        with no_grad():
            return float(sum(float((y.data * u).sum())
                             for y, u in zip(_outputs(fn, inputs), upstream)))

    worst = None
    for i in checked:
        x = inputs[i]
        analytic = (backend.to_numpy(x.grad.data) if x.grad is not None
                    else np.zeros(x.shape))
        if analytic.shape != x.shape:
            raise GradcheckError(f"gradcheck: the analytic gradient of input {i} has shape "
                                 f"{analytic.shape}, but the input has shape {x.shape}")
        flat = x.data.reshape(-1)  # a view: perturbing it perturbs x
        for k in range(flat.size):
            original = flat[k].item()
            flat[k] = original + eps
            plus = loss()
            flat[k] = original - eps
            minus = loss()
            flat[k] = original
            numeric = (plus - minus) / (2 * eps)
            a = analytic.reshape(-1)[k]
            excess = abs(a - numeric) - (atol + rtol * abs(numeric))
            if worst is None or excess > worst[0]:
                worst = (excess, i, np.unravel_index(k, x.shape), a, numeric)
    if worst[0] <= 0:
        return True
    _, i, index, a, numeric = worst
    message = (f"gradcheck: gradient of input {i} at index {tuple(int(j) for j in index)}: "
               f"analytic {a:.10g}, numeric {numeric:.10g} (atol={atol}, rtol={rtol})")
    if raise_exception:
        raise GradcheckError(message)
    return False


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, seed=0):
    """``gradcheck`` of the first derivative: True if the second derivatives of ``func``
    (double backward) match central differences of its (analytic) first derivatives.

    The first derivative checked is x, v ↦ ∂⟨func(x), v⟩/∂x, computed with
    ``autograd.grad(..., create_graph=True)``, as a function of both the inputs and the
    output gradients v (random float64 unless ``grad_outputs`` is given), as torch's
    ``gradgradcheck`` does with its defaults.
    """
    from .autograd import grad

    inputs = tuple(inputs)
    outputs = _outputs(func, inputs)
    rng = np.random.default_rng(seed + 1)
    if grad_outputs is None:
        xp = backend.get_array_module(outputs[0].data)
        grad_outputs = [Tensor(xp.asarray(rng.standard_normal(y.shape)), requires_grad=True)
                        for y in outputs]
    grad_outputs = tuple(grad_outputs)
    n = len(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]

    def first_derivative(*args):
        xs, vs = args[:n], args[n:]
        with enable_grad():
            live = [(y, v) for y, v in zip(_outputs(func, xs), vs) if y.requires_grad]
            found = grad([y for y, _ in live], [xs[i] for i in checked],
                         [v for _, v in live], create_graph=True, allow_unused=True)
        return tuple(Tensor(xs[i].data * 0) if g is None else g
                     for i, g in zip(checked, found))

    # the differentiable backward must first agree with the array backward it stands for
    with no_grad():
        plain = [Tensor(xs.data * 0) if g is None else g for xs, g in zip(
            [inputs[i] for i in checked], _first_order(func, inputs, grad_outputs, checked))]
    for i, g, p in zip(checked, first_derivative(*inputs, *grad_outputs), plain):
        a, b = backend.to_numpy(g.data), backend.to_numpy(p.data)
        if not np.allclose(a, b, rtol=rtol, atol=atol):
            message = (f"gradgradcheck: with create_graph=True the gradient of input {i} is "
                       f"{a.ravel()[:4]}..., but backward gives {b.ravel()[:4]}...: the "
                       "differentiable backward disagrees with the array one")
            if raise_exception:
                raise GradcheckError(message)
            return False
    return gradcheck(first_derivative, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, seed=seed)


def _first_order(func, inputs, grad_outputs, checked):
    """The first derivatives by plain (array) backward, as gradgradcheck's reference."""
    from .autograd import grad

    with enable_grad():
        live = [(y, v) for y, v in zip(_outputs(func, inputs), grad_outputs) if y.requires_grad]
        return grad([y for y, _ in live], [inputs[i] for i in checked],
                    [Tensor(v.data) for _, v in live], allow_unused=True)
