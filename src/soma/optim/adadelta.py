"""Adadelta: step sizes from the ratio of two running averages (Zeiler, 2012)."""

from soma.backend import get_xp
from soma.optim.optimizer import Optimizer, check_implementation, check_number
from soma.optim.registry import register_optimizer

_xp = get_xp()


@register_optimizer(
    "adadelta", "Adadelta (Zeiler 2012): steps from the ratio of two running RMS averages"
)
class Adadelta(Optimizer):
    """Adadelta, as ``torch.optim.Adadelta``.

    For each parameter θ with gradient g (lr η, decay ρ, weight_decay λ):

        g ← −g                                  if maximize
        g ← g + λθ                              if λ ≠ 0
        v ← ρv + (1 − ρ)g²                      running average of squared gradients
        Δ ← √(u + ε) / √(v + ε) · g             the step, in the units of θ
        u ← ρu + (1 − ρ)Δ²                      running average of squared steps
        θ ← θ − ηΔ

    The ratio √(u + ε)/√(v + ε) gives each coordinate its own step size, with no global rate
    to tune (η = 1 is the method as published). State: ``step`` (a float), ``square_avg`` (v)
    and ``acc_delta`` (u).

    Args:
        params: parameters or parameter groups to optimize.
        lr: η, a factor on the step (1.0 in the paper).
        rho: ρ, the decay of both running averages, in [0, 1].
        eps: ε, added inside both square roots.
        weight_decay: L2 penalty λ.
        maximize: ascend the objective instead of descending it.

    Example:
        >>> import soma
        >>> w = soma.nn.Parameter(soma.tensor([1.0]))
        >>> opt = Adadelta([w], rho=0.5, eps=1e-2)
        >>> (w * w).sum().backward(); opt.step()
        >>> round(w.item(), 4)              # 1 − √0.01/√(0.5·4 + 0.01) · 2
        0.8589
    """

    def __init__(
        self,
        params,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach=None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_implementation(type(self).__name__, capturable, differentiable)
        defaults = dict(
            lr=lr,
            rho=rho,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            foreach=foreach,
        )
        super().__init__(params, defaults)

    def _validate(self, group):
        check_number("Adadelta", "learning rate", group["lr"])
        check_number("Adadelta", "rho value", group["rho"], high=1.0)
        check_number("Adadelta", "epsilon value", group["eps"])
        check_number("Adadelta", "weight_decay value", group["weight_decay"])

    def _update(self, p, g, state, group):
        if not state:
            state["step"] = 0.0
            state["square_avg"] = _xp.zeros_like(p.array)
            state["acc_delta"] = _xp.zeros_like(p.array)
        state["step"] += 1
        rho, eps = group["rho"], group["eps"]
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p.array
        v, u = state["square_avg"], state["acc_delta"]
        v *= rho
        v += (g * (1 - rho)) * g  # as torch.addcmul_
        std = _xp.sqrt(v + eps)
        delta = _xp.sqrt(u + eps) / std * g
        u *= rho
        u += (delta * (1 - rho)) * delta
        p.array += delta * -group["lr"]
