"""Every collective of scratchnet.distributed on rank-dependent values; each rank reports
what it received."""
import numpy as np

import scratchnet as sn
import scratchnet.distributed as dist
from tests.distributed.workers.common import finish, start

rank, world, out = start()
got = {"rank": rank, "world": world, "backend": dist.get_backend(),
       "initialized": dist.is_initialized()}
for op in ("SUM", "AVG", "PRODUCT", "MIN", "MAX"):
    t = sn.tensor([rank + 1.0, -2.0 * rank, 3.0])
    dist.all_reduce(t, getattr(dist.ReduceOp, op))
    got[op] = t.tolist()
ints = sn.tensor(np.array([rank, 10 * rank], np.int64))
dist.all_reduce(ints)
got["int64 sum"] = [ints.tolist(), str(ints.dtype)]

# a strided view: reduced through a contiguous copy, written back into the same array
base = np.arange(12, dtype=np.float64).reshape(3, 4) * (rank + 1)
strided = sn.Tensor(base[:, ::2])
dist.all_reduce(strided)
got["strided"] = [strided.tolist(), base.tolist()]

t = sn.tensor([float(rank)] * 3)
dist.broadcast(t, src=world - 1)
got["broadcast"] = t.tolist()

parts = [sn.zeros(2, dtype=sn.float64) for _ in range(world)]
dist.all_gather(parts, sn.tensor([rank, rank * 10.0], dtype=sn.float64))
got["all_gather"] = [p.tolist() for p in parts]

work = dist.all_reduce(sn.tensor([1.0]), async_op=True)
work.wait()
t = sn.tensor([float(rank)])
work = dist.all_reduce(t, async_op=True)
got["async"] = [work.wait(), t.tolist(), work.is_completed()]
dist.barrier()

errors = {}
for name, call in {
    "list length": lambda: dist.all_gather([sn.zeros(2)], sn.zeros(2)),
    "list shapes": lambda: dist.all_gather([sn.zeros(3)] * world, sn.zeros(2)),
    "src": lambda: dist.broadcast(sn.zeros(1), src=world),
    "op": lambda: dist.all_reduce(sn.zeros(1), op="sum"),
    "avg int": lambda: dist.all_reduce(sn.tensor(np.zeros(1, np.int64)), dist.ReduceOp.AVG),
    "array": lambda: dist.all_reduce(np.zeros(1)),
    "twice": lambda: dist.init_process_group("mpi"),
}.items():
    try:
        call()
        errors[name] = None
    except (ValueError, TypeError) as err:
        errors[name] = f"{type(err).__name__}: {err}"
got["errors"] = errors
finish(got)
