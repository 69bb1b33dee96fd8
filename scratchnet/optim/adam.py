"""Adam and AdamW: one update rule, two ways of applying weight decay."""
from ..backend import get_array_module
from ..kernels.adam import adam_update
from ._rules import count_step, new_step_counter
from .optimizer import Optimizer, check_non_negative


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), as ``torch.optim.Adam``.

    Per parameter θ with gradient g, at step t = 1, 2, ... (γ = lr, λ = weight_decay)::

        g ← -g                                  if maximize
        θ ← θ (1 - γ λ)                         if decoupled_weight_decay (AdamW)
        g ← g + λ θ                             otherwise, if λ ≠ 0 (L2 penalty in the gradient)
        m ← β1 m + (1 - β1) g                   first moment (torch's lerp; m starts at 0)
        v ← β2 v + (1 - β2) g²                  second moment (v starts at 0)
        v̂ ← max(v̂, v), v' = v̂  if amsgrad; else v' = v
        θ ← θ - γ / (1 - β1^t) · m / (sqrt(v') / sqrt(1 - β2^t) + ε)

    The bias corrections undo the zero start of m and v. ε is added after the square root of
    the bias-corrected second moment (the paper's Algorithm 1), not to v under the root.
    State per parameter: ``step`` (a float32 0-d NumPy array on the CPU, as torch keeps it),
    ``exp_avg`` (m), ``exp_avg_sq`` (v) and, with amsgrad, ``max_exp_avg_sq`` (v̂).
    ``foreach``, ``capturable`` and ``fused`` are accepted and ignored (the update is always one
    fused pass, kernels/adam.py, rounded as torch's single-tensor step); ``differentiable=True``
    is refused.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _check_options(self, options):
        name = self._name
        check_non_negative(name, "learning rate", "lr", options["lr"])
        check_non_negative(name, "epsilon value", "eps", options["eps"])
        betas = options["betas"]
        if len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name}: Invalid beta parameter at index {i}: "
                                 f"betas[{i}]={beta} (must be in [0, 1))")
        check_non_negative(name, "weight_decay value", "weight_decay", options["weight_decay"])

    def _update(self, param, grad, state, group):
        xp = get_array_module(param)
        lr, beta1, beta2 = group["lr"], *group["betas"]
        if not state:
            state["step"] = new_step_counter()
            state["exp_avg"] = xp.zeros_like(param)
            state["exp_avg_sq"] = xp.zeros_like(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(param)
        step = count_step(state)
        # Bias corrections and the step size are Python floats (double precision), as in torch.
        step_size = lr / (1 - beta1 ** step)
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        adam_update(param, grad, state["exp_avg"], state["exp_avg_sq"],
                    state["max_exp_avg_sq"] if group["amsgrad"] else None, lr, beta1, beta2,
                    group["eps"], group["weight_decay"], group["decoupled_weight_decay"],
                    group["maximize"], step_size, bias_correction2_sqrt)   # kernels/adam.py


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``: Adam whose weight decay
    shrinks the parameter directly, θ ← θ (1 - γ λ), instead of adding λ θ to the gradient,
    so the decay is not rescaled by the adaptive denominator. Default weight_decay=0.01."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

