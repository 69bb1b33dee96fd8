"""Saving and loading state_dicts as ``.npz`` files, and reading PyTorch checkpoints.

The format is NumPy's ``.npz`` (a zip of ``.npy`` files), readable without scratchnet:

    key                  one array per state_dict entry, named by its dotted key
                         (``layer1.0.conv1.weight``), any dtype but object
    __meta__             optional: UTF-8 JSON as a 1-D uint8 array, for state that is not an
                         array (epoch, learning rate, RNG state, optimizer hyper-parameters)

Files are read with ``allow_pickle=False``: an object array is refused, never unpickled, so
loading a file cannot run code. ``save`` writes a temporary file beside the target, syncs it
to disk and renames it over the target, so a crash leaves either the old file or the new
one, never half a file.

``load`` returns a ``StateDict``: an ordered dict of key -> NumPy array with the JSON under
``.meta``, so ``model.load_state_dict(load(path))`` works directly. A training checkpoint
keeps several state_dicts in one file under prefixes:

    save({**add_prefix(model.state_dict(), "model."),
          **add_prefix(optimizer_arrays, "optimizer.")}, path, meta={"epoch": 3, ...})
    ckpt = load(path)
    model.load_state_dict(strip_prefix(ckpt, "model."))
"""
import json
import os
import secrets
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from . import backend
from .tensor import Tensor

META_KEY = "__meta__"


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
    The path is used as given: no ``.npz`` is appended. The write is atomic: a temporary
    file in the same directory is written, flushed, fsync'ed and renamed over ``path``.
    """
    path = os.fspath(path)
    arrays = _to_numpy_arrays(state_dict, path)
    if meta is None:
        meta = getattr(state_dict, "meta", None) or None
    if meta is not None:
        try:
            text = json.dumps(meta)
        except (TypeError, ValueError) as err:
            raise TypeError(f"save({path!r}): meta must be JSON-serialisable: {err}") from None
        arrays[META_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

    directory, name = os.path.split(os.path.abspath(path))
    # O_EXCL: the name is ours alone; mode 0o666 lets the umask decide, as for open(path, "w")
    tmp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)  # makes the rename itself survive a power cut


def load(path):
    """Read a file written by ``save`` (or any ``.npz`` of plain arrays) into a ``StateDict``.

    Keys keep the file's order. Raises ValueError naming the file when it is truncated or
    corrupt, or when an entry is an object array (never unpickled).
    """
    path = os.fspath(path)
    try:
        npz = np.load(path, allow_pickle=False)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as err:
        raise _corrupt(path, err) from None
    if not isinstance(npz, np.lib.npyio.NpzFile):  # a bare .npy: one array, no keys
        raise ValueError(f"load({path!r}): expected an .npz archive of named arrays, found a "
                         f"single .npy array of shape {npz.shape}")
    with npz:
        state = StateDict()
        for key in npz.files:
            array = _read_entry(npz, key, path)
            if key == META_KEY:
                state.meta = _decode_meta(array, path)
            else:
                state[key] = array
    return state


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
        array = _numpy_of(value)
        if array is None:
            raise TypeError(f"save({path!r}): entry {key!r} is a {type(value).__name__}; "
                            "expected a NumPy/CuPy array or a Tensor (put other values in meta)")
        if array.dtype.hasobject:
            raise TypeError(f"save({path!r}): entry {key!r} is an object array, which could "
                            "only be stored pickled; convert it to a numeric dtype")
        arrays[key] = array
    return arrays


def _write_npz(f, arrays):
    """What ``np.savez`` writes, without its keyword arguments: a key may be named ``file``."""
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, array in arrays.items():
            with zf.open(key + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def _numpy_of(value):
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, (np.ndarray, np.generic)) or backend.is_cupy(value):
        return backend.to_numpy(value)
    if type(value).__module__.split(".")[0] == "torch":  # a torch.Tensor, without importing torch
        return value.detach().cpu().numpy()
    return None


def _read_entry(npz, key, path):
    try:
        array = npz[key]
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise ValueError(f"load({path!r}): entry {key!r} is an object array; refusing to "
                             "unpickle it (files are read with allow_pickle=False)") from None
        raise _corrupt(path, err) from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise _corrupt(path, err) from None
    if not isinstance(array, np.ndarray):  # a zip member that is not an .npy file
        raise ValueError(f"load({path!r}): entry {key!r} is not a NumPy array; is this a "
                         "scratchnet .npz file? (a PyTorch .pt file is read by from_torch)")
    return array


def _decode_meta(array, path):
    if array.dtype != np.uint8 or array.ndim != 1:
        raise ValueError(f"load({path!r}): {META_KEY!r} must be a 1-D uint8 array of UTF-8 "
                         f"JSON, got {array.dtype} of shape {array.shape}")
    try:
        return json.loads(array.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _corrupt(path, err) from None


def _corrupt(path, err):
    return ValueError(f"load({path!r}): the file is truncated or corrupt, or not an .npz "
                      f"archive ({type(err).__name__}: {err})")


def _fsync_directory(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory; the rename is already durable there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
