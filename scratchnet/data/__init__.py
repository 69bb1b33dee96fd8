"""Data sets, transforms and the DataLoader (scratchnet.data mirrors torch.utils.data plus the
few torchvision pieces training needs)."""
from . import transforms
from .datasets import (DataError, DataFileNotFound, Dataset, ImageDataset, TensorDataset,
                       bundled_mnist, cifar10, mnist, read_idx, synthetic)
from .distributed import DistributedSampler
from .loader import DataLoader, default_collate
from .mnist import load_mnist_5k, mnist_5k_split

__all__ = ["DataError", "DataFileNotFound", "DataLoader", "Dataset", "DistributedSampler",
           "ImageDataset", "TensorDataset", "bundled_mnist", "cifar10", "default_collate",
           "load_mnist_5k", "mnist", "mnist_5k_split", "read_idx", "synthetic", "transforms"]
