"""The threading policy (kernels/threads.py): one pool, work shared by grain, BLAS on one
thread, nested and concurrent calls served serially, errors raised in the caller."""
import os
import subprocess
import sys
import threading

import numba
import numpy as np
import pytest
import threadpoolctl

import scratchnet as sn
from scratchnet.kernels import threads
from tests.kernels.paths import forced


@pytest.fixture
def two_threads():
    before = sn.get_num_threads()
    sn.set_num_threads(2)
    yield
    sn.set_num_threads(before)


def test_set_num_threads_sets_numba_and_holds_blas_to_one_thread(two_threads):
    assert sn.get_num_threads() == 2
    numba.get_num_threads()                                 # Numba launches its threads
    sn.set_num_threads(1)
    assert numba.get_num_threads() == 1
    sn.set_num_threads(2)
    assert numba.get_num_threads() == min(2, numba.config.NUMBA_NUM_THREADS)
    threadpoolctl.threadpool_limits(2, user_api="blas")     # someone else raises it ...
    sn.set_num_threads(2)                                   # ... the policy holds it again
    assert {lib["num_threads"] for lib in threadpoolctl.threadpool_info()
            if lib["user_api"] == "blas"} == {1}


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_bad_thread_counts_raise(bad):
    with pytest.raises(ValueError, match="set_num_threads: expected a positive int"):
        sn.set_num_threads(bad)


def test_blas_is_held_to_one_thread_when_numpy_was_imported_first():
    code = ("import numpy, threadpoolctl; numpy.ones((64, 64)) @ numpy.ones((64, 64)); "
            "import scratchnet; print(sorted({l['num_threads'] for l in "
            "threadpoolctl.threadpool_info() if l['user_api'] == 'blas'}))")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=root), check=True)
    assert out.stdout.strip() == "[1]"


def test_small_work_runs_on_one_worker_large_work_on_all(two_threads):
    assert threads.workers_for(100, threads.GRAIN_SIZE - 1) == 1
    assert threads.workers_for(100, 2 * threads.GRAIN_SIZE) == 2
    assert threads.workers_for(1, 10**9) == 1                # one item: one worker
    assert threads.workers_for(100, 10**9, threads.GEMM_GRAIN) == 2


def test_parallel_range_covers_the_range_in_contiguous_chunks(two_threads):
    seen = []
    threads.parallel_range(7, lambda start, stop: seen.append((start, stop, threading.get_ident())),
                           10**9)
    assert sorted(seen)[0][:2] == (0, 3) and sorted(seen)[1][:2] == (3, 7)
    assert len({ident for *_, ident in seen}) == 2           # on two threads


def test_parallel_for_visits_every_item_once_with_a_fixed_split(two_threads):
    seen = []
    threads.parallel_for(list(range(7)), lambda item, worker: seen.append((item, worker)), 2)
    assert sorted(item for item, _ in seen) == list(range(7))
    assert all(worker == item % 2 for item, worker in seen)


def test_nested_work_runs_serially_inside_a_worker(two_threads):
    inner = []

    def outer(start, stop):
        inner.append(threads.workers_for(100, 10**9))
    threads.parallel_range(2, outer, 10**9)
    assert inner == [1, 1]


def test_a_second_caller_runs_its_work_itself_while_the_pool_is_busy(two_threads):
    started, release, results = threading.Event(), threading.Event(), []

    def slow(start, stop):
        started.set()
        release.wait(5)
    other = threading.Thread(target=threads.parallel_range, args=(2, slow, 10**9))
    other.start()
    started.wait(5)
    threads.parallel_range(4, lambda start, stop: results.append((start, stop,
                                                                  threading.get_ident())), 10**9)
    release.set()
    other.join(5)
    assert [r[:2] for r in results] == [(0, 2), (2, 4)]        # all of it, in order,
    assert {r[2] for r in results} == {threading.get_ident()}  # on the calling thread


@pytest.mark.parametrize("failing", [0, 1])                  # the caller's chunk, a helper's
def test_an_error_in_any_chunk_reaches_the_caller_and_the_pool_recovers(two_threads, failing):
    def fail(start, stop):
        if start == failing:
            raise RuntimeError("chunk failed")
    with pytest.raises(RuntimeError, match="chunk failed"):
        threads.parallel_range(2, fail, 10**9)
    seen = []
    threads.parallel_range(2, lambda start, stop: seen.append(start), 10**9)
    assert sorted(seen) == [0, 1]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_starts_its_own_helpers(two_threads):
    threads.parallel_range(2, lambda start, stop: None, 10**9)   # the parent's helpers exist
    pid = os.fork()
    if pid == 0:                                                # the child: no helpers yet
        seen = []
        threads.parallel_range(2, lambda start, stop: seen.append(start), 10**9)
        os._exit(0 if sorted(seen) == [0, 1] else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0


def test_planes_are_views_and_refuse_non_contiguous_arrays():
    a = np.zeros((2, 3, 4, 5))
    assert np.shares_memory(threads.planes(a), a) and threads.planes(a).shape == (6, 4, 5)
    with pytest.raises(ValueError, match="C-contiguous"):
        threads.planes(a[:, :, :, ::2])


@pytest.mark.parametrize("path", ["default", "threads"])
@pytest.mark.parametrize("a_shape, b_shape", [((6, 5), (5, 3)), ((2, 3, 5), (5, 4)),
                                              ((2, 9), (9, 7)), ((4,), (4, 2)),
                                              ((2, 3, 4), (2, 4, 5))])
def test_matmul_equals_numpy_on_every_split(path, a_shape, b_shape):
    """Integer-valued floats: every split must give the same numbers exactly."""
    rng = np.random.default_rng(0)
    a, b = (rng.integers(-9, 10, s).astype(np.float64) for s in (a_shape, b_shape))
    with forced(path):
        got = threads.matmul(a, b)
    np.testing.assert_array_equal(got, a @ b)


def test_scratchnet_never_launches_numbas_threads():
    # a DataLoader worker sets one thread: launching Numba's pool there cost 10-15 ms a worker
    script = ("import scratchnet as sn, scratchnet.functional as F\n"
              "from numba.np.ufunc import parallel\n"
              "sn.set_num_threads(1)\n"
              "x = sn.randn(2, 3, 8, 8, requires_grad=True)\n"
              "F.max_pool2d(F.relu(F.conv2d(x, sn.randn(4, 3, 3, 3))), 2).sum().backward()\n"
              "print(parallel._is_initialized)\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)
    assert run.stdout.split() == ["False"], run.stderr
