"""scratchnet.nn.parallel: data parallelism over processes (torch.nn.parallel)."""
from .distributed import DistributedDataParallel, unwrap

__all__ = ["DistributedDataParallel", "unwrap"]
