"""Binary cross-entropy on probabilities and on logits.

Each Function gives the loss per element; ``weight`` multiplies it and the reduction (mean,
sum or none) follows, as ordinary ops. Both Functions also give the target its gradient,
as torch does (soft labels can be learned); ``weight`` and ``pos_weight`` are constants
(torch refuses them when they require grad, and so does scratchnet).
"""
import numpy as np

from .. import backend
from ..function import Function, is_grad_enabled
from ._operands import check_float, check_tensor
from .loss import REDUCTIONS

LOG_FLOOR = -100.0     # torch clamps each log at −100 so that p = 0 or 1 gives a finite loss
EPSILON = 1e-12        # torch's floor on x(1 − x) in the backward


class BCEFunction(Function):
    """Inputs: probabilities x, target t (same shape)."""

    def forward(self, x, t):
        xp = backend.get_array_module(x)
        self.save_for_backward(x, t)
        with np.errstate(divide="ignore"):               # log 0 = −inf, then clamped
            log_x = xp.maximum(xp.log(x), LOG_FLOOR)
            log_1mx = xp.maximum(xp.log1p(-x), LOG_FLOOR)
        return -(t * log_x + (1 - t) * log_1mx)

    def backward(self, gy):
        x, t = self.saved_tensors
        xp = backend.get_array_module(gy)
        gx = gt = None
        if self.needs_input_grad[0]:
            gx = gy * (x - t) / xp.maximum((1 - x) * x, EPSILON)
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                gt = gy * (xp.log1p(-x) - xp.log(x))    # −logit(x), unclamped (torch's rule)
        return gx, gt

    def backward_graph(self, gy):
        """The same formulas with scratchnet ops (create_graph)."""
        x, t = self.saved_tensors
        X, T = self.graph_input(0, x), self.graph_input(1, t)
        gx = gt = None
        if self.needs_input_grad[0]:
            gx = gy * (X - T) / ((1 - X) * X).clamp(min=EPSILON)
        if self.needs_input_grad[1]:
            gt = gy * ((1 - X).log() - X.log())
        return gx, gt


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """ℓ = −w·(t·log x + (1 − t)·log(1 − x)) per element, each log clamped at −100 (torch's
    rule), then reduced. input: probabilities in [0, 1]; target and input of one shape;
    weight broadcasts to it. Backward: gx = gy·w·(x − t) / max(x(1 − x), 1e-12),
    gt = gy·w·(log(1 − x) − log x), not clamped (torch's rule: ±inf at x = 0 or 1)."""
    op = "binary_cross_entropy"
    _check(op, input, target, weight, reduction)
    if input.numel() and bool(((input.data < 0) | (input.data > 1)).any()):
        raise RuntimeError(f"{op}: all elements of input should be between 0 and 1")
    return _weighted_reduction(BCEFunction()(input, target), weight, reduction)


class BCEWithLogitsFunction(Function):
    """Inputs: logits x, target t, pos_weight p or None."""

    def forward(self, x, t, p):
        xp = backend.get_array_module(x)
        log_sig = xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))    # log σ(x), stable
        lw = 1 if p is None else 1 + (p - 1) * t                      # weight of the t-term
        self.save_for_backward(x, t, p, log_sig)
        return (1 - t) * x - lw * log_sig

    def backward(self, gy):
        x, t, p, log_sig = self.saved_tensors
        xp = backend.get_array_module(gy)
        lw = 1 if p is None else 1 + (p - 1) * t
        gx = gt = None
        if self.needs_input_grad[0]:
            z = xp.exp(-xp.abs(x))
            sigmoid_neg = xp.where(x < 0, 1 / (1 + z), z / (1 + z))    # σ(−x)
            gx = gy * ((1 - t) - lw * sigmoid_neg)
        if self.needs_input_grad[1]:
            gt = gy * (-x - (0 if p is None else (p - 1) * log_sig))
        return gx, gt, None

    def backward_graph(self, gy):
        """The same formulas with scratchnet ops (create_graph)."""
        from .smooth_activation import logsigmoid

        x, t, p, _ = self.saved_tensors
        X, T, P = self.graph_input(0, x), self.graph_input(1, t), self.graph_input(2, p)
        lw = 1 if P is None else 1 + (P - 1) * T
        gx = gt = None
        if self.needs_input_grad[0]:
            gx = gy * ((1 - T) - lw * (-X).sigmoid())
        if self.needs_input_grad[1]:
            gt = gy * (-X - (0 if P is None else (P - 1) * logsigmoid(X)))
        return gx, gt, None


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    """ℓ = w·((1 − t)·x − (1 + (p − 1)·t)·log σ(x)) per element: binary cross-entropy of
    σ(x) computed from the logits x without forming σ(x) (torch's formula, exact in both
    tails); p = ``pos_weight`` (broadcast along the last dim) weighs the positive term.
    Backward: gx = gy·w·((1 − t) − (1 + (p − 1)t)·σ(−x)), gt = gy·w·(−x − (p − 1)·log σ(x)).
    """
    op = "binary_cross_entropy_with_logits"
    if size_average is not None or reduce is not None:
        raise ValueError(f"{op}: size_average and reduce are deprecated in torch and not "
                         "supported; use reduction='mean'|'sum'|'none'")
    _check(op, input, target, weight, reduction)
    if pos_weight is not None:
        _check_broadcasts(op, "pos_weight", pos_weight, input)
        _check_constant(op, "pos_weight", pos_weight)
    losses = BCEWithLogitsFunction()(input, target, pos_weight)
    return _weighted_reduction(losses, weight, reduction)


def _check(op, input, target, weight, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    check_tensor(op, input, target, weight)
    check_float(op, input)
    if target.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point target (0/1 or probabilities), "
                        f"got {target.dtype}")
    if target.dtype != input.dtype:
        raise TypeError(f"{op}: found dtype {target.dtype} for the target but expected "
                        f"{input.dtype}, the input's")
    if target.shape != input.shape:
        raise ValueError(f"{op}: Using a target size ({target.shape}) that is different to the "
                         f"input size ({input.shape}) is not supported; give them one shape")
    if weight is not None:
        _check_broadcasts(op, "weight", weight, input)
    _check_constant(op, "weight", weight)


def _check_constant(op, name, t):
    if t is not None and t.requires_grad and is_grad_enabled():
        raise RuntimeError(f"The function '{op}' is not differentiable with respect to argument "
                           f"'{name}'. This input cannot have requires_grad True.")


def _check_broadcasts(op, name, t, input):
    try:
        ok = np.broadcast_shapes(t.shape, input.shape) == input.shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{op}: {name} of shape {t.shape} does not broadcast to the input's "
                         f"shape {input.shape}")


def _weighted_reduction(losses, weight, reduction):
    if weight is not None:
        losses = losses * weight
    if reduction == "none":
        return losses
    return losses.mean() if reduction == "mean" else losses.sum()
