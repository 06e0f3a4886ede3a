"""Weight initialisation, as in ``torch.nn.init``: every function fills a tensor in place.

Fan-in/fan-out follow PyTorch: for a weight of shape (out, in, *kernel), fan_in = in·Πkernel and
fan_out = out·Πkernel. Each function takes an optional ``generator=`` for reproducible tests.
"""

import contextlib
import functools
import math
import warnings

from soma.autograd.grad_mode import no_grad
from soma.backend import get_xp
from soma.backend import random as _random

_xp = get_xp()

_GAINS = {
    "linear": 1.0,
    "identity": 1.0,
    "conv1d": 1.0,
    "conv2d": 1.0,
    "conv3d": 1.0,
    "conv_transpose1d": 1.0,
    "conv_transpose2d": 1.0,
    "conv_transpose3d": 1.0,
    "sigmoid": 1.0,
    "tanh": 5.0 / 3,
    "relu": math.sqrt(2.0),
    "selu": 3.0 / 4,
}


_skipping = 0  # > 0 inside ``no_init()``: the fill functions below leave tensors as they are


def _skippable(fill):
    """Make an initialiser do nothing inside ``no_init()`` (the tensor is returned untouched)."""

    @functools.wraps(fill)
    def maybe_fill(tensor, *args, **kwargs):
        return tensor if _skipping else fill(tensor, *args, **kwargs)

    return maybe_fill


@contextlib.contextmanager
def no_init():
    """Within this block, every initialiser here leaves its tensor untouched.

    Modules built inside it keep whatever memory ``empty`` gave their parameters: use it to
    count the parameters of a large model cheaply (``nn.utils.skip_init`` builds one module this
    way), or to build layers whose weights are drawn once, afterwards, by a model's own scheme.

    Example:
        >>> import soma
        >>> with no_init():
        ...     layer = soma.nn.Linear(4096, 4096)   # no random draws
        >>> sum(p.numel() for p in layer.parameters())
        16781312
    """
    global _skipping
    _skipping += 1
    try:
        yield
    finally:
        _skipping -= 1


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended scale for weights feeding ``nonlinearity`` (e.g. √2 for ReLU).

    Example:
        >>> round(calculate_gain("leaky_relu", 0.2), 6)
        1.386750
    """
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity not in _GAINS:
        raise ValueError(
            f"calculate_gain: unsupported nonlinearity '{nonlinearity}'; known: {sorted(_GAINS) + ['leaky_relu']}"
        )
    return _GAINS[nonlinearity]


def _calculate_fan_in_and_fan_out(tensor):
    if tensor.ndim < 2:
        raise ValueError(
            f"fan in and fan out can not be computed for a tensor with fewer than 2 dimensions "
            f"(shape {tuple(tensor.shape)})"
        )
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor, mode):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return fan_in if mode == "fan_in" else fan_out


@_skippable
@no_grad()
def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with U(a, b) (PyTorch's numbers for the same seed)."""
    return tensor.uniform_(a, b, generator=generator)


@_skippable
@no_grad()
def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with N(mean, std²) (PyTorch's numbers for the same seed)."""
    return tensor.normal_(mean, std, generator=generator)


@_skippable
@no_grad()
def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill with N(mean, std²) truncated to [a, b], by PyTorch's two rejection samplers (so the
    same seed gives the same values). With P = Φ(β) − Φ(α) the mass inside, α = (a − mean)/std,
    β = (b − mean)/std, Φ(z) = (1 + erf(z/√2))/2:

    * P > 0.3: normal draws; the values outside [a, b] are replaced by those of a fresh draw
      of the whole tensor, until none is left outside;
    * else: uniform proposals x on [a, b], each accepted when ln u ≤ −((x − mean)/std)²/2 − ln
      peak (u uniform on [0, 1), peak the density's top inside [a, b]), pending ones proposed
      again.
    """

    def cdf(z):
        return (1.0 + math.erf(z / math.sqrt(2.0))) / 2.0

    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
            "The distribution of values may be incorrect.",
            stacklevel=3,
        )
    dtype = tensor.array.dtype
    if cdf((b - mean) / std) - cdf((a - mean) / std) > 0.3:
        low, high = dtype.type(a), dtype.type(b)
        tensor.normal_(mean, std, generator=generator)
        while True:
            outside = (tensor.array < low) | (tensor.array > high)
            if not outside.any():
                return tensor
            fresh = _draw_like(tensor, "normal_", mean, std, generator)
            tensor._fill_with(_xp.where(outside, fresh, tensor.array))

    log_peak = -0.5 * ((max(a, min(mean, b)) - mean) / std) ** 2

    def log_density(x):  # in the tensor's dtype, step by step as PyTorch's in-place ops
        return (((x - dtype.type(mean)) / dtype.type(std)) ** 2 * dtype.type(-0.5)) - dtype.type(
            log_peak
        )

    def rejected(x):
        return _xp.log(_draw_like(tensor, "uniform_", 0.0, 1.0, generator)) > log_density(x)

    tensor.uniform_(a, b, generator=generator)
    result = tensor.array.copy()
    pending = rejected(result)
    while pending.any():
        proposals = _draw_like(tensor, "uniform_", a, b, generator)
        result = _xp.where(pending, proposals, result)
        pending = _xp.where(pending, rejected(proposals), pending)
    return tensor._fill_with(result)


def _draw_like(tensor, fill, first, second, generator):
    """A fresh array of ``tensor``'s shape and dtype filled by its ``fill`` method."""
    fresh = tensor.new_empty(tuple(tensor.shape))
    return getattr(fresh, fill)(first, second, generator=generator).array


@_skippable
@no_grad()
def constant_(tensor, val):
    return tensor._fill_with(val)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


@_skippable
@no_grad()
def eye_(tensor):
    if tensor.ndim != 2:
        raise ValueError(f"eye_ expects a 2-D tensor, got shape {tuple(tensor.shape)}")
    return tensor._fill_with(_xp.eye(*tensor.shape))


@_skippable
@no_grad()
def dirac_(tensor, groups=1):
    """Fill a conv weight (out, in, *k) so the convolution is the identity on the first channels."""
    out_per_group = tensor.shape[0] // groups
    values = _xp.zeros(tensor.shape)
    centre = tuple(k // 2 for k in tensor.shape[2:])
    for g in range(groups):
        for d in range(min(out_per_group, tensor.shape[1])):
            values[(g * out_per_group + d, d) + centre] = 1
    return tensor._fill_with(values)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot: U(−a, a) with a = gain·√(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot: N(0, σ²) with σ = gain·√(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He: U(−b, b) with b = gain·√(3 / fan), gain from ``calculate_gain(nonlinearity, a)``."""
    fan = _fan(tensor, mode)
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan) if fan else 0.0
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He: N(0, σ²) with σ = gain / √fan."""
    fan = _fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan) if fan else 0.0
    return normal_(tensor, 0.0, std, generator)


@_skippable
@no_grad()
def sparse_(tensor, sparsity, std=0.01, generator=None):
    """A 2-D tensor as a sparse matrix (Martens, 2010): N(0, std²) values, then in every column
    ⌈sparsity · rows⌉ entries, chosen by a random permutation of the rows, set to zero. As in
    PyTorch, the permutations come from the global generator even when ``generator`` is given
    (it draws the values)."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tensor.shape
    zeros_per_column = math.ceil(sparsity * rows)
    tensor.normal_(0, std, generator=generator)
    values = tensor.array.copy()
    stream = _random.stream(None)
    for column in range(cols):
        values[stream.permutation(rows)[:zeros_per_column], column] = 0
    return tensor._fill_with(values)


@_skippable
@no_grad()
def orthogonal_(tensor, gain=1.0, generator=None):
    """Fill with a (semi-)orthogonal matrix, scaled by ``gain`` (Saxe et al., 2013)."""
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = tensor.new_empty((rows, cols)).normal_(0, 1, generator=generator).array
    if rows < cols:
        flat = flat.T
    q, r = _xp.linalg.qr(flat)
    q *= _xp.sign(_xp.diag(r))
    if rows < cols:
        q = q.T
    return tensor._fill_with(gain * q.reshape(tensor.shape))
