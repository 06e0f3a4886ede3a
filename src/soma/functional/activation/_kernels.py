"""Compiled activation kernels (Numba, through ``soma.backend.compiled``): one pass each.

NumPy computes an activation as a chain of ufunc calls, one pass over memory each (SiLU's
forward is five, its backward five more); a kernel fuses the chain into one loop. The float32
forward passes call ``vecmath``'s exp, expm1, log and tanh, which vectorise inside the loop
(NumPy's own float32 exp is SIMD on some CPUs only, and Numba's ``math.exp`` is a scalar libm
call); float64 forward passes stay NumPy. The backward passes need no transcendental and serve
both dtypes. Everything stays NumPy when Numba is absent or turned off (``usable``), and for
arrays with gaps in memory.

Every kernel works on flat arrays between element indices [lo, hi): the memory of arrays of one
layout (``flat``; an upstream gradient in another layout is copied to it by ``flat_like``).
The formulas, forward and backward::

    GELU      y = x Φ(x),  Φ(−|x|) = ½ erfc(|x|/√2)     dy/dx = Φ(x) + x φ(x),  φ = e^{−x²/2}/√(2π)
    SiLU      y = x σ(x),  σ(x) = 1/(1 + e^{−x})         dy/dx = σ (1 + x (1 − σ))
    ELU       e = expm1(min(x, 0)·s),  y = λ·x (x > 0), λα·e (x ≤ 0)
                                                         dy/dx = λ (x > 0), λαs·(e + 1) (x ≤ 0)
    Softplus  t = βx,  e = e^{−|t|},  y = (max(t, 0) + log1p(e))/β,  y = x where t > threshold
                                                         dy/dx = (1 or e)/(1 + e) (t ≥ 0 or < 0),
                                                                 1 where t > threshold
    Sigmoid   y = 1/(1 + e^{−x})                         dy/dx = y (1 − y)
    Tanh      y = tanh x                                 dy/dx = 1 − y²
    ReLU      (NumPy's clip)                             dy/dx = 1 (y > 0), else 0
    LeakyReLU y = x (x > 0), slope·x                     dy/dx = 1 (x > 0), else slope

Measured on a 2-core AVX2 Zen 1 (NumPy 2.4, whose float32 exp there is scalar: 3.75 ns a
value), 1000x128 float32, the ``activations`` benchmark step (eight activations forward and
backward, one thread): 11.6 ms with NumPy's exp/expm1/log/tanh between fused passes, 6.5 ms
with the one-pass kernels (PyTorch 4.2 on two threads). The same machine, per kernel on
128,000 values: sigmoid's backward 81 → 31 µs and softplus' 381 → 74 µs from the rules in
the NOTE above the backward kernels. ReLU, leaky ReLU, sigmoid, tanh and SiLU use their
kernels from ``SMALL`` elements up (see there).
"""

import math

from soma.autograd.memory_format import axis_order
from soma.backend import compiled, get_xp, parallel, vecmath
from soma.backend.compiled import np
from soma.backend.special import _R
from soma.functional._utils import flat

_xp = get_xp()  # the active array backend (the kernels themselves see NumPy arrays only)

# float32 globals: Numba types them float32, so gelu32_forward computes in float32 (as the
# NumPy form does) at twice float64's vector width
_R0, _R1, _R2, _R3, _R4, _R5, _R6, _R7, _R8 = (np.float32(c) for c in _R)
_H32, _TWO32, _ELEVEN32 = np.float32(1 / math.sqrt(2)), np.float32(2), np.float32(11)
_ZERO32, _ONE32, _HALF32, _MINUS_HALF32 = (np.float32(c) for c in (0, 1, 0.5, -0.5))
_INV_SQRT_2PI32 = np.float32(1 / math.sqrt(2 * math.pi))

BLOCK = 8192  # elements per unit of work handed to a thread


# ---------------------------------------------------------------------------- float32 forward
# One pass each, with ``vecmath``'s exp/expm1/log/tanh inlined (float64 stays on NumPy's ufuncs).
@compiled.kernel
def sigmoid32_forward(x, y, lo, hi):
    """y = σ(x) = 1/(1 + e^{−x})."""
    x = x[lo:hi]
    y = y[lo:hi]
    for i in range(hi - lo):
        y[i] = vecmath.sigmoid(x[i])


@compiled.kernel
def exp32_forward(x, y, lo, hi):
    """y = e^x."""
    x = x[lo:hi]
    y = y[lo:hi]
    for i in range(hi - lo):
        y[i] = vecmath.exp(x[i])


@compiled.kernel
def tanh32_forward(x, y, lo, hi):
    """y = tanh x."""
    x = x[lo:hi]
    y = y[lo:hi]
    for i in range(hi - lo):
        y[i] = vecmath.tanh(x[i])


@compiled.kernel
def silu32_forward(x, s, y, lo, hi):
    """s = σ(x), y = x·σ(x)."""
    x = x[lo:hi]
    s = s[lo:hi]
    y = y[lo:hi]
    for i in range(hi - lo):
        v = x[i]
        sv = vecmath.sigmoid(v)
        s[i] = sv
        y[i] = v * sv


@compiled.helper
def _erfc_exponent32(w):
    """w·R(w), R of degree 8 (``special._R``), by Estrin's scheme.

    Horner's rule makes nine dependent multiply-adds; in pairs (a + b·w), then in powers of
    w², the chain is four deep. GELU's loop is long enough that the CPU cannot overlap one
    element's chain with the next's (the loop itself is bound by this latency): 690 → 550 µs
    on 128,000 values on Zen 1. The sum's rounding differs from Horner's by an ulp or so.
    """
    w2 = w * w
    low = (_R5 * w + _R6) * w2 + (_R7 * w + _R8)
    high = (_R0 * w2 + (_R1 * w + _R2)) * w2 + (_R3 * w + _R4)
    return (high * (w2 * w2) + low) * w


@compiled.kernel
def gelu32_forward(x, cdf, y, lo, hi):
    """cdf = Φ(x), y = x·Φ(x), with Φ(−|x|) = ½ erfc(|x|/√2).

    erfc(z) = (1 − w)·e^{w R(w) − z²}, w = z/(2 + z), z = min(|x|/√2, 11): the float32 fit of
    ``special._erfc_float32`` (R of degree 8); erfc(11) underflows float32.
    """
    x = x[lo:hi]
    cdf = cdf[lo:hi]
    y = y[lo:hi]
    for i in range(hi - lo):
        v = x[i]
        z = abs(v) * _H32
        z = z if z < _ELEVEN32 else _ELEVEN32
        w = z / (z + _TWO32)
        tail = ((_ONE32 - w) * vecmath.exp(_erfc_exponent32(w) - z * z)) * _HALF32
        c = _ONE32 - tail if v > _ZERO32 else tail
        cdf[i] = c
        y[i] = v * c


@compiled.kernel
def gelu32_backward(gy, x, cdf, out, lo, hi):
    """out = gy·(Φ(x) + x φ(x)), φ(x) = e^{−x²/2}/√(2π)."""
    gy = gy[lo:hi]
    x = x[lo:hi]
    cdf = cdf[lo:hi]
    out = out[lo:hi]
    for i in range(hi - lo):
        v = x[i]
        out[i] = gy[i] * (cdf[i] + v * _INV_SQRT_2PI32 * vecmath.exp(v * v * _MINUS_HALF32))


@compiled.kernel
def elu32_forward(x, alpha_scale, scale, input_scale, e, y, lo, hi):
    """e = expm1(min(x, 0)·s), y = λx for x > 0, else λα·e."""
    x = x[lo:hi]
    e = e[lo:hi]
    y = y[lo:hi]
    for i in range(hi - lo):
        v = x[i]
        ev = vecmath.expm1((_ZERO32 if v > 0 else v) * input_scale)  # NaN stays NaN
        e[i] = ev
        y[i] = v * scale if v > _ZERO32 else ev * alpha_scale


@compiled.kernel
def softplus32_forward(x, beta, threshold, e, y, lo, hi):
    """e = e^{−|βx|}, y = (max(βx, 0) + log1p(e))/β, or x where βx > threshold.

    log1p(e) for 0 <= e <= 1 is ``vecmath.log1p_unit`` (an odd series of atanh, no log): the
    exp, the log and a division in a row made the loop wait on its own chain; 763 → 668 µs
    on 128,000 values on one thread of Zen 1 (an exp pass alone: 210).
    """
    x = x[lo:hi]
    e = e[lo:hi]
    y = y[lo:hi]
    for i in range(hi - lo):
        v = x[i]
        t = v * beta
        ev = vecmath.exp(-abs(t))
        e[i] = ev
        y[i] = (
            v
            if t > threshold
            else ((t if t > _ZERO32 else _ZERO32) + vecmath.log1p_unit(ev)) / beta
        )


# ---------------------------------------------------------------------------- backward
# NOTE: in these loops every constant comes in the arrays' dtype (``one``; a literal 1.0 or 0
# would make float32 math float64: sigmoid's backward 81 against 31 µs on 128,000 values),
# every load comes before the conditions (a load inside one becomes a masked load: softplus'
# backward 268 against 74 µs on Zen 1), and the slices come first, so that the index is known
# non-negative. The loops then vectorise.
@compiled.kernel
def relu_backward(gy, y, one, out, lo, hi):
    """out = gy where y > 0, else 0."""
    gy = gy[lo:hi]
    y = y[lo:hi]
    out = out[lo:hi]
    zero = one - one
    for i in range(hi - lo):
        g = gy[i]
        out[i] = g if y[i] > zero else zero


@compiled.kernel
def leaky_relu_forward(x, slope, one, y, lo, hi):
    """y = x for x > 0, else slope·x."""
    x = x[lo:hi]
    y = y[lo:hi]
    zero = one - one
    for i in range(hi - lo):
        v = x[i]
        y[i] = v if v > zero else v * slope


@compiled.kernel
def leaky_relu_backward(gy, x, slope, one, out, lo, hi):
    """out = gy for x > 0, else slope·gy."""
    gy = gy[lo:hi]
    x = x[lo:hi]
    out = out[lo:hi]
    zero = one - one
    for i in range(hi - lo):
        g = gy[i]
        out[i] = g if x[i] > zero else g * slope


@compiled.kernel
def silu_backward(gy, x, s, one, out, lo, hi):
    """out = gy·σ(1 + x(1 − σ))."""
    gy = gy[lo:hi]
    x = x[lo:hi]
    s = s[lo:hi]
    out = out[lo:hi]
    for i in range(hi - lo):
        sv = s[i]
        out[i] = gy[i] * (sv * (one + x[i] * (one - sv)))


@compiled.kernel
def elu_backward(gy, x, e, slope, scale, one, out, lo, hi):
    """out = gy·λ for x > 0, else gy·slope·(e + 1) (slope = λαs)."""
    gy = gy[lo:hi]
    x = x[lo:hi]
    e = e[lo:hi]
    out = out[lo:hi]
    zero = one - one
    for i in range(hi - lo):
        ev = e[i]
        out[i] = gy[i] * (scale if x[i] > zero else slope * (ev + one))


@compiled.kernel
def softplus_backward(gy, x, e, beta, threshold, one, out, lo, hi):
    """out = gy·σ(βx) = gy·(1 or e)/(1 + e), or gy where βx > threshold."""
    gy = gy[lo:hi]
    x = x[lo:hi]
    e = e[lo:hi]
    out = out[lo:hi]
    zero = one - one
    for i in range(hi - lo):
        t = x[i] * beta
        ev = e[i]
        g = gy[i]
        d = (one if t >= zero else ev) / (one + ev)
        out[i] = g if t > threshold else g * d


@compiled.kernel
def sigmoid_backward(gy, y, one, out, lo, hi):
    """out = gy·y(1 − y)."""
    gy = gy[lo:hi]
    y = y[lo:hi]
    out = out[lo:hi]
    for i in range(hi - lo):
        v = y[i]
        out[i] = gy[i] * (v * (one - v))


@compiled.kernel
def tanh_backward(gy, y, one, out, lo, hi):
    """out = gy·(1 − y²)."""
    gy = gy[lo:hi]
    y = y[lo:hi]
    out = out[lo:hi]
    for i in range(hi - lo):
        v = y[i]
        out[i] = gy[i] * (one - v * v)


# ---------------------------------------------------------------------------- drivers
# Below this many elements a kernel call (Numba's argument checks, the block bookkeeping) costs
# more than NumPy's few short passes: fwd+bwd of relu, leaky_relu, sigmoid and silu on a
# (32, 128) float32 batch took 19-26 µs compiled against 16-24 µs in NumPy (one thread, quiet
# machine); from (128, 256) up the kernels were as fast or faster. GELU, ELU and softplus, whose
# NumPy forms take many passes, win at every size measured (32 vs 56 µs for GELU at (32, 128)).
SMALL = 32768


# Work per element of the kernels that call the vector math, for ``parallel.ranges`` (which
# splits a pass across threads from ``size * work`` of about half a million up): the time a
# value takes on one thread against a kernel that only moves memory (the backward passes,
# 0.37 ns a value), measured on 1000x128 float32 on the Zen 1 VM. Only these pay for a second
# thread at that size: there a memory-bound pass of 128,000 values ran slower on two threads
# (48 against 57 µs; its data sit in the first thread's cache) and sigmoid's forward faster
# (259 against 156 µs).
WORK = dict(sigmoid=5, exp=5, tanh=7, silu=6, elu=7, gelu=11, softplus=14, gelu_grad=7)


def usable(x, dense=True, min_size=None, like=None):
    """True when the compiled kernels run on x: enabled, float32/64, at least ``min_size``
    elements (default ``SMALL``), and (``dense``) with no gaps in memory. An upstream gradient
    is checked ``like`` the array its forward saved: same strides (or broadcast, as the
    gradient of a sum), so that neither it nor the result is copied to another layout (MobileNet's ReLU backward took 13.3 ms with
    such copies against 6.7 ms in NumPy, and its convolutions' backward 46 against 38 ms)."""
    if like is not None and x.strides != like.strides and 0 not in x.strides:
        return False  # NOTE: a broadcast gradient (of a sum) is expanded in one cheap pass
    return (
        x.size >= max(SMALL if min_size is None else min_size, 1)
        and compiled.enabled()
        and x.dtype in (np.float32, np.float64)
        and (not dense or flat(x) is not None)
    )


def fused(x, min_size=None):
    """True when the one-pass float32 forward kernels run on x (``usable``, and float32)."""
    return x.dtype == np.float32 and usable(x, min_size=min_size)


def flat_like(a, like):
    """a's values as a 1-D array in the memory order of ``like`` (copied when it differs)."""
    if a.strides == like.strides and a.dtype == like.dtype:
        return flat(a)
    if not any(a.strides) and a.dtype == like.dtype:  # every element the same: a sum's gradient
        return repeated_flat(a)
    order = axis_order(like)
    return np.ascontiguousarray(a.transpose(order), dtype=like.dtype).reshape(-1)


# The gradient of ``y.sum()`` (or of a sum of such terms) reaches each activation's backward as
# a broadcast view of one number; the kernels read it as a flat array of that number. One such
# array, read-only, is kept from call to call while the number, the dtype and the size allow
# (here up to ``REPEATED_KEPT`` elements: 16 MiB of float32), instead of writing it anew for
# every activation: the ``activations`` step (eight of them over one 1000x128 batch, two
# threads, alternating processes, median of five) 4.40 → 4.21 ms.
REPEATED_KEPT = 1 << 22
_repeated = [None]  # the array kept


def repeated_flat(a):
    """A flat read-only array of a.size copies of the one value of broadcast ``a``."""
    size = a.size
    value = a.reshape(-1)[:1]  # NOTE: compared by bytes: −0.0 and NaN payloads are kept apart
    kept = _repeated[0]
    if (
        kept is not None
        and kept.dtype == value.dtype
        and kept.size >= size
        and kept[:1].tobytes() == value.tobytes()
    ):
        return kept[:size]
    flat_copy = np.full(size, value[0])
    flat_copy.flags.writeable = False
    if size <= REPEATED_KEPT:
        _repeated[0] = flat_copy
    return flat_copy


def run(kernel, inputs, outputs, scalars=(), work=1):
    """kernel(*inputs, *scalars, *outputs, lo, hi) over blocks of the flat arrays, on soma's
    threads when large; inputs and outputs are flat views of one memory order."""
    size = outputs[0].size
    blocks = -(-size // BLOCK)

    def part(start, stop):
        kernel(*inputs, *scalars, *outputs, start * BLOCK, min(stop * BLOCK, size))

    parallel.ranges(part, blocks, size * work)
    return outputs[0]


def _empty(x, n):
    """n empty arrays laid out as x, with their flat views."""
    arrays = [np.empty_like(x) for _ in range(n)]
    return arrays, [flat(a) for a in arrays]


def _typed(x, *values):
    return tuple(x.dtype.type(v) for v in values)


def _grad(kernel, gy, saved, scalars=(), work=1):
    """gy·dy/dx from arrays saved by the forward (gy copied to their memory order if needed)."""
    (out,), (of,) = _empty(saved[0], 1)
    inputs = [flat_like(gy, saved[0])] + [flat(a) for a in saved]
    run(kernel, inputs, [of], _typed(saved[0], *scalars), work)
    return out


def sigmoid(x):
    """σ(x) of float32 x."""
    (y,), (yf,) = _empty(x, 1)
    run(sigmoid32_forward, [flat(x)], [yf], work=WORK["sigmoid"])
    return y


# Below this many elements NumPy's exp is as fast as a kernel call (measured break-even about
# 2,500 float32 values where NumPy's exp is scalar; where it is SIMD, the two are alike).
EXP_SMALL = 4096


def exp(x, out=None):
    """e^x (into ``out``, laid out as x, if given): the compiled pass for dense float32 x of
    ``EXP_SMALL`` elements or more, else NumPy's exp (which warns on no overflow either)."""
    if out is None:
        out = _xp.empty_like(x)
    if fused(x, min_size=EXP_SMALL) and out.strides == x.strides:
        run(exp32_forward, [flat(x)], [flat(out)], work=WORK["exp"])
        return out
    with _xp.errstate(over="ignore"):
        return _xp.exp(x, out=out)


def tanh(x):
    """tanh x of float32 x."""
    (y,), (yf,) = _empty(x, 1)
    run(tanh32_forward, [flat(x)], [yf], work=WORK["tanh"])
    return y


def gelu(x):
    """(Φ(x), x·Φ(x)) of float32 x."""
    (cdf, y), (cf, yf) = _empty(x, 2)
    run(gelu32_forward, [flat(x)], [cf, yf], work=WORK["gelu"])
    return cdf, y


def gelu_grad(gy, x, cdf):
    """gy·(Φ(x) + x φ(x)) for float32 x."""
    return _grad(gelu32_backward, gy, (x, cdf), work=WORK["gelu_grad"])


def silu(x):
    """(σ(x), x·σ(x)) of float32 x."""
    (s, y), (sf, yf) = _empty(x, 2)
    run(silu32_forward, [flat(x)], [sf, yf], work=WORK["silu"])
    return s, y


def elu(x, alpha, scale, input_scale):
    """(e = expm1(min(x, 0)·s), y) of ELU/SELU/CELU for float32 x."""
    (e, y), (ef, yf) = _empty(x, 2)
    scalars = _typed(x, alpha * scale, scale, input_scale)
    run(elu32_forward, [flat(x)], [ef, yf], scalars, work=WORK["elu"])
    return e, y


def softplus(x, beta, threshold):
    """(e^{−|βx|}, softplus(x)) of float32 x."""
    (e, y), (ef, yf) = _empty(x, 2)
    run(softplus32_forward, [flat(x)], [ef, yf], _typed(x, beta, threshold), WORK["softplus"])
    return e, y


def leaky_relu(x, slope):
    (y,), (yf,) = _empty(x, 1)
    run(leaky_relu_forward, [flat(x)], [yf], _typed(x, slope, 1))
    return y


def grad(name, gy, saved, scalars=()):
    """gy·dy/dx of activation ``name`` from what its forward saved (see each kernel)."""
    return _grad(_BACKWARD[name], gy, saved, (*scalars, 1))


_BACKWARD = {
    "relu": relu_backward,
    "leaky_relu": leaky_relu_backward,
    "silu": silu_backward,
    "elu": elu_backward,
    "softplus": softplus_backward,
    "sigmoid": sigmoid_backward,
    "tanh": tanh_backward,
}
