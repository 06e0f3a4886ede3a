"""Stochastic gradient descent, with momentum, dampening, Nesterov momentum and weight decay."""

from soma.backend import get_xp
from soma.optim import _kernels
from soma.optim.optimizer import Optimizer, check_implementation, check_number
from soma.optim.registry import register_optimizer

_xp = get_xp()


@register_optimizer(
    "sgd", "stochastic gradient descent, with momentum 0.9 here", lr=0.05, momentum=0.9
)
class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``.

    For each parameter θ with gradient g, at step t (lr η, momentum μ, dampening τ,
    weight_decay λ):

        g ← −g                          if maximize
        g ← g + λθ                      if λ ≠ 0
        b ← g                           if t = 1
        b ← μb + (1 − τ)g               otherwise        (if μ ≠ 0)
        g ← g + μb  if nesterov,  else  g ← b             (if μ ≠ 0)
        θ ← θ − ηg

    State: ``momentum_buffer`` (b), only when μ ≠ 0. The lecture's momentum
    v ← αv − εg, θ ← θ + v is the same update with v = −ηb.

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate η.
        momentum: momentum factor μ.
        dampening: dampening τ of the gradient entering the momentum buffer.
        weight_decay: L2 penalty λ.
        nesterov: use Nesterov momentum (needs μ > 0 and τ = 0).
        maximize: ascend the objective instead of descending it.

    Example:
        >>> import soma
        >>> w = soma.nn.Parameter(soma.tensor([1.0]))
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     opt.zero_grad()
        ...     (w * w).sum().backward()
        ...     opt.step()
        >>> round(w.item(), 4)      # 1 − 0.2 = 0.8, then 0.8 − 0.1·(0.9·2 + 1.6)
        0.46
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
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
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)

    def _validate(self, group):
        check_number("SGD", "learning rate", group["lr"])
        check_number("SGD", "momentum value", group["momentum"])
        check_number("SGD", "dampening value", group["dampening"], low=float("-inf"))
        check_number("SGD", "weight_decay value", group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                "SGD: Nesterov momentum requires a momentum and zero dampening "
                f"(got momentum={group['momentum']}, "
                f"dampening={group['dampening']})"
            )

    def _update(self, p, g, state, group):
        momentum = group["momentum"]
        buf = state.get("momentum_buffer") if momentum != 0 else p.array  # (unused then)
        if (
            buf is not None
            and p.array.size >= _kernels.SGD_MIN_ELEMENTS
            and _plain(group)
            and _kernels.fusable(p.array, g, *state.values())
        ):
            dt = p.array.dtype.type  # NOTE: scalars rounded to the dtype, as NumPy rounds them
            _kernels.sgd_step(
                p.array.reshape(-1),
                g.reshape(-1),
                buf.reshape(-1),
                dt(group["lr"]),
                dt(momentum),
                dt(1 - group["dampening"]),
                dt(group["weight_decay"]),
                bool(group["maximize"]),
                bool(group["nesterov"]),
                momentum != 0,
            )
            return
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p.array
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = _xp.array(
                    g, dtype=p.array.dtype
                )  # never a scalar
            else:
                buf *= momentum
                dampening = group["dampening"]
                buf += g if dampening == 0 else (1 - dampening) * g
            g = g + momentum * buf if group["nesterov"] else buf
        p.array -= group["lr"] * g


def _plain(group) -> bool:
    """True when the group's hyperparameters are Python numbers (the fused kernel's inputs)."""
    return all(
        type(group[k]) in (float, int) for k in ("lr", "momentum", "dampening", "weight_decay")
    )
