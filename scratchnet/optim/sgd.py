"""Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay."""
from ..kernels.sgd import sgd_update
from .optimizer import Optimizer, check_non_negative


class SGD(Optimizer):
    r"""Stochastic gradient descent, as ``torch.optim.SGD``.

    Per parameter θ with gradient g, at step t (γ = lr, λ = weight_decay, μ = momentum,
    τ = dampening)::

        g ← -g                          if maximize
        g ← g + λ θ                     if λ ≠ 0   (L2 penalty folded into the gradient)
        if μ ≠ 0:
            b ← g                       at the first step (no dampening on it)
            b ← μ b + (1 - τ) g         afterwards
            g ← g + μ b                 if nesterov
            g ← b                       otherwise
        θ ← θ - γ g

    This is torch's (and Sutskever et al.'s) form, where lr multiplies the momentum buffer;
    some texts put lr inside the buffer instead (v ← μ v + γ g), which differs once lr changes.
    The buffer is kept in ``state[p]['momentum_buffer']`` only when momentum is non-zero.
    ``foreach`` and ``fused`` are accepted and ignored (the update is always one fused pass,
    kernels/sgd.py); ``differentiable=True`` is refused.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def _check_options(self, options):
        check_non_negative("SGD", "learning rate", "lr", options["lr"])
        check_non_negative("SGD", "momentum value", "momentum", options["momentum"])
        check_non_negative("SGD", "weight_decay value", "weight_decay", options["weight_decay"])
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening, "
                             f"got nesterov=True with momentum={options['momentum']} and "
                             f"dampening={options['dampening']}")

    def _update(self, param, grad, state, group):
        buf = sgd_update(param, grad, state.get("momentum_buffer"), group["lr"],
                         group["momentum"], group["dampening"], group["weight_decay"],
                         group["nesterov"], group["maximize"])     # one pass: kernels/sgd.py
        if buf is not None:
            state["momentum_buffer"] = buf
