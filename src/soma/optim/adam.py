"""Adam and AdamW: adaptive moment estimation (Kingma & Ba, 2015; Loshchilov & Hutter, 2019)."""

from soma.backend import get_xp
from soma.optim import _kernels
from soma.optim.optimizer import Optimizer, check_implementation, check_number, lerp_
from soma.optim.registry import register_optimizer

_xp = get_xp()
_MOMENTS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")


@register_optimizer("adam", "Adam (Kingma & Ba 2015): adaptive first and second moments", lr=3e-3)
class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam``.

    For each parameter θ with gradient g, at step t (lr η, betas β₁ β₂, weight_decay λ):

        g ← −g                                    if maximize
        g ← g + λθ                                if λ ≠ 0 (θ ← θ(1 − ηλ) instead if decoupled)
        m ← m + (1 − β₁)(g − m)                   first moment
        v ← β₂v + (1 − β₂)g²                      second moment
        v̂ ← max(v̂, v) if amsgrad, else v̂ = v
        θ ← θ − η/(1 − β₁ᵗ) · m / (√v̂ / √(1 − β₂ᵗ) + ε)

    State: ``step`` (t, a float), ``exp_avg`` (m), ``exp_avg_sq`` (v) and, with amsgrad,
    ``max_exp_avg_sq`` (v̂).

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate η.
        betas: decay rates (β₁, β₂) of the two moment averages, each in [0, 1).
        eps: ε, added to the denominator for stability.
        weight_decay: λ; an L2 term added to the gradient (see ``AdamW`` for decoupled decay).
        amsgrad: normalize by the largest second moment seen so far (Reddi et al., 2018).
        maximize: ascend the objective instead of descending it.
        decoupled_weight_decay: shrink the weights directly, as AdamW (PyTorch's flag).

    Example:
        >>> import soma
        >>> w = soma.nn.Parameter(soma.tensor([1.0, -2.0]))
        >>> opt = Adam([w], lr=0.1)
        >>> (w * w).sum().backward(); opt.step()
        >>> [round(x, 4) for x in w.tolist()]   # the first step moves each weight by about lr
        [0.9, -1.9]
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
        foreach=None,
        fused=None,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_implementation(type(self).__name__, capturable, differentiable)
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
            capturable=capturable,
            differentiable=differentiable,
            foreach=foreach,
            fused=fused,
        )
        super().__init__(params, defaults)

    def _validate(self, group):
        name = type(self).__name__
        check_number(name, "learning rate", group["lr"])
        check_number(name, "epsilon value", group["eps"])
        if len(group["betas"]) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {group['betas']}")
        check_number(
            name, "beta parameter at index 0", group["betas"][0], high=1.0, high_open=True
        )
        check_number(
            name, "beta parameter at index 1", group["betas"][1], high=1.0, high_open=True
        )
        check_number(name, "weight_decay value", group["weight_decay"])

    def _fused_scalars(self, dtype, t, group):
        """The scalar arguments of ``_kernels.adam_step`` at step ``t``, rounded to ``dtype``.

        Every parameter of a group usually shares them: the last set is kept and reused while
        its key (dtype, step, hyperparameters) is unchanged.
        """
        lr, (beta1, beta2), wd, eps = (
            group["lr"],
            group["betas"],
            group["weight_decay"],
            group["eps"],
        )
        flags = (
            bool(group["maximize"]),
            bool(group["decoupled_weight_decay"]),
            bool(group["amsgrad"]),
        )
        key = (dtype, t, lr, beta1, beta2, wd, eps, flags)
        cached = self.__dict__.get("_fused_cache")
        if cached is not None and cached[0] == key:
            return cached[1]
        dt = dtype.type  # NOTE: scalars rounded to the dtype, as NumPy rounds them
        w1 = 1 - beta1
        scalars = (
            dt(1 - lr * wd),
            dt(wd),
            abs(w1) < 0.5,
            dt(w1),
            dt(1 - w1),
            dt(1 - beta2),
            dt(beta2),
            dt((1 - beta2**t) ** 0.5),
            dt(eps),
            dt(-(lr / (1 - beta1**t))),
            *flags,
        )
        self._fused_cache = (key, scalars)
        return scalars

    def _update(self, p, g, state, group):
        if not state:
            state["step"] = 0.0
            state["exp_avg"] = _xp.zeros_like(p.array)
            state["exp_avg_sq"] = _xp.zeros_like(p.array)
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = _xp.zeros_like(p.array)
        state["step"] += 1
        t = state["step"]
        lr, (beta1, beta2), wd = group["lr"], group["betas"], group["weight_decay"]
        fused = (
            type(lr) in (float, int)
            and type(wd) in (float, int)
            and _kernels.fusable(p.array, g, *(state[k] for k in _MOMENTS if k in state))
        )
        if not fused and group["maximize"]:
            g = -g
        if not fused and wd != 0:
            if group["decoupled_weight_decay"]:
                p.array *= 1 - lr * wd
            else:
                g = g + wd * p.array
        m, v = state["exp_avg"], state["exp_avg_sq"]
        if fused:
            vmax = state.get("max_exp_avg_sq", m)
            _kernels.adam_step(
                p.array.reshape(-1),
                g.reshape(-1),
                m.reshape(-1),
                v.reshape(-1),
                vmax.reshape(-1),
                *self._fused_scalars(p.array.dtype, t, group),
            )
            return
        tmp = _xp.empty_like(m)
        lerp_(m, g, 1 - beta1, tmp)
        _xp.multiply(g, 1 - beta2, out=tmp)  # v ← β₂v + ((1 − β₂)g)g, as torch.addcmul_
        tmp *= g
        v *= beta2
        v += tmp
        if group["amsgrad"]:
            v = _xp.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        step_size = lr / (1 - beta1**t)
        denom = _xp.sqrt(v)
        denom /= (1 - beta2**t) ** 0.5
        denom += group["eps"]
        _xp.multiply(m, -step_size, out=tmp)  # θ ← θ + (−s·m)/denom, as torch.addcdiv_
        tmp /= denom
        p.array += tmp


@register_optimizer(
    "adamw", "AdamW (Loshchilov & Hutter 2019): Adam, decoupled weight decay", lr=3e-3
)
class AdamW(Adam):
    """Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    As ``Adam``, except that the decay shrinks the weights before the step instead of entering
    the gradient (so it is not rescaled by the adaptive denominator):

        θ ← θ(1 − ηλ),  then the Adam step with the undecayed gradient.

    The default ``weight_decay`` is 0.01.

    Example:
        >>> import soma
        >>> w = soma.nn.Parameter(soma.tensor([1.0]))
        >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
        >>> (w * w).sum().backward(); opt.step()
        >>> round(w.item(), 4)              # 1·(1 − 0.05) − 0.1
        0.85
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach=None,
        fused=None,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
            foreach=foreach,
            fused=fused,
            capturable=capturable,
            differentiable=differentiable,
        )

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # AdamW stays AdamW, whatever the state dict says
            group["decoupled_weight_decay"] = True
