"""Losses: cross_entropy (fused log-softmax + NLL), nll_loss, mse_loss.

Both class losses are written as L = −Σ_{n,c} q_nc · logp_nc, where ``q`` holds everything
that does not depend on the input: the one-hot target, class weights, label smoothing,
ignored positions and the reduction's divisor. Cross-entropy's backward is then one line,

    ∂L/∂x_nk = −q_nk + p_nk · Σ_c q_nc        (p = softmax(x)),

which for a plain one-hot target and mean reduction is the familiar (p − onehot) / N.
"""
from .. import backend
from ..function import Function
from .activation import log_softmax_array

REDUCTIONS = ("mean", "sum", "none")


def _target_weights(op, input, target, weight, ignore_index, reduction, label_smoothing):
    """The array ``q`` (shape of the batched input, class dim 1) described above."""
    xp = backend.get_array_module(input.data)
    x, t = input.data, target.data
    C = x.shape[1]
    w = xp.ones(C, x.dtype) if weight is None else weight.data.astype(x.dtype)
    w_c = w.reshape((1, C) + (1,) * (x.ndim - 2))               # (1, C, 1, ...) broadcasts
    eps = label_smoothing
    if t.dtype.kind == "f":  # class probabilities, smoothed towards uniform
        q = w_c * (t * (1 - eps) + eps / C)
        return q / (x.size // C) if reduction == "mean" else q

    valid = t != ignore_index                                   # (N, d...)
    t_safe = xp.where(valid, t, 0)
    onehot = xp.zeros(x.shape, x.dtype)
    xp.put_along_axis(onehot, t_safe[:, None], 1, axis=1)
    w_y = w[t_safe] * valid                                     # weight of each target, 0 if ignored
    nll_part = onehot * w_y[:, None]
    smooth_part = w_c * valid[:, None]
    nll_div = smooth_div = 1
    if reduction == "mean":
        # torch: the NLL term is divided by the summed target weights; the smoothing term by the
        # same sum when weights are given, else by the count of all positions (ignored ones too)
        nll_div = w_y.sum()
        smooth_div = nll_div if weight is not None else t.size
    q = (1 - eps) * nll_part / nll_div
    if eps:
        q = q + (eps / C) * smooth_part / smooth_div
    return q


def _check_class_target(op, input, target, weight, ignore_index, reduction):
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
    if target.dtype.kind not in "iu" or target.shape != expected:
        raise ValueError(f"{op}: expected an integer target of shape {expected} for input of "
                         f"shape {input.shape}, got {target.dtype} {target.shape}")
    t = target.data
    bad = ((t < 0) | (t >= C)) & (t != ignore_index)
    if bool(bad.any()):
        raise IndexError(f"{op}: target {int(t[bad][0])} is out of bounds for {C} classes")


def _batched(input, target):
    """Give an unbatched (C,) input and () target a batch dim of 1."""
    if input.ndim == 1:
        return input.reshape(1, -1), target.reshape((1,) + target.shape), True
    return input, target, False


class CrossEntropyFunction(Function):
    def __init__(self, q, reduction):
        self.q, self.reduction = q, reduction

    def forward(self, x):
        xp = backend.get_array_module(x)
        logp = log_softmax_array(x, axis=1)
        self.save_for_backward(xp.exp(logp), self.q)
        losses = -(self.q * logp).sum(axis=1)                   # (N, d...)
        return losses if self.reduction == "none" else losses.sum()

    def backward(self, gy):
        p, q = self.saved_tensors
        if self.reduction == "none":
            gy = gy[:, None]                                    # (N, d...) -> (N, 1, d...)
        return (p * q.sum(axis=1, keepdims=True) - q) * gy


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
    q = _target_weights("cross_entropy", input, target, weight, ignore_index, reduction,
                        label_smoothing)
    loss = CrossEntropyFunction(q, reduction)(input)
    return loss.reshape(()) if unbatched and reduction == "none" else loss


class NLLLossFunction(Function):
    def __init__(self, q, reduction):
        self.q, self.reduction = q, reduction

    def forward(self, logp):
        losses = -(self.q * logp).sum(axis=1)
        return losses if self.reduction == "none" else losses.sum()

    def backward(self, gy):
        if self.reduction == "none":
            gy = gy[:, None]
        return -self.q * gy


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
    q = _target_weights("nll_loss", input, target, weight, ignore_index, reduction, 0.0)
    loss = NLLLossFunction(q, reduction)(input)
    return loss.reshape(()) if unbatched and reduction == "none" else loss


def mse_loss(input, target, reduction="mean"):
    """Mean squared error: (x − t)², averaged, summed or per element.
    Backward (via sub, mul, mean): gx = 2(x − t)·gy / n."""
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

