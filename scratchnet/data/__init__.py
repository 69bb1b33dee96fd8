"""Data sets and loading."""
from .mnist import load_mnist_5k, mnist_5k_split

__all__ = ["load_mnist_5k", "mnist_5k_split"]
