"""Adagrad: per-element rates that shrink with the sum of every squared gradient seen."""
from ..backend import get_array_module
from ._rules import count_step, effective_grad, new_step_counter
from .optimizer import Optimizer, check_non_negative


class Adagrad(Optimizer):
    r"""Adagrad (Duchi, Hazan & Singer, 2011), as ``torch.optim.Adagrad``.

    Per parameter θ with gradient g, at step t = 1, 2, ... (γ = lr, η = lr_decay,
    λ = weight_decay)::

        g ← -g                                  if maximize
        g ← g + λ θ                             if λ ≠ 0
        γ_t = γ / (1 + (t - 1) η)
        s ← s + g²                              s starts at initial_accumulator_value
        θ ← θ - γ_t · g / (sqrt(s) + ε)

    As in torch, the state (``step``, a float32 0-d array on the CPU, and ``sum``, s) of every
    parameter exists from construction, even for one that never gets a gradient, and a state
    created later (a group added afterwards) starts from the *constructor's*
    ``initial_accumulator_value``: a group's own value for it is never read.
    ``foreach`` and ``fused`` are accepted and ignored; ``differentiable=True`` is refused.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False, differentiable=False, fused=None):
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = self._initial_state(p.data)

    def _check_options(self, options):
        name = self._name
        check_non_negative(name, "learning rate", "lr", options["lr"])
        check_non_negative(name, "lr_decay value", "lr_decay", options["lr_decay"])
        check_non_negative(name, "weight_decay value", "weight_decay", options["weight_decay"])
        check_non_negative(name, "initial_accumulator_value value", "initial_accumulator_value",
                           options["initial_accumulator_value"])
        check_non_negative(name, "epsilon value", "eps", options["eps"])

    def _initial_state(self, param):
        xp = get_array_module(param)
        return {"step": new_step_counter(),
                "sum": xp.full_like(param, self.defaults["initial_accumulator_value"])}

    def _update(self, param, grad, state, group):
        xp = get_array_module(param)
        if not state:
            state.update(self._initial_state(param))
        step = count_step(state)
        grad = effective_grad(param, grad, group["maximize"], group["weight_decay"])
        decayed_lr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        state["sum"] += grad * grad
        std = xp.sqrt(state["sum"])
        std += group["eps"]
        param -= decayed_lr * (grad / std)
