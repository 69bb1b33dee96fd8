"""2-D convolution as im2col + GEMM, tile by tile: the three products conv2d is made of.

Notation: im2col.py. With the column matrix col[n] of shape (C·KH·KW, OH·OW) and the weight
viewed as a matrix W (O, C·KH·KW), the forward is y[n] = W · col[n] + b, already in NCHW
order. With G groups, channels split into G blocks: block g of the weight (O/G, C/G·KH·KW)
multiplies block g of the column rows, which is again one batched matmul over g. Writing
K = C/G·KH·KW and P = OH·OW:

    conv2d_forward:      y[n, g] = W[g] · col[n, g] + b              (O/G, K) · (K, P)
    conv2d_input_grad:   gx[n]   = col2im(W[g]ᵀ · gy[n, g])          (K, O/G) · (O/G, P)
    conv2d_weight_grad:  gW[g]   = Σ_n gy[n, g] · col[n, g]ᵀ         (O/G, P) · (P, K)

(the bias gradient is Σ_{n, oh, ow} gy, no kernel needed). The input gradient needs no x, only
its shape, and the weight gradient no W: the transposed convolution is conv2d_input_grad
(its forward) and conv2d_forward / conv2d_weight_grad (its backward). Each ``*_reference``
below builds the whole column matrix and makes one matmul: it is the oracle of the tests.

The tiled versions never build the whole column matrix (GBs for VGG). Every product splits
along P: a band of output rows oh0 .. oh1 − 1 needs only the columns of that band. So the
batch is worked through in tiles (workspace.tiles: on the CPU the rows of one sample whose
columns fit 8 MB, the whole sample for most layers), and each tile is built, multiplied and
dropped while it is in cache: im2col writes it, the GEMM reads it back from cache instead of
DRAM. The weight gradient recomputes the tile's columns rather than keeping them from the
forward; the input gradient folds W[g]ᵀ · gy of each tile back onto gx[n] (col2im adds, since
neighbouring bands share input rows). On the CPU, samples are shared out among workers that
each run their own im2col and single-threaded GEMMs (threads.parallel_for); each worker sums
its own part of gW (worker 0 into gW itself, the others into held buffers), and the parts are
added in worker order, the rows shared out among the workers (so gW, unlike y and gx, can
differ in the last bits between thread counts).

Shape-dependent paths, in the order they are tried. Kernel taps that read only padding, for
every output position, are dropped first (``live_taps``): each entry point then runs on the
live block of the kernel with the padding that keeps those taps on the same pixels, and the
weight gradient of the dead taps is 0. On a 1×1 map a 3×3 kernel with padding 1 keeps its
centre tap only (ResNet's layer4 at 32×32 input: a ninth of the work). Then, on NumPy arrays
at stride 1, two paths skip the columns altogether: few channels in one group (C·O up to
128: LeNet-5) go through conv_direct.py, which reads the padded planes in place, and a 3×3
kernel with enough channels per group (``_winograd``; groups one after the other) through
Winograd F(2×2, 3×3) (kernels/winograd.py: 16 products per 2×2 outputs instead of 36, as
batched GEMMs; the input gradient is the same kind of convolution of gy, the weight gradient
has its own transform). CuPy arrays always
keep im2col, and the ``*_reference`` functions stay im2col's. Among im2col's products, a 1×1
kernel with stride 1 and no padding needs no im2col at all (col[n] is x[n] itself), and a
tile of several samples with fewer than ``MERGE_BELOW`` output positions each is one
product: im2col writes its columns with the samples side by side in every row (its
samples-inside layout, one (G, K, n·T) matrix), so the forward is one (O/G, K) · (K, n·T)
GEMM whose result is then put back in NCHW order, the weight gradient one (O/G, n·T) ·
(n·T, K) GEMM (gy's small tile laid out the same way), and the input gradient's columns are
folded back by col2im from that layout. Only gy and y are copied between layouts, never the
columns (K = 9·C/G rows for a 3×3 kernel).
"""
from dataclasses import dataclass

import numpy as np

from ..backend import get_array_module
from . import conv_direct, threads, workspace
from ._shapes import conv_output_hw
from .im2col import _inside, col2im, col2im_reference, im2col, im2col_reference
from .winograd import winograd_forward, winograd_input_grad, winograd_weight_grad

# Below this many output positions per tile, the per-sample products are thin (ResNet's 4×4
# and 2×2 maps at 32×32 input, where each sample's weight gradient is a whole (O, K) product
# to add up): the tile's samples are then laid side by side, so that one GEMM covers them all.
# At 64 positions (ResNet-18's 8×8 layer1) one product per sample measured faster.
MERGE_BELOW = 64

# Stride-1 3×3 convolutions with at least this many input and output channels, and at most
# twice as many outputs as inputs, go through Winograd F(2×2, 3×3) (kernels/winograd.py) on
# the CPU. Measured (forward + both gradients, 2 cores): 8 or 16 channels in and out took
# 0.8x im2col's time, 3 -> 64 (a stem) 3.2x, 16 -> 64 1.2-1.3x (its forward products have
# only C = 16 terms and its output transform 64 channels), 32 -> 64 and 64 -> 128 0.8x.
WINOGRAD_MIN_CHANNELS = 16
WINOGRAD_MAX_GROWTH = 2              # O / C at most


def conv2d_forward(x, weight, bias, stride, padding, dilation, groups, out_size=None):
    """x (N, C, H, W), W (O, C/G, KH, KW), b (O,) or None -> y (N, O, OH, OW).

    ``padding`` (PH, PW) is the padding before the input; ``out_size`` (OH, OW) defaults to
    the symmetric-padding size, and a larger one reads zeros past the bottom/right edge.
    """
    xp = get_array_module(x)
    x = xp.ascontiguousarray(x)
    N, O = x.shape[0], weight.shape[0]
    if out_size is None:
        out_size = conv_output_hw(x.shape, weight.shape[2:], stride, padding, dilation)
    live = live_taps(x.shape, weight.shape, stride, padding, dilation, out_size)
    if live is not None:
        taps, padding = live
        return conv2d_forward(x, weight[taps], bias, stride, padding, dilation, groups, out_size)
    if conv_direct.applies(x, weight.shape, stride, dilation, groups):
        return conv_direct.direct_forward(x, weight, bias, padding, out_size)
    if _winograd(xp, weight.shape, stride, padding, dilation, groups):
        C, Og = x.shape[1] // groups, O // groups
        return _by_group(groups, 1, lambda g: winograd_forward(
            x[:, g * C:(g + 1) * C], weight[g * Og:(g + 1) * Og],
            None if bias is None else bias[g * Og:(g + 1) * Og], padding, out_size))
    conv = _Conv(weight.shape, stride, padding, dilation, groups, tuple(out_size))
    G, (OH, OW) = groups, out_size
    w = weight.reshape(G, O // G, -1)                              # (G, O/G, K)
    b = None if bias is None else bias.reshape(G, O // G, 1)
    y = xp.empty((N, O, OH, OW), x.dtype)
    y_g = y.reshape(N, G, O // G, OH * OW)                         # a view of y
    samples, bands, workers = conv.tiles(x.shape, x.dtype, xp)

    def work(s, worker):
        for rows in bands:
            out = y_g[s, :, :, conv.positions(rows)]                 # (n, G, O/G, T)
            col = conv.columns(x, s, rows, worker)
            if col.ndim == 3:                # (G, O/G, K) @ (G, K, n·T), then back to (n, ...)
                product = workspace.buffer(f"y{worker}", (G, O // G, col.shape[2]), x.dtype, xp)
                xp.matmul(w, col, out=product)
                out[...] = _split_samples(product, len(out))
            else:
                xp.matmul(w, col, out=out)                           # (G, O/G, K) @ (n, G, K, T)
            if b is not None:
                out += b                                             # while still in cache
    threads.parallel_for(samples, work, workers)
    return y


def conv2d_input_grad(gy, weight, input_shape, stride, padding, dilation, groups):
    """gy (N, O, OH, OW), W (O, C/G, KH, KW) -> gx of ``input_shape`` (N, C, H, W).

    Input pixels no window reads (past the last window) get 0.
    """
    xp = get_array_module(gy)
    gy = xp.ascontiguousarray(gy)
    live = live_taps(input_shape, weight.shape, stride, padding, dilation, gy.shape[2:])
    if live is not None:
        taps, padding = live
        return conv2d_input_grad(gy, weight[taps], input_shape, stride, padding, dilation,
                                 groups)
    if conv_direct.input_grad_applies(gy, weight.shape, input_shape, stride, dilation, groups):
        return conv_direct.direct_input_grad(gy, weight, input_shape, padding)
    if _winograd(xp, weight.shape, stride, padding, dilation, groups):
        Og, (N, C, H, W) = weight.shape[0] // groups, input_shape
        return _by_group(groups, 1, lambda g: winograd_input_grad(
            gy[:, g * Og:(g + 1) * Og], weight[g * Og:(g + 1) * Og],
            (N, C // groups, H, W), padding))
    N, C, H, W = input_shape
    O, _, KH, KW = weight.shape
    G = groups
    conv = _Conv(weight.shape, stride, padding, dilation, G, tuple(gy.shape[2:]))
    gy_g = gy.reshape(N, G, O // G, gy.shape[2] * gy.shape[3])    # (N, G, O/G, P)
    w_t = weight.reshape(G, O // G, -1).transpose(0, 2, 1)         # (G, K, O/G), a view
    gx = xp.empty(input_shape, gy.dtype)
    pointwise = conv.pointwise(input_shape)
    samples, bands, workers = conv.tiles(input_shape, gy.dtype, xp)

    def work(s, worker):
        n = s.stop - s.start
        for rows in bands:
            gy_t = gy_g[s, :, :, conv.positions(rows)]               # (n, G, O/G, T)
            if pointwise:                                            # gx[n] is gcol itself
                gx_t = gx.reshape(N, G, C // G, H * W)[s, :, :, conv.positions(rows)]
                _matmul(w_t, gy_t, gx_t)
                continue
            R, OW = rows.stop - rows.start, conv.out_size[1]
            if _merged(n, R * OW):   # (G, K, O/G) @ (G, O/G, n·T): the samples-inside layout
                gcol = workspace.buffer(f"gcol{worker}", (G, w_t.shape[1], n * R * OW),
                                        gy.dtype, xp)
                xp.matmul(w_t, _merge_samples(gy_t), out=gcol)
                col2im(gcol.reshape(C, KH, KW, n, R, OW), (n, C, H, W), stride, padding,
                       dilation, out=gx[s], samples_inside=True)
                continue
            gcol = workspace.buffer(f"gcol{worker}", (n, G, w_t.shape[1], R * OW), gy.dtype, xp)
            xp.matmul(w_t, gy_t, out=gcol)                           # (G, K, O/G) @ (n, G, O/G, T)
            col2im(gcol.reshape(n, C, KH, KW, R, OW), (n, C, H, W), stride, padding, dilation,
                   out=gx[s], first_row=rows.start, accumulate=rows.start > 0)
    threads.parallel_for(samples, work, workers)
    return gx


def conv2d_weight_grad(x, gy, weight_shape, stride, padding, dilation, groups):
    """x (N, C, H, W), gy (N, O, OH, OW) -> gW of ``weight_shape`` (O, C/G, KH, KW)."""
    xp = get_array_module(x)
    x, gy = xp.ascontiguousarray(x), xp.ascontiguousarray(gy)
    live = live_taps(x.shape, weight_shape, stride, padding, dilation, gy.shape[2:])
    if live is not None:                                 # the dead taps' gradient is 0
        taps, padding = live
        gw = xp.zeros(weight_shape, x.dtype)
        gw[taps] = conv2d_weight_grad(x, gy, gw[taps].shape, stride, padding, dilation, groups)
        return gw
    if conv_direct.applies(x, weight_shape, stride, dilation, groups):
        return conv_direct.direct_weight_grad(x, gy, weight_shape, padding)
    if _winograd(xp, weight_shape, stride, padding, dilation, groups):
        (O, Cg), C = weight_shape[:2], x.shape[1] // groups
        Og = O // groups
        return _by_group(groups, 0, lambda g: winograd_weight_grad(
            x[:, g * C:(g + 1) * C], gy[:, g * Og:(g + 1) * Og], (Og, Cg, 3, 3), padding))
    N = x.shape[0]
    O, _, KH, KW = weight_shape
    G = groups
    conv = _Conv(weight_shape, stride, padding, dilation, G, tuple(gy.shape[2:]))
    gy_g = gy.reshape(N, G, O // G, gy.shape[2] * gy.shape[3])    # (N, G, O/G, P)
    samples, bands, workers = conv.tiles(x.shape, x.dtype, xp)
    shape = (G, O // G, x.shape[1] // G * KH * KW)                  # (G, O/G, K)
    if not samples or not bands:                                     # nothing to sum: 0
        return xp.zeros(weight_shape, x.dtype)
    # worker 0 sums into gW itself, the others into buffers that are added to it at the end
    parts = [xp.empty(shape, x.dtype)] + [workspace.buffer(f"gw{w}", shape, x.dtype, xp)
                                          for w in range(1, workers)]
    started = [False] * workers

    def work(s, worker):
        for rows in bands:
            col = conv.columns(x, s, rows, worker)
            gy_t = gy_g[s, :, :, conv.positions(rows)]               # (n, G, O/G, T)
            if col.ndim == 3:
                # (G, O/G, n·T) @ (G, n·T, K): one product sums over the tile's samples
                a, b = _merge_samples(gy_t)[None], col.transpose(0, 2, 1)[None]
            else:
                # (n, G, O/G, T) @ (n, G, T, K): colᵀ is a view that BLAS reads as is
                a, b = gy_t, col.transpose(0, 1, 3, 2)
            _sum_products(a, b, parts[worker], started[worker], worker)
            started[worker] = True
    threads.parallel_for(samples, work, workers)
    gw = parts[0].reshape(-1)
    if workers > 1:
        others = [part.reshape(-1) for part in parts[1:]]

        def add(start, stop):                     # in worker order: the same bits every run
            for part in others:
                gw[start:stop] += part[start:stop]
        threads.parallel_range(gw.size, add, gw.size * len(others))
    return gw.reshape(weight_shape)


def live_taps(x_shape, weight_shape, stride, padding, dilation, out_size):
    """The block of kernel taps that read an input pixel for some output position, as
    (index into W (O, C/G, KH, KW), padding for that block), or None when no tap is dead.

    Along one side, tap k reads index o·S + k·D − P for o in [0, OH): it is live when one of
    those lies in [0, H). Live taps form the range [k0, k1) (dead ones inside it stay, they
    only add zeros); the block keeps reading the same pixels with padding P − k0·D. A side
    whose padding would turn negative, or with no live tap at all, is left whole.
    """
    block, pads, trimmed = [slice(None), slice(None)], list(padding), False
    for i in range(2):
        size, out, K = x_shape[2 + i], out_size[i], weight_shape[2 + i]
        S, P, D = stride[i], padding[i], dilation[i]
        reads = [_inside(k * D - P, S, size, out) for k in range(K)]    # [lo, hi) of o
        live = [k for k, (lo, hi) in enumerate(reads) if lo < hi]
        if not live or (live[0], live[-1] + 1) == (0, K) or P - live[0] * D < 0:
            continue
        block[i], pads[i], trimmed = slice(live[0], live[-1] + 1), P - live[0] * D, True
    if not trimmed:
        return None
    return (slice(None), slice(None), *block), tuple(pads)


def _winograd(xp, weight_shape, stride, padding, dilation, groups):
    """Whether a convolution goes through Winograd F(2×2, 3×3): NumPy arrays (CuPy keeps
    im2col), a 3×3 kernel with stride 1, dilation 1, padding at most 2 (the input
    gradient's padding is 2 − P), and channels per group as ``WINOGRAD_MIN_CHANNELS`` and
    ``WINOGRAD_MAX_GROWTH`` say. Groups run one after the other (``_by_group``)."""
    O, C, KH, KW = weight_shape                 # C: input channels per group
    O //= groups
    return (xp is np and (KH, KW) == (3, 3) and tuple(stride) == (1, 1)
            and tuple(dilation) == (1, 1) and max(padding) <= 2
            and min(O, C) >= WINOGRAD_MIN_CHANNELS and O <= WINOGRAD_MAX_GROWTH * C)


def _by_group(groups, axis, product):
    """``product(g)`` of every group g, joined along ``axis`` (channels of y or gx: 1, of gW:
    0). Each group's convolution is the same arithmetic as a one-group convolution of its
    channels: AlexNet's two towers give the same bits run as groups=2 in one process or as
    one group on each of two workers (tests/distributed: model_parallel)."""
    if groups == 1:
        return product(0)
    return np.concatenate([product(g) for g in range(groups)], axis=axis)


def _sum_products(a, b, out, add, worker):
    """out = Σ_i a[i] @ b[i] (+ out when ``add``) for a (m, G, M, T) and b (m, G, T, K): the
    first single product straight into ``out``, else the products into a buffer and summed
    in one reduction (one pass over them, not one ``+=`` of the whole (G, M, K) each)."""
    xp = get_array_module(out)
    if len(a) == 1 and not add:
        xp.matmul(a[0], b[0], out=out)
        return
    products = workspace.buffer(f"gw_products{worker}", (len(a),) + out.shape, out.dtype, xp)
    xp.matmul(a, b, out=products)
    if add:
        products[0] += out
    xp.sum(products, axis=0, out=out)


def conv2d_forward_reference(x, weight, bias, stride, padding, dilation, groups,
                             out_size=None):
    """Whole columns, one matmul: y[n, g] = W[g] · col[n, g] + b (NumPy only)."""
    N, C = x.shape[:2]
    O, _, KH, KW = weight.shape
    G = groups
    col = im2col_reference(x, (KH, KW), stride, padding, dilation, out_size)
    OH, OW = col.shape[4:]
    col = col.reshape(N, G, C // G * KH * KW, OH * OW)             # (N, G, K, P)
    y = np.matmul(weight.reshape(G, O // G, -1), col)              # (N, G, O/G, P)
    y = y.reshape(N, O, OH, OW)
    return y if bias is None else y + bias.reshape(O, 1, 1)


def conv2d_input_grad_reference(gy, weight, input_shape, stride, padding, dilation, groups):
    """gx = col2im(W[g]ᵀ · gy[n, g]) over the whole column matrix (NumPy only)."""
    N, C = input_shape[:2]
    O, _, KH, KW = weight.shape
    G, (OH, OW) = groups, gy.shape[2:]
    w_t = weight.reshape(G, O // G, -1).transpose(0, 2, 1)         # (G, K, O/G)
    gcol = np.matmul(w_t, gy.reshape(N, G, O // G, OH * OW))       # (N, G, K, P)
    return col2im_reference(gcol.reshape(N, C, KH, KW, OH, OW), input_shape, stride, padding,
                            dilation)


def conv2d_weight_grad_reference(x, gy, weight_shape, stride, padding, dilation, groups):
    """gW[g] = Σ_n gy[n, g] · col[n, g]ᵀ over the whole column matrix (NumPy only)."""
    N, C = x.shape[:2]
    O, _, KH, KW = weight_shape
    G, (OH, OW) = groups, gy.shape[2:]
    col = im2col_reference(x, (KH, KW), stride, padding, dilation, (OH, OW))
    col = col.reshape(N, G, C // G * KH * KW, OH * OW)             # (N, G, K, P)
    gy_g = gy.reshape(N, G, O // G, OH * OW)                       # (N, G, O/G, P)
    return np.matmul(gy_g, col.transpose(0, 1, 3, 2)).sum(axis=0).reshape(weight_shape)


@dataclass(frozen=True)
class _Conv:
    """The geometry of one convolution, and how its work is cut into tiles."""
    weight_shape: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int
    out_size: tuple

    @property
    def kernel(self):
        return tuple(self.weight_shape[2:])

    def pointwise(self, x_shape):
        """A 1×1 kernel with stride 1 and no padding: col[n] is x[n] itself."""
        return (self.kernel == (1, 1) and self.stride == (1, 1) and self.padding == (0, 0)
                and self.out_size == tuple(x_shape[2:]))

    def tiles(self, x_shape, dtype, xp):
        """(sample slices, row slices, workers) of one product: the workers the threading
        policy grants its multiply-adds (1 on the GPU), and tiles for them (workspace.tiles);
        never more workers than sample slices."""
        N, C = x_shape[:2]
        O, KH, KW = self.weight_shape[0], *self.kernel
        OH, OW = self.out_size
        macs = N * O * C // self.groups * KH * KW * OH * OW
        workers = threads.workers_for(N, macs, threads.GEMM_GRAIN) if xp is np else 1
        row_bytes = C * KH * KW * OW * np.dtype(dtype).itemsize
        samples, bands = workspace.tiles(N, OH, row_bytes, xp, workers,
                                         one_product_per_sample=OH * OW >= MERGE_BELOW)
        return samples, bands, max(1, min(workers, len(samples)))

    def positions(self, rows):
        """The flat output positions p = oh·OW + ow of the band of output rows ``rows``."""
        return slice(rows.start * self.out_size[1], rows.stop * self.out_size[1])

    def columns(self, x, s, rows, worker):
        """The columns of samples s and output rows ``rows`` (T = (rows) · OW positions each):
        (n, G, K, T), one matrix per sample, or for a thin tile of several samples (G, K, n·T),
        the samples side by side (im2col's samples-inside layout)."""
        C, H, W = x.shape[1:]
        G, OW = self.groups, self.out_size[1]
        n, R = s.stop - s.start, rows.stop - rows.start
        K = C // G * self.kernel[0] * self.kernel[1]
        merged = _merged(n, R * OW)
        if self.pointwise(x.shape) and not merged:                   # a view of x
            return x[s].reshape(n, G, C // G, H * W)[..., self.positions(rows)]
        xp = get_array_module(x)
        shape = ((C,) + self.kernel + (n, R, OW) if merged else
                 (n, C) + self.kernel + (R, OW))
        col = workspace.buffer(f"col{worker}", shape, x.dtype, xp)
        im2col(x[s], self.kernel, self.stride, self.padding, self.dilation, out=col,
               first_row=rows.start, samples_inside=merged)
        return col.reshape(G, K, n * R * OW) if merged else col.reshape(n, G, K, R * OW)


def _matmul(a, b, out):
    """out = a @ b for a (G, M, K) and a tile b (n, G, K, T); thin tiles in one product."""
    xp = get_array_module(b)
    if _merged(len(b), b.shape[-1]):           # (G, M, K) @ (G, K, n·T), then back to (n, ...)
        out[...] = _split_samples(xp.matmul(a, _merge_samples(b)), len(b))
    else:
        xp.matmul(a, b, out=out)


def _merged(samples, positions):
    """Whether a tile of ``samples`` samples with ``positions`` output positions each is
    worked as one product, its samples side by side (``MERGE_BELOW``)."""
    return samples > 1 and positions < MERGE_BELOW


def _merge_samples(a):
    """(n, G, R, T) -> (G, R, n·T): the tile's samples side by side (a copy)."""
    n, G, R, T = a.shape
    return a.transpose(1, 2, 0, 3).reshape(G, R, n * T)


def _split_samples(a, n):
    """(G, R, n·T) -> (n, G, R, T), a view: the inverse of ``_merge_samples``."""
    G, R, nT = a.shape
    return a.reshape(G, R, n, nT // n).transpose(2, 0, 1, 3)
