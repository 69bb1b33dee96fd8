"""DataLoader worker processes: the batches of num_workers=0 in the same order, torch's
per-worker seeding, worker_init_fn and get_worker_info, errors and dead workers."""
import multiprocessing
import os
import time

import numpy as np
import pytest

from scratchnet import random as sn_random
from scratchnet.data import (DataError, DataLoader, Dataset, ImageDataset, TensorDataset,
                             get_worker_info, transforms as T)


def _augmented(n=50):
    images = np.random.default_rng(0).integers(0, 256, (n, 3, 8, 8)).astype(np.uint8)
    return ImageDataset(images, np.arange(n) % 10,
                        T.Compose([T.RandomCrop(8, padding=2), T.RandomHorizontalFlip()]))


def _batches(loader, **kwargs):
    return [tuple(np.copy(a) for a in b) for b in loader.iterate(**kwargs)]


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_workers_make_the_same_batches_in_the_same_order(workers):
    plain = DataLoader(_augmented(), 7, shuffle=True, seed=5)
    pooled = DataLoader(_augmented(), 7, shuffle=True, seed=5, num_workers=workers)
    for epoch in range(2):
        expected, got = _batches(plain), _batches(pooled)
        assert len(got) == len(expected) == 8
        for (x, y), (u, v) in zip(expected, got):
            np.testing.assert_array_equal(x, u)
            np.testing.assert_array_equal(y, v)
    pooled.set_epoch(1)
    plain.set_epoch(1)
    resumed, expected = _batches(pooled, start_batch=5), _batches(plain, start_batch=5)
    assert [y.tolist() for _, y in resumed] == [y.tolist() for _, y in expected]


class _WhoMadeIt(Dataset):
    """Sample i: (i, worker id, a draw from scratchnet's global generator, the pid)."""

    def __len__(self):
        return 12

    def get(self, index, rng=None):
        info = get_worker_info()
        draw = int(sn_random.generator().integers(1 << 30))
        return np.array([index, info.id, draw, os.getpid(), info.seed]), 0


def test_batch_k_goes_to_worker_k_mod_n_seeded_with_base_plus_id():
    loader = DataLoader(_WhoMadeIt(), 2, num_workers=3, seed=11)
    batches = [x for x, _ in loader]
    base = loader.worker_base_seed(0)
    assert [int(b[0, 1]) for b in batches] == [0, 1, 2, 0, 1, 2]
    for worker in range(3):
        ours = np.concatenate([b for b in batches if b[0, 1] == worker])
        assert set(ours[:, 4]) == {base + worker}
        sn_random.manual_seed(base + worker)            # what torch does in each worker
        expected = [int(sn_random.generator().integers(1 << 30)) for _ in range(len(ours))]
        assert ours[:, 2].tolist() == expected
    assert get_worker_info() is None                     # the main process is no worker
    assert loader.worker_base_seed(1) != base            # a new base seed each epoch


_INITIALISED = []


class _InitSeen(Dataset):
    def __len__(self):
        return 4

    def get(self, index, rng=None):
        return np.array(list(_INITIALISED)), 0


def _init(worker_id):
    _INITIALISED.append(worker_id + 100)


def test_worker_init_fn_runs_in_each_worker_first():
    loader = DataLoader(_InitSeen(), 1, num_workers=2, worker_init_fn=_init)
    assert [x[0].tolist() for x, _ in loader] == [[100], [101], [100], [101]]
    assert _INITIALISED == []                            # the main process's list untouched


class _Failing(Dataset):
    def __init__(self, error):
        self.error = error

    def __len__(self):
        return 6

    def get(self, index, rng=None):
        if index == 3:
            raise self.error
        return np.zeros(1), 0


def test_an_error_in_a_worker_is_raised_with_its_traceback():
    loader = DataLoader(_Failing(KeyError("planted")), 2, num_workers=2)
    with pytest.raises(KeyError, match=r"Caught KeyError in DataLoader worker process 1"
                                       r"(.|\n)*in get(.|\n)*planted"):
        list(loader)
    data_error = DataLoader(_Failing(DataError("cannot decode the image x.png")), 2,
                            num_workers=2)
    with pytest.raises(DataError, match=r"^cannot decode the image x\.png$"):
        list(data_error)


class _Dying(Dataset):
    def __len__(self):
        return 8

    def get(self, index, rng=None):
        if index == 4:
            os._exit(3)
        return np.zeros(1), 0


def test_a_worker_that_dies_is_reported_not_waited_for():
    started = time.perf_counter()
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited "
                                           r"unexpectedly \(exit code 3\)"):
        list(DataLoader(_Dying(), 2, num_workers=2))
    assert time.perf_counter() - started < 10


class _Pid(Dataset):
    def __len__(self):
        return 4

    def get(self, index, rng=None):
        return np.array([os.getpid()]), 0


def _children():
    return {p.pid for p in multiprocessing.active_children()}


def test_persistent_workers_live_across_epochs_until_closed():
    before = _children()
    loader = DataLoader(_Pid(), 1, num_workers=2, persistent_workers=True)
    first = {int(x[0, 0]) for x, _ in loader}
    second = {int(x[0, 0]) for x, _ in loader}
    assert first == second and len(first) == 2 and os.getpid() not in first
    assert _children() - before == first
    loader.close()
    assert _children() == before
    fresh = DataLoader(_Pid(), 1, num_workers=2)
    assert {int(x[0, 0]) for x, _ in fresh} != {int(x[0, 0]) for x, _ in fresh}


def test_closing_an_epoch_early_stops_its_workers():
    before = _children()
    batches = DataLoader(TensorDataset(np.arange(40), np.arange(40)), 2,
                         num_workers=2).iterate()
    next(batches)
    assert len(_children() - before) == 2
    batches.close()
    assert _children() == before


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_workers=-1), "num_workers must be a non-negative integer"),
    (dict(num_workers=1.5), "num_workers must be a non-negative integer"),
    (dict(persistent_workers=True), "persistent_workers needs num_workers > 0"),
    (dict(num_workers=1, prefetch_factor=0), "prefetch_factor must be a positive integer"),
])
def test_bad_worker_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataLoader(_Pid(), 1, **kwargs)
