"""Losses: cross_entropy (fused log-softmax + NLL), nll_loss, mse_loss.

Both class losses are written as L = −Σ_{n,c} q_nc · logp_nc / D, where ``q`` holds everything
that does not depend on the input: the one-hot target, class weights, label smoothing and
ignored positions, and D is the reduction's divisor (1 unless reduction="mean").
Cross-entropy's backward is then one line,

    ∂L/∂x_nk = (−q_nk + p_nk · Σ_c q_nc) / D        (p = softmax(x)),

which for a plain one-hot target and mean reduction is the familiar (p − onehot) / N.

The loss itself is computed as torch computes it, so that −inf logits (masked classes) give
torch's values: with class indices, −w_t·logp_t is taken at the target only (a −inf in another
class costs nothing, an ignored position is skipped), never as Σ_c q_c·logp_c, where
0·(−inf) would be nan; with probabilities, as the sum over classes (nan there, as torch).
"""
import numpy as np

from .. import backend
from ..function import Function
from ._operands import check_tensor, torch_name
from .activation import log_softmax_array

REDUCTIONS = ("mean", "sum", "none")


def _target_weights(x, t, weight, ignore_index, reduction, label_smoothing):
    """The array ``q`` (shape of the batched input x, class dim 1) and the divisor D above,
    from the target t (class indices or probabilities) and the class weights (C,) or None."""
    xp = backend.get_array_module(x)
    C = x.shape[1]
    w = xp.ones(C, x.dtype) if weight is None else weight.astype(x.dtype)
    w_c = w.reshape((1, C) + (1,) * (x.ndim - 2))               # (1, C, 1, ...) broadcasts
    eps = label_smoothing
    if t.dtype.kind == "f":  # class probabilities, smoothed towards uniform
        q = w_c * (t * (1 - eps) + eps / C)
        return q, (x.size // C if reduction == "mean" else 1)

    valid = t != ignore_index                                   # (N, d...)
    t_safe = xp.where(valid, t, 0)
    onehot = xp.zeros(x.shape, x.dtype)
    xp.put_along_axis(onehot, t_safe[:, None], 1, axis=1)
    w_y = w[t_safe] * valid                                     # target weights, 0 if ignored
    q = (1 - eps) * onehot * w_y[:, None]
    if eps:
        q = q + (eps / C) * w_c * valid[:, None]
    # torch's mean divides both terms by the summed weights of the non-ignored targets
    # (their count when no weight is given)
    return q, (_total(w_y.sum()) if reduction == "mean" else 1)


def _total(total):
    """D as a float on the CPU; on the GPU it stays a 0-d device array, since reading it would
    cost a device-to-host copy (and a sync) every step."""
    return total if backend.is_cupy(total) else float(total)


def _unless_zero_total(divisor, zero_total_grad, grad):
    """``grad()``, or ``zero_total_grad()`` when D = 0; chosen on the device when D lives there."""
    if backend.is_cupy(divisor):
        return backend.get_array_module(divisor).where(divisor == 0, zero_total_grad(), grad())
    return zero_total_grad() if divisor == 0 else grad()


def _index_losses(logp, t, w, ignore_index, eps):
    """Per-position losses for class indices t: −(1 − ε)·w_t·logp_t − (ε/C)·Σ_c w_c·logp_c, and
    0 where t is ignore_index (as torch: no 0·(−inf) at other classes or ignored positions)."""
    xp = backend.get_array_module(logp)
    C = logp.shape[1]
    w = xp.ones(C, logp.dtype) if w is None else w.astype(logp.dtype)
    valid = t != ignore_index                                   # (N, d...)
    t_safe = xp.where(valid, t, 0)
    picked = xp.take_along_axis(logp, t_safe[:, None], axis=1)[:, 0]
    losses = -(1 - eps) * w[t_safe] * picked
    if eps:
        w_c = w.reshape((1, C) + (1,) * (logp.ndim - 2))
        losses = losses - (eps / C) * (w_c * logp).sum(axis=1)
    return xp.where(valid, losses, 0).astype(logp.dtype, copy=False)


def _zero_total_weight_grad(t, ignore_index, shape, rows):
    """torch's gradient for a mean whose total target weight is 0 (every target ignored or of
    weight 0): 0 at ignored positions, nan at the others (0/0): the whole row for
    cross-entropy (``rows``), the target class for nll_loss."""
    xp = backend.get_array_module(t)
    valid = t != ignore_index
    if rows:
        nan_at = xp.broadcast_to(valid[:, None], shape)
    else:
        nan_at = xp.zeros(shape, bool)
        xp.put_along_axis(nan_at, xp.where(valid, t, 0)[:, None], valid[:, None], axis=1)
    return xp.where(nan_at, xp.nan, 0)


def _check_class_target(op, input, target, weight, ignore_index, reduction):
    check_tensor(op, input, target, weight)
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if input.ndim < 2:
        raise ValueError(f"{op}: expected input of shape (N, C) or (N, C, d1, ...), got "
                         f"{input.shape}")
    C = input.shape[1]
    if weight is not None and weight.shape != (C,):
        raise ValueError(f"{op}: weight of shape {weight.shape} does not match {C} classes")
    if target.dtype.kind == "f":
        if target.shape != input.shape:
            raise ValueError(f"{op}: probability targets must have the input's shape "
                             f"{input.shape}, got {target.shape}")
        return
    expected = (input.shape[0],) + input.shape[2:]
    if target.dtype.kind in "iu" and target.dtype not in (np.int64, np.uint8):
        raise RuntimeError(f"{op}: expected target dtype to be Long or Byte, but got "
                           f"{torch_name(target.dtype)}")
    if target.dtype.kind not in "iu" or target.shape != expected:
        raise ValueError(f"{op}: expected an integer target of shape {expected} for input of "
                         f"shape {input.shape}, got {target.dtype} {target.shape}")
    t = target.data
    if backend.is_cupy(t):
        return       # checking would copy to the host every step (torch: a device-side assert)
    bad = ((t < 0) | (t >= C)) & (t != ignore_index)
    if bool(bad.any()):
        raise IndexError(f"{op}: target {int(t[bad][0])} is out of bounds for {C} classes")


def _batched(input, target):
    """Give an unbatched (C,) input and () target a batch dim of 1."""
    if input.ndim == 1:
        return input.reshape(1, -1), target.reshape((1,) + target.shape), True
    return input, target, False


def _reduce(losses, divisor, reduction):
    """Per-position losses (N, d...) summed and divided by D; when a mean finds every target
    ignored that is 0 / 0 = nan, as in torch."""
    if reduction == "none":
        return losses
    if backend.is_cupy(divisor):
        return losses.sum() / divisor.astype(losses.dtype)
    return losses.sum() / losses.dtype.type(divisor)


def _upstream(gy, divisor, reduction):
    """gy as it reaches each position: (N, d...) -> (N, 1, d...) for "none", else gy / D (0 for
    an empty batch; a zero total weight of class indices is ``_zero_total_weight_grad``)."""
    if reduction == "none":
        return gy[:, None]
    if backend.is_cupy(divisor):                 # no host read of D: 0 selected on the device
        xp = backend.get_array_module(divisor)
        return xp.where(divisor != 0, gy / xp.where(divisor == 0, 1, divisor), 0).astype(gy.dtype)
    return gy / divisor if divisor else gy * 0


class CrossEntropyFunction(Function):
    """Inputs: logits x, target t, class weights w or None (w gets no gradient; t only as
    probabilities: ∂L/∂t_c = −(1 − ε)·w_c·logp_c / D)."""

    def __init__(self, ignore_index, reduction, label_smoothing):
        self.ignore_index, self.reduction = ignore_index, reduction
        self.label_smoothing = label_smoothing

    def forward(self, x, t, w):
        xp = backend.get_array_module(x)
        eps = self.label_smoothing
        q, self.divisor = _target_weights(x, t, w, self.ignore_index, self.reduction, eps)
        logp = log_softmax_array(x, axis=1)
        if t.dtype.kind == "f":
            losses = -(q * logp).sum(axis=1)
        else:
            losses = _index_losses(logp, t, w, self.ignore_index, eps)
        self.save_for_backward(xp.exp(logp), q, t, w,
                               logp if self.needs_input_grad[1] else None)
        return _reduce(losses, self.divisor, self.reduction)

    def backward(self, gy):
        p, q, t, w, logp = self.saved_tensors
        gx = gt = None
        if self.needs_input_grad[0]:
            def softmax_grad():
                return (p * q.sum(axis=1, keepdims=True) - q) * _upstream(gy, self.divisor,
                                                                          self.reduction)
            if t.dtype.kind == "f":
                gx = softmax_grad()
            else:
                gx = _unless_zero_total(self.divisor, lambda: _zero_total_weight_grad(
                    t, self.ignore_index, p.shape, rows=True).astype(p.dtype), softmax_grad)
        if self.needs_input_grad[1]:
            xp = backend.get_array_module(gy)
            C = p.shape[1]
            w = xp.ones(C, p.dtype) if w is None else w.astype(p.dtype)
            w_c = w.reshape((1, C) + (1,) * (p.ndim - 2))
            up = _upstream(gy, self.divisor, self.reduction)
            gt = -(1 - self.label_smoothing) * w_c * logp * up
        return gx, gt, None

    def composite_inputs(self):
        """Logits, target, weight as tensors of the graph. The logits are not saved, but
        log p = x − logsumexp(x) differs from them by a shift per row, which changes no
        derivative of cross-entropy, so log p stands in for them."""
        p, _, t, w, _ = self.saved_tensors
        xp = backend.get_array_module(p)
        return (self.graph_input(0, xp.log(p)), self.graph_input(1, t),
                self.graph_input(2, w))

    def composite(self, x, t, w):
        """L = reduce(−Σ_c q_c·log_softmax(x)_c) with scratchnet ops, q from the target as
        in forward (a function of t for probability targets)."""
        from ..tensor import Tensor

        logp = x.log_softmax(1)
        if t.dtype.kind == "f":
            C, eps = x.shape[1], self.label_smoothing
            q = t * (1 - eps) + eps / C
            if w is not None:
                q = q * w.reshape((1, C) + (1,) * (x.ndim - 2))
        else:
            q = Tensor(self.saved_tensors[1])
        losses = -(q * logp).sum(dim=1)
        return losses if self.reduction == "none" else losses.sum() / self.divisor


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Softmax cross-entropy of logits ``input`` against class indices or probabilities.

    Shapes: input (N, C) or (N, C, d1, ...) or (C,); target (N,) / (N, d1, ...) / () of class
    indices, or probabilities shaped like input. Loss per position: −Σ_c w_c t_c log softmax(x)_c
    with t the (smoothed) target. Backward: gx = p·Σ_c q_c − q (see the module docstring).
    """
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    input, target, unbatched = _batched(input, target)
    _check_class_target("cross_entropy", input, target, weight, ignore_index, reduction)
    loss = CrossEntropyFunction(ignore_index, reduction, label_smoothing)(input, target, weight)
    return loss.reshape(()) if unbatched and reduction == "none" else loss


class NLLLossFunction(Function):
    """Inputs: log-probabilities, target class indices, class weights or None."""

    def __init__(self, ignore_index, reduction):
        self.ignore_index, self.reduction = ignore_index, reduction

    def forward(self, logp, t, w):
        q, self.divisor = _target_weights(logp, t, w, self.ignore_index, self.reduction, 0.0)
        self.save_for_backward(q, t)
        losses = _index_losses(logp, t, w, self.ignore_index, 0.0)
        return _reduce(losses, self.divisor, self.reduction)

    def backward(self, gy):
        q, t = self.saved_tensors
        gx = _unless_zero_total(self.divisor, lambda: _zero_total_weight_grad(
            t, self.ignore_index, q.shape, rows=False).astype(q.dtype),
            lambda: -q * _upstream(gy, self.divisor, self.reduction))
        return gx, None, None

    def jvp(self, dlogp, _, __):
        """J·d: the loss is linear in the log-probabilities, −Σ_c q_c·d_c reduced."""
        q, _ = self.saved_tensors
        return _reduce(-(q * dlogp).sum(axis=1), self.divisor or 1, self.reduction)


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of log-probabilities ``input`` at class indices ``target``.

    Loss per position: −w_t · input[t]; mean divides by Σ w_t over non-ignored positions.
    Backward: gx = −w_t·gy at the target class (divided likewise), 0 elsewhere.
    """
    input, target, unbatched = _batched(input, target)
    _check_class_target("nll_loss", input, target, weight, ignore_index, reduction)
    if target.dtype.kind == "f":
        raise ValueError("nll_loss: expected integer class indices as target, got "
                         f"{target.dtype}")
    loss = NLLLossFunction(ignore_index, reduction)(input, target, weight)
    return loss.reshape(()) if unbatched and reduction == "none" else loss


def mse_loss(input, target, reduction="mean"):
    """Mean squared error: (x − t)², averaged, summed or per element.
    Backward (via sub, mul, mean): gx = 2(x − t)·gy / n."""
    check_tensor("mse_loss", input, target)
    if reduction not in REDUCTIONS:
        raise ValueError(f"mse_loss: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if input.shape != target.shape:
        raise ValueError(f"mse_loss: input shape {input.shape} and target shape "
                         f"{target.shape} differ")
    diff = input - target
    squared = diff * diff
    if reduction == "none":
        return squared
    return squared.mean() if reduction == "mean" else squared.sum()

