"""SyncBatchNorm: batch norm whose statistics are those of the batch of every rank together
(torch.nn.SyncBatchNorm), so that data-parallel training normalises as one process on the
combined batch would.

Forward (training): each rank computes its m_r values' mean μ_r and biased variance σ²_r per
channel; one all-gather of (m_r, μ_r, σ²_r) gives every rank the combined statistics (Chan et
al.'s pairwise formula, free of the cancellation of Σx² − M·μ²):

    M = Σ m_r,   μ = Σ m_r·μ_r / M,   σ² = Σ m_r·(σ²_r + (μ_r − μ)²) / M

Backward (see F.batch_norm for the single-process derivation): the input gradient needs the
sums over the *whole* batch, Σgy and Σgy·xhat; one all-reduce of the two local sums gives them:

    gx = w·σ⁻¹·(gy − Σ_all gy / M − xhat·Σ_all(gy·xhat) / M)

The weight and bias gradients stay the local sums Σgy·xhat and Σgy: DistributedDataParallel
averages them over the ranks, like every other parameter's gradient. (Each rank's upstream
gy is of its own loss, the mean over its share; the all-reduced sums carry the same factor,
so gx is exactly what one process on the combined batch computes, times the world size that
DDP's averaging divides back out.)
"""
import numpy as np

from .. import distributed
from ..backend import get_array_module, to_numpy
from ..functional.normalization import BatchNormFunction
from ..kernels import batch_norm as bn_kernels
from .normalization import _BatchNorm


class SyncBatchNormFunction(BatchNormFunction):
    """Batch norm in training mode with statistics over every rank of ``group``."""

    composite = None  # batch norm's composite has no all-gather: not differentiable twice

    def __init__(self, group, eps, running=None):
        super().__init__(True, eps, running=running)
        self.group = group

    def _batch_stats(self, x3):
        N, C, L = x3.shape
        xp = get_array_module(x3)
        mean, var = bn_kernels.batch_stats(x3)
        mine = xp.concatenate([xp.asarray([N * L], np.float64), mean.astype(np.float64),
                               var.astype(np.float64)])
        work, everyone = self.group.all_gather(mine)
        work.wait()
        everyone = to_numpy(everyone)                   # (W, 1 + 2C): m_r, μ_r, σ²_r
        m, means, variances = everyone[:, :1], everyone[:, 1:C + 1], everyone[:, C + 1:]
        total = m.sum()
        if total <= 1:
            raise ValueError(f"SyncBatchNorm: expected more than 1 value per channel when "
                             f"training, got {int(total)} over all ranks (input of shape "
                             f"{x3.shape[:2] + (L,)} on rank {self.group.rank()})")
        combined = (m * means).sum(axis=0) / total
        spread = (m * (variances + (means - combined) ** 2)).sum(axis=0) / total
        self.total = x3.dtype.type(total)
        return (xp.asarray(combined.astype(x3.dtype)), xp.asarray(spread.astype(x3.dtype)),
                int(total))

    def backward(self, gy):
        x3, mean, invstd, a = self.saved_tensors
        need_x, need_w, need_b = self.needs_input_grad
        xp = get_array_module(gy)
        gy3 = xp.ascontiguousarray(gy).reshape(x3.shape)
        _, gw, gb = bn_kernels.backward(x3, gy3, mean, invstd, a, True, need_gx=False)
        gx = None
        if need_x:
            sums = xp.concatenate([gb, gw])                   # Σgy, Σgy·xhat of this rank
            self.group.all_reduce(sums, distributed.ReduceOp.SUM).wait()
            C = gb.shape[0]
            k0, k1 = sums[:C] / self.total, invstd * sums[C:] / self.total
            gx = x3 - mean[:, None]
            gx *= -k1[:, None]
            gx += gy3
            gx -= k0[:, None]
            gx *= a[:, None]
            gx = gx.reshape(gy.shape)
        return gx, gw if need_w else None, gb if need_b else None


class SyncBatchNorm(_BatchNorm):
    """Batch norm over dim 1 of (N, C, *) input whose training statistics span every rank of
    ``process_group`` (default: the default group), with torch's arguments, parameters and
    buffers (those of BatchNorm2d). It normalises as BatchNorm does when not training, when
    no process group is initialised, or in a world of one.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None,
                 dtype=np.float32, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.ndim < 2:
            raise ValueError(f"SyncBatchNorm: expected at least 2D input, got {input.ndim}D "
                             f"input of shape {input.shape}")

    def _normalize(self, input, training, momentum):
        group = self._sync_group(training)
        if group is None:
            return super()._normalize(input, training, momentum)
        if input.dtype.kind != "f":
            raise TypeError(f"SyncBatchNorm: expected a floating point input, got "
                            f"{input.dtype}")
        running = None
        if self.running_mean is not None:
            running = (self.running_mean, self.running_var, momentum)
        return SyncBatchNormFunction(group, self.eps, running)(input, self.weight, self.bias)

    def _sync_group(self, training):
        """The group to synchronise over, or None when this forward needs no other rank."""
        if not (training and self.training and distributed.is_initialized()):
            return None
        group = self.process_group or distributed.default_group()
        return group if group.size() > 1 else None

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm1d/2d replaced by a SyncBatchNorm that holds the
        same parameters (the same objects, so an optimizer built before still works),
        running statistics and mode. Returns the new module when ``module`` itself is one."""
        converted = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats, process_group)
            if module.affine:
                converted.weight, converted.bias = module.weight, module.bias
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                converted.register_buffer(name, getattr(module, name))
            converted.training = module.training
        for name, child in list(module.named_children()):
            # in place in the registry, so the children keep their order (and the state_dict
            # its key order)
            converted._modules[name] = cls.convert_sync_batchnorm(child, process_group)
        return converted
