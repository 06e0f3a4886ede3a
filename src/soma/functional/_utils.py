"""Helpers shared by the ops: operand promotion, gradient un-broadcasting, axis handling."""

import functools
import inspect
import numbers

from soma.autograd.errors import (
    ShapeError,  # noqa: F401  (re-exported for the ops)
    ValueOverflowError,
)
from soma.autograd.memory_format import axis_order
from soma.autograd.tensor import Tensor
from soma.backend import dtypes, get_xp
from soma.backend.dtypes import DIMENSIONED, PYTHON_NUMBER, ZERO_DIM

_xp = get_xp()


def unbroadcast(g, shape):
    """Sum ``g`` down to ``shape``: the gradient of broadcasting an operand of that shape."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
    )
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def normalize_axis(dim, ndim, op="op"):
    """Turn a possibly negative ``dim`` into a NumPy axis in ``[0, ndim)``."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"{op}: dimension {dim} is out of range for a tensor of {ndim} dimensions"
        )
    return dim % n


def normalize_axes(dim, ndim, op="op", *, empty_means_all=True):
    """``dim`` as a tuple of axes (None → all axes); scalars have none.

    An empty ``dim`` (``()`` or ``[]``) means every axis too, as in PyTorch's reductions
    (``x.sum(dim=())`` is the total); ``all`` and ``any`` are the exception there, reducing
    nothing: they pass ``empty_means_all=False``.
    """
    if dim is None or (empty_means_all and isinstance(dim, (tuple, list)) and not dim):
        return tuple(range(ndim))
    if isinstance(dim, (tuple, list)):
        return tuple(sorted(normalize_axis(d, ndim, op) for d in dim))
    return (normalize_axis(dim, ndim, op),) if ndim else ()


def as_tensor(value, dtype=None) -> Tensor:
    """Wrap a number, list or array as a constant Tensor (a Tensor passes through)."""
    if isinstance(value, Tensor):
        return value
    array = _xp.asarray(value)
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    elif array.dtype == dtypes.float64 and not isinstance(value, _xp.ndarray):
        array = array.astype(dtypes.get_default_dtype())
    return Tensor._wrap(array)


def _rank(value):
    if isinstance(value, Tensor):
        return (ZERO_DIM if value.array.ndim == 0 else DIMENSIONED), value.array.dtype
    if isinstance(value, bool):
        return PYTHON_NUMBER, dtypes.bool_
    if isinstance(value, numbers.Integral):
        return PYTHON_NUMBER, dtypes.int64
    return PYTHON_NUMBER, dtypes.float64


def binary_operands(a, b):
    """Bring two operands (Tensors, Python numbers or arrays) to PyTorch's common dtype.

    Python numbers stay Python numbers (NumPy keeps them from widening an array), unless they
    must lift an integer tensor to float, in which case the tensor is cast instead.
    """
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb:
        if a.array.dtype == b.array.dtype:
            return a, b
    elif ta and type(b) is float and a.array.dtype.kind == "f":
        return a, b
    elif tb and type(a) is float and b.array.dtype.kind == "f":
        return a, b
    if not ta and isinstance(a, (_xp.ndarray, list, tuple)):
        a, ta = as_tensor(a), True
    if not tb and isinstance(b, (_xp.ndarray, list, tuple)):
        b, tb = as_tensor(b), True
    if not ta and not tb:
        raise TypeError(f"expected at least one Tensor operand, got {type(a)} and {type(b)}")
    ra, da = _rank(a)
    rb, db = _rank(b)
    result = dtypes.promote_types(da, db, ra, rb)
    return _cast_operand(a, result), _cast_operand(b, result)


def _cast_operand(x, dtype):
    if isinstance(x, Tensor):
        return x if x.array.dtype == dtype else cast(x, dtype)
    if dtype.kind == "f" or isinstance(x, bool) or dtype.kind == "b":
        return x
    return wrapped_int(int(x), dtype) if dtype.kind in "iu" else x


def check_fill_value(value, dtype, op: str) -> None:
    """A Python int written into an integer tensor as it is (where, masked_fill) must fit its
    dtype: PyTorch refuses, where arithmetic would wrap it (``wrapped_int``)."""
    if (
        dtype.kind not in "iu"
        or isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
    ):
        return
    limits = _xp.iinfo(dtype)
    if not limits.min <= value <= limits.max:
        raise ValueOverflowError(
            f"{op}: value {value} cannot be converted to {dtype} without overflow (range "
            f"{limits.min} to {limits.max})"
        )


def wrapped_int(value: int, dtype) -> int:
    """A Python int as the integer dtype holds it, wrapping around as C does: PyTorch's
    ``int8_tensor * 200`` multiplies by -56 (200 - 256), ``uint8_tensor + -1`` adds 255, and
    comparisons see the same wrapped number. Values beyond int64 are left for NumPy to refuse.
    """
    bits = 8 * dtype.itemsize
    if not -(1 << 63) <= value < (1 << 64) or bits >= 64:
        return value
    value %= 1 << bits
    return value - (1 << bits) if dtype.kind == "i" and value >= 1 << (bits - 1) else value


def cast(x: Tensor, dtype) -> Tensor:
    # lazy: soma.functional.elementwise imports this module at load time
    from soma.functional.elementwise import cast as _cast

    return _cast(x, dtype)


def ntuple(value, n: int, op: str, name: str) -> tuple:
    """``value`` as a tuple of ``n`` ints: an int (or a 1-tuple) is repeated, ``n`` ints are kept.

    PyTorch's ``_ntuple``, the one such helper in soma (functional ops, layers and transforms all
    use it). Errors name the op and the argument.

    Example:
        >>> ntuple(3, 2, "conv2d", "stride"), ntuple((1, 2), 2, "conv2d", "stride")
        ((3, 3), (1, 2))
    """
    if isinstance(value, numbers.Integral):
        return (int(value),) * n
    try:
        value = tuple(value)
    except TypeError:
        raise TypeError(
            f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}"
        ) from None
    if len(value) == 1:
        value = value * n
    if not all(isinstance(v, numbers.Integral) for v in value):
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if len(value) != n:
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    return tuple(int(v) for v in value)


def shape_str(shape) -> str:
    """A shape as a plain tuple: ``(2, 3)``, ``(4,)``, ``()``."""
    return str(tuple(int(s) for s in shape))


def lift_0d(fn):
    """Run an elementwise function on a 0-d tensor as on shape (1,), then back to shape ().

    NumPy turns the results of ufuncs on 0-d arrays into scalars, which kernels that write with
    ``out=`` (or call array methods) cannot take; lifting once here keeps every such kernel
    free of 0-d special cases. Costs one ``ndim`` test for other inputs.
    """
    params = list(inspect.signature(fn).parameters)
    inplace_at = params.index("inplace") if "inplace" in params else None

    @functools.wraps(fn)
    def wrapper(input, *args, **kwargs):
        if not (isinstance(input, Tensor) and input.array.ndim == 0):
            return fn(input, *args, **kwargs)
        inplace = kwargs.get("inplace", False)
        if inplace_at is not None and len(args) >= inplace_at:
            inplace = args[inplace_at - 1]
        lifted = input.reshape(1) if not inplace else input.view(1)
        out = fn(lifted, *args, **kwargs)
        return input if inplace else out.reshape(())

    return wrapper


def flat(x):
    """x's memory as a 1-D view (any axis order without gaps), else None: element k of the
    view is the k-th in memory, so an element at index (i₀, i₁, …) of ``x`` is at
    Σ iₖ·strideₖ (strides in elements)."""
    if x.flags.c_contiguous:
        return x.reshape(-1)
    # NOTE: axis_order is a Python sort: NumPy's argsort of the strides cost 12 µs, a third of
    # a compiled ReLU backward on 32 K values
    xt = x.transpose(axis_order(x))
    return xt.reshape(-1) if xt.flags.c_contiguous else None


SHORT_AXIS = 16


def reduce_axis(ufunc, a, axis):
    """``ufunc.reduce(a, axis, keepdims=True)`` (max, add, …), fast along a short axis.

    NumPy reduces an axis that lies innermost in memory one short row at a time: the maximum
    over the 4 classes of (8, 4, 64, 64) channels-last logits took 1.7 ms, a sum 0.8 ms. Up to
    ``SHORT_AXIS`` entries the reduction is done as elementwise calls instead, one per entry
    along the axis (0.15 ms for that maximum; from 32 entries on the plain reduction was faster).
    """
    size = a.shape[axis]
    if a.ndim < 2 or not 1 < size <= SHORT_AXIS or a.strides[axis] != min(a.strides):
        return ufunc.reduce(a, axis=axis, keepdims=True)
    index = [slice(None)] * a.ndim
    index[axis] = slice(0, 1)
    out = a[tuple(index)].copy()
    for k in range(1, size):
        index[axis] = slice(k, k + 1)
        ufunc(out, a[tuple(index)], out=out)
    return out
