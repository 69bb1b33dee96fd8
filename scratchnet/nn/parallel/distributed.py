"""DistributedDataParallel: one model replica per process, gradients averaged while backward
runs (torch.nn.parallel.DistributedDataParallel).

    dist.init_process_group("mpi")
    model = nn.parallel.DistributedDataParallel(models.resnet20())
    loss = F.cross_entropy(model(x_of_this_rank), y_of_this_rank)
    loss.backward()          # returns with every .grad averaged over the ranks
    optimizer.step()         # the same step on every rank: the replicas stay equal

Each rank feeds its own share of the batch. Since every rank's loss is its share's mean,
averaging the gradients gives the gradient of the whole batch's mean loss, as one process
on the combined batch would compute it (with SyncBatchNorm for batch norm's statistics).
"""
import contextlib

import numpy as np

from ... import distributed
from ...backend import get_array_module, to_numpy
from ...function import is_grad_enabled
from ..module import Module
from .reducer import Reducer


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training over the default process group (or
    ``process_group``).

    At construction every rank checks it holds the same parameters (count and sizes) and
    takes rank 0's parameters and buffers. During backward, gradients are all-reduced in
    buckets of ``bucket_cap_mb`` MiB (25, torch's default) as they become final, and
    divided by the world size. With ``broadcast_buffers`` (default) each forward with grad
    enabled first copies rank 0's buffers (batch norm's running statistics) to every rank.

    find_unused_parameters: before backward, find the parameters the forward did not use
        (a branch that did not run) and count them as ready, so the reduction completes;
        a parameter no rank used keeps its ``.grad``. Without it such a model raises at the
        next forward, naming the parameters.
    ``no_sync()``: a context in which backward accumulates local gradients only; the first
    backward after it averages the accumulated ones (gradient accumulation).

    ``module`` is the wrapped model; ``state_dict()`` has torch's ``module.`` prefix, so save
    ``model.module.state_dict()`` to get keys that any process count loads.
    ``device_ids``/``output_device`` (one device per process; the module must already be on
    it), ``dim``, ``gradient_as_bucket_view`` and ``static_graph`` are accepted for torch's
    signature and change nothing.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, process_group=None, bucket_cap_mb=None,
                 find_unused_parameters=False, gradient_as_bucket_view=False,
                 static_graph=False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a Module, got "
                            f"{type(module).__name__}")
        if device_ids is not None and len(device_ids) > 1:
            raise ValueError("DistributedDataParallel: one device per process; got "
                             f"device_ids={list(device_ids)}")
        if bucket_cap_mb is not None and not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got "
                             f"{bucket_cap_mb}")
        default = distributed.default_group() if process_group is None else process_group
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't "
                               "have any parameter that requires a gradient.")
        _check_same_parameters(module, default)
        self.process_group = default.duplicate()
        distributed.broadcast_arrays(
            [p.data for p in module.parameters()] + self._buffer_arrays(), self.process_group)
        self.reducer = Reducer(named, self.process_group,
                               25 if bucket_cap_mb is None else bucket_cap_mb,
                               find_unused_parameters)

    def forward(self, *inputs, **kwargs):
        self.reducer.check_finished()
        syncing = is_grad_enabled() and self.require_backward_grad_sync
        if is_grad_enabled() and self.broadcast_buffers:
            distributed.broadcast_arrays(self._buffer_arrays(), self.process_group)
        outputs = self.module(*inputs, **kwargs)
        if syncing:
            self.reducer.prepare_for_backward(outputs)
        return outputs

    @contextlib.contextmanager
    def no_sync(self):
        """Backward inside this context keeps gradients local (and accumulating)."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def _buffer_arrays(self):
        return list(self.module.buffers())



def unwrap(model):
    """The model inside a DistributedDataParallel, or ``model`` itself."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def _check_same_parameters(module, group):
    """Every rank must hold a replica of the same model: compare parameter counts and sizes
    (a clear error now instead of a hang or garbage in the first all-reduce)."""
    params = list(module.parameters())
    sizes = [int(p.data.size) for p in params]
    mine = np.array([len(sizes), sum(sizes), _fingerprint(sizes)], np.int64)  # host: ints
    xp = get_array_module(params[0].data)                    # NCCL sends from the GPU
    work, everyone = group.all_gather(xp.asarray(mine))
    work.wait()
    everyone = to_numpy(everyone)
    if (everyone != mine).any():
        shown = "; ".join(f"rank {r}: {n:,} parameters, {t:,} values" for r, (n, t, _) in
                          enumerate(everyone.tolist()))
        raise RuntimeError("DistributedDataParallel: the ranks hold different models "
                           f"({shown}); build the same model on every rank")


def _fingerprint(sizes):
    """An order-sensitive checksum of the parameter sizes."""
    total = 0
    for n in sizes:
        total = (total * 1_000_003 + n) % (1 << 61)
    return total
