"""Direct convolution for few channels at stride 1 (LeNet-5's layers), without columns.

Notation: im2col.py. im2col + GEMM copies every input pixel KH·KW times into the columns and
reads each column entry back for only O multiply-adds. With LeNet-5's 1 → 6 and 6 → 16
channels that copy costs as much as the product, and the (6, 25) · (25, 784) GEMMs are too
thin for BLAS (about 10 GFLOP/s here): the convolution was 38 of the 58 ms of its training
step. Here each sample's padded planes stay in L1/L2 and every tap reads them in place.

The trick that keeps the inner loop long and contiguous: the padded plane (Hp, Wp) is read
flat, and the output is computed with the same row pitch Wp. Output position j = oh·Wp + ow
of tap (kh, kw) reads flat pixel j + kh·Wp + kw, so one loop over j covers the whole map,

    acc[o, j] = b[o] + Σ_{c, kh, kw} W[o, c, kh, kw] · img[c, start + j + kh·Wp + kw],

and the columns ow ≥ OW of each row (Wp − OW of them, reading across the row's end) are
computed and dropped. The three products of conv2d, for stride 1, dilation 1, one group:

    forward:     y  = the sum above over x padded by (PH, PW), start 0
    input grad:  gx[c, i, j] = Σ_{o, kh, kw} W[o, c, kh, kw] · gy[o, i + PH − kh, j + PW − kw],
                 the same sum over gy padded by (KH − 1, KW − 1) with the kernel flipped
                 (W[o, c, KH−1−kh, KW−1−kw]) and transposed (O ↔ C), start PH·Wp + PW
    weight grad: gW[o, c, kh, kw] = Σ_n Σ_j gyp[n, o, j] · img[n, c, j + kh·Wp + kw],
                 gyp being gy at row pitch Wp with zeros in the dropped columns

Each kernel is compiled per kernel size (KH, KW are constants: the tap loops unroll and the
loop over j vectorizes). On the CPU only: on the GPU, conv2d keeps im2col + cuBLAS, whose
products are not memory-bound there. ``applies`` decides; im2col stays the reference.
"""
import functools

import numba
import numpy as np

from . import threads, workspace

# The direct path runs when C·O (input × output channels) is at most this, at stride 1,
# dilation 1, one group, in float32 or float64. LeNet-5's layers are 1·6 and 6·16; at 16·32
# channels on a 16×16 map im2col + GEMM is faster again.
DIRECT_MAX_CHANNELS = 128
# The input gradient reads gy padded by KH − 1, KW − 1 on every side: it goes the direct way
# only when those planes are at most this many times the input's (LeNet-5's second layer:
# 18×18 for 14×14, 1.65, slower than im2col; its first: 36×36 for 32×32, 1.27, faster).
INPUT_GRAD_MAX_PADDED = 1.5


def applies(x, weight_shape, stride, dilation, groups):
    """Whether conv2d's forward and weight gradient (x: their input array, or gy for the
    input gradient) go the direct way (module docstring)."""
    return (type(x) is np.ndarray and x.dtype in (np.float32, np.float64)
            and stride == (1, 1) and dilation == (1, 1) and groups == 1
            and weight_shape[0] * weight_shape[1] <= DIRECT_MAX_CHANNELS)


def input_grad_applies(gy, weight_shape, input_shape, stride, dilation, groups):
    """Whether conv2d's input gradient goes the direct way."""
    (OH, OW), (KH, KW), (H, W) = gy.shape[2:], weight_shape[2:], input_shape[2:]
    padded = (OH + 2 * KH - 2) * (OW + 2 * KW - 2)
    return (applies(gy, weight_shape, stride, dilation, groups)
            and padded <= INPUT_GRAD_MAX_PADDED * max(H * W, 1))


def direct_forward(x, weight, bias, padding, out_size):
    """x (N, C, H, W), W (O, C, KH, KW), b (O,) or None -> y (N, O, OH, OW)."""
    N, O = x.shape[0], weight.shape[0]
    y = np.empty((N, O) + tuple(out_size), x.dtype)
    b = np.zeros(O, x.dtype) if bias is None else bias
    _correlate(x, weight, b, y, padding, (0, 0))
    return y


def direct_input_grad(gy, weight, input_shape, padding):
    """gy (N, O, OH, OW), W (O, C, KH, KW) -> gx of ``input_shape`` (N, C, H, W)."""
    KH, KW = weight.shape[2:]
    flipped = np.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    gx = np.empty(input_shape, gy.dtype)
    _correlate(gy, flipped, np.zeros(input_shape[1], gy.dtype), gx, (KH - 1, KW - 1),
               padding)
    return gx


def direct_weight_grad(x, gy, weight_shape, padding):
    """x (N, C, H, W), gy (N, O, OH, OW) -> gW of ``weight_shape`` (O, C, KH, KW).

    Each sample's sums over j are in x's dtype; the sum over samples is in float64, rounded
    once: gW then hardly depends on how the batch is split (among workers, or among ranks
    that average their gradients), as im2col's per-group sums did not either."""
    KH, KW = weight_shape[2:]
    Hp, Wp = _padded_size(x.shape[2:], padding, gy.shape[2:], (KH, KW), (0, 0))
    samples, workers = _samples(x, gy.shape[1] * KH * KW * gy.shape[2] * gy.shape[3])
    parts = [np.zeros(weight_shape)] + [
        workspace.buffer(f"direct_gw{w}", weight_shape, np.float64, np) for w in range(1, workers)]
    for part in parts[1:]:
        part[...] = 0
    kernel = _weight_grad_for(KH, KW)

    def work(s, worker):
        img = _plane_buffer(worker, x.shape[1], Hp, Wp, x.dtype)
        gyp = workspace.buffer(f"direct_gyp{worker}", (gy.shape[1], Hp * Wp), x.dtype, np)
        kernel(x[s], gy[s], padding[0], padding[1], Wp, img, gyp, parts[worker])
    threads.parallel_for(samples, work, workers)
    for part in parts[1:]:                         # in worker order: the same bits every run
        parts[0] += part
    return parts[0].astype(x.dtype)


def _correlate(src, weight, bias, out, pad_before, start):
    """out[n, o] = bias[o] + Σ_{c, kh, kw} weight[o, c, kh, kw] · img[n, c, start + j + ...]
    for src (N, C, H, W) placed at ``pad_before`` in zeroed (Hp, Wp) planes (module
    docstring), on every worker."""
    KH, KW = weight.shape[2:]
    Hp, Wp = _padded_size(src.shape[2:], pad_before, out.shape[2:], (KH, KW), start)
    src = np.ascontiguousarray(src)
    samples, workers = _samples(src, np.prod(out.shape[1:]) * src.shape[1] * KH * KW)
    kernel = _correlate_for(KH, KW)

    def work(s, worker):
        img = _plane_buffer(worker, src.shape[1], Hp, Wp, src.dtype)
        acc = workspace.buffer(f"direct_acc{worker}", (out.shape[1], Hp * Wp), src.dtype, np)
        kernel(src[s], weight, bias, out[s], pad_before[0], pad_before[1],
               start[0] * Wp + start[1], Wp, img, acc)
    threads.parallel_for(samples, work, workers)


def _padded_size(size, pad_before, out_size, kernel, start):
    """(Hp, Wp): planes holding the padded input and every pixel the outputs read."""
    return tuple(max(p + n, s + o + k - 1)
                 for n, p, o, k, s in zip(size, pad_before, out_size, kernel, start))


def _plane_buffer(worker, C, Hp, Wp, dtype):
    """A worker's (C, Hp·Wp) flat planes, zeroed: the kernels write only the interior."""
    img = workspace.buffer(f"direct_img{worker}", (C, Hp * Wp), dtype, np)
    img[...] = 0
    return img


def _samples(x, macs_per_sample):
    """The workers the batch's multiply-adds earn, and one contiguous slice of samples each
    (a kernel call loops over its samples: one call per sample cost 20-30 µs of Python)."""
    N = x.shape[0]
    workers = threads.workers_for(N, N * macs_per_sample, threads.GEMM_GRAIN)
    bounds = [N * w // workers for w in range(workers + 1)]
    return [slice(bounds[w], bounds[w + 1]) for w in range(workers)], workers


@functools.lru_cache(maxsize=None)
def _correlate_for(KH, KW):
    """The correlation kernel for one kernel size, compiled on first use. Each row of taps
    (kh fixed) is one pass over j with the KW taps summed in a register: acc is then loaded
    and stored once per KW multiply-adds (all KH·KW taps in one pass measured slower: their
    weights do not fit the registers)."""
    @numba.njit(cache=True, nogil=True)
    def kernel(src, weight, bias, out, PH, PW, start, Wp, img, acc):
        N, C, H, W = src.shape
        O, OH, OW = out.shape[1:]
        L = numba.uint64((OH - 1) * Wp + OW)          # flat positions j that are kept, and before
        pitch = numba.uint64(Wp)
        for n in range(N):
            _place(src[n], img, PH, PW, Wp)
            for o in range(O):
                a = acc[o]
                a[:] = bias[o]
                for c in range(C):
                    plane, w = img[c], weight[o, c]
                    for kh in range(KH):
                        base = numba.uint64(start) + numba.uint64(kh) * pitch
                        for j in range(L):
                            t = a[j]
                            for kw in range(KW):
                                t += w[kh, kw] * plane[base + j + numba.uint64(kw)]
                            a[j] = t
                for oh in range(OH):
                    out[n, o, oh] = a[oh * Wp:oh * Wp + OW]
    return kernel


@functools.lru_cache(maxsize=None)
def _weight_grad_for(KH, KW):
    """The weight-gradient kernel for one kernel size: for each (o, c, kh) one pass over j
    sums the KW taps' products at once. The sums over j are reassociated (fastmath
    ``reassoc``) so that they vectorize: the order is fixed by the compiled code."""
    @numba.njit(cache=True, nogil=True, fastmath={"reassoc"})
    def kernel(x, gy, PH, PW, Wp, img, gyp, gw):
        N, C = x.shape[:2]
        O, OH, OW = gy.shape[1:]
        L = numba.uint64((OH - 1) * Wp + OW)
        pitch = numba.uint64(Wp)
        zero = gyp.dtype.type(0)
        gyp[:] = 0
        for n in range(N):
            _place(x[n], img, PH, PW, Wp)
            _place(gy[n], gyp, 0, 0, Wp)
            for o in range(O):
                g = gyp[o]
                for c in range(C):
                    plane = img[c]
                    for kh in range(KH):
                        base = numba.uint64(kh) * pitch
                        for kw in range(KW):
                            s = zero
                            shift = base + numba.uint64(kw)
                            for j in range(L):
                                s += g[j] * plane[shift + j]
                            gw[o, c, kh, kw] += s                # float64
    return kernel


@numba.njit(cache=True, nogil=True)
def _place(planes, flat, PH, PW, Wp):
    """flat[c, (i + PH)·Wp + j + PW] = planes[c, i, j]: (C, H, W) into flat padded planes,
    whose other entries are left as they are (zeros)."""
    C, H, W = planes.shape
    for c in range(C):
        for i in range(H):
            row = (i + PH) * Wp + PW
            flat[c, row:row + W] = planes[c, i]
