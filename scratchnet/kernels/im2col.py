"""im2col and col2im: convolution as one matrix product.

Notation (used by every conv and pooling file in scratchnet)::

    N          batch size
    C, O       input and output channels;  G groups (each sees C/G inputs, makes O/G outputs)
    H, W       input height and width
    KH, KW     kernel height and width
    SH, SW     stride
    PH, PW     padding before the first row / column (the top and left padding)
    DH, DW     dilation: kernel taps are DH rows apart (1 = dense)
    OH, OW     output height and width (rules in _shapes.py)

im2col copies, for every output position (oh, ow) and kernel tap (kh, kw), the input pixel
that tap sees::

    col[n, c, kh, kw, oh, ow] = x[n, c, oh·SH + kh·DH − PH, ow·SW + kw·DW − PW]

(0 where that index falls in the padding). Reshaped to (N, C·KH·KW, OH·OW), a convolution is
then ``W.reshape(O, C·KH·KW) @ col[n]``: one GEMM per sample, whose result is already the
(O, OH·OW) slab of the NCHW output, so no transpose follows. ``col2im`` is the adjoint: it sums
every entry of a column array back onto the pixel it came from (a pixel seen by several
windows receives several contributions), which is how the input gradient is formed:
``gx = col2im(Wᵀ @ gy)``.

Both also work on a *tile*: the columns of output rows first_row .. first_row + R − 1 only
(conv2d's unit of work, kernels/workspace.py); col2im can add onto its output, so the tiles
of one image are folded one after the other.

Two layouts of the same entries. ``col[n, c, kh, kw, oh, ow]`` (N, C, KH, KW, OH, OW) gives
each sample its own column matrix; with ``samples_inside=True`` the array is (C, KH, KW, N,
OH, OW), ``col[c, kh, kw, n, oh, ow]``: the samples lie side by side inside each row of one
(C·KH·KW, N·OH·OW) matrix, so that one GEMM covers all of them without a copy (conv2d's
small maps). For one sample the two layouts are the same bytes; the kernels are written for
the second and see the first as N·C planes of one sample.

Each kernel exists three times: a NumPy reference (KH·KW strided slice copies, the oracle of
the tests), a Numba twin for the CPU (one pass, no padded copy, each worker a block of (n, c)
planes;
at stride 1 with OW = W each tap is a single shifted copy of the plane) and a CuPy twin for
the GPU (one thread per output element, gathering). The dispatchers ``im2col``/``col2im``
pick the twin from the array's module.
"""
import numba
import numpy as np

from ..backend import cupy_module, is_cupy
from ._cupy import elementwise
from ._shapes import conv_output_hw
from . import threads

# A stride-1 tap with OW = W and at least this many entries is copied as one shifted run of the
# plane (_shifted_tap); smaller ones element by element, where slicing would cost more.
SHIFTED_TAP_MIN = 256


def im2col(x, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1), out_size=None,
           out=None, first_row=0, samples_inside=False):
    """x (N, C, H, W) -> col (N, C, KH, KW, OH, OW), written into ``out`` (C-contiguous) if
    given; with ``samples_inside`` col is (C, KH, KW, N, OH, OW) (module docstring).

    ``padding`` is (PH, PW) before the input; ``out_size`` defaults to the symmetric-padding
    size, and a larger one reads zeros past the bottom/right edge (asymmetric "same" padding,
    ceil_mode pooling). A tile of the columns: ``out`` of shape (N, C, KH, KW, R, OW) receives
    the R output rows first_row .. first_row + R − 1 (conv2d's unit of work).
    """
    N, C, H, W = x.shape
    if out_size is None:
        out_size = conv_output_hw(x.shape, kernel_size, stride, padding, dilation)
    shape = (C,) + tuple(kernel_size) + (N,) + tuple(out_size) if samples_inside else \
        (N, C) + tuple(kernel_size) + tuple(out_size)
    xp = cupy_module() if is_cupy(x) else np
    if out is None:
        out = xp.empty(shape, x.dtype)
    x, col = _kernel_views(xp.ascontiguousarray(x), out, samples_inside)
    if is_cupy(x):
        _im2col_cupy(x, col, first_row, stride, padding, dilation)
    else:
        threads.parallel_range(x.shape[1], lambda start, stop: _im2col_numba(
            x, col, start, stop, first_row, *stride, *padding, *dilation, SHIFTED_TAP_MIN),
            out.size)
    return out


def col2im(col, x_shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1), out=None,
           first_row=0, accumulate=False, samples_inside=False):
    """col (N, C, KH, KW, OH, OW), or (C, KH, KW, N, OH, OW) with ``samples_inside`` ->
    img (N, C, H, W): the adjoint of im2col (sums overlaps), written into ``out``
    (C-contiguous) if given. A tile (N, C, KH, KW, R, OW) holds output rows
    first_row .. first_row + R − 1; ``accumulate=True`` adds onto ``out`` instead of
    overwriting it, so that the tiles of one image can be folded one after the other."""
    xp = cupy_module() if is_cupy(col) else np
    if out is None:
        out = xp.empty(x_shape, col.dtype)
    img, col = _kernel_views(out, xp.ascontiguousarray(col), samples_inside)
    if is_cupy(col):
        _col2im_cupy(col, img, first_row, accumulate, stride, padding, dilation)
    else:
        threads.parallel_range(img.shape[1], lambda start, stop: _col2im_numba(
            col, img, start, stop, first_row, accumulate, *stride, *padding, *dilation),
            col.size)
    return out


def _kernel_views(x, col, samples_inside):
    """The (N, C, H, W) image and the (C, KH, KW, N, R, OW) columns the kernels take, as views:
    without ``samples_inside`` the N·C planes are the channels of one sample."""
    if not (x.flags.c_contiguous and col.flags.c_contiguous):
        raise ValueError("im2col/col2im: expected C-contiguous arrays")
    if samples_inside:
        return x, col
    N, C = x.shape[:2]
    return (x.reshape((1, N * C) + x.shape[2:]),
            col.reshape((N * C,) + col.shape[2:4] + (1,) + col.shape[4:]))



def _padded_image(x_shape, col_shape, stride, padding, dilation, dtype):
    """Zeros large enough to hold x at offset (PH, PW) and every window of col_shape."""
    N, C, H, W = x_shape
    _, _, KH, KW, OH, OW = col_shape
    Hp = max(padding[0] + H, (OH - 1) * stride[0] + (KH - 1) * dilation[0] + 1)
    Wp = max(padding[1] + W, (OW - 1) * stride[1] + (KW - 1) * dilation[1] + 1)
    return np.zeros((N, C, Hp, Wp), dtype)


def _window(kh, kw, col_shape, stride, dilation):
    """Rows and columns of the padded image that tap (kh, kw) reads, as two strided slices."""
    OH, OW = col_shape[4:]
    (SH, SW), (DH, DW) = stride, dilation
    return (slice(kh * DH, kh * DH + (OH - 1) * SH + 1, SH),
            slice(kw * DW, kw * DW + (OW - 1) * SW + 1, SW))


def im2col_reference(x, kernel_size, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                     out_size=None):
    """Pure NumPy: pad, then one strided slice copy per kernel tap (Chainer's utils/conv.py)."""
    N, C, H, W = x.shape
    if out_size is None:
        out_size = conv_output_hw(x.shape, kernel_size, stride, padding, dilation)
    col = np.empty((N, C) + tuple(kernel_size) + tuple(out_size), x.dtype)
    img = _padded_image(x.shape, col.shape, stride, padding, dilation, x.dtype)
    img[:, :, padding[0]:padding[0] + H, padding[1]:padding[1] + W] = x
    for kh in range(kernel_size[0]):
        for kw in range(kernel_size[1]):
            rows, cols = _window(kh, kw, col.shape, stride, dilation)
            col[:, :, kh, kw] = img[:, :, rows, cols]          # (N, C, OH, OW)
    return col


def col2im_reference(col, x_shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1)):
    """Pure NumPy: one strided slice ``+=`` per kernel tap, then crop the padding."""
    N, C, H, W = x_shape
    img = _padded_image(x_shape, col.shape, stride, padding, dilation, col.dtype)
    for kh in range(col.shape[2]):
        for kw in range(col.shape[3]):
            rows, cols = _window(kh, kw, col.shape, stride, dilation)
            img[:, :, rows, cols] += col[:, :, kh, kw]
    return img[:, :, padding[0]:padding[0] + H, padding[1]:padding[1] + W].copy()


@numba.njit(cache=True)
def _inside(offset, step, size, count):
    """The range [lo, hi) of o in [0, count) with 0 <= o·step + offset < size."""
    lo = max(0, (-offset + step - 1) // step)
    hi = min(count, (size - 1 - offset) // step + 1)
    return lo, max(lo, hi)


@numba.njit(cache=True, nogil=True)
def _im2col_numba(x, col, c0, c1, oh0, SH, SW, PH, PW, DH, DW, shifted_tap_min):
    N, _, H, W = x.shape                   # x (N, C, H, W), col (C, KH, KW, N, R, OW):
    KH, KW, _, R, OW = col.shape[1:]       # a worker fills channels c0 .. c1 − 1
    shifted = SH == 1 and SW == 1 and OW == W and R * OW >= shifted_tap_min
    for c in range(c0, c1):
        for kh in range(KH):               # col's own order: its writes run forward
            for kw in range(KW):
                # ow in [lo, hi) reads column iw = ow·SW + kw·DW − PW inside [0, W);
                # outside that range the tap sees padding (zeros)
                lo, hi = _inside(kw * DW - PW, SW, W, OW)
                for n in range(N):
                    img, tap = x[n, c], col[c, kh, kw, n]
                    if shifted:
                        _shifted_tap(img.reshape(H * W), tap.reshape(R * OW),
                                     (oh0 + kh * DH - PH) * W + kw * DW - PW, lo, hi, OW)
                        continue
                    # element by element, no array slices: on small maps (ResNet's 4×4 ..
                    # 1×1 at 32×32 input) creating slices would cost more than copying
                    for r in range(R):             # col row r is output row oh0 + r
                        ih = (oh0 + r) * SH + kh * DH - PH
                        inside = 0 <= ih < H
                        for ow in range(OW):
                            if inside and lo <= ow < hi:
                                tap[r, ow] = img[ih, ow * SW + kw * DW - PW]
                            else:
                                tap[r, ow] = 0


# col2im's row loop indexes with unsigned integers (all are >= 0 there): with signed ones
# Numba tests every index for a negative (wraparound) value, which keeps LLVM from optimising
# the loop (col2im of ResNet-18's 8×8 layer, 64 samples, one thread: 5.7-6.1 -> 1.8-2.4 ms;
# the 7×7 stride-2 stem, 16 samples: 51-60 -> 28-40 ms). The same rewrite of im2col's loop
# was slower on 2×2 and 4×4 maps (the per-row setup outweighs the copy), so im2col keeps its
# element-by-element loop.
@numba.njit(cache=True, nogil=True, inline="always")
def _add_row(src, r, dst, i, lo, hi, step, offset):
    """dst[i, ow·step + offset] += src[r, ow] for ow in [lo, hi) (all inside dst's row i)."""
    first, ulo = numba.uint64(lo * step + offset), numba.uint64(lo)
    for j in range(hi - lo):
        dst[i, first + numba.uint64(j * step)] += src[r, ulo + numba.uint64(j)]


@numba.njit(cache=True, nogil=True)
def _shifted_tap(img, tap, shift, lo, hi, OW):
    """One tap of a stride-1 conv whose rows are as long as the image's (OW = W): flat index
    j = r·OW + ow of the tap reads img.flat[j + shift], so the tap is one long copy. Entries
    that read before or after the image are zeros; so are the columns ow outside [lo, hi),
    which the copy filled from the neighbouring row (a tap in the left/right padding)."""
    a = min(max(0, -shift), tap.size)          # [a, b): the entries that read inside img
    b = max(a, min(tap.size, img.size - shift))
    tap[:a] = 0
    tap[a:b] = img[a + shift:b + shift]
    tap[b:] = 0
    for r in range(tap.size // OW):
        for ow in range(lo):
            tap[r * OW + ow] = 0
        for ow in range(hi, OW):
            tap[r * OW + ow] = 0


@numba.njit(cache=True, nogil=True)
def _col2im_numba(col, img, c0, c1, oh0, accumulate, SH, SW, PH, PW, DH, DW):
    N, _, H, W = img.shape             # a worker owns channels c0 .. c1 − 1 of every sample:
    KH, KW, _, R, OW = col.shape[1:]   # no two workers write one pixel
    for c in range(c0, c1):
        for n in range(N):
            out = img[n, c]
            if not accumulate:
                out[:] = 0
            for kh in range(KH):
                for kw in range(KW):
                    lo, hi = _inside(kw * DW - PW, SW, W, OW)
                    tap = col[c, kh, kw, n]
                    for r in range(R):
                        ih = (oh0 + r) * SH + kh * DH - PH
                        if ih < 0 or ih >= H:
                            continue
                        _add_row(tap, r, out, ih, lo, hi, SW, kw * DW - PW)


# R is the number of output rows the col array (or tile) holds, OH0 the first of them.
# The kernels take the (C, KH, KW, N, R, OW) layout, N samples of C channels (module docstring).
_PARAMS = "int32 N, int32 C, int32 H, int32 W, int32 KH, int32 KW, int32 R, int32 OW, " \
          "int32 OH0, int32 SH, int32 SW, int32 PH, int32 PW, int32 DH, int32 DW"

# One thread per col element i = (((((c·KH + kh)·KW + kw)·N + n)·R + r)·OW + ow): unravel i,
# then read the one input pixel this tap sees in output row oh = OH0 + r (or 0 in the padding).
_IM2COL_SRC = r"""
    const int ow = i % OW;
    const int oh = OH0 + (i / OW) % R;
    const long long n = (i / ((long long)OW * R)) % N;
    const int kw = (i / ((long long)OW * R * N)) % KW;
    const int kh = (i / ((long long)OW * R * N * KW)) % KH;
    const long long c = i / ((long long)OW * R * N * KW * KH);
    const int ih = oh * SH + kh * DH - PH;
    const int iw = ow * SW + kw * DW - PW;
    col = (0 <= ih && ih < H && 0 <= iw && iw < W) ? img[((n * C + c) * H + ih) * W + iw]
                                                   : (T)0;
"""

# One thread per image pixel i = ((n·C + c)·H + ih)·W + iw, gathering every column entry that
# was copied from it: tap kh reads row ih from output row oh = (ih + PH − kh·DH) / SH when that
# division is exact and OH0 <= oh < OH0 + R (same for columns), and adding their sum onto
# img (the dispatcher zeroes img first unless it accumulates tiles). No atomics: deterministic.
_COL2IM_SRC = r"""
    const int iw = i % W;
    const int ih = (i / W) % H;
    const long long c = (i / ((long long)W * H)) % C;
    const long long n = i / ((long long)W * H * C);
    T sum = 0;
    for (int kh = 0; kh < KH; ++kh) {
        const int th = ih + PH - kh * DH;
        if (th < 0 || th % SH != 0) continue;
        const int r = th / SH - OH0;
        if (r < 0 || r >= R) continue;
        for (int kw = 0; kw < KW; ++kw) {
            const int tw = iw + PW - kw * DW;
            if (tw < 0 || tw % SW != 0 || tw / SW >= OW) continue;
            const int ow = tw / SW;
            sum += col[((((c * KH + kh) * KW + kw) * N + n) * R + r) * OW + ow];
        }
    }
    img += sum;
"""


def _im2col_cupy(x, col, first_row, stride, padding, dilation):
    N, C, H, W = x.shape
    KH, KW, _, R, OW = col.shape[1:]
    kernel = elementwise(f"raw T img, {_PARAMS}", "T col", _IM2COL_SRC, "scratchnet_im2col")
    kernel(x, N, C, H, W, KH, KW, R, OW, first_row, *stride, *padding, *dilation, col)


def _col2im_cupy(col, img, first_row, accumulate, stride, padding, dilation):
    if not accumulate:
        img.fill(0)
    N, C, H, W = img.shape
    KH, KW, _, R, OW = col.shape[1:]
    kernel = elementwise(f"raw T col, {_PARAMS}", "T img", _COL2IM_SRC, "scratchnet_col2im")
    kernel(col, N, C, H, W, KH, KW, R, OW, first_row, *stride, *padding, *dilation, img)
