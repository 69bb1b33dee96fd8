"""DataLoader worker processes, as torch runs them.

    main process                                      worker w (of W)
    sampler -> batch of indices b ──index queue w──►  fetch: collate([ds[i] for i in b])
    reorder by batch number      ◄──result queue───   (epoch, batch number, batch or error)

Batch b goes to worker b mod W; each worker has at most ``prefetch_factor`` batches asked of
it ahead. The main process hands out work and puts results back in the sampler's order.

Seeding: each iterator draws one base seed in the main process; worker w seeds Python's
``random`` and ``sn.manual_seed`` with base + w, and NumPy's legacy global generator from
(base, w), then calls ``worker_init_fn(w)``. Worker w also runs its kernels on one thread
(Numba and BLAS), as torch's workers run on one thread: W workers on W cores, not W × cores
threads fighting for them.

Start method: ``multiprocessing``'s default unless ``multiprocessing_context`` says otherwise
(fork on Linux up to Python 3.13, as torch). Fork is fast and shares the dataset's memory;
a forked worker may run scratchnet's kernels (its thread pool, kernels/threads.py, starts
afresh in a forked child, and the Numba kernels are compiled serial).

Robustness: the main process waits on the results with a short timeout and checks between
waits that every worker is alive (a worker killed by the OS gives an error naming it, not a
hang); a worker checks that its parent is alive and exits when it is not; an exception in a
worker is sent back with its traceback and re-raised in the main process.
"""
import multiprocessing
import os
import queue
import random
import signal
import sys
import time
import traceback
from collections import namedtuple

import numpy as np

POLL_SECONDS = 0.5      # how often a waiting process checks that the other side is alive

WorkerInfo = namedtuple("WorkerInfo", ["id", "num_workers", "seed", "dataset"])
_worker_info = None


def get_worker_info():
    """In a worker process: WorkerInfo(id, num_workers, seed, dataset) (the dataset is this
    worker's copy); in the main process: None."""
    return _worker_info


class ExceptionWrapper:
    """An exception caught in a worker, carried to the main process with its traceback."""

    def __init__(self, where):
        self.exc_type, value, _ = sys.exc_info()
        self.message = "".join(traceback.format_exception(self.exc_type, value,
                                                          value.__traceback__))
        self.where = where

    def reraise(self):
        message = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.message}"
        try:
            error = self.exc_type(message)
        except Exception:           # an exception type whose constructor wants more
            error = RuntimeError(message)
        raise error


def _seed_worker(base_seed, worker_id):
    from ... import random as sn_random
    seed = base_seed + worker_id
    random.seed(seed)
    sn_random.manual_seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed]).generate_state(4))
    return seed


def _one_thread():
    """Kernels on one thread in a worker (scratchnet's pool, Numba's and BLAS's)."""
    from ...kernels import set_num_threads
    set_num_threads(1)


def worker_loop(loader_state, index_queue, result_queue, base_seed, worker_id, parent_pid):
    """The body of worker process ``worker_id`` (module docstring)."""
    global _worker_info
    signal.signal(signal.SIGINT, signal.SIG_IGN)      # Ctrl-C is the main process's business
    dataset, fetch, num_workers, worker_init_fn = loader_state
    _one_thread()
    seed = _seed_worker(base_seed, worker_id)
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    init_error = None
    if worker_init_fn is not None:
        try:
            worker_init_fn(worker_id)
        except Exception:
            init_error = ExceptionWrapper(f"in DataLoader worker process {worker_id}")
    while True:
        try:
            task = index_queue.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if os.getppid() != parent_pid:                # the main process is gone
                return
            continue
        if task is None:                                  # the main process says stop
            return
        epoch, number, indices = task
        if init_error is not None:
            data = init_error
        else:
            try:
                data = fetch(indices)
            except Exception:
                data = ExceptionWrapper(f"in DataLoader worker process {worker_id}")
        result_queue.put((epoch, number, data))
        del data


class MultiProcessIterator:
    """One pass over the loader with worker processes (kept across passes when the loader
    has persistent_workers)."""

    def __init__(self, loader):
        self._num_workers, self._timeout = loader.num_workers, loader.timeout
        self._prefetch, self._in_order = loader.prefetch_factor, loader.in_order
        self._persistent = loader.persistent_workers
        context = loader.multiprocessing_context
        self._start_method = context.get_start_method()
        self._result_queue = context.Queue()
        self._index_queues, self._workers = [], []
        self._epoch = -1
        self._shut_down = False
        base_seed = loader.base_seed()
        state = (loader.dataset, loader.fetcher(), loader.num_workers, loader.worker_init_fn)
        try:
            for w in range(loader.num_workers):
                index_queue = context.Queue()
                index_queue.cancel_join_thread()
                worker = context.Process(target=worker_loop, daemon=True,
                                         args=(state, index_queue, self._result_queue,
                                               base_seed, w, os.getpid()))
                worker.start()
                self._index_queues.append(index_queue)
                self._workers.append(worker)
        except (AttributeError, TypeError, multiprocessing.ProcessError) as err:
            self._shutdown()
            if "pickle" not in str(err):
                raise
            raise TypeError(f"DataLoader: num_workers={loader.num_workers} with the "
                            f"{self._start_method!r} start method sends the dataset, "
                            "collate_fn and worker_init_fn to each worker by pickling, and "
                            f"that failed: {err}. Define them at module level (no lambdas or "
                            "local classes), or use multiprocessing_context='fork'") from None
        self.reset(loader)

    @property
    def alive(self):
        """False once the workers are shut down (after an error, or a non-persistent pass)."""
        return not self._shut_down

    def reset(self, loader):
        """Start a pass: new batches from the sampler, results of an older pass ignored."""
        self._epoch += 1
        self._batches = iter(loader.index_sampler)
        self._sent = self._served = 0
        self._waiting = {}                       # batch number -> worker, for asked batches
        self._ready = {}                         # batch number -> data, arrived out of order
        self._length = len(loader)
        for _ in range(self._prefetch * self._num_workers):
            self._ask_next()

    def _ask_next(self):
        try:
            indices = next(self._batches)
        except StopIteration:
            return
        worker = self._sent % self._num_workers
        self._index_queues[worker].put((self._epoch, self._sent, indices))
        self._waiting[self._sent] = worker
        self._sent += 1

    def __iter__(self):
        return self

    def __len__(self):
        return self._length

    def __next__(self):
        while True:
            if self._served in self._ready:
                return self._serve(self._ready.pop(self._served))
            if not self._waiting:                       # every batch served: the pass ends
                if not self._persistent:
                    self._shutdown()
                raise StopIteration
            epoch, number, data = self._receive()
            if epoch != self._epoch or number not in self._waiting:
                continue                                # left over from an abandoned pass
            del self._waiting[number]
            if self._in_order and number != self._served:
                self._ready[number] = data
                continue
            return self._serve(data)

    def _serve(self, data):
        self._served += 1
        self._ask_next()
        if isinstance(data, ExceptionWrapper):
            data.reraise()
        return data

    def _receive(self):
        """The next result from any worker; raises if a worker died or the timeout passed."""
        start = time.monotonic()
        while True:
            wait = POLL_SECONDS
            if self._timeout:
                wait = min(wait, max(self._timeout - (time.monotonic() - start), 0.001))
            try:
                return self._result_queue.get(timeout=wait)
            except queue.Empty:
                pass
            dead = [(w, p) for w, p in enumerate(self._workers) if not p.is_alive()]
            if dead:
                self._shutdown()
                raise RuntimeError(self._death_message(dead)) from None
            if self._timeout and time.monotonic() - start >= self._timeout:
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")

    def _death_message(self, dead):
        shown = ", ".join(f"worker {w} (pid {p.pid}, {_exit_reason(p.exitcode)})"
                          for w, p in dead)
        return f"DataLoader worker process exited unexpectedly: {shown}."


    def _shutdown(self):
        if self._shut_down:
            return
        self._shut_down = True
        for q in self._index_queues:
            try:
                q.put(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 2 * POLL_SECONDS
        for worker in self._workers:
            worker.join(timeout=max(deadline - time.monotonic(), 0))
            if worker.is_alive():
                worker.terminate()
                worker.join()
        for q in self._index_queues + [self._result_queue]:
            q.cancel_join_thread()
            q.close()

    def __del__(self):
        try:
            self._shutdown()
        except Exception:           # at interpreter exit the modules it needs may be gone
            pass


def _exit_reason(code):
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"

