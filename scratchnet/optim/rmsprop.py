"""RMSprop: gradients divided by a running RMS of themselves, optionally centred, with momentum."""
from ..backend import get_array_module
from ._rules import count_step, effective_grad, ema_square_, lerp_, new_step_counter
from .optimizer import Optimizer, check_non_negative


class RMSprop(Optimizer):
    r"""RMSprop (Hinton's lecture 6e; centred form from Graves, 2013), as ``torch.optim.RMSprop``.

    Per parameter θ with gradient g (γ = lr, α = alpha, λ = weight_decay, μ = momentum)::

        g ← -g                                  if maximize
        g ← g + λ θ                             if λ ≠ 0
        v ← α v + (1 - α) g²                    running mean of g² (v starts at 0)
        ḡ ← α ḡ + (1 - α) g                     if centered (torch's lerp; ḡ starts at 0)
        d = sqrt(v - ḡ²) + ε  if centered, else sqrt(v) + ε
        b ← μ b + g / d,  θ ← θ - γ b           if μ > 0 (b starts at 0)
        θ ← θ - γ g / d                         otherwise

    ε is added after the square root (TensorFlow adds it under the root). State per
    parameter: ``step`` (float32 0-d array on the CPU; counted, not used), ``square_avg`` (v),
    ``momentum_buffer`` (b) when μ > 0 and ``grad_avg`` (ḡ) when centered; torch creates the
    last two at the first step only, scratchnet also when μ or centered is switched on later.
    ``foreach`` and ``capturable`` are accepted and ignored; ``differentiable=True`` is refused.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_options(self, options):
        name = self._name
        check_non_negative(name, "learning rate", "lr", options["lr"])
        check_non_negative(name, "epsilon value", "eps", options["eps"])
        check_non_negative(name, "momentum value", "momentum", options["momentum"])
        check_non_negative(name, "weight_decay value", "weight_decay", options["weight_decay"])
        check_non_negative(name, "alpha value", "alpha", options["alpha"])

    def _update(self, param, grad, state, group):
        xp = get_array_module(param)
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state["step"] = new_step_counter()
            state["square_avg"] = xp.zeros_like(param)
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = xp.zeros_like(param)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = xp.zeros_like(param)
        count_step(state)
        grad = effective_grad(param, grad, group["maximize"], group["weight_decay"])
        square_avg = state["square_avg"]
        ema_square_(square_avg, grad, alpha)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            lerp_(grad_avg, grad, 1 - alpha)
            denom = xp.sqrt(square_avg - grad_avg * grad_avg)
        else:
            denom = xp.sqrt(square_avg)
        denom += group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += grad / denom
            param -= group["lr"] * buf
        else:
            param -= group["lr"] * (grad / denom)
