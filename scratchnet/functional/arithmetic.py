"""Elementwise arithmetic and matmul.

Binary ops broadcast as NumPy does; their backward sums each gradient back to the shape of
its input (``unbroadcast``). Notation: ``gy`` is dL/dy, the gradient arriving from above.
"""
import numpy as np

from .. import backend
from ..function import Function, not_a_tensor
from ..higher_order import sum_to
from ..kernels import threads
from ..tensor import Tensor
from ._operands import (as_float, as_operands, check_same_float_dtype, check_scalar_fits,
                        unbroadcast)
from .selection import clamp_tensor, where


class AddFunction(Function):
    linear = True

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, gy):
        return unbroadcast(gy, self.shapes[0]), unbroadcast(gy, self.shapes[1])


def add(input, other, alpha=1):
    """y = a + alpha·b (broadcast). Backward: ga = gy, gb = alpha·gy, each summed to its shape."""
    a, b = as_operands("add", input, other)
    if alpha != 1 or type(alpha) is not int:   # alpha=1, the default, needs no check
        _check_alpha(a, alpha)
    return AddFunction()(a, b if alpha == 1 else mul(b, alpha))


def _check_alpha(a, alpha):
    if a.dtype.kind != "f" and isinstance(alpha, (float, np.floating)):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating "
                           "point number.")


class SubFunction(Function):
    linear = True

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a - b

    def backward(self, gy):
        return unbroadcast(gy, self.shapes[0]), unbroadcast(-gy, self.shapes[1])


def sub(input, other, alpha=1):
    """y = a − alpha·b. Backward: ga = gy, gb = −alpha·gy. Bool operands are refused, as torch
    does (a mask is inverted with ``~``)."""
    a, b = as_operands("sub", input, other)
    if a.dtype.kind == "b" and b.dtype.kind == "b":
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if a.dtype.kind == "b" or b.dtype.kind == "b" or _is_bool(input) or _is_bool(other):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not "
                           "supported. If you are trying to invert a mask, use the `~` or "
                           "`logical_not()` operator instead.")
    _check_alpha(a, alpha)
    return SubFunction()(a, b if alpha == 1 else mul(b, alpha))


def _is_bool(value):
    return isinstance(value, Tensor) and value.dtype.kind == "b"


class MulFunction(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, gy):
        a, b = self.saved_tensors
        ga = unbroadcast(gy * b, a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(gy * a, b.shape) if self.needs_input_grad[1] else None
        return ga, gb

    def backward_graph(self, gy):
        a, b = self.saved_tensors
        A, B = self.graph_input(0, a), self.graph_input(1, b)
        need_a, need_b = self.needs_input_grad
        return (sum_to(gy * B, a.shape) if need_a else None,
                sum_to(gy * A, b.shape) if need_b else None)


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

    def backward_graph(self, gy):
        a, b = self.saved_tensors
        A, B = self.graph_input(0, a), self.graph_input(1, b)
        need_a, need_b = self.needs_input_grad
        return (sum_to(gy / B, a.shape) if need_a else None,
                sum_to(-gy * A / (B * B), b.shape) if need_b else None)


def div(input, other, rounding_mode=None):
    """y = a / b (true division: integers give float32). Backward: ga = gy / b,
    gb = −gy·a / b². ``rounding_mode="trunc"`` or ``"floor"`` rounds the quotient towards
    zero or down, in the operands' dtype; its gradient is zero, as torch's."""
    a, b = as_operands("div", input, other)
    if rounding_mode is None:
        return DivFunction()(a, b)
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError("div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                           f"but found '{rounding_mode}'")
    return RoundedDivFunction(rounding_mode)(a, b)


def _check_integer_divisor(op, b):
    """Integer division by zero: torch raises (NumPy would give 0 with a warning)."""
    if b.dtype.kind in "iub" and not bool((b != 0).all()):
        raise RuntimeError(f"{op}: ZeroDivisionError")


class RoundedDivFunction(Function):
    """y = trunc(a / b) or floor(a / b), in the operands' dtype. Backward: zero, as torch."""

    def __init__(self, mode):
        self.mode = mode

    def forward(self, a, b):
        _check_integer_divisor(f"div(rounding_mode={self.mode!r})", b)
        self.shapes = a.shape, b.shape
        xp = backend.get_array_module(a)
        if self.mode == "floor":
            return xp.floor_divide(a, b)
        if a.dtype.kind == "f":
            return xp.trunc(a / b)
        return xp.sign(a) * xp.sign(b) * (xp.abs(a) // xp.abs(b))

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        return tuple(xp.zeros(shape, gy.dtype) if need else None
                     for shape, need in zip(self.shapes, self.needs_input_grad))

    def jvp(self, *tangents):
        return None    # the Jacobian is zero


class FloorDivideFunction(Function):
    """y = ⌊a / b⌋ (Python's ``//``). torch defines no derivative for it: backward raises."""

    def forward(self, a, b):
        _check_integer_divisor("floor_divide", b)
        return backend.get_array_module(a).floor_divide(a, b)

    def backward(self, gy):
        raise RuntimeError("derivative for floor_divide is not implemented")


def floor_divide(input, other):
    """y = ⌊a / b⌋ elementwise (``a // b``), in the operands' dtype; x // 0 is inf/nan for
    floats and an error for integers. Not differentiable (torch raises in backward too)."""
    a, b = as_operands("floor_divide", input, other)
    if a.dtype.kind == "b":
        raise NotImplementedError('"div_floor_cpu" not implemented for \'Bool\'')
    return FloorDivideFunction()(a, b)


class RemainderFunction(Function):
    def forward(self, a, b):
        _check_integer_divisor("remainder", b)
        self.save_for_backward(a, b)
        return backend.get_array_module(a).remainder(a, b)

    def backward(self, gy):
        a, b = self.saved_tensors
        xp = backend.get_array_module(gy)
        ga = unbroadcast(gy, a.shape) if self.needs_input_grad[0] else None
        gb = None
        if self.needs_input_grad[1]:
            gb = unbroadcast(-gy * xp.floor_divide(a, b), b.shape)
        return ga, gb

    def jvp(self, da, db):
        """J·d with the quotient ⌊a / b⌋ held fixed (its derivative is zero a.e.)."""
        a, b = self.saved_tensors
        dy = 0 if da is None else da
        if db is not None:
            dy = dy - db * backend.get_array_module(db).floor_divide(a, b)
        return dy


def remainder(input, other):
    """y = a − ⌊a / b⌋·b (Python's ``%``: the sign of b). Backward: ga = gy,
    gb = −gy·⌊a / b⌋."""
    a, b = as_operands("remainder", input, other)
    if a.dtype.kind == "b":
        raise NotImplementedError('"remainder_cpu" not implemented for \'Bool\'')
    return RemainderFunction()(a, b)


class NegFunction(Function):
    linear = True

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


def neg(input):
    """y = −x. Backward: gx = −gy."""
    if input.dtype.kind == "b":
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If "
                           "you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
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

    def backward_graph(self, gy):
        x, p, y = self.saved_tensors
        X, P = self.graph_input(0, x), self.graph_input(1, p)
        xp = backend.get_array_module(x)
        gx = gp = None
        if self.needs_input_grad[0]:
            p_zero = Tensor(p == 0)
            safe_p = where(p_zero, Tensor(xp.ones_like(p)), P)    # p^0 has derivative 0
            gx = sum_to(where(p_zero, Tensor(xp.zeros_like(y)),
                              gy * safe_p * X ** (safe_p - 1)), x.shape)
        if self.needs_input_grad[1]:
            zero = Tensor((x == 0) & (p >= 0))
            safe_x = where(Tensor(x == 0), Tensor(xp.ones_like(x)), X)
            gp = sum_to(where(zero, Tensor(xp.zeros_like(y)),
                              gy * self.graph_output(0, y) * log(safe_x)), p.shape)
        return gx, gp


def pow(input, exponent):
    """y = x^p. Backward: gx = gy·p·x^(p−1), gp = gy·x^p·ln x."""
    a, p = as_operands("pow", input, exponent)
    if a.dtype.kind in "iu" and isinstance(exponent, (int, np.integer)) and exponent < 0:
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    return PowFunction()(a, p)


class ExpFunction(Function):
    def forward(self, x):
        y = backend.get_array_module(x).exp(x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * y

    def backward_graph(self, gy):
        (y,) = self.saved_tensors
        return gy * self.graph_output(0, y)


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

    def backward_graph(self, gy):
        (x,) = self.saved_tensors
        return gy / self.graph_input(0, x)


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

    def backward_graph(self, gy):
        (y,) = self.saved_tensors
        return gy / (2 * self.graph_output(0, y))


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

    jvp = backward  # J = diag(sign x): piecewise linear


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

    jvp = backward  # J = diag(inside): piecewise linear


def clamp(input, min=None, max=None):
    """y = min(max(x, low), high). Backward: gx = gy where low ≤ x ≤ high (inclusive), else 0.
    Tensor bounds broadcast and get their own gradients (``selection.clamp_tensor``).

    dtypes as torch: an integer tensor with a float bound gives float32; an integer bound
    must fit the tensor's integer dtype."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return clamp_tensor(input, min, max)
    numbers = [b for b in (min, max) if isinstance(b, (bool, int, float, np.number))]
    if input.dtype.kind != "f" and any(isinstance(b, (float, np.floating)) for b in numbers):
        input = as_float(input)
    for bound in numbers:
        check_scalar_fits(bound, input.dtype)
    return ClampFunction(min, max)(input)


class MatMulFunction(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return threads.matmul(a, b)             # large products on every worker

    def backward(self, gy):
        a, b = self.saved_tensors
        if a.ndim == b.ndim == 2:               # plain matrices: the formulas as they stand
            return (threads.matmul(gy, b.T) if self.needs_input_grad[0] else None,
                    threads.matmul(a.T, gy) if self.needs_input_grad[1] else None)
        # Treat a 1-d operand as a matrix (a row for a, a column for b), so that one
        # formula covers every case: ga = gy·bᵀ, gb = aᵀ·gy, summed over broadcast batch dims.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        # gy shaped as the output of a2 @ b2: (batch..., n, m), the axes a 1-d operand dropped
        # put back ((m,) -> (1, m), (n,) -> (n, 1), () -> (1, 1))
        batch = (() if a2.ndim == b2.ndim == 2
                 else np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]))
        gy = gy.reshape(batch + (a2.shape[-2], b2.shape[-1]))
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = unbroadcast(threads.matmul(gy, b2.swapaxes(-1, -2)), a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            gb = unbroadcast(threads.matmul(a2.swapaxes(-1, -2), gy), b2.shape).reshape(b.shape)
        return ga, gb

    def backward_graph(self, gy):
        a, b = self.saved_tensors
        A, B = self.graph_input(0, a), self.graph_input(1, b)
        A2 = A.unsqueeze(0) if a.ndim == 1 else A
        B2 = B.unsqueeze(1) if b.ndim == 1 else B
        gy = gy.reshape(np.broadcast_shapes(A2.shape[:-2], B2.shape[:-2])
                        + (A2.shape[-2], B2.shape[-1]))
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = sum_to(matmul(gy, B2.transpose(-1, -2)), A2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            gb = sum_to(matmul(A2.transpose(-1, -2), gy), B2.shape).reshape(b.shape)
        return ga, gb


def matmul(input, other):
    """y = a @ b with NumPy's matmul rules (1-d operands, broadcast batch dims).

    Backward: ga = gy @ bᵀ, gb = aᵀ @ gy, each summed over the batch dims it was broadcast on.
    """
    a, b = input, other
    try:                            # the arrays' own shapes: no Tensor property calls
        shape_a, shape_b = a.data.shape, b.data.shape
        if a.data.dtype != b.data.dtype:
            check_same_float_dtype("matmul", a, b)
    except AttributeError:          # not a Tensor (a NumPy array: its .data has no dtype)
        raise not_a_tensor("matmul", (a, b)) from None
    if not shape_a or not shape_b:
        raise ValueError(f"matmul: both arguments need at least 1 dimension, got shapes "
                         f"{a.shape} and {b.shape}")
    k_a, k_b = shape_a[-1], shape_b[0] if len(shape_b) == 1 else shape_b[-2]
    try:
        if len(shape_a) > 2 or len(shape_b) > 2:
            np.broadcast_shapes(shape_a[:-2], shape_b[:-2])
    except ValueError:
        k_b = None
    if k_a != k_b:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied")
    return MatMulFunction()(a, b)


def compare(input, other, op):
    """Elementwise comparison (eq, ne, lt, le, gt, ge): a bool tensor with no gradient.

    Against anything but a tensor, an array or a number (None, a list, a string) it returns
    NotImplemented, so that Python answers: ``t == None`` is False and ``t < None`` a TypeError,
    as with torch."""
    if not isinstance(other, (Tensor, bool, int, float, np.number, np.ndarray)) and not \
            backend.is_cupy(other):
        return NotImplemented
    a, b = as_operands(op, input, other)
    xp = backend.get_array_module(a.data)
    return Tensor(getattr(xp, {"eq": "equal", "ne": "not_equal", "lt": "less",
                               "le": "less_equal", "gt": "greater",
                               "ge": "greater_equal"}[op])(a.data, b.data))
