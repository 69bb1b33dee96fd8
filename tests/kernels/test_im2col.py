"""im2col/col2im: the Numba and CuPy twins equal the NumPy references on every path, and
col2im is the adjoint of im2col. Small shapes (the paths are forced: tests/kernels/paths.py),
so these tests also run under NUMBA_DISABLE_JIT=1; the fast path at its natural size too."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.backend import to_device, to_numpy
from scratchnet.kernels import col2im, col2im_reference, im2col, im2col_reference
from scratchnet.kernels._shapes import conv_output_size
from tests.helpers import DEVICES
from tests.kernels.paths import IM2COL_PATHS, forced, im2col as im2col_module
from tests.strategies import seeds


@st.composite
def im2col_cases(draw):
    """(x shape, kernel, stride, padding, dilation, out_size); non-square everything, and an
    out_size up to one larger than symmetric padding gives (asymmetric "same", ceil_mode)."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    sides = []
    for k, p, d in zip(kernel, padding, dilation):
        smallest = max(1, d * (k - 1) + 1 - 2 * p)       # the dilated kernel fits the padded side
        sides.append(draw(st.integers(smallest, smallest + 4)))
    out = tuple(conv_output_size(n, k, s, 2 * p, d) + draw(st.integers(0, 1))
                for n, k, s, p, d in zip(sides, kernel, stride, padding, dilation))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + tuple(sides)
    return shape, kernel, stride, padding, dilation, out


@pytest.mark.parametrize("path", IM2COL_PATHS)
@pytest.mark.parametrize("device", DEVICES)
@given(case=im2col_cases(), seed=seeds)
def test_im2col_matches_reference(device, path, case, seed):
    shape, kernel, stride, padding, dilation, out = case
    x = np.random.default_rng(seed).standard_normal(shape)
    expected = im2col_reference(x, kernel, stride, padding, dilation, out)
    with forced(path):
        got = to_numpy(im2col(to_device(x, device), kernel, stride, padding, dilation, out))
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("path", IM2COL_PATHS)
@pytest.mark.parametrize("device", DEVICES)
@given(case=im2col_cases(), seed=seeds)
def test_col2im_matches_reference_and_is_the_adjoint(device, path, case, seed):
    shape, kernel, stride, padding, dilation, out = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    col = rng.standard_normal(shape[:2] + kernel + out)
    expected = col2im_reference(col, shape, stride, padding, dilation)
    with forced(path):
        got = to_numpy(col2im(to_device(col, device), shape, stride, padding, dilation))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    # <im2col(x), col> = <x, col2im(col)>: col2im sums exactly what im2col copied
    lhs = np.vdot(im2col_reference(x, kernel, stride, padding, dilation, out), col)
    np.testing.assert_allclose(lhs, np.vdot(x, got), rtol=1e-10)


def test_im2col_by_hand():
    """3×3 image 0..8, 2×2 kernel, padding 1, stride 2: window (oh, ow) is the 2×2 patch of
    the zero-padded image starting at row 2·oh − 1, column 2·ow − 1."""
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    col = im2col(x, (2, 2), (2, 2), (1, 1))
    windows = np.array([[[[0, 0], [0, 0]], [[0, 0], [1, 2]]],
                        [[[0, 3], [0, 6]], [[4, 5], [7, 8]]]], float)      # (OH, OW, KH, KW)
    np.testing.assert_array_equal(col[0, 0].transpose(2, 3, 0, 1), windows)


def test_col2im_accumulates_overlaps():
    """3×3 kernel, stride 1 on a 3×3 image with padding 1: the centre pixel is seen by all 9
    windows, a corner by 4, an edge pixel by 6."""
    col = np.ones((1, 1, 3, 3, 3, 3))
    img = col2im(col, (1, 1, 3, 3), (1, 1), (1, 1))
    np.testing.assert_array_equal(img[0, 0], [[4, 6, 4], [6, 9, 6], [4, 6, 4]])


def test_im2col_float32_keeps_dtype_and_writes_into_out():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    out = np.full((2, 3, 2, 2, 3, 4), np.nan, np.float32)
    col = im2col(x, (2, 2), out=out)
    assert col is out and col.dtype == np.float32
    np.testing.assert_array_equal(col, im2col_reference(x, (2, 2)))


def _check_row_tiles(x, kernel, stride, padding, dilation, bands, device="cpu"):
    """im2col of output rows [r0, r1) is that slice of the whole columns, and col2im
    accumulating the tiles one after the other gives the whole col2im."""
    whole = im2col_reference(x, kernel, stride, padding, dilation)
    gcol = np.random.default_rng(0).standard_normal(whole.shape)
    gx = to_device(np.full(x.shape, np.nan), device)
    for first, last in bands:
        tile_shape = whole.shape[:4] + (last - first,) + whole.shape[5:]
        tile = to_device(np.full(tile_shape, np.nan), device)
        im2col(to_device(x, device), kernel, stride, padding, dilation, out=tile, first_row=first)
        np.testing.assert_array_equal(to_numpy(tile), whole[:, :, :, :, first:last])
        col2im(to_device(np.ascontiguousarray(gcol[:, :, :, :, first:last]), device), x.shape,
               stride, padding, dilation, out=gx, first_row=first, accumulate=first > 0)
    expected = col2im_reference(gcol, x.shape, stride, padding, dilation)
    np.testing.assert_allclose(to_numpy(gx), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("path", IM2COL_PATHS)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kernel, stride, padding, dilation", [
    ((3, 3), (1, 1), (1, 1), (1, 1)),      # OW = W at stride 1: each tap is one shifted copy
    ((3, 5), (1, 1), (2, 4), (2, 2)),      # the same, dilated and non-square
    ((2, 3), (2, 1), (1, 1), (1, 1)),      # the row-by-row path
])
def test_row_tiles_match_the_whole_columns(device, path, kernel, stride, padding, dilation):
    """conv2d's tiles (kernels/conv.py), on a small map with the paths forced."""
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 6))
    OH = conv_output_size(7, kernel[0], stride[0], 2 * padding[0], dilation[0])
    with forced(path):
        _check_row_tiles(x, kernel, stride, padding, dilation, [(0, 1), (1, 4), (4, OH)], device)


@pytest.mark.parametrize("kernel, padding, dilation", [
    ((3, 3), (1, 1), (1, 1)),              # VGG's and ResNet's 3×3
    ((3, 5), (2, 4), (2, 2)),              # dilated, non-square, two columns of padding a side
    ((2, 2), (0, 0), (1, 1)),              # "same" with the extra column after (out_size = W)
])
def test_shifted_taps_at_their_natural_size(kernel, padding, dilation):
    """A 20×20 image at stride 1: tiles of 13 or more rows have R·OW ≥ SHIFTED_TAP_MIN = 256
    entries per tap, which im2col copies as shifted runs; the tiles start at rows 0 and 3."""
    assert 13 * 20 >= im2col_module.SHIFTED_TAP_MIN
    x = np.random.default_rng(1).standard_normal((2, 2, 20, 20))
    if padding == (0, 0):                  # asymmetric "same": rows/columns past the edge read 0
        whole = im2col_reference(x, kernel, padding=padding, out_size=(20, 20))
        tile = im2col(x, kernel, padding=padding, out_size=(17, 20),
                      out=np.full(whole.shape[:4] + (17, 20), np.nan), first_row=3)
        np.testing.assert_array_equal(tile, whole[:, :, :, :, 3:])
        return
    _check_row_tiles(x, kernel, (1, 1), padding, dilation, [(0, 3), (3, 20)])
