"""Datasets for the worker-process tests, in a module of their own so that spawned workers
import only this (and scratchnet), not the test module."""
import os
import random
import signal
import time

import numpy as np

import scratchnet as sn
import scratchnet.functional as F
from scratchnet.utils.data import Dataset, get_worker_info


class Numbers(Dataset):
    """Sample i is (i as float32 (2,), i); deterministic, so any worker gives the same."""

    def __init__(self, n=23):
        self.n = n

    def __getitem__(self, i):
        return np.full(2, i, np.float32), i

    def __len__(self):
        return self.n


class WhoAmI(Dataset):
    """Sample i reports the worker that read it, its seed, its threads and three draws:
    scratchnet's, Python's and NumPy's global generators."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return {"worker": info.id, "seed": info.seed, "num_workers": info.num_workers,
                "threads": sn.get_num_threads(), "pid": os.getpid(),
                "sn": sn.rand(1).item(), "python": random.random(),
                "numpy": float(np.random.random())}


class Fails(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 2:
            raise ValueError(f"sample {i} is broken")
        return i


class Dies(Dataset):
    """The worker process exits abruptly (as if the OS killed it) when it reads sample 1."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 1:
            os._exit(3)
        return i


class Slow(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        time.sleep(5)
        return i


class Convolves(Dataset):
    """Runs scratchnet's conv2d (a Numba kernel) in the worker."""

    def __len__(self):
        return 2

    def __getitem__(self, i):
        return F.conv2d(sn.ones(1, 1, 4, 4) * i, sn.ones(1, 1, 3, 3))[0, 0, 0, 0].item()


class MarkWorker:
    """A picklable worker_init_fn: creates the file ``folder/worker<id>``."""

    def __init__(self, folder):
        self.folder = folder

    def __call__(self, worker_id):
        open(os.path.join(self.folder, f"worker{worker_id}"), "w").close()


class SignalsItself(Dataset):
    """Sample i is i, read after the worker sent itself SIGINT, SIGTERM and SIGHUP (what
    Ctrl-C, `kill` of the process group and a closed terminal deliver)."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            os.kill(os.getpid(), signum)
        return i
