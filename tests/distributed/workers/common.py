"""What the workers share: join the job, and each rank writes OUT_DIR/rank<r>.json."""
import json
import os
import sys

import scratchnet.distributed as dist


def start():
    """(rank, world size, out_dir) after init_process_group("mpi")."""
    dist.init_process_group("mpi")
    return dist.get_rank(), dist.get_world_size(), sys.argv[1]


def finish(result):
    """Write this rank's ``result`` (JSON) and leave the group."""
    with open(os.path.join(sys.argv[1], f"rank{dist.get_rank()}.json"), "w") as f:
        json.dump(result, f)
    dist.barrier()
    dist.destroy_process_group()


def relative_error(ours, reference):
    """max |ours − reference| / max |reference| (0 for two zero arrays)."""
    import numpy as np
    ours, reference = np.asarray(ours, np.float64), np.asarray(reference, np.float64)
    scale = float(np.abs(reference).max()) if reference.size else 0.0
    diff = float(np.abs(ours - reference).max()) if reference.size else 0.0
    return diff / scale if scale else diff
