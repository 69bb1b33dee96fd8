"""Activations: relu, leaky_relu, sigmoid, tanh, softmax, log_softmax."""
from .. import backend
from ..function import Function
from ._operands import as_float, check_float, normalize_dim


class ReLUFunction(Function):
    def forward(self, x):
        y = backend.get_array_module(x).maximum(x, 0)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * (y > 0)


def relu(input):
    """y = max(x, 0). Backward: gx = gy where x > 0, else 0 (0 at x = 0, as torch)."""
    return ReLUFunction()(input)


class LeakyReLUFunction(Function):
    def __init__(self, slope):
        self.slope = slope

    def forward(self, x):
        xp = backend.get_array_module(x)
        positive = x > 0
        self.save_for_backward(positive)
        return xp.where(positive, x, x * x.dtype.type(self.slope))

    def backward(self, gy):
        (positive,) = self.saved_tensors
        xp = backend.get_array_module(gy)
        return xp.where(positive, gy, gy * gy.dtype.type(self.slope))


def leaky_relu(input, negative_slope=0.01):
    """y = x for x > 0, slope·x otherwise. Backward: gx = gy or slope·gy, likewise."""
    return LeakyReLUFunction(negative_slope)(input)


class SigmoidFunction(Function):
    def forward(self, x):
        xp = backend.get_array_module(x)
        # 1/(1+e^-x) overflows e^-x for very negative x; tanh form is exact and stable
        y = (xp.tanh(x * x.dtype.type(0.5)) + 1) * x.dtype.type(0.5)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * y * (1 - y)


def sigmoid(input):
    """y = 1 / (1 + e^−x). Backward: gx = gy·y·(1 − y)."""
    return SigmoidFunction()(as_float(input))


class TanhFunction(Function):
    def forward(self, x):
        y = backend.get_array_module(x).tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * (1 - y * y)


def tanh(input):
    """y = tanh x. Backward: gx = gy·(1 − y²)."""
    return TanhFunction()(as_float(input))


def log_softmax_array(x, axis):
    """log softmax on an array, shifted by the max so exp never overflows."""
    xp = backend.get_array_module(x)
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


def softmax(input, dim):
    """y_i = e^{x_i} / Σ_j e^{x_j} along ``dim``.
    Backward: gx = y ⊙ (gy − Σ_j gy_j y_j), the Jacobian (diag(y) − y yᵀ) applied to gy."""
    check_float("softmax", input)
    return SoftmaxFunction(normalize_dim("softmax", dim, input.ndim))(input)


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


def log_softmax(input, dim):
    """y_i = x_i − log Σ_j e^{x_j} along ``dim``. Backward: gx = gy − softmax(x)·Σ_j gy_j."""
    check_float("log_softmax", input)
    return LogSoftmaxFunction(normalize_dim("log_softmax", dim, input.ndim))(input)
