"""Tiny data sets in the real on-disk formats (IDX, CIFAR-10 binary), written by the tests."""
import gzip
import os

import numpy as np


def idx_bytes(array):
    # magic: two zero bytes, 0x08 (unsigned byte), number of dimensions; then big-endian sizes
    header = bytes([0, 0, 8, array.ndim]) + b"".join(s.to_bytes(4, "big") for s in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(root, n_train=6, n_test=4, gz=False):
    """The four MNIST IDX files (gzipped with ``gz``) of random digits in ``root``; returns
    {"train"|"t10k": (images, labels)}."""
    rng = np.random.default_rng(0)
    data = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        data[prefix] = images, labels
        for kind, array, d in (("images", images, 3), ("labels", labels, 1)):
            name = os.path.join(root, f"{prefix}-{kind}-idx{d}-ubyte")
            opener = gzip.open if gz else open
            with opener(name + (".gz" if gz else ""), "wb") as f:
                f.write(idx_bytes(array))
    return data


def write_cifar10(directory, n=3):
    """CIFAR-10's six binary batch files with ``n`` random records each in ``directory``
    (created); returns {file name: (labels, pixels)}."""
    os.makedirs(directory)
    rng = np.random.default_rng(1)
    written = {}
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        pixels = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        records = np.concatenate([labels[:, None], pixels], axis=1)  # (n, 3073)
        with open(os.path.join(directory, name), "wb") as f:
            f.write(records.tobytes())
        written[name] = labels, pixels
    return written


# colours of the tiny image folder's classes: each image is its class colour plus noise, so
# that a small network tells them apart within an epoch or two
FOLDER_COLOURS = {"cat": (220, 30, 30), "dog": (60, 230, 60), "fox": (20, 20, 90)}   # luma 87,
# 160, 28: apart in grey too


def write_image_folder(root, per_class=6, classes=FOLDER_COLOURS, seed=0):
    """``root/CLASS/i.png`` and ``i.jpg`` (alternately) for each class, written with Pillow:
    sizes alternate between 40x48 and 48x40 (height x width), values the class colour plus
    uniform noise. Returns {path: uint8 (H, W, 3) written} (exact for the PNGs)."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    written = {}
    for name, colour in classes.items():
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(per_class):
            h, w = (40, 48) if i % 2 == 0 else (48, 40)
            noise = rng.integers(-40, 41, (h, w, 3))
            pixels = np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)
            path = os.path.join(root, name, f"{i}.{'png' if i % 2 == 0 else 'jpg'}")
            Image.fromarray(pixels).save(path)
            written[path] = pixels
    return written
