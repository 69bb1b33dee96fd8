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
           out=None, first_row=0):
    """x (N, C, H, W) -> col (N, C, KH, KW, OH, OW), written into ``out`` if given.

    ``padding`` is (PH, PW) before the input; ``out_size`` defaults to the symmetric-padding
    size, and a larger one reads zeros past the bottom/right edge (asymmetric "same" padding,
    ceil_mode pooling). A tile of the columns: ``out`` of shape (N, C, KH, KW, R, OW) receives
    the R output rows first_row .. first_row + R − 1 (conv2d's unit of work).
    """
    N, C, H, W = x.shape
    if out_size is None:
        out_size = conv_output_hw(x.shape, kernel_size, stride, padding, dilation)
    shape = (N, C) + tuple(kernel_size) + tuple(out_size)
    if out is None:
        out = (cupy_module() if is_cupy(x) else np).empty(shape, x.dtype)
    if is_cupy(x):
        return _im2col_cupy(x, out, first_row, stride, padding, dilation)
    x, col = threads.planes(np.ascontiguousarray(x)), threads.planes(out)
    threads.parallel_range(N * C, lambda start, stop: _im2col_numba(
        x[start:stop], col[start:stop], first_row, *stride, *padding, *dilation,
        SHIFTED_TAP_MIN), out.size)
    return out


def col2im(col, x_shape, stride=(1, 1), padding=(0, 0), dilation=(1, 1), out=None,
           first_row=0, accumulate=False):
    """col (N, C, KH, KW, OH, OW) -> img (N, C, H, W): the adjoint of im2col (sums overlaps),
    written into ``out`` (contiguous) if given. A tile (N, C, KH, KW, R, OW) holds output rows
    first_row .. first_row + R − 1; ``accumulate=True`` adds onto ``out`` instead of
    overwriting it, so that the tiles of one image can be folded one after the other."""
    if out is None:
        out = (cupy_module() if is_cupy(col) else np).empty(x_shape, col.dtype)
    if is_cupy(col):
        return _col2im_cupy(col, out, first_row, accumulate, stride, padding, dilation)
    col, img = threads.planes(np.ascontiguousarray(col)), threads.planes(out)
    threads.parallel_range(len(img), lambda start, stop: _col2im_numba(
        col[start:stop], img[start:stop], first_row, accumulate, *stride, *padding, *dilation),
        col.size)
    return out



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
def _im2col_numba(x, col, oh0, SH, SW, PH, PW, DH, DW, shifted_tap_min):
    P, H, W = x.shape                        # P planes (n, c): x (P, H, W), col (P, KH, KW, R, OW)
    KH, KW, R, OW = col.shape[1:]
    for p in range(P):
        img = x[p]
        for kh in range(KH):
            for kw in range(KW):
                # ow in [lo, hi) reads column iw = ow·SW + kw·DW − PW inside [0, W);
                # outside that range the tap sees padding (zeros)
                lo, hi = _inside(kw * DW - PW, SW, W, OW)
                if SH == 1 and SW == 1 and OW == W and R * OW >= shifted_tap_min:
                    _shifted_tap(img.reshape(H * W), col[p, kh, kw].reshape(R * OW),
                                 (oh0 + kh * DH - PH) * W + kw * DW - PW, lo, hi, OW)
                    continue
                # element by element, no array slices: on small maps (ResNet's 4×4 .. 1×1
                # at 32×32 input) creating slices would cost more than copying
                for r in range(R):             # col row r is output row oh0 + r
                    ih = (oh0 + r) * SH + kh * DH - PH
                    inside = 0 <= ih < H
                    for ow in range(OW):
                        if inside and lo <= ow < hi:
                            col[p, kh, kw, r, ow] = img[ih, ow * SW + kw * DW - PW]
                        else:
                            col[p, kh, kw, r, ow] = 0


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
def _col2im_numba(col, img, oh0, accumulate, SH, SW, PH, PW, DH, DW):
    P, H, W = img.shape                      # a worker owns its planes: no two write one pixel
    KH, KW, R, OW = col.shape[1:]
    for p in range(P):
        out = img[p]
        if not accumulate:
            out[:] = 0
        for kh in range(KH):
            for kw in range(KW):
                lo, hi = _inside(kw * DW - PW, SW, W, OW)
                for r in range(R):
                    ih = (oh0 + r) * SH + kh * DH - PH
                    if ih < 0 or ih >= H:
                        continue
                    for ow in range(lo, hi):    # element by element, as in _im2col_numba
                        out[ih, ow * SW + kw * DW - PW] += col[p, kh, kw, r, ow]


# R is the number of output rows the col array (or tile) holds, OH0 the first of them.
_PARAMS = "int32 H, int32 W, int32 KH, int32 KW, int32 R, int32 OW, int32 OH0, " \
          "int32 SH, int32 SW, int32 PH, int32 PW, int32 DH, int32 DW"

# One thread per col element i = ((((nc·KH + kh)·KW + kw)·R + r)·OW + ow): unravel i, then
# read the one input pixel this tap sees in output row oh = OH0 + r (or 0 in the padding).
_IM2COL_SRC = r"""
    const int ow = i % OW;
    const int oh = OH0 + (i / OW) % R;
    const int kw = (i / ((long long)OW * R)) % KW;
    const int kh = (i / ((long long)OW * R * KW)) % KH;
    const long long nc = i / ((long long)OW * R * KW * KH);
    const int ih = oh * SH + kh * DH - PH;
    const int iw = ow * SW + kw * DW - PW;
    col = (0 <= ih && ih < H && 0 <= iw && iw < W) ? img[(nc * H + ih) * W + iw] : (T)0;
"""

# One thread per image pixel i = (nc·H + ih)·W + iw, gathering every column entry that was
# copied from it: tap kh reads row ih from output row oh = (ih + PH − kh·DH) / SH when that
# division is exact and OH0 <= oh < OH0 + R (same for columns), and adding their sum onto
# img (the dispatcher zeroes img first unless it accumulates tiles). No atomics: deterministic.
_COL2IM_SRC = r"""
    const int iw = i % W;
    const int ih = (i / W) % H;
    const long long nc = i / ((long long)W * H);
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
            sum += col[(((nc * KH + kh) * KW + kw) * R + r) * OW + ow];
        }
    }
    img += sum;
"""


def _im2col_cupy(x, col, first_row, stride, padding, dilation):
    H, W = x.shape[2:]
    KH, KW, R, OW = col.shape[2:]
    kernel = elementwise(f"raw T img, {_PARAMS}", "T col", _IM2COL_SRC, "scratchnet_im2col")
    kernel(cupy_module().ascontiguousarray(x), H, W, KH, KW, R, OW, first_row, *stride,
           *padding, *dilation, col)
    return col


def _col2im_cupy(col, img, first_row, accumulate, stride, padding, dilation):
    if not accumulate:
        img.fill(0)
    H, W = img.shape[2:]
    KH, KW, R, OW = col.shape[2:]
    kernel = elementwise(f"raw T col, {_PARAMS}", "T img", _COL2IM_SRC, "scratchnet_col2im")
    kernel(cupy_module().ascontiguousarray(col), H, W, KH, KW, R, OW, first_row, *stride,
           *padding, *dilation, img)
    return img
