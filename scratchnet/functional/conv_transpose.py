"""Transposed 2-D convolution: the input gradient of conv2d, run forward (notation:
kernels/im2col.py).

A convolution with weight W (I, O/G, KH, KW) maps an image z (N, O, OH, OW) to x (N, I, H, W).
Its transpose maps x back to the shape of z, by the very formula conv2d's backward uses to
send a gradient from its output to its input:

    forward:   y = conv2d_input_grad(x, W) + b         y[n] = col2im(W[g]ᵀ · x[n, g])
    backward:  gx = conv2d(gy, W)                      the convolution itself
               gW = conv2d_weight_grad(gy, x)          conv2d's weight gradient, with gy as
                                                       its input and x as its output gradient
               gb = Σ_{n, oh, ow} gy

So the three products are conv2d's own, and this file holds no kernel: it calls the kernel
entry points of kernels/conv.py (``conv2d_forward``, ``conv2d_input_grad``,
``conv2d_weight_grad``) with the roles of input and output swapped.
"""
from ..function import Function
from ..kernels.conv import conv2d_forward, conv2d_input_grad, conv2d_weight_grad
from . import _arguments
from .conv import check_conv_operands
from .conv_weight_grad import Conv2dWeightGradFunction, convolution


class ConvTranspose2dFunction(Function):
    """x (N, I, H, W), W (I, O/G, KH, KW), b (O,) or None -> y (N, O, OH, OW).
    Forward and backward: module docstring."""

    def __init__(self, geometry, out_size):
        self.geometry, self.out_size = geometry, out_size

    def forward(self, x, weight, bias):
        G = self.geometry[3]
        y_shape = (x.shape[0], weight.shape[1] * G) + self.out_size
        y = conv2d_input_grad(x, weight, y_shape, *self.geometry)
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1)                       # (O,) -> (1, O, 1, 1)
        self.save_for_backward(x, weight)
        return y

    def backward(self, gy):
        x, weight = self.saved_tensors
        need_x, need_w, need_b = self.needs_input_grad
        gx = (conv2d_forward(gy, weight, None, *self.geometry, out_size=x.shape[2:])
              if need_x else None)
        gw = conv2d_weight_grad(gy, x, weight.shape, *self.geometry) if need_w else None
        gb = gy.sum(axis=(0, 2, 3)) if need_b else None
        return gx, gw, gb

    def backward_graph(self, gy):
        """The same three products as Functions (conv_weight_grad.py): differentiable."""
        x, weight = self.saved_tensors
        need_x, need_w, need_b = self.needs_input_grad
        X, W = self.graph_input(0, x), self.graph_input(1, weight)
        gx = convolution(self.geometry, x.shape)(gy, W, None) if need_x else None
        gw = (Conv2dWeightGradFunction(self.geometry, weight.shape)(gy, X)
              if need_w else None)
        return gx, gw, gy.sum(dim=(0, 2, 3)) if need_b else None


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 2-D convolution ("deconvolution"), as ``torch.nn.functional.conv_transpose2d``.

    input (N, I, H, W) or unbatched (I, H, W); weight (I, O/groups, KH, KW); bias (O,) ->
    (N, O, OH, OW) with OH = (H − 1)·SH − 2·PH + DH·(KH − 1) + output_padding + 1 (likewise OW):
    each input pixel adds W[i] times its value into a KH×KW window of the output, windows
    SH apart; ``padding`` crops the output's border, ``output_padding`` adds rows (and
    columns) at the bottom (right) so that a strided convolution's input size can be hit.
    It is the gradient of conv2d with respect to its input: backward in the module docstring.
    """
    op = "conv_transpose2d"
    check_conv_operands(op, input, weight, bias)
    if input.ndim == 3:
        return conv_transpose2d(input.unsqueeze(0), weight, bias, stride, padding,
                                output_padding, groups, dilation).squeeze(0)
    stride = _arguments.pair(stride, op, "stride")
    padding = _arguments.pair(padding, op, "padding")
    dilation = _arguments.pair(dilation, op, "dilation")
    output_padding = _arguments.pair(output_padding, op, "output_padding")
    _arguments.check_positive(op, "stride", stride)
    _arguments.check_positive(op, "dilation", dilation)
    _arguments.check_nonnegative(op, "padding", padding)
    _arguments.check_nonnegative(op, "output_padding", output_padding)
    for op_, s, d in zip(output_padding, stride, dilation):
        if op_ >= max(s, d):
            raise ValueError(f"{op}: output_padding {output_padding} must be smaller than "
                             f"either stride {stride} or dilation {dilation}")
    _check_weight(op, input, weight, bias, groups)
    H, W = input.shape[2:]
    out_size = tuple((n - 1) * s - 2 * p + d * (k - 1) + o + 1 for n, s, p, d, k, o in zip(
        (H, W), stride, padding, dilation, weight.shape[2:], output_padding))
    if min(out_size) <= 0:
        raise ValueError(f"{op}: input {input.shape} with weight {weight.shape}, stride "
                         f"{stride}, padding {padding}, dilation {dilation} gives output size "
                         f"{out_size}, which is too small")
    geometry = (stride, padding, dilation, groups)
    return ConvTranspose2dFunction(geometry, out_size)(input, weight, bias)


def _check_weight(op, x, weight, bias, groups):
    if not isinstance(groups, int) or isinstance(groups, bool) or groups <= 0:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    if weight.ndim != 4:
        raise ValueError(f"{op}: expected weight of shape (C_in, C_out/groups, KH, KW), got "
                         f"{weight.shape}")
    C = x.shape[1]
    if weight.shape[0] != C or C % groups:
        raise ValueError(f"{op}: input {x.shape} has {C} channels but weight {weight.shape} "
                         f"expects {weight.shape[0]} (divisible by groups={groups})")
    O = weight.shape[1] * groups
    if bias is not None and bias.shape != (O,):
        raise ValueError(f"{op}: bias of shape {bias.shape} does not match the {O} output "
                         f"channels of weight {weight.shape} with groups={groups}")
