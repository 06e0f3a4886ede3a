"""L-BFGS: a quasi-Newton method that builds its curvature model from the last few steps."""

import copy

from soma.autograd.grad_mode import enable_grad, no_grad
from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.optim._line_search import strong_wolfe
from soma.optim.optimizer import Optimizer, check_number

_xp = get_xp()


class LBFGS(Optimizer):
    """Limited-memory BFGS, as ``torch.optim.LBFGS`` (after minFunc).

    One ``step(closure)`` runs up to ``max_iter`` iterations on the whole parameter vector θ
    (all parameters flattened into one), each calling ``closure()`` to re-evaluate the loss
    and its gradient g:

        d ← −H g                  H: the inverse Hessian estimated from the last m pairs
                                  sₖ = θₖ₊₁ − θₖ, yₖ = gₖ₊₁ − gₖ (two-loop recursion, scaled
                                  by sᵀy/yᵀy; a pair with sᵀy ≤ 1e-10 is skipped)
        θ ← θ + t d               t = lr, or the strong-Wolfe line search's step; the very
                                  first step is min(1, 1/‖g‖₁)·lr

    It stops early when max|g| ≤ tolerance_grad, when max|t d| or the change of the loss falls
    below tolerance_change, or after ``max_eval`` evaluations. Everything (history, last
    direction, counters) is kept in the state of the first parameter, as PyTorch does.

    Args:
        params: the parameters (one group only).
        lr: learning rate (the initial step of the line search).
        max_iter: iterations per ``step``.
        max_eval: closure evaluations per ``step`` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when the largest gradient entry is this small.
        tolerance_change: stop when the step or the loss change is this small.
        history_size: m, the number of (s, y) pairs kept.
        line_search_fn: ``None`` (fixed step) or ``"strong_wolfe"``.

    Example:
        >>> import soma
        >>> w = soma.nn.Parameter(soma.tensor([3.0, -1.0], dtype=soma.float64))
        >>> opt = LBFGS([w], line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = ((w - 1) ** 2).sum() + (w[0] * w[1]) ** 2
        ...     loss.backward()
        ...     return loss
        >>> loss = opt.step(closure)
        >>> [round(v, 4) for v in w.tolist()]
        [0.6823, 0.6823]
    """

    def __init__(
        self,
        params,
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str = None,
    ) -> None:
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(
            lr=lr,
            max_iter=max_iter,
            max_eval=max_eval,
            tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change,
            history_size=history_size,
            line_search_fn=line_search_fn,
        )
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def _validate(self, group):
        check_number("LBFGS", "learning rate", group["lr"])
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(
                f"LBFGS: line_search_fn must be None or 'strong_wolfe', "
                f"got {group['line_search_fn']!r}"
            )

    def add_param_group(self, param_group: dict) -> None:
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    # ------------------------------------------------------------------ the flat vector
    def _gather_flat_grad(self):
        views = []
        for p in self._params:
            if p.grad is None:
                views.append(_xp.zeros(p.array.size, dtype=p.array.dtype))
            else:
                views.append(_xp.asarray(p.grad.array).reshape(-1))
        return _xp.concatenate(views)

    def _add_grad(self, step_size, update) -> None:
        offset = 0
        for p in self._params:
            n = p.array.size
            p.array += update[offset : offset + n].reshape(p.array.shape) * step_size
            offset += n

    def _directional_evaluate(self, closure, x, t, d):
        self._add_grad(t, d)
        loss = float(closure())
        flat_grad = self._gather_flat_grad()
        for p, saved in zip(self._params, x):
            p.array[...] = saved
        return loss, flat_grad

    # ------------------------------------------------------------------ one step
    @no_grad()
    def step(self, closure=None):
        """Run up to ``max_iter`` iterations; ``closure`` re-evaluates the loss (with its
        gradients) and returns it. Returns the loss of the first evaluation."""
        if closure is None:
            raise RuntimeError("LBFGS.step needs a closure that re-evaluates the loss")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]

        def evaluate():
            with enable_grad():
                return closure()

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        orig_loss = evaluate()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if abs(flat_grad).max() <= tolerance_grad:  # already optimal
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag = state.get("H_diag")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = float(y.dot(s))
                if ys > 1e-10:  # keep the pair only where the curvature is positive
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / float(y.dot(y))
                if "al" not in state:
                    state["al"] = [None] * history_size
                d = _two_loop(flat_grad, old_dirs, old_stps, ro, H_diag, state["al"])
            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(abs(flat_grad).sum())) * lr
            else:
                t = lr
            gtd = float(flat_grad.dot(d))
            if gtd > -tolerance_change:  # not a descent direction
                break
            ls_func_evals = 0
            if group["line_search_fn"] == "strong_wolfe":
                x_init = [p.array.copy() for p in self._params]

                def obj_func(x, t, d):
                    return self._directional_evaluate(evaluate, x, t, d)

                loss, flat_grad, t, ls_func_evals = strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals
                )
                self._add_grad(t, d)
                opt_cond = abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_grad(t, d)
                opt_cond = False
                if n_iter != max_iter:
                    loss = float(evaluate())
                    flat_grad = self._gather_flat_grad()
                    opt_cond = abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if abs(d * t).max() <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag)
        state.update(prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the history saved by ``state_dict`` (flat arrays, lists of them, numbers)."""
        saved = state_dict["state"]
        super().load_state_dict({**state_dict, "state": {}})
        for key, values in saved.items():
            p = self._params[int(key)]
            self.state[p] = {k: _copy_value(v) for k, v in values.items()}


def _two_loop(flat_grad, old_dirs, old_stps, ro, H_diag, al):
    """d = −H g by the two-loop recursion over the stored (s, y) pairs."""
    q = -flat_grad
    for i in range(len(old_dirs) - 1, -1, -1):
        al[i] = float(old_stps[i].dot(q)) * ro[i]
        q += old_dirs[i] * -al[i]
    r = q * H_diag
    for i in range(len(old_dirs)):
        be_i = float(old_dirs[i].dot(r)) * ro[i]
        r += old_stps[i] * (al[i] - be_i)
    return r


def _copy_value(value):
    """A loaded LBFGS state value as the optimizer keeps it (arrays copied, 0-d as floats)."""
    if isinstance(value, Tensor):
        value = value.array
    if isinstance(value, list):
        return [_copy_value(v) for v in value]
    if hasattr(value, "__array__") and not isinstance(value, (int, float)):
        array = _xp.array(value, copy=True)
        return array.item() if array.ndim == 0 else array
    return copy.deepcopy(value)
