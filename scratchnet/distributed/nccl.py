"""The "nccl" backend: collectives between GPUs through NCCL, as CuPy exposes it
(``cupy.cuda.nccl``), one process per GPU.

Collectives run on a stream of their own. Each one first waits (on the GPU, through an event)
for the work already queued on the caller's current stream, so it reads finished data; a
Work's ``wait()`` makes the current stream wait for the collective in turn. The host never
blocks, as with torch's NCCL backend.

NCCL's communicator needs the same unique id on every rank before it exists: rank 0 draws it
and MPI broadcasts it (the job was started by mpiexec or srun, so mpi4py is there); a world
of one needs no exchange. Each process uses the GPU of its local rank.

This file has run only against a stand-in of CuPy (tests/distributed/test_nccl_stand_in.py):
no GPU was available while it was written. ``benchmarks/gpu_distributed.py`` checks it on a
real GPU.
"""
import os

import numpy as np

from .. import backend
from . import launcher
from .work import ReduceOp, Work

_DTYPES = {"float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64",
           "int8": "NCCL_INT8", "uint8": "NCCL_UINT8", "int32": "NCCL_INT32",
           "int64": "NCCL_INT64"}
_OPS = {ReduceOp.SUM: "NCCL_SUM", ReduceOp.AVG: "NCCL_SUM", ReduceOp.PRODUCT: "NCCL_PROD",
        ReduceOp.MIN: "NCCL_MIN", ReduceOp.MAX: "NCCL_MAX"}


class Communicator:
    """cupy.cuda.nccl.NcclCommunicator seen through arrays: pointers, counts and NCCL's type
    codes are taken here, and nowhere else."""

    def __init__(self, comm, nccl):
        self.comm, self.nccl = comm, nccl

    def _type(self, array):
        name = np.dtype(array.dtype).name
        if name not in _DTYPES:
            raise TypeError(f"the 'nccl' backend cannot send {name} arrays; it takes "
                            f"{', '.join(_DTYPES)}")
        return getattr(self.nccl, _DTYPES[name])

    def all_reduce(self, array, op, stream):
        self.comm.allReduce(array.data.ptr, array.data.ptr, array.size, self._type(array),
                            getattr(self.nccl, _OPS[op]), stream.ptr)

    def broadcast(self, array, root, stream):
        self.comm.bcast(array.data.ptr, array.size, self._type(array), root, stream.ptr)

    def all_gather(self, source, gathered, stream):
        self.comm.allGather(source.data.ptr, gathered.data.ptr, source.size,
                            self._type(source), stream.ptr)

    def destroy(self):
        self.comm.destroy()


class NCCLGroup:
    """A process group of one GPU per rank. ``communicator``: a ``Communicator``; ``cupy``:
    the cupy module (a stand-in in the tests); ``mpi_comm``: the MPI communicator that
    exchanged the id, used to end the whole job on ``abort``."""

    name = "nccl"

    def __init__(self, communicator, rank, size, cupy, mpi_comm=None):
        self.communicator, self._rank, self._size = communicator, rank, size
        self._cupy, self._mpi_comm = cupy, mpi_comm
        self.stream = cupy.cuda.Stream(non_blocking=True)

    def rank(self):
        return self._rank

    def size(self):
        return self._size

    def local_size(self):
        return self._cupy.cuda.runtime.getDeviceCount()

    def all_reduce(self, array, op):
        def run(buffer):
            self.communicator.all_reduce(buffer, op, self.stream)
            if op is ReduceOp.AVG:
                with self.stream:
                    buffer /= self._size
        return self._launch(array, run)

    def broadcast(self, array, src):
        return self._launch(array, lambda buffer: self.communicator.broadcast(
            buffer, src, self.stream))

    def all_gather(self, array):
        source = self._contiguous(array)
        gathered = self._cupy.empty((self._size,) + tuple(source.shape), source.dtype)
        work = self._launch(None, lambda _: self.communicator.all_gather(
            source, gathered, self.stream))
        return work, gathered

    def barrier(self):
        """NCCL has no barrier: a one-element all-reduce, then wait for it (torch does the
        same)."""
        self.all_reduce(self._cupy.zeros(1, np.float32), ReduceOp.SUM).wait()
        self.stream.synchronize()

    def duplicate(self):
        """The same group: every rank issues its NCCL calls in the same program order on one
        stream, so DistributedDataParallel's buckets share the communicator."""
        return self

    def abort(self, status):
        """End every process of the job (through MPI, which exchanged the id), or this one."""
        from .mpi import pause_for_last_words
        pause_for_last_words()
        if self._mpi_comm is not None:
            self._mpi_comm.Abort(status)
        os._exit(status)

    def close(self):
        self.communicator.destroy()

    def _contiguous(self, array):
        if self._cupy.get_array_module(array) is not self._cupy:
            raise TypeError("the 'nccl' backend works on GPU tensors (CuPy arrays); move the "
                            "tensor with .to('cuda'), or use the 'mpi' backend for CPU tensors")
        return self._cupy.ascontiguousarray(array)

    def _launch(self, array, run):
        """Queue ``run(buffer)`` on the group's stream after the current stream's work; the
        Work's wait() orders the current stream after it. A non-contiguous ``array`` goes
        through a contiguous buffer, copied back on wait."""
        cuda = self._cupy.cuda
        buffer = None if array is None else self._contiguous(array)
        queued = cuda.Event()
        queued.record(cuda.get_current_stream())
        self.stream.wait_event(queued)
        run(buffer)
        done = cuda.Event()
        done.record(self.stream)

        def finish():
            if buffer is not None and buffer is not array:
                array[...] = buffer
        return Work(lambda: done.done, lambda: cuda.get_current_stream().wait_event(done),
                    finish)


def nccl_group(device_id=None):
    """The default NCCL group of this process, placed by the launcher's environment."""
    cupy = backend.cupy_module()
    try:
        nccl = backend.cupy_submodule("cupy.cuda.nccl")
    except ImportError as err:
        raise ImportError(f"the 'nccl' backend needs NCCL for CuPy ({err}); install the "
                          "NCCL wheel of your CUDA version, e.g. `pip install nvidia-nccl-cu12`"
                          ) from None
    if not getattr(nccl, "available", True):
        raise ImportError("the 'nccl' backend: this CuPy was built without NCCL")
    place = launcher.placement() or launcher.Placement(0, 1, 0, "no launcher")
    mpi_comm = None
    if place.world_size > 1:
        from .mpi import load_mpi
        mpi_comm = load_mpi().COMM_WORLD
        if mpi_comm.Get_size() != place.world_size:
            raise RuntimeError(f"the 'nccl' backend exchanges NCCL's id through MPI, whose "
                               f"world has {mpi_comm.Get_size()} processes while the launcher "
                               f"set {place.source} to {place.world_size}; start the job with "
                               "mpiexec or srun (--mpi=pmix)")
        uid = mpi_comm.bcast(nccl.get_unique_id() if place.rank == 0 else None, root=0)
    else:
        uid = nccl.get_unique_id()
    device = place.local_rank % cupy.cuda.runtime.getDeviceCount() if device_id is None \
        else int(getattr(device_id, "index", device_id))
    cupy.cuda.Device(device).use()
    comm = Communicator(nccl.NcclCommunicator(place.world_size, uid, place.rank), nccl)
    return NCCLGroup(comm, place.rank, place.world_size, cupy, mpi_comm)
