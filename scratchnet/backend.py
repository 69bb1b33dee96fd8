"""The array backend: NumPy on the CPU, CuPy on the GPU.

Op code is written once against ``xp = get_array_module(*arrays)``. This module is the only
place that imports CuPy, and it does so lazily: ``import scratchnet`` never needs it.
"""
import contextlib
import functools
import importlib

import numpy as np

DEVICES = ("cpu", "cuda")
_default_device = None         # set below, once the device class exists


def is_cupy(array):
    """True for a CuPy array, checked by type so that CuPy is never imported to answer."""
    return is_cupy_type(type(array))


def is_cupy_type(array_type):
    if array_type is np.ndarray:            # the common case, answered first
        return False
    return array_type.__module__.split(".")[0] == "cupy"


def get_array_module(*arrays):
    """``cupy`` if any argument is a CuPy array, else ``numpy`` (Chainer's rule)."""
    for a in arrays:
        if type(a) is not np.ndarray and is_cupy(a):
            return cupy_module()
    return np


class device(str):
    """A device as torch names it: ``device("cpu")``, ``device("cuda")``, ``device("cuda", 0)``.

    It is the string of its type ("cpu" or "cuda"), so it goes wherever a device name does
    (``tensor.to(device)``, ``model.to(device)``); ``type`` and ``index`` are torch's
    attributes. A CUDA array's device always has its index (``cuda:1``). Two devices are
    equal when their types are and their indices, where both have one, are: ``cuda:0 !=
    cuda:1``, while ``"cuda"`` matches either (torch: ``device("cuda") != device("cuda:0")``;
    here ``tensor.device == "cuda"`` stays true on every GPU)."""

    def __new__(cls, type, index=None):
        if isinstance(type, device) and index is None:
            return type
        kind, _, number = (type.type if isinstance(type, device) else str(type)).partition(":")
        if kind not in DEVICES:
            raise ValueError(f"unknown device {type!r}; expected one of {DEVICES}")
        if number and index is not None:
            raise ValueError(f"device {type!r}: an index in the string and index={index}")
        self = super().__new__(cls, kind)
        self.index = int(number) if number else index
        return self

    @property
    def type(self):
        return str.__str__(self)

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        shown = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{shown})"

    def __eq__(self, other):
        if not isinstance(other, str):
            return NotImplemented
        try:
            other = device(other)
        except ValueError:
            return False
        return self.type == other.type and (self.index is None or other.index is None
                                             or self.index == other.index)

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = str.__hash__


_CPU, _CUDA = device("cpu"), device("cuda")
_default_device = _CPU


def device_of(array):
    """The device an array lives on; a CUDA one has its index (``cuda:1``)."""
    return _cuda_device(array.device.id) if is_cupy(array) else _CPU


@functools.cache
def _cuda_device(index):
    return device("cuda", index)


def using_device_of(*arrays):
    """A context that makes the GPU of the first CuPy array among ``arrays`` the current one
    (CuPy launches kernels on the current GPU only); does nothing for NumPy arrays."""
    for a in arrays:
        if type(a) is not np.ndarray and is_cupy(a):
            return cupy_module().cuda.Device(a.device.id)
    return _NO_DEVICE


_NO_DEVICE = contextlib.nullcontext()   # reusable: it holds no state


@functools.cache
def _import_cupy():
    try:
        import cupy
    except ImportError as err:
        return None, (f"CuPy is not installed ({err}); install it with "
                      "`pip install scratchnet[gpu]` (cupy-cuda13x) or `pip install cupy-cuda12x` "
                      "for CUDA 12 drivers")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # the CUDA driver is missing or broken
        return None, f"CuPy is installed but cannot reach a CUDA driver: {err}"
    if count == 0:
        return None, "CuPy is installed but no CUDA GPU is visible"
    from . import cuda                  # here: sn.cuda and sn.backends import this module
    from .backends.cuda import matmul
    cuda.track_peak_memory(cupy)
    matmul.apply()
    return cupy, None


def cupy_module():
    """The cupy module, or a RuntimeError that says which piece is missing."""
    cupy, why = _import_cupy()
    if cupy is None:
        raise RuntimeError(f"device 'cuda' is not available: {why}")
    return cupy


def cupy_submodule(name):
    """A submodule of CuPy's (``"cupyx.scipy.special"``, ``"cupy.cuda.nccl"``): the one place,
    with ``cupy_module``, that imports CuPy. ImportError when this CuPy lacks it."""
    cupy_module()
    return importlib.import_module(name)


def cuda_is_available():
    return _import_cupy()[0] is not None


def check_device(name):
    """A ``device`` from a name ('cpu', 'cuda', 'cuda:1') or a device, keeping the index; None
    is the default device. Raises naming the known ones."""
    if name is None:
        return _default_device
    return name if isinstance(name, device) else device(str(name))


def set_default_device(device):
    """Device of the tensors that factories (``zeros``, ``randn``, ``tensor``...) make when
    none is given."""
    global _default_device
    device = check_device(device)
    if device.type == "cuda":
        cupy_module()
    _default_device = device


def get_default_device():
    return _default_device


def to_device(array, device):
    """Copy ``array`` to ``device`` if it is not there already. ``cuda`` without an index is
    the current GPU; between two GPUs the copy goes through the host (no peer access needed)."""
    device = check_device(device)
    if device.type == "cpu":
        return array.get() if is_cupy(array) else array
    cupy = cupy_module()
    index = cupy.cuda.runtime.getDevice() if device.index is None else device.index
    if is_cupy(array):
        if array.device.id == index:
            return array
        array = array.get()
    with cupy.cuda.Device(index):
        return cupy.asarray(array)


def to_numpy(array):
    return array.get() if is_cupy(array) else np.asarray(array)


def show_config():
    """One line per piece of the backend, for bug reports."""
    import numba  # a dependency of scratchnet's kernels, imported with them

    lines = [f"numpy {np.__version__}", f"numba {numba.__version__}"]
    cupy, why = _import_cupy()
    lines.append(f"cupy {cupy.__version__}" if cupy is not None else f"cuda: {why}")
    lines.append(f"default device: {_default_device}")
    return "\n".join(lines)
