"""2-D convolution as im2col + GEMM, tile by tile (notation: kernels/im2col.py).

With the column matrix col[n] of shape (C·KH·KW, OH·OW) and the weight viewed as a matrix
W (O, C·KH·KW), the forward is y[n] = W · col[n] + b, already in NCHW order. With G groups,
channels split into G blocks: block g of the weight (O/G, C/G·KH·KW) multiplies block g of the
column rows, which is again one batched matmul over g. Writing K = C/G·KH·KW, P = OH·OW:

    forward:   y[n, g]  = W[g] · col[n, g] + b               (O/G, K) · (K, P)
    backward:  gW[g]    = Σ_n gy[n, g] · col[n, g]ᵀ          (O/G, P) · (P, K)
               gx[n]    = col2im(W[g]ᵀ · gy[n, g])           (K, O/G) · (O/G, P), then fold
               gb       = Σ_{n, oh, ow} gy

Every product splits along P: a band of output rows oh0 .. oh1 − 1 (columns p = oh·OW + ow
of the matrices) needs only the columns of that band. So the batch is worked through in
tiles (kernels/workspace.py: on the CPU the rows of one sample whose columns fit 8 MB, the
whole sample for most layers), and each tile is built, multiplied and dropped while it is in
cache: im2col writes it, the GEMM reads it back from cache instead of DRAM, and the whole
column matrix (GBs for VGG) never exists. The backward recomputes the tile's columns rather
than keeping them from the forward, forms the tile's share of gW (summed tile after tile) and folds W[g]ᵀ · gy of the tile back
onto gx[n] (col2im adds, since neighbouring bands share input rows). On the CPU, samples are
shared out among threads that each run their own im2col and single-threaded GEMMs (one
thread per core, no BLAS or Numba thread pool waking up per call); each thread sums its own
part of gW and gb, and the parts are added in thread order (so gW and gb, unlike y and gx,
can differ in the last bits between thread counts).
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

    def _tiles(self, x, kernel, xp):
        """(sample slices, row slices) of the work: see kernels/workspace.py."""
        C, OW = x.shape[1], self.out_size[1]
        row_bytes = C * kernel[0] * kernel[1] * OW * x.dtype.itemsize
        return workspace.tiles(x.shape[0], self.out_size[0], row_bytes, xp,
                               workspace.workers(xp))

    def _columns(self, x, s, rows, kernel, worker):
        """col (n, G, K, T) of samples s and output rows ``rows``, T = (rows) · OW columns."""
        N, C, H, W = x.shape
        G, OW = self.groups, self.out_size[1]
        n, R = s.stop - s.start, rows.stop - rows.start
        if self._pointwise(kernel):                            # col[n] is x[n]: a view
            return x[s].reshape(n, G, C // G, H * W)[..., rows.start * OW:rows.stop * OW]
        xp = get_array_module(x)
        col = workspace.buffer(f"col{worker}", (n, C) + kernel + (R, OW), x.dtype, xp)
        im2col(x[s], kernel, self.stride, self.padding, self.dilation, out=col,
               first_row=rows.start)
        return col.reshape(n, G, C // G * kernel[0] * kernel[1], R * OW)

    def forward(self, x, weight, bias):
        xp = get_array_module(x)
        N, O, G = x.shape[0], weight.shape[0], self.groups
        OH, OW = self.out_size
        x = xp.ascontiguousarray(x)
        kernel = weight.shape[2:]
        w = weight.reshape(G, O // G, -1)                          # (G, O/G, K)
        b = None if bias is None else bias.reshape(G, O // G, 1)
        y = xp.empty((N, O, OH, OW), x.dtype)
        y_g = y.reshape(N, G, O // G, OH * OW)                     # a view of y
        samples, bands = self._tiles(x, kernel, xp)

        def work(s, worker):
            for rows in bands:
                out = y_g[s, :, :, rows.start * OW:rows.stop * OW]     # (n, G, O/G, T)
                col = self._columns(x, s, rows, kernel, worker)        # (n, G, K, T)
                if _merge(col):
                    out[...] = _split_samples(xp.matmul(w, _merge_samples(col)), len(out))
                else:
                    xp.matmul(w, col, out=out)
                if b is not None:
                    out += b                                           # while still in cache
        workspace.parallel_for(samples, work, xp)
        self.save_for_backward(x, weight)
        return y

    def backward(self, gy):
        x, weight = self.saved_tensors
        xp = get_array_module(gy)
        N, C, H, W = x.shape
        O, _, KH, KW = weight.shape
        G, (OH, OW) = self.groups, self.out_size
        need_x, need_w, need_b = self.needs_input_grad
        pointwise = self._pointwise((KH, KW))
        gy_g = xp.ascontiguousarray(gy).reshape(N, G, O // G, OH * OW)
        gx = xp.empty(x.shape, x.dtype) if need_x else None
        w_t = weight.reshape(G, O // G, -1).transpose(0, 2, 1)    # (G, K, O/G), a view
        samples, bands = self._tiles(x, (KH, KW), xp)
        threads = min(workspace.workers(xp), len(samples))
        gw = [xp.zeros((G, O // G, C // G * KH * KW), x.dtype) for _ in range(threads)]
        gb = [xp.zeros((G, O // G, 1), x.dtype) for _ in range(threads)]

        def work(s, worker):
            n = s.stop - s.start
            for rows in bands if need_x or need_w else ():
                cols = slice(rows.start * OW, rows.stop * OW)
                col = self._columns(x, s, rows, (KH, KW), worker)  # (n, G, K, T)
                gy_t = gy_g[s, :, :, cols]                         # (n, G, O/G, T)
                merge = _merge(col)
                if merge:
                    col_m, gy_m = _merge_samples(col), _merge_samples(gy_t)
                if need_w and merge:
                    # (G, O/G, n·T) @ (G, n·T, K): one product sums over the tile's samples
                    gw[worker] += xp.matmul(gy_m, col_m.transpose(0, 2, 1))
                elif need_w:
                    # (n, G, O/G, T) @ (n, G, T, K): colᵀ is a view that BLAS reads as is
                    part = workspace.buffer(f"gw{worker}", (n,) + gw[worker].shape, x.dtype, xp)
                    for per_sample in xp.matmul(gy_t, col.transpose(0, 1, 3, 2), out=part):
                        gw[worker] += per_sample
                if need_x and pointwise:                           # gx[n] is gcol itself
                    gx_t = gx.reshape(N, G, C // G, H * W)[s, :, :, cols]
                    if merge:
                        gx_t[...] = _split_samples(xp.matmul(w_t, gy_m), n)
                    else:
                        xp.matmul(w_t, gy_t, out=gx_t)
                elif need_x:
                    gcol = workspace.buffer(f"gcol{worker}", col.shape, x.dtype, xp)
                    if merge:                                      # (G, K, O/G) @ (G, O/G, n·T)
                        gcol[...] = _split_samples(xp.matmul(w_t, gy_m), n)
                    else:
                        xp.matmul(w_t, gy_t, out=gcol)             # (G, K, O/G) @ (n, G, O/G, T)
                    col2im(gcol.reshape((n, C, KH, KW, rows.stop - rows.start, OW)), (n, C, H, W),
                           self.stride, self.padding, self.dilation, out=gx[s],
                           first_row=rows.start, accumulate=rows.start > 0)
            if need_b:
                gb[worker] += gy_g[s].sum(axis=(0, 3), keepdims=True)[0]
        if need_x or need_w or need_b:
            workspace.parallel_for(samples, work, xp)
        gw = sum(gw[1:], gw[0]).reshape(weight.shape) if need_w else None
        gb = sum(gb[1:], gb[0]).reshape(O) if need_b else None
        return gx, gw, gb


# Below this many output positions per tile, the per-sample products are thin (a matrix-vector
# product for ResNet's 1×1 maps at 32×32 input, where each sample's weight gradient is a whole
# (O, K) outer product to add up): the tile's samples are then laid side by side, so that one
# GEMM covers them all, at the price of copying the columns and gy into that layout.
MERGE_BELOW = 64


def _merge(col):
    return col.shape[0] > 1 and col.shape[-1] < MERGE_BELOW


def _merge_samples(a):
    """(n, G, R, T) -> (G, R, n·T): the tile's samples side by side (a copy)."""
    n, G, R, T = a.shape
    return a.transpose(1, 2, 0, 3).reshape(G, R, n * T)


def _split_samples(a, n):
    """(G, R, n·T) -> (n, G, R, T), a view: the inverse of ``_merge_samples``."""
    G, R, nT = a.shape
    return a.reshape(G, R, n, nT // n).transpose(2, 0, 1, 3)


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
