"""scratchnet.distributed: several processes training one model, with torch.distributed's
names.

    mpiexec -n 2 python train.py            # two CPU processes (pip install 'scratchnet[dist]')

    import scratchnet as sn
    import scratchnet.distributed as dist
    dist.init_process_group("mpi")          # rank and world size from the launcher
    t = sn.tensor([float(dist.get_rank())])
    dist.all_reduce(t)                      # tensor([1.]) on both ranks: 0 + 1

Backends: "mpi" (mpi4py over the MPICH that the ``dist`` extra installs, or any MPI) for CPU
processes, and "nccl" (CuPy's ``cupy.cuda.nccl``) for one GPU per process. Training on top:
``nn.parallel.DistributedDataParallel``, ``nn.SyncBatchNorm``, ``data.DistributedSampler``.

    process_group.py   init_process_group, get_rank, all_reduce, ... (the default group)
    work.py            ReduceOp, Work (a collective in flight)
    mpi.py, nccl.py    the two backends: collectives on arrays
    launcher.py        rank and world size from mpiexec, srun, mpirun or torchrun
    functional.py      gather_along, sum_gradients: collectives inside autograd
"""
from .functional import gather_along, sum_gradients
from .launcher import launched_world_size, placement
from .process_group import (all_gather, all_reduce, barrier, broadcast, broadcast_arrays,
                            default_group, destroy_process_group, get_backend, get_rank,
                            get_world_size, init_process_group, is_available, is_initialized,
                            is_mpi_available, is_nccl_available)
from .work import ReduceOp, Work

__all__ = ["ReduceOp", "Work", "all_gather", "all_reduce", "barrier", "broadcast",
           "broadcast_arrays", "default_group", "destroy_process_group", "gather_along",
           "get_backend", "get_rank", "get_world_size", "init_process_group", "is_available",
           "is_initialized", "is_mpi_available", "is_nccl_available", "launched_world_size",
           "placement", "sum_gradients"]
