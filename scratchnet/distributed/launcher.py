"""What a launcher tells a process about the job it belongs to, read from the environment.

Every launcher sets a rank and a world size, each under its own names; the first set found
wins:

    launcher            rank                  world size            local rank
    torchrun            RANK                  WORLD_SIZE            LOCAL_RANK
    MPICH mpiexec       PMI_RANK              PMI_SIZE              MPI_LOCALRANKID
    Open MPI mpirun     OMPI_COMM_WORLD_RANK  OMPI_COMM_WORLD_SIZE  OMPI_COMM_WORLD_LOCAL_RANK
    Slurm srun          SLURM_PROCID          SLURM_NTASKS          SLURM_LOCALID
    srun --mpi=pmix     PMIX_RANK             SLURM_NTASKS          SLURM_LOCALID

The local rank (the process's index on its own machine) picks its GPU for NCCL. Nothing here
imports MPI: reading the environment is how ``scratchnet train`` decides whether it was
started by a launcher at all.
"""
import os
from dataclasses import dataclass

_SCHEMES = (
    ("RANK", "WORLD_SIZE", "LOCAL_RANK"),
    ("PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"),
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
    ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"),
    ("PMIX_RANK", "SLURM_NTASKS", "SLURM_LOCALID"),
)


@dataclass(frozen=True)
class Placement:
    """This process's place in the job: ``rank`` of ``world_size``, ``local_rank`` on its
    machine, and the environment variables they were read from (for error messages)."""
    rank: int
    world_size: int
    local_rank: int
    source: str


def placement(environ=None):
    """The Placement the launcher's environment describes, or None outside a launcher.

    A variable that is set but not a valid number raises ValueError naming it."""
    environ = os.environ if environ is None else environ
    for rank_key, size_key, local_key in _SCHEMES:
        if rank_key in environ and size_key in environ:
            rank, size = _count(environ, rank_key), _count(environ, size_key)
            local = _count(environ, local_key) if local_key in environ else rank
            if size < 1 or not 0 <= rank < size:
                raise ValueError(f"the launcher set {rank_key}={rank} and {size_key}={size}: "
                                 "the rank must lie in [0, world size)")
            return Placement(rank, size, local, f"{rank_key}/{size_key}")
    return None


def launched_world_size(environ=None):
    """The world size the launcher set (1 outside a launcher)."""
    found = placement(environ)
    return 1 if found is None else found.world_size


def _count(environ, key):
    try:
        return int(environ[key])
    except ValueError:
        raise ValueError(f"the launcher's {key}={environ[key]!r} is not an integer") from None
