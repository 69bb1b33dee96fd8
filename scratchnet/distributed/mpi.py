"""The "mpi" backend: collectives on an MPI communicator through mpi4py.

NumPy arrays go to MPI as they are (a non-contiguous one through a contiguous copy, copied
back when the collective completes). CuPy arrays go through host memory: the wheel-installed
MPICH is not CUDA-aware; on GPUs use the "nccl" backend.

Non-blocking collectives (``MPI_Iallreduce`` ...) progress only while the process is inside
an MPI call, so whoever waits on several of them calls ``Work.is_completed()`` now and then
(DistributedDataParallel does it from its gradient hooks).
"""
import sys
import time

import numpy as np

from .. import backend
from .work import ReduceOp, Work

ABORT_GRACE = 0.5   # seconds between a failing rank's last words and MPI_Abort


def pause_for_last_words():
    """Flush this process's output, then give the launcher ABORT_GRACE seconds to forward it
    before the job is killed."""
    sys.stdout.flush()
    sys.stderr.flush()
    time.sleep(ABORT_GRACE)


def load_mpi():
    """mpi4py's MPI module (initialising MPI), or an ImportError saying how to install it."""
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise ImportError(f"the 'mpi' backend needs mpi4py ({err}); install it with "
                          "`pip install 'scratchnet[dist]'` (mpi4py and the mpich wheel, which "
                          "provides mpiexec)") from None
    return MPI


class MPIGroup:
    """A process group on one MPI communicator (``MPI.COMM_WORLD`` for the default group)."""

    name = "mpi"

    def __init__(self, comm, mpi):
        self.comm, self._mpi = comm, mpi
        self._ops = {ReduceOp.SUM: mpi.SUM, ReduceOp.AVG: mpi.SUM, ReduceOp.PRODUCT: mpi.PROD,
                     ReduceOp.MIN: mpi.MIN, ReduceOp.MAX: mpi.MAX}

    def rank(self):
        return self.comm.Get_rank()

    def size(self):
        return self.comm.Get_size()

    def local_size(self):
        """How many ranks of this group share this machine."""
        node = self.comm.Split_type(self._mpi.COMM_TYPE_SHARED)
        try:
            return node.Get_size()
        finally:
            node.Free()

    def all_reduce(self, array, op):
        size = self.size()
        buffer, finish = _staged(array)

        def done():
            if op is ReduceOp.AVG:
                np.divide(buffer, size, out=buffer)
            finish()

        request = self.comm.Iallreduce(self._mpi.IN_PLACE, buffer, op=self._ops[op])
        return self._started(request, done, staged=buffer is not array)

    def broadcast(self, array, src):
        buffer, finish = _staged(array)
        return self._started(self.comm.Ibcast(buffer, root=src), finish, buffer is not array)

    def all_gather(self, array):
        """(Work, gathered): ``gathered[r]`` holds rank r's ``array`` once the work is done."""
        source = np.ascontiguousarray(backend.to_numpy(array))
        host = np.empty((self.size(),) + source.shape, source.dtype)
        request = self.comm.Iallgather(source, host)
        if not backend.is_cupy(array):
            return self._started(request, None, staged=False), host
        gathered = backend.cupy_module().empty(host.shape, host.dtype)
        return self._started(request, lambda: gathered.set(host), staged=True), gathered

    def barrier(self):
        self.comm.Barrier()

    def duplicate(self):
        """A group of the same ranks on a communicator of its own (``MPI_Comm_dup``), whose
        collectives never pair with this one's: DistributedDataParallel's buckets run on one,
        so their order cannot interleave with SyncBatchNorm's or the user's collectives."""
        return MPIGroup(self.comm.Dup(), self._mpi)

    def abort(self, status):
        """End every process of the job now, with exit status ``status`` (``MPI_Abort``),
        after half a second in which the launcher forwards what this rank printed last (its
        error): it drops what it has not read when it kills the job."""
        pause_for_last_words()
        self.comm.Abort(status)

    def close(self):
        if self.comm != self._mpi.COMM_WORLD:
            self.comm.Free()

    def _started(self, request, finish, staged):
        """The Work of a started request; a staged (GPU) one is completed at once, since its
        result must be copied back to the device."""
        work = Work(request.Test, request.Wait, finish)
        if staged:
            work.wait()
        return work


def _staged(array):
    """(buffer MPI can use in place, finish): the array itself when it is a contiguous NumPy
    array, else a contiguous host copy that ``finish`` writes back into ``array``."""
    if isinstance(array, np.ndarray) and array.flags.c_contiguous:
        return array, lambda: None
    host = np.ascontiguousarray(backend.to_numpy(array))

    def finish():
        array[...] = backend.get_array_module(array).asarray(host)
    return host, finish

