"""Winograd F(2×2, 3×3) kernels for 3×3, stride-1, undilated, ungrouped 2-D convolutions.

Lavin & Gray 2015 ("Fast Algorithms for Convolutional Neural Networks"). The output is cut
into 2×2 tiles; tile (i, j) reads the 4×4 input patch d at rows 2i…2i+3, columns 2j…2j+3 of the
padded input, and for every (c, o)

    y_tile = Aᵀ [ Σ_c (G g Gᵀ) ⊙ (Bᵀ d B) ] A,        g: the 3×3 kernel w[o, c]

    Bᵀ = [1  0 -1  0]     G = [ 1    0    0 ]     Aᵀ = [1  1  1  0]
         [0  1  1  0]         [1/2  1/2  1/2]          [0  1 -1 -1]
         [0 -1  1  0]         [1/2 -1/2  1/2]
         [0  1  0 -1]         [ 0    0    1 ]

The sum over c at each of the 16 transformed positions t is a matrix product: with
V[t] = (Bᵀ d B)[t] as (P, C) over the P = N·th·tw tiles and U[t] = (G g Gᵀ)[t] as (C, O),
M[t] = V[t] @ U[t], 16 BLAS products of 16·P·C·O multiplies where im2col needs 9·(4P)·C·O:
all the products shrink 2.25×. The transforms are a few additions on strided slices (B, A have
entries 0, ±1; G's halves are exact in binary, so float32 loses only a few ulps more than im2col).

Backward: the input gradient of a 3×3 stride-1 convolution is the 3×3 stride-1 convolution of
gy with the flipped, channel-swapped kernel and padding 2 − pad (as ``adjoint_geometry``; a
negative padding crops), run by the same forward. The weight gradient is the adjoint of the
forward's algebra,

    dM[t] = (A gy_tile Aᵀ)[t],    dU[t] = Σ_tiles dM[t]ᵀ V[t],    ∂g = Gᵀ dU G.

Everything runs in blocks of a few images (``_blocks``), so that V, M and the transforms'
intermediates stay in cache: the forward measured 1.25–1.45× faster than in one pass over the
whole batch. With Numba installed the three transforms are compiled kernels
(``_winograd_kernels.py``: one pass each instead of about twenty, split over soma's threads,
the same bits); the NumPy forms here stay the reference and the fallback. For the same reason V is not saved for the weight gradient: ``prepare`` keeps the input itself (a
channels-last view, no copy) and ``grad_weight`` transforms it again block by block. Layout as
in ``_im2col.py``: inputs are read channels-last, outputs are (N, O, H, W) views of
(N, H, W, O) memory.

``_kernels`` (``convolution.py``) takes these kernels from 16 input channels and 64 output
tiles: below that the weight transforms (16·C·O numbers, three times per step) and the small
products cost more than they save (``worth_it`` has the measurements that set it). The table
below is older (NumPy transforms, before the compiled ones). Measured per layer, ms of CPU
time on one thread (NumPy's BLAS and PyTorch), min of 7, on a busy machine (other jobs on both
cores), input channels-last as inside a network; fwd+bwd includes all three gradients. With
BLAS on two threads im2col's one large product splits better than these per-block products;
that regime was too noisy to measure on the busy machine: ``SOMA_WINOGRAD=0`` turns these
kernels off to compare.

    layer          N  C→O    size | forward: PyTorch im2col Winograd | fwd+bwd: PyTorch im2col Winograd
    simplecnn 2   64  32→64   14  |            4.58   7.62   5.81    |          14.84  25.30  18.89
    resnet18 l1   32  64→64   32  |           22.74  44.06  23.59    |          74.31 122.20  83.70
    resnet18 l2   32 128→128  16  |           22.13  31.82  22.67    |          66.69  94.36  66.97
    resnet18 l3   32 256→256   8  |           19.26  28.14  19.07    |          61.34  83.01  55.99
    resnet18 l4   32 512→512   4  |           17.09  27.26  23.87    |          62.95  85.80  68.98
    vgg11         16  64→128  16  |            5.69   8.01   5.46    |          18.02  24.61  18.45
    vgg11         16 256→256   8  |            9.83  14.26  10.74    |          33.43  43.13  30.96
    vgg11         16 256→512   4  |            5.03   7.62   7.37    |          17.59  22.67  20.49
    vgg11         16 512→512   4  |            9.41  15.21  12.66    |          31.54  49.68  38.62
    vgg11 (im2col) 16 512→512  2  |            2.74   5.25   7.42    |          12.23  21.77  23.03
    unet           8  16→16   64  |            1.97   4.37   3.93    |           6.44  15.43  12.79
    unet           8  32→32   32  |            1.45   2.18   2.07    |           4.81   8.06   6.86
    unet           8  64→64   16  |            1.31   1.97   1.46    |           5.06   6.99   4.88
    unet           8 128→128   8  |            1.26   1.76   1.50    |           4.18   5.99   4.38
    unet (im2col)  8 256→256   4  |            1.14   2.30   2.77    |           4.70   6.99   6.93
    unet           8  32→16   64  |            4.34  11.19   6.79    |          11.83  27.14  20.12
    densenet121   16 128→32   32  |           12.05  27.00  16.46    |          37.28  65.71  48.27
    densenet121   16 128→32    8  |            0.64   1.08   1.01    |           2.43   3.62   3.75
    densenet (im2col) 16 128→32 4 |            0.19   0.32   0.40    |           0.76   0.92   1.15
    ddpm          16  32→32   16  |            0.75   1.33   1.25    |           2.40   4.21   3.79
    ddpm          16 128→64    8  |            1.23   2.08   1.65    |           4.52   6.07   4.45
"""

import functools
import os

from soma.autograd.memory_format import channels_to_end, channels_to_front
from soma.backend import get_xp
from soma.functional.conv import _winograd_kernels as _fast
from soma.functional.conv._geometry import reduce_positions

_xp = get_xp()

# SOMA_WINOGRAD=0 in the environment leaves every convolution on im2col (to compare the two)
ENABLED = os.environ.get("SOMA_WINOGRAD", "1") != "0"


def applies(g):
    """Whether these kernels compute this convolution: 2-D 3×3, stride 1, dilation 1, one group."""
    return g.kernel == (3, 3) and g.stride == (1, 1) and g.dilation == (1, 1) and g.groups == 1


# Output tiles (2×2) from which Winograd is taken. Measured with the compiled transforms (Zen 4,
# float32, forward and all gradients, median of 21 in one process alternating the two, ms
# im2col → Winograd at one BLAS thread | at two), by tiles:
#     64 tiles  16×64→64 at 4×4    0.90 → 0.61 | 0.79 → 0.76
#               16×32→32 at 4×4    0.41 → 0.31 | 0.37 → 0.29
#               16×128→128 at 4×4  2.96 → 2.11 | 1.81 → 1.62
#               16×128→32 at 4×4   0.94 → 0.63 | 0.99 → 0.89   (DenseNet-121's last block)
#     32 tiles  8×256→256 at 4×4   6.33 → 5.81 | 3.85 → 3.69
#               8×512→512 at 4×4   26.6 → 24.7 | 20.2 → 28.0
#     16 tiles  16×256→256 at 2×2  4.29 → 4.83 | 3.07 → 3.61
#               4×256→256 at 4×4   4.04 → 4.80 | 2.62 → 3.23
# (The threshold was 128 tiles, or 64 with 256 channels, when the transforms were NumPy's.)
MIN_TILES = 64


def worth_it(g, batch):
    """Where Winograd measured faster than im2col: enough 2×2 output tiles for its 16 products
    to be large (``MIN_TILES``)."""
    tiles = batch * _tiles(g.out_size[0]) * _tiles(g.out_size[1])
    return ENABLED and tiles >= MIN_TILES


def _tiles(size):
    return -(-size // 2)


def _padded(xl, pads, out_size):
    """(N, H, W, C) → zero-padded (N, 2·th + 2, 2, tw + 1, C), columns split by parity.

    Column w of the padded input is ``buf[:, :, w % 2, w // 2]``: the column transform then
    reads contiguous runs of tw·C numbers instead of runs of C. Negative pads crop.
    """
    n, h, w, c = xl.shape
    (top, _), (left, _) = pads
    th, tw = _tiles(out_size[0]), _tiles(out_size[1])
    buf = _xp.zeros((n, 2 * th + 2, 2, tw + 1, c), dtype=xl.dtype)
    # source rows/columns that land inside the buffer, and where they land
    r0, r1 = max(0, -top), min(h, 2 * th + 2 - top)
    c0, c1 = max(0, -left), min(w, 2 * tw + 2 - left)
    if r1 <= r0 or c1 <= c0:
        return buf
    rows = slice(r0 + top, r1 + top)
    for parity in range(2):
        first = c0 + (parity - c0 - left) % 2  # first source column landing on this parity
        src = xl[:, r0:r1, first:c1:2]
        j = (first + left) // 2
        buf[:, rows, parity, j : j + src.shape[2]] = src
    return buf


def _bt(d0, d1, d2, d3, out):
    """Bᵀ along one axis: (d0 − d2, d1 + d2, d2 − d1, d1 − d3) into out[0..3]."""
    _xp.subtract(d0, d2, out=out[0])
    _xp.add(d1, d2, out=out[1])
    _xp.subtract(d2, d1, out=out[2])
    _xp.subtract(d1, d3, out=out[3])


def transform_input(xl, pads, out_size):
    """V = Bᵀ d B for every tile: (16, N·th·tw, C) from a channels-last (N, H, W, C) input."""
    if _fast.applies(xl):
        return _fast.transform_input(xl, pads, out_size)
    n, c = xl.shape[0], xl.shape[-1]
    th, tw = _tiles(out_size[0]), _tiles(out_size[1])
    buf = _padded(xl, pads, out_size)
    r = _xp.empty((4, n, th) + buf.shape[2:], dtype=xl.dtype)
    # rows: tile i reads padded rows 2i … 2i + 3
    _bt(*(buf[:, k : k + 2 * th : 2] for k in range(4)), r)
    v = _xp.empty((4, 4, n, th, tw, c), dtype=xl.dtype)
    for i in range(4):
        # columns 2j, 2j + 1, 2j + 2, 2j + 3
        e, o = r[i][:, :, 0], r[i][:, :, 1]
        _bt(e[:, :, :tw], o[:, :, :tw], e[:, :, 1:], o[:, :, 1:], v[i])
    return v.reshape(16, n * th * tw, c)


@functools.cache
def _gg(dtype):
    """G ⊗ G, (16, 9): U[4i + j] = Σ_kl G[i, k] G[j, l] g[3k + l]. Made once per dtype (15 µs
    a call, three calls per layer and step) and only ever read."""
    gm = _xp.asarray([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=dtype)
    return _xp.kron(gm, gm)


def transform_weight(w):
    """U = G g Gᵀ for every (o, c): (O, C, 3, 3) → (16, C, O), a view of (16, O, C) memory."""
    o, c = w.shape[:2]
    taps = w.reshape(o * c, 9)
    return (_gg(w.dtype) @ taps.T).reshape(16, o, c).swapaxes(1, 2)


def transform_output(m, out, b=None):
    """y = Aᵀ m A per tile: (16, n·th·tw, O) into ``out`` (n, H_out, W_out, O)."""
    if _fast.applies(m):
        return _fast.transform_output(m, out, b)
    n, ho, wo, o = out.shape
    th, tw = _tiles(ho), _tiles(wo)
    m = m.reshape(4, 4, n, th, tw, o)
    s = _xp.empty((2, 4, n, th, tw, o), dtype=m.dtype)
    # rows: s0 = m0 + m1 + m2, s1 = m1 − m2 − m3
    _xp.add(m[0], m[1], out=s[0])
    s[0] += m[2]
    _xp.subtract(m[1], m[2], out=s[1])
    s[1] -= m[3]
    # columns, written straight into the (cropped) output positions 2i + a, 2j + col
    for a in range(2):
        for col in range(2):
            dst = out[:, a::2, col::2]
            src = s[a][..., : dst.shape[1], : dst.shape[2], :]
            if col == 0:
                _xp.add(src[0], src[1], out=dst)
                dst += src[2]
            else:
                _xp.subtract(src[1], src[2], out=dst)
                dst -= src[3]
    if b is not None:
        out += b


def transform_grad(gyl):
    """dM = A gy Aᵀ per tile (the adjoint of ``transform_output``): (16, n·th·tw, O)."""
    if _fast.applies(gyl):
        return _fast.transform_grad(gyl)
    n, ho, wo, o = gyl.shape
    th, tw = _tiles(ho), _tiles(wo)
    # gy in 2×2 tiles, zero beyond the output, columns split by parity as in ``_padded``
    gp = _xp.zeros((n, 2 * th, 2, tw, o), dtype=gyl.dtype)
    gp[:, :ho, 0, : _tiles(wo)] = gyl[:, :, 0::2]
    gp[:, :ho, 1, : wo // 2] = gyl[:, :, 1::2]
    # rows: (e0, e0 + e1, e0 − e1, −e1) for tile rows e0, e1; then the same on columns
    e0, e1 = gp[:, 0::2], gp[:, 1::2]
    r = _xp.empty((4, n, th, 2, tw, o), dtype=gyl.dtype)
    r[0] = e0
    _xp.add(e0, e1, out=r[1])
    _xp.subtract(e0, e1, out=r[2])
    _xp.negative(e1, out=r[3])
    dm = _xp.empty((4, 4, n, th, tw, o), dtype=gyl.dtype)
    for i in range(4):
        f0, f1 = r[i][:, :, 0], r[i][:, :, 1]
        dm[i, 0] = f0
        _xp.add(f0, f1, out=dm[i, 1])
        _xp.subtract(f0, f1, out=dm[i, 2])
        _xp.negative(f1, out=dm[i, 3])
    return dm.reshape(16, -1, o)


# Images per block: the transformed tiles of a block (16·th·tw·channels numbers) stay near
# 8 MiB, so the transforms and the products work in the caches instead of in memory, while
# each of the 16 products stays large enough for OpenBLAS's two threads. Measured at two
# threads, one process alternating (fwd + all gradients, median): 2 MiB blocks → 8 MiB,
# DenseNet-121's 128→32 layer at 32×32 53.7 → 45.4 ms and at 16×16 15.6 → 12.2 ms, ResNet-18's
# layers unchanged (47.9 / 48.0, 31.7 / 31.0 ms); 32 MiB blocks were slower on ResNet-18's
# first layers (54.1 ms). Whole DenseNet-121 step 1251 → 1194 ms (median of 41).
_BLOCK = 1 << 21
# The weight gradient's blocks are larger (16 MiB of float32): its products dMᵀ V sum over the
# block's tiles with a transposed operand, and OpenBLAS's two-thread product of that form was
# slower than its one-thread product at small sizes (64×512 by 512×64: 1.0 ms against 0.74 ms
# on the 2-core VM). ResNet-18's training step, one process alternating the two: 1055 → 873 ms.
_BLOCK_GW = 1 << 22


def _blocks(n, out_size, channels, block=None, tile=2):
    """Runs of images whose transformed tiles ((tile + 2)² numbers per tile and channel, for
    outputs in tile × tile tiles) fit ``block`` numbers."""
    tiles = (-(-out_size[0] // tile)) * (-(-out_size[1] // tile))
    step = max(1, (block or _BLOCK) // ((tile + 2) ** 2 * tiles * channels))
    return [slice(i, min(n, i + step)) for i in range(0, n, step)]


def _products(v, u, order=None):
    """M[t] = V[t] @ U[order[t]] for the 16 positions t (``order`` None: U[t])."""
    if order is None:
        return _xp.matmul(v, u)
    m = _xp.empty(v.shape[:2] + u.shape[2:], dtype=_xp.result_type(v, u))
    for t, s in enumerate(order):
        _xp.matmul(v[t], u[s], out=m[t])
    return m


def conv(xl, u, b, pads, out_size, kept=None, order=None):
    """A 3×3 stride-1 convolution of channels-last ``xl`` with transformed weights ``u``
    (16, C, O), position t taking ``u[order[t]]`` when an order is given: (N, H_out, W_out, O)
    memory, computed block by block. Given a list ``kept``, V is appended to it when the whole
    batch was one block (see ``KEEPS_INPUT_TRANSFORM``)."""
    n, c, o = xl.shape[0], u.shape[1], u.shape[2]
    y = _xp.empty((n,) + tuple(out_size) + (o,), dtype=xl.dtype)
    blocks = _blocks(n, out_size, max(c, o))
    for block in blocks:
        v = transform_input(xl[block], pads, out_size)
        transform_output(_products(v, u, order), y[block], b)
    if kept is not None and len(blocks) == 1:
        kept.append(v)
    return y


# The flipped kernel's G g Gᵀ is U's with rows and columns 0 and 3 swapped (G J = R G, J the
# reversal of 3 taps, R the swap of 0 and 3): the input gradient reuses the transform.
_FLIP = [4 * i + j for i in (3, 1, 2, 0) for j in (3, 1, 2, 0)]
# From this many numbers in U the input gradient's products read U's positions in the flipped
# order in place, one product call each, instead of a permuted copy of U (a 16·C·O gather:
# 0.94 ms for 512→512, against 16 calls of a few µs; smaller U is copied, as one batched call
# is cheaper there). The same products, the same bits.
_READ_FLIPPED_FROM = 1 << 18


# The kernel-set protocol of ``convolution.py`` (see ``_im2col.py``). The input is kept as it
# is (a channels-last view). Where the forward pass made V in one block (at most ``_BLOCK``
# numbers: 8 MiB of float32), that V is kept for the weight gradient instead of being made
# again (``forward`` and ``grad_weight`` take the list ``kept``): four times the input's
# memory until the backward pass, for one input transform less per layer and step. Measured
# at two threads on the Zen 1 VM, one process alternating the two (median step): U-Net
# 291.1 -> 275.4 and 253.6 -> 243.4 ms, DDPM denoiser 116.2 -> 112.4 ms; the U-Net's peak
# resident memory 314 -> 349 MiB. Larger inputs are
# transformed again block by block, where it is cheaper in cache than writing and re-reading
# a V that does not fit.
KEEPS_INPUT_TRANSFORM = True


def prepare(x, g):
    """The input (N, C, H, W) as a channels-last (N, H, W, C) view; with the compiled transforms,
    a channels-last copy when x is not channels-last (made once here for the forward and the
    weight gradient, instead of once per block in each: they read C contiguous numbers)."""
    xl = channels_to_end(x)
    return _fast.channels_last(xl) if _fast.applies(xl) else xl


def prepare_weight(w, g):
    """U = G g Gᵀ (16, C, O), made once per step for the forward pass and the input gradient."""
    return transform_weight(w)


def forward(xl, u, b, g, kept=None):
    """y = Aᵀ [V ⊙ U] A + b: (N, O, H_out, W_out), a view of channels-last memory (V appended
    to ``kept`` when made in one block)."""
    return channels_to_front(conv(xl, u, b, g.pads, g.out_size, kept))


prepare_grad = prepare


def grad_input(gyl, u, g, n):
    """∂L/∂x: gy convolved with the flipped kernel (C, O, 3, 3), padding 2 − pad."""
    pads = tuple((2 - lo, 2 - hi) for lo, hi in g.pads)
    swapped = u.swapaxes(1, 2)  # (16, O, C), contiguous
    if u.size >= _READ_FLIPPED_FROM:
        y = conv(gyl, swapped, None, pads, g.in_size, order=_FLIP)
    else:
        y = conv(gyl, swapped[_FLIP], None, pads, g.in_size)  # the flipped kernel's U
    return channels_to_front(y)


def grad_weight(gyl, xl, g, w_shape, kept=None):
    """∂L/∂W = Gᵀ (Σ_tiles dMᵀ @ V) G per tap, as (O, C, 3, 3); V is ``kept[0]`` when the
    forward pass kept it, else made again from xl block by block."""
    n, o, c = xl.shape[0], w_shape[0], w_shape[1]
    if kept:
        du = reduce_positions(transform_grad(gyl).swapaxes(1, 2), kept[0])
        return (du.reshape(16, -1).T @ _gg(du.dtype)).reshape(w_shape)
    du = None
    for block in _blocks(n, g.out_size, max(c, o), _BLOCK_GW):
        v = transform_input(xl[block], g.pads, g.out_size)
        part = reduce_positions(transform_grad(gyl[block]).swapaxes(1, 2), v)  # (16, O, C)
        du = part if du is None else _xp.add(du, part, out=du)
    return (du.reshape(16, -1).T @ _gg(du.dtype)).reshape(w_shape)
