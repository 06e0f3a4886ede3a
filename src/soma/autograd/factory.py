"""Creating tensors: from data, filled with constants, ranges, and random numbers.

Floating factories give the default dtype (float32 unless changed); Python integers give int64;
random factories draw from the global generator (``soma.manual_seed``) or ``generator=``.
"""

import math
import numbers

from soma.autograd import memory_format as _formats
from soma.autograd.function import mark_viewed
from soma.autograd.tensor import Size, Tensor
from soma.backend import dtypes, get_xp
from soma.backend import random as _random
from soma.backend.device import check_available

_xp = get_xp()


def _shape(size, keyword=None):
    """The shape from ``f(2, 3)``, ``f((2, 3))`` or PyTorch's keyword form ``f(size=(2, 3))``."""
    if keyword is not None:
        if size:
            raise TypeError("pass the sizes either positionally or as size=, not both")
        size = (keyword,)
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, numbers.Integral) or s < 0:
            raise ValueError(f"sizes must be non-negative integers, got {tuple(size)}")
    return tuple(int(s) for s in size)


def _finish(array, dtype, requires_grad, device):
    if device is not None:
        check_available(device)
    if dtype is not None:
        with _xp.errstate(over="ignore"):  # as PyTorch: 3e8 in float16 is inf, without a warning
            array = array.astype(dtypes.to_dtype(dtype), copy=False)
    if requires_grad and array.dtype.kind != "f":
        raise RuntimeError(
            f"only tensors of floating point dtype can require gradients, got {array.dtype}"
        )
    return Tensor._wrap(array, requires_grad)


def _infer_array(data, exact=False):
    """An array from nested lists/numbers/tensors, with PyTorch's dtype inference.

    ``exact``: a dtype will be applied next; keep Python floats in float64 until then (so
    ``tensor(0.3, dtype=float64)`` is not rounded through float32).
    """
    if isinstance(data, Tensor):
        return data.array.copy()
    if isinstance(data, _xp.ndarray) or hasattr(data, "__array_interface__"):
        return _xp.array(data)  # a copy on the active backend, of a backend or a host array
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in data):
        data = [d.array if isinstance(d, Tensor) else d for d in data]
    array = _xp.array(data)
    if array.dtype == _xp.float64 and not isinstance(data, _xp.generic) and not exact:
        array = array.astype(dtypes.get_default_dtype())
    elif array.dtype.kind == "i":
        array = array.astype(_xp.int64)
    elif array.dtype.kind not in "fbu":
        raise TypeError(f"tensor(): could not infer a numeric dtype from {type(data).__name__}")
    return array


def tensor(data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor holding a copy of ``data`` (numbers, nested lists, arrays or tensors).

    Example:
        >>> tensor([[1, 2], [3, 4]]).dtype
        dtype('int64')
        >>> tensor([0.5, 1.5]).dtype
        dtype('float32')
    """
    return _finish(_infer_array(data, exact=dtype is not None), dtype, requires_grad, device)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with an array or tensor when no conversion is needed."""
    if isinstance(data, Tensor) and (dtype is None or dtypes.to_dtype(dtype) == data.dtype):
        return data
    if isinstance(data, _xp.ndarray):
        return _shared(_finish(data, dtype, False, device))
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array) -> Tensor:
    """A tensor sharing memory with a NumPy array (dtype kept)."""
    if not isinstance(array, _xp.ndarray):
        raise TypeError(f"from_numpy expects an ndarray, got {type(array).__name__}")
    return _shared(Tensor._wrap(array))


def _shared(t):
    """``t``, marked as sharing its memory with an array outside soma (so soma never moves
    it to new memory, see ``Tensor.view``)."""
    mark_viewed(t)
    return t


def zeros(*sizes, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(
        _xp.zeros(_shape(sizes, size), dtype=dtypes.to_dtype(dtype)), None, requires_grad, device
    )


def ones(*sizes, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(
        _xp.ones(_shape(sizes, size), dtype=dtypes.to_dtype(dtype)), None, requires_grad, device
    )


def empty(
    *sizes,
    size=None,
    dtype=None,
    device=None,
    requires_grad=False,
    memory_format=_formats.contiguous_format,
) -> Tensor:
    """An uninitialised tensor; ``memory_format=soma.channels_last`` lays a 4-D one out NHWC."""
    shape = _shape(sizes, size)
    array = _formats.empty(shape, dtypes.to_dtype(dtype), memory_format)
    return _finish(array, None, requires_grad, device)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (dtype inferred from the value)."""
    if dtype is None:
        dtype = (
            dtypes.bool_
            if isinstance(fill_value, bool)
            else dtypes.int64
            if isinstance(fill_value, numbers.Integral)
            else None
        )
    array = _xp.full(
        _shape((size,) if isinstance(size, int) else (tuple(size),)),
        fill_value,
        dtype=dtypes.to_dtype(dtype),
    )
    return _finish(array, None, requires_grad, device)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values from ``start`` up to (not including) ``end`` in steps of ``step``."""
    if end is None:
        start, end = 0, start
    values = [start, end, step]
    integral = all(isinstance(v, numbers.Integral) for v in values)
    if dtype is None:
        dtype = dtypes.int64 if integral else dtypes.get_default_dtype()
    elif not integral and dtypes.to_dtype(dtype).kind in "iu":
        # as PyTorch: an integer arange truncates its bounds and step first (0.5 → 0)
        start, end, step = int(start), int(end), int(step)
        integral = True
    if step == 0:
        raise ValueError(f"arange: step must be nonzero (start {start}, end {end})")
    array = _xp.arange(start, end, step, dtype=_xp.float64 if not integral else _xp.int64)
    return _finish(array, dtype, requires_grad, device)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    return _finish(
        _xp.linspace(start, end, steps).astype(dtypes.to_dtype(dtype)), None, requires_grad, device
    )


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(
        _xp.logspace(start, end, steps, base=base).astype(dtypes.to_dtype(dtype)),
        None,
        requires_grad,
        device,
    )


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(_xp.eye(n, m, dtype=dtypes.to_dtype(dtype)), None, requires_grad, device)


# ---------------------------------------------------------------------------- random
def _is_float(dtype) -> bool:
    return _xp.dtype(dtype).kind == "f"


def rand(
    *sizes, size=None, generator=None, dtype=None, device=None, requires_grad=False
) -> Tensor:
    """Uniform samples from [0, 1): PyTorch's numbers for the same seed (``mersenne.py``)."""
    dtype = dtypes.to_dtype(dtype)
    shape = _shape(sizes, size)
    if _is_float(dtype):
        count = math.prod(shape)
        array = _random.stream(generator).uniform(count, 0.0, 1.0, dtype).reshape(shape)
    else:
        array = _random.draws(generator).random(shape, dtype=_xp.float64).astype(dtype)
    return _finish(_xp.asarray(array), None, requires_grad, device)


def randn(
    *sizes, size=None, generator=None, dtype=None, device=None, requires_grad=False
) -> Tensor:
    """Samples from the standard normal distribution (PyTorch's for the same seed)."""
    dtype = dtypes.to_dtype(dtype)
    shape = _shape(sizes, size)
    if _is_float(dtype):
        count = math.prod(shape)
        array = _random.stream(generator).normal(count, 0.0, 1.0, dtype, blocked=True)
        array = array.reshape(shape)
    else:
        array = _random.draws(generator).standard_normal(shape).astype(dtype)
    return _finish(_xp.asarray(array), None, requires_grad, device)


def randint(
    low, high=None, size=None, generator=None, dtype=None, device=None, requires_grad=False
) -> Tensor:
    """Integers uniformly from ``[low, high)``; ``randint(high, size)`` starts at 0."""
    if size is None:
        low, high, size = 0, low, high
    shape = _shape((tuple(size),))
    _random.check_range(low, high)
    dtype = dtypes.to_dtype(dtype) if dtype is not None else dtypes.int64
    array = _random.stream(generator).integers(math.prod(shape), low, high, dtype)
    return _finish(_xp.asarray(array.reshape(shape)), None, requires_grad, device)


def randperm(n, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A random permutation of ``0 .. n-1`` (PyTorch's for the same seed)."""
    if n < 0:
        raise RuntimeError(f"randperm: n must be non-negative, got {n}")
    perm = _random.stream(generator).permutation(n)
    return _finish(_xp.asarray(perm), dtype, requires_grad, device)


def normal(mean, std, size=None, generator=None) -> Tensor:
    """Samples from N(mean, std²); mean and std may be tensors (broadcast) or numbers.

    As PyTorch: standard normals drawn for the result's shape, then ``· std + mean`` (a
    number std scales the draws themselves)."""
    m = mean.array if isinstance(mean, Tensor) else mean
    s = std.array if isinstance(std, Tensor) else std
    if size is not None and not (isinstance(mean, Tensor) or isinstance(std, Tensor)):
        shape = _shape((tuple(size),))
    else:
        shape = _xp.broadcast(m, s).shape
    dtype = next(
        (t.dtype for t in (mean, std) if isinstance(t, Tensor)), dtypes.get_default_dtype()
    )
    center = 0.0 if isinstance(mean, Tensor) or isinstance(std, Tensor) else m
    scale = 1.0 if isinstance(std, Tensor) else s
    draws = _random.stream(generator).normal(math.prod(shape), center, scale, dtype, blocked=True)
    array = _xp.asarray(draws.reshape(shape))
    if isinstance(std, Tensor):
        array = array * s + _xp.asarray(m, dtype=dtype)
    elif isinstance(mean, Tensor):
        array = array + m
    return Tensor._wrap(array.astype(dtype, copy=False))


def bernoulli(input, p=None, *, generator=None) -> Tensor:
    """1 with probability ``input`` (element-wise), else 0; with ``p``, 1 with probability p
    everywhere (``input`` then gives only the shape and dtype). PyTorch's draws for the same
    seed: a float32 uniform per element below the probability, or with a number p a float64
    one (as ``bernoulli_``)."""
    probs = input.array if isinstance(input, Tensor) else _xp.asarray(input)
    stream = _random.stream(generator)
    if p is not None:
        values = stream.bernoulli(probs.size, p)
    else:
        values = stream.bernoulli_each(probs.size, probs.reshape(-1))
    return Tensor._wrap(_xp.asarray(values.reshape(probs.shape)).astype(probs.dtype))


def multinomial(input, num_samples, replacement=False, *, generator=None) -> Tensor:
    """Category indices drawn from (rows of) non-negative weights ``input``, PyTorch's for the
    same seed.

    With replacement: a float64 uniform u per sample, the category the first whose cumulative
    weight (normalised, last set to 1) reaches u. Without: Gumbel's trick in exponential form,
    the ``num_samples`` largest of p / q with q ~ Exp(1) drawn per weight (``topk``; the one
    largest by ``argmax``).
    """
    probs = input.array
    if probs.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    categories = probs.shape[-1]
    if not replacement and num_samples > categories:
        raise RuntimeError(
            "cannot sample n_sample > prob_dist.size(-1) samples without replacement"
        )
    rows = probs.reshape(-1, categories)
    if not (_xp.isfinite(rows).all() and (rows >= 0).all()):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if (rows.sum(axis=1, dtype=_xp.float64) <= 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    stream = _random.stream(generator)
    if replacement:
        out = _xp.stack([_inverse_cdf_draws(row, num_samples, stream) for row in rows])
    else:
        exponential = stream.exponential(rows.size, 1.0).reshape(rows.shape).astype(rows.dtype)
        keys = rows / exponential
        if num_samples == 1:
            out = keys.argmax(axis=1)[:, None]
        else:  # the largest first, as topk
            out = _xp.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    return Tensor._wrap(
        _xp.asarray(out, dtype=_xp.int64).reshape(probs.shape[:-1] + (num_samples,))
    )


def _inverse_cdf_draws(row, count, stream):
    """``count`` categories of one row by binary search of u ~ U[0, 1) in its cumulative
    weights: partial sums in float64 kept in the row's dtype, divided by the total, last 1."""
    cumulative = _xp.cumsum(row, dtype=_xp.float64).astype(row.dtype)
    cumulative /= row.dtype.type(row.sum(dtype=_xp.float64))
    cumulative[-1] = 1
    return _xp.searchsorted(cumulative, stream.unit(count, _xp.float64), side="left")


# ---------------------------------------------------------------------------- *_like
# NOTE: as in PyTorch, the result is laid out in memory as x (``memory_format``, default
# ``soma.preserve_format``): the zeros_like of a channels-last tensor is channels-last.
def _like(x, dtype):
    return x.dtype if dtype is None else dtypes.to_dtype(dtype)


def _filled_like(x, value, dtype, memory_format, op):
    array = x.array if isinstance(x, Tensor) else _xp.asarray(x)
    out = _formats.empty_like(array, memory_format, _like(x, dtype), op)
    if value is not None:
        out[...] = value
    return out


def zeros_like(
    x, dtype=None, requires_grad=False, device=None, memory_format=_formats.preserve_format
) -> Tensor:
    out = _filled_like(x, 0, dtype, memory_format, "zeros_like")
    return _finish(out, None, requires_grad, device)


def ones_like(
    x, dtype=None, requires_grad=False, device=None, memory_format=_formats.preserve_format
) -> Tensor:
    out = _filled_like(x, 1, dtype, memory_format, "ones_like")
    return _finish(out, None, requires_grad, device)


def empty_like(
    x, dtype=None, requires_grad=False, device=None, memory_format=_formats.preserve_format
) -> Tensor:
    out = _filled_like(x, None, dtype, memory_format, "empty_like")
    return _finish(out, None, requires_grad, device)


def full_like(
    x,
    fill_value,
    dtype=None,
    requires_grad=False,
    device=None,
    memory_format=_formats.preserve_format,
) -> Tensor:
    out = _filled_like(x, fill_value, dtype, memory_format, "full_like")
    return _finish(out, None, requires_grad, device)


def rand_like(
    x,
    dtype=None,
    generator=None,
    *,
    device=None,
    requires_grad=False,
    memory_format=_formats.preserve_format,
) -> Tensor:
    out = Tensor._wrap(_filled_like(x, None, dtype, memory_format, "rand_like"))
    return _finish(out.uniform_(generator=generator).array, None, requires_grad, device)


def randn_like(
    x,
    dtype=None,
    generator=None,
    *,
    device=None,
    requires_grad=False,
    memory_format=_formats.preserve_format,
) -> Tensor:
    out = Tensor._wrap(_filled_like(x, None, dtype, memory_format, "randn_like"))
    return _finish(out.normal_(generator=generator).array, None, requires_grad, device)


def randint_like(
    x,
    low,
    high=None,
    dtype=None,
    generator=None,
    *,
    device=None,
    requires_grad=False,
    memory_format=_formats.preserve_format,
) -> Tensor:
    low, high = (0, low) if high is None else (low, high)
    out = Tensor._wrap(_filled_like(x, None, dtype, memory_format, "randint_like"))
    return _finish(out.random_(low, high, generator=generator).array, None, requires_grad, device)
