"""2-D convolution: the op, its validation and its autograd (notation: kernels/im2col.py).

With the column matrix col[n] of shape (C·KH·KW, OH·OW) (im2col: every window of x as a
column) and the weight viewed as a matrix W (O, C·KH·KW), a convolution is one matrix product
per sample, y[n] = W · col[n] + b, already in NCHW order. With G groups the channels split
into G blocks, and block g of the weight multiplies block g of the column rows. Writing
K = C/G·KH·KW, P = OH·OW:

    forward:   y[n, g]  = W[g] · col[n, g] + b               (O/G, K) · (K, P)
    backward:  gW[g]    = Σ_n gy[n, g] · col[n, g]ᵀ          (O/G, P) · (P, K)
               gx[n]    = col2im(W[g]ᵀ · gy[n, g])           (K, O/G) · (O/G, P), then fold
               gb       = Σ_{n, oh, ow} gy

Each product is one call into kernels/conv.py, which computes it tile by tile (a few samples
× a band of output rows at a time, on every core) without ever building the whole column
matrix, beside a ``*_reference`` that does exactly the formulas above.
"""
from ..backend import get_array_module
from ..function import Function
from ..kernels import _shapes
from ..kernels.conv import conv2d_forward, conv2d_input_grad, conv2d_weight_grad
from . import _arguments
from ._operands import check_float, check_same_float_dtype
from .conv_weight_grad import Conv2dWeightGradFunction, input_grad


class Conv2dFunction(Function):
    """y = W ⋆ x + b. x (N, C, H, W), W (O, C/G, KH, KW), b (O,) or None -> y (N, O, OH, OW).

    ``padding`` is (PH, PW) before the input; ``out_size`` (OH, OW) also fixes the padding
    after it (asymmetric "same" padding reads zeros past the edge). Backward: module docstring.
    """

    def __init__(self, stride, padding, dilation, groups, out_size):
        self.geometry = (stride, padding, dilation, groups)
        self.out_size = out_size

    def forward(self, x, weight, bias):
        x = get_array_module(x).ascontiguousarray(x)
        self.save_for_backward(x, weight)
        return conv2d_forward(x, weight, bias, *self.geometry, self.out_size)

    def backward(self, gy):
        x, weight = self.saved_tensors
        need_x, need_w, need_b = self.needs_input_grad
        gx = conv2d_input_grad(gy, weight, x.shape, *self.geometry) if need_x else None
        gw = conv2d_weight_grad(x, gy, weight.shape, *self.geometry) if need_w else None
        gb = gy.sum(axis=(0, 2, 3)) if need_b else None
        return gx, gw, gb

    def backward_graph(self, gy):
        """gx by a transposed convolution, gW by ``Conv2dWeightGradFunction``: both
        differentiable (conv_weight_grad.py)."""
        x, weight = self.saved_tensors
        need_x, need_w, need_b = self.needs_input_grad
        X, W = self.graph_input(0, x), self.graph_input(1, weight)
        gx = input_grad(self.geometry, x.shape)(gy, W, None) if need_x else None
        gw = (Conv2dWeightGradFunction(self.geometry, weight.shape)(X, gy)
              if need_w else None)
        return gx, gw, gy.sum(dim=(0, 2, 3)) if need_b else None


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``.

    input (N, C, H, W) or unbatched (C, H, W); weight (O, C/groups, KH, KW); bias (O,) ->
    (N, O, OH, OW) with OH = ⌊(H + 2·PH − DH·(KH − 1) − 1) / SH⌋ + 1 (likewise OW) and

        y[n, o, i, j] = b[o] + Σ_{c, kh, kw} W[o, c, kh, kw] · x[n, g·C/G + c, i·SH + kh·DH − PH,
                                                                  j·SW + kw·DW − PW]

    where g = o // (O/G) is the group of output channel o and x is 0 in the padding.
    ``padding`` is an int, a pair, "valid" (no padding) or "same" (output size = input size,
    stride 1 only; an odd total padding puts the extra row/column after, as torch does).
    ``groups=G`` splits the channels into G independent convolutions (AlexNet's two towers;
    G = C is a depthwise convolution). Backward (gx by col2im, gW, gb): module docstring.
    """
    op = "conv2d"
    check_conv_operands(op, input, weight, bias)
    if input.ndim == 3:
        out = conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups)
        return out.squeeze(0)
    stride = _arguments.pair(stride, op, "stride")
    dilation = _arguments.pair(dilation, op, "dilation")
    _arguments.check_positive(op, "stride", stride)
    _arguments.check_positive(op, "dilation", dilation)
    _check_weight(op, input, weight, bias, groups)
    KH, KW = weight.shape[2:]
    H, W = input.shape[2:]
    out_size = None
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' needs stride 1, got stride={stride}")
            padding = (_same_padding(KH, dilation[0]), _same_padding(KW, dilation[1]))
            out_size = (H, W)
        else:
            raise ValueError(f"{op}: padding must be an int, a pair, 'valid' or 'same', got "
                             f"{padding!r}")
    else:
        padding = _arguments.pair(padding, op, "padding")
        _arguments.check_nonnegative(op, "padding", padding)
    if out_size is None:
        out_size = _shapes.conv_output_hw(input.shape, (KH, KW), stride, padding, dilation)
    _arguments.check_output_size(op, input.shape, out_size, (KH, KW), stride, padding, dilation)
    return Conv2dFunction(stride, padding, dilation, groups, out_size)(input, weight, bias)


def check_conv_operands(op, input, weight, bias):
    """Float operands of one dtype, and an input of shape (N, C, H, W) or unbatched (C, H, W)."""
    check_float(op, input)
    check_same_float_dtype(op, input, weight, bias)
    if input.ndim not in (3, 4):
        raise ValueError(f"{op}: expected input of shape (N, C, H, W) or unbatched (C, H, W), "
                         f"got {input.shape}")


def _check_weight(op, x, weight, bias, groups):
    if not isinstance(groups, int) or isinstance(groups, bool) or groups <= 0:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    if weight.ndim != 4:
        raise ValueError(f"{op}: expected weight of shape (O, C/groups, KH, KW), got "
                         f"{weight.shape}")
    C, O = x.shape[1], weight.shape[0]
    if C % groups or O % groups:
        raise ValueError(f"{op}: input channels {C} and output channels {O} must both be "
                         f"divisible by groups={groups} (input {x.shape}, weight {weight.shape})")
    if weight.shape[1] * groups != C:
        raise ValueError(f"{op}: input {x.shape} has {C} channels but weight {weight.shape} "
                         f"with groups={groups} expects {weight.shape[1] * groups}")
    if bias is not None and bias.shape != (O,):
        raise ValueError(f"{op}: bias of shape {bias.shape} does not match weight of shape "
                         f"{weight.shape} (expected ({O},))")


def _same_padding(kernel, dilation):
    """padding="same" before the input on one side; an odd total puts the extra pixel after
    (out_size then reads it as a zero past the edge), as torch pads it."""
    return dilation * (kernel - 1) // 2
