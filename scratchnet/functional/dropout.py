"""Dropout: inverted dropout of elements (dropout) and of whole channels (dropout2d).

"Inverted": in training the survivors are scaled by 1/(1 − p), so the expected output equals
the input and evaluation is the identity (torch's convention; the 2012 AlexNet paper instead
multiplied by 1 − p at test time). Masks come from ``scratchnet.random.generator``, so
``scratchnet.manual_seed`` reproduces them.
"""
import numpy as np

from .. import backend, random
from ..function import Function
from . import inplace as _inplace


class DropoutFunction(Function):
    """y = x · mask / (1 − p), with a 0/1 mask of ``mask_shape`` (broadcasting against x) drawn
    in forward and saved for backward: gx = gy · mask / (1 − p). ``inplace``: y is written
    into x's array."""

    def __init__(self, p, mask_shape, inplace=False):
        self.p, self.mask_shape, self.inplace = p, mask_shape, inplace

    def forward(self, x):
        xp = backend.get_array_module(x)
        # float16 masks are drawn in float32 (NumPy's generator has no float16)
        draw_dtype = x.dtype if x.dtype != np.float16 else np.float32
        draws = random.generator(xp).random(self.mask_shape, dtype=draw_dtype)
        mask = draws >= self.p                                       # P(keep) = 1 − p
        self.save_for_backward(mask)
        y = xp.multiply(x, mask, out=x if self.inplace else None)
        y *= x.dtype.type(self._scale())
        return y

    def backward(self, gy):
        (mask,) = self.saved_tensors
        gx = gy * mask
        gx *= gy.dtype.type(self._scale())
        return gx

    jvp = backward  # J = diag(mask / (1 − p)): linear in x once the mask is drawn

    def _scale(self):
        # p = 1 drops everything; 1/(1 − p) would turn the zeros into 0·inf = nan
        return 0.0 if self.p == 1 else 1.0 / (1.0 - self.p)


def _dropout(op, input, p, training, mask_shape, inplace):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    if not training:
        return input
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point input, got {input.dtype}")
    if inplace:
        return _inplace.run(op + "_", input, DropoutFunction(p, mask_shape, inplace=True),
                            lambda t: _dropout(op, t, p, training, mask_shape, False))
    return DropoutFunction(p, mask_shape)(input)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1/(1 − p) (training only).

    Shapes: any -> same. Forward: y = x·mask/(1 − p), mask_i ~ Bernoulli(1 − p). Backward:
    gx = gy·mask/(1 − p). With ``training=False`` the input is returned unchanged (also with
    ``inplace=True``, which otherwise writes y into x's array and returns x, as torch).
    """
    return _dropout("dropout", input, p, training, input.shape, inplace)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels: every (n, c) plane is kept or dropped together (feature dropout).

    Shapes: (N, C, *) -> same, the mask being (N, C, 1, ..., 1). Forward and backward as
    ``dropout``, with the mask broadcast over the trailing dims.
    """
    if input.ndim < 2:
        raise ValueError(f"dropout2d: feature dropout requires at least 2 dimensions (N, C, *), "
                         f"got input of shape {input.shape}")
    return _dropout("dropout2d", input, p, training,
                    input.shape[:2] + (1,) * (input.ndim - 2), inplace)
