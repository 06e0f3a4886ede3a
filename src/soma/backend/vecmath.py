"""float32 exp, expm1, log, tanh and σ that compiled kernels can vectorise.

A compiled kernel that calls ``math.exp`` gets one scalar libm call per element: no SIMD, and
(with the call in the loop) no vectorisation of the arithmetic around it either. NumPy's own
float32 exp is SIMD on some CPUs only: on an AVX2 Zen 1 (NumPy 2.4) it measured 3.75 ns a
value, expm1 20.4, log 4.7, tanh 7.2 (1000x128 float32), where these helpers take 1.6-2 ns
inside a kernel's loop, beside the arithmetic of the activation that calls them. So a fused
kernel computes an activation in one pass instead of NumPy's chain of passes.

Each is branch-free (selects only), in float32, from the classic argument reductions and
Cephes' minimax polynomials (Moshier, *Methods and Programs for Mathematical Functions*):

    exp    x = n·ln2 + r, |r| <= ln2/2 (ln2 in two parts, so r is exact);
           e^x = 2^n · (1 + r + r²/2 + r³ P(r)); 2^n built from the exponent bits, in two
           halves so that subnormal results and n = 128 (just below overflow) come out right
    expm1  the same n and r; e^x − 1 = 2^n·(e^r − 1) + (2^n − 1), with e^r − 1 by its series
           (no cancellation for small x); for n > 24 the −1 is below rounding: e^x − 1 directly
    log    x = m·2^e, √½ <= m < √2 from the bits (subnormals scaled first); with f = m − 1,
           ln x = f − f²/2 + f³ P(f) + e·ln2
    tanh   |x| < 0.625: x + x³ P(x²);  else sign(x)·(1 − 2/(e^{2|x|} + 1))
    σ      1/(1 + e^{−x})
    log1p  for 0 <= x <= 1 only (softplus' ln(1 + e^{−|t|})): ln(1 + x) = 2 atanh(s) with
           s = x/(2 + x) <= 1/3, = 2s + 2s·s²·A(s²), A the series' 1/3, 1/5, … 1/13 (the next
           term is below a quarter ulp); no exponent bits and no log, so the chain that follows
           an exp is short

Accuracy, against float64 over 4 million values per function spanning the float32 range
(``tests/test_vecmath.py``): exp and log within 1 ulp (largest error seen 0.99 and 0.77),
expm1 and tanh within 2 (1.38, 1.30), σ within 2.5 (2.16: 1 + e^{−x} and the division round
too, as in any float32 1/(1 + e^{−x})); NaN stays
NaN, and ±inf, 0, overflow and underflow give the limits (exp(−inf) = 0, log(0) = −inf,
log of a negative number NaN, tanh(±inf) = ±1).

These are ``compiled.helper`` functions: plain Python on NumPy float32 scalars (the ``.python``
form of a kernel calls them so, slowly), inlined by Numba into the kernels that call them,
where LLVM may fuse their multiply-adds (``compiled.HELPER_OPTIONS``).
"""

from soma.backend import compiled
from soma.backend.compiled import np

_f, _i = np.float32, np.int32

_ZERO, _ONE, _TWO, _HALF = _f(0), _f(1), _f(2), _f(0.5)
_INF = _f(np.inf)
_NAN = _f(np.nan)

# exp's reduction: x = n·ln2 + r, ln2 = _LN2_HI + _LN2_LO (_LN2_HI has 9 significant bits, so
# n·_LN2_HI is exact for |n| < 2^15)
_LOG2E = _f(1.4426950408889634)
_LN2_HI, _LN2_LO = _f(0.693359375), _f(-2.12194440e-4)
_ROUND = _f(12582912.0)  # 1.5·2^23: (v + _ROUND) − _ROUND is v rounded to an integer
_EXP_MAX, _EXP_MIN = _f(88.8), _f(-104.0)  # e^88.8 overflows float32, e^-104 rounds to 0
# e^r = 1 + r + r²·(E5 + r(E4 + r(E3 + r(E2 + r(E1 + r·E0))))), |r| <= ln2/2 (Cephes expf)
_E0, _E1, _E2 = _f(1.9875691500e-4), _f(1.3981999507e-3), _f(8.3334519073e-3)
_E3, _E4, _E5 = _f(4.1665795894e-2), _f(1.6666665459e-1), _f(5.0000001201e-1)
# e^r − 1 = r + r²·(1/2 + r(1/6 + … + r/8!)): Taylor to r^8, below half an ulp at |r| <= ln2/2
_M2, _M3, _M4, _M5 = _f(1 / 2), _f(1 / 6), _f(1 / 24), _f(1 / 120)
_M6, _M7, _M8 = _f(1 / 720), _f(1 / 5040), _f(1 / 40320)

# log: x = m·2^e with √½ <= m < √2, ln(1 + f) = f − f²/2 + f³·L(f) (Cephes logf)
_L0, _L1, _L2 = _f(7.0376836292e-2), _f(-1.1514610310e-1), _f(1.1676998740e-1)
_L3, _L4, _L5 = _f(-1.2420140846e-1), _f(1.4249322787e-1), _f(-1.6668057665e-1)
_L6, _L7, _L8 = _f(2.0000714765e-1), _f(-2.4999993993e-1), _f(3.3333331174e-1)
_SQRT_HALF = _f(0.70710678118654752)
_TINY = _f(1.17549435e-38)  # the smallest normal float32
_TWO_25 = _f(33554432.0)  # subnormals are scaled by 2^25 before their bits are read

# tanh(x) = x + x³·T(x²) for |x| < 0.625 (Cephes tanhf)
_T0, _T1, _T2 = _f(-5.70498872745e-3), _f(2.06390887954e-2), _f(-5.37397155531e-2)
_T3, _T4 = _f(1.33314422036e-1), _f(-3.33332819422e-1)
_TANH_SMALL = _f(0.625)

# ln(1 + x) = 2s (1 + s²/3 + s⁴/5 + …), s = x/(2 + x): the coefficients 1/3 … 1/13
_A3, _A5, _A7, _A9, _A11, _A13 = (_f(1 / k) for k in (3, 5, 7, 9, 11, 13))
_A6 = _f(1 / 6)

_BIAS, _MANTISSA_BITS = _i(127), _i(23)
_MANTISSA, _HALF_EXPONENT = _i(0x007FFFFF), _i(0x3F000000)  # m's bits; the exponent of [½, 1)
_BYTE = _i(0xFF)
_ONE_I = _i(1)
_LARGE_N = _i(24)  # beyond 2^24, 2^n − 1 rounds to 2^n in float32


@compiled.helper
def pow2(k):
    """2^k as float32 for an integer k in [−126, 127], from its exponent bits."""
    return np.int32((k + _BIAS) << _MANTISSA_BITS).view(np.float32)


@compiled.helper
def _reduce(x):
    """(n, r) with x = n·ln2 + r, n an integer-valued float32 and |r| <= ln2/2; x clamped to
    [−104, 88.8] first (NaN passes both tests unchanged)."""
    x = _EXP_MAX if x > _EXP_MAX else x
    x = _EXP_MIN if x < _EXP_MIN else x
    n = (x * _LOG2E + _ROUND) - _ROUND
    r = (x - n * _LN2_HI) - n * _LN2_LO
    return n, r


@compiled.helper
def exp(x):
    """e^x, float32, within 1 ulp; inf beyond 88.72, 0 below −103.97, NaN for NaN."""
    n, r = _reduce(x)
    p = (((((_E0 * r + _E1) * r + _E2) * r + _E3) * r + _E4) * r + _E5) * (r * r) + r + _ONE
    k = np.int32(n)
    half = k >> _ONE_I
    return p * pow2(half) * pow2(k - half)


@compiled.helper
def expm1(x):
    """e^x − 1, float32, within 2 ulp and exact in sign near 0; −1 below −17.4."""
    n, r = _reduce(x)
    q = _M8 * r + _M7
    q = (((((q * r + _M6) * r + _M5) * r + _M4) * r + _M3) * r + _M2) * (r * r) + r  # e^r − 1
    k = np.int32(n)
    half = k >> _ONE_I
    s1, s2 = pow2(half), pow2(k - half)
    s = s1 * s2  # NOTE: inf for n = 128, where the other form is taken
    small = s * q + (s - _ONE)
    large = (s1 * (q + _ONE)) * s2 - _ONE
    return small if k <= _LARGE_N else large


@compiled.helper
def log(x):
    """ln x, float32, within 1 ulp; −inf at 0, NaN below 0 and for NaN, inf at inf."""
    subnormal = x < _TINY
    v = x * _TWO_25 if subnormal else x
    bits = np.float32(v).view(np.int32)
    e = ((bits >> _MANTISSA_BITS) & _BYTE) - _i(126)  # v = m·2^e, ½ <= m < 1
    e = e - _i(25) if subnormal else e
    m = np.int32((bits & _MANTISSA) | _HALF_EXPONENT).view(np.float32)
    low = m < _SQRT_HALF
    e = e - _ONE_I if low else e
    f = (m + m) - _ONE if low else m - _ONE  # ln x = ln(1 + f) + e·ln2, |f| <= √2 − 1
    z = f * f
    p = ((((_L0 * f + _L1) * f + _L2) * f + _L3) * f + _L4) * f + _L5
    p = ((p * f + _L6) * f + _L7) * f + _L8
    ef = np.float32(e)
    y = p * f * z + ef * _LN2_LO - _HALF * z
    y = (f + y) + ef * _LN2_HI
    y = y if x < _INF else x + x  # inf and NaN pass through (a signalling NaN made quiet)
    y = -_INF if x == _ZERO else y
    return _NAN if x < _ZERO else y


@compiled.helper
def tanh(x):
    """tanh x, float32, within 2 ulp; ±1 from |x| = 9.1 on, NaN for NaN."""
    a = abs(x)
    z = x * x
    small = ((((_T0 * z + _T1) * z + _T2) * z + _T3) * z + _T4) * z * x + x
    large = _ONE - _TWO / (exp(a + a) + _ONE)  # e^{2|x|} = inf gives 1
    large = large if x >= _ZERO else -large
    return small if a < _TANH_SMALL else large


@compiled.helper
def sigmoid(x):
    """σ(x) = 1/(1 + e^{−x}), float32, within 2.5 ulp; e^{−x} = inf gives the limit 0."""
    return _ONE / (_ONE + exp(-x))


@compiled.helper
def log1p_unit(x):
    """ln(1 + x) for 0 <= x <= 1, float32, within 1.25 ulp; NaN for NaN.

    s = x/(2 + x) carries the rounding of 2 + x and of the division; their effect on 2s is
    put back as a separate term (x − s·d is exact as one multiply-add; 1/d, needed for a term
    of an ulp, to 4 % as 1/2 − x/6), computed beside the series rather than before it. The
    series is summed by Estrin's scheme (pairs, then powers of s²): a chain of three
    multiply-adds instead of six, for the loops that call this after an exp.
    """
    d = _TWO + x
    lost = (_TWO - d) + x  # 2 + x = d + lost exactly (Fast2Sum: 2 >= x)
    s = x / d
    q = s * s
    q2 = q * q
    a = (_A13 * q + _A11) * q2 + (_A9 * q + _A7)
    series = (a * q2 + (_A5 * q + _A3)) * q
    correction = ((x - s * d) - s * lost) * (_HALF - x * _A6)  # x/(2 + x) − s
    s2 = s + s
    return s2 * series + (s2 + (correction + correction))
