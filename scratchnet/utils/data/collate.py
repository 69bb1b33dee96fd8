"""default_collate and default_convert, with torch's rules: a batch of samples becomes a
sample of batches, structure kept; numpy_collate, the same with NumPy arrays for Tensors
(``scratchnet.data.DataLoader``'s batches).

    [(x0, 0), (x1, 1)]          ->  [stack(x0, x1), tensor([0, 1])]   (tuples give lists)
    [{"a": 0.5}, {"a": 1.5}]    ->  {"a": tensor([0.5, 1.5], dtype=float64)}

Tensors and NumPy arrays are stacked into a Tensor, Python ints give int64, floats float64
and bools bool (torch's choices), strings stay a list, dicts, namedtuples and sequences are
collated field by field.
"""
import collections.abc
import copy

import numpy as np

from ...creation import as_tensor, tensor
from ...functional import stack
from ...tensor import Tensor

ERROR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
         "found {}")


def default_collate(batch):
    """Collate a list of samples into one batch of Tensors (module docstring)."""
    return collate(batch, _tensors)


def numpy_collate(batch):
    """``default_collate`` with NumPy arrays for Tensors (``scratchnet.data.DataLoader``'s):
    arrays and Tensors are stacked with ``np.stack``, numbers give an array (ints int64,
    floats float64, bools bool)."""
    return collate(batch, _arrays)


def collate(batch, leaf):
    """Walk the samples' structure (dicts, namedtuples, sequences, strings kept as lists);
    ``leaf(field)`` batches one field of Tensors, arrays or numbers, or returns None."""
    elem = batch[0]
    batched = None if isinstance(elem, (str, bytes, np.str_, np.bytes_)) else leaf(batch)
    if batched is not None:
        return batched
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: collate([d[key] for d in batch], leaf) for key in elem}
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)
            clone.update(collated)
            return clone
        try:
            return type(elem)(collated)
        except TypeError:
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):      # a namedtuple
        return type(elem)(*(collate(samples, leaf) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(sample) != size for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        fields = [collate(samples, leaf) for samples in zip(*batch)]
        if isinstance(elem, tuple):
            return fields                                  # torch returns tuples as lists
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            clone[:] = fields
            return clone
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    raise TypeError(ERROR.format(type(elem)))


def _numpy_kind(elem):
    """'array', 'scalar' or None for a NumPy object (its strings and objects refused)."""
    if type(elem).__module__ != "numpy":
        return None
    if isinstance(elem, np.ndarray) and elem.dtype.kind in "SaUO":
        raise TypeError(ERROR.format(elem.dtype))
    return "array" if isinstance(elem, np.ndarray) else "scalar"


def _tensors(batch):
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch, 0)
    kind = _numpy_kind(elem)
    if kind == "array":
        return stack([as_tensor(b) for b in batch], 0)
    if kind == "scalar":
        return as_tensor(np.asarray(batch))
    if isinstance(elem, float):
        return tensor(batch, dtype=np.float64)
    if isinstance(elem, int):                              # bools too: a bool tensor
        return tensor(batch)
    return None


def _arrays(batch):
    elem = batch[0]
    if isinstance(elem, Tensor):
        return np.stack([b.numpy() for b in batch])
    kind = _numpy_kind(elem)
    if kind == "array":
        return np.stack(batch)
    if kind == "scalar":
        return np.asarray(batch)
    if isinstance(elem, bool):
        return np.asarray(batch, np.bool_)
    if isinstance(elem, (int, float)):
        return np.asarray(batch, np.int64 if isinstance(elem, int) else np.float64)
    return None


def default_convert(data):
    """What a DataLoader with ``batch_size=None`` does to each sample: NumPy arrays and
    scalars become Tensors, containers are converted element by element."""
    if isinstance(data, Tensor):
        return data
    if type(data).__module__ == "numpy" and not isinstance(data, (np.str_, np.bytes_)):
        if isinstance(data, np.ndarray) and data.dtype.kind in "SaUO":
            return data
        return as_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        converted = {key: default_convert(data[key]) for key in data}
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
