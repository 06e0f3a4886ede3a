"""Compiled activation kernels (Numba, through ``soma.backend.compiled``): fused passes.

NumPy computes an activation as a chain of ufunc calls, one pass over memory each (SiLU's
forward is five, its backward five more); a kernel fuses a chain into one loop. Numba's exp,
erfc and tanh are scalar libm calls (measured here: erfc 10 ns, exp 3 ns a value) against
NumPy's SIMD ufuncs (exp 0.2 ns), so a forward pass keeps NumPy's exp/expm1/log and fuses
the arithmetic around it ("hybrid passes"); the backward passes need no transcendental and are
one loop each. tanh's forward and float64 GELU's forward stay NumPy; so does everything when
Numba is absent or turned off (``usable``), and for arrays with gaps in memory.

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
    ReLU      (NumPy's clip)                             dy/dx = 1 (y > 0), else 0
    LeakyReLU y = x (x > 0), slope·x                     dy/dx = 1 (x > 0), else slope

Measured (CPU time on one thread, min of 30, a shared 2-core VM; 1000x128 float32, forward
and forward+backward in µs, NumPy form → compiled): GELU 435 → 164 and 585 → 285, SiLU
128 → 101 and 200 → 165, ELU 125 → 98 and 222 → 158, softplus 383 → 208 and 526 → 288,
leaky ReLU 63 → 22 and 98 → 64, ReLU f+b 80 → 68, sigmoid f+b 157 → 150 (forward equal),
tanh equal (so tanh has no kernel: its backward measured 135 vs 122 µs on the quiet machine).
The ``activations`` benchmark step: 2.4-2.9 ms → 2.0-2.1 ms (PyTorch 1.7-1.8). ReLU, leaky
ReLU, sigmoid and SiLU use their kernels from ``SMALL`` elements up (see there).
"""

import math

from soma.backend import compiled, parallel
from soma.backend.compiled import np
from soma.backend.special import _R
from soma.functional._utils import flat

# float32 globals: Numba types them float32, so gelu32_exponent computes in float32 (as the
# NumPy form does) at twice float64's vector width
_R0, _R1, _R2, _R3, _R4, _R5, _R6, _R7, _R8 = (np.float32(c) for c in _R)
_H32, _TWO32, _ELEVEN32 = np.float32(1 / math.sqrt(2)), np.float32(2), np.float32(11)

BLOCK = 8192  # elements per unit of work handed to a thread
_SQRT_HALF = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)


# ---------------------------------------------------------------------------- hybrid passes
# NOTE: Numba's exp/erfc are scalar libm calls (erfc 10 ns, exp 3 ns a value here) while
# NumPy's exp is SIMD (0.2 ns): the forward passes below leave the exp to NumPy and fuse the
# arithmetic around it into one loop on each side.
@compiled.kernel
def gelu32_exponent(x, r, u, lo, hi):
    """float32 Φ, first half: z = min(|x|/√2, 11), u = z/(2 + z), r = u·R(u) − z² (then e^r).

    erfc(z) = (1 − u)·e^{u R(u) − z²} is ``special._erfc_float32``'s fit (R of degree 8,
    in float32); erfc(11) underflows float32.
    """
    x = x[lo:hi]
    r = r[lo:hi]
    u = u[lo:hi]
    for i in range(hi - lo):
        z = abs(x[i]) * _H32
        z = z if z < _ELEVEN32 else _ELEVEN32
        w = z / (z + _TWO32)
        p = ((((((_R0 * w + _R1) * w + _R2) * w + _R3) * w + _R4) * w + _R5) * w + _R6) * w
        r[i] = ((p + _R7) * w + _R8) * w - z * z
        u[i] = w


@compiled.kernel
def gelu32_finish(x, cdf, y, lo, hi):
    """cdf holds e^r and y holds u (from ``gelu32_exponent``): Φ(−|x|) = ½(1 − u)e^r, then
    cdf = Φ(x) (1 − Φ(−|x|) for x > 0) and y = x·Φ(x)."""
    x = x[lo:hi]
    cdf = cdf[lo:hi]
    y = y[lo:hi]
    for i in range(hi - lo):
        v = x[i]
        tail = (cdf[i] * (1 - y[i])) * 0.5
        c = 1 - tail if v > 0 else tail
        cdf[i] = c
        y[i] = v * c


@compiled.kernel
def gelu_exponent(x, out, lo, hi):
    """out = −x²/2 (for φ(x) = e^{−x²/2}/√(2π) in the backward)."""
    x = x[lo:hi]
    out = out[lo:hi]
    for i in range(hi - lo):
        v = x[i]
        out[i] = v * v * -0.5


@compiled.kernel
def gelu_backward(gy, x, cdf, c, out, lo, hi):
    """out holds e^{−x²/2}: out = gy·(Φ(x) + x·c·e^{−x²/2}), c = 1/√(2π)."""
    gy = gy[lo:hi]
    x = x[lo:hi]
    cdf = cdf[lo:hi]
    out = out[lo:hi]
    for i in range(hi - lo):
        out[i] = gy[i] * (cdf[i] + x[i] * c * out[i])


@compiled.kernel
def silu_finish(x, one, s, y, lo, hi):
    """s holds e^{−x}: s = 1/(1 + e^{−x}) = σ(x), y = x·σ(x) (in the dtype of ``one``)."""
    x = x[lo:hi]
    s = s[lo:hi]
    y = y[lo:hi]
    for i in range(hi - lo):
        sv = one / (one + s[i])
        s[i] = sv
        y[i] = x[i] * sv


@compiled.kernel
def sigmoid_finish(one, y, lo, hi):
    """y holds e^{−x}: y = 1/(1 + e^{−x}) (e^{−x} = inf gives the limit 0)."""
    y = y[lo:hi]
    for i in range(hi - lo):
        y[i] = one / (one + y[i])


@compiled.kernel
def elu_exponent(x, input_scale, e, lo, hi):
    """e = min(x, 0)·s (then expm1)."""
    x = x[lo:hi]
    e = e[lo:hi]
    for i in range(hi - lo):
        v = x[i]
        e[i] = (0.0 if v > 0 else v) * input_scale  # NaN stays NaN


@compiled.kernel
def elu_finish(x, e, alpha_scale, scale, y, lo, hi):
    """e holds expm1(min(x, 0)·s): y = λx for x > 0, else λα·e."""
    x = x[lo:hi]
    e = e[lo:hi]
    y = y[lo:hi]
    for i in range(hi - lo):
        v = x[i]
        ev = e[i]  # NOTE: every load outside the condition, so that the loop vectorises
        y[i] = v * scale if v > 0 else ev * alpha_scale


@compiled.kernel
def softplus_exponent(x, beta, e, lo, hi):
    """e = −|βx| (then e^e)."""
    x = x[lo:hi]
    e = e[lo:hi]
    for i in range(hi - lo):
        e[i] = -abs(x[i] * beta)


@compiled.kernel
def one_plus(e, one, u, lo, hi):
    """u = 1 + e, in e's dtype (then ln u)."""
    e = e[lo:hi]
    u = u[lo:hi]
    for i in range(hi - lo):
        u[i] = e[i] + one


@compiled.kernel
def softplus_finish(x, e, beta, threshold, one, y, lo, hi):
    """y holds ln(1 + e): y = (max(βx, 0) + log1p(e))/β, or x where βx > threshold.

    log1p(e) = ln(u)·e/(u − 1) with u = fl(1 + e) (Goldberg; e where u rounds to 1), as
    ``special.log1p`` does.
    """
    x = x[lo:hi]
    e = e[lo:hi]
    y = y[lo:hi]
    for i in range(hi - lo):
        v = x[i]
        t = v * beta
        ev = e[i]
        ln = y[i]  # NOTE: every load outside the condition, so that the loop vectorises
        u = ev + one
        lp = ev if u == one else ln * (ev / (u - one))
        y[i] = v if t > threshold else ((t if t > 0 else 0.0) + lp) / beta


# ---------------------------------------------------------------------------- ReLU family
@compiled.kernel
def relu_backward(gy, y, zero, out, lo, hi):
    """out = gy where y > 0, else 0."""
    gy = gy[lo:hi]
    y = y[lo:hi]
    out = out[lo:hi]
    for i in range(hi - lo):
        g = gy[i]  # NOTE: every load outside the condition, so that the loop vectorises
        out[i] = g if y[i] > 0 else zero


@compiled.kernel
def leaky_relu_forward(x, slope, y, lo, hi):
    """y = x for x > 0, else slope·x."""
    x = x[lo:hi]
    y = y[lo:hi]
    for i in range(hi - lo):
        v = x[i]
        y[i] = v if v > 0 else v * slope


@compiled.kernel
def leaky_relu_backward(gy, x, slope, out, lo, hi):
    """out = gy for x > 0, else slope·gy."""
    gy = gy[lo:hi]
    x = x[lo:hi]
    out = out[lo:hi]
    for i in range(hi - lo):
        g = gy[i]
        out[i] = g if x[i] > 0 else g * slope


# ---------------------------------------------------------------------------- SiLU
@compiled.kernel
def silu_backward(gy, x, s, out, lo, hi):
    """out = gy·σ(1 + x(1 − σ))."""
    # NOTE: slices first, so that the index is known non-negative (vectorised loop)
    gy = gy[lo:hi]
    x = x[lo:hi]
    s = s[lo:hi]
    out = out[lo:hi]
    for i in range(hi - lo):
        sv = s[i]
        out[i] = gy[i] * (sv * (1.0 + x[i] * (1.0 - sv)))


# ---------------------------------------------------------------------------- ELU
@compiled.kernel
def elu_backward(gy, x, e, slope, scale, out, lo, hi):
    """out = gy·λ for x > 0, else gy·slope·(e + 1) (slope = λαs)."""
    # NOTE: slices first, so that the index is known non-negative (vectorised loop)
    gy = gy[lo:hi]
    x = x[lo:hi]
    e = e[lo:hi]
    out = out[lo:hi]
    for i in range(hi - lo):
        ev = e[i]  # NOTE: every load outside the condition, so that the loop vectorises
        out[i] = gy[i] * (scale if x[i] > 0 else slope * (ev + 1.0))


# ---------------------------------------------------------------------------- Softplus
@compiled.kernel
def softplus_backward(gy, x, e, beta, threshold, out, lo, hi):
    """out = gy·σ(βx) = gy·(1 or e)/(1 + e), or gy where βx > threshold."""
    # NOTE: slices first, so that the index is known non-negative (vectorised loop)
    gy = gy[lo:hi]
    x = x[lo:hi]
    e = e[lo:hi]
    out = out[lo:hi]
    for i in range(hi - lo):
        t = x[i] * beta
        ev = e[i]
        d = (1.0 if t >= 0 else ev) / (1.0 + ev)
        out[i] = gy[i] if t > threshold else gy[i] * d


# ---------------------------------------------------------------------------- sigmoid, tanh
@compiled.kernel
def sigmoid_backward(gy, y, out, lo, hi):
    """out = gy·y(1 − y)."""
    # NOTE: slices first, so that the index is known non-negative (vectorised loop)
    gy = gy[lo:hi]
    y = y[lo:hi]
    out = out[lo:hi]
    for i in range(hi - lo):
        v = y[i]
        out[i] = gy[i] * (v * (1.0 - v))


# ---------------------------------------------------------------------------- drivers
# Below this many elements a kernel call (Numba's argument checks, the block bookkeeping) costs
# more than NumPy's few short passes: fwd+bwd of relu, leaky_relu, sigmoid and silu on a
# (32, 128) float32 batch took 19-26 µs compiled against 16-24 µs in NumPy (one thread, quiet
# machine); from (128, 256) up the kernels were as fast or faster. GELU, ELU and softplus, whose
# NumPy forms take many passes, win at every size measured (32 vs 56 µs for GELU at (32, 128)).
SMALL = 32768


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


def flat_like(a, like):
    """a's values as a 1-D array in the memory order of ``like`` (copied when it differs)."""
    if a.strides == like.strides and a.dtype == like.dtype:
        return flat(a)
    order = np.argsort([-s for s in like.strides], kind="stable")
    return np.ascontiguousarray(a.transpose(order), dtype=like.dtype).reshape(-1)


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


def _exp(a, out, fn=np.exp):
    """NumPy's SIMD exp (or expm1) in place, on soma's threads when large."""
    parallel.elementwise(fn, a, out=out, work=3)


def gelu(x):
    """(Φ(x), x·Φ(x)) for float32 x (float64 stays on ``special.erf``)."""
    (cdf, y), (cf, yf) = _empty(x, 2)
    run(gelu32_exponent, [flat(x)], [cf, yf])
    _exp(cf, cf)
    run(gelu32_finish, [flat(x)], [cf, yf])
    return cdf, y


def gelu_grad(gy, x, cdf):
    """gy·(Φ(x) + x φ(x))."""
    (out,), (of,) = _empty(x, 1)
    xf = flat(x)
    run(gelu_exponent, [xf], [of])
    _exp(of, of)
    run(gelu_backward, [flat_like(gy, x), xf, flat(cdf)], [of], _typed(x, _INV_SQRT_2PI))
    return out


def silu(x):
    """(σ(x), x·σ(x))."""
    (s, y), (sf, yf) = _empty(x, 2)
    np.negative(flat(x), out=sf)
    _exp(sf, sf)
    run(silu_finish, [flat(x)], [sf, yf], _typed(x, 1))
    return s, y


def sigmoid(x):
    """σ(x) with NumPy's SIMD exp, then one fused pass."""
    (y,), (yf,) = _empty(x, 1)
    np.negative(flat(x), out=yf)
    _exp(yf, yf)
    run(sigmoid_finish, [], [yf], _typed(x, 1))
    return y


def elu(x, alpha, scale, input_scale):
    """(e = expm1(min(x, 0)·s), y) of ELU/SELU/CELU."""
    (e, y), (ef, yf) = _empty(x, 2)
    run(elu_exponent, [flat(x)], [ef], _typed(x, input_scale))
    _exp(ef, ef, np.expm1)
    run(elu_finish, [flat(x), ef], [yf], _typed(x, alpha * scale, scale))
    return e, y


def softplus(x, beta, threshold):
    """(e^{−|βx|}, softplus(x)) with NumPy's SIMD exp and log between fused passes."""
    (e, y), (ef, yf) = _empty(x, 2)
    xf = flat(x)
    run(softplus_exponent, [xf], [ef], _typed(x, beta))
    _exp(ef, ef)
    run(one_plus, [ef], [yf], _typed(x, 1))
    _exp(yf, yf, np.log)
    run(softplus_finish, [xf, ef], [yf], _typed(x, beta, threshold, 1))
    return e, y


def leaky_relu(x, slope):
    (y,), (yf,) = _empty(x, 1)
    run(leaky_relu_forward, [flat(x)], [yf], _typed(x, slope))
    return y


def grad(name, gy, saved, scalars=()):
    """gy·dy/dx of activation ``name`` from what its forward saved (see each kernel)."""
    return _grad(_BACKWARD[name], gy, saved, scalars)


_BACKWARD = {
    "relu": relu_backward,
    "leaky_relu": leaky_relu_backward,
    "silu": silu_backward,
    "elu": elu_backward,
    "softplus": softplus_backward,
    "sigmoid": sigmoid_backward,
}
