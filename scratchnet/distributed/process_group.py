"""The default process group and torch's collective functions on it.

Every collective must be called by every rank, in the same order; tensors change in place.
With ``async_op=True`` a collective returns a ``Work`` at once (wait on it before reading
the tensor), else it returns None once the result is in place.
"""
import sys

from ..backend import get_array_module
from ..tensor import Tensor
from . import launcher
from .work import ReduceOp

BACKENDS = ("mpi", "nccl")
_state = {"group": None, "excepthook": None}


def is_available():
    """True: scratchnet.distributed is always importable (a backend may still be missing)."""
    return True


def is_mpi_available():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def is_nccl_available():
    from .. import backend
    if not backend.cuda_is_available():
        return False
    try:
        nccl = backend.cupy_submodule("cupy.cuda.nccl")
    except ImportError:
        return False
    return bool(getattr(nccl, "available", True))


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Join this process to the job the launcher started (torch's signature).

    backend: "mpi" (default; CPU processes started by ``mpiexec``/``srun``, through mpi4py)
    or "nccl" (one GPU per process, through CuPy; the GPU is the local rank's). Rank and world
    size come from the launcher; ``world_size``/``rank``, when given, must agree with it.
    ``init_method`` may be None or "env://"; ``timeout`` is accepted and ignored (MPI has no
    timeouts).

    With more than one process, an exception that nothing catches ends the whole job
    (``MPI_Abort``) after its traceback is printed, instead of leaving the other ranks
    waiting in a collective forever; ``destroy_process_group`` puts the previous
    ``sys.excepthook`` back.
    """
    if _state["group"] is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = "mpi" if backend is None else str(backend).lower()
    if name not in BACKENDS:
        hint = " (torch's CPU backend; scratchnet's is 'mpi')" if name == "gloo" else ""
        raise ValueError(f"init_process_group: unknown backend {backend!r}{hint}; scratchnet "
                         "has 'mpi' (CPU processes, mpi4py) and 'nccl' (GPUs, CuPy)")
    if init_method not in (None, "env://") or store is not None:
        raise ValueError("init_process_group: scratchnet reads rank and world size from the "
                         "launcher's environment (mpiexec, srun, torchrun); init_method and "
                         "store are not supported")
    if name == "mpi":
        from .mpi import MPIGroup, load_mpi
        mpi = load_mpi()
        group = MPIGroup(mpi.COMM_WORLD, mpi)
        place = launcher.placement()
        if place is not None and place.world_size != group.size():
            raise RuntimeError(f"init_process_group: the launcher set {place.source} for "
                               f"{place.world_size} processes, but MPI sees {group.size()}: "
                               "start the job with an MPI launcher (mpiexec, or srun with "
                               "--mpi=pmi2) to use the 'mpi' backend")
    else:
        from .nccl import nccl_group
        group = nccl_group(device_id)
    for given, actual, what in ((world_size, group.size(), "world_size"),
                                (rank, group.rank(), "rank")):
        if given not in (-1, None) and given != actual:
            raise ValueError(f"init_process_group: {what}={given}, but the launcher placed "
                             f"this process as {what} {actual}")
    _state["group"] = group
    if group.size() > 1:
        _state["excepthook"] = sys.excepthook
        sys.excepthook = _abort_job


def destroy_process_group(group=None):
    """Leave the job: free the communicators and restore ``sys.excepthook``."""
    current = _default(group, "destroy_process_group")
    current.close()
    _state["group"] = None
    if _state["excepthook"] is not None:
        sys.excepthook, _state["excepthook"] = _state["excepthook"], None


def is_initialized():
    return _state["group"] is not None


def get_backend(group=None):
    return _default(group, "get_backend").name


def get_rank(group=None):
    """This process's rank, 0 to world size - 1."""
    return _default(group, "get_rank").rank()


def get_world_size(group=None):
    return _default(group, "get_world_size").size()


def default_group():
    """The default process group (an ``MPIGroup`` or ``NCCLGroup``), for the library's own
    modules (DistributedDataParallel, SyncBatchNorm); ValueError before init."""
    return _default(None, "default_group")


def barrier(group=None, async_op=False, device_ids=None):
    """Return once every rank has called barrier."""
    _default(group, "barrier").barrier()


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine ``tensor`` over all ranks (element-wise ``op``); every rank gets the result,
    in place."""
    g = _default(group, "all_reduce")
    _check_tensor("all_reduce", tensor)
    if not isinstance(op, ReduceOp):
        raise TypeError(f"all_reduce: op must be a ReduceOp (ReduceOp.SUM, ...), got {op!r}")
    if op is ReduceOp.AVG and tensor.dtype.kind != "f":
        raise TypeError(f"all_reduce: ReduceOp.AVG needs a floating-point tensor, got "
                        f"{tensor.dtype}")
    return _returned(g.all_reduce(tensor.data, op), async_op)


def broadcast(tensor, src, group=None, async_op=False):
    """Copy rank ``src``'s ``tensor`` into every rank's ``tensor``."""
    g = _default(group, "broadcast")
    _check_tensor("broadcast", tensor)
    if not 0 <= src < g.size():
        raise ValueError(f"broadcast: src={src} is not a rank of this group of {g.size()}")
    return _returned(g.broadcast(tensor.data, src), async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Fill ``tensor_list[r]`` with rank r's ``tensor`` on every rank; the list holds one
    tensor per rank, each of ``tensor``'s shape and dtype."""
    g = _default(group, "all_gather")
    _check_tensor("all_gather", tensor)
    if len(tensor_list) != g.size():
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} tensors for a world "
                         f"of {g.size()}")
    for i, t in enumerate(tensor_list):
        _check_tensor("all_gather", t)
        if t.shape != tensor.shape or t.dtype != tensor.dtype:
            raise ValueError(f"all_gather: tensor_list[{i}] is {t.dtype} {t.shape}, but the "
                             f"tensor sent is {tensor.dtype} {tensor.shape}")
    work, gathered = g.all_gather(tensor.data)

    def fill():
        for t, part in zip(tensor_list, gathered):
            t.data[...] = part
    return _returned(work.then(fill), async_op)


def broadcast_arrays(arrays, group=None, src=0):
    """Copy rank ``src``'s ``arrays`` into every rank's, in place, with one broadcast per
    dtype and device (the library's own use: replicas, buffers)."""
    g = _default(group, "broadcast_arrays")
    kinds = {}
    for a in arrays:
        kinds.setdefault((type(a), a.dtype), []).append(a)
    for same in kinds.values():
        xp = get_array_module(same[0])
        flat = xp.concatenate([a.reshape(-1) for a in same])   # always a fresh array
        g.broadcast(flat, src).wait()
        start = 0
        for a in same:
            a[...] = flat[start:start + a.size].reshape(a.shape)
            start += a.size


def _returned(work, async_op):
    if async_op:
        return work
    work.wait()
    return None


def _default(group, op):
    group = group if group is not None else _state["group"]
    if group is None:
        raise ValueError("Default process group has not been initialized, please make sure "
                         f"to call init_process_group. ({op})")
    return group


def _check_tensor(op, tensor):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(tensor).__name__}; wrap it with "
                        "sn.tensor(...)")


def _abort_job(exc_type, exc, tb):
    """sys.excepthook while a multi-process group exists: print as usual, then end every
    rank (a rank left in a collective would wait forever)."""
    (_state["excepthook"] or sys.__excepthook__)(exc_type, exc, tb)
    group = _state["group"]
    if group is not None:
        group.abort(130 if issubclass(exc_type, KeyboardInterrupt) else 1)
