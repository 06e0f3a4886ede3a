"""Winograd F(4×4, 3×3) kernels for 3×3, stride-1, undilated, ungrouped 2-D convolutions.

Lavin & Gray 2015, with the interpolation points 0, 1, −1, 2, −2, ∞. The output is cut into
4×4 tiles; tile (i, j) reads the 6×6 input patch d at rows 4i…4i+5, columns 4j…4j+5 of the
padded input, and for every (c, o)

    y_tile = Aᵀ [ Σ_c (G g Gᵀ) ⊙ (Bᵀ d B) ] A,        g: the 3×3 kernel w[o, c]

    Bᵀ = [4  0 -5  0  1  0]    G = [ 1/4     0     0  ]    Aᵀ = [1  1  1  1  1  0]
         [0 -4 -4  1  1  0]        [-1/6  -1/6  -1/6  ]         [0  1 -1  2 -2  0]
         [0  4 -4 -1  1  0]        [-1/6   1/6  -1/6  ]         [0  1  1  4  4  0]
         [0 -2 -1  2  1  0]        [1/24  1/12   1/6  ]         [0  1 -1  8 -8  1]
         [0  2 -1 -2  1  0]        [1/24 -1/12   1/6  ]
         [0  4  0 -5  0  1]        [ 0     0     1    ]

As in F(2×2, 3×3) (``_winograd.py``, whose layout, blocks and kernel-set protocol this module
shares) the sum over c at each of the 36 transformed positions is one BLAS product,
M[t] = V[t] @ U[t] with V[t] (P, C) over the P = N·th·tw tiles and U[t] (C, O). A tile now
gives 16 outputs for 36 products where F(2×2, 3×3) gives 4 for 16: 2.25 multiplies per output
and channel pair instead of 4 (im2col: 9), and V holds 2.25 numbers per input number instead
of 4. Measured on one thread (Zen 4, float32, the products alone): 16 channels at 64×64,
batch 8, 1.02 → 0.36 ms; ResNet-18's 64 channels at 32×32, batch 32, 18.1 → 8.4 ms.

The price is rounding: Bᵀ and Aᵀ have entries up to 8 and G has sixths, so float32 results
carry more error than F(2×2, 3×3)'s. Measured against float64 (largest error over the largest
value): forward and input gradient 3e-6 to 1.6e-5 (16-256 channels), where im2col and
F(2×2, 3×3) give 2e-7 to 8e-7; the tests bound it at 5e-5. The weight gradient sums over
every tile of the batch and lost more (2e-5 where F(2×2, 3×3) gives 3e-6), so it is
F(2×2, 3×3)'s (``grad_weight``). The input gradient is the forward convolution of gy with the
flipped, channel-swapped kernel, its U made with G's columns reversed (G has no symmetry that
would let U be permuted, as in ``_winograd.py``).

The NumPy forms below (one ``einsum`` per transform on a strided view of the tiles) are the
reference and the fallback; with Numba the transforms are compiled kernels
(``_winograd4_kernels.py``) that read their source once and write their result once.
"""

import functools
import os

from soma.autograd.memory_format import channels_to_front
from soma.backend import get_xp, parallel
from soma.functional.conv import _winograd
from soma.functional.conv import _winograd4_kernels as _fast

_xp = get_xp()

# SOMA_WINOGRAD4=0 leaves the 3×3 convolutions to F(2×2, 3×3) (to compare the two);
# SOMA_WINOGRAD=0 (``_winograd.ENABLED``) turns both off
ENABLED = os.environ.get("SOMA_WINOGRAD4", "1") != "0"

TILE = 4  # outputs per tile side
PATCH = TILE + 2  # input numbers per tile side

B_T = ((4, 0, -5, 0, 1, 0),
       (0, -4, -4, 1, 1, 0),
       (0, 4, -4, -1, 1, 0),
       (0, -2, -1, 2, 1, 0),
       (0, 2, -1, -2, 1, 0),
       (0, 4, 0, -5, 0, 1))  # fmt: skip
G = ((1 / 4, 0, 0),
     (-1 / 6, -1 / 6, -1 / 6),
     (-1 / 6, 1 / 6, -1 / 6),
     (1 / 24, 1 / 12, 1 / 6),
     (1 / 24, -1 / 12, 1 / 6),
     (0, 0, 1))  # fmt: skip
A_T = ((1, 1, 1, 1, 1, 0),
       (0, 1, -1, 2, -2, 0),
       (0, 1, 1, 4, 4, 0),
       (0, 1, -1, 8, -8, 1))  # fmt: skip

applies = _winograd.applies


def worth_it(g, in_channels, batch, out_channels=None):
    """Where F(4×4, 3×3) measured faster than F(2×2, 3×3), asked of the convolutions that
    F(2×2, 3×3) would take (``_winograd.worth_it``: enough tiles; see the table below): outputs of
    at least 8×8 (a 4×4 output would be one tile padded to 6×6 inputs) whose 4×4 tiles cover
    no more padding than 2×2 tiles do (sides of 4k or 4k + 3: SimpleCNN's 14×14 layer, 16×16
    in 4×4 tiles against 14×14 in 2×2 ones, measured 1.07-1.10x PyTorch's time against
    1.02-1.05x), and products large enough (``MIN_PRODUCT``)."""
    ho, wo = g.out_size
    tiles = batch * _tiles(ho) * _tiles(wo)
    snug = all(size % 4 in (0, 3) for size in (ho, wo))
    product = tiles * in_channels * (out_channels or in_channels)
    return (
        ENABLED
        and _winograd.ENABLED
        and min(ho, wo) >= 8
        and snug
        and product >= MIN_PRODUCT[min(parallel.blas_threads(), 2) - 1]
    )


# Multiplies (tiles · C · O) of one of the 36 products, at one BLAS thread and at more, from
# which F(4×4, 3×3) is taken. With F(2×2, 3×3) the products are 2.25 times larger (4 times
# the tiles, 16 products instead of 36), and at two threads OpenBLAS splits F(2×2, 3×3)'s
# products over both cores where F(4×4, 3×3)'s smaller ones stay on one (below 2^19
# multiplies). Measured per layer (forward and all gradients, median of 30 in one process
# alternating the two, float32, Zen 4), ms F(2×2) → F(4×4), with tiles · C · O:
#
#     layer              N  C→O  size  tiles·C·O | one thread    | two threads
#     ResNet-18 layer2  32 128→128  16     8.4 M  | 60.5 → 49.9  | 32.0 → 27.5
#     VGG-11 conv4      16 256→256   8     4.2 M  |              | 13.4 → 13.2
#     DenseNet-121      16 128→32   16     1.0 M  | 12.4 → 10.7  |  5.8 → 5.4
#     U-Net up          8   32→16   64     1.0 M  | 19.5 → 17.1  | 12.3 → 11.9
#     U-Net             8   16→16   64     524 K  | 13.7 → 12.8  |  7.4 → 7.4
#     U-Net             8   32→32   32     524 K  |  5.6 → 5.1   |  3.9 → 4.0
#     U-Net             8   64→64   16     524 K  |  4.7 → 4.4   |  2.5 → 2.8
#     DDPM denoiser    16  128→64    8     524 K  |  3.6 → 3.7   |  2.2 → 2.5
#     DDPM denoiser    16   64→64    8     262 K  |  1.8 → 1.9   |  1.4 → 1.6
#     DenseNet-121      16 128→32    8     262 K  |  2.1 → 2.2   |  1.5 → 1.7
MIN_PRODUCT = (1 << 19, 1 << 20)


def _tiles(size):
    return -(-size // TILE)


def _matrix(rows, dtype):
    return _xp.asarray(rows, dtype=dtype)


def _padded(xl, pads, out_size):
    """(N, H, W, C) → zero-padded (N, 4·th + 2, 4·tw + 2, C); negative pads crop."""
    n, h, w, c = xl.shape
    (top, _), (left, _) = pads
    th, tw = _tiles(out_size[0]), _tiles(out_size[1])
    rows, cols = TILE * th + 2, TILE * tw + 2
    buf = _xp.zeros((n, rows, cols, c), dtype=xl.dtype)
    r0, r1 = max(0, -top), min(h, rows - top)
    c0, c1 = max(0, -left), min(w, cols - left)
    if r1 > r0 and c1 > c0:
        buf[:, r0 + top : r1 + top, c0 + left : c1 + left] = xl[:, r0:r1, c0:c1]
    return buf


def transform_input(xl, pads, out_size):
    """V = Bᵀ d B for every tile: (36, N·th·tw, C) from a channels-last (N, H, W, C) input."""
    if _fast.applies(xl):
        return _fast.transform_input(xl, pads, out_size)
    c = xl.shape[-1]
    patches = _xp.lib.stride_tricks.sliding_window_view(
        _padded(xl, pads, out_size), (PATCH, PATCH), axis=(1, 2)
    )[:, ::TILE, ::TILE]  # (N, th, tw, C, 6, 6)
    bt = _matrix(B_T, xl.dtype)
    v = _xp.einsum("ak,bl,nijckl->abnijc", bt, bt, patches, optimize=True)
    return _xp.ascontiguousarray(v).reshape(PATCH * PATCH, -1, c)


def transform_output(m, out, b=None):
    """y = Aᵀ m A per tile: (36, n·th·tw, O) into ``out`` (n, H_out, W_out, O)."""
    if _fast.applies(m):
        return _fast.transform_output(m, out, b)
    n, ho, wo, o = out.shape
    th, tw = _tiles(ho), _tiles(wo)
    at = _matrix(A_T, m.dtype)
    m = m.reshape(PATCH, PATCH, n, th, tw, o)
    tiles = _xp.einsum("ra,sb,abnijo->nirjso", at, at, m, optimize=True)
    out[...] = tiles.reshape(n, TILE * th, TILE * tw, o)[:, :ho, :wo]
    if b is not None:
        out += b


@functools.cache
def _gg(dtype, flip=False):
    """G ⊗ G, (36, 9): U[6i + j] = Σ_kl G[i, k] G[j, l] g[3k + l]. With ``flip``, (G J) ⊗ (G J)
    (J reverses the three taps): the same for the kernel turned by 180°, read from the kernel
    as it is. Made once per dtype and form (see ``_winograd._gg``)."""
    gm = _matrix(G, dtype)
    if flip:
        gm = gm[:, ::-1]
    return _xp.kron(gm, gm)


def transform_weight(w):
    """U = G g Gᵀ for every (o, c): (O, C, 3, 3) → (36, C, O), a view of (36, O, C) memory."""
    o, c = w.shape[:2]
    return (_gg(w.dtype) @ w.reshape(o * c, 9).T).reshape(PATCH * PATCH, o, c).swapaxes(1, 2)


def transform_flipped_weight(w):
    """U of the flipped, channel-swapped kernel (C, O, 3, 3) that convolves gy into the input
    gradient: (O, C, 3, 3) → (36, O, C), contiguous. The flip goes into G (see ``_gg``), so
    the kernel is read in place instead of being copied reversed."""
    o, c = w.shape[:2]
    return (_gg(w.dtype, flip=True) @ w.reshape(o * c, 9).T).reshape(PATCH * PATCH, o, c)


class Weights:
    """U of the kernel for the forward pass, and (made at its first use, by the backward
    pass) U of the flipped, channel-swapped kernel for the input gradient."""

    def __init__(self, w):
        self.w = w
        self.u = transform_weight(w)
        self._flipped = None

    @property
    def flipped(self):
        if self._flipped is None:
            self._flipped = transform_flipped_weight(self.w)
        return self._flipped


def conv(xl, u, b, pads, out_size):
    """A 3×3 stride-1 convolution of channels-last ``xl`` with transformed weights ``u``
    (36, C, O): (N, H_out, W_out, O) memory, block by block."""
    n, c, o = xl.shape[0], u.shape[1], u.shape[2]
    y = _xp.empty((n,) + tuple(out_size) + (o,), dtype=xl.dtype)
    for block in _winograd._blocks(n, out_size, max(c, o), tile=TILE):
        v = transform_input(xl[block], pads, out_size)
        transform_output(_xp.matmul(v, u), y[block], b)
    return y


# The kernel-set protocol of ``convolution.py`` (see ``_winograd.py``). The weight gradient
# is F(2×2, 3×3)'s (see ``grad_weight``): the forward pass's V is of no use to it.
KEEPS_INPUT_TRANSFORM = False
prepare = _winograd.prepare
prepare_grad = _winograd.prepare_grad


def prepare_weight(w, g):
    """U = G g Gᵀ (36, C, O) for the forward pass, the flipped kernel's made when first needed
    (see ``Weights``): inference never makes it."""
    return Weights(w)


def forward(xl, weights, b, g):
    """y = Aᵀ [V ⊙ U] A + b: (N, O, H_out, W_out), a view of channels-last memory."""
    return channels_to_front(conv(xl, weights.u, b, g.pads, g.out_size))


def grad_input(gyl, weights, g, n):
    """∂L/∂x: gy convolved with the flipped kernel (C, O, 3, 3), padding 2 − pad."""
    pads = tuple((2 - lo, 2 - hi) for lo, hi in g.pads)
    return channels_to_front(conv(gyl, weights.flipped, None, pads, g.in_size))


def grad_weight(gyl, xl, g, w_shape):
    """∂L/∂W by F(2×2, 3×3) (``_winograd.grad_weight``). The weight gradient sums over every
    tile of the batch, and in F(4×4, 3×3) the large entries of Bᵀ and Aᵀ make the terms of
    Gᵀ dU G cancel: float32 errors of 2e-5 of the gradient's scale were measured (16 channels
    at 128×128, against float64), ten times F(2×2, 3×3)'s."""
    return _winograd.grad_weight(gyl, xl, g, w_shape)
