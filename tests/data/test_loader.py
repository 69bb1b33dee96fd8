"""DataLoader: batching, order, seeding, resuming mid-epoch and the prefetching thread."""
import threading

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.data import DataLoader, Dataset, ImageDataset, TensorDataset
from scratchnet.data import transforms as T


def _indices(n):
    return TensorDataset(np.arange(n), np.arange(n) * 10)


def test_batches_in_order_without_shuffle():
    batches = list(DataLoader(_indices(10), batch_size=4))
    assert [b[0].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [b[1].tolist() for b in batches][2] == [80, 90]
    assert len(DataLoader(_indices(10), batch_size=4)) == 3


def test_drop_last():
    loader = DataLoader(_indices(10), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [b[0].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_collate_stacks_images_and_labels():
    images = np.arange(5 * 1 * 2 * 2, dtype=np.uint8).reshape(5, 1, 2, 2)
    x, y = next(iter(DataLoader(ImageDataset(images, np.arange(5)), batch_size=3)))
    assert x.shape == (3, 1, 2, 2) and x.dtype == np.float32
    assert y.dtype == np.int64 and y.tolist() == [0, 1, 2]
    np.testing.assert_allclose(x, images[:3] / 255.0, rtol=1e-6)


def _epoch(loader):
    return np.concatenate([b[0] for b in loader])


def test_shuffle_is_a_seeded_permutation_per_epoch():
    a = DataLoader(_indices(50), batch_size=8, shuffle=True, seed=3)
    b = DataLoader(_indices(50), batch_size=8, shuffle=True, seed=3)
    first, second = _epoch(a), _epoch(a)
    assert sorted(first) == list(range(50)) and sorted(second) == list(range(50))
    assert not np.array_equal(first, second), "two epochs in the same order"
    np.testing.assert_array_equal(first, _epoch(b))
    np.testing.assert_array_equal(second, _epoch(b))
    a.set_epoch(0)
    np.testing.assert_array_equal(first, _epoch(a))
    other = DataLoader(_indices(50), batch_size=8, shuffle=True, seed=4)
    assert not np.array_equal(first, _epoch(other))


def test_seed_none_follows_manual_seed():
    sn.manual_seed(12)
    a = DataLoader(_indices(30), batch_size=30, shuffle=True)
    sn.manual_seed(12)
    b = DataLoader(_indices(30), batch_size=30, shuffle=True)
    assert a.seed == b.seed
    np.testing.assert_array_equal(_epoch(a), _epoch(b))


def _augmented():
    images = np.random.default_rng(0).integers(0, 256, (23, 1, 6, 6), dtype=np.uint8)
    return ImageDataset(images, np.arange(23) % 3,
                        T.Compose([T.RandomCrop(6, padding=2), T.RandomHorizontalFlip()]))


def test_iterate_from_a_batch_equals_the_rest_of_the_epoch():
    loader = DataLoader(_augmented(), batch_size=5, shuffle=True, seed=1)
    loader.set_epoch(2)
    full = list(loader)
    loader.set_epoch(2)
    tail = list(loader.iterate(start_batch=3))
    assert len(tail) == len(full) - 3
    for (x, y), (xt, yt) in zip(full[3:], tail):
        np.testing.assert_array_equal(x, xt)
        np.testing.assert_array_equal(y, yt)


def test_prefetch_gives_the_same_batches():
    plain = DataLoader(_augmented(), batch_size=4, shuffle=True, seed=9)
    ahead = DataLoader(_augmented(), batch_size=4, shuffle=True, seed=9, prefetch=True)
    for _ in range(2):
        for (x, y), (xa, ya) in zip(plain, ahead, strict=True):
            np.testing.assert_array_equal(x, xa)
            np.testing.assert_array_equal(y, ya)


class _Failing(Dataset):
    def __len__(self):
        return 8

    def get(self, index, rng=None):
        if index == 5:
            raise RuntimeError("sample 5 is broken")
        return np.zeros(2), index


def test_prefetch_raises_dataset_errors_in_the_caller():
    with pytest.raises(RuntimeError, match="sample 5 is broken"):
        list(DataLoader(_Failing(), batch_size=2, prefetch=True))


def test_prefetch_thread_stops_when_the_caller_breaks():
    before = threading.active_count()
    loader = DataLoader(_indices(100), batch_size=2, prefetch=True)
    it = iter(loader)
    next(it)
    it.close()
    assert threading.active_count() == before


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_batch_size(bad):
    with pytest.raises(ValueError, match=f"DataLoader: batch_size must be a positive integer, "
                                         f"got {bad!r}"):
        DataLoader(_indices(4), batch_size=bad)
