"""DataLoader with torch's signature: batches of a map-style dataset as Tensors, read in the
main process (``num_workers=0``) or by worker processes (``_workers.py``).

The order is decided in the main process: the sampler yields indices, ``BatchSampler``
groups them, and each batch of indices is fetched and collated (``collate_fn``) by the main
process or, in turn, by one of the workers; the batches come back in the sampler's order
(``in_order=True``), so worker processes change where the work happens, never what is
served. Each iterator draws a base seed first (from ``generator``, else the global
generator), for the workers' seeds, whether or not there are workers: so a given
``sn.manual_seed`` gives the same shuffled order with any ``num_workers``.

``scratchnet.data.DataLoader`` is this loader with other tasks (``iterator_over``), fetcher
and base seed: batches of indices with their seeds, NumPy batches, seeds from (seed, epoch).
"""
import multiprocessing

from ... import random as _random
from . import _workers
from .collate import default_collate, default_convert
from .sampler import BatchSampler, RandomSampler, SequentialSampler


class DataLoader:
    """Iterate over ``dataset`` in batches, as ``torch.utils.data.DataLoader``.

    dataset: anything with ``__getitem__`` and ``__len__``.
    batch_size: samples per batch; None serves single samples (``default_convert``).
    shuffle: a new random order each epoch (``RandomSampler`` with ``generator``).
    sampler: any iterable of indices with ``__len__`` (excludes shuffle).
    batch_sampler: any iterable of lists of indices (excludes batch_size, shuffle, sampler,
    drop_last).
    num_workers: worker processes fetching batches (0: the main process does).
    collate_fn: list of samples -> batch (``default_collate``).
    pin_memory, pin_memory_device: accepted; no effect (scratchnet has no pinned memory).
    drop_last: drop the last batch when it is smaller than batch_size.
    timeout: seconds to wait for a worker's batch before raising (0: forever).
    worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker after seeding.
    multiprocessing_context: start method ("fork", "spawn", "forkserver") or a context;
    None is multiprocessing's default (fork on Linux before Python 3.14).
    generator: an ``sn.Generator`` for the shuffle order and the workers' base seed.
    prefetch_factor: batches asked of each worker ahead of time (2 with workers).
    persistent_workers: keep the workers from one epoch to the next.
    in_order: serve batches in sampler order (False: as workers finish them).
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing. Let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and prefetch_factor < 1:
            raise ValueError("prefetch_factor option should be a positive integer")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.num_workers, self.timeout = num_workers, timeout
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_sampler is not None else default_convert)
        self.pin_memory, self.pin_memory_device = pin_memory, pin_memory_device
        self.worker_init_fn, self.generator = worker_init_fn, generator
        self.multiprocessing_context = _context(multiprocessing_context)
        self.prefetch_factor, self.persistent_workers = prefetch_factor, persistent_workers
        self.in_order = in_order
        self._iterator = None

    @property
    def auto_collation(self):
        """True when batches are made of several samples (batch_size or batch_sampler)."""
        return self.batch_sampler is not None

    @property
    def index_sampler(self):
        """What the iterator draws from: lists of indices, or single indices."""
        return self.batch_sampler if self.auto_collation else self.sampler

    def __len__(self):
        return len(self.index_sampler)

    def __iter__(self):
        return self.iterator_over(self.index_sampler)

    def iterator_over(self, tasks):
        """An iterator serving ``fetcher()(task)`` for each of ``tasks`` (a sized iterable
        of index sampler entries), in the main process or in the workers (the persistent
        ones, if any, start a new pass)."""
        if self.num_workers == 0:
            return _SingleProcessIterator(self, tasks)
        if not self.persistent_workers:
            return _workers.MultiProcessIterator(self, tasks)
        if self._iterator is None or not self._iterator.alive:
            self._iterator = _workers.MultiProcessIterator(self, tasks)
        else:
            self._iterator.reset(tasks)
        return self._iterator

    def base_seed(self):
        """The seed a new iterator hands its workers (worker i seeds with base + i)."""
        return int(_random.numpy_generator(self.generator).integers(2**63))

    def fetcher(self):
        """The callable that turns one entry of the index sampler into what is served."""
        return Fetcher(self.dataset, self.collate_fn, self.auto_collation)


class Fetcher:
    """index -> collate([dataset[i] for i in index]), or collate(dataset[index]) without
    auto-collation; a plain object, so that it pickles for spawned workers."""

    def __init__(self, dataset, collate_fn, auto_collation):
        self.dataset, self.collate_fn, self.auto_collation = dataset, collate_fn, auto_collation

    def __call__(self, index):
        if self.auto_collation:
            return self.collate_fn([self.dataset[i] for i in index])
        return self.collate_fn(self.dataset[index])


def _context(spec):
    if spec is None:
        return multiprocessing.get_context()
    if isinstance(spec, str):
        return multiprocessing.get_context(spec)
    if not hasattr(spec, "Process"):
        raise TypeError(f"multiprocessing_context option should be a start method name or a "
                        f"multiprocessing context, got {spec!r}")
    return spec


class _SingleProcessIterator:
    """num_workers=0: the main process fetches each batch when it is asked for."""

    def __init__(self, loader, tasks):
        loader.base_seed()              # drawn as with workers, so the order is the same
        self._length, self._fetch = len(tasks), loader.fetcher()
        self._indices = iter(tasks)

    def __iter__(self):
        return self

    def __next__(self):
        return self._fetch(next(self._indices))

    def __len__(self):
        return self._length
