"""Max-pool kernels: the Numba and CuPy twins equal the NumPy references (values, winners'
indices and the scattered gradient). Small shapes: also run under NUMBA_DISABLE_JIT=1."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.backend import to_device, to_numpy
from scratchnet.kernels import (
    max_pool_backward,
    max_pool_backward_reference,
    max_pool_forward,
    max_pool_forward_reference,
)
from scratchnet.kernels import pool as pool_module
from scratchnet.kernels._shapes import pool_output_size
from tests.helpers import DEVICES
from tests.kernels.paths import PARALLEL_PATHS, forced
from tests.strategies import distinct_values, seeds


@st.composite
def pool_cases(draw):
    """(x shape, kernel, stride, padding ≤ kernel // 2, dilation, out_size), ceil_mode drawn."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    ceil_mode = draw(st.booleans())
    sides = tuple(draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 7))
                  for k, p, d in zip(kernel, padding, dilation))
    out = tuple(pool_output_size(n, k, s, p, d, ceil_mode)
                for n, k, s, p, d in zip(sides, kernel, stride, padding, dilation))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + sides
    return shape, kernel, stride, padding, dilation, out


@pytest.mark.parametrize("path", PARALLEL_PATHS)
@pytest.mark.parametrize("device", DEVICES)
@given(case=pool_cases(), seed=seeds, ties=st.booleans())
def test_max_pool_matches_reference(device, path, case, seed, ties):
    shape, kernel, stride, padding, dilation, out = case
    rng = np.random.default_rng(seed)
    # with ties, values repeat, so the first-maximum rule decides the winner
    x = rng.integers(-2, 2, shape).astype(float) if ties else distinct_values(rng, shape)
    y_ref, idx_ref = max_pool_forward_reference(x, kernel, stride, padding, dilation, out)
    gy = rng.standard_normal(y_ref.shape)
    with forced(path):
        y, idx = max_pool_forward(to_device(x, device), kernel, stride, padding, dilation, out)
        got = max_pool_backward(to_device(gy, device), idx, shape, kernel, stride, padding,
                                dilation)
    np.testing.assert_array_equal(to_numpy(y), y_ref)
    np.testing.assert_array_equal(to_numpy(idx), idx_ref)
    expected = max_pool_backward_reference(gy, idx_ref, shape)
    np.testing.assert_allclose(to_numpy(got), expected, rtol=1e-12, atol=1e-12)


def test_max_pool_pads_with_minus_infinity():
    """DeZero's bug: padding with 0 makes 0 the maximum of all-negative windows. torch gives
    [[-1, -2], [-5, -6]] (STYLE.md §3): each window's top-left in-bounds pixel."""
    x = -np.arange(1.0, 17.0).reshape(1, 1, 4, 4)
    for pool in (max_pool_forward, max_pool_forward_reference):
        y, idx = pool(x, (3, 3), (2, 2), (1, 1), (1, 1), (2, 2))
        np.testing.assert_array_equal(y[0, 0], [[-1, -2], [-5, -6]])
        np.testing.assert_array_equal(idx[0, 0], [[0, 1], [4, 5]])


def test_max_pool_backward_accumulates_overlapping_windows():
    """3×3 stride 2 windows on a 5×5 plane share row/column 2; if the centre pixel is the
    largest, all four windows pick it, and it receives the sum of their gradients."""
    x = np.zeros((1, 1, 5, 5))
    x[0, 0, 2, 2] = 1.0
    y, idx = max_pool_forward(x, (3, 3), (2, 2), (0, 0), (1, 1), (2, 2))
    np.testing.assert_array_equal(idx[0, 0], [[12, 12], [12, 12]])
    gy = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    gx = max_pool_backward(gy, idx, x.shape, (3, 3), (2, 2), (0, 0), (1, 1))
    assert gx[0, 0, 2, 2] == 10.0 and gx.sum() == 10.0


def test_max_pool_nan_wins():
    x = np.array([[[[1.0, np.nan], [3.0, 2.0]]]])
    y, idx = max_pool_forward(x, (2, 2), (2, 2), (0, 0), (1, 1), (1, 1))
    assert np.isnan(y[0, 0, 0, 0]) and idx[0, 0, 0, 0] == 1


@pytest.mark.parametrize("geometry", sorted(pool_module.SPECIALISED))
@given(data=st.data(), seed=seeds, ties=st.booleans())
def test_kernels_compiled_for_the_zoo_geometries_match_reference(geometry, data, seed, ties):
    """The kernels with their geometry baked in (inner windows without bounds tests, the
    border through the general window code), on maps from all-border to mostly inner, with
    padding and ceil_mode, ties and NaNs."""
    KH, KW, SH, SW, DH, DW = geometry
    kernel, stride, dilation = (KH, KW), (SH, SW), (DH, DW)
    padding = (data.draw(st.integers(0, KH // 2)), data.draw(st.integers(0, KW // 2)))
    ceil_mode = data.draw(st.booleans())
    sides = (data.draw(st.integers(max(1, KH - 2 * padding[0]), 12)),
             data.draw(st.integers(max(1, KW - 2 * padding[1]), 12)))
    out = tuple(pool_output_size(n, k, s, p, d, ceil_mode)
                for n, k, s, p, d in zip(sides, kernel, stride, padding, dilation))
    shape = (2, 3) + sides
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 2, shape).astype(np.float32) if ties else \
        distinct_values(rng, shape).astype(np.float32)
    x.reshape(-1)[rng.integers(0, x.size, 2)] = np.nan
    y_ref, idx_ref = max_pool_forward_reference(x, kernel, stride, padding, dilation, out)
    y, idx = max_pool_forward(x, kernel, stride, padding, dilation, out)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(idx, idx_ref)


def test_of_several_nans_the_last_wins_as_in_torch():
    """torch.nn.functional.max_pool2d(x, 2, return_indices=True) gives index 2 here."""
    x = np.array([[[[np.nan, 1.0], [np.nan, 2.0]]]])
    for fn in (max_pool_forward, max_pool_forward_reference):
        y, idx = fn(x, (2, 2), (2, 2), (0, 0), (1, 1), (1, 1))
        assert np.isnan(y[0, 0, 0, 0]) and idx[0, 0, 0, 0] == 2
