"""L1 and L2 weight penalties: the lecture's regularised loss E(w) + λ Σ|w| or E(w) + λ Σ w².

Both return a differentiable scalar to add to the loss, so the penalty's gradient (λ sign(w)
or 2λw) reaches the weights through the usual backward pass::

    loss = criterion(model(x), y) + l2_penalty(model, 1e-4)

Which parameters are penalised: a ``Module`` (or its ``named_parameters()``) contributes every
parameter except biases (names ending in ``bias``), since a bias only shifts a neuron's output
and shrinking it does not simplify the model; a plain iterable of tensors is penalised in full,
exactly as given. (``optim``'s ``weight_decay`` is the L2 penalty folded into the update instead.)
"""

from soma.autograd.factory import tensor
from soma.autograd.tensor import Tensor


def _weights(parameters):
    """The tensors to penalise: biases are skipped when their names are known."""
    if hasattr(parameters, "named_parameters"):
        parameters = parameters.named_parameters()
    chosen = []
    for item in parameters:
        if isinstance(item, tuple):
            name, p = item
            if name == "bias" or name.endswith(".bias"):
                continue
            chosen.append(p)
        else:
            chosen.append(item)
    return chosen


def _penalty(parameters, weight, term) -> Tensor:
    total = None
    for p in _weights(parameters):
        value = term(p)
        total = value if total is None else total + value
    if total is None:
        return tensor(0.0)
    return total * weight


def l1_penalty(parameters, weight: float) -> Tensor:
    """λ Σ|w| over the parameters (lasso): pushes small weights to exactly zero (sparse models).

    Args:
        parameters: a ``Module`` or its ``named_parameters()`` (biases skipped), or an iterable
            of tensors (all penalised).
        weight: λ.

    Returns:
        a differentiable 0-d tensor; its gradient is λ sign(w) (0 at w = 0).

    Example:
        >>> import soma
        >>> layer = soma.nn.Linear(2, 1)
        >>> layer.weight.data = soma.tensor([[1.0, -2.0]])
        >>> l1_penalty(layer, 0.1)  # the bias is not penalised
        tensor(0.3000, grad_fn=<MulBackward0>)
    """
    return _penalty(parameters, weight, lambda p: p.abs().sum())


def l2_penalty(parameters, weight: float) -> Tensor:
    """λ Σ w² over the parameters (ridge, weight decay): shrinks every weight towards zero.

    Args:
        parameters: a ``Module`` or its ``named_parameters()`` (biases skipped), or an iterable
            of tensors (all penalised).
        weight: λ.

    Returns:
        a differentiable 0-d tensor; its gradient is 2λw.

    Example:
        >>> import soma
        >>> w = soma.tensor([1.0, -2.0], requires_grad=True)
        >>> penalty = l2_penalty([w], 0.1)
        >>> penalty.backward()
        >>> penalty, w.grad
        (tensor(0.5000, grad_fn=<MulBackward0>), tensor([ 0.2000, -0.4000]))
    """
    return _penalty(parameters, weight, lambda p: (p * p).sum())
