"""The DataLoader's worker processes (``num_workers > 0``), with torch's semantics.

Batch k of an epoch (k counted from the first batch served) is made by worker k % N, each
worker makes its batches in order, and the loader yields them in order: the batches are the
ones ``num_workers=0`` gives, since a batch's random draws come from (seed, epoch, batch
index), not from the process that makes it. Each worker starts by seeding scratchnet's global
generator and Python's ``random`` with ``base_seed + worker_id`` (torch seeds its own generator
so), then calls ``worker_init_fn(worker_id)``; ``get_worker_info()`` tells code running in a
worker which one it is. At most ``prefetch_factor`` batches per worker are ahead of the caller.

Workers ignore SIGINT, SIGTERM and SIGHUP (Ctrl-C reaches the whole process group: the main
process decides, and stops them), and leave by themselves when the main process is gone. An
exception in a worker is raised again in the main process, with the worker's traceback; a
worker that dies (killed, out of memory) is reported rather than waited for.
"""
import multiprocessing
import os
import queue
import random
import signal
import traceback
from dataclasses import dataclass

from .. import random as _random

POLL_SECONDS = 1.0      # how often a waiting side checks that the other is still alive


@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker (torch's fields)."""
    id: int
    num_workers: int
    seed: int
    dataset: object


_info = None


def get_worker_info():
    """The ``WorkerInfo`` of the worker process this runs in; None in the main process."""
    return _info


class _Failure:
    """An exception raised in a worker, carried to the main process as text."""

    def __init__(self, worker_id, err):
        self.exc_type = type(err)
        self.text = str(err)
        self.where = (f"Caught {type(err).__name__} in DataLoader worker process {worker_id}."
                      f"\nOriginal {traceback.format_exc()}")

    def reraise(self):
        from .datasets import DataError
        message = self.text if issubclass(self.exc_type, DataError) else self.where
        try:
            err = self.exc_type(message)
        except Exception:     # an exception type whose constructor wants other arguments
            err = RuntimeError(self.where)
        raise err


def _worker_loop(make_batch, info, index_queue, result_queue, worker_init_fn, parent_pid):
    global _info
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    _info = info
    _random.manual_seed(info.seed)
    random.seed(info.seed)
    init_failure = None
    if worker_init_fn is not None:
        try:
            worker_init_fn(info.id)
        except Exception as err:
            init_failure = _Failure(info.id, err)
    while True:
        try:
            task = index_queue.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if os.getppid() != parent_pid:     # the main process is gone
                return
            continue
        if task is None:
            return
        generation, task_id, args = task
        if init_failure is not None:
            result = init_failure
        else:
            try:
                result = make_batch(*args)
            except Exception as err:
                result = _Failure(info.id, err)
        result_queue.put((generation, task_id, result))


class WorkerPool:
    """``num_workers`` processes making batches with ``make_batch(*args)``, seeded with
    ``base_seed + worker_id``. ``run(tasks)`` yields the results of an epoch's tasks in
    order; ``shutdown()`` stops the processes."""

    def __init__(self, make_batch, dataset, num_workers, base_seed, worker_init_fn=None,
                 prefetch_factor=2, context=None):
        ctx = multiprocessing.get_context(context) if isinstance(context, (str, type(None))) \
            else context
        self.prefetch = prefetch_factor * num_workers
        self.result_queue = ctx.Queue()
        self.index_queues, self.processes = [], []
        self.generation = 0
        for worker_id in range(num_workers):
            index_queue = ctx.Queue()
            info = WorkerInfo(worker_id, num_workers, base_seed + worker_id, dataset)
            process = ctx.Process(target=_worker_loop, name=f"scratchnet-data-{worker_id}",
                                  args=(make_batch, info, index_queue, self.result_queue,
                                        worker_init_fn, os.getpid()), daemon=True)
            process.start()
            self.index_queues.append(index_queue)
            self.processes.append(process)

    def run(self, tasks):
        """Yield ``make_batch(*task)`` for each task, in order; the task k goes to worker
        k % num_workers."""
        self.generation += 1
        tasks = list(tasks)
        done, sent = {}, 0
        for k in range(len(tasks)):
            while sent < len(tasks) and sent < k + self.prefetch:
                self.index_queues[sent % len(self.index_queues)].put(
                    (self.generation, sent, tasks[sent]))
                sent += 1
            while k not in done:
                generation, task_id, result = self._receive()
                if generation == self.generation:   # else: left over from an abandoned epoch
                    done[task_id] = result
            result = done.pop(k)
            if isinstance(result, _Failure):
                result.reraise()
            yield result

    def _receive(self):
        while True:
            try:
                return self.result_queue.get(timeout=POLL_SECONDS)
            except queue.Empty:
                dead = [p for p in self.processes if not p.is_alive()]
                if dead:
                    raise RuntimeError(
                        "DataLoader worker (pid(s) "
                        f"{', '.join(str(p.pid) for p in dead)}) exited unexpectedly (exit "
                        f"code {', '.join(str(p.exitcode) for p in dead)})") from None

    def shutdown(self):
        for index_queue in self.index_queues:
            try:
                index_queue.put(None)
            except (OSError, ValueError):
                pass
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join()
        for q in (*self.index_queues, self.result_queue):
            q.cancel_join_thread()
            q.close()
        self.processes, self.index_queues = [], []
