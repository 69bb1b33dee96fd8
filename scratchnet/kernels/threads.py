"""The threading policy of every CPU kernel: one pool of workers, shared by everything.

``set_num_threads(n)`` gives scratchnet n workers: the calling thread and n − 1 helper threads
that sleep (on a lock, never spinning) between jobs. Every parallel piece of work goes
through them:

- the Numba kernels (im2col, pooling, LRN, batch norm, SGD) are compiled serial, over a
  range of planes, channels or elements, and ``parallel_range`` hands each worker one
  contiguous chunk of that range;
- conv2d's tiles go through ``parallel_for`` (kernels/conv.py);
- large matrix products (``matmul``: linear layers, ``F.matmul``) are cut into row or column
  blocks, one per worker.

BLAS itself (OpenBLAS under NumPy) is held to one thread, from ``import scratchnet`` on and by
every ``set_num_threads``: each worker's BLAS call runs on that worker's core. Why one pool:
OpenBLAS's idle threads keep spinning on their cores for about 0.1 s after each call, and
Numba's OpenMP threads after each parallel launch, so two thread pools on the same cores take
turns slowing each other down (a 2-thread MLP step took twice the 1-thread time, the SGD
update 4–9 ms instead of 0.9); a launch of Numba's OpenMP team also cost about 0.2 ms here
against 0.02 ms for this pool. Setting OPENBLAS_NUM_THREADS or OPENBLAS_THREAD_TIMEOUT would
have to happen before NumPy is imported; threadpoolctl changes the count at any time.

Small work runs on the calling thread alone, as torch decides with its grain size: a kernel
gets one worker per ``GRAIN_SIZE`` elements of work, a product one per ``GEMM_GRAIN``
multiply-adds (below: waking a worker costs more than it saves). A worker never starts
parallel work of its own (nested calls run serially), and a second thread calling in while
the pool is busy runs its work itself.

Results do not depend on the number of workers except where a worker sums its own share
(conv2d's weight gradient: last bits).
"""
import functools
import os
import queue
import threading

import numba
import numpy as np
import threadpoolctl

GRAIN_SIZE = 32768       # elements per worker, at least (torch's at::internal::GRAIN_SIZE)
GEMM_GRAIN = 1 << 21     # multiply-adds per worker, at least: about 15 µs of one core's SGEMM

_local = threading.local()                      # .busy: this thread is running pool work


def _default_threads():
    """The CPUs this process may run on (taskset, cgroups), at most Numba's thread count."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cpus or 1, numba.config.NUMBA_NUM_THREADS))


_num_threads = _default_threads()


def set_num_threads(n):
    """Use n threads for scratchnet's CPU work (kernels, conv2d, large products), as
    ``torch.set_num_threads``: n workers, each running BLAS single-threaded. Numba's own
    thread count (for parallel Numba code of your own) follows once Numba has launched its
    threads; scratchnet's kernels never launch them."""
    global _num_threads
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {n!r}")
    _num_threads = n
    if _numba_threads_launched():     # setting it would launch them: 10-15 ms, spinning threads
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    hold_blas_to_one_thread()


def _numba_threads_launched():
    try:
        from numba.np.ufunc import parallel
        return bool(parallel._is_initialized)
    except (ImportError, AttributeError):     # pragma: no cover (another Numba version)
        return True


def get_num_threads():
    """The number of threads scratchnet's CPU work uses (``set_num_threads``)."""
    return _num_threads


def hold_blas_to_one_thread():
    """Set every loaded BLAS library to one thread (see the module docstring)."""
    threadpoolctl.threadpool_limits(1, user_api="blas")     # every BLAS library loaded now


def workers_for(items, work=0, grain=GRAIN_SIZE):
    """How many workers ``items`` pieces of ``work`` (in units of ``grain``) get: at most one
    per item and per grain, at least 1; 1 inside a worker."""
    if getattr(_local, "busy", False):
        return 1
    return max(1, min(_num_threads, items, work // grain))


def parallel_range(count, fn, work, grain=GRAIN_SIZE):
    """Call ``fn(start, stop)`` on contiguous chunks that cover range(count), one per worker
    (``workers_for(count, work, grain)`` of them), and wait for all."""
    workers = workers_for(count, work, grain)
    if workers == 1:
        fn(0, count)
        return
    bounds = [count * w // workers for w in range(workers + 1)]
    _run([functools.partial(fn, bounds[w], bounds[w + 1]) for w in range(workers)])


def parallel_for(items, fn, workers):
    """Call ``fn(item, worker)`` for every item, worker w of ``workers`` (from ``workers_for``)
    taking items w, w + workers, w + 2·workers, ... in order: a fixed split, so anything a
    worker sums over its items comes out the same on every run with the same workers."""
    if workers == 1:
        for item in items:
            fn(item, 0)
        return

    def share(w):
        for item in items[w::workers]:
            fn(item, w)
    _run([functools.partial(share, w) for w in range(workers)])


def planes(a):
    """(N, C, ...) -> (N·C, ...), a view that a kernel may write into: a Numba kernel takes a
    slice of planes per worker and loops over it from 0 (an index Numba knows to be
    non-negative needs no wraparound test, so the loop vectorizes: a loop from a variable
    start ran 13x slower in the SGD update)."""
    if not a.flags.c_contiguous:
        raise ValueError(f"expected a C-contiguous array, got strides {a.strides}")
    return a.reshape((a.shape[0] * a.shape[1],) + a.shape[2:])


def matmul(a, b):
    """``a @ b`` (NumPy's rules), a large product cut into one block per worker: the rows of
    ``a``, or the columns of ``b`` when the result has fewer rows than columns, each block
    one single-threaded BLAS call. Batched products and CuPy arrays go to ``@`` as they are."""
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.ndim < 2 or b.ndim != 2 \
            or a.size * b.shape[1] < 2 * GEMM_GRAIN:
        # a.size · N = M·K·N multiply-adds: below two workers' worth, one BLAS call as it
        # stands (tiny products skip the reshapes below: a 4x4 product in 2 µs instead of 6)
        return a @ b
    if a.shape[-1] != b.shape[0]:
        return a @ b                                  # NumPy's error
    lead = a.shape[:-1]
    a = a.reshape(-1, a.shape[-1])                    # (*, K) -> (M, K)
    (M, K), N = a.shape, b.shape[1]
    if workers_for(max(M, N), M * N * K, GEMM_GRAIN) == 1:
        # one worker's work: one call, no blocks
        return np.matmul(a, b).reshape(lead + (N,))
    out = np.empty((M, N), np.result_type(a, b))

    def rows(start, stop):
        np.matmul(a[start:stop], b, out=out[start:stop])

    def columns(start, stop):
        np.matmul(a, b[:, start:stop], out=out[:, start:stop])
    if M >= N:
        parallel_range(M, rows, M * N * K, GEMM_GRAIN)
    else:
        parallel_range(N, columns, M * N * K, GEMM_GRAIN)
    return out.reshape(lead + (N,))


def _run(jobs):
    """Run jobs[0] on this thread and the others on helpers; re-raise the first error."""
    pool = _pool
    if not pool.lock.acquire(blocking=False):  # another thread's work holds the pool
        for job in jobs:
            job()
        return
    try:
        while len(pool.helpers) < len(jobs) - 1:
            pool.helpers.append(_Helper(pool.done, len(pool.helpers) + 1))
        for helper, job in zip(pool.helpers, jobs[1:]):
            helper.inbox.put(job)
        error = None
        _local.busy = True
        try:
            jobs[0]()
        except BaseException as err:           # wait for the helpers before raising
            error = err
        finally:
            _local.busy = False
        for _ in jobs[1:]:
            failure = pool.done.get()
            error = error or failure
        if error is not None:
            raise error
    finally:
        pool.lock.release()


class _Pool:
    def __init__(self):
        self.lock = threading.Lock()          # one caller at a time
        self.done = queue.SimpleQueue()       # one message per finished job: None or the error
        self.helpers = []


class _Helper(threading.Thread):
    """A helper thread: runs the jobs put in its inbox, reports each to ``done``."""

    def __init__(self, done, index):
        super().__init__(name=f"scratchnet-{index}", daemon=True)
        self.inbox, self.done = queue.SimpleQueue(), done
        self.start()

    def run(self):
        _local.busy = True
        while True:
            job = self.inbox.get()
            try:
                job()
                self.done.put(None)
            except BaseException as err:
                self.done.put(err)


_pool = _Pool()                               # its helpers start at the first parallel call


def _forget_pool():  # pragma: no cover (runs in forked children, which coverage does not see)
    """After fork() the child has none of the parent's helper threads: start afresh."""
    global _pool
    _pool = _Pool()


os.register_at_fork(after_in_child=_forget_pool)
hold_blas_to_one_thread()
