"""The global random state behind ``rand``, ``randn``, dropout masks and shuffling.

``manual_seed(s)`` reseeds a NumPy ``Generator`` (PCG64) and, when a GPU is in use, CuPy's.
Factories draw on the CPU generator and copy to the device, so ``manual_seed(0); randn(3)``
gives the same numbers on both devices.
"""
import numpy as np

from . import backend

_generator = np.random.Generator(np.random.PCG64(0))
_seed = 0


def manual_seed(seed):
    """Reseed every generator scratchnet draws from; returns the seed."""
    global _generator, _seed
    _seed = int(seed)
    _generator = np.random.Generator(np.random.PCG64(_seed))
    if backend.cuda_is_available():
        backend.cupy_module().random.seed(_seed)
    return _seed


def generator(xp=np):
    """The generator for arrays of module ``xp`` (numpy's Generator or cupy.random)."""
    if xp is np:
        return _generator
    return xp.random.default_rng(int(_generator.integers(2**63)))


def get_rng_state():
    """The CPU generator's state as a JSON-friendly dict (for checkpoints and recomputation)."""
    return _generator.bit_generator.state


def set_rng_state(state):
    _generator.bit_generator.state = state
