"""The LSTM layer with its per-step gate arithmetic fused in compiled kernels (batch-major).

``LSTMLayer`` in ``fused.py`` runs this path when the compiled kernels are enabled and the
layer has no projection (``proj_size``); its NumPy form stays the reference. Everything is
batch-major, as the sequence arrives: a step's gates are one (batch, 4·hidden) block of the
(T, B, 4H) pre-activation array, so there is no layout transposition at all, and nothing is
allocated inside the time loop. Per step, forward:

    e = exp(-(zₜ + hₜ₋₁ W̃ₕₕᵀ))          (BLAS product, then NumPy's SIMD exp, in place)
    i, f, o = 1 / (1 + e),  g = 2 / (1 + e_g) - 1   (W̃: the g rows doubled, all negated,
    cₜ = f cₜ₋₁ + i g                      so that tanh(z) = 2σ(2z) - 1; one kernel pass)
    hₜ = o tanh(cₜ)                        (NumPy tanh; the products in one ufunc)

backward (one kernel pass per step, then one BLAS product):

    dh = dhₜ (carried) + dyₜ,   dc = dcₜ (carried) + dh · o (1 - tanh²cₜ)
    dzᵢ = dc g i(1-i),  dz_f = dc cₜ₋₁ f(1-f),  dz_g = dc i (1-g²),  dzₒ = dh tanh(cₜ) o(1-o)
    dcₜ₋₁ = dc f,   dhₜ₋₁ = dzₜ Wₕₕ

The input projection of all steps (x Wᵢₕᵀ + b) and the weight gradients are one matrix
product each. In float32 the exp, the gates, c, tanh c and h are one kernel pass per step
(``_gates32``, with ``vecmath``'s exp and tanh, the bias added there too instead of in a pass
over the whole projection: ``lstm_train`` one process alternating the two, median step, one
thread 13.32 → 13.11 ms, two 13.21 → 12.91 ms, the same bits); float64 keeps NumPy's exp and
tanh around ``_gates``. On an AVX2 Zen 1, where NumPy's float32 exp and tanh are scalar (3.75 and 7.2 ns a
value), that took the ``lstm_train`` benchmark step from 26.2 to 20.0 ms (PyTorch 19.7-21.0).

Measured (CPU time on one thread, float32, LSTM(32→128), sequence 50, batch 32, batch_first,
busy 2-core VM; NumPy form → compiled, PyTorch 2.13 for reference): forward + backward
13.7 → 11.0 ms (PyTorch 9.5), forward alone 5.6 → 4.8 ms (3.0). What is left is mostly BLAS:
the per-step products take 2.4 ms forward and 2.35 ms backward, dWₕₕ 2.1 ms, the input
projection and dWᵢₕ 0.6 ms each; per step the gate kernel takes 3 µs and its backward 4 µs
(32x512; 21 µs before the per-gate row views, which let the loops vectorise).

Whole sequences (float32, where NumPy's BLAS is its bundled OpenBLAS: ``blas.gemm_address``):
the time loop itself is compiled (``_forward_rows``, ``_backward_rows``), each step's product
called from it (``blas.gemm``, the routine NumPy calls: a product of the same shape has the
same bits; in runs of fewer rows the sums may round differently). The batch's rows are
independent recurrences, so soma's threads each run the whole sequence for their share of
the rows (``parallel.ranges``), with no hand-over between steps, in products small enough for
OpenBLAS to keep on the calling thread (``_blocks``). Measured on the 2-core Zen 4
VM, ``lstm_train``'s layer (median of 50): forward 2.90 ms (Python loop, OpenBLAS's two
threads on every 32-row product) → 2.58 (the compiled loop, one thread) → 1.75 (two threads
of 16 rows); the backward loop 2.15 → 1.44 ms.
"""

from soma.backend import blas, compiled, get_xp, parallel, vecmath
from soma.backend.compiled import np

_xp = get_xp()


@compiled.kernel
def _gates(a, c_prev, c, one):
    """a (n, 4H) holds e = exp(-z̃) on entry, the activated gates (i, f, g, o) on exit;
    c (n, H) = f cₜ₋₁ + i g. ``one`` is 1 in the arrays' dtype (float32 math for float32).

    NOTE: one view per gate block and row: with them the loop vectorises (measured 2.9 µs for
    32x512 float32, against 21 µs indexing a[b, k·H + j] with float64 constants).
    """
    rows, four_h = a.shape
    hid = four_h // 4
    two = one + one
    for b in range(rows):
        ai, af = a[b, :hid], a[b, hid : 2 * hid]
        ag, ao = a[b, 2 * hid : 3 * hid], a[b, 3 * hid :]
        cp, cb = c_prev[b], c[b]
        for j in range(hid):
            i = one / (one + ai[j])
            f = one / (one + af[j])
            g = two / (one + ag[j]) - one
            o = one / (one + ao[j])
            ai[j] = i
            af[j] = f
            ag[j] = g
            ao[j] = o
            cb[j] = f * cp[j] + i * g


@compiled.helper(exact=True)
def _step32(a, bias, hh, c_prev, c, tc, h):
    """float32, the whole step after the product in one pass: a (n, 4H) holds the input
    projection's part of z̃ (as for ``_gates``, before the exp) on entry, ``bias`` (4H) the
    bias's, hh (n, 4H) the product's (hₜ₋₁ W̃ₕₕᵀ), and a the activated gates on exit;
    c = f cₜ₋₁ + i g, tc = tanh c and h = o tanh c (n, H). exp and tanh are ``vecmath``'s,
    inlined. z̃ is summed as (a + bias) + hh, the order of the float64 path (whose bias is
    added to the whole projection first): adding it here saves that pass over (T, B, 4H)."""
    rows, four_h = a.shape
    hid = four_h // 4
    one = np.float32(1)
    two = np.float32(2)
    bi, bf = bias[:hid], bias[hid : 2 * hid]
    bg, bo = bias[2 * hid : 3 * hid], bias[3 * hid :]
    for b in range(rows):
        ai, af = a[b, :hid], a[b, hid : 2 * hid]
        ag, ao = a[b, 2 * hid : 3 * hid], a[b, 3 * hid :]
        hi, hf = hh[b, :hid], hh[b, hid : 2 * hid]
        hg, ho = hh[b, 2 * hid : 3 * hid], hh[b, 3 * hid :]
        cp, cb, tb, hb = c_prev[b], c[b], tc[b], h[b]
        for j in range(hid):
            i = one / (one + vecmath.exp(ai[j] + bi[j] + hi[j]))
            f = one / (one + vecmath.exp(af[j] + bf[j] + hf[j]))
            g = two / (one + vecmath.exp(ag[j] + bg[j] + hg[j])) - one
            o = one / (one + vecmath.exp(ao[j] + bo[j] + ho[j]))
            ai[j] = i
            af[j] = f
            ag[j] = g
            ao[j] = o
            cv = f * cp[j] + i * g
            t = vecmath.tanh(cv)
            cb[j] = cv
            tb[j] = t
            hb[j] = o * t


@compiled.helper(exact=True)
def _step_backward(a, c_prev, tc, dh, gy, has_gy, dc, dz, one):
    """From the activated gates a (n, 4H), cₜ₋₁, tanh cₜ and the carried dh, dc (n, H) (plus
    dyₜ when ``has_gy``): dz (n, 4H) of the pre-activations, and dc ← dc · f in place."""
    rows, four_h = a.shape
    hid = four_h // 4
    for b in range(rows):
        ai, af = a[b, :hid], a[b, hid : 2 * hid]
        ag, ao = a[b, 2 * hid : 3 * hid], a[b, 3 * hid :]
        di, df = dz[b, :hid], dz[b, hid : 2 * hid]
        dg, do = dz[b, 2 * hid : 3 * hid], dz[b, 3 * hid :]
        cp, tb, dhb, dcb = c_prev[b], tc[b], dh[b], dc[b]
        if has_gy:  # dh's row is free to change: the step's product rewrites it
            gb = gy[b]
            for j in range(hid):
                dhb[j] += gb[j]
        for j in range(hid):
            i = ai[j]
            f = af[j]
            g = ag[j]
            o = ao[j]
            t = tb[j]
            d_h = dhb[j]
            d_c = dcb[j] + d_h * o * (one - t * t)
            di[j] = d_c * g * i * (one - i)
            df[j] = d_c * cp[j] * f * (one - f)
            dg[j] = d_c * i * (one - g * g)
            do[j] = d_h * t * o * (one - o)
            dcb[j] = d_c * f


@compiled.kernel
def _gates32(a, bias, hh, c_prev, c, tc, h):
    """One forward step after its product (``_step32``), called from Python."""
    _step32(a, bias, hh, c_prev, c, tc, h)


@compiled.kernel
def _gates_backward(a, c_prev, tc, dh, gy, has_gy, dc, dz, one):
    """One backward step before its product (``_step_backward``), called from Python."""
    _step_backward(a, c_prev, tc, dh, gy, has_gy, dc, dz, one)


# ---------------------------------------------------------------------------- whole sequences
# The steps of a sequence in one kernel call, for the batch rows [lo, hi): each row of the
# batch is its own recurrence (row b of hₜ needs row b of hₜ₋₁ only), so two threads can each
# run the whole sequence for half of the rows, with no hand-over between steps. Their
# products are called from the kernel (``blas.gemm``) in blocks of ``chunk`` rows by ``cols``
# columns, each small enough for OpenBLAS to run on the calling thread (``_product_blocks``).
@compiled.helper
def _product_blocks(gemm, chunk, cols, a, b, c):
    """c = a @ b as products of ``chunk`` rows of a by ``cols`` columns of b (and of c)."""
    rows, width = c.shape
    for r in range(0, rows, chunk):
        stop = min(r + chunk, rows)
        for j in range(0, width, cols):
            end = min(j + cols, width)
            blas.gemm(gemm, a[r:stop], b[:, j:end], c[r:stop, j:end])


@compiled.kernel
def _forward_rows(gemm, chunk, cols, acts, bias, w_t, hs, cs, tcs, hh, times, counts, lo, hi):
    """float32, every step k (time ``times[k]``, rows below ``counts[k]`` active) for rows
    [lo, hi): hh = hₖ W̃ₕₕᵀ, then ``_step32``."""
    for k in range(times.size):
        t = times[k]
        end = min(hi, counts[k])
        if end <= lo:
            continue
        _product_blocks(gemm, chunk, cols, hs[k, lo:end], w_t, hh[lo:end])
        rows = slice(lo, end)
        _step32(
            acts[t, rows],
            bias,
            hh[rows],
            cs[k, rows],
            cs[k + 1, rows],
            tcs[t, rows],
            hs[k + 1, rows],
        )


@compiled.kernel
def _backward_rows(
    gemm,
    chunk,
    cols,
    acts,
    cs,
    tcs,
    dh,
    gy,
    has_gy,
    dc,
    dz,
    w_hh,
    one,
    times,
    counts,
    lo,
    hi,
    last,
):
    """Back through the steps for rows [lo, hi): ``_step_backward`` (dyₜ = ``gy[t]`` when
    ``has_gy``), then dh = dzₜ Wₕₕ, down to step ``last`` (1 skips dh₀'s product)."""
    for k in range(times.size - 1, -1, -1):
        t = times[k]
        end = min(hi, counts[k])
        if end <= lo:
            continue
        rows = slice(lo, end)
        gy_t = gy[t, rows] if has_gy else gy[0, 0:0]
        _step_backward(
            acts[t, rows],
            cs[k, rows],
            tcs[t, rows],
            dh[rows],
            gy_t,
            has_gy,
            dc[rows],
            dz[t, rows],
            one,
        )
        if k >= last:
            _product_blocks(gemm, chunk, cols, dz[t, lo:end], w_hh, dh[lo:end])


# The sequence kernels' products run in blocks small enough for OpenBLAS to keep each on the
# calling thread (``blas.SINGLE_THREAD_WORK``), which lets soma's threads each take a share of
# the batch's rows for the whole sequence. Where OpenBLAS has small-matrix kernels
# (``blas.small_products_unpacked``) the blocks are runs of rows across all the columns:
# measured on ``lstm_train``'s forward (hidden 128: products of 4 rows, 5.7 µs each on one
# thread, Zen 4), one thread running all 32 rows: products of 4 rows 2.58 ms, of 8 2.55, of 16
# 3.09, of 32 4.23 (the last two above the threshold: OpenBLAS's own split, slower). Where
# OpenBLAS packs the operands of every product, each run of rows would pack the whole kernel
# again (4 rows 13.5 µs against 25.8 for 16, a Zen 5 VM's "haswell" kernels), so the blocks are
# BLOCK_ROWS rows by a share of the columns: four (16, 128) @ (128, 128) products 27.9 µs, four
# (16, 512) @ (512, 32) 28.5 µs. Blocks narrower than MIN_COLUMNS or shorter than MIN_ROWS
# (hidden sizes over 256 where OpenBLAS packs, over 128 where it does not) leave the products
# whole, split by OpenBLAS, and the kernel on the calling thread alone (on that Zen 5 VM
# ``lstm_train``'s step 8.04 → 5.53 ms whole, from runs of 4 rows, paired median, two threads).
MIN_ROWS = 4
BLOCK_ROWS = 16
MIN_COLUMNS = 16


def _blocks(hid):
    """(rows, forward columns, backward columns) of the sequence kernels' products when soma's
    threads share the batch, or None. The forward products are (rows, H) @ (H, 4H), the
    backward ones (rows, 4H) @ (4H, H)."""
    work = blas.SINGLE_THREAD_WORK
    if blas.small_products_unpacked():
        rows = work // (4 * hid * hid)
        return (rows, 4 * hid, hid) if rows >= MIN_ROWS else None
    forward, backward = work // (BLOCK_ROWS * hid), work // (BLOCK_ROWS * 4 * hid)
    return (BLOCK_ROWS, forward, backward) if backward >= MIN_COLUMNS else None


def _run_sequence(kernel, batch, steps, hid):
    """``kernel(blocks, lo, hi)`` over the batch's rows: shared among soma's threads in products
    of ``_blocks``, or whole on this thread. Where OpenBLAS packs every product and the rows are
    not shared (one thread), whole products too: one (32, 128) @ (128, 512) product 43 µs at one
    thread against 56 µs in blocks (a Zen 5 VM)."""
    whole = (batch, 4 * hid, hid)
    blocks = _blocks(hid)
    if blocks is None:
        kernel(whole, 0, batch)
        return
    alone = blocks if blas.small_products_unpacked() else whole

    def share(lo, hi):
        kernel(alone if hi - lo == batch else blocks, lo, hi)

    parallel.ranges(share, batch, steps * batch * 4 * hid * hid // 16)


def _schedule_arrays(schedule):
    """The schedule as two int64 arrays: the time of each step and its active rows."""
    steps = _xp.asarray(schedule, dtype=_xp.int64).reshape(-1, 2)
    return _xp.ascontiguousarray(steps[:, 0]), _xp.ascontiguousarray(steps[:, 1])


def applies(w_hh, w_hr):
    """The compiled path: kernels enabled, float32 or float64 (Numba has no float16 math),
    and no projection (``proj_size`` 0)."""
    return compiled.enabled() and w_hr is None and w_hh.dtype in compiled.FLOAT_DTYPES


def _scaled(w, hid):
    """-w with the g block doubled: exp(-(z̃)) then gives every gate from one σ (see doc)."""
    out = _xp.negative(w)
    out[2 * hid : 3 * hid] *= 2
    return out


def forward(x, h0, c0, w_ih, w_hh, bias, schedule, track, packed):
    """Run the layer; returns (acts, hs, cs, tcs): activated gates (T, B, 4H) in time order,
    the h and c tracks (T+1, B, H) in processing order, tanh c (T, B, H) in time order."""
    steps, batch, _ = x.shape
    hid = c0.shape[-1]
    projection = x.reshape(steps * batch, x.shape[-1]) @ _scaled(w_ih, hid).T
    acts = projection.reshape(steps, batch, 4 * hid)
    fused_bias = acts.dtype == _xp.float32  # _gates32 adds it, one pass over acts less
    if fused_bias:
        bias = _xp.zeros(4 * hid, acts.dtype) if bias is None else _scaled(bias, hid)
    elif bias is not None:
        acts += _scaled(bias, hid)
    w_t = _xp.ascontiguousarray(_scaled(w_hh, hid).T)  # (measured: 1.5x faster products)
    hs, cs = track(h0), track(c0)
    tcs = (_xp.zeros if packed else _xp.empty)((steps, batch, hid), dtype=acts.dtype)
    hh = _xp.empty((batch, 4 * hid), dtype=acts.dtype)
    one = acts.dtype.type(1)
    address = blas.gemm_address(acts.dtype) if fused_bias else 0
    if address:  # the whole sequence in compiled code
        times, counts = _schedule_arrays(schedule)

        def rows(blocks, lo, hi):
            chunk, cols = blocks[0], blocks[1]
            _forward_rows(
                address, chunk, cols, acts, bias, w_t, hs, cs, tcs, hh, times, counts, lo, hi
            )

        _run_sequence(rows, batch, steps, hid)
        return acts, hs, cs, tcs
    with _xp.errstate(over="ignore"):  # exp(-z) = inf for z ≪ 0 gives the limits 0 and -1
        for k, (t, n) in enumerate(schedule):
            a = acts[t, :n]
            product = _xp.matmul(hs[k, :n], w_t, out=hh[:n])
            if fused_bias:  # NOTE: the kernel adds bias and product (two passes less)
                _gates32(a, bias, product, cs[k, :n], cs[k + 1, :n], tcs[t, :n], hs[k + 1, :n])
                continue
            a += product
            _xp.exp(a, out=a)
            _gates(a, cs[k, :n], cs[k + 1, :n], one)
            tc = _xp.tanh(cs[k + 1, :n], out=tcs[t, :n])
            _xp.multiply(a[:, 3 * hid :], tc, out=hs[k + 1, :n])
    return acts, hs, cs, tcs


def backward(gy, gh, gc, acts, cs, tcs, w_hh, schedule, packed, need_h0=True):
    """Back through time: (dz (T, B, 4H) in time order, dh₀, dc₀); without ``need_h0`` the
    last product (dh₀ = dz Wₕₕ) is skipped and dh₀ is meaningless."""
    steps, batch, four_h = acts.shape
    hid = four_h // 4
    dz = (_xp.zeros if packed else _xp.empty)(acts.shape, dtype=acts.dtype)
    dh = _xp.zeros((batch, hid), acts.dtype) if gh is None else gh.astype(acts.dtype, copy=True)
    dc = _xp.zeros((batch, hid), acts.dtype) if gc is None else gc.astype(acts.dtype, copy=True)
    none = _xp.zeros((0, hid), dtype=acts.dtype)
    one = acts.dtype.type(1)
    address = blas.gemm_address(acts.dtype) if acts.dtype == _xp.float32 else 0
    if address:  # as in forward
        times, counts, last = *_schedule_arrays(schedule), 0 if need_h0 else 1
        has_gy, gy = gy is not None, none[None] if gy is None else gy
        w_hh = _xp.ascontiguousarray(w_hh)

        def rows(blocks, lo, hi):
            chunk, cols = blocks[0], blocks[2]
            _backward_rows(
                address, chunk, cols, acts, cs, tcs, dh, gy, has_gy, dc, dz, w_hh, one,
                times, counts, lo, hi, last,
            )  # fmt: skip

        _run_sequence(rows, batch, steps, hid)
        return dz, dh, dc
    for k in range(len(schedule) - 1, -1, -1):
        t, n = schedule[k]
        gy_t = none if gy is None else gy[t, :n]
        _gates_backward(
            acts[t, :n],
            cs[k, :n],
            tcs[t, :n],
            dh[:n],
            gy_t,
            gy is not None,
            dc[:n],
            dz[t, :n],
            one,
        )
        if k or need_h0:
            _xp.matmul(dz[t, :n], w_hh, out=dh[:n])
    return dz, dh, dc
