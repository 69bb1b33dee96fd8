"""Adadelta: steps scaled by the ratio of two running RMS values, so no global rate is needed."""
from ..backend import get_array_module
from ._rules import count_step, effective_grad, ema_square_, new_step_counter
from .optimizer import Optimizer, check_non_negative


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, 2012), as ``torch.optim.Adadelta``.

    Per parameter θ with gradient g (γ = lr, λ = weight_decay, ρ = rho)::

        g ← -g                                  if maximize
        g ← g + λ θ                             if λ ≠ 0
        v ← ρ v + (1 - ρ) g²                    running mean of squared gradients
        Δ ← sqrt(u + ε) / sqrt(v + ε) · g       u: running mean of squared updates
        u ← ρ u + (1 - ρ) Δ²
        θ ← θ - γ Δ

    The ratio of RMS values gives Δ the units of θ (the paper's argument); lr=1.0 is the
    paper's method, other values scale it as torch does. State per parameter: ``step`` (float32
    0-d array on the CPU; counted, not used), ``square_avg`` (v) and ``acc_delta`` (u).
    ``foreach`` and ``capturable`` are accepted and ignored; ``differentiable=True`` is refused.
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _check_options(self, options):
        name = self._name
        check_non_negative(name, "learning rate", "lr", options["lr"])
        if not 0.0 <= options["rho"] <= 1.0:
            raise ValueError(f"{name}: Invalid rho value: rho={options['rho']} "
                             "(must be in [0, 1])")
        check_non_negative(name, "epsilon value", "eps", options["eps"])
        check_non_negative(name, "weight_decay value", "weight_decay", options["weight_decay"])

    def _update(self, param, grad, state, group):
        xp = get_array_module(param)
        if not state:
            state["step"] = new_step_counter()
            state["square_avg"] = xp.zeros_like(param)
            state["acc_delta"] = xp.zeros_like(param)
        count_step(state)
        rho, eps = group["rho"], group["eps"]
        grad = effective_grad(param, grad, group["maximize"], group["weight_decay"])
        ema_square_(state["square_avg"], grad, rho)
        std = xp.sqrt(state["square_avg"] + eps)
        delta = xp.sqrt(state["acc_delta"] + eps) / std * grad
        ema_square_(state["acc_delta"], delta, rho)
        param -= group["lr"] * delta
