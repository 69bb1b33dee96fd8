"""The one way scratchnet builds a GPU kernel (Chainer's ``cuda.elementwise``).

Every CuPy twin in kernels/ is a CUDA body (a module-level string beside its Numba twin) that
``elementwise`` turns into a ``cupy.ElementwiseKernel``: ``in_params``/``out_params`` declare
the arguments (``raw T x`` is indexed freely, ``T y`` is the element of thread ``i``), and
the kernel object is built once per distinct source and reused, CuPy compiling it at its
first launch. It is called as CuPy calls it: ``kernel(*inputs, *outputs)``, the launch size
being the size of the first non-raw array. CuPy itself is reached only through
``backend.cupy_module()``; no other module imports it.
"""
import functools

from ..backend import cupy_module


@functools.cache
def elementwise(in_params, out_params, operation, name):
    """The ``cupy.ElementwiseKernel(in_params, out_params, operation, name)``, memoised."""
    return cupy_module().ElementwiseKernel(in_params, out_params, operation, name)
