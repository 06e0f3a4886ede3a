"""``Optimizer``: parameter groups, per-parameter state, and one update rule per subclass.

A subclass validates its hyperparameters, passes them as ``defaults``, and implements
``_update(p, g, state, group)``: the update of one parameter ``p`` (its array changed in place)
from its gradient array ``g``. ``step()`` calls it for every parameter that has a gradient.
"""

import copy
from collections import defaultdict

from soma.autograd.grad_mode import no_grad
from soma.autograd.tensor import Tensor
from soma.backend import get_xp

_xp = get_xp()


class Optimizer:
    """Base class: holds ``param_groups`` (dicts of params and hyperparameters) and ``state``."""

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.state = defaultdict(dict)
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, "
                "but got a Tensor; pass model.parameters() or [tensor]"
            )
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict) -> None:
        """Add parameters with their own hyperparameters (others come from ``defaults``)."""
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        full = {**self.defaults, **group, "params": params}
        self.param_groups.append(full)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients (set to None, or to zeros)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.array = _xp.zeros_like(p.grad.array)

    @no_grad()
    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` re-evaluates the loss."""
        loss = None
        if closure is not None:
            from soma.autograd.grad_mode import enable_grad

            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad.array, self.state[p], group)
        return loss

    def _update(self, p, g, state: dict, group: dict) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """State by parameter index and groups with parameter indices, as in PyTorch."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state and self.state[p]:
                    state[index[id(p)]] = {
                        k: (Tensor._wrap(v) if isinstance(v, _xp.ndarray) else v)
                        for k, v in self.state[p].items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters and per-parameter state saved by ``state_dict``."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(groups)} parameter groups, the optimizer has {len(self.param_groups)}"
            )
        by_index = {}
        for mine, saved in zip(self.param_groups, groups):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError(
                    "loaded state dict contains a parameter group that doesn't match the size of "
                    f"optimizer's group ({len(saved['params'])} vs {len(mine['params'])} parameters)"
                )
            for p, i in zip(mine["params"], saved["params"]):
                by_index[i] = p
            for k, v in saved.items():
                if k != "params":
                    mine[k] = copy.deepcopy(v)
        self.state = defaultdict(dict)
        for i, values in state_dict["state"].items():
            p = by_index[int(i)]
            restored = {}
            for k, v in values.items():
                if isinstance(v, Tensor) or hasattr(v, "shape"):
                    array = v.array if isinstance(v, Tensor) else _xp.asarray(v)
                    if array.ndim and array.dtype.kind == "f":
                        array = array.astype(p.array.dtype)
                    restored[k] = array.copy() if array.ndim else array.item()
                else:
                    restored[k] = v
            self.state[p] = restored

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k != "params":
                    lines.append(f"    {k}: {group[k]}")
        return "\n".join(lines) + "\n)"


def check_non_negative(name, value):
    if value < 0:
        raise ValueError(f"Invalid {name}: {value} (must be >= 0)")


def check_beta(name, value):
    if not 0.0 <= value < 1.0:
        raise ValueError(f"Invalid {name} parameter: {value} (must be in [0, 1))")
