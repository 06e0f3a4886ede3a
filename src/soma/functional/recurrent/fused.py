"""Recurrent layers fused over the whole sequence: Elman RNN, LSTM and GRU.

Each ``*Layer`` Function runs one layer in one direction over a time-major sequence. The
forward pass computes the input projection ``x Wᵢₕᵀ + b`` for every time step in one matrix
product, then loops over time (never over batch items) doing one ``h Wₕₕᵀ`` product and a few
element-wise updates per step, keeping the gate activations. The backward pass runs back
through time once, computing every gradient (input, initial state, weights, biases): the
per-step work is the recurrence itself; everything that does not depend on it (gate
derivative factors, the weight and input gradients) is one batched operation over all steps.

Variable-length batches follow PyTorch's packed layout: sequences sorted by decreasing length
and ``batch_sizes[t]`` = how many of them are still running at time ``t``. At step ``t`` only
the first ``batch_sizes[t]`` rows are updated; the others keep their state, so each
sequence's final state is the one after its own last element (in the reverse direction each
sequence starts from its own last element), and outputs past a sequence's end are zero.

The public functions (stacked and bidirectional layers, single-step cells) are in
``soma.functional.recurrent.layers``.
"""

from soma.autograd.function import Function
from soma.backend import get_xp
from soma.functional.linalg import column_sums
from soma.functional.recurrent import _lstm_kernels

_xp = get_xp()


def _schedule(steps, batch, batch_sizes, reverse):
    """(time, active rows) pairs in processing order."""
    times = range(steps - 1, -1, -1) if reverse else range(steps)
    if batch_sizes is None:
        return [(t, batch) for t in times]
    return [(t, int(batch_sizes[t])) for t in times]


def _track(state0, steps, batch_sizes, reverse):
    """States in processing order, (T+1, B, F): row 0 is the initial state, row k+1 is written
    by the k-th step (its active rows only).

    In the reverse direction a shorter sequence starts late, from the initial state, so every
    row starts as a copy of it. Elsewhere the rows a step does not write are never read
    (zeros, so that arithmetic on whole arrays stays finite).
    """
    shape = (steps + 1,) + state0.shape
    fill = _xp.empty if batch_sizes is None else _xp.zeros
    track = fill(shape, dtype=state0.dtype)
    track[0] = state0
    if batch_sizes is not None and reverse:
        track[1:] = state0
    return track


def _in_time_order(track, reverse):
    """The state after each step, indexed by time: (T, B, F) view."""
    return track[1:][::-1] if reverse else track[1:]


def _previous(track, reverse):
    """The state each step started from, indexed by time: (T, B, F) view."""
    return track[:-1][::-1] if reverse else track[:-1]


def _lengths(batch_sizes, batch):
    return (_xp.asarray(batch_sizes)[None, :] > _xp.arange(batch)[:, None]).sum(axis=1)


def _outputs(track, batch_sizes, reverse):
    """Outputs in time order (zero past each sequence's end) and each sequence's final state."""
    ys = _in_time_order(track, reverse)
    if batch_sizes is not None:
        batch = track.shape[1]
        active = _xp.arange(batch)[None, :] < _xp.asarray(batch_sizes)[:, None]
        ys = ys * active[..., None].astype(ys.dtype)
    return ys, _final(track, batch_sizes, reverse)


def _final(track, batch_sizes, reverse):
    """Each sequence's last state (a copy: it must not alias the outputs)."""
    if batch_sizes is None or reverse:
        return track[-1].copy()  # in reverse every sequence ends at time 0
    batch = track.shape[1]
    return track[_lengths(batch_sizes, batch), _xp.arange(batch)]


def _input_projection(x, w_ih, bias):
    """x Wᵢₕᵀ + bias for every time step at once: (T, B, I) → (T, B, G)."""
    steps, batch, _ = x.shape
    z = x.reshape(steps * batch, x.shape[-1]) @ w_ih.T
    if bias is not None:
        z += bias
    return z.reshape(steps, batch, z.shape[-1])


def _sigmoid_of_negated_(a):
    """σ(z) = 1 / (1 + e^-z) in place, from a = -z (e^-z = inf for z ≪ 0 gives the limit 0).

    NOTE: callers keep pre-activations negated (negated weights), which saves a pass; they
    also silence the overflow warning once around their loop.
    """
    _xp.exp(a, out=a)
    a += 1
    _xp.reciprocal(a, out=a)
    return a


def _zero_or_copy(g, shape, dtype):
    return _xp.zeros(shape, dtype=dtype) if g is None else g.astype(dtype, copy=True)


def _flat(a):
    return a.reshape(-1, a.shape[-1])


def _input_side_grads(needs, dz, x, w_ih):
    """Gradients of x, Wᵢₕ and the bias from d(pre-activation) of all steps, one product each."""
    dz2, x2 = _flat(dz), _flat(x)
    gx = (dz2 @ w_ih).reshape(x.shape) if needs[0] else None
    gw = dz2.T @ x2 if needs[1] else None
    gb = column_sums(dz2) if needs[2] else None
    return gx, gw, gb


def _hidden_weight_grad(dz, track, reverse):
    """dWₕₕ = Σₜ dzₜᵀ hₜ₋₁ over all steps, one product."""
    return _flat(dz).T @ _flat(_previous(track, reverse))


def check_batch_sizes(batch_sizes, steps, batch):
    if batch_sizes is None:
        return None
    sizes = _xp.asarray(batch_sizes, dtype=_xp.int64)
    if sizes.shape != (steps,) or sizes[0] != batch or _xp.any(sizes[1:] > sizes[:-1]):
        raise ValueError(
            f"recurrent layer: batch_sizes must be {steps} non-increasing counts starting at the "
            f"batch size {batch}, got {sizes.tolist()}"
        )
    return sizes


def _sum_bias(b_ih, b_hh):
    if b_ih is None:
        return b_hh
    return b_ih if b_hh is None else b_ih + b_hh


# ---------------------------------------------------------------------------- Elman RNN
class RNNLayer(Function):
    """hₜ = act(xₜ Wᵢₕᵀ + bᵢₕ + hₜ₋₁ Wₕₕᵀ + bₕₕ), act = tanh or relu, over a whole sequence."""

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, *, relu, batch_sizes, reverse):
        steps, batch, _ = x.shape
        z = _input_projection(x, w_ih, _sum_bias(b_ih, b_hh))
        hs = _track(h0, steps, batch_sizes, reverse)
        w_hh_t = w_hh.T
        for k, (t, n) in enumerate(_schedule(steps, batch, batch_sizes, reverse)):
            h = _xp.add(z[t, :n], hs[k, :n] @ w_hh_t, out=hs[k + 1, :n])
            if relu:
                h *= h > 0
            else:
                _xp.tanh(h, out=h)
        ys, h_n = _outputs(hs, batch_sizes, reverse)
        # NOTE: ys (a view of hs) is saved so that an in-place change of the output is caught
        # before backward reads hs, as PyTorch raises
        ctx.save(x, w_ih, w_hh, hs, ys)
        ctx.options = (relu, batch_sizes, reverse)
        return ys, h_n

    @staticmethod
    def backward(ctx, gy, gh):
        x, w_ih, w_hh, hs, _ = ctx.saved
        relu, batch_sizes, reverse = ctx.options
        steps, batch, _ = x.shape
        ys = _in_time_order(hs, reverse)
        # d(pre-activation) = dh · act'(·): 1 - h² for tanh, [h > 0] for relu
        deriv = (ys > 0).astype(ys.dtype) if relu else 1 - ys * ys
        dz = _xp.zeros(ys.shape, dtype=ys.dtype)
        dh = _zero_or_copy(gh, hs.shape[1:], ys.dtype)
        for t, n in reversed(_schedule(steps, batch, batch_sizes, reverse)):
            dhn = dh[:n]
            if gy is not None:
                dhn += gy[t, :n]
            _xp.multiply(dhn, deriv[t, :n], out=dz[t, :n])
            _xp.matmul(dz[t, :n], w_hh, out=dhn)  # dhₜ₋₁ = dzₜ Wₕₕ
        needs = ctx.needs_input_grad
        gx, gw_ih, gb = _input_side_grads((needs[0], needs[2], needs[4] or needs[5]), dz, x, w_ih)
        gw_hh = _hidden_weight_grad(dz, hs, reverse) if needs[3] else None
        return gx, dh if needs[1] else None, gw_ih, gw_hh, gb, gb


# ---------------------------------------------------------------------------- LSTM
class LSTMLayer(Function):
    """LSTM over a sequence; gates in PyTorch's order (input i, forget f, cell g, output o).

    i, f, o = σ(·), g = tanh(·) of xₜ Wᵢₕᵀ + hₜ₋₁ Wₕₕᵀ + b;  cₜ = f cₜ₋₁ + i g;
    hₜ = o tanh(cₜ), projected to hₜ Wₕᵣᵀ when ``w_hr`` is given (``proj_size``).

    NOTE: inside, every per-step array is feature-major, (features, batch): a gate is then a
    contiguous block of rows, and NumPy's element-wise loops run 2-3x faster on contiguous
    blocks than on the strided column blocks of a (batch, 4·hidden) layout (measured).
    """

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, *, batch_sizes, reverse):
        steps, batch, _ = x.shape
        ctx.options = (batch_sizes, reverse)
        ctx.compiled = _lstm_kernels.applies(w_hh, w_hr)
        if ctx.compiled:  # batch-major, gate arithmetic fused (see _lstm_kernels)
            acts, hs, cs, tcs = _lstm_kernels.forward(
                x,
                h0,
                c0,
                w_ih,
                w_hh,
                _sum_bias(b_ih, b_hh),
                _schedule(steps, batch, batch_sizes, reverse),
                lambda s: _track(s, steps, batch_sizes, reverse),
                batch_sizes is not None,
            )
            ys = _outputs(hs, batch_sizes, reverse)[0]
            # NOTE: ys (a view of hs) is saved so that an in-place change of the output is
            # caught before backward reads hs, as PyTorch raises
            ctx.save(x, w_ih, w_hh, acts, hs, cs, tcs, ys)
            return ys, _final(hs, batch_sizes, reverse), _final(cs, batch_sizes, reverse)
        hid = c0.shape[-1]
        g_rows = slice(2 * hid, 3 * hid)
        # NOTE: pre-activations are kept negated, with the g rows doubled, so that one
        # sigmoid covers all four gates: tanh(z) = 2σ(2z) - 1. The scaling goes into (copies
        # of) the weights, not into the big per-step arrays.
        scale = _xp.full((4 * hid, 1), -1, dtype=w_hh.dtype)
        scale[g_rows] = -2
        bias = _sum_bias(b_ih, b_hh)
        z = _input_projection(x, w_ih * scale, None if bias is None else bias * scale[:, 0])
        acts = _xp.ascontiguousarray(z.transpose(0, 2, 1))  # (T, 4H, B)
        w = w_hh * scale
        hs = _track(h0.T, steps, batch_sizes, reverse)
        cs = _track(c0.T, steps, batch_sizes, reverse)
        tcs = _xp.zeros((steps, hid, batch), dtype=acts.dtype)
        ms = None if w_hr is None else _xp.zeros(tcs.shape, dtype=acts.dtype)
        with _xp.errstate(over="ignore"):
            for k, (t, n) in enumerate(_schedule(steps, batch, batch_sizes, reverse)):
                a = acts[t][:, :n]
                a += w @ hs[k][:, :n]
                _sigmoid_of_negated_(a)
                g = a[g_rows]
                g *= 2
                g -= 1
                c = _xp.multiply(a[hid : 2 * hid], cs[k][:, :n], out=cs[k + 1][:, :n])
                c += a[:hid] * g
                tc = _xp.tanh(c, out=tcs[t][:, :n])
                if ms is None:
                    _xp.multiply(a[3 * hid :], tc, out=hs[k + 1][:, :n])
                else:
                    _xp.multiply(a[3 * hid :], tc, out=ms[t][:, :n])
                    hs[k + 1][:, :n] = w_hr @ ms[t][:, :n]
        ys = _feature_major_outputs(hs, batch_sizes, reverse)
        ctx.save(x, w_ih, w_hh, w_hr, acts, hs, cs, tcs, ms, ys)  # ys: see the compiled path
        return (
            ys,
            _feature_major_final(hs, batch_sizes, reverse),
            _feature_major_final(cs, batch_sizes, reverse),
        )

    @staticmethod
    def backward(ctx, gy, gh, gc):
        if ctx.compiled:
            return _compiled_lstm_backward(ctx, gy, gh, gc)
        x, w_ih, w_hh, w_hr, acts, hs, cs, tcs, ms, _ = ctx.saved
        batch_sizes, reverse = ctx.options
        steps, batch, _ = x.shape
        hid = cs.shape[1]
        factors, carry = _lstm_factors(acts, _previous(cs, reverse), tcs)
        dz = _xp.zeros(acts.shape, dtype=acts.dtype)
        dz4 = dz.reshape(steps, 4, hid, batch)
        gy = None if gy is None else _xp.ascontiguousarray(gy.transpose(0, 2, 1))
        dh = _zero_or_copy(None if gh is None else gh.T, hs.shape[1:], acts.dtype)
        dc = _zero_or_copy(None if gc is None else gc.T, cs.shape[1:], acts.dtype)
        dhs = None if w_hr is None else _xp.zeros((steps,) + hs.shape[1:], dtype=acts.dtype)
        forget, w_hh_t = acts[:, hid : 2 * hid], w_hh.T
        for t, n in reversed(_schedule(steps, batch, batch_sizes, reverse)):
            dhn = dh[:, :n]
            if gy is not None:
                dhn += gy[t][:, :n]
            if dhs is not None:
                dhs[t][:, :n] = dhn
                dhn = w_hr.T @ dhn  # d(o·tanh c) = Wₕᵣᵀ dh
            dcn = dc[:, :n]
            dcn += dhn * carry[t][:, :n]  # dc += dh · o (1 - tanh²c)
            _xp.multiply(factors[t, :3, :, :n], dcn, out=dz4[t, :3, :, :n])
            _xp.multiply(factors[t, 3, :, :n], dhn, out=dz4[t, 3, :, :n])
            dcn *= forget[t][:, :n]  # dcₜ₋₁ = dcₜ f
            dh[:, :n] = w_hh_t @ dz[t][:, :n]  # dhₜ₋₁ = Wₕₕᵀ dzₜ
        return _lstm_grads(ctx.needs_input_grad, dz, dh, dc, dhs, x, w_ih, hs, ms, reverse)


def _compiled_lstm_backward(ctx, gy, gh, gc):
    x, w_ih, w_hh, acts, hs, cs, tcs, _ = ctx.saved
    batch_sizes, reverse = ctx.options
    steps, batch, _ = x.shape
    schedule = _schedule(steps, batch, batch_sizes, reverse)
    needs = ctx.needs_input_grad
    dz, dh, dc = _lstm_kernels.backward(
        gy, gh, gc, acts, cs, tcs, w_hh, schedule, batch_sizes is not None, needs[1]
    )
    gx, gw_ih, gb = _input_side_grads((needs[0], needs[3], needs[5] or needs[6]), dz, x, w_ih)
    gw_hh = _hidden_weight_grad(dz, hs, reverse) if needs[4] else None
    return gx, dh if needs[1] else None, dc if needs[2] else None, gw_ih, gw_hh, gb, gb, None


def _feature_major_outputs(track, batch_sizes, reverse):
    """(T, B, F) outputs in time order from a feature-major track, zero past each end."""
    ys = _in_time_order(track, reverse).transpose(0, 2, 1)
    if batch_sizes is None:
        return ys
    batch = track.shape[2]
    active = _xp.arange(batch)[None, :] < _xp.asarray(batch_sizes)[:, None]
    return ys * active[..., None].astype(ys.dtype)


def _feature_major_final(track, batch_sizes, reverse):
    """(B, F): each sequence's last state from a feature-major track (a copy)."""
    if batch_sizes is None or reverse:
        return track[-1].T.copy()
    batch = track.shape[2]
    return track[_lengths(batch_sizes, batch), :, _xp.arange(batch)]


def _lstm_factors(acts, cprev, tcs):
    """Per-gate d(pre-activation)/d(c or h) for all steps at once, (T, 4, H, B), and
    o(1 - tanh²c), (T, H, B).

    dzᵢ = dc · g σ'ᵢ,  dz_f = dc · cₜ₋₁ σ'_f,  dz_g = dc · i (1 - g²),  dzₒ = dh · tanh(c) σ'ₒ
    """
    steps, four_h, batch = acts.shape
    a4 = acts.reshape(steps, 4, four_h // 4, batch)
    i, g, o = a4[:, 0], a4[:, 2], a4[:, 3]
    factors = _xp.subtract(1, a4)  # 1 - σ for i, f, o
    factors *= a4  # σ' = σ (1 - σ)
    factors[:, 0] *= g
    factors[:, 1] *= cprev
    _xp.multiply(g, g, out=factors[:, 2])
    _xp.subtract(1, factors[:, 2], out=factors[:, 2])
    factors[:, 2] *= i
    factors[:, 3] *= tcs
    carry = tcs * tcs
    _xp.subtract(1, carry, out=carry)
    carry *= o
    return factors, carry


def _lstm_grads(needs, dz, dh, dc, dhs, x, w_ih, hs, ms, reverse):
    """Every gradient from the per-step d(pre-activation), in batch-major products."""
    dz = _xp.ascontiguousarray(dz.transpose(0, 2, 1))  # (T, B, 4H)
    gx, gw_ih, gb = _input_side_grads((needs[0], needs[3], needs[5] or needs[6]), dz, x, w_ih)
    gw_hh = None
    if needs[4]:  # dWₕₕ = Σₜ dzₜᵀ hₜ₋₁
        hprev = _xp.ascontiguousarray(_previous(hs, reverse).transpose(0, 2, 1))
        gw_hh = _flat(dz).T @ _flat(hprev)
    gw_hr = None
    if dhs is not None and needs[7]:  # dWₕᵣ = Σₜ dhₜ mₜᵀ
        gw_hr = _xp.tensordot(dhs, ms, axes=([0, 2], [0, 2]))
    return (
        gx,
        dh.T.copy() if needs[1] else None,
        dc.T.copy() if needs[2] else None,
        gw_ih,
        gw_hh,
        gb,
        gb,
        gw_hr,
    )


# ---------------------------------------------------------------------------- GRU
class GRULayer(Function):
    """GRU over a sequence; gates in PyTorch's order (reset r, update z, new n).

    r, z = σ(xₜ Wᵢᵣ,ᵢ𝓏ᵀ + hₜ₋₁ Wₕᵣ,ₕ𝓏ᵀ + b);  n = tanh(xₜ Wᵢₙᵀ + bᵢₙ + r (hₜ₋₁ Wₕₙᵀ + bₕₙ));
    hₜ = (1 - z) n + z hₜ₋₁.  Per-step arrays are feature-major, as in ``LSTMLayer``.
    """

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, *, batch_sizes, reverse):
        steps, batch, _ = x.shape
        hid = h0.shape[-1]
        rz = slice(0, 2 * hid)
        z = _input_projection(x, w_ih, b_ih)
        acts = _xp.ascontiguousarray(z.transpose(0, 2, 1))  # (T, 3H, B)
        if b_hh is not None:
            acts[:, rz] += b_hh[rz, None]
        acts[:, rz] *= -1  # negated for the sigmoid
        w = w_hh.copy()
        w[rz] *= -1
        b_hn = None if b_hh is None else b_hh[2 * hid :, None]
        hs = _track(h0.T, steps, batch_sizes, reverse)
        hn_part = _xp.zeros((steps, hid, batch), dtype=acts.dtype)
        with _xp.errstate(over="ignore"):
            for k, (t, n) in enumerate(_schedule(steps, batch, batch_sizes, reverse)):
                a = acts[t][:, :n]
                hh = w @ hs[k][:, :n]
                a[rz] += hh[rz]
                _sigmoid_of_negated_(a[rz])
                ghn = hh[2 * hid :]
                if b_hn is not None:
                    ghn += b_hn
                hn_part[t][:, :n] = ghn
                new = a[2 * hid :]
                new += a[:hid] * ghn
                _xp.tanh(new, out=new)
                h = _xp.subtract(hs[k][:, :n], new, out=hs[k + 1][:, :n])  # h ← n + z (h - n)
                h *= a[hid : 2 * hid]
                h += new
        ys = _feature_major_outputs(hs, batch_sizes, reverse)
        ctx.save(x, w_ih, w_hh, acts, hs, hn_part, ys)  # ys: see RNNLayer
        ctx.options = (batch_sizes, reverse)
        return ys, _feature_major_final(hs, batch_sizes, reverse)

    @staticmethod
    def backward(ctx, gy, gh):
        x, w_ih, w_hh, acts, hs, hn_part, _ = ctx.saved
        batch_sizes, reverse = ctx.options
        steps, batch, _ = x.shape
        hid = hs.shape[1]
        r, z, new = acts[:, :hid], acts[:, hid : 2 * hid], acts[:, 2 * hid :]
        # d(pre-activation) factors over all steps:  dz_n = dh (1 - z)(1 - n²),
        # dz_z = dh (hₜ₋₁ - n) σ'_z,  dz_r = dz_n (hₜ₋₁Wₕₙᵀ + bₕₙ) σ'_r
        f_new = (1 - z) * (1 - new * new)
        f_upd = (_previous(hs, reverse) - new) * z * (1 - z)
        f_reset = hn_part * r * (1 - r)
        dzh = _xp.zeros(acts.shape, dtype=acts.dtype)  # d(hidden-side pre-activation)
        dzn = _xp.zeros(hn_part.shape, dtype=acts.dtype)  # d(input-side n pre-activation)
        gy = None if gy is None else _xp.ascontiguousarray(gy.transpose(0, 2, 1))
        dh = _zero_or_copy(None if gh is None else gh.T, hs.shape[1:], acts.dtype)
        w_hh_t = w_hh.T
        for t, n in reversed(_schedule(steps, batch, batch_sizes, reverse)):
            dhn = dh[:, :n]
            if gy is not None:
                dhn += gy[t][:, :n]
            d = dzh[t][:, :n]
            dn = _xp.multiply(dhn, f_new[t][:, :n], out=dzn[t][:, :n])
            _xp.multiply(dn, f_reset[t][:, :n], out=d[:hid])
            _xp.multiply(dhn, f_upd[t][:, :n], out=d[hid : 2 * hid])
            _xp.multiply(dn, r[t][:, :n], out=d[2 * hid :])
            dhn *= z[t][:, :n]
            dhn += w_hh_t @ d  # dhₜ₋₁ = dh z + Wₕₕᵀ dzₕ
        return _gru_grads(ctx.needs_input_grad, dzh, dzn, dh, x, w_ih, hs, reverse)


def _gru_grads(needs, dzh, dzn, dh, x, w_ih, hs, reverse):
    """Every gradient from the per-step d(pre-activation), in batch-major products."""
    hid = dzn.shape[1]
    dzh = _xp.ascontiguousarray(dzh.transpose(0, 2, 1))  # (T, B, 3H)
    dzi = dzh.copy()
    dzi[..., 2 * hid :] = dzn.transpose(0, 2, 1)
    gx, gw_ih, gb_ih = _input_side_grads((needs[0], needs[2], needs[4]), dzi, x, w_ih)
    gw_hh = None
    if needs[3]:  # dWₕₕ = Σₜ dzₜᵀ hₜ₋₁
        hprev = _xp.ascontiguousarray(_previous(hs, reverse).transpose(0, 2, 1))
        gw_hh = _flat(dzh).T @ _flat(hprev)
    gb_hh = column_sums(_flat(dzh)) if needs[5] else None
    return gx, dh.T.copy() if needs[1] else None, gw_ih, gw_hh, gb_ih, gb_hh
