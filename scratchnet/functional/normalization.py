"""Normalization: batch_norm and local_response_norm.

Notation: x is (N, C, *), viewed as (N, C, L) with L the product of the trailing dims; a
"channel" is everything sharing one index c, m = N·L values.
"""
import numpy as np

from .. import backend
from ..function import Function
from ..kernels import batch_norm as bn_kernels
from ..kernels.lrn import lrn_backward, lrn_forward
from ..tensor import Tensor


class BatchNormFunction(Function):
    """Normalise per channel with the batch's statistics (training) or the given ones (eval).

    ``running`` is (running_mean, running_var, momentum) in training when the running statistics
    are tracked: forward updates them in place, as torch does.
    """

    def __init__(self, training, eps, stats=None, running=None):
        self.training, self.eps, self.stats, self.running = training, eps, stats, running

    def forward(self, x, weight, bias):
        xp = backend.get_array_module(x)
        if x.size == 0:  # an empty batch: nothing to normalise, statistics untouched (torch)
            return xp.zeros_like(x)
        N, C = x.shape[:2]
        x3 = xp.ascontiguousarray(x).reshape(N, C, -1)          # (N, C, *) -> (N, C, L)
        if self.training:
            mean, var, m = self._batch_stats(x3)
            if self.running is not None:
                self._update_running(mean, var, m)
        else:
            mean, var = (s.astype(x.dtype, copy=False) for s in self.stats)
        invstd = 1 / xp.sqrt(var + x.dtype.type(self.eps))
        a = invstd if weight is None else invstd * weight
        shift = -mean * a if bias is None else bias - mean * a
        self.save_for_backward(x3, mean, invstd, a)
        # y = (x − mean)·invstd·w + b = x·a + shift: one multiply-add per element (torch's form)
        return bn_kernels.affine(x3, a, shift).reshape(x.shape)

    def _batch_stats(self, x3):
        """Per-channel mean and biased variance of the batch, and m, the values per channel."""
        mean, var = bn_kernels.batch_stats(x3)
        return mean, var, x3.shape[0] * x3.shape[2]

    def _update_running(self, mean, var, m):
        running_mean, running_var, momentum = self.running
        unbiased = var * (m / (m - 1))                           # Bessel's correction
        running_mean *= 1 - momentum
        running_mean += momentum * mean.astype(running_mean.dtype)
        running_var *= 1 - momentum
        running_var += momentum * unbiased.astype(running_var.dtype)

    def backward(self, gy):
        need_x, need_w, need_b = self.needs_input_grad
        if gy.size == 0:  # an empty batch: every gradient is zero
            xp = backend.get_array_module(gy)
            zeros = xp.zeros(gy.shape[1], gy.dtype)
            return (xp.zeros_like(gy) if need_x else None, zeros if need_w else None,
                    zeros.copy() if need_b else None)
        x3, mean, invstd, a = self.saved_tensors
        gy3 = backend.get_array_module(gy).ascontiguousarray(gy).reshape(x3.shape)
        gx, gw, gb = bn_kernels.backward(x3, gy3, mean, invstd, a, self.training, need_x)
        return (None if gx is None else gx.reshape(gy.shape), gw if need_w else None,
                gb if need_b else None)

    def composite_inputs(self):
        """x, weight, bias as tensors of the graph (create_graph; higher_order.py). The
        weight's array is not saved: a = invstd·weight gives it back."""
        x3, _, invstd, a = self.saved_tensors
        shape = self._output_meta[0][0]
        return (self.graph_input(0, x3.reshape(shape)), self.graph_input(1, a / invstd),
                self.graph_input(2, backend.get_array_module(a).zeros_like(a)))

    def composite(self, x, weight, bias):
        """The same normalisation with scratchnet ops: (x − mean)/√(var + eps)·w + b."""
        C = x.shape[1]
        axes = (0,) + tuple(range(2, x.ndim))
        per_channel = (1, C) + (1,) * (x.ndim - 2)
        if self.training:
            mean = x.mean(dim=axes, keepdim=True)
            var = ((x - mean) * (x - mean)).mean(dim=axes, keepdim=True)
        else:
            mean, var = (Tensor(s.astype(x.dtype, copy=False).reshape(per_channel))
                         for s in self.stats)
        y = (x - mean) / (var + self.eps).sqrt()
        if weight is not None:
            y = y * weight.reshape(per_channel)
        return y if bias is None else y + bias.reshape(per_channel)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalization over the channel dim 1 (torch.nn.functional.batch_norm).

    Shapes: input (N, C, *); running_mean, running_var, weight, bias (C,) (arrays or tensors;
    the running statistics may be None in training). Forward:

        y = (x − mean_c) / sqrt(var_c + eps) · w_c + b_c

    In training, mean_c and var_c are the batch's (the biased variance, divisor m = N·L) and
    the running statistics, when given, are updated in place with the unbiased variance:
    ``running = (1 − momentum)·running + momentum·batch``. In eval the running ones are used.

    Backward (training). With xhat = (x − mean)·σ⁻¹, σ = sqrt(var + eps), and every sum over
    the m values of one channel: mean and var depend on every x_j, so

        ∂xhat_i/∂x_j = σ⁻¹·(δ_ij − 1/m) − (x_i − mean)·σ⁻³·(x_j − mean)/m
                     = σ⁻¹·(δ_ij − 1/m − xhat_i·xhat_j/m)

    (∂mean/∂x_j = 1/m; ∂var/∂x_j = 2(x_j − mean)/m, the mean's own term summing to 0). Contracting
    with gxhat = w·gy gives the compact closed form the code implements,

        gx = w·σ⁻¹·(gy − Σgy/m − xhat·Σ(gy·xhat)/m),   gw = Σ gy·xhat,   gb = Σ gy.

    In eval mean and var are constants: gx = w·σ⁻¹·gy.
    """
    op = "batch_norm"
    if input.ndim < 2:
        raise ValueError(f"{op}: expected input of shape (N, C, *), got {input.shape}")
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point input, got {input.dtype}")
    C = input.shape[1]
    running_mean, running_var = _data(running_mean), _data(running_var)
    for name, value in (("running_mean", running_mean), ("running_var", running_var),
                        ("weight", weight), ("bias", bias)):
        if value is not None and tuple(value.shape) != (C,):
            raise ValueError(f"{op}: {name} has shape {tuple(value.shape)} but the input of "
                             f"shape {input.shape} has {C} channels")
    if training:
        values = input.numel() // max(C, 1)
        if values == 1 and C:  # torch's rule: one value per channel (an empty batch passes)
            raise ValueError(f"{op}: expected more than 1 value per channel when training, got "
                             f"input of shape {input.shape}")
        running = None
        if running_mean is not None and running_var is not None:
            running = (running_mean, running_var, momentum)
        return BatchNormFunction(True, eps, running=running)(input, weight, bias)
    if running_mean is None or running_var is None:
        raise ValueError(f"{op}: running_mean and running_var must be given in evaluation mode "
                         "(training=False)")
    return BatchNormFunction(False, eps, stats=(running_mean, running_var))(input, weight, bias)


def _data(value):
    return value.data if isinstance(value, Tensor) else value


class LocalResponseNormFunction(Function):
    def __init__(self, size, alpha, beta, k):
        self.params = size, alpha, beta, k

    def forward(self, x):
        xp = backend.get_array_module(x)
        if x.size == 0:  # an empty batch or no channels
            return xp.zeros_like(x)
        x3 = xp.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], -1)  # (N, C, *) -> (N, C, L)
        y, scale = lrn_forward(x3, *self.params)
        self.save_for_backward(x3, scale)
        return y.reshape(x.shape)

    def backward(self, gy):
        if gy.size == 0:
            return backend.get_array_module(gy).zeros_like(gy)
        x3, scale = self.saved_tensors
        gy3 = backend.get_array_module(gy).ascontiguousarray(gy).reshape(x3.shape)
        return lrn_backward(x3, scale, gy3, *self.params).reshape(gy.shape)

    def composite_inputs(self):
        x3, _ = self.saved_tensors
        return (self.graph_input(0, x3.reshape(self._output_meta[0][0])),)

    def composite(self, x):
        """y = x·(k + α/size·Σ_window x²)^−β with scratchnet ops, the window over channels
        c − size//2 … c + (size − 1)//2 (create_graph; higher_order.py)."""
        from .padding import pad

        size, alpha, beta, k = self.params
        N, C = x.shape[:2]
        x3 = x.reshape(N, C, -1)
        squares = pad(x3 * x3, (0, 0, size // 2, (size - 1) // 2))
        window = squares[:, 0:C]
        for j in range(1, size):
            window = window + squares[:, j:j + C]
        return (x3 * (window * (alpha / size) + k) ** (-beta)).reshape(x.shape)


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Local response normalization across channels (torch.nn.functional.local_response_norm).

    Shapes: input (N, C, *) with at least 3 dims -> output of the same shape. Forward, with the
    channel window zero-padded by size//2 channels before and (size−1)//2 after:

        d_c = k + alpha/size · Σ_{c' = c − size//2}^{c + (size−1)//2} x_{c'}²
        y_c = x_c · d_c^(−beta)

    Backward, with t = gy·x·d^(−beta−1) and the window mirrored (see kernels/lrn.py):

        gx_j = gy_j·d_j^(−beta) − (2·alpha·beta/size)·x_j·Σ_{c = j − (size−1)//2}^{j + size//2} t_c

    Convention: alpha is divided by ``size`` (torch, and Caffe's bvlc_alexnet). The AlexNet paper
    (and cuda-convnet) add alpha·Σx² undivided with k=2, n=5, alpha=1e-4, beta=0.75; in these
    arguments that is ``local_response_norm(x, size=5, alpha=5 * 1e-4, beta=0.75, k=2.0)``.
    """
    op = "local_response_norm"
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1:
        raise ValueError(f"{op}: size must be an integer >= 1, got {size!r}")
    if input.ndim < 3:
        raise ValueError(f"{op}: expected input of shape (N, C, *) with at least 3 dimensions, "
                         f"got {input.shape}")
    if input.dtype not in (np.float32, np.float64):
        raise TypeError(f"{op}: expected float32 or float64 input, got {input.dtype}")
    return LocalResponseNormFunction(int(size), float(alpha), float(beta), float(k))(input)
