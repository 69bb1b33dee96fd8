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
    fan_in = in_channels/groups·KH·KW (torch's kaiming_uniform_(a=√5) for the weight).
    ``padding_mode`` "reflect", "replicate" or "circular" pads with ``F.pad`` in that mode
    first, then convolves without padding (torch's way)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=np.float32):
        super().__init__()
        name = f"Conv2d({in_channels}, {out_channels})"
        check_groups(name, in_channels, out_channels, groups)
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {PADDING_MODES}, got "
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
        self._pad_widths = _pad_widths(padding, self.kernel_size, self.dilation)
        make_parameters(self, (out_channels, in_channels // groups) + self.kernel_size,
                        out_channels if bias else None, device, dtype)

    def reset_parameters(self):
        fan_in = self.in_channels // self.groups * self.kernel_size[0] * self.kernel_size[1]
        reset_conv_parameters(self.weight, self.bias, fan_in)

    def forward(self, x):
        if x.ndim not in (3, 4) or x.shape[-3] != self.in_channels:
            raise ValueError(f"Conv2d({self.extra_repr()}): expected input (N, "
                             f"{self.in_channels}, H, W) or ({self.in_channels}, H, W), got "
                             f"{x.shape}")
        if self.padding_mode != "zeros":          # pad first, then convolve without padding
            x = F.pad(x, self._pad_widths, mode=self.padding_mode)
            return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation,
                            self.groups)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)

    def extra_repr(self):
        return conv_extra_repr(self)


PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def conv_extra_repr(m):
    """torch's repr of a convolution layer's arguments (_ConvNd.extra_repr): the defaults
    left out, in torch's order."""
    s = f"{m.in_channels}, {m.out_channels}, kernel_size={m.kernel_size}, stride={m.stride}"
    if m.padding != (0, 0):
        s += f", padding={m.padding}"
    if m.dilation != (1, 1):
        s += f", dilation={m.dilation}"
    if getattr(m, "output_padding", (0, 0)) != (0, 0):
        s += f", output_padding={m.output_padding}"
    if m.groups != 1:
        s += f", groups={m.groups}"
    if m.bias is None:
        s += ", bias=False"
    if m.padding_mode != "zeros":
        s += f", padding_mode={m.padding_mode}"
    return s


def check_groups(name, in_channels, out_channels, groups):
    if not isinstance(groups, int) or groups <= 0:
        raise ValueError(f"{name}: groups must be a positive int, got {groups!r}")
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"{name}: in_channels={in_channels} and out_channels="
                         f"{out_channels} must be divisible by groups={groups}")


def make_parameters(module, weight_shape, bias_size, device, dtype):
    """A convolution's weight and bias (None without bias_size) on ``device``, then
    ``module.reset_parameters()`` fills them."""
    device = backend.check_device(device)
    module.weight = Parameter(backend.to_device(np.zeros(weight_shape, dtype), device))
    module.bias = (None if bias_size is None else
                   Parameter(backend.to_device(np.zeros(bias_size, dtype), device)))
    module.reset_parameters()


def reset_conv_parameters(weight, bias, fan_in):
    """torch's convolution init: kaiming_uniform_(a=√5) for the weight (uniform in
    ±1/√fan_in), the bias uniform in ±1/√fan_in."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)


def _pad_widths(padding, kernel_size, dilation):
    """``F.pad``'s (left, right, top, bottom) for a non-zeros padding_mode: the padding on
    both sides of each dim, or for "same" the split that conv2d makes (extra pixel after)."""
    if padding == "valid":
        return (0, 0, 0, 0)
    if padding == "same":
        # the total d·(k − 1) split as conv2d splits it: the extra pixel after
        (top, bottom), (left, right) = ((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                                        for k, d in zip(kernel_size, dilation))
        return (left, right, top, bottom)
    return (padding[1], padding[1], padding[0], padding[0])
