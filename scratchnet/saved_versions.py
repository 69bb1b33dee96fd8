"""Which version of each saved array a Function's backward expects (torch's version counter).

When forward saves an array with ``save_for_backward``, ``saved_versions`` finds the input or
output tensor that owns its memory (the array itself or a view of it) and notes that tensor's
version counter and current version; backward compares them (function.py) and raises torch's
"modified by an inplace operation" error if an in-place op wrote the array meanwhile. The
engine also uses ``memory_root`` to tell arrays that share memory.
"""


def memory_root(array):
    """The object that owns an array's memory (views share it); itself for anything else."""
    base = getattr(array, "base", None)
    return array if base is None else base


def saved_versions(saved, inputs, outputs):
    """(position, counter, version, role, index) for each saved array that is (a view of) the
    array of an input or output tensor: which version of it backward expects. An input wins
    over an output with the same memory (an in-place op's target, already counted)."""
    entries = []
    for position, array in enumerate(saved):
        owner = _input_owner(array, inputs)
        if owner is None:
            root = memory_root(array)
            owner = _owner(root, inputs, "input") or _owner(root, outputs, "output")
        if owner is not None:
            role, index, counter = owner
            entries.append((position, counter, counter.version, role, index))
    return entries


def _input_owner(array, inputs):
    """("input", index, version counter) of the input whose array ``array`` is, if one is: the
    common case (forward saved an argument), found without looking for roots (0.5 µs)."""
    for index, t in enumerate(inputs):
        if t is not None and t.data is array:
            return "input", index, t._version_counter
    return None


def _owner(root, tensors, role):
    """(role, index, version counter) of the first tensor whose array lives in ``root``."""
    for index, t in enumerate(tensors):
        if t is not None and (t.data is root or memory_root(t.data) is root):
            return role, index, t._version_counter
    return None
