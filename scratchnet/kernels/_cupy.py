"""The one way scratchnet builds a GPU kernel (Chainer's ``cuda.elementwise``).

Every CuPy twin in kernels/ is a CUDA body (a module-level string beside its Numba twin) that
``elementwise`` turns into a ``cupy.ElementwiseKernel``: ``in_params``/``out_params`` declare
the arguments (``raw T x`` is indexed freely, ``T y`` is the element of thread ``i``), and
the kernel object is built once per distinct source and reused, CuPy compiling it at its
first launch. It is called as CuPy calls it: ``kernel(*inputs, *outputs)``, the launch size
being the size of the first non-raw array. CuPy itself is reached only through
``backend.cupy_module()``; no other module imports it.

How the twins are checked without a GPU. The tests run each body, unchanged, on the CPU:
tests/standin/harness.py pastes it into a C++ loop over the index space (``i``), with ``T``
bound and the non-raw arguments loaded as CuPy does, compiles it with g++ and calls it; the
CuPy stand-in (tests/standin/fake_cupy.py) routes ``ElementwiseKernel`` there. That was
chosen over rewriting the twins as ``numba.cuda`` kernels for Numba's CUDA simulator because
(1) the code checked is the very string CuPy compiles on the GPU, with its C integer division,
bounds checks and index arithmetic, not a Python rewrite of it; (2) it runs at C speed, so
every op test and a training step of each small model also run on the stand-in in CI, where
the simulator runs each GPU thread as a Python thread (thousands of times slower); (3) it adds
no dependency beyond a C++ compiler. What it does not reproduce: concurrency (the twins are
written gather-only, one writer per element) and nvcc's FMA contraction (rounding only).
"""
import functools

from ..backend import cupy_module


@functools.cache
def elementwise(in_params, out_params, operation, name):
    """The ``cupy.ElementwiseKernel(in_params, out_params, operation, name)``, memoised."""
    return cupy_module().ElementwiseKernel(in_params, out_params, operation, name)
