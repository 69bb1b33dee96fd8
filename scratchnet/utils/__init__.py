"""Utilities built on the autograd core."""
from .checkpoint import checkpoint

__all__ = ["checkpoint"]
