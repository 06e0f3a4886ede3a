"""Adamax: Adam with the infinity norm in place of the second moment (Kingma & Ba, 2015)."""

from soma.backend import get_xp
from soma.optim.optimizer import (
    Optimizer,
    check_betas,
    check_implementation,
    check_number,
    lerp_,
)
from soma.optim.registry import register_optimizer

_xp = get_xp()


@register_optimizer("adamax", "Adamax (Kingma & Ba 2015): Adam with the infinity norm", lr=3e-3)
class Adamax(Optimizer):
    """Adamax, as ``torch.optim.Adamax``.

    For each parameter θ with gradient g, at step t (lr η, betas β₁ β₂, weight_decay λ):

        g ← −g                                  if maximize
        g ← g + λθ                              if λ ≠ 0
        m ← m + (1 − β₁)(g − m)                 first moment
        u ← max(β₂u, |g| + ε)                   exponentially weighted infinity norm
        θ ← θ − η/(1 − β₁ᵗ) · m / u

    State: ``step`` (t, a float), ``exp_avg`` (m) and ``exp_inf`` (u).

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate η.
        betas: (β₁, β₂), each in [0, 1).
        eps: ε, added to |g| (so u is never 0).
        weight_decay: L2 penalty λ.
        maximize: ascend the objective instead of descending it.

    Example:
        >>> import soma
        >>> w = soma.nn.Parameter(soma.tensor([1.0, -3.0]))
        >>> opt = Adamax([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> [round(v, 4) for v in w.tolist()]   # the first step moves each weight by lr
        [0.9, -2.9]
    """

    def __init__(
        self,
        params,
        lr: float = 2e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach=None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        check_implementation(type(self).__name__, capturable, differentiable)
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            foreach=foreach,
        )
        super().__init__(params, defaults)

    def _validate(self, group):
        check_betas(type(self).__name__, group)
        check_number(type(self).__name__, "weight_decay value", group["weight_decay"])

    def _update(self, p, g, state, group):
        if not state:
            state["step"] = 0.0
            state["exp_avg"] = _xp.zeros_like(p.array)
            state["exp_inf"] = _xp.zeros_like(p.array)
        state["step"] += 1
        (beta1, beta2), t = group["betas"], state["step"]
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p.array
        m, u = state["exp_avg"], state["exp_inf"]
        lerp_(m, g, 1 - beta1, _xp.empty_like(m))
        u *= beta2
        _xp.maximum(u, _xp.abs(g) + group["eps"], out=u)
        clr = group["lr"] / (1 - beta1**t)
        p.array += (m * -clr) / u  # as torch.addcdiv_
