"""The LRN twins (Numba, CuPy) against the NumPy reference, on small (N, C, L) arrays."""
import numpy as np
import pytest

from scratchnet import backend
from scratchnet.kernels import lrn
from scratchnet.kernels.threads import GRAIN_SIZE
from tests.kernels.paths import PARALLEL_PATHS, forced

CASES = [((2, 5, 7), 3), ((1, 6, 4), 4), ((3, 4, 5), 1), ((2, 3, 6), 6), ((1, 1, 3), 2)]


def _arrays(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, shape).astype(dtype)
    x[0, 0, 0] = 0.0                                     # ReLU outputs are often exactly zero
    return x, rng.standard_normal(shape).astype(dtype)


def _check(forward, backward, shape, size, dtype, to=np.asarray):
    alpha, beta, k = 2.5, 0.75, 1.5                      # large alpha: the window matters
    x, gy = _arrays(shape, dtype)
    y_ref, scale_ref = lrn.lrn_forward_reference(x, size, alpha, beta, k)
    gx_ref = lrn.lrn_backward_reference(x, scale_ref, gy, size, alpha, beta, k)
    y, scale = forward(to(x), size, alpha, beta, k)
    gx = backward(to(x), scale, to(gy), size, alpha, beta, k)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-14)
    for ours, ref in ((y, y_ref), (scale, scale_ref), (gx, gx_ref)):
        assert ours.dtype == dtype
        np.testing.assert_allclose(backend.to_numpy(ours), ref, **tol)


@pytest.mark.parametrize("path", PARALLEL_PATHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, size", CASES)
def test_numba_twin_matches_reference(shape, size, dtype, path):
    with forced(path):
        _check(lrn.lrn_forward, lrn.lrn_backward, shape, size, dtype)


def test_parallel_launch_matches_reference():
    """Above GRAIN_SIZE elements the kernels run on several threads; same numbers."""
    _check(lrn.lrn_forward, lrn.lrn_backward, (2, 8, GRAIN_SIZE // 8 + 1), 5, np.float32)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, size", CASES)
def test_cupy_twin_matches_reference(shape, size, dtype):
    cupy = backend.cupy_module()
    _check(lrn.lrn_forward, lrn.lrn_backward, shape, size, dtype, to=cupy.asarray)
