"""Adagrad: per-coordinate step sizes from the running sum of squared gradients."""

from soma.backend import get_xp
from soma.optim.optimizer import Optimizer, check_implementation, check_number
from soma.optim.registry import register_optimizer

_xp = get_xp()


@register_optimizer(
    "adagrad", "Adagrad (Duchi et al. 2011): steps scaled by summed squared gradients", lr=1e-2
)
class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011), as ``torch.optim.Adagrad``.

    For each parameter θ with gradient g, at step t (lr η, lr_decay δ, weight_decay λ):

        g ← −g                          if maximize
        g ← g + λθ                      if λ ≠ 0
        η_t ← η / (1 + (t − 1)δ)
        s ← s + g²                      s starts at initial_accumulator_value
        θ ← θ − η_t g / (√s + ε)

    Coordinates with a large gradient history take small steps; rarely updated ones keep
    larger steps. State: ``step`` (t, a float) and ``sum`` (s).

    NOTE: the accumulator starts at the group's ``initial_accumulator_value`` and is created
    at the first step; PyTorch creates it in ``__init__`` from the constructor argument, which
    differs only for a group that sets its own value.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate η.
        lr_decay: δ, the learning rate decays as η / (1 + (t − 1)δ).
        weight_decay: L2 penalty λ.
        initial_accumulator_value: starting value of s.
        eps: ε, added to the denominator for stability.
        maximize: ascend the objective instead of descending it.

    Example:
        >>> import soma
        >>> w = soma.nn.Parameter(soma.tensor([3.0, -0.5]))
        >>> opt = Adagrad([w], lr=0.5)
        >>> (w * w).sum().backward(); opt.step()
        >>> w.tolist()                      # the first step moves every weight by lr
        [2.5, 0.0]
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
        foreach=None,
        fused=None,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_implementation(type(self).__name__, capturable, differentiable)
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            maximize=maximize,
            differentiable=differentiable,
            foreach=foreach,
            fused=fused,
        )
        super().__init__(params, defaults)

    def _validate(self, group):
        check_number("Adagrad", "learning rate", group["lr"])
        check_number("Adagrad", "lr_decay value", group["lr_decay"])
        check_number("Adagrad", "weight_decay value", group["weight_decay"])
        check_number(
            "Adagrad", "initial_accumulator_value value", group["initial_accumulator_value"]
        )
        check_number("Adagrad", "epsilon value", group["eps"])

    def _update(self, p, g, state, group):
        if not state:
            state["step"] = 0.0
            state["sum"] = _xp.full_like(p.array, group["initial_accumulator_value"])
        state["step"] += 1
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p.array
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"]
        # NOTE: out= keeps 0-d results arrays (NumPy returns scalars from ufuncs on 0-d arrays)
        tmp = _xp.multiply(g, g, out=_xp.empty_like(p.array))
        s += tmp
        std = _xp.sqrt(s, out=_xp.empty_like(s))
        std += group["eps"]
        _xp.multiply(g, -clr, out=tmp)  # θ ← θ + (−η_t·g)/std, as torch.addcdiv_
        tmp /= std
        p.array += tmp
