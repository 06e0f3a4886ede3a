"""Compiled Winograd F(2×2, 3×3) transforms: one pass each instead of NumPy's many.

``_winograd.py`` builds V = Bᵀ d B, y = Aᵀ M A and dM = A gy Aᵀ from whole-array additions on
strided slices: about twenty passes over arrays several times the input's size, all on one
thread. The kernels here read their source once and write their result once, through a small
scratch that stays in cache: the input and output transforms a row of tiles at a time (their
row transform as a few long loops over the whole row), the gradient's tile by tile; every
loop runs along the contiguous channels, so it vectorises. soma's pool can run them on blocks
of images (``parallel.ranges``, when ``set_num_threads`` turns it on), while the 16 products
between them stay BLAS's.

Each kernel performs the NumPy form's additions in the same order, so both give the same bits
(the tests compare them exactly). Layouts are those of ``_winograd.py``: x and gy channels-last
(N, H, W, C), V, M and dM (16, P, C) with P = images·th·tw tiles numbered (image, i, j),
transformed position t = 4a + b (a: the row transform's output, b: the column's).
"""

from soma.backend import compiled, get_xp, parallel

_xp = get_xp()


@compiled.helper(exact=True)
def gather_rows(x, n, first_row, left, d):
    """d[k, col, :] = x[n, first_row + k, col − left, :] for every row k and column col of the
    scratch d, zero outside x (the convolution's padding): the rows a row of tiles reads."""
    height, width, chans = x.shape[1], x.shape[2], x.shape[3]
    for k in range(d.shape[0]):
        row = first_row + k
        for col in range(d.shape[1]):
            src = col - left
            if 0 <= row < height and 0 <= src < width:
                for c in range(chans):
                    d[k, col, c] = x[n, row, src, c]
            else:
                for c in range(chans):
                    d[k, col, c] = 0


@compiled.kernel
def _input_tiles(x, v, d, r, top, left, th, tw, n0, n1):
    """V for images n0 … n1 − 1 of x into v[:, n·th·tw + i·tw + j, :], one row of tiles at a time.

    Tile (i, j) reads the 4×4 patch at input rows 2i − top …, columns 2j − left …. For tile row
    i, the four input rows it reads are first copied into the scratch ``d`` (4, 2·tw + 2, C),
    zero outside the input; then

        r = Bᵀ d   over the whole row (d0 − d2, d1 + d2, d2 − d1, d1 − d3: runs of
                   (2·tw + 2)·C numbers),
        V = r B    per tile, on its four columns 2j … 2j + 3 of each row of r.

    Working a row of tiles at once makes the row transform four long loops instead of sixteen
    loops of C per tile: the kernel alone 1.1–1.7x faster than tile by tile (most with 16–64
    channels); one process alternating the two, median step: U-Net 119.7 → 116.7 ms, DDPM
    denoiser 51.9 → 50.7 ms, ResNet-18 624 → 612 ms. Every loop over channels has one store
    stream (so it vectorises without alias checks).
    """
    chans = x.shape[3]
    cols = 2 * tw + 2
    for n in range(n0, n1):
        for i in range(th):
            gather_rows(x, n, 2 * i - top, left, d)
            for col in range(cols):
                for c in range(chans):
                    r[0, col, c] = d[0, col, c] - d[2, col, c]
            for col in range(cols):
                for c in range(chans):
                    r[1, col, c] = d[1, col, c] + d[2, col, c]
            for col in range(cols):
                for c in range(chans):
                    r[2, col, c] = d[2, col, c] - d[1, col, c]
            for col in range(cols):
                for c in range(chans):
                    r[3, col, c] = d[1, col, c] - d[3, col, c]
            p0 = (n * th + i) * tw
            for a in range(4):
                t = 4 * a
                for j in range(tw):
                    for c in range(chans):
                        v[t, p0 + j, c] = r[a, 2 * j, c] - r[a, 2 * j + 2, c]
                for j in range(tw):
                    for c in range(chans):
                        v[t + 1, p0 + j, c] = r[a, 2 * j + 1, c] + r[a, 2 * j + 2, c]
                for j in range(tw):
                    for c in range(chans):
                        v[t + 2, p0 + j, c] = r[a, 2 * j + 2, c] - r[a, 2 * j + 1, c]
                for j in range(tw):
                    for c in range(chans):
                        v[t + 3, p0 + j, c] = r[a, 2 * j + 1, c] - r[a, 2 * j + 3, c]


@compiled.kernel
def _output_tiles(m, y, s, bias, has_bias, th, tw, n0, n1):
    """y = Aᵀ M A (+ bias) for images n0 … n1 − 1 of y, one row of tiles at a time, from m
    (16, P·O): M with each transformed position's (P, O) block flattened.

    The tw tiles of row i are tw·O consecutive numbers of every m_t, so the row transform runs
    over the whole row at once into the scratch ``s`` (2, 4, tw·O):

        s0 = m0 + m1 + m2,   s1 = m1 − m2 − m3        (m_a: the four rows 4a … 4a + 3),

    eight long loops instead of eight loops of O per tile; then the same on the columns of each
    tile, O numbers at a time, into output rows 2i and 2i + 1 (+ bias). Outputs beyond y's edge
    (odd sizes) are dropped. The kernel alone on one thread, float32, against tile by tile:
    0.67 → 0.43 ms for 8 images × 16 channels at 64×64, 0.165 → 0.140 ms for 8 × 32 at 32×32,
    equal (0.77 ms) for 64 × 256 at 8×8. In whole steps the gain is within the noise (one
    process alternating the two: U-Net 103.5 vs 103.8 ms best, DDPM denoiser 44.3 vs 44.6 ms
    median).
    """
    out_h, out_w, chans = y.shape[1], y.shape[2], y.shape[3]
    span = tw * chans
    for n in range(n0, n1):
        for i in range(th):
            base = (n * th + i) * span
            for b in range(4):
                m0, m1 = m[b, base : base + span], m[4 + b, base : base + span]
                m2, m3 = m[8 + b, base : base + span], m[12 + b, base : base + span]
                s0, s1 = s[0, b], s[1, b]
                for k in range(span):
                    s0[k] = m0[k] + m1[k] + m2[k]
                for k in range(span):
                    s1[k] = m1[k] - m2[k] - m3[k]
            for a in range(min(2, out_h - 2 * i)):
                y_row = y[n, 2 * i + a]
                sa0, sa1, sa2, sa3 = s[a, 0], s[a, 1], s[a, 2], s[a, 3]
                for j in range(tw):
                    q = j * chans
                    even = y_row[2 * j]
                    if has_bias:  # (s0 + s1 + s2) + bias: the NumPy form's order
                        for c in range(chans):
                            even[c] = sa0[q + c] + sa1[q + c] + sa2[q + c] + bias[c]
                    else:
                        for c in range(chans):
                            even[c] = sa0[q + c] + sa1[q + c] + sa2[q + c]
                    if 2 * j + 1 < out_w:
                        odd = y_row[2 * j + 1]
                        if has_bias:
                            for c in range(chans):
                                odd[c] = sa1[q + c] - sa2[q + c] - sa3[q + c] + bias[c]
                        else:
                            for c in range(chans):
                                odd[c] = sa1[q + c] - sa2[q + c] - sa3[q + c]


@compiled.kernel
def _grad_tiles(gy, dm, e, r, th, tw, n0, n1):
    """dM = A gy Aᵀ for images n0 … n1 − 1 of gy into dm[:, n·th·tw + i·tw + j, :].

    The tile's 2×2 block of gy is copied into the scratch ``e`` (2, 2, O), zero beyond the
    edge; rows into the scratch ``r`` (4, 2, O): (e0, e0 + e1, e0 − e1, −e1); then the same
    on the two columns of each row of r.
    """
    out_h, out_w, chans = gy.shape[1], gy.shape[2], gy.shape[3]
    for n in range(n0, n1):
        for i in range(th):
            for j in range(tw):
                p = (n * th + i) * tw + j
                for a in range(2):
                    for b in range(2):
                        if 2 * i + a < out_h and 2 * j + b < out_w:
                            for c in range(chans):
                                e[a, b, c] = gy[n, 2 * i + a, 2 * j + b, c]
                        else:
                            for c in range(chans):
                                e[a, b, c] = 0
                for b in range(2):
                    for c in range(chans):
                        r[0, b, c] = e[0, b, c]
                    for c in range(chans):
                        r[1, b, c] = e[0, b, c] + e[1, b, c]
                    for c in range(chans):
                        r[2, b, c] = e[0, b, c] - e[1, b, c]
                    for c in range(chans):
                        r[3, b, c] = -e[1, b, c]
                for a in range(4):
                    t = 4 * a
                    for c in range(chans):
                        dm[t, p, c] = r[a, 0, c]
                    for c in range(chans):
                        dm[t + 1, p, c] = r[a, 0, c] + r[a, 1, c]
                    for c in range(chans):
                        dm[t + 2, p, c] = r[a, 0, c] - r[a, 1, c]
                    for c in range(chans):
                        dm[t + 3, p, c] = -r[a, 1, c]


def applies(x):
    """Whether the compiled transforms run for this array (Numba on, float32 or float64)."""
    return compiled.enabled() and x.dtype in compiled.FLOAT_DTYPES


def _copy(a, out):
    _xp.copyto(out, a)


def channels_last(a):
    """``a`` (N, H, W, C) itself when its channels are contiguous, else a channels-last copy
    made on soma's threads: the kernels read C numbers in a row (an NCHW array seen as NHWC
    was measured 3x slower in place)."""
    if a.strides[-1] == a.itemsize:
        return a
    return parallel.elementwise(_copy, a, out=_xp.empty(a.shape, a.dtype), work=2)


def _tiles(size):
    return -(-size // 2)


def transform_input(xl, pads, out_size):
    """V (16, N·th·tw, C) from channels-last xl (N, H, W, C), images split across threads."""
    xl = channels_last(xl)
    n, c = xl.shape[0], xl.shape[-1]
    th, tw = _tiles(out_size[0]), _tiles(out_size[1])
    v = _xp.empty((16, n * th * tw, c), dtype=xl.dtype)
    top, left = pads[0][0], pads[1][0]

    def run(n0, n1):
        d, r = _xp.empty((2, 4, 2 * tw + 2, c), dtype=xl.dtype)
        _input_tiles(xl, v, d, r, top, left, th, tw, n0, n1)

    parallel.ranges(run, n, v.size)
    return v


def transform_output(m, out, b=None):
    """y = Aᵀ M A (+ b) from M (16, n·th·tw, O) into out (n, H_out, W_out, O)."""
    n, ho, wo, o = out.shape
    bias = b if b is not None else _xp.zeros(1, dtype=out.dtype)
    th, tw = _tiles(ho), _tiles(wo)
    m = m.reshape(16, -1)

    def run(n0, n1):
        scratch = _xp.empty((2, 4, tw * o), dtype=out.dtype)
        _output_tiles(m, out, scratch, bias, b is not None, th, tw, n0, n1)

    parallel.ranges(run, n, m.size)


def transform_grad(gyl):
    """dM = A gy Aᵀ (16, n·th·tw, O) from channels-last gy (n, H_out, W_out, O)."""
    gyl = channels_last(gyl)
    n, ho, wo, o = gyl.shape
    th, tw = _tiles(ho), _tiles(wo)
    dm = _xp.empty((16, n * th * tw, o), dtype=gyl.dtype)

    def run(n0, n1):
        e, r = _xp.empty((2, 2, o), dtype=gyl.dtype), _xp.empty((4, 2, o), dtype=gyl.dtype)
        _grad_tiles(gyl, dm, e, r, th, tw, n0, n1)

    parallel.ranges(run, n, dm.size)
    return dm
