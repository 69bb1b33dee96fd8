"""DataLoader worker processes: the same batches in the same order as num_workers=0,
torch's per-worker seeding, worker_init_fn, persistent workers, and every way a worker can
fail (an exception, a death, a timeout, an unpicklable dataset) ending in an error that
names it, never a hang; forked workers run scratchnet's kernels."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import scratchnet as sn
import scratchnet.functional as F
from scratchnet.utils.data import DataLoader
from tests.utils.worker_datasets import (Convolves, Dies, Fails, MarkWorker, Numbers,
                                         SignalsItself, Slow, WhoAmI)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _batches(loader):
    return [(x.tolist(), y.tolist()) for x, y in loader]


@pytest.mark.parametrize("num_workers", [1, 3])
@pytest.mark.parametrize("shuffle", [False, True])
def test_workers_serve_the_batches_of_num_workers_0_in_the_same_order(num_workers, shuffle):
    kwargs = dict(batch_size=4, shuffle=shuffle, drop_last=False)
    sn.manual_seed(7)
    expected = [_batches(DataLoader(Numbers(), **kwargs)) for _ in range(2)]     # two epochs
    sn.manual_seed(7)
    loader = DataLoader(Numbers(), num_workers=num_workers, prefetch_factor=1, **kwargs)
    assert [_batches(loader) for _ in range(2)] == expected
    unordered = DataLoader(Numbers(), num_workers=num_workers, in_order=False, batch_size=4)
    assert sorted(_batches(unordered)) == sorted(_batches(DataLoader(Numbers(), batch_size=4)))


def test_each_worker_is_seeded_as_torch_seeds_it_and_runs_on_one_thread():
    def run(seed):
        sn.manual_seed(seed)
        loader = DataLoader(WhoAmI(), batch_size=2, num_workers=2)
        return [sample for batch in loader for sample in _samples(batch)]

    first, again, other = run(0), run(0), run(1)

    def without_pid(samples):
        return [{k: v for k, v in s.items() if k != "pid"} for s in samples]
    assert without_pid(first) == without_pid(again) and without_pid(first) != without_pid(other)
    by_worker = {}
    for sample in first:
        by_worker.setdefault(sample["worker"], sample)
    assert sorted(by_worker) == [0, 1]
    seeds = [by_worker[w]["seed"] for w in (0, 1)]
    assert seeds[1] == seeds[0] + 1                          # base seed + worker id
    for key in ("sn", "python", "numpy"):                    # each generator seeded per worker
        assert by_worker[0][key] != by_worker[1][key]
    assert {s["threads"] for s in first} == {1} and {s["num_workers"] for s in first} == {2}
    assert {s["pid"] for s in first}.isdisjoint({os.getpid()})


def _samples(batch):
    """A collated batch of dicts back as a list of dicts."""
    n = len(batch["worker"])
    return [{k: v[i].item() if hasattr(v[i], "item") else v[i] for k, v in batch.items()}
            for i in range(n)]


def test_worker_init_fn_runs_once_in_each_worker(tmp_path):
    loader = DataLoader(Numbers(6), batch_size=2, num_workers=2,
                        worker_init_fn=MarkWorker(str(tmp_path)))
    assert len(list(loader)) == 3
    assert sorted(os.listdir(tmp_path)) == ["worker0", "worker1"]


def test_persistent_workers_stay_across_epochs_and_after_an_abandoned_one():
    loader = DataLoader(WhoAmI(), batch_size=2, num_workers=2, persistent_workers=True)
    pids = [{s["pid"] for b in loader for s in _samples(b)} for _ in range(2)]
    assert pids[0] == pids[1] and len(pids[0]) == 2
    iterator = iter(loader)
    next(iterator)                                             # leave this epoch half read
    again = list(loader)
    assert len(again) == 4 and {s["pid"] for b in again for s in _samples(b)} == pids[0]


def test_an_exception_in_a_worker_is_raised_with_its_traceback():
    with pytest.raises(ValueError, match=r"(?s)Caught ValueError in DataLoader worker "
                                         r"process 0\..*sample 2 is broken"):
        list(DataLoader(Fails(), batch_size=1, num_workers=2))


def test_a_worker_that_dies_gives_an_error_naming_it_not_a_hang():
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader worker process exited unexpectedly: "
                                           r"worker 1 \(pid \d+, exit code 3\)"):
        list(DataLoader(Dies(), batch_size=1, num_workers=2))
    assert time.monotonic() - start < 10


def test_workers_outlive_the_signals_the_main_process_decides_on():
    loader = DataLoader(SignalsItself(), batch_size=2, num_workers=2)
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3]]


def test_a_timeout_raises():
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.3 seconds"):
        list(DataLoader(Slow(), batch_size=1, num_workers=1, timeout=0.3))


def test_spawned_workers_and_an_unpicklable_dataset():
    loader = DataLoader(Numbers(5), batch_size=2, num_workers=1,
                        multiprocessing_context="spawn")
    assert _batches(loader) == _batches(DataLoader(Numbers(5), batch_size=2))
    unpicklable = DataLoader(Numbers(5), num_workers=1, multiprocessing_context="spawn",
                             collate_fn=lambda batch: batch)
    with pytest.raises(TypeError, match=r"with the 'spawn' start method sends the dataset, "
                                        r"collate_fn and worker_init_fn to each worker by "
                                        r"pickling, and that failed"):
        list(unpicklable)


def test_a_forked_worker_runs_scratchnet_kernels_after_the_parent_used_its_thread_pool():
    # A conv large enough to wake the pool's helper threads in this process, then workers
    # forked from it run conv2d themselves (expected values: the convolution of a constant
    # image, 9·i, as torch gives it).
    x = torch.ones(8, 16, 32, 32)
    w = torch.ones(16, 16, 3, 3)
    assert np.allclose(F.conv2d(sn.tensor(x.numpy()), sn.tensor(w.numpy())).numpy(),
                       torch.nn.functional.conv2d(x, w).numpy())
    got = list(DataLoader(Convolves(), batch_size=1, num_workers=2,
                          multiprocessing_context="fork"))
    assert [b.item() for b in got] == [torch.nn.functional.conv2d(
        torch.ones(1, 1, 4, 4) * i, torch.ones(1, 1, 3, 3))[0, 0, 0, 0].item() for i in range(2)]


def test_workers_exit_when_the_main_process_dies():
    script = ("import os, sys; sys.path.insert(0, %r)\n"
              "from scratchnet.utils.data import DataLoader\n"
              "from tests.utils.worker_datasets import WhoAmI\n"
              "loader = DataLoader(WhoAmI(), batch_size=2, num_workers=1, "
              "persistent_workers=True)\n"
              "print(next(iter(loader))['pid'][0].item(), flush=True)\n"
              "os._exit(0)\n" % ROOT)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PYTHONPATH": ROOT})
    worker = int(out.stdout.split()[0])
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:            # a zombie waiting for its reaper is gone
        return f.read().split()[2] != "Z"


