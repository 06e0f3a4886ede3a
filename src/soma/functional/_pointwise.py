"""Pointwise (1×1, stride 1, unpadded, ungrouped) convolution kernels: plain matrix products.

A 1×1 convolution mixes channels at every position independently: y = W x over the channel
axis. No columns need building, so these kernels follow the memory layout their input arrives
in, channel-major (C, N, *S) or channels-last (N, *S, C), and never copy it: a depthwise layer
(channel-major) feeding a pointwise one, as in MobileNet, stays channel-major end to end.

Signatures follow ``_im2col.py``; a prepared operand is (layout, matrix), where the matrix is
(C, N·L) for "cm" and (N·L, C) for "cl".
"""

from soma.backend import get_xp

_xp = get_xp()


def _matrix(a):
    """(layout, matrix) of an (N, C, *S) array without copying when its memory allows."""
    cm = a.swapaxes(0, 1)
    if cm.flags.c_contiguous:
        return "cm", cm.reshape(a.shape[1], -1)
    return "cl", _xp.moveaxis(a, 1, -1).reshape(-1, a.shape[1])


def _array(layout, m, n, size):
    """The (N, C, *S) view of a product in the given layout."""
    if layout == "cm":
        return m.reshape((m.shape[0], n) + size).swapaxes(0, 1)
    return _xp.moveaxis(m.reshape((n,) + size + (m.shape[1],)), -1, 1)


def prepare(x, g):
    return _matrix(x)


prepare_grad = prepare


def forward(p, w, b, g):
    layout, x = p
    w2 = w.reshape(w.shape[0], -1)
    if layout == "cm":
        y = w2 @ x  # (O, N·L)
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
    gx = w2.T @ gy if layout == "cm" else gy @ w2
    return _array(layout, gx, n, g.in_size)


def grad_weight(q, p, g, w_shape):
    # ∂W = gy xᵀ summed over every position: (O, N·L) @ (N·L, C) in whichever layouts they are
    gy = q[1] if q[0] == "cm" else q[1].T
    x = p[1].T if p[0] == "cm" else p[1]
    return (gy @ x).reshape(w_shape)
