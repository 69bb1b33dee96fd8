"""ConvTranspose2d: a layer owning the weight and bias of ``F.conv_transpose2d``."""
import numpy as np

from .. import functional as F
from ..functional import _arguments
from .conv import check_groups, conv_extra_repr, make_parameters, reset_conv_parameters
from .module import Module


class ConvTranspose2d(Module):
    """y = conv_transpose2d(x, weight, bias), as ``torch.nn.ConvTranspose2d``: weight
    (in_channels, out_channels/groups, KH, KW), bias (out_channels,), both uniform in
    ±1/√fan_in with fan_in = out_channels/groups·KH·KW (torch computes the fan from the
    weight's second dim, which for a transposed convolution is the output side).
    ``forward(x, output_size)`` picks the output_padding that gives that size."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=np.float32):
        super().__init__()
        name = f"ConvTranspose2d({in_channels}, {out_channels})"
        check_groups(name, in_channels, out_channels, groups)
        if padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported for "
                             f"ConvTranspose2d (as in torch), got {padding_mode!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _arguments.pair(kernel_size, name, "kernel_size")
        self.stride = _arguments.pair(stride, name, "stride")
        self.padding = _arguments.pair(padding, name, "padding")
        self.output_padding = _arguments.pair(output_padding, name, "output_padding")
        self.dilation = _arguments.pair(dilation, name, "dilation")
        self.groups, self.padding_mode = groups, padding_mode
        make_parameters(self, (in_channels, out_channels // groups) + self.kernel_size,
                        out_channels if bias else None, device, dtype)

    def reset_parameters(self):
        fan_in = self.out_channels // self.groups * self.kernel_size[0] * self.kernel_size[1]
        reset_conv_parameters(self.weight, self.bias, fan_in)

    def forward(self, x, output_size=None):
        if x.ndim not in (3, 4) or x.shape[-3] != self.in_channels:
            raise ValueError(f"ConvTranspose2d({self.extra_repr()}): expected input (N, "
                             f"{self.in_channels}, H, W) or ({self.in_channels}, H, W), got "
                             f"{x.shape}")
        output_padding = self.output_padding
        if output_size is not None:
            output_padding = self._output_padding(x, output_size)
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  output_padding, self.groups, self.dilation)

    def _output_padding(self, x, output_size):
        """The output_padding that makes the output (H, W) = the last two of output_size."""
        wanted = tuple(output_size)[-2:]
        smallest = tuple((n - 1) * s - 2 * p + d * (k - 1) + 1 for n, s, p, d, k in zip(
            x.shape[-2:], self.stride, self.padding, self.dilation, self.kernel_size))
        extra = tuple(w - m for w, m in zip(wanted, smallest))
        largest = tuple(m + max(s, d) - 1 for m, s, d in zip(smallest, self.stride,
                                                              self.dilation))
        if any(not m <= w <= b for w, m, b in zip(wanted, smallest, largest)):
            raise ValueError(f"ConvTranspose2d: requested an output size of {wanted}, but "
                             f"valid sizes range from {smallest} to {largest} (for an input "
                             f"of {tuple(x.shape[-2:])})")
        return extra

    def extra_repr(self):
        return conv_extra_repr(self)
