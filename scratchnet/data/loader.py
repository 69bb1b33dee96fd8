"""DataLoader: batches of a Dataset as NumPy arrays, in a seeded order, prepared in worker
processes (``num_workers``) or one batch ahead on a background thread (``prefetch``).

It is the torch-style ``scratchnet.utils.data.DataLoader`` with its sampler, BatchSampler and
worker processes (``utils/data/_workers.py``), plus one thing: randomness is a pure function
of (seed, epoch, batch index). Epoch e's order is ``default_rng([seed, e]).permutation(n)``
(the sampler is a one-replica ``DistributedSampler``) and batch b's augmentations draw from
``default_rng([seed, e, b])``: each task the workers get is a batch of indices with its
seeds. So the loader needs no state beyond its epoch counter, a resumed run can restart in
the middle of an epoch (``iterate(start_batch=b)``) and see the same batches as an
uninterrupted one, the prefetching thread never touches a generator the training thread
uses, and worker processes make exactly the batches the main process would.
"""
import itertools
import numbers
import queue
import threading

import numpy as np

from .. import random as _random
from ..utils.data import DataLoader as _TorchStyleLoader
from ..utils.data import DistributedSampler
from ..utils.data._workers import WorkerDied, exit_reason
from ..utils.data.collate import numpy_collate as default_collate


class DataLoader(_TorchStyleLoader):
    """Iterate over ``dataset`` (a ``scratchnet.data.Dataset``: ``get(index, rng)``) in
    batches of ``batch_size``.

    shuffle: a new seeded permutation each epoch (else the dataset's order).
    drop_last: drop the last batch if it is smaller than batch_size.
    seed: seeds order and augmentation; None draws one from scratchnet's global generator
    (so ``scratchnet.manual_seed`` fixes it).
    prefetch: prepare the next batch on a background thread while the caller works on the
    current one (the transforms run in NumPy, which releases the GIL in its loops).
    num_workers: make batches in this many worker processes instead (decoding images, say);
    the batches and their order are those of ``num_workers=0``. Worker i is seeded with
    ``worker_base_seed(epoch) + i`` as torch seeds its workers, then runs
    ``worker_init_fn(i)``; ``get_worker_info()`` tells code in a worker which one it is.
    ``prefetch_factor`` batches per worker are made ahead; ``persistent_workers`` keeps the
    processes from one epoch to the next (else they start with each epoch);
    ``multiprocessing_context`` ("fork", "spawn", "forkserver" or a context; default: the
    platform's).

    sampler: the indices to serve, in order (``__iter__`` and ``__len__``; a
    ``DistributedSampler``, say) instead of ``shuffle``; ``seed`` then seeds augmentation
    only.

    pin_memory: accepted, as torch's, with no effect: batches are NumPy arrays in ordinary
    memory, and ``batch.to("cuda", non_blocking=True)`` copies them (synchronously).

    Each ``iter(loader)`` runs one epoch and advances ``loader.epoch``; ``set_epoch(e)``
    chooses the epoch the next iteration runs. The epoch an iteration runs is passed on to
    the sampler (its ``set_epoch``), so a DistributedSampler needs no call of its own.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None,
                 prefetch=False, collate_fn=default_collate, *, num_workers=0,
                 worker_init_fn=None, persistent_workers=False, prefetch_factor=2,
                 multiprocessing_context=None, sampler=None, pin_memory=False):
        for name, value, low in (("batch_size", batch_size, 1), ("num_workers", num_workers, 0),
                                 ("prefetch_factor", prefetch_factor, 1)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
                    or value < low:
                kind = "positive" if low else "non-negative"
                raise ValueError(f"DataLoader: {name} must be a {kind} integer, got {value!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers needs num_workers > 0")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        self.seed = int(_random.generator().integers(2**63)) if seed is None else int(seed)
        if sampler is None:     # the seeded order: one replica of the DistributedSampler
            sampler = DistributedSampler(dataset, 1, 0, shuffle=bool(shuffle), seed=self.seed)
        super().__init__(dataset, int(batch_size), sampler=sampler,
                         num_workers=int(num_workers), collate_fn=collate_fn,
                         drop_last=bool(drop_last), worker_init_fn=worker_init_fn,
                         multiprocessing_context=multiprocessing_context,
                         prefetch_factor=int(prefetch_factor) if num_workers else None,
                         persistent_workers=persistent_workers, pin_memory=pin_memory)
        self.shuffle, self.prefetch = shuffle, prefetch
        self.epoch = 0

    def set_epoch(self, epoch):
        """The epoch the next iteration runs (also set on the sampler)."""
        self.epoch = int(epoch)
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(self.epoch)

    def worker_base_seed(self, epoch):
        """The seed worker i of ``epoch`` starts from, plus i (torch draws it per iterator)."""
        # [seed, epoch, 7, 7]: four words, so never the padded [seed, epoch, batch] of a batch
        return int(np.random.default_rng([self.seed, epoch, 7, 7]).integers(2**62))

    def base_seed(self):
        """The workers' base seed for the epoch about to run (not a global draw)."""
        return self.worker_base_seed(self.epoch)

    def fetcher(self):
        """What turns a task, a batch of indices with its seeds, into the batch."""
        return SeededFetcher(self.dataset, self.collate_fn)

    def __iter__(self):
        return self.iterate()

    def iterate(self, start_batch=0):
        """One epoch from batch ``start_batch`` on (the earlier ones are skipped unread)."""
        epoch = self.epoch
        self.set_epoch(epoch)                    # the sampler serves this epoch's order
        batches = itertools.islice(self.batch_sampler, start_batch, None)
        tasks = [((self.seed, epoch, b), picks) for b, picks in enumerate(batches, start_batch)]
        served = self.iterator_over(tasks)       # seeds its workers with base_seed(): epoch's
        self.epoch += 1
        if self.num_workers == 0 and self.prefetch:
            return _prefetched(served)
        return _Epoch(served, stop_workers=self.num_workers > 0 and not self.persistent_workers)

    def close(self):
        """Stop persistent workers (also done when the loader is garbage-collected)."""
        if self._iterator is not None:
            self._iterator.close()
            self._iterator = None


class SeededFetcher:
    """task = ((seed, epoch, batch index), picks) -> ``collate_fn`` of the samples ``picks``
    of ``dataset``, their random transforms drawing from one generator seeded with the
    three numbers; a plain object, so that it pickles for spawned workers."""

    def __init__(self, dataset, collate_fn):
        self.dataset, self.collate_fn = dataset, collate_fn

    def __call__(self, task):
        seeds, picks = task
        rng = np.random.default_rng(list(seeds))
        return self.collate_fn([self.dataset.get(int(i), rng) for i in picks])


class _Epoch:
    """The batches of one epoch; ``close()`` (the caller leaving early) stops the workers
    when they live for one epoch; a worker's death is told in torch's words."""

    def __init__(self, served, stop_workers):
        self._served, self._stop_workers = served, stop_workers

    def __iter__(self):
        return self

    def __len__(self):
        return len(self._served)

    def __next__(self):
        try:
            return next(self._served)
        except WorkerDied as err:
            pids = ", ".join(str(pid) for _, pid, _ in err.dead)
            how = ", ".join(exit_reason(code) for _, _, code in err.dead)
            raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly "
                               f"({how})") from None

    def close(self):
        if self._stop_workers:
            self._served.close()


def _prefetched(served):
    """Yield the batches of ``served``, making the next one on a thread meanwhile."""
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
            for batch in served:
                if not put(("batch", batch)):
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
