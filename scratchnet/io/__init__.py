"""Saving and loading state as ``.npz`` files, and reading PyTorch checkpoints.

The format is NumPy's ``.npz`` (a zip of uncompressed ``.npy`` files), readable without
scratchnet (``np.load(path)``):

    key                  one array per entry, named by its dotted key
                         (``layer1.0.conv1.weight``), any dtype but object
    __meta__             optional: UTF-8 JSON as a 1-D uint8 array, for what is not an array

Two pairs of functions write and read it:

    save(state_dict, path, meta=None) / load(path)
        a flat state_dict (key -> array) and optional JSON ``meta``; ``load`` returns a
        ``StateDict`` (an ordered dict with ``.meta``), so
        ``model.load_state_dict(load(path))`` works directly.
    save_nested(obj, path) / load_nested(path)      (also ``scratchnet.save``/``load``)
        any nesting of dicts, lists and tuples of arrays, Tensors, numbers, strings and None
        (a training checkpoint: state_dicts, optimizer state, epoch, metrics) comes back as
        it went in. ``__meta__`` holds ``{"__tree__": T}``, the object with each array
        replaced by a reference to its member (``scratchnet.io._tree`` has the encoding).

Nothing is ever unpickled: an object array is refused. Every write goes to a temporary file
beside the target, is fsync'ed and renamed over it, so a crash leaves either the old file or
the new one, never half a file (a symlinked target stays a symlink, and a replaced file keeps
its permission bits). Reading checks each member's header before allocating its array and
the zip's checksums while reading; anything wrong inside a file raises ``LoadError`` (a
ValueError) naming it.
"""
import json
import os
from collections import OrderedDict

import numpy as np

from . import _npz, _tree
from ._npz import LoadError

META_KEY = "__meta__"
TREE_KEY = "__tree__"

__all__ = ["LoadError", "StateDict", "add_prefix", "from_torch", "load", "load_nested", "save",
           "save_nested", "strip_prefix"]


class StateDict(OrderedDict):
    """An ordered dict of dotted key -> NumPy array, with the file's JSON metadata in
    ``.meta`` (an empty dict when the file has none)."""

    def __init__(self, *args, meta=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.meta = {} if meta is None else meta


def save(state_dict, path, meta=None):
    """Write ``state_dict`` (key -> NumPy/CuPy array or Tensor) and ``meta`` to ``path``.

    ``meta`` is any JSON-serialisable value (usually a dict); when it is None and
    ``state_dict`` came from ``load`` (a ``StateDict``), its ``.meta`` is written again.
    The path is used as given: no ``.npz`` is appended. The write is atomic.
    """
    path = os.fspath(path)
    arrays = _to_numpy_arrays(state_dict, path)
    if meta is None:
        meta = getattr(state_dict, "meta", None) or None
    if meta is not None:
        arrays[META_KEY] = _encode_json(meta, path, "meta")
    _npz.write_atomic(path, arrays)


def load(path):
    """Read a file written by ``save`` (or any ``.npz`` of plain arrays) into a ``StateDict``.

    Keys keep the file's order. A missing file raises FileNotFoundError; a truncated or
    corrupt one, or one holding an object array (never unpickled), raises LoadError.
    """
    path = os.fspath(path)
    arrays = _npz.read(path)
    state = StateDict(arrays)
    if META_KEY in state:
        state.meta = _decode_json(state.pop(META_KEY), path)
    return state


def save_nested(obj, path):
    """Write ``obj`` (dicts, lists and tuples of arrays, Tensors, numbers, strings, None,
    nested as deep as needed) to ``path``, atomically; ``load_nested`` gives it back.

    Arrays become members named by their dotted path (``model.fc.weight``), so the file also
    reads with ``np.load`` and ``load``. Tuples and non-string dict keys survive; NumPy
    scalars come back as Python numbers, CuPy arrays and Tensors as NumPy arrays.
    """
    path = os.fspath(path)
    try:
        tree, arrays = _tree.flatten(obj, reserved=(META_KEY,))
    except TypeError as err:
        raise TypeError(f"save({path!r}): {err}") from None
    arrays[META_KEY] = _encode_json({TREE_KEY: tree}, path, "the object")
    _npz.write_atomic(path, arrays)


def load_nested(path):
    """The object ``save_nested`` wrote to ``path``. A file written by ``save`` (a flat
    state_dict) is returned as ``load`` returns it. Errors as ``load``."""
    path = os.fspath(path)
    state = load(path)
    meta = state.meta
    if not (isinstance(meta, dict) and list(meta) == [TREE_KEY]):
        return state
    try:
        return _tree.unflatten(meta[TREE_KEY], state, path)
    except RecursionError as err:   # a hand-edited structure nested thousands deep
        raise _npz.corrupt(path, err) from None


def from_torch(path_or_state_dict):
    """Convert a PyTorch checkpoint (a file path or an object from ``torch.load``) into a
    ``StateDict`` of NumPy arrays.

    Files are read with ``torch.load(path, map_location="cpu", weights_only=True)``, which
    refuses arbitrary pickled objects. A plain state_dict converts key for key. Nested dicts,
    lists and tuples (``{"model": {...}, "optimizer": {...}, "epoch": 3}``) are flattened into
    dotted keys (``model.conv1.weight``, ``optimizer.state.0.momentum_buffer``); the values
    that are not tensors (numbers, strings, lists of them) go to ``.meta`` under their dotted
    key. bfloat16 tensors, which NumPy cannot hold, become float32.
    """
    try:
        import torch
    except ImportError as err:
        raise ImportError(f"from_torch needs PyTorch, which is not installed ({err}); "
                          "install it with `pip install torch`") from None
    if isinstance(path_or_state_dict, (str, os.PathLike)):
        path = os.fspath(path_or_state_dict)
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            raise
        except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError, ...
            raise ValueError(f"from_torch({path!r}): cannot read it as a PyTorch checkpoint "
                             f"with weights_only=True: {err}") from None
    else:
        obj = path_or_state_dict
    if not isinstance(obj, dict):
        raise TypeError(f"from_torch: expected a state_dict (a dict of tensors), got "
                        f"{type(obj).__name__}")
    state = StateDict()
    _flatten_torch(obj, "", state, torch)
    return state


def add_prefix(state_dict, prefix):
    """The same entries with ``prefix`` put in front of every key (``"model."``)."""
    return OrderedDict((prefix + key, value) for key, value in state_dict.items())


def strip_prefix(state_dict, prefix):
    """The entries whose key starts with ``prefix``, with the prefix removed."""
    return OrderedDict((key[len(prefix):], value) for key, value in state_dict.items()
                       if key.startswith(prefix))


def _to_numpy_arrays(state_dict, path):
    arrays = OrderedDict()
    for key, value in state_dict.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"save({path!r}): keys must be non-empty strings, got {key!r}")
        if key == META_KEY:
            raise ValueError(f"save({path!r}): the key {META_KEY!r} is reserved for meta")
        array = _tree.as_numpy(value)
        if array is None:
            raise TypeError(f"save({path!r}): entry {key!r} is a {type(value).__name__}; "
                            "expected a NumPy/CuPy array or a Tensor (put other values in meta)")
        if array.dtype.hasobject:
            raise TypeError(f"save({path!r}): entry {key!r} is an object array, which could "
                            "only be stored pickled; convert it to a numeric dtype")
        arrays[key] = array
    return arrays


def _encode_json(value, path, what):
    try:
        text = json.dumps(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"save({path!r}): {what} must be JSON-serialisable: {err}") from None
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def _decode_json(array, path):
    if array.dtype != np.uint8 or array.ndim != 1:
        raise LoadError(f"load({path!r}): {META_KEY!r} must be a 1-D uint8 array of UTF-8 "
                        f"JSON, got {array.dtype} of shape {array.shape}")
    try:
        return json.loads(array.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise _npz.corrupt(path, err) from None


def _flatten_torch(obj, prefix, state, torch):
    """Walk a torch checkpoint, putting tensors in ``state`` and other leaves in its meta."""
    if isinstance(obj, torch.Tensor):
        tensor = obj.detach().cpu()
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.float()
        state[prefix] = tensor.numpy().copy()  # copy: the array must not share torch's memory
    elif isinstance(obj, dict):
        for key, value in obj.items():
            _flatten_torch(value, f"{prefix}.{key}" if prefix else str(key), state, torch)
    elif isinstance(obj, (list, tuple)) and _holds_tensor(obj, torch):
        for i, value in enumerate(obj):
            _flatten_torch(value, f"{prefix}.{i}" if prefix else str(i), state, torch)
    else:
        try:
            json.dumps(obj)
        except (TypeError, ValueError):
            raise TypeError(f"from_torch: entry {prefix!r} is a {type(obj).__name__}, neither "
                            "a tensor nor JSON-serialisable") from None
        state.meta[prefix] = obj


def _holds_tensor(obj, torch):
    if isinstance(obj, torch.Tensor):
        return True
    if isinstance(obj, dict):
        return any(_holds_tensor(v, torch) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(_holds_tensor(v, torch) for v in obj)
    return False
