"""Nested state as JSON plus arrays: the encoding behind ``scratchnet.save``/``load``.

``flatten(obj)`` returns a JSON-able tree and the arrays it refers to; ``unflatten`` inverts
it. In the tree an array is ``{"__array__": name}`` (its ``.npz`` member, named by the dotted
path to it: ``model.conv1.weight``, ``optimizer.state.0.momentum_buffer``), a tuple is
``{"__tuple__": [...]}``, and a dict whose keys are not all strings (an optimizer's parameter
indices), or whose only key looks like one of these markers, is ``{"__dict__": [[k, v], ...]}``.
Lists, strings, numbers, booleans and None are themselves; NumPy scalars become Python numbers.
"""
import numbers

import numpy as np

from .. import backend
from ..tensor import Tensor
from ._npz import LoadError

ARRAY, TUPLE, DICT = "__array__", "__tuple__", "__dict__"
_MARKERS = (ARRAY, TUPLE, DICT)
_SCALARS = (str, bool, numbers.Integral, numbers.Real, type(None))


def as_numpy(value):
    """``value`` as a NumPy array when it is one (NumPy, CuPy, Tensor, torch.Tensor), else None."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, np.ndarray) or backend.is_cupy(value):
        return backend.to_numpy(value)
    if type(value).__module__.split(".")[0] == "torch":  # a torch.Tensor, without importing torch
        return value.detach().cpu().numpy()
    return None


def flatten(obj, reserved=()):
    """(tree, arrays): ``arrays`` maps member names (never one of ``reserved``) to arrays."""
    arrays = {}

    def walk(value, where):
        array = as_numpy(value)
        if array is not None:
            if array.dtype.hasobject:
                raise TypeError(f"{where or 'the object'} is an object array, which could only "
                                "be stored pickled; convert it to a numeric dtype")
            name, n = where or "array", 1
            while name in arrays or name in reserved:
                name, n = f"{where}~{n}", n + 1
            arrays[name] = array
            return {ARRAY: name}
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, dict):
            items = [(k, walk(v, _join(where, k))) for k, v in value.items()]
            if all(isinstance(k, str) for k, _ in items) and not (
                    len(items) == 1 and items[0][0] in _MARKERS):
                return dict(items)
            for k, _ in items:
                if not isinstance(k, _SCALARS):
                    raise TypeError(f"{_join(where, k)}: a dict key must be a string, number, "
                                    f"bool or None, got {type(k).__name__}")
            return {DICT: [[k.item() if isinstance(k, np.generic) else k, v] for k, v in items]}
        if isinstance(value, (list, tuple)):
            items = [walk(v, _join(where, i)) for i, v in enumerate(value)]
            return {TUPLE: items} if isinstance(value, tuple) else items
        if isinstance(value, _SCALARS):
            return value
        raise TypeError(f"{where or 'the object'} is a {type(value).__name__}; scratchnet.save "
                        "stores arrays, Tensors, dicts, lists, tuples, str, numbers, bool, None")

    return walk(obj, ""), arrays


def unflatten(tree, arrays, path):
    """The object ``flatten`` encoded; a LoadError naming ``path`` when the tree is malformed
    or refers to an array the file lacks."""
    used = set()

    def walk(node):
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1 and next(iter(node)) in _MARKERS:
            (marker, body), = node.items()
            if marker == ARRAY:
                if not isinstance(body, str) or body not in arrays:
                    raise LoadError(f"load({path!r}): the structure refers to an array "
                                    f"{body!r} that the file does not hold")
                used.add(body)
                return arrays[body]
            if not isinstance(body, list):
                raise LoadError(f"load({path!r}): {marker} must hold a list, got {body!r:.60}")
            if marker == TUPLE:
                return tuple(walk(v) for v in body)
            if not all(isinstance(kv, list) and len(kv) == 2 and isinstance(kv[0], _SCALARS)
                       for kv in body):
                raise LoadError(f"load({path!r}): {DICT} must hold [key, value] pairs")
            return {k: walk(v) for k, v in body}
        return {k: walk(v) for k, v in node.items()}

    obj = walk(tree)
    unused = [name for name in arrays if name not in used]
    if unused:
        raise LoadError(f"load({path!r}): arrays {unused[:3]} are not part of the saved "
                        "structure (a damaged member name?)")
    return obj


def _join(where, key):
    return f"{where}.{key}" if where else str(key)
