"""Data sets, transforms and the DataLoader (scratchnet.data mirrors torch.utils.data plus the
few torchvision pieces training needs: transforms, ImageFolder)."""
from ..utils.data import DistributedSampler, WorkerInfo, get_worker_info
from . import transforms
from .datasets import (DataError, DataFileNotFound, Dataset, ImageDataset, TensorDataset,
                       bundled_mnist, cifar10, mnist, read_idx, synthetic)
from .folder import ImageFolder, stratified_split
from .images import load_image
from .loader import DataLoader, default_collate
from .mnist import load_mnist_5k, mnist_5k_split

__all__ = ["DataError", "DataFileNotFound", "DataLoader", "Dataset", "DistributedSampler",
           "ImageDataset", "ImageFolder", "TensorDataset", "WorkerInfo", "bundled_mnist",
           "cifar10", "default_collate", "get_worker_info", "load_image", "load_mnist_5k",
           "mnist", "mnist_5k_split", "read_idx", "stratified_split", "synthetic", "transforms"]
