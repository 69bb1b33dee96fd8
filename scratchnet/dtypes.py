"""dtypes under torch's names, and the one function that reads any spelling of a dtype.

A scratchnet dtype is a ``numpy.dtype``: ``sn.float32 == np.dtype("float32")``. torch's
aliases name the same objects (``sn.float``, ``sn.long``, ``sn.half``...). ``as_dtype`` accepts
every spelling users write: a numpy dtype or type, a string ("float32", "torch.float32",
"long"), a Python type (``float`` is float64, ``int`` int64, as in torch) and torch's
tensor-type strings ("torch.FloatTensor").
"""
import numpy as np

float16, float32, float64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)
uint8, int8, int16 = np.dtype(np.uint8), np.dtype(np.int8), np.dtype(np.int16)
int32, int64, bool_ = np.dtype(np.int32), np.dtype(np.int64), np.dtype(np.bool_)
half, double, short, long = float16, float64, int16, int64

# torch's ``tensor.type()`` names: "FloatTensor" is float32 ...
TENSOR_TYPES = {float16: "HalfTensor", float32: "FloatTensor", float64: "DoubleTensor",
                uint8: "ByteTensor", int8: "CharTensor", int16: "ShortTensor",
                int32: "IntTensor", int64: "LongTensor", bool_: "BoolTensor"}

# names that differ from numpy's own: torch's aliases and the Python types
_ALIASES = {"float": float32, "double": float64, "half": float16, "long": int64,
            "int": int32, "short": int16, "bool": bool_, "byte": uint8, "char": int8}
_PYTHON_TYPES = {float: float64, int: int64, bool: bool_}


def as_dtype(spec):
    """The numpy dtype that ``spec`` names, or a TypeError listing what is accepted."""
    if isinstance(spec, np.dtype):
        return spec
    if isinstance(spec, type) and spec in _PYTHON_TYPES:
        return _PYTHON_TYPES[spec]
    if isinstance(spec, str):
        name = spec
        for prefix in ("torch.", "scratchnet."):
            name = name.removeprefix(prefix)
        for dtype, type_name in TENSOR_TYPES.items():
            if name == type_name:
                return dtype
        if name in _ALIASES:
            return _ALIASES[name]
        spec = name
    try:
        dtype = np.dtype(spec)
    except TypeError:
        dtype = None
    if dtype is None or dtype not in TENSOR_TYPES:
        raise TypeError(f"unknown dtype {spec!r}; expected one of sn.float32, sn.float64, "
                        "sn.float16, sn.int64, sn.int32, sn.int16, sn.int8, sn.uint8, "
                        "sn.bool (or their names as strings)")
    return dtype


def type_name(dtype):
    """torch's ``tensor.type()`` string for ``dtype``, under scratchnet's name."""
    return "scratchnet." + TENSOR_TYPES[np.dtype(dtype)]


# the aliases that shadow Python builtins, set last so the code above still sees the builtins
globals().update(float=float32, int=int32, bool=bool_)
