"""``scratchnet train`` started by a launcher: data-parallel over its processes.

    mpiexec -n 2 scratchnet train lenet5

Each process (rank) builds the same run; the model is wrapped in DistributedDataParallel with
its batch norm layers synchronised (SyncBatchNorm), so N ranks train as one process on the
whole batch; each rank takes batch_size / N of each step's images (a DistributedSampler over
the run's seeded order). Rank 0 alone prints, holds the output folder, evaluates on the
held-out set and writes checkpoints, whose keys are the model's own: any number of processes
resumes them. Outside a launcher (or with one process) nothing here changes anything.

A rank that cannot go on (a user error, a diverged loss, an exception, a second Ctrl-C) ends
the whole job with ``MPI_Abort`` after printing why, so that no rank is left waiting in a
collective; a first Ctrl-C or SIGTERM to the launcher (which forwards it to every rank) is
agreed on by all ranks, which stop after the same batch, so rank 0 saves one complete
checkpoint and every rank exits with 128 + the signal's number.
"""
import contextlib
import os
import sys

from .. import distributed
from ..data import DistributedSampler
from ..kernels import set_num_threads
from ..nn import SyncBatchNorm
from ..nn.parallel import DistributedDataParallel
from ..train import DataParallelSync
from .errors import CommandError

_job = {"sync": None}


def join(device="cpu"):
    """Join the launcher's job when it has several processes ("nccl" for --device cuda,
    "mpi" otherwise), with each process's share of the machine's cores as its thread count
    (unless NUMBA_NUM_THREADS says otherwise)."""
    if distributed.launched_world_size() <= 1 or distributed.is_initialized():
        return
    try:
        distributed.init_process_group("nccl" if device == "cuda" else "mpi")
    except (ImportError, RuntimeError) as err:   # mpi4py or NCCL missing; not an MPI launcher
        raise CommandError(f"started as one of {distributed.launched_world_size()} "
                           f"processes, but: {err}") from None
    if "NUMBA_NUM_THREADS" not in os.environ:
        share = os.cpu_count() // distributed.default_group().local_size()
        set_num_threads(max(1, share))


def active():
    return distributed.is_initialized() and distributed.get_world_size() > 1


def rank():
    return distributed.get_rank() if active() else 0


def wrap(model):
    """The model as every rank trains it: SyncBatchNorm, in DistributedDataParallel."""
    if not active():
        return model
    return DistributedDataParallel(SyncBatchNorm.convert_sync_batchnorm(model))


def sampler(train_set, config, resumed=False):
    """This rank's DistributedSampler over the run's seeded order, or None in one process.
    The global batch must split evenly over the ranks."""
    if not active():
        return None
    world, batch = distributed.get_world_size(), config["batch_size"]
    if batch % world:
        instead = "" if resumed else f", or choose a --batch-size that is a multiple of {world}"
        raise CommandError(f"the batch of {batch} images cannot be split evenly over {world} "
                           f"processes; run a number of processes that divides {batch}"
                           f"{instead}")
    return DistributedSampler(train_set, world, rank(), shuffle=True, seed=config["seed"])


def callbacks(rank_0_callbacks):
    """The callbacks of this rank: a DataParallelSync first, then (rank 0 only) the ones that
    print, log and checkpoint."""
    if not active():
        return list(rank_0_callbacks)
    _job["sync"] = DataParallelSync()
    return [_job["sync"], *(rank_0_callbacks if rank() == 0 else [])]


def held_out(data):
    """The held-out set on rank 0, which alone evaluates; None elsewhere."""
    return data if rank() == 0 else None


def stop_request():
    """What a signal handler calls to ask for a stop that every rank agrees on (None in one
    process: the trainer's own request_stop)."""
    return _job["sync"].request_stop if active() and _job["sync"] else None


def describe():
    """The header line of a data-parallel run ('' in one process)."""
    if not active():
        return ""
    world = distributed.get_world_size()
    return (f"  data-parallel over {world} processes ({distributed.get_backend()}): each "
            f"takes 1/{world} of every batch; batch norm statistics synchronised")


@contextlib.contextmanager
def rank_0_prints():
    """Standard output of ranks other than 0 goes nowhere (errors still show on stderr)."""
    if rank() == 0:
        yield
        return
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        yield


def fail(err):
    """A CommandError on one rank: say it and end the job (in one process: raise it)."""
    if not active():
        raise err
    print(f"scratchnet train: error: {err}", file=sys.stderr, flush=True)
    distributed.default_group().abort(err.exit_status)


def finish(status):
    """The exit status; several processes that did not end together (a failure, a second
    signal) are ended here, all of them, with ``status``."""
    if active() and status != 0 and not (_job["sync"] and _job["sync"].stopped_together):
        distributed.default_group().abort(status)
    return status
