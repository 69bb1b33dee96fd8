"""Max pooling kernels: the forward max with its argmax, and the backward that routes each
output gradient to the input pixel that won (notation: im2col.py).

For output (oh, ow) the window covers the input pixels

    (oh·SH − PH + kh·DH,  ow·SW − PW + kw·DW)    for kh < KH, kw < KW,

skipping those in the padding (torch pads max pooling with −inf, so padding never wins).
The winner is the first maximum in row-major window order; a NaN wins over any number, and
of several NaNs the last (torch's ``val > max || isnan(val)``). Its position is stored as a
flat index ih·W + iw into the (H, W) plane, which is also what
``max_pool2d(..., return_indices=True)`` returns, as in torch. With dilation a window can
fall entirely in the padding (W = 1, padding 1, two taps 2 apart): its output is −inf, as in
torch, and its index −1, so no input receives its gradient (torch stores an index past the
window there and sends the gradient to an unrelated pixel).

Backward: gx[n, c].flat[idx[n, c, oh, ow]] += gy[n, c, oh, ow]. Overlapping windows (3×3
stride 2) can pick the same pixel, so contributions accumulate. Average pooling needs no
kernel of its own: it is a sum over im2col's taps (functional/pooling.py).
"""
import functools

import numba
import numpy as np

from ..backend import cupy_module, is_cupy
from . import threads
from ._cupy import elementwise
from .im2col import _inside

# (KH, KW, SH, SW, DH, DW) of the poolings in the zoo, which get a kernel compiled for their
# geometry (_max_pool_numba_for, up to 8x faster): 2×2/2 (LeNet-5, VGG), 3×3/2 (AlexNet,
# ZFNet, ResNet, GoogLeNet, DenseNet), 3×3/1 (GoogLeNet's pool branches). Any other geometry
# runs the general kernel, which takes them as arguments.
SPECIALISED = {(2, 2, 2, 2, 1, 1), (3, 3, 2, 2, 1, 1), (3, 3, 1, 1, 1, 1)}


def max_pool_forward(x, kernel_size, stride, padding, dilation, out_size):
    """x (N, C, H, W) -> y (N, C, OH, OW) and idx (N, C, OH, OW) int64 flat indices."""
    if is_cupy(x):
        return _max_pool_cupy(x, kernel_size, stride, padding, dilation, out_size)
    N, C = x.shape[:2]
    y = np.empty((N, C) + tuple(out_size), x.dtype)
    idx = np.empty((N, C) + tuple(out_size), np.int64)
    x, y_p, idx_p = (threads.planes(a) for a in (np.ascontiguousarray(x), y, idx))
    geometry = (*kernel_size, *stride, *dilation)
    if geometry in SPECIALISED:
        kernel = _max_pool_numba_for(*geometry)
        threads.parallel_range(N * C, lambda start, stop: kernel(
            x[start:stop], y_p[start:stop], idx_p[start:stop], *padding), x.size)
    else:
        threads.parallel_range(N * C, lambda start, stop: _max_pool_numba(
            x[start:stop], y_p[start:stop], idx_p[start:stop], *kernel_size, *stride,
            *padding, *dilation), x.size)
    return y, idx


def max_pool_backward(gy, idx, x_shape, kernel_size, stride, padding, dilation):
    """gy (N, C, OH, OW), idx from the forward -> gx (N, C, H, W)."""
    if is_cupy(gy):
        return _max_pool_backward_cupy(gy, idx, x_shape, kernel_size, stride, padding, dilation)
    gx = np.empty(x_shape, gy.dtype)
    gy_p, idx_p, gx_p = (threads.planes(a) for a in (np.ascontiguousarray(gy), idx, gx))
    threads.parallel_range(len(gx_p), lambda start, stop: _max_pool_backward_numba(
        gy_p[start:stop], idx_p[start:stop], gx_p[start:stop]), gx.size)
    return gx


def max_pool_forward_reference(x, kernel_size, stride, padding, dilation, out_size):
    """Pure NumPy: pad with −inf, stack the KH·KW strided views, argmax over the taps."""
    N, C, H, W = x.shape
    (KH, KW), (SH, SW), (PH, PW), (DH, DW), (OH, OW) = (kernel_size, stride, padding,
                                                        dilation, out_size)
    Hp = max(PH + H, (OH - 1) * SH + (KH - 1) * DH + 1)
    Wp = max(PW + W, (OW - 1) * SW + (KW - 1) * DW + 1)
    img = np.full((N, C, Hp, Wp), -np.inf, x.dtype)
    img[:, :, PH:PH + H, PW:PW + W] = x
    taps = np.stack([img[:, :, kh * DH:kh * DH + (OH - 1) * SH + 1:SH,
                         kw * DW:kw * DW + (OW - 1) * SW + 1:SW]
                     for kh in range(KH) for kw in range(KW)], axis=2)   # (N, C, KH·KW, OH, OW)
    k = np.argmax(taps, axis=2)                  # first maximum, or the first NaN
    nan = np.isnan(taps)
    last_nan = taps.shape[2] - 1 - np.argmax(nan[:, :, ::-1], axis=2)
    k = np.where(nan.any(axis=2), last_nan, k)   # torch: the last NaN in window order
    y = np.take_along_axis(taps, k[:, :, None], axis=2)[:, :, 0]
    kh, kw = np.divmod(k, KW)
    ih = np.arange(OH)[:, None] * SH - PH + kh * DH                      # (N, C, OH, OW)
    iw = np.arange(OW)[None, :] * SW - PW + kw * DW
    inside = (0 <= ih) & (ih < H) & (0 <= iw) & (iw < W)   # False: the window is all padding
    return y, np.where(inside, ih * W + iw, -1).astype(np.int64)


def max_pool_backward_reference(gy, idx, x_shape):
    """Pure NumPy: scatter-add every output gradient onto its winner (``np.add.at``)."""
    N, C, H, W = x_shape
    gx = np.zeros((N * C, H * W), gy.dtype)
    planes = np.broadcast_to(np.arange(N * C)[:, None], (N * C, idx[0, 0].size))
    idx, gy = idx.reshape(N * C, -1), gy.reshape(N * C, -1)
    won = idx >= 0                                # −1: a window entirely in the padding
    np.add.at(gx, (planes[won], idx[won]), gy[won])
    return gx.reshape(x_shape)


@numba.njit(cache=True, nogil=True, inline="always")
def _window_max(img, h0, w0, KH, KW, DH, DW):
    """(max, flat index) of the window whose first tap is (h0, w0), skipping the padding."""
    H, W = img.shape
    best = -np.inf
    arg = -1                                     # -1 until the first in-bounds tap
    for kh in range(KH):
        ih = h0 + kh * DH
        if ih < 0 or ih >= H:
            continue
        for kw in range(KW):
            iw = w0 + kw * DW
            if iw < 0 or iw >= W:
                continue
            v = img[ih, iw]
            if arg < 0 or v > best or np.isnan(v):
                best = v
                arg = ih * W + iw
    return best, arg


@numba.njit(cache=True, nogil=True)
def _max_pool_numba(x, y, idx, KH, KW, SH, SW, PH, PW, DH, DW):
    P = x.shape[0]                           # P planes (n, c): x (P, H, W), y, idx (P, OH, OW)
    OH, OW = y.shape[1:]
    for p in range(P):
        for oh in range(OH):
            for ow in range(OW):
                y[p, oh, ow], idx[p, oh, ow] = _window_max(x[p], oh * SH - PH, ow * SW - PW,
                                                           KH, KW, DH, DW)


@functools.cache
def _max_pool_numba_for(KH, KW, SH, SW, DH, DW):
    """``_max_pool_numba`` for one window geometry (``SPECIALISED``), compiled on first use.

    The geometry is baked in as constants: Numba then unrolls the window and keeps it in
    registers. The outputs whose window lies inside the image (all but a border) need no
    bounds tests, and their pixel indices are computed as unsigned integers: Numba then drops
    the test for negative (wraparound) indices that otherwise keeps the loop from being
    optimised. 3×3 stride 2 on (2048, 56, 56) planes, one thread: 88 ms with the sizes as
    arguments and signed indices, 11 ms so. The border goes through ``_window_max``.
    """
    @numba.njit(cache=True, nogil=True)
    def kernel(x, y, idx, PH, PW):
        P, H, W = x.shape
        OH, OW = y.shape[1:]
        oh_lo, oh_hi = _inside(-PH, SH, H - (KH - 1) * DH, OH)   # windows inside the rows
        ow_lo, ow_hi = _inside(-PW, SW, W - (KW - 1) * DW, OW)
        h_start, w_start = oh_lo * SH - PH, ow_lo * SW - PW     # the first inner window
        uh, uw = np.uint64(h_start), np.uint64(w_start)            # >= 0 by construction
        for p in range(P):
            img = x[p]
            for a in range(oh_hi - oh_lo):
                for b in range(ow_hi - ow_lo):
                    h0, w0 = uh + np.uint64(a * SH), uw + np.uint64(b * SW)
                    best = img[h0, w0]
                    arg = 0
                    for kh in range(KH):
                        for kw in range(KW):
                            v = img[h0 + np.uint64(kh * DH), w0 + np.uint64(kw * DW)]
                            if v > best or np.isnan(v):
                                best = v
                                arg = kh * DH * W + kw * DW
                    y[p, oh_lo + a, ow_lo + b] = best
                    idx[p, oh_lo + a, ow_lo + b] = (h_start + a * SH) * W + w_start + b * SW + arg
            for oh in range(OH):
                inner_row = oh_lo <= oh < oh_hi
                for ow in range(OW):
                    if inner_row and ow_lo <= ow < ow_hi:
                        continue
                    y[p, oh, ow], idx[p, oh, ow] = _window_max(
                        img, oh * SH - PH, ow * SW - PW, KH, KW, DH, DW)
    return kernel


@numba.njit(cache=True, nogil=True)
def _max_pool_backward_numba(gy, idx, gx):
    P, H, W = gx.shape                       # a worker owns its planes: no write races
    OH, OW = gy.shape[1:]
    for p in range(P):
        out = gx[p].reshape(H * W)           # a view: gx is contiguous
        out[:] = 0
        for oh in range(OH):
            for ow in range(OW):
                if idx[p, oh, ow] >= 0:        # −1: a window entirely in the padding
                    out[idx[p, oh, ow]] += gy[p, oh, ow]


_PARAMS = ("int32 H, int32 W, int32 KH, int32 KW, int32 SH, int32 SW, int32 PH, int32 PW, "
           "int32 DH, int32 DW, int32 OH, int32 OW")

# One thread per output i = (nc·OH + oh)·OW + ow: scan the window in row-major order.
_FORWARD_SRC = r"""
    const int ow = i % OW;
    const int oh = (i / OW) % OH;
    const long long nc = i / ((long long)OW * OH);
    const T* img = &x[nc * H * W];
    T best = -INFINITY;
    long long arg = -1;
    for (int kh = 0; kh < KH; ++kh) {
        const int ih = oh * SH - PH + kh * DH;
        if (ih < 0 || ih >= H) continue;
        for (int kw = 0; kw < KW; ++kw) {
            const int iw = ow * SW - PW + kw * DW;
            if (iw < 0 || iw >= W) continue;
            const T v = img[ih * W + iw];
            if (arg < 0 || v > best || isnan(v)) { best = v; arg = ih * W + iw; }
        }
    }
    y = best;
    idx = arg;
"""

# One thread per input pixel i = (nc·H + ih)·W + iw. Tap kh of output row oh reads row ih when
# oh·SH = ih + PH − kh·DH, so each tap names at most one output; sum the gradients of those
# outputs whose winner is this pixel. Gathering needs no atomics and is deterministic.
_BACKWARD_SRC = r"""
    const int iw = i % W;
    const int ih = (i / W) % H;
    const long long nc = i / ((long long)W * H);
    const long long me = (long long)ih * W + iw;
    T sum = 0;
    for (int kh = 0; kh < KH; ++kh) {
        const int th = ih + PH - kh * DH;
        if (th < 0 || th % SH != 0 || th / SH >= OH) continue;
        for (int kw = 0; kw < KW; ++kw) {
            const int tw = iw + PW - kw * DW;
            if (tw < 0 || tw % SW != 0 || tw / SW >= OW) continue;
            const long long o = (nc * OH + th / SH) * OW + tw / SW;
            if (idx[o] == me) sum += gy[o];
        }
    }
    gx = sum;
"""


def _max_pool_cupy(x, kernel_size, stride, padding, dilation, out_size):
    cupy = cupy_module()
    y = cupy.empty(x.shape[:2] + tuple(out_size), x.dtype)
    idx = cupy.empty(x.shape[:2] + tuple(out_size), np.int64)
    kernel = elementwise(f"raw T x, {_PARAMS}", "T y, int64 idx", _FORWARD_SRC,
                         "scratchnet_max_pool_forward")
    kernel(cupy.ascontiguousarray(x), *x.shape[2:], *kernel_size, *stride, *padding, *dilation,
           *out_size, y, idx)
    return y, idx


def _max_pool_backward_cupy(gy, idx, x_shape, kernel_size, stride, padding, dilation):
    cupy = cupy_module()
    gx = cupy.empty(x_shape, gy.dtype)
    kernel = elementwise(f"raw T gy, raw int64 idx, {_PARAMS}", "T gx", _BACKWARD_SRC,
                         "scratchnet_max_pool_backward")
    kernel(cupy.ascontiguousarray(gy), idx, *x_shape[2:], *kernel_size, *stride, *padding,
           *dilation, *gy.shape[2:], gx)
    return gx
