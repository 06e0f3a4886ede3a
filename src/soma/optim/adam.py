"""Adam and AdamW: adaptive moment estimation (Kingma & Ba, 2015; Loshchilov & Hutter, 2019)."""

import math

from soma.backend import get_xp
from soma.optim.optimizer import Optimizer, check_beta, check_non_negative

_xp = get_xp()


class Adam(Optimizer):
    """Adam, exactly as ``torch.optim.Adam``.

    For each parameter θ with gradient g, at step t (β₁, β₂ = betas, η = lr):

        g ← g + λθ                                     (weight_decay λ: L2 penalty)
        m ← β₁ m + (1 − β₁) g
        v ← β₂ v + (1 − β₂) g²
        v̂ ← max(v̂, v) if amsgrad, else v
        θ ← θ − η/(1 − β₁ᵗ) · m / (√v̂ / √(1 − β₂ᵗ) + ε)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False):
        check_non_negative("learning rate", lr)
        check_non_negative("epsilon value", eps)
        check_non_negative("weight_decay value", weight_decay)
        check_beta("beta at index 0", betas[0])
        check_beta("beta at index 1", betas[1])
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def _decay(self, p, g, group):
        """Adam's weight decay is an L2 term added to the gradient."""
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.array
        return g

    def _update(self, p, g, state, group):
        if group["maximize"]:
            g = -g
        g = self._decay(p, g, group)
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = _xp.zeros_like(p.array)
            state["exp_avg_sq"] = _xp.zeros_like(p.array)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = _xp.zeros_like(p.array)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (g - m) * (1 - beta1)              # m ← m + (1 − β₁)(g − m), as torch's lerp
        v *= beta2
        v += (1 - beta2) * g * g
        if group["amsgrad"]:
            _xp.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        step_size = group["lr"] / (1 - beta1**t)
        denom = _xp.sqrt(v) / math.sqrt(1 - beta2**t) + group["eps"]
        p.array -= step_size * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay, exactly as ``torch.optim.AdamW``.

    Same as Adam, except the decay shrinks the weights directly instead of entering g:

        θ ← θ (1 − η λ),   then the Adam step with the undecayed gradient.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)

    def _decay(self, p, g, group):
        if group["weight_decay"]:
            p.array *= 1 - group["lr"] * group["weight_decay"]
        return g
