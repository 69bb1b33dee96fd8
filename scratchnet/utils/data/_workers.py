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
waits that every worker is alive (a worker killed by the OS gives ``WorkerDied``, naming it,
not a hang); a worker checks that its parent is alive and exits when it is not; an exception
in a worker is sent back with its traceback and re-raised in the main process. Workers ignore
SIGINT, SIGTERM and SIGHUP: Ctrl-C, ``kill`` of the process group and a closed terminal reach
every process, and the main process decides (the training command saves a checkpoint first)
and then stops its workers itself.

Both DataLoaders run on this: ``scratchnet.utils.data``'s (a task is a batch of indices) and
``scratchnet.data``'s (a task is a batch of indices with its seeds).
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


class WorkerDied(RuntimeError):
    """A worker process that exited without being told to; ``dead`` lists (worker id,
    pid, exit code) of each."""

    def __init__(self, message, dead):
        super().__init__(message)
        self.dead = dead


class ExceptionWrapper:
    """An exception caught in a worker, carried to the main process with its traceback.

    An exception type with ``worker_traceback = False`` (``scratchnet.data.DataError``: a
    message meant for the user, the command line prints it alone) comes back with its own
    message only."""

    def __init__(self, where):
        self.exc_type, value, _ = sys.exc_info()
        self.text = str(value)
        self.message = "".join(traceback.format_exception(self.exc_type, value,
                                                          value.__traceback__))
        self.where = where

    def reraise(self):
        message = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.message}"
        if not getattr(self.exc_type, "worker_traceback", True):
            message = self.text
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
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):       # the main process's business
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
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
    """One pass over ``tasks`` (entries of the loader's index sampler, each handed to
    ``loader.fetcher()`` in a worker) with worker processes, kept across passes when the
    loader has persistent_workers (``reset`` starts the next pass)."""

    def __init__(self, loader, tasks):
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
            self.close()
            if "pickle" not in str(err):
                raise
            raise TypeError(f"DataLoader: num_workers={loader.num_workers} with the "
                            f"{self._start_method!r} start method sends the dataset, "
                            "collate_fn and worker_init_fn to each worker by pickling, and "
                            f"that failed: {err}. Define them at module level (no lambdas or "
                            "local classes), or use multiprocessing_context='fork'") from None
        self.reset(tasks)

    @property
    def alive(self):
        """False once the workers are shut down (after an error, or a non-persistent pass)."""
        return not self._shut_down

    def reset(self, tasks):
        """Start a pass over ``tasks``; results of an older pass are ignored."""
        self._epoch += 1
        self._length = len(tasks)
        self._batches = iter(tasks)
        self._sent = self._served = 0
        self._waiting = {}                       # batch number -> worker, for asked batches
        self._ready = {}                         # batch number -> data, arrived out of order
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
                    self.close()
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
                self.close()
                shown = ", ".join(f"worker {w} (pid {p.pid}, {exit_reason(p.exitcode)})"
                                  for w, p in dead)
                raise WorkerDied(f"DataLoader worker process exited unexpectedly: {shown}.",
                                 [(w, p.pid, p.exitcode) for w, p in dead]) from None
            if self._timeout and time.monotonic() - start >= self._timeout:
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")

    def close(self):
        """Stop the workers now (a pass left unfinished, or persistent workers no longer
        wanted); done by itself at the end of a non-persistent pass and on an error."""
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
            if worker.is_alive():                         # it ignores SIGTERM
                worker.kill()
                worker.join()
        for q in self._index_queues + [self._result_queue]:
            q.cancel_join_thread()
            q.close()

    def __del__(self):
        try:
            self.close()
        except Exception:           # at interpreter exit the modules it needs may be gone
            pass


def exit_reason(code):
    """How a process ended, from its exit code: 'exit code 3', 'killed by signal SIGKILL'."""
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"

