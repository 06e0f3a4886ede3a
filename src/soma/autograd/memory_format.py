"""Memory formats: the order in which a tensor's elements lie in memory (``torch.memory_format``).

A tensor of shape (N, C, H, W) is *contiguous* (``soma.contiguous_format``) when its elements
lie row after row, W fastest: strides (CHW, HW, W, 1) in elements. It is *channels-last*
(``soma.channels_last``, NHWC in memory) when the C values of one pixel lie side by side:
strides (HWC, 1, WC, C). ``soma.channels_last_3d`` is the same for (N, C, D, H, W). The shape,
the values and every op's result are the same in either format; only the strides differ, and
with them the speed of the kernels that read the memory (soma's convolutions, pooling and
normalizations work on either without converting).

``soma.preserve_format`` is what ``clone`` and the ``*_like`` factories take by default: keep
the input's strides when its memory has no gaps and no overlaps, else dense strides in the
order of the input's (a copy of a channels-last slice is channels-last).

Strides here are PyTorch's: in elements, not bytes (``Tensor.stride()``).

Where soma differs: its kernels choose the layout of what they return for speed, so a
convolution's output may be channels-last or channel-major ((C, N, H, W) in memory) whatever
the input's, where PyTorch's follows the input. Shapes and values never differ; ``stride()``
and ``is_contiguous()`` report the memory as it is, and ``view`` copies when the memory does not
allow a view.

Rules, as in PyTorch (size-1 dimensions never break contiguity, their stride is free):

    contiguous:     stride[d] = Π size[d+1:]        for every d with size[d] > 1
    channels_last:  stride[1] = 1, stride[3] = C, stride[2] = WC, stride[0] = HWC   (idem)
"""

import functools

from soma.backend import get_xp

_xp = get_xp()


class memory_format:
    """One memory format; the four instances are ``soma.contiguous_format``,
    ``soma.channels_last``, ``soma.channels_last_3d`` and ``soma.preserve_format``."""

    __slots__ = ("name", "axes")

    def __init__(self, name, axes=None):
        self.name = name
        self.axes = axes  # the axes from outermost to innermost in memory; None: row-major

    def __repr__(self):
        return f"soma.{self.name}"

    def __reduce__(self):  # copy/deepcopy of modules keep the singletons
        return self.name


contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last", (0, 2, 3, 1))
channels_last_3d = memory_format("channels_last_3d", (0, 2, 3, 4, 1))
preserve_format = memory_format("preserve_format")


def _check(fmt, op):
    if not isinstance(fmt, memory_format):
        raise TypeError(f"{op}: memory_format must be a soma.memory_format, got {fmt!r}")


def _check_rank(fmt, ndim, op):
    if fmt.axes is not None and len(fmt.axes) != ndim:
        raise RuntimeError(
            f"{op}: required rank {len(fmt.axes)} tensor to use {fmt.name} format, "
            f"got a tensor of rank {ndim}"
        )


def element_strides(array):
    """The strides of ``array`` in elements (PyTorch's ``Tensor.stride()``)."""
    size = array.itemsize
    return tuple(s // size for s in array.strides)


def is_contiguous_as(array, fmt, op="is_contiguous"):
    """True when ``array`` lies in memory exactly as ``fmt`` lays out its shape (size-1
    dimensions ignored). A tensor of another rank than ``fmt``'s is not channels-last."""
    _check(fmt, op)
    if fmt is preserve_format:
        raise RuntimeError(f"{op}: preserve memory format is unsupported")
    if fmt.axes is None:
        return bool(array.flags.c_contiguous)
    if array.ndim != len(fmt.axes):
        return False
    strides = element_strides(array)
    expected = 1
    for d in reversed(fmt.axes):
        if array.shape[d] != 1:
            if strides[d] != expected:
                return False
            expected *= array.shape[d]
    return True


def empty(shape, dtype, fmt, op="empty"):
    """An uninitialised array of ``shape`` laid out in ``fmt`` (not preserve_format)."""
    _check(fmt, op)
    if fmt is preserve_format:
        raise RuntimeError(f"{op}: preserve memory format is unsupported here")
    _check_rank(fmt, len(shape), op)
    if fmt.axes is None:
        return _xp.empty(shape, dtype)
    return empty_in_order(shape, dtype, fmt.axes)


@functools.cache
def _to_end(ndim):
    return (0, *range(2, ndim), 1)


@functools.cache
def _to_front(ndim):
    return (0, ndim - 1, *range(1, ndim - 1))


def channels_to_end(a):
    """(N, C, *S) → the (N, *S, C) view: ``moveaxis(a, 1, -1)``, a transpose by a permutation
    made once per rank (0.22 µs against NumPy's moveaxis' 2.9, which checks its axes; the
    kernels ask at every convolution and normalization, some 130 times in a DDPM step)."""
    return a.transpose(_to_end(a.ndim))


def channels_to_front(a):
    """(N, *S, C) → the (N, C, *S) view: ``moveaxis(a, -1, 1)`` (see ``channels_to_end``)."""
    return a.transpose(_to_front(a.ndim))


def axis_order(array):
    """``array``'s axes from the largest stride to the smallest: the order its memory runs in
    (ties, as size-1 axes may give, keep the axes' order)."""
    return tuple(sorted(range(array.ndim), key=lambda d: -abs(array.strides[d])))


def is_c_order(order):
    """True when ``order`` (an ``axis_order``) is the axes' own order, C order's."""
    return all(a < b for a, b in zip(order, order[1:]))


def differ_in_layout(a, b):
    """True for two arrays of one shape whose memory runs over the axes in different orders."""
    return (
        a.ndim > 1
        and a.strides != b.strides
        and a.shape == b.shape
        and axis_order(a) != axis_order(b)
    )


def empty_in_order(shape, dtype, order):
    """An uninitialised dense array of ``shape`` whose memory runs over the axes in ``order``
    (outermost first), e.g. ``axis_order`` of another array of that shape."""
    if is_c_order(order):
        return _xp.empty(shape, dtype)  # NOTE: C order, and no base: a leaf keeps it uncopied
    inverse = [order.index(d) for d in range(len(order))]
    return _xp.empty([shape[d] for d in order], dtype).transpose(inverse)


def converted(array, fmt, op="contiguous"):
    """``array`` itself when it is already laid out in ``fmt``, else a copy that is."""
    if is_contiguous_as(array, fmt, op):
        return array
    _check_rank(fmt, array.ndim, op)
    out = empty(array.shape, array.dtype, fmt, op)
    out[...] = array
    return out


def empty_like(array, fmt=preserve_format, dtype=None, op="empty_like"):
    """An uninitialised array shaped as ``array`` in ``fmt``. ``preserve_format`` keeps the
    order of ``array``'s strides, made dense: the same strides when ``array`` has no gaps, and
    for a sliced or permuted view the dense strides that follow its axis order (PyTorch's
    ``infer_dense_strides``; NumPy's ``order="K"`` is the same rule)."""
    _check(fmt, op)
    dtype = array.dtype if dtype is None else dtype
    if fmt is preserve_format:
        return _xp.empty_like(array, dtype=dtype, order="K")
    return empty(array.shape, dtype, fmt, op)


def copy(array, fmt=preserve_format, op="clone"):
    """A copy of ``array`` in ``fmt`` (``clone``'s kernel)."""
    out = empty_like(array, fmt, op=op)
    out[...] = array
    return out
