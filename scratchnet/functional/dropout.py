"""Dropout: inverted dropout of elements (dropout) and of whole channels (dropout2d).

"Inverted": in training the survivors are scaled by 1/(1 − p), so the expected output equals
the input and evaluation is the identity (torch's convention; the 2012 AlexNet paper instead
multiplied by 1 − p at test time). Masks come from ``scratchnet.random.generator``, so
``scratchnet.manual_seed`` reproduces them.
"""
from .. import backend, random
from ..function import Function


class DropoutFunction(Function):
    """y = x · mask / (1 − p), with a 0/1 mask that broadcasts against x."""

    def __init__(self, mask, scale):
        self.mask, self.scale = mask, scale

    def forward(self, x):
        y = x * self.mask
        y *= x.dtype.type(self.scale)
        return y

    def backward(self, gy):
        gx = gy * self.mask
        gx *= gy.dtype.type(self.scale)
        return gx


def _dropout(op, input, p, training, mask_shape):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    if not training:
        return input
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point input, got {input.dtype}")
    xp = backend.get_array_module(input.data)
    keep = random.generator(xp).random(mask_shape, dtype=input.dtype) >= p   # P(keep) = 1 − p
    # p = 1 drops everything; 1/(1 − p) would turn the zeros into 0·inf = nan
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    return DropoutFunction(keep, scale)(input)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1/(1 − p) (training only).

    Shapes: any -> same. Forward: y = x·mask/(1 − p), mask_i ~ Bernoulli(1 − p). Backward:
    gx = gy·mask/(1 − p). With ``training=False`` the input is returned unchanged.
    ``inplace`` is accepted for torch compatibility; scratchnet always returns a new tensor.
    """
    return _dropout("dropout", input, p, training, input.shape)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels: every (n, c) plane is kept or dropped together (feature dropout).

    Shapes: (N, C, *) -> same, the mask being (N, C, 1, ..., 1). Forward and backward as
    ``dropout``, with the mask broadcast over the trailing dims.
    """
    if input.ndim < 2:
        raise ValueError(f"dropout2d: feature dropout requires at least 2 dimensions (N, C, *), "
                         f"got input of shape {input.shape}")
    return _dropout("dropout2d", input, p, training,
                    input.shape[:2] + (1,) * (input.ndim - 2))
