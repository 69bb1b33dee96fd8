"""The data half of `scratchnet train`: each data set, augmented, fitted to a model; data files
that cannot be used fail with a DataError naming them."""
import os

import numpy as np
import pytest

from scratchnet.data import DataError, DataFileNotFound, mnist, pipeline
from scratchnet.data.datasets import MNIST_CLASSES
from tests.data.files import idx_bytes, write_cifar10, write_mnist


@pytest.mark.parametrize("input_size", [(3, 32, 32), (1, 32, 32)])
def test_cifar10_with_augmentation_gives_model_sized_samples(tmp_path, input_size):
    # the default augmentation once computed `size // 8` on an (H, W) tuple: a TypeError on
    # the first real CIFAR-10 folder
    write_cifar10(str(tmp_path / "cifar-10-batches-bin"), n=4)
    train, held_out = pipeline.build("cifar10", input_size, str(tmp_path), augment=True)
    x, y = train.get(0, np.random.default_rng(0))
    assert x.shape == input_size and x.dtype == np.float32 and 0 <= y < 10
    names = [type(t).__name__ for t in train.transform.transforms]
    assert "RandomCrop" in names and "RandomHorizontalFlip" in names
    assert ("PCALighting" in names) == (input_size[0] == 3)
    padding = next(t for t in train.transform.transforms if type(t).__name__ == "RandomCrop")
    assert padding.pad.padding == (4, 4, 4, 4)         # a shift of up to 32 / 8 pixels
    assert held_out.get(0)[0].shape == input_size


def test_an_idx_file_of_zero_images_is_refused(tmp_path):
    write_mnist(str(tmp_path))
    (tmp_path / "train-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((0, 28, 28))))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(0)))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: holds 0 images"):
        mnist(str(tmp_path))


def test_an_unreadable_folder_is_not_reported_as_missing_files(tmp_path, monkeypatch):
    write_mnist(str(tmp_path))
    real = os.listdir

    def denied(path="."):
        if os.fspath(path) == str(tmp_path):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)
    monkeypatch.setattr(os, "listdir", denied)
    with pytest.raises(DataError, match=r"MNIST: cannot read the folder .*: Permission denied") \
            as info:
        mnist(str(tmp_path))
    assert not isinstance(info.value, DataFileNotFound)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_an_unreadable_folder_for_real(tmp_path):
    write_mnist(str(tmp_path))
    tmp_path.chmod(0o000)
    try:
        with pytest.raises(DataError, match=r"cannot read the folder"):
            mnist(str(tmp_path))
    finally:
        tmp_path.chmod(0o755)


def test_a_resize_whose_batch_cannot_fit_names_the_bytes():
    with pytest.raises(pipeline.DataConfigError,
                       match=r"--resize 100000: one batch of 256 images of 3x100000x100000 "
                             r"float32 takes 30,720,000,000,000 bytes, more than the .* "
                             r"bytes of memory"):
        pipeline.build("mnist", (3, 224, 224), resize=100000, batch_size=256)
    pipeline.check_batch_fits(224, 3, 256)      # AlexNet's usual batch fits anywhere


def test_mnist_classes_are_the_digits():
    assert MNIST_CLASSES == [str(d) for d in range(10)]
