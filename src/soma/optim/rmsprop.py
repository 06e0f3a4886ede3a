"""RMSprop: steps scaled by a running average of squared gradients (Hinton, 2012)."""

from soma.backend import get_xp
from soma.optim.optimizer import Optimizer, check_implementation, check_number, lerp_
from soma.optim.registry import register_optimizer

_xp = get_xp()


@register_optimizer(
    "rmsprop", "RMSprop (Hinton 2012): steps scaled by a running RMS of gradients", lr=1e-3
)
class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop``.

    For each parameter θ with gradient g (lr η, smoothing α, momentum μ, weight_decay λ):

        g ← −g                          if maximize
        g ← g + λθ                      if λ ≠ 0
        v ← αv + (1 − α)g²
        ḡ ← ḡ + (1 − α)(g − ḡ)          if centered
        d ← √(v − ḡ²) + ε  if centered,  else  d ← √v + ε
        b ← μb + g/d,  θ ← θ − ηb       if μ > 0
        θ ← θ − ηg/d                    otherwise

    State: ``step`` (a float), ``square_avg`` (v), ``momentum_buffer`` (b, if μ > 0) and
    ``grad_avg`` (ḡ, if centered).

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate η.
        alpha: smoothing constant α of the squared-gradient average.
        eps: ε, added to the denominator for stability.
        weight_decay: L2 penalty λ.
        momentum: momentum factor μ.
        centered: normalize by an estimate of the gradient's variance instead of its
            second moment.
        maximize: ascend the objective instead of descending it.

    Example:
        >>> import soma
        >>> w = soma.nn.Parameter(soma.tensor([1.0]))
        >>> opt = RMSprop([w], lr=0.01, alpha=0.75)
        >>> (w * w).sum().backward(); opt.step()
        >>> round(w.item(), 4)              # 1 − 0.01·2/√(0.25·4)
        0.98
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
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
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            foreach=foreach,
        )
        super().__init__(params, defaults)

    def _validate(self, group):
        check_number("RMSprop", "learning rate", group["lr"])
        check_number("RMSprop", "epsilon value", group["eps"])
        check_number("RMSprop", "momentum value", group["momentum"])
        check_number("RMSprop", "weight_decay value", group["weight_decay"])
        check_number("RMSprop", "alpha value", group["alpha"])

    def _update(self, p, g, state, group):
        if not state:
            state["step"] = 0.0
            state["square_avg"] = _xp.zeros_like(p.array)
        momentum, alpha = group["momentum"], group["alpha"]
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = _xp.zeros_like(p.array)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = _xp.zeros_like(p.array)
        state["step"] += 1
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p.array
        v = state["square_avg"]
        # NOTE: out= keeps 0-d results arrays (NumPy returns scalars from ufuncs on 0-d arrays)
        tmp = _xp.multiply(g, 1 - alpha, out=_xp.empty_like(p.array))  # v ← αv + ((1 − α)g)g
        tmp *= g
        v *= alpha
        v += tmp
        if group["centered"]:
            grad_avg = state["grad_avg"]
            lerp_(grad_avg, g, 1 - alpha, tmp)
            avg = _xp.multiply(grad_avg, grad_avg, out=_xp.empty_like(v))
            _xp.subtract(v, avg, out=avg)
            _xp.sqrt(avg, out=avg)
        else:
            avg = _xp.sqrt(v, out=_xp.empty_like(v))
        avg += group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += g / avg
            p.array -= group["lr"] * buf
        else:
            _xp.multiply(g, -group["lr"], out=tmp)  # θ ← θ + (−η·g)/d, as torch.addcdiv_
            tmp /= avg
            p.array += tmp
