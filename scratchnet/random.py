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


class Generator:
    """A random generator of its own, as ``torch.Generator``: pass it as ``generator=`` to
    ``rand``/``randn``/``randint``, ``random_split`` or a DataLoader to draw from it instead
    of the global one. ``Generator().manual_seed(42)`` returns the generator."""

    def __init__(self, device="cpu"):
        self.device = backend.device(device)
        self.manual_seed(0)

    def manual_seed(self, seed):
        self._initial_seed = int(seed)
        self.numpy = np.random.Generator(np.random.PCG64(self._initial_seed))
        return self

    def seed(self):
        """Reseed from fresh OS entropy; returns the new seed."""
        seed = _fresh_seed()
        self.manual_seed(seed)
        return seed

    def initial_seed(self):
        return self._initial_seed

    def get_state(self):
        return self.numpy.bit_generator.state

    def set_state(self, state):
        self.numpy.bit_generator.state = state
        return self


def numpy_generator(generator=None):
    """The NumPy Generator behind ``generator``: a scratchnet Generator, a NumPy Generator as
    is, or the global one for None."""
    if generator is None:
        return _generator
    if isinstance(generator, Generator):
        return generator.numpy
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"generator must be a scratchnet.Generator or numpy.random.Generator, got "
                    f"{type(generator).__name__}")


def initial_seed():
    """The seed the global generator was last seeded with."""
    return _seed


def seed():
    """Reseed the global generator from fresh OS entropy; returns the new seed."""
    return manual_seed(_fresh_seed())


def _fresh_seed():
    """A non-negative 63-bit seed from the OS's entropy."""
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> 1)
