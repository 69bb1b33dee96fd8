"""Changing a tensor's dtype or device, differentiably."""
import numpy as np

from .. import backend
from ..function import Function


class CastFunction(Function):
    linear = True  # forward is its own Jacobian map (higher_order.py)

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        self.input_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return gy.astype(self.input_dtype)


def cast(input, dtype):
    """y = x as ``dtype``. Backward: gx = gy cast back to x's dtype."""
    dtype = np.dtype(dtype)
    if dtype == input.dtype:
        return input
    return CastFunction(dtype)(input)


class ToDeviceFunction(Function):
    linear = True  # forward is its own Jacobian map (higher_order.py)

    def __init__(self, device):
        self.device = device

    def forward(self, x):
        self.input_device = backend.device_of(x)
        return backend.to_device(x, self.device)

    def backward(self, gy):
        return backend.to_device(gy, self.input_device)


def to_device(input, device):
    """y = x copied to ``device`` ("cpu" or "cuda"). Backward: gx = gy copied back."""
    device = backend.check_device(device)
    if device == input.device:
        return input
    return ToDeviceFunction(device)(input)
