"""``sn.accelerator``, as ``torch.accelerator``: the GPU when there is one."""
from . import backend


def is_available():
    return backend.cuda_is_available()


def current_accelerator():
    """``device("cuda")`` when a GPU is usable, else None (torch's answer without one)."""
    return backend.device("cuda") if backend.cuda_is_available() else None


def device_count():
    from . import cuda
    return cuda.device_count()
