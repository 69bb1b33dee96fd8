"""A CuPy stand-in: behaves like CuPy where a CuPy-path bug would show, on NumPy memory.

- its arrays (``ndarray``, whose type lives in module "cupy", so ``backend.is_cupy`` says yes)
  are not NumPy arrays: ``np.asarray(a)`` raises TypeError as CuPy's does, and so does any
  NumPy function or ufunc called on one (``np.exp(a)``; CuPy would answer many of these
  through ``__array_function__``: the stand-in is stricter, so that op code keeps to ``xp``),
  shape helpers (``np.shape``, ``np.result_type``) and a NumPy scalar's operators
  (``np.float32(2) * a``) aside;
- NumPy arrays mixed into its operations or functions raise (no implicit host-to-device copy),
  except in the constructors ``asarray``/``array``, which copy to the "device";
- reductions return 0-d arrays, not scalars, as CuPy's do; ``.get()``, ``.item()``,
  ``.tolist()``, ``float(a)``, ``bool(a)`` and ``int(a)`` copy to the host and are counted in
  ``host_copies`` (a training step must make none that the user did not ask for);
- two GPUs: every array remembers the one it was made on (the current one, set by
  ``cuda.Device(i)`` as a context), and using it while another is current raises, as CuPy's
  kernel launches do;
- ``ElementwiseKernel`` runs the CUDA body through tests/standin/harness.py on the CPU, so
  every GPU kernel twin executes its own source.

Everything else is NumPy's, reached through the same names as in CuPy (``xp.where``,
``xp.add.at``, ``xp.random.default_rng``...).
"""
import math
import sys
import types

import numpy as np

from . import harness

host_copies = 0
DEVICE_COUNT = 2
_current = [0]            # the current GPU, as cupy.cuda.Device(i) sets it
host_copy_sites = []      # "file:line" of scratchnet's frame that asked for each host copy
# NumPy functions that CuPy answers through __array_function__ and op code may use on arrays
_SHAPE_HELPERS = {"shape", "ndim", "size", "result_type", "can_cast", "iscomplexobj"}


def _count_host_copy():
    global host_copies
    host_copies += 1
    frame = sys._getframe(2)
    while frame is not None and "/scratchnet/" not in frame.f_code.co_filename:
        frame = frame.f_back
    if frame is not None:
        host_copy_sites.append(f"{frame.f_code.co_filename}:{frame.f_lineno}")


class ndarray:
    """A device array: a NumPy array ``_a`` that the host cannot read implicitly."""

    __slots__ = ("_a", "_device")
    __hash__ = None

    def __init__(self, array):
        self._a = array
        self._device = _current[0]

    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method == "__call__" and not kwargs and any(isinstance(v, np.generic)
                                                       for v in inputs):
            # np.float32(2) * a: a NumPy scalar's operator hands the array over (CuPy takes it)
            return _wrap(ufunc(*(_operand(v, ufunc.__name__) for v in inputs)))
        raise TypeError(f"NumPy ufunc {ufunc.__name__}.{method} called on a CuPy array: "
                        "use xp (get_array_module) in op code")

    def __array_function__(self, func, types_, args, kwargs):
        if func.__name__ in _SHAPE_HELPERS:
            return _wrap(func(*_unwrap(args), **_unwrap(kwargs)))
        raise TypeError(f"NumPy function np.{func.__name__} called on a CuPy array: "
                        "use xp (get_array_module) in op code")

    def get(self, stream=None, order="C", out=None):
        _count_host_copy()
        return np.array(self._a, order=order)

    def item(self):
        _count_host_copy()
        return self._a.item()

    def tolist(self):
        _count_host_copy()
        return self._a.tolist()

    def __float__(self):
        _count_host_copy()
        return float(self._a)

    def __int__(self):
        _count_host_copy()
        return int(self._a)

    def __bool__(self):
        _count_host_copy()
        return bool(self._a)

    def __complex__(self):
        _count_host_copy()
        return complex(self._a)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(row) for row in self._a)

    def __repr__(self):
        return f"array({self._a!r}, device=stand-in)"

    def __getitem__(self, index):
        return _wrap(_here(self, "__getitem__")[_unwrap_index(index)])

    def __setitem__(self, index, value):
        value = _here(value, "__setitem__") if isinstance(value, ndarray) else value
        _here(self, "__setitem__")[_unwrap_index(index)] = value

    @property
    def T(self):
        return ndarray(self._a.T)

    @property
    def device(self):
        return Device(self._device)

    def __getattr__(self, name):
        if name.startswith("__"):   # NumPy's __array_interface__ & co: no host access
            raise AttributeError(f"'ndarray' (CuPy stand-in) object has no attribute {name!r}")
        value = getattr(self._a, name)
        if callable(value):
            return _wrapped_function(getattr(_here(self, name), name), f"ndarray.{name}")
        return _wrap(value)


def _binary(name):
    def method(self, other):
        result = getattr(_here(self, name), name)(_operand(other, name))
        return NotImplemented if result is NotImplemented else _wrap(result)
    method.__name__ = name
    return method


def _inplace(name):
    def method(self, other):
        getattr(_here(self, name), name)(_operand(other, name))
        return self
    method.__name__ = name
    return method


def _unary(name):
    def method(self):
        return _wrap(getattr(_here(self, name), name)())
    method.__name__ = name
    return method


for _op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
            "xor", "lshift", "rshift", "divmod"):
    setattr(ndarray, f"__{_op}__", _binary(f"__{_op}__"))
    setattr(ndarray, f"__r{_op}__", _binary(f"__r{_op}__"))
    if _op != "divmod":
        setattr(ndarray, f"__i{_op}__", _inplace(f"__i{_op}__"))
for _op in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(ndarray, f"__{_op}__", _binary(f"__{_op}__"))
for _op in ("neg", "pos", "abs", "invert"):
    setattr(ndarray, f"__{_op}__", _unary(f"__{_op}__"))
ndarray.__module__ = "cupy"       # what backend.is_cupy looks at


def _here(array, where="cupy"):
    """The NumPy memory of a device array that lives on the current GPU."""
    if array._device != _current[0]:
        raise ValueError(f"{where}: the array is on GPU {array._device}, the current GPU is "
                         f"{_current[0]} (CuPy launches kernels on the current GPU only)")
    return array._a


def _operand(value, where):
    if isinstance(value, ndarray):
        return _here(value, where)
    if isinstance(value, np.ndarray):
        raise TypeError(f"{where}: a NumPy array mixed with a CuPy array "
                        f"(shape {value.shape}); copy it to the device first")
    return value


def _unwrap_index(index):
    if isinstance(index, tuple):
        return tuple(_unwrap_index(i) for i in index)
    return _here(index, "index") if isinstance(index, ndarray) else index


def _unwrap(value, strict=True, where="cupy"):
    """Device arrays -> their NumPy memory, through lists, tuples and dicts; a NumPy array
    argument raises when ``strict`` (CuPy's functions take device arrays only), integer ones
    aside (axes, split points: CuPy reads those as sequences)."""
    if isinstance(value, ndarray):
        return _here(value, where)
    if isinstance(value, np.ndarray) and strict and value.dtype.kind not in "iu":
        raise TypeError(f"{where}: got a NumPy array (shape {value.shape}); CuPy functions "
                        "take CuPy arrays")
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v, strict, where) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v, strict, where) for k, v in value.items()}
    return value


def _wrap(value):
    if isinstance(value, np.ndarray):
        return ndarray(value)
    if isinstance(value, np.generic) and not isinstance(value, (np.str_, np.bytes_)):
        return ndarray(np.asarray(value))        # CuPy returns 0-d arrays, not scalars
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def _wrapped_function(function, where, strict=True):
    def call(*args, **kwargs):
        result = function(*_unwrap(args, strict, where), **_unwrap(kwargs, strict, where))
        out = kwargs.get("out")
        if isinstance(out, ndarray) and result is out._a:
            return out                           # CuPy returns the very ``out`` it was given
        return _wrap(result)
    call.__name__ = getattr(function, "__name__", where)
    return call


class _Ufunc:
    """``xp.add`` and its methods (``xp.add.at``, ``.reduce``), on device arrays."""

    def __init__(self, ufunc):
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__

    def __call__(self, *args, **kwargs):
        return _wrapped_function(self._ufunc, self.__name__)(*args, **kwargs)

    def __getattr__(self, name):
        return _wrapped_function(getattr(self._ufunc, name), f"{self.__name__}.{name}")


class _Namespace(types.ModuleType):
    """A module whose missing names come from a NumPy namespace, wrapped for device arrays."""

    def __init__(self, name, numpy_namespace):
        super().__init__(name)
        self._numpy = numpy_namespace

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = getattr(self._numpy, name)
        if isinstance(value, np.ufunc):
            return _Ufunc(value)
        if callable(value) and not isinstance(value, type):
            return _wrapped_function(value, f"{self.__name__}.{name}")
        return value


class Device:
    def __init__(self, id=0):
        if not 0 <= id < DEVICE_COUNT:
            raise ValueError(f"invalid device ordinal {id}")
        self.id = id
        self._previous = []

    def __enter__(self):
        self._previous.append(_current[0])
        _current[0] = self.id
        return self

    def __exit__(self, *exc):
        _current[0] = self._previous.pop()
        return False

    def use(self):
        _current[0] = self.id

    def synchronize(self):
        pass


class _Generator:
    """``cupy.random.default_rng(seed)``: NumPy's generator, results on the device."""

    def __init__(self, seed=None):
        self._rng = np.random.default_rng(seed)

    def __getattr__(self, name):
        return _wrapped_function(getattr(self._rng, name), f"Generator.{name}")


class _MemoryPool:
    def __init__(self):
        self.used, self.peak = 0, 0

    def used_bytes(self):
        return self.used

    def total_bytes(self):
        return self.peak

    def free_all_blocks(self):
        pass


def _module():
    cupy = _Namespace("cupy", np)
    cupy.ndarray = ndarray
    cupy.__version__ = "stand-in"

    def asarray(a, dtype=None, order=None):
        if isinstance(a, ndarray):
            return a if dtype is None or a.dtype == dtype else ndarray(a._a.astype(dtype))
        return ndarray(np.array(a, dtype=dtype, order=order or "K"))   # a host-to-device copy

    def array(a, dtype=None, copy=True, order="K", ndmin=0):
        host = a._a if isinstance(a, ndarray) else a
        return ndarray(np.array(host, dtype=dtype, copy=copy, order=order, ndmin=ndmin))

    def ascontiguousarray(a, dtype=None):
        return ndarray(np.ascontiguousarray(_unwrap(a, True, "ascontiguousarray"), dtype))

    def asnumpy(a, stream=None, order="C", out=None):
        return a.get() if isinstance(a, ndarray) else np.asarray(a)

    def get_array_module(*args):
        return cupy if any(isinstance(a, ndarray) for a in args) else np

    cupy.asarray, cupy.array, cupy.ascontiguousarray = asarray, array, ascontiguousarray
    cupy.asanyarray = asarray
    cupy.asnumpy, cupy.get_array_module = asnumpy, get_array_module
    cupy.ElementwiseKernel = ElementwiseKernel

    random = _Namespace("cupy.random", np.random)
    random.default_rng = _Generator
    random.seed = np.random.seed
    cupy.random = random
    cupy.linalg = _Namespace("cupy.linalg", np.linalg)
    cupy.fft = _Namespace("cupy.fft", np.fft)

    pool = _MemoryPool()
    cuda = types.ModuleType("cupy.cuda")
    cuda.Device = Device
    cuda.runtime = types.SimpleNamespace(getDeviceCount=lambda: DEVICE_COUNT,
                                         getDevice=lambda: _current[0],
                                         deviceSynchronize=lambda: None)
    cuda.get_device_id = lambda: _current[0]
    cupy.get_default_memory_pool = lambda: pool
    cupy.cuda = cuda
    return cupy


class ElementwiseKernel(harness.ElementwiseKernel):
    """CuPy's ElementwiseKernel on stand-in arrays: the body runs in the C++ harness."""

    def __call__(self, *args):
        if any(isinstance(a, np.ndarray) for a in args):
            raise TypeError(f"{self.name}: a NumPy array passed to a CUDA kernel")
        out = super().__call__(*_unwrap(args))
        return _wrap(out)


def _special():
    special = types.ModuleType("cupyx.scipy.special")

    def erf(x):                              # elementwise, in x's dtype, as CuPy's ufunc
        host = _here(x, "erf")
        return ndarray(np.vectorize(math.erf, otypes=[host.dtype])(host))
    special.erf = erf
    return special


cupy = _module()


def submodule(name):
    """``backend.cupy_submodule`` for the stand-in."""
    if name == "cupyx.scipy.special":
        return _special()
    raise ImportError(f"the CuPy stand-in has no {name}")

