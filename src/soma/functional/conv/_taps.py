"""Tap-by-tap convolution kernels for small inputs, where most of im2col's columns are padding.

im2col (``_im2col.py``) multiplies every kernel tap at every output position, the taps that read
padding included. On a small input a large share of them do: a 3×3 kernel with padding 1 on a
2×2 input reads 20 zeros for every 16 input values (VGG-11's last 512→512 layers at 32×32
pixels), on a 4×4 input 44 for every 100. These kernels run one product per kernel tap t over
only the output positions where that tap reads the input,

    y[n, o, P_t] += W_t @ x[n, :, Q_t],      W_t = w[:, :, t]  (O × C)

with P_t the box of output positions whose tap t lands inside the input and Q_t the input
positions they read there (a box with the convolution's stride): per spatial axis, output p
reads input p·s + a·d − before through kernel index a, which is inside [0, S) for one run of
p. The multiplies shrink to the share of (tap, position) pairs that read the input, and no
columns are built: a tap whose box is the whole input reads the channels-last input in place,
the others copy their box (a slice of the input). The weight is im2col's matrix
(O, K·C), taps outer, so W_t is a block of its columns that BLAS reads in place.

The gradients are the adjoints tap by tap,

    ∂x[n, :, Q_t] += W_tᵀ @ gy[n, :, P_t],      ∂W_t = Σ_n gy[n, :, P_t] @ x[n, :, Q_t]ᵀ,

and taps that never read the input get a zero weight gradient. Layout as in ``_im2col.py``:
channels-last inputs, outputs (N, O, *out) views of channels-last memory. ``_kernels``
(``convolution.py``) takes these kernels where ``worth_it`` says (measurements there).
"""

import functools
import math

from soma.autograd.memory_format import channels_to_end, channels_to_front
from soma.backend import get_xp
from soma.functional._window_geometry import kernel_offsets
from soma.functional.conv import _im2col

_xp = get_xp()


def _axis_run(size, out, a, stride, dilation, before):
    """(first output, outputs, first input) of the run of outputs p whose input p·s + a·d −
    before lies in [0, size), for kernel index ``a`` on one axis; (0, 0, 0) when there is none."""
    offset = a * dilation - before
    first = max(0, -(offset // stride)) if offset < 0 else 0
    last = min(out - 1, (size - 1 - offset) // stride)
    if last < first:
        return 0, 0, 0
    return first, last - first + 1, first * stride + offset


@functools.lru_cache(maxsize=512)
def tap_boxes(g):
    """For each kernel tap (row-major, im2col's column order), the (output slices, input
    slices) it connects, or None for a tap that only ever reads padding. Worked out once per
    geometry."""
    boxes = []
    for offset in kernel_offsets(g.kernel):
        outs, ins = [], []
        for size, out, a, s, d, (lo, _) in zip(
            g.in_size, g.out_size, offset, g.stride, g.dilation, g.pads
        ):
            first, count, start = _axis_run(size, out, a, s, d, lo)
            if count == 0:
                break
            outs.append(slice(first, first + count))
            ins.append(slice(start, start + s * (count - 1) + 1, s))
        boxes.append((tuple(outs), tuple(ins)) if len(outs) == len(g.kernel) else None)
    return tuple(boxes)


@functools.lru_cache(maxsize=512)
def useful_share(g):
    """The share of im2col's (tap, output position) pairs that read the input, not padding
    (asked by ``worth_it`` at every wide convolution: worked out once per geometry)."""
    pairs = sum(
        math.prod(o.stop - o.start for o in box[0]) for box in tap_boxes(g) if box is not None
    )
    return pairs / (g.taps * g.positions)


# Where these kernels replace im2col (and Winograd). Measured on the 2-core Zen 4 VM at two
# threads (float32, forward / forward and all gradients, median of 25, one process; ms,
# im2col | Winograd F(2×2, 3×3) | taps), 3×3 kernels with padding 1, by useful share:
#     0.44 (2×2)  16× 512→512   3.63/7.79  | 4.06/11.31 | 2.20/5.53   (VGG-11's last layers)
#                 64× 512→512   11.2/52.0  | 16.3/26.8  | 7.04/19.4
#                 16× 256→256   0.81/1.68  | 0.90/2.47  | 0.60/1.38
#                 16× 128→128   0.53/1.09  | 0.62/1.24  | 0.46/0.82
#                 16×  64→64    0.11/0.50  | 0.17/0.28  | 0.12/0.28
#                  8×  32→32    0.04/0.09  | 0.04/0.09  | 0.08/0.19   (too little work)
#                  4×  64→64    0.05/0.12  | 0.07/0.16  | 0.09/0.21   (too little work)
#     0.60 (3×3)  16× 512→512   5.38/13.8  | 6.95/18.9  | 4.23/10.9
#                 16× 256→256   2.23/5.04  | 1.49/4.15  | 1.17/2.88
#     0.69 (4×4)  16× 512→512   8.70/21.6  | 6.57/18.7  | 7.61/18.6   (Winograd's or even)
#                 16× 128→128   0.62/1.51  | 0.48/1.38  | 0.76/1.83
#                 32× 512→512   14.7/39.8  | 9.49/27.8  | 12.8/32.5   (ResNet-18's layer 4)
#     0.11 (1×1)  16× 512→512   1.94/4.08  | 4.04/11.9  | 0.97/1.75
MAX_USEFUL_SHARE = 0.65
MIN_CHANNELS = 64
MIN_WORK = 1 << 20  # multiply-adds that read the input, per pass


def worth_it(g, in_channels, out_channels, batch):
    """Whether the tap products beat im2col's and Winograd's (table above): one group, at
    least ``MIN_CHANNELS`` channels each side, at most ``MAX_USEFUL_SHARE`` of im2col's
    columns reading the input, and ``MIN_WORK`` multiply-adds."""
    if g.groups != 1 or min(in_channels, out_channels) < MIN_CHANNELS:
        return False
    share = useful_share(g)
    work = share * batch * g.positions * g.taps * in_channels * out_channels
    return share <= MAX_USEFUL_SHARE and work >= MIN_WORK


def _box_rows(a, box):
    """The (N·|box|, channels) matrix of a channels-last array's box (a copy unless the box is
    the whole array and its memory is contiguous)."""
    return a[(slice(None),) + box].reshape(-1, a.shape[-1])


def _block(wm, t, c):
    """W_t: tap t's (O, C) block of im2col's weight matrix (O, K·C), read in place."""
    return wm[:, t * c : (t + 1) * c]


# The kernel-set protocol of ``convolution.py`` (see ``_im2col.py``).
def prepare(x, g):
    """The input (N, C, *S) as a channels-last (N, *S, C) view (no copy)."""
    return channels_to_end(x)


prepare_grad = prepare
prepare_weight = _im2col.prepare_weight


def forward(xl, wp, b, g):
    """y = Σ_t W_t @ x[Q_t] into the boxes P_t, + b: (N, O, *out), channels-last memory."""
    wm = wp[1][0]
    n, c, o = xl.shape[0], xl.shape[-1], wm.shape[0]
    y = _xp.zeros((n,) + g.out_size + (o,), dtype=xl.dtype)
    if b is not None:
        y += b
    for t, box in enumerate(tap_boxes(g)):
        if box is None:
            continue
        out_box, in_box = box
        # (O, M) = W_t @ x[Q_t]ᵀ: with W_t read in place this form ran 1.4–1.7× faster than
        # x[Q_t] @ W_tᵀ for 16–64 rows (512 channels, OpenBLAS, two threads)
        part = _xp.matmul(_block(wm, t, c), _box_rows(xl, in_box).T)
        dst = y[(slice(None),) + out_box]
        dst += part.T.reshape(dst.shape)
    return channels_to_front(y)


def grad_input(gyl, wp, g, n):
    """∂x[Q_t] += gy[P_t] @ W_t for every tap: (N, C, *S), channels-last memory."""
    wm = wp[1][0]
    c = wm.shape[1] // g.taps
    gx = _xp.zeros((n,) + g.in_size + (c,), dtype=gyl.dtype)
    for t, box in enumerate(tap_boxes(g)):
        if box is None:
            continue
        out_box, in_box = box
        part = _xp.matmul(_box_rows(gyl, out_box), _block(wm, t, c))
        dst = gx[(slice(None),) + in_box]
        dst += part.reshape(dst.shape)
    return channels_to_front(gx)


def grad_weight(gyl, xl, g, w_shape):
    """∂W_t = gy[P_t]ᵀ @ x[Q_t] for every tap (zero for a tap that reads only padding), back in
    (O, C, *k) layout."""
    o, c = w_shape[:2]
    gw = _xp.zeros((1, o, g.taps * c), dtype=xl.dtype)
    for t, box in enumerate(tap_boxes(g)):
        if box is None:
            continue
        out_box, in_box = box
        # written in place into tap t's block of the weight matrix
        _xp.matmul(_box_rows(gyl, out_box).T, _box_rows(xl, in_box), out=_block(gw[0], t, c))
    return _im2col.grad_weight_layout(gw, w_shape)
