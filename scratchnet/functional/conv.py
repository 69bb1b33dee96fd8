"""2-D convolution as im2col + one GEMM per sample and group (notation: kernels/im2col.py).

With the column matrix col[n] of shape (C·KH·KW, OH·OW) and the weight viewed as a matrix
W (O, C·KH·KW), the forward is y[n] = W · col[n] + b, already in NCHW order. With G groups,
channels split into G blocks: block g of the weight (O/G, C/G·KH·KW) multiplies block g of the
column rows, which is again one batched matmul over (n, g). Writing K = C/G·KH·KW, P = OH·OW:

    forward:   y[n, g]  = W[g] · col[n, g] + b               (O/G, K) · (K, P)
    backward:  gW[g]    = Σ_n gy[n, g] · col[n, g]ᵀ          (O/G, P) · (P, K)
               gx[n]    = col2im(W[g]ᵀ · gy[n, g])           (K, O/G) · (O/G, P), then fold
               gb       = Σ_{n, oh, ow} gy

The batch is processed in chunks whose column buffer stays under the workspace limit
(kernels/workspace.py); the backward recomputes the columns of each chunk instead of keeping
the whole matrix from the forward (a chunk stays in cache, the whole matrix would be GBs).
A 1×1 kernel with stride 1 and no padding needs no im2col at all: col[n] is x[n] itself.
"""
from ..backend import get_array_module
from ..function import Function
from ..kernels import _shapes, workspace
from ..kernels.im2col import col2im, im2col
from ._operands import check_float, check_same_float_dtype


class Conv2dFunction(Function):
    """y = W ⋆ x + b. x (N, C, H, W), W (O, C/G, KH, KW), b (O,) or None -> y (N, O, OH, OW).

    ``padding`` is (PH, PW) before the input; ``out_size`` (OH, OW) also fixes the padding
    after it (asymmetric "same" padding reads zeros past the edge). Backward: module docstring.
    """

    def __init__(self, stride, padding, dilation, groups, out_size):
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.groups, self.out_size = groups, out_size

    def _pointwise(self, kernel):
        return kernel == (1, 1) and self.stride == (1, 1) and self.padding == (0, 0)

    def _columns(self, x, kernel):
        """Yield (batch slice, col) with col (n, G, K, P) for chunks of the batch."""
        N, C, H, W = x.shape
        G, (OH, OW) = self.groups, self.out_size
        if self._pointwise(kernel):
            yield slice(0, N), x.reshape(N, G, C // G, H * W)     # col[n] is x[n]
            return
        xp = get_array_module(x)
        per_sample = C * kernel[0] * kernel[1] * OH * OW * x.dtype.itemsize
        for s in workspace.chunks(N, per_sample):
            n = s.stop - s.start
            col = workspace.buffer("col", (n, C) + kernel + (OH, OW), x.dtype, xp)
            im2col(x[s], kernel, self.stride, self.padding, self.dilation, self.out_size,
                   out=col)
            yield s, col.reshape(n, G, C // G * kernel[0] * kernel[1], OH * OW)

    def forward(self, x, weight, bias):
        xp = get_array_module(x)
        N, O, G = x.shape[0], weight.shape[0], self.groups
        OH, OW = self.out_size
        x = xp.ascontiguousarray(x)
        w = weight.reshape(G, O // G, -1)                          # (G, O/G, K)
        y = xp.empty((N, O, OH, OW), x.dtype)
        y_g = y.reshape(N, G, O // G, OH * OW)                     # a view of y
        for s, col in self._columns(x, weight.shape[2:]):
            xp.matmul(w, col, out=y_g[s])                          # (G, O/G, K) @ (n, G, K, P)
        if bias is not None:
            y += bias.reshape(1, O, 1, 1)
        self.save_for_backward(x, weight)
        return y

    def backward(self, gy):
        x, weight = self.saved_tensors
        xp = get_array_module(gy)
        N, C, H, W = x.shape
        O, _, KH, KW = weight.shape
        G, (OH, OW) = self.groups, self.out_size
        need_x, need_w, need_b = self.needs_input_grad
        gy_g = xp.ascontiguousarray(gy).reshape(N, G, O // G, OH * OW)
        gx = xp.empty(x.shape, x.dtype) if need_x else None
        gw = xp.zeros((G, O // G, C // G * KH * KW), x.dtype) if need_w else None
        w_t = weight.reshape(G, O // G, -1).transpose(0, 2, 1)    # (G, K, O/G), a view
        if need_x and self._pointwise((KH, KW)):
            xp.matmul(w_t, gy_g, out=gx.reshape(N, G, C // G, H * W))
            need_x = False
        if need_x or need_w:
            for s, col in self._columns(x, (KH, KW)):
                if need_w:
                    # (n, G, O/G, P) @ (n, G, P, K); colᵀ is a view that BLAS reads as is.
                    # Samples are added one by one, so any chunking gives identical sums.
                    for per_sample in xp.matmul(gy_g[s], col.transpose(0, 1, 3, 2)):
                        gw += per_sample
                if need_x:
                    n = s.stop - s.start
                    gcol = workspace.buffer("gcol", col.shape, x.dtype, xp)
                    xp.matmul(w_t, gy_g[s], out=gcol)             # (G, K, O/G) @ (n, G, O/G, P)
                    col2im(gcol.reshape(n, C, KH, KW, OH, OW), (n, C, H, W), self.stride,
                           self.padding, self.dilation, out=gx[s])
        gb = gy.sum(axis=(0, 2, 3)) if need_b else None
        return gx, None if gw is None else gw.reshape(weight.shape), gb


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
    check_float(op, input)
    check_same_float_dtype(op, input, weight, bias)
    if input.ndim not in (3, 4):
        raise ValueError(f"{op}: expected input of shape (N, C, H, W) or unbatched (C, H, W), "
                         f"got {input.shape}")
    if input.ndim == 3:
        out = conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups)
        return out.squeeze(0)
    stride, dilation = _shapes.pair(stride, op, "stride"), _shapes.pair(dilation, op, "dilation")
    _shapes.check_positive(op, "stride", stride)
    _shapes.check_positive(op, "dilation", dilation)
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
            padding = (_shapes.same_padding(KH, dilation[0])[0],
                       _shapes.same_padding(KW, dilation[1])[0])
            out_size = (H, W)
        else:
            raise ValueError(f"{op}: padding must be an int, a pair, 'valid' or 'same', got "
                             f"{padding!r}")
    else:
        padding = _shapes.pair(padding, op, "padding")
        _shapes.check_nonnegative(op, "padding", padding)
    if out_size is None:
        out_size = tuple(_shapes.conv_output_size(s, k, st, 2 * p, d) for s, k, st, p, d in
                         zip((H, W), (KH, KW), stride, padding, dilation))
    _shapes.check_output_size(op, input.shape, out_size, (KH, KW), stride, padding, dilation)
    return Conv2dFunction(stride, padding, dilation, groups, out_size)(input, weight, bias)


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
