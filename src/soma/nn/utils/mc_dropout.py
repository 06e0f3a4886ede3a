"""Monte Carlo dropout: predictive mean and spread from dropout kept on at prediction time.

The lectures note that dropout can be used at inference, "dropping during predictions and
predicting multiple times to get a distribution" (Gal & Ghahramani's MC dropout).
"""

from soma.autograd.grad_mode import no_grad
from soma.functional.reduction import mean, std
from soma.functional.shape import stack
from soma.nn.modules.dropout import _DropoutNd


def mc_dropout_predict(model, x, n: int = 30):
    """Run ``model`` ``n`` times with only its dropout layers active; return (mean, std).

    Every other layer is in evaluation mode (batch norm uses its running statistics). The
    model's train/eval modes are restored afterwards, also when a pass raises. No graph is
    recorded.

    Args:
        model: a ``soma.nn.Module`` containing dropout layers.
        x: the input batch.
        n: number of stochastic forward passes (at least 2).

    Returns:
        (mean, std) over the passes, each shaped like one output; ``std`` is the unbiased
        standard deviation, as ``Tensor.std``.

    Example:
        >>> import soma
        >>> net = soma.nn.Sequential(soma.nn.Linear(4, 16), soma.nn.Dropout(0.5),
        ...                          soma.nn.Linear(16, 1))
        >>> m, s = mc_dropout_predict(net, soma.randn(8, 4), n=20)
        >>> tuple(m.shape), bool((s > 0).all()), net.training
        ((8, 1), True, True)
    """
    if n < 2:
        raise ValueError(f"mc_dropout_predict: n must be at least 2 to estimate a spread, got {n}")
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        for m in model.modules():
            if isinstance(m, _DropoutNd):
                m.training = True
        with no_grad():
            samples = stack([model(x) for _ in range(n)])
    finally:
        for m, mode in modes:
            m.training = mode
    return mean(samples, 0), std(samples, 0)
