"""Utilities built on the autograd core: activation checkpointing, and torch.utils.data's
datasets and DataLoader as ``scratchnet.utils.data``."""
from . import data
from .checkpoint import checkpoint

__all__ = ["checkpoint"]
