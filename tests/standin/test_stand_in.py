"""The CuPy stand-in and its kernel harness behave as the GPU tests rely on: device arrays
refuse NumPy, host copies are counted, kernels see CuPy's argument conventions."""
import numpy as np
import pytest

from tests.standin import fake_cupy, harness

cupy = fake_cupy.cupy
pytestmark = pytest.mark.skipif(harness.compiler() is None, reason="needs a C++ compiler")


def test_device_arrays_refuse_numpy():
    a = cupy.arange(6.0).reshape(2, 3)
    assert not isinstance(a, np.ndarray) and isinstance(a, cupy.ndarray)
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(a)
    with pytest.raises(TypeError, match="ufunc exp"):
        np.exp(a)
    with pytest.raises(TypeError, match="np.sum"):
        np.sum(a)
    with pytest.raises(TypeError, match="NumPy array mixed"):
        a + np.ones(3)
    assert (np.float32(2) * a).sum().get() == 30.0          # a NumPy scalar is fine


def test_reductions_are_0d_device_arrays_and_host_copies_are_counted():
    a = cupy.ones(4)
    total = a.sum()
    assert isinstance(total, cupy.ndarray) and total.shape == ()
    before = fake_cupy.host_copies
    assert float(total) == 4.0 and a.get().tolist() == [1.0] * 4 and bool(total)
    assert fake_cupy.host_copies == before + 3


def test_arrays_stay_on_their_gpu():
    with cupy.cuda.Device(1):
        b = cupy.ones(2)
    assert b.device.id == 1
    with pytest.raises(ValueError, match="on GPU 1, the current GPU is 0"):
        b + 1
    with cupy.cuda.Device(1):
        assert (b + 1).device.id == 1


def test_a_kernel_sees_raw_and_elementwise_arguments_as_cupy_does():
    """y[i] = x[i] + x[n − 1 − i] (raw: any index) + s·z[i] (z broadcast) for T = float32."""
    kernel = cupy.ElementwiseKernel("raw T x, T z, T s, int32 n", "T y",
                                    "y = x[i] + x[n - 1 - i] + s * z;", "probe")
    x = cupy.asarray(np.arange(6, dtype=np.float32))
    z = cupy.asarray(np.float32([[1.0], [2.0]]))            # broadcasts to y's (2, 3)
    y = cupy.empty((2, 3), np.float32)
    kernel(x, z, np.float32(10), 6, y)
    expected = np.arange(6) + np.arange(6)[::-1] + 10 * np.repeat([1.0, 2.0], 3)
    np.testing.assert_array_equal(y.get().ravel(), expected)
    with pytest.raises(TypeError, match="NumPy array passed to a CUDA kernel"):
        kernel(x, np.ones((2, 3), np.float32), np.float32(1), 6, y)


def test_a_kernel_that_is_not_valid_cuda_c_fails_with_its_source():
    kernel = cupy.ElementwiseKernel("T x", "T y", "y = x +;", "broken")
    with pytest.raises(RuntimeError, match="does not compile"):
        kernel(cupy.ones(2), cupy.ones(2))
