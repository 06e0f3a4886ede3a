"""ASGD: stochastic gradient descent with a decaying rate and a running average of the
iterates (Polyak & Juditsky, 1992)."""

from soma.backend import get_xp
from soma.optim.optimizer import Optimizer, check_implementation, check_number, round_scalar
from soma.optim.registry import register_optimizer

_xp = get_xp()


@register_optimizer(
    "asgd", "averaged SGD: a decaying rate and a running average of the weights", lr=0.05
)
class ASGD(Optimizer):
    """Averaged SGD, as ``torch.optim.ASGD``.

    For each parameter θ with gradient g, at step t (lr η₀, decay λ_d = lambd, power α,
    averaging start t₀, weight_decay λ):

        g ← −g                              if maximize
        g ← g + λθ                          if λ ≠ 0
        θ ← θ(1 − λ_d ηₜ) − ηₜ g            (η₁ = η₀)
        θ̄ ← θ̄ + μₜ(θ − θ̄)                   the average (θ̄ ← θ while μₜ = 1)
        ηₜ₊₁ ← η₀ / (1 + λ_d η₀ t)^α,   μₜ₊₁ ← 1 / max(1, t − t₀)

    The model keeps training on θ; θ̄ (``state["ax"]``) is the averaged solution, which the
    user copies into the model at the end. State: ``step`` (t), ``eta`` (ηₜ), ``mu`` (μₜ),
    both floats kept at PyTorch's scalar precision, and ``ax`` (θ̄).

    Args:
        params: parameters or parameter groups to optimize.
        lr: η₀, the initial learning rate.
        lambd: λ_d, the decay term.
        alpha: α, the power of the rate's decay.
        t0: t₀, the step at which averaging starts.
        weight_decay: L2 penalty λ.
        maximize: ascend the objective instead of descending it.

    Example:
        >>> import soma
        >>> w = soma.nn.Parameter(soma.tensor([1.0]))
        >>> opt = ASGD([w], lr=0.1, lambd=0.0)
        >>> (w * w).sum().backward(); opt.step()
        >>> round(w.item(), 4)
        0.8
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach=None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        check_implementation(type(self).__name__, capturable, differentiable)
        defaults = dict(
            lr=lr,
            lambd=lambd,
            alpha=alpha,
            t0=t0,
            weight_decay=weight_decay,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            foreach=foreach,
        )
        super().__init__(params, defaults)

    def _validate(self, group):
        check_number("ASGD", "learning rate", group["lr"])
        check_number("ASGD", "weight_decay value", group["weight_decay"])
        for name in ("lambd", "alpha", "t0"):
            check_number("ASGD", f"{name} value", group[name], low=float("-inf"))

    def _update(self, p, g, state, group):
        if not state:
            state["step"] = 0.0
            state["eta"] = round_scalar(group["lr"])
            state["mu"] = 1.0
            state["ax"] = _xp.zeros_like(p.array)
        state["step"] += 1
        t, lr, lambd = state["step"], group["lr"], group["lambd"]
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p.array
        eta, ax = state["eta"], state["ax"]
        p.array *= 1 - lambd * eta
        p.array += g * -eta
        if state["mu"] != 1:
            ax += (p.array - ax) * state["mu"]
        else:
            ax[...] = p.array
        state["eta"] = round_scalar(lr / ((1 + lambd * lr * t) ** group["alpha"]))
        state["mu"] = round_scalar(1 / max(1, t - group["t0"]))
