"""scratchnet.autograd, as torch.autograd: the torch-style custom ``Function``."""
from .function import Function, FunctionCtx

__all__ = ["Function", "FunctionCtx"]
