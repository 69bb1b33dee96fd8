"""Conv2d: a layer owning the weight and bias of ``F.conv2d``, with torch's names and init."""
import math

import numpy as np

from .. import backend
from .. import functional as F
from ..functional._arguments import pair
from . import init
from .module import Module, Parameter


class Conv2d(Module):
    """y = conv2d(x, weight, bias) with weight (out_channels, in_channels/groups, KH, KW) and
    bias (out_channels,), as ``torch.nn.Conv2d``. Both start uniform in ±1/√fan_in with
    fan_in = in_channels/groups·KH·KW (torch's kaiming_uniform_(a=√5) for the weight)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=np.float32):
        super().__init__()
        name = f"Conv2d({in_channels}, {out_channels})"
        if not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels={in_channels} and out_channels="
                             f"{out_channels} must be divisible by groups={groups}")
        if padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is implemented, got "
                             f"{padding_mode!r}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be an int, a pair, 'valid' or 'same', "
                                 f"got {padding!r}")
        else:
            padding = pair(padding, name, "padding")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = pair(kernel_size, name, "kernel_size")
        self.stride = pair(stride, name, "stride")
        self.padding, self.dilation = padding, pair(dilation, name, "dilation")
        self.groups, self.padding_mode = groups, padding_mode
        shape = (out_channels, in_channels // groups) + self.kernel_size
        device = backend.check_device(device)
        self.weight = Parameter(backend.to_device(np.zeros(shape, dtype), device))
        self.bias = (Parameter(backend.to_device(np.zeros(out_channels, dtype), device))
                     if bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_channels // self.groups * self.kernel_size[0] * self.kernel_size[1]
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        if x.ndim not in (3, 4) or x.shape[-3] != self.in_channels:
            raise ValueError(f"Conv2d({self.extra_repr()}): expected input (N, "
                             f"{self.in_channels}, H, W) or ({self.in_channels}, H, W), got "
                             f"{x.shape}")
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s
