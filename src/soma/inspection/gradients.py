"""Gradient diagnostics: which layer's gradients vanish, which explode.

After ``loss.backward()``, ``gradient_report(model)`` lists every layer that owns parameters with
its gradient norm, the ratio of that norm to the layer's weight norm, and a verdict:

* ``vanishing``: the layer's gradient norm is below ``vanish_ratio`` times the largest layer
  gradient norm in the model (the signal dies on its way back, as through a deep stack of
  sigmoids), or below ``vanish_below`` in absolute terms;
* ``exploding``: the gradient norm exceeds ``explode_above``, or is not finite;
* ``no gradient``: the layer's parameters received none (not used, frozen, or ``zero_grad``).

Example:
    >>> import soma
    >>> net = soma.nn.Sequential(soma.nn.Linear(2, 2), soma.nn.Sigmoid(), soma.nn.Linear(2, 1))
    >>> net(soma.ones(4, 2)).sum().backward()
    >>> [row.name for row in gradient_report(net).rows]
    ['0', '2']
"""

import math
from dataclasses import dataclass

from soma.backend import get_xp

_xp = get_xp()


@dataclass
class LayerGradient:
    """Gradient statistics of one layer's parameters."""

    name: str
    kind: str
    grad_norm: float
    weight_norm: float
    status: str

    @property
    def ratio(self) -> float:
        """‖∇W‖ / ‖W‖: how large a gradient step is relative to the weights."""
        return self.grad_norm / self.weight_norm if self.weight_norm else math.inf


class GradientReport:
    """Per-layer gradient norms and verdicts; ``str(report)`` is a table with a conclusion."""

    def __init__(self, rows):
        self.rows = rows

    @property
    def vanishing(self):
        return [r.name for r in self.rows if r.status == "vanishing"]

    @property
    def exploding(self):
        return [r.name for r in self.rows if r.status == "exploding"]

    @property
    def healthy(self) -> bool:
        return not self.vanishing and not self.exploding

    def __str__(self):
        lines = [
            f"{'layer':28s} {'type':14s} {'grad norm':>11s} {'weight norm':>12s} "
            f"{'grad/weight':>12s}  status"
        ]
        for r in self.rows:
            lines.append(
                f"{r.name:28s} {r.kind:14s} {r.grad_norm:11.3e} {r.weight_norm:12.3e} "
                f"{r.ratio:12.3e}  {r.status}"
            )
        if self.vanishing:
            lines.append(
                "Vanishing gradients in: "
                + ", ".join(self.vanishing)
                + " (try ReLU-family activations, normalisation, residual connections)"
            )
        if self.exploding:
            lines.append(
                "Exploding gradients in: "
                + ", ".join(self.exploding)
                + " (try gradient clipping, a lower learning rate, smaller initial weights)"
            )
        if self.healthy:
            lines.append("No vanishing or exploding gradients.")
        return "\n".join(lines)

    __repr__ = __str__


def _layer_norms(module):
    grad_sq = weight_sq = 0.0
    has_grad = False
    finite = True
    for p in module.parameters(recurse=False):
        weight_sq += float((p.array.astype(_xp.float64) ** 2).sum())
        if p.grad is not None:
            has_grad = True
            g = p.grad.array.astype(_xp.float64)
            finite = finite and bool(_xp.isfinite(g).all())
            grad_sq += float((g**2).sum()) if finite else math.inf
    return has_grad, finite, math.sqrt(grad_sq), math.sqrt(weight_sq)


def gradient_report(model, vanish_ratio=1e-4, vanish_below=1e-10, explode_above=1e3):
    """Diagnose the gradients currently in ``model``'s parameters (call after ``backward``).

    Args:
        model: the module whose layers are examined (each module owning parameters is a layer).
        vanish_ratio: a layer whose gradient norm is below this fraction of the largest layer
            gradient norm is flagged as vanishing.
        vanish_below: absolute gradient norm below which a layer is vanishing.
        explode_above: gradient norm above which (or a non-finite one) a layer is exploding.

    Returns:
        ``GradientReport`` with one ``LayerGradient`` row per layer, in registration order.
    """
    measured = []
    for name, module in model.named_modules():
        if not any(True for _ in module.parameters(recurse=False)):
            continue
        has_grad, finite, grad_norm, weight_norm = _layer_norms(module)
        measured.append(
            (
                name or type(module).__name__,
                type(module).__name__,
                has_grad,
                finite,
                grad_norm,
                weight_norm,
            )
        )
    largest = max((m[4] for m in measured if m[2] and m[3]), default=0.0)
    rows = []
    for name, kind, has_grad, finite, grad_norm, weight_norm in measured:
        if not has_grad:
            status = "no gradient"
        elif not finite or grad_norm > explode_above:
            status = "exploding"
        elif grad_norm < vanish_below or grad_norm < vanish_ratio * largest:
            status = "vanishing"
        else:
            status = "ok"
        rows.append(LayerGradient(name, kind, grad_norm, weight_norm, status))
    return GradientReport(rows)
