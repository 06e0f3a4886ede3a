"""``Optimizer``: parameter groups, per-parameter state, and one update rule per subclass.

A subclass passes its hyperparameters to ``__init__`` as ``defaults``, checks a group's values
in ``_validate(group)`` (called for the defaults and for every group added), and implements
``_update(p, g, state, group)``: the update of one parameter ``p`` (its ``.array`` changed in
place) from its gradient array ``g``, with ``state`` the parameter's dict of saved values,
filled lazily on the first update. ``step()`` calls it for every parameter with a gradient.
"""

import copy
import numbers
import warnings
from collections import defaultdict

from soma.autograd.grad_mode import enable_grad, no_grad
from soma.autograd.tensor import Tensor
from soma.backend import get_default_dtype, get_xp

_xp = get_xp()

_SET_MESSAGE = (
    "{}: parameters must be in an ordered collection (a list), not a set, whose "
    "order changes between runs"
)


class Optimizer:
    """Base class: ``param_groups`` (dicts of parameters and hyperparameters) and ``state``.

    Args:
        params: an iterable of Tensors, of ``(name, Tensor)`` pairs (``named_parameters()``),
            or of dicts, each a parameter group with a ``"params"`` entry and optional
            hyperparameters that override ``defaults`` for that group.
        defaults: the hyperparameters of groups that do not set their own.
    """

    def __init__(self, params, defaults: dict) -> None:
        name = type(self).__name__
        self.defaults = dict(defaults)
        self._validate(self.defaults)
        self.state = defaultdict(dict)
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params should be an iterable of Tensors or dicts, but got a Tensor; "
                "pass model.parameters() or [tensor]"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(_SET_MESSAGE.format(name))
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def _validate(self, group: dict) -> None:
        """Raise a clear error for out-of-range hyperparameters (subclasses check theirs)."""

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyperparameters (the rest from ``defaults``).

        Useful to train layers that were frozen so far, or to give layers different rates.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: param_group must be a dict, but got {type(param_group)}")
        if "params" not in param_group:
            raise ValueError(
                f"{name}: a parameter group needs a 'params' entry, got keys {sorted(param_group)}"
            )
        params, names = _split_names(name, param_group["params"])
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{name}: can only optimize Tensors, but one of the params is "
                    f"{type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor")
        group = {**param_group, "params": params}
        if names:
            group["param_names"] = names
        for key, default in self.defaults.items():
            group.setdefault(key, default)
        self._validate(group)
        if len({id(p) for p in params}) != len(params):
            warnings.warn(
                f"{name}: a parameter group contains the same parameter twice", stacklevel=2
            )
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        named = "param_names" in group
        if self.param_groups and named != ("param_names" in self.param_groups[0]):
            raise ValueError(f"{name}: all parameter groups should be with or without names")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set them to None (the default) or fill them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif p.grad.array.flags.writeable:
                    p.grad.array.fill(0)
                else:
                    p.grad.array = _xp.zeros_like(p.grad.array)

    @no_grad()
    def step(self, closure=None):
        """Update every parameter that has a gradient.

        Args:
            closure: optional callable that re-evaluates the model and returns the loss; it
                runs (with gradients enabled) before the update.

        Returns:
            the closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._opt_called = True  # lets a scheduler check that step() came before its own step
        state = self.state
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad.array, state[p], group)
                    p._bump_version()  # an in-place change: graphs that saved p now raise
        return loss

    def _update(self, p: Tensor, g, state: dict, group: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not implement _update")

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """The optimizer's state, laid out as PyTorch's.

        ``{"state": {index: {name: value}}, "param_groups": [{hyperparameters, "params":
        [index, ...]}]}``, with parameters numbered in group order. State arrays come as Tensors
        sharing memory with the optimizer's state (as in PyTorch: copy or serialize them to
        freeze them); counters come as Python numbers.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {}
        for p, values in self.state.items():
            if values and id(p) in index:
                state[index[id(p)]] = {k: _export(v) for k, v in values.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters and state saved by ``state_dict``.

        Also accepts a PyTorch optimizer's ``state_dict()`` whose tensors were converted to
        NumPy arrays (or anything ``numpy.asarray`` reads). Arrays are copied and cast to their
        parameter's dtype; 0-d arrays (such as ``step``) become Python numbers.
        """
        name = type(self).__name__
        saved_groups = copy.deepcopy(list(state_dict["param_groups"]))
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter "
                f"groups, the optimizer has {len(self.param_groups)}"
            )
        by_index = {}
        for i, (mine, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {i} has {len(saved['params'])} "
                    f"parameters in the state dict but {len(mine['params'])} in the optimizer"
                )
            by_index.update(zip((int(k) for k in saved["params"]), mine["params"]))
        state = defaultdict(dict)
        for key, values in state_dict["state"].items():
            if int(key) not in by_index:
                raise ValueError(
                    f"{name}.load_state_dict: state for parameter {key}, which is "
                    "in no parameter group"
                )
            p = by_index[int(key)]
            state[p] = {k: _restore(name, key, k, v, p) for k, v in values.items()}
        groups = []
        for mine, saved in zip(self.param_groups, saved_groups):
            saved["params"] = mine["params"]
            if "param_names" in mine and "param_names" not in saved:
                saved["param_names"] = mine["param_names"]
            for k, default in self.defaults.items():
                saved.setdefault(k, default)
            groups.append(saved)
        self.state = state
        self.param_groups = groups

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {group[k]}" for k in sorted(group) if k != "params")
        return "\n".join(lines) + "\n)"


def _split_names(owner, params):
    """The parameters of a group as a list, and their names if given as (name, tensor) pairs."""
    if isinstance(params, Tensor):
        return [params], []
    if isinstance(params, (set, frozenset)):
        raise TypeError(_SET_MESSAGE.format(owner))
    params = list(params)
    named = [p for p in params if isinstance(p, tuple)]
    if not named:
        return params, []
    if len(named) != len(params):
        raise ValueError(f"{owner}: give all parameters with names or none")
    return [p for _, p in named], [n for n, _ in named]


def _export(value):
    """A state value as ``state_dict`` hands it out: arrays wrapped (not copied) as Tensors."""
    if isinstance(value, _xp.ndarray):
        return Tensor._wrap(value)
    return value


def _restore(owner, index, key, value, p):
    """A loaded state value, as the optimizer keeps it: an owned array or a Python number."""
    if value is None or isinstance(value, (numbers.Number, str)):
        return value
    if isinstance(value, Tensor):
        value = value.array
    elif not hasattr(value, "__array__") and not isinstance(value, _xp.ndarray):
        return copy.deepcopy(value)
    array = _xp.asarray(value)
    if array.ndim == 0:
        return array.item()
    if array.shape != p.array.shape:
        raise ValueError(
            f"{owner}.load_state_dict: state '{key}' of parameter {index} has shape "
            f"{tuple(array.shape)}, but the parameter has shape {tuple(p.array.shape)}"
        )
    if array.dtype.kind == "f" and p.array.dtype.kind == "f":
        return array.astype(p.array.dtype, copy=True)
    return array.copy()


def check_implementation(owner: str, capturable: bool, differentiable: bool) -> None:
    """Refuse the PyTorch implementation switches that would change what a step means.

    (``foreach`` and ``fused``, which only choose among PyTorch's kernels for the same update,
    are accepted by every optimizer and ignored: soma has one NumPy implementation, PyTorch's
    single-tensor rule.) ``capturable`` (CUDA graphs) and ``differentiable`` (autograd through ``step``) ask for
    behaviour soma does not have, so ``True`` is an error rather than silently ignored.
    """
    for name, value in (("capturable", capturable), ("differentiable", differentiable)):
        if value:
            raise ValueError(
                f"{owner}: {name}=True is not supported by soma (its steps run "
                "outside autograd, on the CPU)"
            )


def check_number(
    owner: str, name: str, value, low: float = 0.0, high: float = None, high_open: bool = False
) -> None:
    """Raise a ValueError naming ``owner`` unless ``low <= value <= high`` (``< high``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r}")
    below_high = high is None or (value < high if high_open else value <= high)
    if not (value >= low and below_high):  # also rejects NaN
        allowed = f">= {low}" if high is None else f"in [{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{owner}: invalid {name}: {value} (must be {allowed})")


def lerp_(a, b, weight: float, tmp):
    """a ← a + w(b − a), in place, rounded as ``torch.lerp_`` (``tmp``: scratch like ``a``)."""
    _xp.subtract(b, a, out=tmp)
    if abs(weight) < 0.5:
        tmp *= weight
        a += tmp
    else:  # NOTE: torch's second form, exact at w = 1; keep it for matching roundings.
        tmp *= 1 - weight
        _xp.subtract(b, tmp, out=a)


def scalar_dtype():
    """The dtype PyTorch keeps an optimizer's scalar state in (``eta``, ``mu``, ``mu_product``).

    float64 when the default dtype is float64, float32 otherwise (PyTorch's
    ``_get_scalar_dtype``); soma keeps such values as Python floats rounded to it, so that a
    trajectory matches PyTorch's to the last bit the rounding decides.
    """
    return _xp.float64 if get_default_dtype() == _xp.float64 else _xp.float32


def round_scalar(value: float) -> float:
    """``value`` rounded to ``scalar_dtype()``, as a Python float."""
    return float(_xp.asarray(value, dtype=scalar_dtype()))


def check_betas(owner: str, group: dict) -> None:
    """Check ``lr``, ``eps`` and the pair ``betas`` of an Adam-like group."""
    check_number(owner, "learning rate", group["lr"])
    check_number(owner, "epsilon value", group["eps"])
    betas = group["betas"]
    if len(betas) != 2:
        raise ValueError(f"{owner}: betas must be a pair (beta1, beta2), got {betas}")
    for i, beta in enumerate(betas):
        check_number(owner, f"beta parameter at index {i}", beta, high=1.0, high_open=True)
