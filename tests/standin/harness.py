"""Runs a CuPy ``ElementwiseKernel``'s own CUDA C body on the CPU.

The body (the string kernels/ hands to ``_cupy.elementwise``) is pasted unchanged into a C++
function that loops ``i`` over the index space, as CuPy's grid-stride loop does on the GPU:

    for (ptrdiff_t i = 0; i < n; ++i) {
        const T gy = _in_gy[i];          // a non-raw input: its element i
        T& y = _out_y[i];                // a non-raw output: a reference to element i
        <the body, verbatim>             // raw arrays are plain pointers: x[any index]
    }

n is the size of the non-raw arguments (broadcast together, as CuPy does). Placeholder types
(``T``) are bound from the first array that uses them; ``int32``/``int64``/``float32`` ...
scalars become ``int``/``long long``/``float``. ``max``/``min``/``pow``/``isnan``/``fma``/
``INFINITY`` come from <cmath>/<algorithm>, with CUDA's float overloads. Each (body, types) is
compiled once with g++ into a shared library cached under the temp directory and called
through ctypes, so a kernel runs at C speed: fast enough to run every op test and a training
step of each small model on the CuPy stand-in (tests/standin/fake_cupy.py).

What this exercises of the GPU kernel: its index arithmetic, bounds checks and accumulation
order, thread by thread; what it does not: CUDA's float contraction (nvcc fuses a·b + c into
an FMA; g++ here is told not to, so results differ from the GPU's by rounding only) and
concurrency (threads run one after the other; the kernels are written gather-only, so no
two threads write one element).
"""
import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile

import numpy as np

_C_TYPES = {np.dtype(np.float32): ("float", ctypes.c_float),
            np.dtype(np.float64): ("double", ctypes.c_double),
            np.dtype(np.int32): ("int", ctypes.c_int32),
            np.dtype(np.int64): ("long long", ctypes.c_int64),
            np.dtype(np.int8): ("signed char", ctypes.c_int8),
            np.dtype(np.uint8): ("unsigned char", ctypes.c_uint8),
            np.dtype(np.bool_): ("bool", ctypes.c_bool)}

_TYPE_NAMES = {"bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
               "float16", "float32", "float64", "complex64", "complex128"}

_PRELUDE = """#include <algorithm>
#include <cmath>
#include <cstddef>
using std::max; using std::min; using std::isnan; using std::isinf; using std::pow;
using std::sqrt; using std::exp; using std::log; using std::abs; using std::fma;
"""


def compiler():
    """The C++ compiler the harness uses, or None."""
    return shutil.which(os.environ.get("CXX", "g++"))


class Param:
    """One ElementwiseKernel parameter: ``raw T x``, ``T y`` or ``int32 n``."""

    def __init__(self, text):
        words = text.split()
        self.raw = words[0] == "raw"
        *_, self.type, self.name = words
        # a concrete type (int32, float64 ...), or None: a placeholder bound at the call (T)
        self.dtype = np.dtype(self.type) if self.type in _TYPE_NAMES else None


def parse(params):
    return [Param(p) for p in params.split(",") if p.strip()]


class ElementwiseKernel:
    """``cupy.ElementwiseKernel`` on NumPy arrays, the body run by the C++ loop above."""

    def __init__(self, in_params, out_params, operation, name="kernel"):
        self.inputs, self.outputs = parse(in_params), parse(out_params)
        self.operation, self.name = operation, name

    def __call__(self, *args):
        params = self.inputs + self.outputs
        if len(args) != len(params):
            raise TypeError(f"{self.name}: {len(params)} arguments expected (outputs included: "
                            f"the stand-in does not allocate them), got {len(args)}")
        types = self._bind(args)
        shape = np.broadcast_shapes(*[a.shape for p, a in zip(params, args)
                                      if isinstance(a, np.ndarray) and not p.raw])
        for p, a in zip(self.outputs, args[len(self.inputs):]):
            if not p.raw and a.shape != shape:
                raise ValueError(f"{self.name}: output {p.name} has shape {a.shape}, "
                                 f"the index space is {shape}")
        c_args, copy_back = [], []
        for p, a in zip(params, args):
            dtype = types.get(p.type, p.dtype)
            if not isinstance(a, np.ndarray):
                c_args.append(_C_TYPES[dtype][1](dtype.type(a)))
                continue
            if a.dtype != dtype:
                raise TypeError(f"{self.name}: {p.name} is {a.dtype}, {p.type} is {dtype}")
            is_output = p in self.outputs
            if p.raw or is_output:
                buffer = a if a.flags.c_contiguous else np.ascontiguousarray(a)
            else:
                buffer = np.ascontiguousarray(np.broadcast_to(a, shape))
            if buffer is not a and is_output:
                copy_back.append((a, buffer))
            c_args.append(buffer.ctypes.data_as(ctypes.c_void_p))
        arrays = frozenset(p.name for p, a in zip(params, args) if isinstance(a, np.ndarray))
        function = _compiled(self._source(types, arrays), self.name)
        function(ctypes.c_ssize_t(int(np.prod(shape))), *c_args)
        for a, buffer in copy_back:
            a[...] = buffer
        return args[len(self.inputs):] if len(self.outputs) > 1 else args[-1]

    def _bind(self, args):
        """Placeholder name -> dtype, from the first array argument of that type."""
        types = {}
        for p, a in zip(self.inputs + self.outputs, args):
            is_placeholder_array = p.dtype is None and isinstance(a, np.ndarray)
            if is_placeholder_array and types.setdefault(p.type, a.dtype) != a.dtype:
                raise TypeError(f"{self.name}: {p.type} is bound to {types[p.type]}, "
                                f"{p.name} is {a.dtype}")
        for p in self.inputs + self.outputs:
            if p.dtype is None and p.type not in types:
                raise TypeError(f"{self.name}: no array argument binds type {p.type}")
        return types

    def _source(self, types, arrays):
        def c_type(p):
            return _C_TYPES[types.get(p.type, p.dtype)][0]
        signature, loads = ["ptrdiff_t _n"], []
        for p in self.inputs + self.outputs:
            if p.raw:
                signature.append(f"{c_type(p)}* {p.name}")
            elif p in self.outputs:
                signature.append(f"{c_type(p)}* _out_{p.name}")
                loads.append(f"{c_type(p)}& {p.name} = _out_{p.name}[i];")
            elif p.name in arrays:                  # a non-raw input array
                signature.append(f"const {c_type(p)}* _in_{p.name}")
                loads.append(f"const {c_type(p)} {p.name} = _in_{p.name}[i];")
            else:
                signature.append(f"const {c_type(p)} {p.name}")
        typedefs = "".join(f"typedef {_C_TYPES[d][0]} {t};\n" for t, d in types.items())
        return (f"{_PRELUDE}{typedefs}extern \"C\" void {self.name}({', '.join(signature)}) {{\n"
                f"  for (ptrdiff_t i = 0; i < _n; ++i) {{\n    " + "\n    ".join(loads)
                + f"\n{self.operation}\n  }}\n}}\n")


@functools.cache
def _compiled(source, name):
    """Compile ``source`` once (cached on disk by its hash) and return its C function."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    folder = os.path.join(tempfile.gettempdir(), "scratchnet_cuda_harness")
    os.makedirs(folder, exist_ok=True)
    library = os.path.join(folder, f"{name}_{digest}.so")
    if not os.path.exists(library):
        cc = compiler()
        if cc is None:
            raise RuntimeError("the CUDA harness needs a C++ compiler (g++ or $CXX)")
        fd, src = tempfile.mkstemp(suffix=".cpp", dir=folder)
        with os.fdopen(fd, "w") as f:
            f.write(source)
        scratch = src[:-4] + ".so"
        result = subprocess.run([cc, "-O1", "-ffp-contract=off", "-shared", "-fPIC", "-o",
                                 scratch, src], capture_output=True, text=True, check=False)
        os.unlink(src)
        if result.returncode:
            raise RuntimeError(f"kernel {name} does not compile as C++:\n{result.stderr}\n"
                               f"{_numbered(source)}")
        os.replace(scratch, library)           # atomic: parallel test processes share it
    return getattr(ctypes.CDLL(library), name)


def _numbered(source):
    return "\n".join(f"{n:4} {line}" for n, line in enumerate(source.splitlines(), 1))
