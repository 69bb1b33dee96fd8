"""Activations: relu, leaky_relu, sigmoid, tanh, softmax, log_softmax."""
import warnings

from .. import backend
from ..function import Function
from ..kernels import relu as relu_kernels
from . import inplace as _inplace
from ._operands import as_float, check_float, normalize_dim


class ReLUFunction(Function):
    """y = max(x, 0), into x's own array when ``inplace`` (what it saves is then y)."""

    def __init__(self, inplace=False):
        self.inplace = inplace

    def forward(self, x):
        y = relu_kernels.relu_forward(x, out=x if self.inplace else None)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return relu_kernels.relu_backward(gy, y)

    jvp = backward  # J = diag(y > 0): piecewise linear


def relu(input, inplace=False):
    """y = max(x, 0). Backward: gx = gy where x > 0, else 0 (0 at x = 0, as torch).
    ``inplace=True`` writes y into x's array and returns x (``Tensor.relu_``)."""
    if input.dtype.kind == "b":
        raise RuntimeError("Boolean inputs not supported for relu")
    if inplace:
        return _inplace.run("relu_", input, ReLUFunction(inplace=True), relu)
    return ReLUFunction()(input)


class LeakyReLUFunction(Function):
    def __init__(self, slope, inplace=False):
        self.slope, self.inplace = slope, inplace

    def forward(self, x):
        xp = backend.get_array_module(x)
        positive = x > 0
        self.save_for_backward(positive)
        if self.inplace:
            xp.copyto(x, x * x.dtype.type(self.slope), where=~positive)
            return x
        return xp.where(positive, x, x * x.dtype.type(self.slope))

    def backward(self, gy):
        (positive,) = self.saved_tensors
        xp = backend.get_array_module(gy)
        return xp.where(positive, gy, gy * gy.dtype.type(self.slope))

    jvp = backward  # J = diag(1 or slope): piecewise linear


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """y = x for x > 0, slope·x otherwise. Backward: gx = gy or slope·gy, likewise.
    ``inplace=True`` writes y into x's array and returns x."""
    if inplace:
        return _inplace.run("leaky_relu_", input,
                            LeakyReLUFunction(negative_slope, inplace=True),
                            lambda t: leaky_relu(t, negative_slope))
    return LeakyReLUFunction(negative_slope)(input)


class SigmoidFunction(Function):
    def forward(self, x):
        xp = backend.get_array_module(x)
        # torch's rule: 1/(1 + e^−x) for x ≥ 0 and e^x/(1 + e^x) for x < 0, here with
        # e = e^−|x| ≤ 1, which never overflows: both tails keep their relative accuracy
        e = xp.exp(-xp.abs(x))
        y = xp.where(x >= 0, 1, e) / (1 + e)
        self.save_for_backward(y)
        return y.astype(x.dtype, copy=False)

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * y * (1 - y)

    def backward_graph(self, gy):
        y = self.graph_output(0, self.saved_tensors[0])
        return gy * y * (1 - y)


def sigmoid(input):
    """y = 1 / (1 + e^−x), computed as torch documents its numerically stable form: as written
    for x ≥ 0 and as e^x / (1 + e^x) for x < 0, so that sigmoid(−17) is 4.14e-8 and
    log(sigmoid(−20)) is −20 in float32. Backward: gx = gy·y·(1 − y)."""
    return SigmoidFunction()(as_float(input))


class TanhFunction(Function):
    def forward(self, x):
        y = backend.get_array_module(x).tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * (1 - y * y)

    def backward_graph(self, gy):
        y = self.graph_output(0, self.saved_tensors[0])
        return gy * (1 - y * y)


def tanh(input):
    """y = tanh x. Backward: gx = gy·(1 − y²)."""
    return TanhFunction()(as_float(input))


def log_softmax_array(x, axis):
    """log softmax on an array by torch's rule, the max-shifted log-sum-exp:
    x − m − log Σ e^(x − m) with m = max x, so exp never overflows; −inf entries give −inf
    (a row of only −inf gives nan, as torch)."""
    xp = backend.get_array_module(x)
    if x.size == 0:
        return x.copy()
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


class SoftmaxFunction(Function):
    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        xp = backend.get_array_module(x)
        y = xp.exp(log_softmax_array(x, self.dim))
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return y * (gy - (gy * y).sum(axis=self.dim, keepdims=True))

    def backward_graph(self, gy):
        y = self.graph_output(0, self.saved_tensors[0])
        return y * (gy - (gy * y).sum(dim=self.dim, keepdim=True))


def softmax(input, dim=None):
    """y_i = e^{x_i} / Σ_j e^{x_j} along ``dim``, as exp(log_softmax(x)) (the max-shifted rule
    of ``log_softmax_array``). Backward: gx = y ⊙ (gy − Σ_j gy_j y_j), the Jacobian
    (diag(y) − y yᵀ) applied to gy. ``dim=None`` takes torch's implicit dim, with its warning."""
    check_float("softmax", input)
    dim = implicit_dim("softmax", dim, input.ndim)
    return SoftmaxFunction(normalize_dim("softmax", dim, input.ndim))(input)


def implicit_dim(op, dim, ndim):
    """torch's deprecated choice when no dim is given: 0 for 0-, 1- and 3-d input, else 1."""
    if dim is not None:
        return dim
    warnings.warn(f"Implicit dimension choice for {op} has been deprecated. Change the call "
                  "to include dim=X as an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


class LogSoftmaxFunction(Function):
    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        y = log_softmax_array(x, self.dim)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        xp = backend.get_array_module(gy)
        return gy - xp.exp(y) * gy.sum(axis=self.dim, keepdims=True)

    def backward_graph(self, gy):
        y = self.graph_output(0, self.saved_tensors[0])
        return gy - y.exp() * gy.sum(dim=self.dim, keepdim=True)


def log_softmax(input, dim=None):
    """y_i = x_i − log Σ_j e^{x_j} along ``dim``, by the max-shifted rule of
    ``log_softmax_array``. Backward: gx = gy − softmax(x)·Σ_j gy_j. ``dim=None`` takes
    torch's implicit dim, with its warning."""
    check_float("log_softmax", input)
    dim = implicit_dim("log_softmax", dim, input.ndim)
    return LogSoftmaxFunction(normalize_dim("log_softmax", dim, input.ndim))(input)
