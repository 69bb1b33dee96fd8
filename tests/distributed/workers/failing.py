"""Rank 1 raises while rank 0 waits for it in a collective: the job must end, not hang."""
import time

import scratchnet as sn
import scratchnet.distributed as dist
from tests.distributed.workers.common import start

rank, world, out = start()
if rank == 1:
    time.sleep(0.5)
    raise RuntimeError("rank 1 failed on purpose")
dist.all_reduce(sn.ones(3))
print("rank 0 was not stopped", flush=True)
