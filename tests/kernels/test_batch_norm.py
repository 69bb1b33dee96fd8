"""The batch-norm Numba twin against the NumPy reference, on small (N, C, L) arrays."""
import numpy as np
import pytest

from scratchnet.kernels import batch_norm as bn
from scratchnet.kernels.threads import GRAIN_SIZE
from tests.kernels.paths import PARALLEL_PATHS, forced

SHAPES = [(4, 3, 5), (2, 1, 1), (1, 4, 9), (7, 2, 1)]


def _case(shape, dtype, offset=0.0, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) + offset).astype(dtype)
    gy = rng.standard_normal(shape).astype(dtype)
    a, shift = (rng.uniform(0.5, 2, shape[1]).astype(dtype) for _ in range(2))
    return x, gy, a, shift


def _check(stats, affine, backward, shape, dtype, offset=0.0):
    x, gy, a, shift = _case(shape, dtype, offset)
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    mean, var = stats(x)
    for ours, ref in zip((mean, var), bn.batch_stats_reference(x.astype(np.float64))):
        assert ours.dtype == dtype
        np.testing.assert_allclose(ours, ref, **tol)
    np.testing.assert_allclose(affine(x, a, shift), bn.affine_reference(x, a, shift), **tol)
    invstd = 1 / np.sqrt(var + dtype(1e-5))
    for batch in (True, False):
        ours = backward(x, gy, mean, invstd, a, batch)
        ref = bn.backward_reference(x, gy, mean, invstd, a, batch)
        for o, r in zip(ours, ref):
            np.testing.assert_allclose(o, r, **tol)


@pytest.mark.parametrize("path", PARALLEL_PATHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_numba_twin_matches_reference(shape, dtype, path):
    with forced(path):
        _check(bn.batch_stats, bn.affine, bn.backward, shape, dtype)


def test_float32_statistics_keep_their_accuracy_far_from_zero():
    """Mean 1000 and std 1 over 4096 values per channel: the variance survives (compared with
    float64 statistics of the same numbers)."""
    _check(bn.batch_stats, bn.affine, bn.backward, (64, 2, 64), np.float32, offset=1000.0)


def test_parallel_launch_matches_reference():
    _check(bn.batch_stats, bn.affine, bn.backward, (4, 6, GRAIN_SIZE // 8), np.float32)


def test_empty_batches_take_the_reference():
    x = np.zeros((0, 3, 4))
    a, shift = np.ones(3), np.zeros(3)
    with np.errstate(invalid="ignore"):
        mean, var = bn.batch_stats(x)                        # 0/0: NaN, as NumPy gives
    assert mean.shape == var.shape == (3,)
    assert bn.affine(x, a, shift).shape == (0, 3, 4)
    gx, gw, gb = bn.backward(x, x, np.zeros(3), a, a, True, need_gx=False)
    assert gx is None
    np.testing.assert_array_equal(gw, 0)
    np.testing.assert_array_equal(gb, 0)


def test_input_gradient_can_be_skipped():
    x, gy, a, _ = _case((3, 2, 4), np.float64)
    mean, var = bn.batch_stats(x)
    gx, gw, gb = bn.backward(x, gy, mean, 1 / np.sqrt(var), a, True, need_gx=False)
    assert gx is None
    np.testing.assert_allclose(gb, gy.sum(axis=(0, 2)), rtol=1e-12)
