"""``sn.backends``, as ``torch.backends``: switches of the GPU libraries (``cuda.matmul``)."""
from . import cuda

__all__ = ["cuda"]
