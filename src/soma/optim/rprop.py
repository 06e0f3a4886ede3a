"""Rprop: a step per weight that grows while its derivative keeps its sign (Riedmiller, 1993)."""

from soma.backend import get_xp
from soma.optim.optimizer import Optimizer, check_implementation, check_number
from soma.optim.registry import register_optimizer

_xp = get_xp()


@register_optimizer(
    "rprop", "Rprop (Riedmiller 1993): a step per weight, grown while the sign holds"
)
class Rprop(Optimizer):
    """Resilient backpropagation, as ``torch.optim.Rprop``.

    The lectures' "separate and adaptive step length η for each weight": if the derivative
    has the same sign in consecutive steps, that weight's step grows; if the sign changes,
    the step shrinks (the last step overshot a minimum). Only the sign of the gradient is
    used, never its size. For each parameter θ with gradient g (factors η₋ < 1 < η₊, step
    bounds Δmin, Δmax):

        g ← −g                                  if maximize
        s ← sign(g · g_prev)
        Δ ← clamp(Δ · η₊, Δmin, Δmax)           where s > 0   (same sign: speed up)
        Δ ← clamp(Δ · η₋, Δmin, Δmax), g ← 0    where s < 0   (sign change: slow down, and
                                                               skip this step)
        θ ← θ − sign(g) · Δ
        g_prev ← g

    Δ starts at the learning rate. State: ``step`` (a float), ``prev`` (g_prev) and
    ``step_size`` (Δ). Rprop is meant for full-batch gradients: minibatch noise flips signs.

    Args:
        params: parameters or parameter groups to optimize.
        lr: the initial step Δ of every weight.
        etas: (η₋, η₊), the factors a step shrinks and grows by; 0 < η₋ < 1 < η₊.
        step_sizes: (Δmin, Δmax), the bounds of every step.
        maximize: ascend the objective instead of descending it.

    Example:
        >>> import soma
        >>> w = soma.nn.Parameter(soma.tensor([1.0, -1.0]))
        >>> opt = Rprop([w], lr=0.1)
        >>> for _ in range(2):
        ...     opt.zero_grad(); (w * w).sum().backward(); opt.step()
        >>> w.tolist()                      # steps of 0.1, then 0.1·1.2
        [0.78, -0.78]
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        etas: tuple = (0.5, 1.2),
        step_sizes: tuple = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach=None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_implementation(type(self).__name__, capturable, differentiable)
        defaults = dict(
            lr=lr,
            etas=etas,
            step_sizes=step_sizes,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            foreach=foreach,
        )
        super().__init__(params, defaults)

    def _validate(self, group):
        check_number("Rprop", "learning rate", group["lr"])
        etas, sizes = group["etas"], group["step_sizes"]
        if len(etas) != 2 or not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Rprop: invalid eta values: {tuple(etas)} (need 0 < η₋ < 1 < η₊)")
        if len(sizes) != 2 or not 0.0 <= sizes[0] <= sizes[1]:
            raise ValueError(
                f"Rprop: invalid step_sizes: {tuple(sizes)} (need 0 <= minimum <= maximum)"
            )

    def _update(self, p, g, state, group):
        if not state:
            state["step"] = 0.0
            state["prev"] = _xp.zeros_like(p.array)
            state["step_size"] = _xp.full_like(p.array, group["lr"])
        state["step"] += 1
        (eta_minus, eta_plus), (size_min, size_max) = group["etas"], group["step_sizes"]
        if group["maximize"]:
            g = -g
        prev, step_size = state["prev"], state["step_size"]
        sign = _xp.sign(g * prev)
        factor = _xp.ones_like(step_size)  # in θ's dtype, as torch's sign tensor
        factor[sign > 0] = eta_plus
        factor[sign < 0] = eta_minus
        step_size *= factor
        _xp.clip(step_size, size_min, size_max, out=step_size)
        g = _xp.where(sign < 0, 0, g).astype(p.array.dtype, copy=False)
        p.array -= _xp.sign(g) * step_size
        prev[...] = g
