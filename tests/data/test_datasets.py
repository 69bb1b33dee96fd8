"""Data set readers: IDX and CIFAR-10 bytes written by hand, the bundled split, synthetic data."""
import os

import numpy as np
import pytest

from scratchnet.data import bundled_mnist, cifar10, mnist, mnist_5k_split, read_idx, synthetic
from tests.data.files import idx_bytes as _idx_bytes
from tests.data.files import write_cifar10 as _write_cifar
from tests.data.files import write_mnist as _write_mnist


def test_read_idx_roundtrip(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(_idx_bytes(array))
    np.testing.assert_array_equal(read_idx(str(tmp_path / "a"), 3), array)


def test_read_idx_checks_magic_and_size(tmp_path):
    good = _idx_bytes(np.zeros((2, 3, 4), np.uint8))
    (tmp_path / "labels").write_bytes(good)
    with pytest.raises(ValueError, match=r"labels: magic number 0x00000803, expected "
                                         r"0x00000801"):
        read_idx(str(tmp_path / "labels"), 1)
    (tmp_path / "short").write_bytes(good[:-5])
    with pytest.raises(ValueError, match=r"short: 35 bytes, expected 40 for shape \(2, 3, 4\)"):
        read_idx(str(tmp_path / "short"), 3)


@pytest.mark.parametrize("gz", [False, True])
def test_full_mnist_from_idx_files(tmp_path, gz):
    data = _write_mnist(str(tmp_path), gz=gz)
    train, test = mnist(str(tmp_path)), mnist(str(tmp_path), train=False)
    assert len(train) == 6 and len(test) == 4
    assert train.images.shape == (6, 1, 28, 28)
    np.testing.assert_array_equal(test.images[:, 0], data["t10k"][0])
    x, y = train[2]
    np.testing.assert_allclose(x[0], data["train"][0][2] / 255.0, rtol=1e-6)
    assert y == data["train"][1][2]


def test_full_mnist_missing_file_names_it(tmp_path):
    _write_mnist(str(tmp_path))
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(FileNotFoundError, match=r"MNIST: no t10k-labels-idx1-ubyte \(or "
                                                r"t10k-labels-idx1-ubyte.gz\) in "):
        mnist(str(tmp_path), train=False)


def test_cifar10_binary_layout(tmp_path):
    written = _write_cifar(str(tmp_path / "cifar-10-batches-bin"))
    train, test = cifar10(str(tmp_path)), cifar10(str(tmp_path), train=False)
    assert len(train) == 15 and len(test) == 3
    labels, pixels = written["data_batch_2.bin"]
    # record 1 of batch 2 is sample 4; its bytes are 1024 red, 1024 green, 1024 blue, row-major
    assert train.labels[4] == labels[1]
    assert train.images[4, 1, 0, 5] == pixels[1, 1024 + 5]
    assert train.images[4, 2, 3, 7] == pixels[1, 2048 + 3 * 32 + 7]
    assert train.classes[3] == "cat"


def test_cifar10_bad_size_and_missing_dir(tmp_path):
    directory = str(tmp_path / "cifar-10-batches-bin")
    _write_cifar(directory)
    with open(os.path.join(directory, "test_batch.bin"), "ab") as f:
        f.write(b"\0" * 10)
    with pytest.raises(ValueError, match=r"test_batch.bin: 9229 bytes, expected a multiple of "
                                         r"3073"):
        cifar10(str(tmp_path), train=False)
    with pytest.raises(FileNotFoundError, match=r"CIFAR-10 .*: no data_batch_1.bin"):
        cifar10(str(tmp_path / "elsewhere"))


def test_bundled_mnist_split_is_stratified_and_fixed():
    train, test = bundled_mnist(), bundled_mnist(train=False)
    assert train.images.shape == (4000, 1, 28, 28) and test.images.shape == (1000, 1, 28, 28)
    assert np.bincount(test.labels).tolist() == [100] * 10
    assert np.bincount(train.labels).tolist() == [400] * 10
    (_, _), (xt, yt) = mnist_5k_split()
    np.testing.assert_array_equal(test.images[:, 0], xt)
    np.testing.assert_array_equal(test.labels, yt)


def test_synthetic_is_deterministic_and_shaped():
    a, b = synthetic(image_size=(3, 8, 8), num_classes=4), synthetic(image_size=(3, 8, 8),
                                                                    num_classes=4)
    np.testing.assert_array_equal(a.images, b.images)
    assert a.images.shape == (512, 3, 8, 8) and a.images.dtype == np.uint8
    assert set(a.labels.tolist()) == {0, 1, 2, 3}
    test = synthetic(train=False, image_size=(3, 8, 8), num_classes=4)
    assert len(test) == 128 and not np.array_equal(test.images[:4], a.images[:4])
