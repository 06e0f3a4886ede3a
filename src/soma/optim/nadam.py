"""NAdam and RAdam: Adam with Nesterov momentum (Dozat, 2016) and with a rectified rate
(Liu et al., 2020)."""

from soma.backend import get_xp
from soma.optim.optimizer import (
    Optimizer,
    check_betas,
    check_implementation,
    check_number,
    lerp_,
    scalar_dtype,
)
from soma.optim.registry import register_optimizer

_xp = get_xp()


def _moments(p, g, state, group):
    """The shared start of an Adam-like step: t ← t + 1, weight decay, both moments."""
    state["step"] += 1
    lr, (beta1, beta2), wd = group["lr"], group["betas"], group["weight_decay"]
    if group["maximize"]:
        g = -g
    if wd != 0:
        if group["decoupled_weight_decay"]:
            p.array *= 1 - lr * wd
        else:
            g = g + wd * p.array
    m, v = state["exp_avg"], state["exp_avg_sq"]
    lerp_(m, g, 1 - beta1, _xp.empty_like(m))
    v *= beta2
    v += (g * (1 - beta2)) * g  # as torch.addcmul_
    return g, m, v


@register_optimizer("nadam", "NAdam (Dozat 2016): Adam with Nesterov momentum", lr=3e-3)
class NAdam(Optimizer):
    """NAdam, as ``torch.optim.NAdam``.

    Adam whose step looks ahead along the momentum, with a momentum that warms up. At step t
    (lr η, betas β₁ β₂, momentum_decay ψ, weight_decay λ):

        g ← −g;  g ← g + λθ  (or θ ← θ(1 − ηλ) if decoupled)   as in Adam
        μₜ ← β₁(1 − ½·0.96^(tψ)),   μₜ₊₁ ← β₁(1 − ½·0.96^((t+1)ψ))
        Πₜ ← Πₜ₋₁ · μₜ                                         (Π₀ = 1)
        m ← m + (1 − β₁)(g − m),   v ← β₂v + (1 − β₂)g²
        d ← √(v / (1 − β₂ᵗ)) + ε
        θ ← θ − η(1 − μₜ)/(1 − Πₜ) · g/d − ημₜ₊₁/(1 − Πₜμₜ₊₁) · m/d

    State: ``step`` (t), ``mu_product`` (Πₜ, a float kept at PyTorch's scalar precision),
    ``exp_avg`` (m) and ``exp_avg_sq`` (v).

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate η.
        betas: (β₁, β₂), each in [0, 1).
        eps: ε, added to the denominator.
        weight_decay: λ, an L2 term (or decoupled decay, see below).
        momentum_decay: ψ, how fast the momentum warms up to β₁.
        decoupled_weight_decay: shrink the weights directly, as AdamW.
        maximize: ascend the objective instead of descending it.

    Example:
        >>> import soma
        >>> w = soma.nn.Parameter(soma.tensor([1.0]))
        >>> opt = NAdam([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> round(w.item(), 3)              # about lr per step at first, as Adam
        0.9
    """

    def __init__(
        self,
        params,
        lr: float = 2e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach=None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_implementation(type(self).__name__, capturable, differentiable)
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            foreach=foreach,
        )
        super().__init__(params, defaults)

    def _validate(self, group):
        check_betas("NAdam", group)
        check_number("NAdam", "weight_decay value", group["weight_decay"])
        check_number("NAdam", "momentum_decay value", group["momentum_decay"])

    def _update(self, p, g, state, group):
        if not state:
            state["step"] = 0.0
            state["mu_product"] = 1.0
            state["exp_avg"] = _xp.zeros_like(p.array)
            state["exp_avg_sq"] = _xp.zeros_like(p.array)
        g, m, v = _moments(p, g, state, group)
        t, lr, psi = state["step"], group["lr"], group["momentum_decay"]
        beta1, beta2 = group["betas"]
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (t * psi)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * psi)))
        # NOTE: PyTorch keeps Π in a float32 tensor (unless the default dtype is float64) and
        # multiplies there, μₜ rounded first.
        dtype = scalar_dtype()
        mu_product = state["mu_product"] = float(dtype(state["mu_product"]) * dtype(mu))
        denom = _xp.sqrt(v / (1 - beta2**t))
        denom = denom + group["eps"]
        p.array += (g * (-lr * (1.0 - mu) / (1.0 - mu_product))) / denom
        p.array += (m * ((-lr * mu_next) / (1.0 - mu_product * mu_next))) / denom


@register_optimizer("radam", "RAdam (Liu et al. 2020): Adam with a rectified rate", lr=1e-2)
class RAdam(Optimizer):
    """RAdam, as ``torch.optim.RAdam``.

    Adam whose adaptive rate is switched on only once the variance of v is tractable, and
    then rectified. At step t (lr η, betas β₁ β₂, weight_decay λ):

        g ← −g;  g ← g + λθ  (or θ ← θ(1 − ηλ) if decoupled)   as in Adam
        m ← m + (1 − β₁)(g − m),   v ← β₂v + (1 − β₂)g²
        m̂ ← m / (1 − β₁ᵗ)
        ρ∞ ← 2/(1 − β₂) − 1,   ρₜ ← ρ∞ − 2tβ₂ᵗ/(1 − β₂ᵗ)
        if ρₜ > 5:  r ← √((ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ))
                    θ ← θ − η m̂ · √(1 − β₂ᵗ)/(√v + ε) · r
        otherwise:  θ ← θ − η m̂                               (plain momentum SGD)

    State: ``step`` (t), ``exp_avg`` (m) and ``exp_avg_sq`` (v).

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate η.
        betas: (β₁, β₂), each in [0, 1).
        eps: ε, added to the denominator.
        weight_decay: λ, an L2 term (or decoupled decay, see below).
        decoupled_weight_decay: shrink the weights directly, as AdamW.
        maximize: ascend the objective instead of descending it.

    Example:
        >>> import soma
        >>> w = soma.nn.Parameter(soma.tensor([1.0]))
        >>> opt = RAdam([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> round(w.item(), 4)              # ρ₁ = 1 ≤ 5: a plain step of η·g
        0.8
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach=None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_implementation(type(self).__name__, capturable, differentiable)
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            foreach=foreach,
        )
        super().__init__(params, defaults)

    def _validate(self, group):
        check_betas("RAdam", group)
        check_number("RAdam", "weight_decay value", group["weight_decay"])

    def _update(self, p, g, state, group):
        if not state:
            state["step"] = 0.0
            state["exp_avg"] = _xp.zeros_like(p.array)
            state["exp_avg_sq"] = _xp.zeros_like(p.array)
        g, m, v = _moments(p, g, state, group)
        t, lr = state["step"], group["lr"]
        beta1, beta2 = group["betas"]
        bias_correction2 = 1 - beta2**t
        m_hat = m / (1 - beta1**t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * (beta2**t) / bias_correction2
        if rho_t > 5.0:
            rect = (
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            ) ** 0.5
            adaptive = bias_correction2**0.5 / (_xp.sqrt(v) + group["eps"])
            p.array -= m_hat * lr * adaptive * rect
        else:
            p.array -= m_hat * lr
