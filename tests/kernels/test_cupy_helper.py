"""One idiom for GPU kernels: backend.py alone imports CuPy, and every CUDA kernel is built
once, by kernels/_cupy.elementwise (its twins' own tests need a GPU: marked ``gpu``)."""
import pathlib
import re
import types

from scratchnet.kernels import _cupy

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "scratchnet"


def _sources():
    return {path.relative_to(PACKAGE).as_posix(): path.read_text()
            for path in PACKAGE.rglob("*.py")}


def test_only_backend_imports_cupy():
    importers = [name for name, text in _sources().items()
                 if re.search(r"^\s*(import cupy|from cupy)", text, re.MULTILINE)]
    assert importers == ["backend.py"]


def test_every_cuda_kernel_is_built_by_the_one_helper():
    builders = [name for name, text in _sources().items() if "ElementwiseKernel(" in text
                or "RawKernel(" in text]
    assert builders == ["kernels/_cupy.py"]


def test_the_helper_builds_each_kernel_once(monkeypatch):
    built = []
    fake = types.SimpleNamespace(ElementwiseKernel=lambda *args: built.append(args) or args)
    monkeypatch.setattr(_cupy, "cupy_module", lambda: fake)
    _cupy.elementwise.cache_clear()
    try:
        first = _cupy.elementwise("raw T x", "T y", "y = x[i];", "copy")
        again = _cupy.elementwise("raw T x", "T y", "y = x[i];", "copy")
        other = _cupy.elementwise("raw T x", "T y", "y = 2 * x[i];", "double")
    finally:
        _cupy.elementwise.cache_clear()
    assert first is again and other is not first
    assert built == [("raw T x", "T y", "y = x[i];", "copy"),
                     ("raw T x", "T y", "y = 2 * x[i];", "double")]
