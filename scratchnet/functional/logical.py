"""Bitwise and logical ops: ``& | ^ ~`` on bool and integer tensors, and logical_and/or/xor/not
on any tensor (non-zero is True). None of them has a gradient."""
from .. import backend
from ..tensor import Tensor
from ._operands import as_operands

_BITWISE = {"and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor"}


def _check_integral(op, *tensors):
    for t in tensors:
        if t.dtype.kind not in "biu":
            raise TypeError(f"{op}: only bool and integer tensors are supported, got {t.dtype}")


def _bitwise(kind, input, other):
    op = _BITWISE[kind]
    a, b = as_operands(op, input, other)
    _check_integral(op, a, b)
    xp = backend.get_array_module(a.data)
    return Tensor(xp.asarray(getattr(xp, op)(a.data, b.data)))


def bitwise_and(input, other):
    """a & b elementwise (logical AND for bool tensors)."""
    return _bitwise("and", input, other)


def bitwise_or(input, other):
    """a | b elementwise."""
    return _bitwise("or", input, other)


def bitwise_xor(input, other):
    """a ^ b elementwise."""
    return _bitwise("xor", input, other)


def bitwise_not(input):
    """~a: logical NOT for bool tensors, two's-complement NOT for integers."""
    _check_integral("bitwise_not", input)
    xp = backend.get_array_module(input.data)
    return Tensor(xp.asarray(xp.invert(input.data)))


def _logical(kind, input, other):
    a, b = as_operands(f"logical_{kind}", input, other)
    xp = backend.get_array_module(a.data)
    return Tensor(xp.asarray(getattr(xp, f"logical_{kind}")(a.data != 0, b.data != 0)))


def logical_and(input, other):
    return _logical("and", input, other)


def logical_or(input, other):
    return _logical("or", input, other)


def logical_xor(input, other):
    return _logical("xor", input, other)


def logical_not(input):
    xp = backend.get_array_module(input.data)
    return Tensor(xp.asarray(input.data == 0))
