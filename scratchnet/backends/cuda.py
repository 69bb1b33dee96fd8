"""``sn.backends.cuda.matmul.allow_tf32``: torch's name and default (False).

With it False, float32 matrix products on the GPU round as float32 does (cuBLAS's default
compute type), so GPU results match the CPU's to float32 accuracy; True lets cuBLAS use TF32
tensor cores (10-bit mantissa inputs: faster on Ampere and later, ~1e-3 relative error). It
maps onto CuPy's compute type for float32 (what the ``CUPY_TF32`` environment variable sets),
applied when CuPy is first imported and whenever the flag changes. scratchnet's convolutions
are matrix products (im2col + GEMM), so the one switch also covers torch's
``backends.cudnn.allow_tf32``.
"""
import warnings

import numpy as np

from .. import backend


class _Matmul:
    def __init__(self):
        self._allow_tf32 = False

    @property
    def allow_tf32(self):
        return self._allow_tf32

    @allow_tf32.setter
    def allow_tf32(self, value):
        self._allow_tf32 = bool(value)
        if backend.cuda_is_available():
            self.apply()

    def apply(self):
        """Set CuPy's float32 compute type from the flag (CuPy must be importable)."""
        try:
            linalg = backend.cupy_submodule("cupy._core._routines_linalg")
            kind = linalg.COMPUTE_TYPE_TF32 if self._allow_tf32 else linalg.COMPUTE_TYPE_DEFAULT
            linalg.set_compute_type(np.float32, kind)
        except (ImportError, AttributeError, TypeError) as err:   # a CuPy without the switch
            if self._allow_tf32:
                warnings.warn(f"allow_tf32: this CuPy has no compute-type switch ({err}); "
                              "float32 matmuls stay in float32", RuntimeWarning, stacklevel=3)


matmul = _Matmul()
