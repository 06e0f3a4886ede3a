"""Compiled Winograd F(4×4, 3×3) transforms: one pass each over their source and result.

The NumPy forms in ``_winograd4.py`` (``einsum`` over strided views of the tiles) make and
reduce arrays several times V's size; these kernels read the input once and write V once,
through scratch rows that stay in cache, and split over soma's threads by blocks of images
(``parallel.ranges``), as ``_winograd_kernels.py`` does for F(2×2, 3×3), whose layouts they
share: x and y channels-last (N, H, W, C), V and M (36, P, C) with P = images·th·tw tiles
numbered (image, i, j), transformed position t = 6a + b (a: the row transform's output, b: the
column's). Every loop runs along the contiguous channels, so it vectorises.

The transforms are the matrices of ``_winograd4.py`` written out, with their repeated
sub-sums shared (Bᵀ's rows 1–4 pair up as u ± 4v and u ± 2v, Aᵀ's rows as p ± q, p + 4r,
...). The additions happen in another order than ``einsum``'s, so the two forms agree to
rounding (the tests bound the difference), not to the bit.
"""

from soma.backend import compiled, get_xp, parallel
from soma.functional.conv._winograd_kernels import (  # noqa: F401  applies: re-exported
    applies,
    channels_last,
    gather_rows,
)

_xp = get_xp()


@compiled.kernel
def _input_tiles(x, v, d, r, consts, top, left, th, tw, n0, n1):
    """V for images n0 … n1 − 1 of x into v[:, n·th·tw + i·tw + j, :], one row of tiles at a
    time: the six input rows tile row i reads (zero outside the input) into the scratch
    ``d`` (6, 4·tw + 2, C); r = Bᵀ d over the whole row into ``r`` (same shape); then
    V = r B per tile, on its six columns 4j … 4j + 5 of each row of r. With d0 … d5 six rows
    (or columns), Bᵀ d is

        4 d0 − 5 d2 + d4,   (d3 + d4) − 4 (d1 + d2),   (d4 − d3) + 4 (d1 − d2),
        (d4 − d2) − 2 (d1 − d3),   (d4 − d2) + 2 (d1 − d3),   4 d1 − 5 d3 + d5.

    NOTE: written out twice, not as a helper called per column and per tile: with the helper
    the kernel took 2.7 ms instead of 0.83 (8 images × 16 channels at 64×64, one thread).
    """
    two, four, five = consts[0], consts[1], consts[2]
    for n in range(n0, n1):
        for i in range(th):
            gather_rows(x, n, 4 * i - top, left, d)
            for col in range(d.shape[1]):
                d0, d1, d2 = d[0, col], d[1, col], d[2, col]
                d3, d4, d5 = d[3, col], d[4, col], d[5, col]
                r0, r1, r2 = r[0, col], r[1, col], r[2, col]
                r3, r4, r5 = r[3, col], r[4, col], r[5, col]
                for c in range(d.shape[2]):
                    s12 = d1[c] + d2[c]
                    m12 = d1[c] - d2[c]
                    m13 = d1[c] - d3[c]
                    m42 = d4[c] - d2[c]
                    r0[c] = four * d0[c] - five * d2[c] + d4[c]
                    r1[c] = d3[c] + d4[c] - four * s12
                    r2[c] = d4[c] - d3[c] + four * m12
                    r3[c] = m42 - two * m13
                    r4[c] = m42 + two * m13
                    r5[c] = four * d1[c] - five * d3[c] + d5[c]
            p0 = (n * th + i) * tw
            for a in range(6):
                t = 6 * a
                for j in range(tw):
                    e0, e1, e2 = r[a, 4 * j], r[a, 4 * j + 1], r[a, 4 * j + 2]
                    e3, e4, e5 = r[a, 4 * j + 3], r[a, 4 * j + 4], r[a, 4 * j + 5]
                    v0, v1, v2 = v[t, p0 + j], v[t + 1, p0 + j], v[t + 2, p0 + j]
                    v3, v4, v5 = v[t + 3, p0 + j], v[t + 4, p0 + j], v[t + 5, p0 + j]
                    for c in range(d.shape[2]):
                        s12 = e1[c] + e2[c]
                        m12 = e1[c] - e2[c]
                        m13 = e1[c] - e3[c]
                        m42 = e4[c] - e2[c]
                        v0[c] = four * e0[c] - five * e2[c] + e4[c]
                        v1[c] = e3[c] + e4[c] - four * s12
                        v2[c] = e4[c] - e3[c] + four * m12
                        v3[c] = m42 - two * m13
                        v4[c] = m42 + two * m13
                        v5[c] = four * e1[c] - five * e3[c] + e5[c]


@compiled.kernel
def _output_tiles(m, y, s, consts, bias, has_bias, th, tw, n0, n1):
    """y = Aᵀ M A (+ bias) for images n0 … n1 − 1 of y, one row of tiles at a time, from m
    (36, P·O): M with each transformed position's (P, O) block flattened.

    The row of tiles is tw·O consecutive numbers of every m_t, so the row transform runs over
    the whole row at once into the scratch ``s`` (4, 6, tw·O); then the same on the columns of
    each tile into output rows 4i … 4i + 3. With m0 … m5 six rows (or columns), Aᵀ m is

        m0 + (m1 + m2) + (m3 + m4),   (m1 − m2) + 2 (m3 − m4),
        (m1 + m2) + 4 (m3 + m4),      (m1 − m2) + 8 (m3 − m4) + m5.

    Outputs beyond y's edge are dropped.
    """
    two, four, eight = consts[0], consts[1], consts[3]
    out_h, out_w, chans = y.shape[1], y.shape[2], y.shape[3]
    span = tw * chans
    for n in range(n0, n1):
        for i in range(th):
            base = (n * th + i) * span
            for b in range(6):
                m0, m1 = m[b, base : base + span], m[6 + b, base : base + span]
                m2, m3 = m[12 + b, base : base + span], m[18 + b, base : base + span]
                m4, m5 = m[24 + b, base : base + span], m[30 + b, base : base + span]
                s0, s1, s2, s3 = s[0, b], s[1, b], s[2, b], s[3, b]
                for k in range(span):
                    p = m1[k] + m2[k]
                    q = m1[k] - m2[k]
                    u = m3[k] + m4[k]
                    w = m3[k] - m4[k]
                    s0[k] = m0[k] + p + u
                    s1[k] = q + two * w
                    s2[k] = p + four * u
                    s3[k] = q + eight * w + m5[k]
            for a in range(min(4, out_h - 4 * i)):
                y_row = y[n, 4 * i + a]
                e0, e1, e2 = s[a, 0], s[a, 1], s[a, 2]
                e3, e4, e5 = s[a, 3], s[a, 4], s[a, 5]
                for j in range(tw):
                    q0 = j * chans
                    cols = min(4, out_w - 4 * j)
                    for c in range(chans):
                        k = q0 + c
                        p = e1[k] + e2[k]
                        q = e1[k] - e2[k]
                        u = e3[k] + e4[k]
                        w = e3[k] - e4[k]
                        y0 = e0[k] + p + u
                        y1 = q + two * w
                        y2 = p + four * u
                        y3 = q + eight * w + e5[k]
                        if has_bias:
                            y0 += bias[c]
                            y1 += bias[c]
                            y2 += bias[c]
                            y3 += bias[c]
                        y_row[4 * j, c] = y0
                        if cols > 1:
                            y_row[4 * j + 1, c] = y1
                        if cols > 2:
                            y_row[4 * j + 2, c] = y2
                        if cols > 3:
                            y_row[4 * j + 3, c] = y3


def _constants(dtype):
    """2, 4, 5, 8 in the arrays' dtype: a Python int times a float32 is float64 in Numba."""
    return _xp.asarray([2, 4, 5, 8], dtype=dtype)


def _tiles(size):
    return -(-size // 4)


def transform_input(xl, pads, out_size):
    """V (36, N·th·tw, C) from channels-last xl (N, H, W, C), images split across threads."""
    xl = channels_last(xl)
    n, c = xl.shape[0], xl.shape[-1]
    th, tw = _tiles(out_size[0]), _tiles(out_size[1])
    v = _xp.empty((36, n * th * tw, c), dtype=xl.dtype)
    top, left = pads[0][0], pads[1][0]

    def run(n0, n1):
        d, r = _xp.empty((2, 6, 4 * tw + 2, c), dtype=xl.dtype)
        _input_tiles(xl, v, d, r, _constants(xl.dtype), top, left, th, tw, n0, n1)

    parallel.ranges(run, n, v.size)
    return v


def transform_output(m, out, b=None):
    """y = Aᵀ M A (+ b) from M (36, n·th·tw, O) into out (n, H_out, W_out, O)."""
    n, ho, wo, o = out.shape
    bias = b if b is not None else _xp.zeros(1, dtype=out.dtype)
    th, tw = _tiles(ho), _tiles(wo)
    m = m.reshape(36, -1)

    def run(n0, n1):
        scratch = _xp.empty((4, 6, tw * o), dtype=out.dtype)
        _output_tiles(m, out, scratch, _constants(out.dtype), bias, b is not None, th, tw, n0, n1)

    parallel.ranges(run, n, m.size)
