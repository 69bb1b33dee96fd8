"""ReLU's kernels (kernels/relu.py) against torch.relu and torch's threshold_backward, NaNs,
infinities and signed zeros included, on the CPU (Numba twin, one worker and several), on
the CuPy stand-in (the CUDA twin through tests/standin/harness.py) and on a real GPU if any;
plus the array references that take what the twins do not."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.backend import to_device, to_numpy
from scratchnet.kernels import relu
from tests.helpers import DEVICES
from tests.kernels.paths import PARALLEL_PATHS, forced
from tests.strategies import seeds

SPECIAL = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e-40, -1e-40])


def _values(rng, size, dtype):
    """Normal values with a few special ones (NaN, ±inf, ±0, subnormals) mixed in."""
    x = rng.standard_normal(size)
    spots = rng.integers(0, size, size // 4 + 1)
    x[spots] = rng.choice(SPECIAL, len(spots))
    return x.astype(dtype)


def _torch(gy, y):
    return torch.ops.aten.threshold_backward(torch.from_numpy(gy), torch.from_numpy(y), 0)


def _assert_same(ours, expected):
    """Equal bit for bit, the sign of zero and NaN included."""
    ours = to_numpy(ours)
    assert ours.dtype == expected.dtype
    np.testing.assert_array_equal(np.signbit(ours), np.signbit(expected))
    np.testing.assert_array_equal(ours, expected)


@pytest.mark.parametrize("path", PARALLEL_PATHS)
@pytest.mark.parametrize("device", DEVICES)
@given(size=st.integers(1, 3000), dtype=st.sampled_from([np.float32, np.float64]), seed=seeds,
       inplace=st.booleans())
def test_relu_kernels_match_torch(path, device, size, dtype, seed, inplace):
    rng = np.random.default_rng(seed)
    x, gy = _values(rng, size, dtype), _values(rng, size, dtype)
    expected_y = torch.relu(torch.from_numpy(x)).numpy()
    with forced(path):
        x_d = to_device(x, device)
        y = relu.relu_forward(x_d, out=x_d if inplace else None)
        assert (y is x_d) == inplace
        _assert_same(y, expected_y)
        gx = relu.relu_backward(to_device(gy, device), y)
    _assert_same(gx, _torch(gy, expected_y).numpy())


def test_references_take_what_the_twins_do_not():
    """Integers, non-contiguous views and mixed dtypes go through the array code, still with
    torch's results."""
    ints = np.array([[-3, 0, 4], [5, -1, 2]])
    _assert_same(relu.relu_forward(ints), torch.relu(torch.from_numpy(ints)).numpy())
    rng = np.random.default_rng(0)
    x = _values(rng, 24, np.float64).reshape(4, 6)[:, ::2]           # a strided view
    gy = _values(rng, 12, np.float64).reshape(4, 3)
    y = relu.relu_forward(x)
    _assert_same(y, torch.relu(torch.from_numpy(x)).numpy())
    _assert_same(relu.relu_backward(gy, y), _torch(gy, y).numpy())
    _assert_same(relu.relu_backward(gy.T.copy().T, y), _torch(gy, y).numpy())
    mixed = relu.relu_backward(gy.astype(np.float32), y)
    assert mixed.dtype == np.float64
