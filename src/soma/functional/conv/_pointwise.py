"""Pointwise (1×1, stride 1, unpadded, ungrouped) convolution kernels: plain matrix products.

A 1×1 convolution mixes channels at every position independently: y = W x over the channel
axis. No columns need building, so these kernels follow the memory layout their input arrives
in and never copy it: channel-major (C, N, *S) as one product, a depthwise layer feeding a
pointwise one (MobileNet) staying channel-major end to end; plain (N, C, *S), the layout of a
concatenation or a batch norm (DenseNet), as one product per image, when the images have enough
positions for that to beat a transposing copy (measured: 2-5x faster at 8×8 and more, slower at
4×4); otherwise channels-last (N, *S, C), copied into that layout if it is not there already.

Signatures follow ``_im2col.py``; a prepared operand is (layout, matrix), where the matrix is
(C, N·L) for "cm", (N, C, L) for "nc" and (N·L, C) for "cl".
"""

from soma.autograd.memory_format import channels_to_end, channels_to_front
from soma.backend import get_xp
from soma.functional.conv._geometry import reduce_positions, same_weight

_xp = get_xp()


_PER_IMAGE_MIN_POSITIONS = 64


def _channels_last(a):
    """The (N·L, C) matrix of an (N, C, *S) array (a copy unless it is channels-last already)."""
    return channels_to_end(a).reshape(-1, a.shape[1])


def _matrix(a):
    """(layout, matrix) of an (N, C, *S) array without copying when its memory allows."""
    cm = a.swapaxes(0, 1)
    if cm.flags.c_contiguous:
        return "cm", cm.reshape(a.shape[1], -1)
    if a.flags.c_contiguous and a.size >= _PER_IMAGE_MIN_POSITIONS * a.shape[0] * a.shape[1]:
        return "nc", a.reshape(a.shape[0], a.shape[1], -1)
    return "cl", _channels_last(a)


def _rows(prepared):
    """The (N·L, C) matrix of a prepared operand (a copy for a per-image one)."""
    layout, m = prepared
    if layout == "cm":
        return m.T
    if layout == "nc":
        return _channels_last(m)
    return m


def _array(layout, m, n, size):
    """The (N, C, *S) view of a product in the given layout."""
    if layout == "cm":
        return m.reshape((m.shape[0], n) + size).swapaxes(0, 1)
    if layout == "nc":
        return m.reshape((n, m.shape[1]) + size)
    return channels_to_front(m.reshape((n,) + size + (m.shape[1],)))


def prepare(x, g):
    return _matrix(x)


prepare_grad = prepare
prepare_weight = same_weight


def forward(p, w, b, g):
    layout, x = p
    w2 = w.reshape(w.shape[0], -1)
    if layout in ("cm", "nc"):
        y = _xp.matmul(w2, x)  # (O, N·L), or (N, O, L) one image at a time
        if b is not None:
            y += b[:, None]
    else:
        y = x @ w2.T  # (N·L, O)
        if b is not None:
            y += b
    return _array(layout, y, y.size // (w.shape[0] * g.positions), g.out_size)


def grad_input(q, w, g, n):
    # ∂x = Wᵀ gy over the channel axis
    layout, gy = q
    w2 = w.reshape(w.shape[0], -1)
    gx = gy @ w2 if layout == "cl" else _xp.matmul(w2.T, gy)
    return _array(layout, gx, n, g.in_size)


def grad_weight(q, p, g, w_shape):
    # ∂W = gy xᵀ summed over every position: (O, N·L) @ (N·L, C) in whichever layouts they are
    if q[0] == p[0] == "nc":  # one product per image, then the sum over the batch
        return _xp.matmul(q[1], p[1].swapaxes(1, 2)).sum(axis=0).reshape(w_shape)
    return reduce_positions(_rows(q).T[None], _rows(p)[None]).reshape(w_shape)
