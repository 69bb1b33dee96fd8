"""torchvision's answers for the zoo (tests/models/torchvision_zoo.npz, or the file
SCRATCHNET_ZOO_FIXTURE names) and the weights behind them, rebuilt from the formula
(make_torchvision_zoo.py writes the file and describes it)."""
import json
import os
import pathlib
import zlib

import numpy as np

ZOO = pathlib.Path(os.environ.get("SCRATCHNET_ZOO_FIXTURE",
                                  pathlib.Path(__file__).resolve().parent / "torchvision_zoo.npz"))


def open_zoo():
    """The fixture file, opened (FileNotFoundError when it is absent)."""
    arrays = np.load(ZOO, allow_pickle=False)
    return Zoo(json.loads(bytes(arrays["meta.json"]).decode())["models"], arrays)


class Zoo:
    def __init__(self, meta, arrays):
        self.meta, self.arrays = meta, arrays
        self._cache = {}

    def input(self, name):
        """The input the fixture's logits were computed for: (2, 3, S, S) float32."""
        size = self.meta[name]["input_size"]
        return np.random.default_rng(1234).standard_normal((2, 3, size, size)).astype(np.float32)

    def state_dict(self, name):
        """torchvision's state_dict for ``name`` with the README's formula weights and the
        stored batch-norm running statistics, as NumPy arrays in torchvision's order."""
        state = {}
        for key, shape, kind in self.meta[name]["state_dict"]:
            if kind == "int64":
                state[key] = np.array(1, np.int64)  # num_batches_tracked
            elif key.endswith(("running_mean", "running_var")):
                state[key] = self.arrays[f"{name}.buffers.{key}"]
            else:
                state[key] = self.weight(key, tuple(shape))
        return state

    def weight(self, key, shape):
        # the VGGs share their 124 M classifier weights (same keys, same shapes): draw once
        cached = (key, shape) in self._cache
        w = self._cache[key, shape] if cached else formula_weight(key, shape)
        if not cached and w.size >= 2**20:
            self._cache[key, shape] = w
        return w


def formula_weight(key, shape):
    """The README's weights: He-scaled normals for kernels, U(0.5, 1.5) for batch-norm scales,
    U(-0.1, 0.1) for biases and shifts, seeded by the key's CRC32."""
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    if len(shape) > 1:
        w = rng.standard_normal(shape) * np.sqrt(2.0 / np.prod(shape[1:]))
    elif key.endswith("weight"):
        w = rng.uniform(0.5, 1.5, shape)
    else:
        w = rng.uniform(-0.1, 0.1, shape)
    return w.astype(np.float32)

