"""torch.utils.data.distributed's path to the DistributedSampler (scratchnet/data/distributed.py),
for the scripts that import it from there."""
from ...data.distributed import DistributedSampler

__all__ = ["DistributedSampler"]
