"""Normalization layers: BatchNorm1d, BatchNorm2d (running statistics as buffers) and
LocalResponseNorm, wrapping scratchnet.functional."""
import numpy as np

from .. import backend
from .. import functional as F
from .module import Module, Parameter


class _BatchNorm(Module):
    """Batch normalization over dim 1 with torch's parameters, buffers and update rule.

    Parameters ``weight`` (ones) and ``bias`` (zeros; none with ``bias=False``) when
    ``affine``; buffers ``running_mean`` (zeros), ``running_var`` (ones) and
    ``num_batches_tracked`` (int64, 0-d) when ``track_running_stats``, registered in that
    order so the state_dict keys match torch's. Training normalises with the batch statistics
    and updates the running ones, ``running = (1 − momentum)·running + momentum·batch``;
    ``momentum=None`` makes it the cumulative average (momentum = 1/num_batches_tracked).
    Eval uses the running statistics, or the batch's when they are not tracked.
    """

    _expected_dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=np.float32, *, bias=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        device = backend.check_device(device)
        if affine:
            self.weight = Parameter(backend.to_device(np.ones(num_features, dtype), device))
            if bias:
                self.bias = Parameter(backend.to_device(np.zeros(num_features, dtype), device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean",
                                 backend.to_device(np.zeros(num_features, dtype), device))
            self.register_buffer("running_var",
                                 backend.to_device(np.ones(num_features, dtype), device))
            self.register_buffer("num_batches_tracked",
                                 backend.to_device(np.zeros((), np.int64), device))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            self.weight.data[...] = 1
            if self.bias is not None:
                self.bias.data[...] = 0

    def forward(self, input):
        name = type(self).__name__
        self._check_input_dim(input)
        if input.shape[1] != self.num_features:
            raise ValueError(f"{name}: expected {self.num_features} channels (num_features) "
                             f"in dim 1, got input of shape {input.shape}")
        update = self.training and self.track_running_stats
        momentum = 0.0 if self.momentum is None else self.momentum
        if update and self.momentum is None:
            momentum = 1.0 / (int(self.num_batches_tracked) + 1)    # cumulative average
        # the running statistics are used in eval and updated in training, when tracked
        y = self._normalize(input, self.training or not self.track_running_stats, momentum)
        if update:
            self.num_batches_tracked += 1
        return y

    def _check_input_dim(self, input):
        if input.ndim not in self._expected_dims:
            shown = " or ".join(f"{d}D" for d in self._expected_dims)
            raise ValueError(f"{type(self).__name__}: expected {shown} input, got "
                             f"{input.ndim}D input of shape {input.shape}")

    def _normalize(self, input, training, momentum):
        return F.batch_norm(input, self.running_mean, self.running_var, self.weight,
                            self.bias, training=training, momentum=momentum, eps=self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, C) or (N, C, L) input, per channel C."""

    _expected_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm of (N, C, H, W) input, per channel C."""

    _expected_dims = (4,)


class LocalResponseNorm(Module):
    """Normalise each value by the squares of its ``size`` neighbouring channels (see
    ``F.local_response_norm``, which also maps the AlexNet paper's constants)."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
