"""Elementwise arithmetic and matmul.

Binary ops broadcast as NumPy does; their backward sums each gradient back to the shape of
its input (``unbroadcast``). Notation: ``gy`` is dL/dy, the gradient arriving from above.
"""
import numpy as np

from .. import backend
from ..function import Function
from ..kernels import threads
from ..tensor import Tensor
from ._operands import as_float, as_operands, check_same_float_dtype, unbroadcast
from .selection import clamp_tensor


class AddFunction(Function):
    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, gy):
        return unbroadcast(gy, self.shapes[0]), unbroadcast(gy, self.shapes[1])


def add(input, other, alpha=1):
    """y = a + alpha·b (broadcast). Backward: ga = gy, gb = alpha·gy, each summed to its shape."""
    a, b = as_operands("add", input, other)
    return AddFunction()(a, b if alpha == 1 else mul(b, alpha))


class SubFunction(Function):
    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a - b

    def backward(self, gy):
        return unbroadcast(gy, self.shapes[0]), unbroadcast(-gy, self.shapes[1])


def sub(input, other):
    """y = a − b. Backward: ga = gy, gb = −gy."""
    return SubFunction()(*as_operands("sub", input, other))


class MulFunction(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, gy):
        a, b = self.saved_tensors
        ga = unbroadcast(gy * b, a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(gy * a, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


def mul(input, other):
    """y = a·b. Backward: ga = gy·b, gb = gy·a."""
    return MulFunction()(*as_operands("mul", input, other))


class DivFunction(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        if a.dtype.kind != "f":  # torch's true division: int / int gives float32
            a, b = a.astype(np.float32), b.astype(np.float32)
        return a / b

    def backward(self, gy):
        a, b = self.saved_tensors
        ga = unbroadcast(gy / b, a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(-gy * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


def div(input, other):
    """y = a / b. Backward: ga = gy / b, gb = −gy·a / b²."""
    return DivFunction()(*as_operands("div", input, other))


class NegFunction(Function):
    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


def neg(input):
    """y = −x. Backward: gx = −gy."""
    return NegFunction()(input)


class PowFunction(Function):
    def forward(self, x, p):
        y = x ** p
        self.save_for_backward(x, p, y)
        return y

    def backward(self, gy):
        x, p, y = self.saved_tensors
        xp = backend.get_array_module(x)
        gx = gp = None
        if self.needs_input_grad[0]:
            # p·x^(p−1), written so that p = 0 gives 0 rather than 0·x^(−1) = nan at x = 0
            gx = unbroadcast(gy * xp.where(p == 0, 0, p * x ** (p - 1)), x.shape)
        if self.needs_input_grad[1]:
            # d(x^p)/dp = x^p·ln x; torch defines it as 0 where x = 0 and p >= 0
            log_x = xp.log(xp.where(x == 0, 1, x))
            gp = unbroadcast(gy * xp.where((x == 0) & (p >= 0), 0, y * log_x), p.shape)
        return gx, gp


def pow(input, exponent):
    """y = x^p. Backward: gx = gy·p·x^(p−1), gp = gy·x^p·ln x."""
    return PowFunction()(*as_operands("pow", input, exponent))


class ExpFunction(Function):
    def forward(self, x):
        y = backend.get_array_module(x).exp(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * y


def exp(input):
    """y = eˣ. Backward: gx = gy·y."""
    return ExpFunction()(as_float(input))


class LogFunction(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return backend.get_array_module(x).log(x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy / x


def log(input):
    """y = ln x. Backward: gx = gy / x."""
    return LogFunction()(as_float(input))


class SqrtFunction(Function):
    def forward(self, x):
        y = backend.get_array_module(x).sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy / (2 * y)


def sqrt(input):
    """y = √x. Backward: gx = gy / (2y)."""
    return SqrtFunction()(as_float(input))


class AbsFunction(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return backend.get_array_module(x).abs(x)  # not abs(x): this module's abs is the op

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * backend.get_array_module(x).sign(x)


def abs(input):
    """y = |x|. Backward: gx = gy·sign(x), which is 0 at x = 0 as in torch."""
    return AbsFunction()(input)


class ClampFunction(Function):
    def __init__(self, low, high):
        self.low, self.high = low, high

    def forward(self, x):
        xp = backend.get_array_module(x)
        self.save_for_backward(x)
        return xp.clip(x, self.low, self.high).astype(x.dtype, copy=False)

    def backward(self, gy):
        (x,) = self.saved_tensors
        inside = True
        if self.low is not None:
            inside = inside & (x >= self.low)
        if self.high is not None:
            inside = inside & (x <= self.high)
        return gy * inside


def clamp(input, min=None, max=None):
    """y = min(max(x, low), high). Backward: gx = gy where low ≤ x ≤ high (inclusive), else 0.
    Tensor bounds broadcast and get their own gradients (``selection.clamp_tensor``)."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return clamp_tensor(input, min, max)
    return ClampFunction(min, max)(input)


class MatMulFunction(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return threads.matmul(a, b)             # large products on every worker

    def backward(self, gy):
        a, b = self.saved_tensors
        # Treat a 1-d operand as a matrix (a row for a, a column for b), so that one
        # formula covers every case: ga = gy·bᵀ, gb = aᵀ·gy, summed over broadcast batch dims.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        # gy shaped as the output of a2 @ b2: (batch..., n, m), the axes a 1-d operand dropped
        # put back ((m,) -> (1, m), (n,) -> (n, 1), () -> (1, 1))
        gy = gy.reshape(np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
                        + (a2.shape[-2], b2.shape[-1]))
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = unbroadcast(threads.matmul(gy, b2.swapaxes(-1, -2)), a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            gb = unbroadcast(threads.matmul(a2.swapaxes(-1, -2), gy), b2.shape).reshape(b.shape)
        return ga, gb


def matmul(input, other):
    """y = a @ b with NumPy's matmul rules (1-d operands, broadcast batch dims).

    Backward: ga = gy @ bᵀ, gb = aᵀ @ gy, each summed over the batch dims it was broadcast on.
    """
    a, b = input, other
    check_same_float_dtype("matmul", a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both arguments need at least 1 dimension, got shapes "
                         f"{a.shape} and {b.shape}")
    k_a, k_b = a.shape[-1], b.shape[0] if b.ndim == 1 else b.shape[-2]
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        k_b = None
    if k_a != k_b:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied")
    return MatMulFunction()(a, b)


def compare(input, other, op):
    """Elementwise comparison (eq, ne, lt, le, gt, ge): a bool tensor with no gradient."""
    a, b = as_operands(op, input, other)
    xp = backend.get_array_module(a.data)
    return Tensor(getattr(xp, {"eq": "equal", "ne": "not_equal", "lt": "less",
                               "le": "less_equal", "gt": "greater",
                               "ge": "greater_equal"}[op])(a.data, b.data))
