"""DataLoader: batches of a Dataset, in a seeded order, prepared in worker processes
(``num_workers``) or one batch ahead on a background thread (``prefetch``).

Randomness is a pure function of (seed, epoch, batch index): epoch e's order is
``default_rng([seed, e]).permutation(n)`` and batch b's augmentations draw from
``default_rng([seed, e, b])``. So the loader needs no state beyond its epoch counter, a
resumed run can restart in the middle of an epoch (``iterate(start_batch=b)``) and see the
same batches as an uninterrupted one, and the prefetching thread never touches a generator
the training thread uses. For the same reason worker processes (``workers.py``) make exactly
the batches the main process would.
"""
import functools
import math
import numbers
import queue
import threading

import numpy as np

from .. import random as _random
from .workers import WorkerPool


def default_collate(samples):
    """[(x, y), ...] -> (stack of x, stack of y); ints become an int64 array."""
    fields = zip(*samples)
    return tuple(np.asarray(f, np.int64) if isinstance(f[0], numbers.Integral) else np.stack(f)
                 for f in fields)


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size``.

    shuffle: a new seeded permutation each epoch (else the dataset's order).
    drop_last: drop the last batch if it is smaller than batch_size.
    seed: seeds order and augmentation; None draws one from scratchnet's global generator
    (so ``scratchnet.manual_seed`` fixes it).
    prefetch: prepare the next batch on a background thread while the caller works on the
    current one (the transforms run in NumPy, which releases the GIL in its loops).
    num_workers: make batches in this many worker processes instead (decoding images, say);
    the batches and their order are those of ``num_workers=0`` (see ``workers.py`` for the
    seeding, ``worker_init_fn`` and ``get_worker_info``). ``prefetch_factor`` batches per
    worker are made ahead; ``persistent_workers`` keeps the processes from one epoch to the
    next (else they start with each epoch); ``multiprocessing_context`` ("fork", "spawn",
    "forkserver" or a context; default: the platform's).

    sampler: the indices to serve, in order (``__iter__`` and ``__len__``; a
    ``DistributedSampler``, say) instead of ``shuffle``; ``seed`` then seeds augmentation
    only, and ``set_epoch`` is passed on to the sampler.

    pin_memory: accepted, as torch's, with no effect: batches are NumPy arrays in ordinary
    memory, and ``batch.to("cuda", non_blocking=True)`` copies them (synchronously).

    Each ``iter(loader)`` runs one epoch and advances ``loader.epoch``; ``set_epoch(e)``
    chooses the epoch the next iteration runs.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None,
                 prefetch=False, collate_fn=default_collate, *, num_workers=0,
                 worker_init_fn=None, persistent_workers=False, prefetch_factor=2,
                 multiprocessing_context=None, sampler=None, pin_memory=False):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, "
                             f"got {batch_size!r}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) \
                or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers must be a non-negative integer, "
                             f"got {num_workers!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers needs num_workers > 0")
        if isinstance(prefetch_factor, bool) or not isinstance(prefetch_factor,
                                                               numbers.Integral) \
                or prefetch_factor < 1:
            raise ValueError(f"DataLoader: prefetch_factor must be a positive integer, "
                             f"got {prefetch_factor!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        self.sampler, self.pin_memory = sampler, bool(pin_memory)
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle, self.drop_last, self.prefetch = shuffle, drop_last, prefetch
        self.collate_fn = collate_fn
        self.seed = int(_random.generator().integers(2**63)) if seed is None else int(seed)
        self.num_workers, self.worker_init_fn = int(num_workers), worker_init_fn
        self.persistent_workers, self.prefetch_factor = persistent_workers, int(prefetch_factor)
        self.multiprocessing_context = multiprocessing_context
        self.epoch = 0
        self._pool = None

    def __len__(self):
        n = len(self.dataset if self.sampler is None else self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch):
        self.epoch = int(epoch)
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(self.epoch)

    def order(self, epoch):
        """Sample indices of an epoch, in the order they are served (a sampler's: those of
        the epoch it was last set to)."""
        n = len(self.dataset)
        if self.sampler is not None:
            return np.fromiter(iter(self.sampler), np.int64)
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def batch(self, epoch, index, order=None):
        """Batch ``index`` of ``epoch``, collated."""
        return make_batch(*self._task(epoch, index, order))

    def _task(self, epoch, index, order=None):
        """The arguments of ``make_batch`` for batch ``index`` of ``epoch``."""
        order = self.order(epoch) if order is None else order
        picks = order[index * self.batch_size:(index + 1) * self.batch_size]
        return self.dataset, self.collate_fn, (self.seed, epoch, index), picks

    def worker_base_seed(self, epoch):
        """The seed worker i of ``epoch`` starts from, plus i (torch draws it per iterator)."""
        # [seed, epoch, 7, 7]: four words, so never the padded [seed, epoch, batch] of a batch
        return int(np.random.default_rng([self.seed, epoch, 7, 7]).integers(2**62))

    def __iter__(self):
        return self.iterate()

    def iterate(self, start_batch=0):
        """One epoch from batch ``start_batch`` on (the earlier ones are skipped unread)."""
        epoch = self.epoch
        self.epoch += 1
        order = self.order(epoch)
        indices = range(start_batch, len(self))
        if self.num_workers > 0:
            return self._from_workers(epoch, [self._task(epoch, b, order) for b in indices])
        if not self.prefetch:
            return (self.batch(epoch, b, order) for b in indices)
        return _prefetched(lambda b: self.batch(epoch, b, order), indices)

    def _from_workers(self, epoch, tasks):
        pool = self._pool
        if pool is None:
            pool = WorkerPool(functools.partial(make_batch, self.dataset, self.collate_fn),
                              self.dataset, self.num_workers,
                              self.worker_base_seed(epoch), self.worker_init_fn,
                              self.prefetch_factor, self.multiprocessing_context)
            if self.persistent_workers:
                self._pool = pool
        # the dataset and collate_fn are the workers' own copies: tasks carry the rest
        try:
            yield from pool.run(task[2:] for task in tasks)
        finally:
            if not self.persistent_workers:
                pool.shutdown()

    def close(self):
        """Stop persistent workers (also done when the loader is garbage-collected)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def make_batch(dataset, collate_fn, seeds, picks):
    """``collate_fn`` of the samples ``picks`` of ``dataset``, their random transforms drawing
    from one generator seeded with ``seeds`` = (seed, epoch, batch index)."""
    rng = np.random.default_rng(list(seeds))
    return collate_fn([dataset.get(int(i), rng) for i in picks])


def _prefetched(make, indices):
    """Yield make(i) for i in indices, computing the next one on a thread meanwhile."""
    slot = queue.Queue(maxsize=1)   # holds the batch after the one the caller has
    stop = threading.Event()

    def put(item):
        while not stop.is_set():
            try:
                slot.put(item, timeout=0.05)
                return True
            except queue.Full:
                pass
        return False

    def work():
        try:
            for i in indices:
                if not put(("batch", make(i))):
                    return
            put(("end", None))
        except BaseException as err:   # re-raised in the caller's thread
            put(("error", err))

    thread = threading.Thread(target=work, name="scratchnet-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = slot.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
