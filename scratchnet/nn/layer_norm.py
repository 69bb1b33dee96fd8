"""LayerNorm: normalization over each sample's last dims, as ``torch.nn.LayerNorm``."""
import numpy as np

from .. import backend
from .. import functional as F
from .module import Module, Parameter


class LayerNorm(Module):
    """y = (x − μ) / √(σ² + eps) · weight + bias over the trailing ``normalized_shape``;
    weight starts at ones and bias at zeros (absent with ``elementwise_affine=False``,
    bias alone with ``bias=False``)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=np.float32):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        device = backend.check_device(device)
        if elementwise_affine:
            self.weight = Parameter(backend.to_device(np.ones(self.normalized_shape, dtype),
                                                      device))
            self.bias = (Parameter(backend.to_device(np.zeros(self.normalized_shape, dtype),
                                                     device)) if bias else None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self):
        if self.weight is not None:
            self.weight.data[...] = 1
        if self.bias is not None:
            self.bias.data[...] = 0

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")
