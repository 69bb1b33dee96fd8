"""Data sets: a map-style ``Dataset`` base, in-memory image and tensor sets, and the readers
for MNIST (the bundled 5,000-digit subset or the full IDX files), CIFAR-10 (its binary
version) and a synthetic set for smoke runs.

Images are kept as uint8 arrays (N, C, H, W) and turned into float32 in [0, 1] one sample at
a time (what torchvision's ``ToTensor`` does), then passed through the set's transform. The
file readers parse plain bytes with ``np.frombuffer``: no pickle is ever loaded, and a missing
or malformed file raises an error that names the file and what was expected of it.
"""
import gzip
import os

import numpy as np

from .mnist import mnist_5k_split


class DataError(ValueError):
    """A data set that cannot be used: missing, unreadable or malformed files, or data that
    does not fit the model. The message names the file or folder and what was expected.
    Raised in a DataLoader worker, it reaches the main process with that message alone."""

    worker_traceback = False


class DataFileNotFound(DataError, FileNotFoundError):
    """A data folder without the files a reader expects."""


class Dataset:
    """Map-style data set: ``len(ds)`` samples, ``ds[i]`` -> (input, target).

    Subclasses define ``__len__`` and ``get(index, rng)``; ``rng`` is the generator random
    transforms draw from (the DataLoader passes one per batch so epochs are reproducible).
    """

    def __len__(self):
        raise NotImplementedError

    def get(self, index, rng=None):
        raise NotImplementedError

    def __getitem__(self, index):
        return self.get(index)


class TensorDataset(Dataset):
    """Sample i is ``tuple(a[i] for a in arrays)``; all arrays share their first dimension."""

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset: needs at least one array")
        sizes = [len(a) for a in arrays]
        if len(set(sizes)) != 1:
            raise ValueError(f"TensorDataset: arrays differ in their first dimension: {sizes}")
        self.arrays = arrays

    def __len__(self):
        return len(self.arrays[0])

    def get(self, index, rng=None):
        return tuple(a[index] for a in self.arrays)


class ImageDataset(Dataset):
    """Images uint8 (N, C, H, W) and integer labels (N,); sample i is
    (transform(images[i] / 255 as float32 (C, H, W)), int(labels[i]))."""

    def __init__(self, images, labels, transform=None, classes=None):
        images, labels = np.asarray(images), np.asarray(labels)
        if images.ndim != 4 or labels.shape != images.shape[:1]:
            raise ValueError(f"ImageDataset: expected images (N, C, H, W) and labels (N,), got "
                             f"{images.shape} and {labels.shape}")
        self.images, self.labels = images, labels.astype(np.int64)
        self.transform = transform
        self.classes = classes if classes is not None else [str(c) for c in range(
            int(labels.max()) + 1 if len(labels) else 0)]

    def __len__(self):
        return len(self.images)

    @property
    def image_size(self):
        """(C, H, W) of the stored images, before any transform."""
        return self.images.shape[1:]

    def get(self, index, rng=None):
        img = self.images[index]
        img = img.astype(np.float32) / 255.0 if img.dtype == np.uint8 else img.astype(np.float32)
        if self.transform is not None:
            img = self.transform(img, rng)
        return img, int(self.labels[index])


MNIST_CLASSES = [str(d) for d in range(10)]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck"]


def bundled_mnist(train=True, transform=None):
    """The bundled MNIST subset: 4,000 training or 1,000 held-out digits (1, 28, 28)
    (the fixed stratified split of ``mnist_5k_split``)."""
    (x, y), (xt, yt) = mnist_5k_split()
    images, labels = (x, y) if train else (xt, yt)
    return ImageDataset(images[:, None], labels, transform, MNIST_CLASSES)  # (N, 1, 28, 28)


def _read_bytes(path):
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as err:
        raise DataError(f"cannot read {path}: {err}") from None


def _find(directory, names, what):
    """The first of ``names`` (tried plain and .gz) in ``directory``, or a DataFileNotFound
    saying which files were expected (a DataError when the folder cannot be listed)."""
    try:
        present = set(os.listdir(directory))
    except FileNotFoundError:
        present = set()
    except OSError as err:
        raise DataError(f"{what}: cannot read the folder {directory}: "
                        f"{err.strerror or err}") from None
    for name in names:
        for candidate in (name, name + ".gz"):
            path = os.path.join(directory, candidate)
            if candidate in present and os.path.isfile(path):
                return path
    raise DataFileNotFound(f"{what}: no {names[0]} (or {names[0]}.gz) in {directory}")


def read_idx(path, ndim):
    """An IDX file (the MNIST format): a big-endian int32 magic 0x0000080D (D = ndim, 08 =
    unsigned bytes), then ``ndim`` big-endian int32 sizes, then the bytes. Returns uint8
    of those sizes."""
    raw = _read_bytes(path)
    header = 4 * (1 + ndim)
    if len(raw) < header:
        raise DataError(f"{path}: {len(raw)} bytes, too short for an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    if magic != 0x800 + ndim:
        raise DataError(f"{path}: magic number {magic:#010x}, expected {0x800 + ndim:#010x} "
                        f"(an IDX file of unsigned bytes with {ndim} dimensions)")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">i4", ndim, offset=4))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(f"{path}: {len(raw)} bytes, expected {expected} for shape {shape} "
                        "(truncated or corrupt download?)")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def mnist(root, train=True, transform=None):
    """Full MNIST from the four IDX files in ``root`` (or ``root/MNIST/raw``, torchvision's
    layout): 60,000 training or 10,000 test digits (1, 28, 28)."""
    directory = root
    if not os.path.isfile(os.path.join(root, "train-labels-idx1-ubyte")) and \
            os.path.isdir(os.path.join(root, "MNIST", "raw")):
        directory = os.path.join(root, "MNIST", "raw")
    prefix = "train" if train else "t10k"
    images_path = _find(directory, [f"{prefix}-images-idx3-ubyte",
                                    f"{prefix}-images.idx3-ubyte"], "MNIST")
    images = read_idx(images_path, 3)
    if len(images) == 0:
        raise DataError(f"{images_path}: holds 0 images")
    labels = read_idx(_find(directory, [f"{prefix}-labels-idx1-ubyte",
                                        f"{prefix}-labels.idx1-ubyte"], "MNIST"), 1)
    if len(images) != len(labels):
        raise DataError(f"MNIST in {directory}: {len(images)} {prefix} images but "
                        f"{len(labels)} labels")
    if labels.max(initial=0) > 9:
        raise DataError(f"MNIST in {directory}: label {labels.max()} outside 0-9")
    return ImageDataset(images[:, None], labels, transform, MNIST_CLASSES)


CIFAR10_RECORD = 1 + 3 * 32 * 32   # one label byte, then 1024 red, 1024 green, 1024 blue


def cifar10(root, train=True, transform=None):
    """CIFAR-10 from the binary version (``cifar-10-batches-bin``: data_batch_1..5.bin,
    test_batch.bin, each 10,000 records of 3,073 bytes) in ``root`` or
    ``root/cifar-10-batches-bin``: 50,000 training or 10,000 test images (3, 32, 32)."""
    directory = root
    if os.path.isdir(os.path.join(root, "cifar-10-batches-bin")):
        directory = os.path.join(root, "cifar-10-batches-bin")
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] if train else ["test_batch.bin"]
    images, labels = [], []
    for name in names:
        path = _find(directory, [name], "CIFAR-10 (binary version, cifar-10-batches-bin)")
        raw = _read_bytes(path)
        if len(raw) == 0 or len(raw) % CIFAR10_RECORD:
            raise DataError(f"{path}: {len(raw)} bytes, expected a multiple of "
                            f"{CIFAR10_RECORD} (records of 1 label + 3x32x32 pixels)")
        records = np.frombuffer(raw, np.uint8).reshape(-1, CIFAR10_RECORD)
        if records[:, 0].max() > 9:
            raise DataError(f"{path}: label {records[:, 0].max()} outside 0-9; is this the "
                            "binary CIFAR-10 (not CIFAR-100)?")
        labels.append(records[:, 0])
        images.append(records[:, 1:].reshape(-1, 3, 32, 32))   # channel-major, row-major
    return ImageDataset(np.concatenate(images), np.concatenate(labels), transform,
                        CIFAR10_CLASSES)


def synthetic(train=True, transform=None, num_samples=None, image_size=(1, 28, 28),
              num_classes=10, seed=0):
    """A learnable toy set for smoke runs: each class has a fixed random template of 4x4
    blocks (coarse, so a few steps of a small CNN separate them) and a sample is its
    template plus pixel noise, as uint8 images. Train and test share the templates (drawn
    from ``seed``) but not the noise. Defaults: 512 training, 128 test samples."""
    if num_samples is None:
        num_samples = 512 if train else 128
    c, h, w = image_size
    coarse = np.random.default_rng(seed).uniform(0, 255, (num_classes, c, 4, 4))
    rows, cols = np.arange(h) * 4 // h, np.arange(w) * 4 // w      # pixel -> block index
    templates = coarse[:, :, rows[:, None], cols[None, :]]          # (classes, C, H, W)
    rng = np.random.default_rng([seed, 1 if train else 2])
    labels = rng.integers(0, num_classes, num_samples)
    noise = rng.normal(0, 40, (num_samples, c, h, w))
    images = np.clip(templates[labels] + noise, 0, 255).astype(np.uint8)
    return ImageDataset(images, labels, transform, [str(k) for k in range(num_classes)])
