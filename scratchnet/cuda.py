"""``sn.cuda``, as much of ``torch.cuda`` as a training script asks: is a GPU there?"""
from . import backend


def is_available():
    """True when CuPy is installed and sees a CUDA GPU."""
    return backend.cuda_is_available()


def device_count():
    """1 when a GPU is usable (scratchnet drives one), else 0."""
    return int(backend.cuda_is_available())
