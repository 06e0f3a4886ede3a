"""PyTorch's CPU random numbers: its Mersenne Twister and the way ATen turns draws into values.

``torch.manual_seed(s)`` seeds a 32-bit Mersenne Twister, MT19937 (Matsumoto & Nishimura
1998), with the textbook rule

    state[0] = s mod 2³²,   state[j] = 1812433253 · (state[j−1] ⊕ (state[j−1] ≫ 30)) + j  (mod 2³²)

and every random op reads that one stream, element after element, in memory order. This
module reproduces the stream (NumPy's ``MT19937`` bit generator, given the state above) and
the transforms that ATen applies to it, so that a seeded script draws PyTorch's numbers:

    random()    one 32-bit draw          random64()  two, the first one the high half
    uniform     x = (random() mod 2²⁴) · 2⁻²⁴ in float32 (random64() mod 2⁵³ · 2⁻⁵³ in
                float64), then x · (to − from) + from in that dtype
    normal      float tensors of at least 16 contiguous numbers: all uniforms first, then
                Box–Muller on blocks of 16 (u1 = 1 − x[j], u2 = x[j + 8], j < 8):
                r = √(−2 ln u1),  x[j] = r cos 2πu2,  x[j + 8] = r sin 2πu2; when the size
                is not a multiple of 16, the last 16 are drawn and transformed again.
                Otherwise one value at a time from two float64 uniforms u1, u2:
                r = √(−2 ln(1 − u2)),  value = r cos 2πu1, and r sin 2πu1 is kept for the
                next such value (the generator's cached normal).
    integers    from + random() mod range   (random64() for ranges of 2²⁸ and more, except
                in float32 tensors)
    permutation 0 … n−1 shuffled by n − 1 swaps: i ↔ i + random() mod (n − i)
    bernoulli   a float64 uniform u < p (dropout's mask: keep with p = 1 − drop); with a
                tensor of probabilities, a float32 uniform each
    others      from float64 uniforms u: exponential −ln(1 − u)/λ, geometric ⌈ln u / ln(1 − p)⌉,
                Cauchy median + σ tan(π(u − ½)), log-normal exp of the serial normal

Where PyTorch's own bits depend on the CPU, soma matches its vectorised kernels: float32
normals (PyTorch's AVX2 kernel has its own float32 log, sin and cos; soma computes in float64
and rounds, agreeing to about 1e-6) and uniforms between bounds (x · (to − from) + from as one
fused multiply-add, as PyTorch's AVX2 and AVX-512 kernels compute it; its default-capability
kernel rounds twice, an ulp away at most).
"""

import math

import numpy

from soma.backend import compiled

_MASK32 = 0xFFFFFFFF
_STATE_WORDS = 624


def _textbook_state(seed: int) -> numpy.ndarray:
    """MT19937's 624 state words for a 32-bit seed (init_genrand of the reference code)."""
    key = numpy.empty(_STATE_WORDS, dtype=numpy.uint32)
    word = seed & _MASK32
    key[0] = word
    for j in range(1, _STATE_WORDS):
        word = (1812433253 * (word ^ (word >> 30)) + j) & _MASK32
        key[j] = word
    return key


class MersenneStream:
    """The 32-bit draws of PyTorch's CPU generator, and its cached normal value."""

    __slots__ = ("_bits", "cached_normal")

    def __init__(self, seed: int = 0):
        self._bits = numpy.random.MT19937(0)
        self.seed(seed)

    def seed(self, seed: int) -> None:
        """Restart the stream as ``torch.manual_seed(seed)`` does (the cached normal dropped)."""
        key = _textbook_state(int(seed))
        # pos = 624: the whole state is regenerated before the first draw, as in PyTorch
        self._bits.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": _STATE_WORDS}}
        self.cached_normal = None

    def get_state(self) -> dict:
        state = self._bits.state["state"]
        return {"key": state["key"].copy(), "pos": int(state["pos"]), "normal": self.cached_normal}

    def set_state(self, state: dict) -> None:
        key = numpy.asarray(state["key"], dtype=numpy.uint32)
        if key.shape != (_STATE_WORDS,) or not 0 <= int(state["pos"]) <= _STATE_WORDS:
            raise ValueError("set_state: not a Mersenne Twister state (624 words and a position)")
        self._bits.state = {
            "bit_generator": "MT19937",
            "state": {"key": key, "pos": int(state["pos"])},
        }
        self.cached_normal = state.get("normal")

    # ------------------------------------------------------------------ raw draws
    def random(self, count: int) -> numpy.ndarray:
        """``count`` 32-bit draws, as uint64."""
        return self._bits.random_raw(count)

    def random64(self, count: int) -> numpy.ndarray:
        """``count`` 64-bit draws: (first draw ≪ 32) | second draw, as uint64."""
        pairs = self._bits.random_raw(2 * count).reshape(count, 2)
        return (pairs[:, 0] << numpy.uint64(32)) | pairs[:, 1]

    # ------------------------------------------------------------------ distributions
    def unit(self, count: int, dtype) -> numpy.ndarray:
        """``count`` uniforms on [0, 1) in ``dtype``, from the dtype's mantissa bits."""
        dtype = numpy.dtype(dtype)
        if dtype == numpy.float64:
            return (self.random64(count) & numpy.uint64((1 << 53) - 1)) * 2.0**-53
        # float16 too takes 24 bits: ATen draws it in float32, its accumulation type
        draws = self.random(count) & numpy.uint64((1 << 24) - 1)
        return draws.astype(numpy.float32) * numpy.float32(2.0**-24)

    def uniform(self, count: int, low: float, high: float, dtype) -> numpy.ndarray:
        """``count`` uniforms on [low, high): x · (high − low) + low, the width taken in the
        dtype (float32 for float16) and the product and sum as one fused multiply-add, as
        ATen's compiled kernel does: float32 results from float64 arithmetic, rounded once."""
        x = self.unit(count, dtype)
        work = x.dtype.type
        width, low = work(high) - work(low), work(low)
        if work is numpy.float64:
            return _fused_multiply_add(x, width, low)
        fused = x.astype(numpy.float64) * numpy.float64(width) + numpy.float64(low)
        return fused.astype(dtype)

    def normal(self, count: int, mean: float, std: float, dtype, blocked: bool) -> numpy.ndarray:
        """``count`` normals N(mean, std²) in ``dtype``: ATen's blocked Box–Muller when
        ``blocked`` (a contiguous float tensor of at least 16 numbers), else one at a time."""
        dtype = numpy.dtype(dtype)
        if blocked and count >= 16:
            return self._normal_blocks(count, mean, std, dtype)
        return self._normal_serial(count, mean, std).astype(dtype)

    def _normal_blocks(self, count, mean, std, dtype):
        work = numpy.float64 if dtype == numpy.float64 else numpy.float32
        u = self.unit(count, work)
        out = numpy.empty(count, dtype=work)
        whole = count // 16 * 16
        out[:whole] = _box_muller_16(u[:whole], work)
        if count % 16:  # the last 16 drawn again and transformed again
            out[count - 16 :] = _box_muller_16(self.unit(16, work), work)
        return (out * work(std) + work(mean)).astype(dtype, copy=False)

    def _normal_serial(self, count, mean, std):
        values = numpy.empty(count)
        start = 0
        if count and self.cached_normal is not None:
            values[0], self.cached_normal, start = self.cached_normal, None, 1
        pairs = -(-(count - start) // 2)
        if pairs:
            u = (self.random64(2 * pairs) & numpy.uint64((1 << 53) - 1)) * 2.0**-53
            u1, u2 = u[0::2], u[1::2]
            radius = numpy.sqrt(-2.0 * numpy.log1p(-u2))
            theta = 2.0 * numpy.pi * u1
            both = numpy.stack([radius * numpy.cos(theta), radius * numpy.sin(theta)], axis=1)
            both = both.reshape(-1)
            values[start:] = both[: count - start]
            if (count - start) % 2:
                self.cached_normal = float(both[-1])
        return values * std + mean

    def integers(self, count: int, low: int, high: int, dtype) -> numpy.ndarray:
        """``count`` integers uniformly from [low, high): low + draw mod (high − low)."""
        span = int(high) - int(low)
        # PyTorch 2.13 takes 64-bit draws from a range of 2²⁸ up (measured: int64, int32 and
        # float64 alike; float32 keeps 32-bit draws), keeping the modulo's bias below 2⁻⁴
        wide = span >= 1 << 28 and numpy.dtype(dtype) not in _NARROW_DTYPES
        draws = self.random64(count) if wide else self.random(count)
        offsets = draws % numpy.uint64(span)
        return (offsets.astype(numpy.int64) + int(low)).astype(dtype)

    def bits(self, count: int, dtype) -> numpy.ndarray:
        """``Tensor.random_()`` without bounds: integers in [0, max + 1) for an integer dtype,
        [0, 2^mantissa] for a float one, random bits for bool."""
        dtype = numpy.dtype(dtype)
        if dtype == numpy.bool_:
            return (self.random(count) & numpy.uint64(1)).astype(bool)
        if dtype.kind == "f":
            digits = {2: 11, 4: 24, 8: 53}[dtype.itemsize]
            draws = self.random64(count) if dtype.itemsize == 8 else self.random(count)
            return (draws % numpy.uint64((1 << digits) + 1)).astype(dtype)
        top = int(numpy.iinfo(dtype).max) + 1
        draws = self.random64(count) if dtype == numpy.int64 else self.random(count)
        return (draws % numpy.uint64(top)).astype(dtype)

    def permutation(self, n: int) -> numpy.ndarray:
        """0 … n−1 shuffled as ``torch.randperm``: for i < n − 1, swap i with i + draw mod (n − i)."""
        if n <= 1:
            return numpy.arange(n, dtype=numpy.int64)
        offsets = self.random(n - 1) % numpy.arange(n, 1, -1, dtype=numpy.uint64)
        if compiled.enabled():  # 60,000 swaps: 0.3 ms compiled, about 25 ms in Python
            perm = numpy.arange(n, dtype=numpy.int64)
            _swap_forward_kernel(perm, offsets.astype(numpy.int64))
            return perm
        return numpy.asarray(_swap_forward(list(range(n)), offsets.tolist()), dtype=numpy.int64)

    def cauchy(self, count: int, median: float, sigma: float) -> numpy.ndarray:
        """``count`` float64 Cauchy draws: median + sigma · tan(π (u − ½)), u clipped to
        [ε, 1 − ε] (ε = 2⁻⁵², so that tan stays finite)."""
        eps = numpy.finfo(numpy.float64).eps
        u = numpy.clip(self.unit(count, numpy.float64), eps, 1 - eps)
        return median + sigma * numpy.tan(numpy.pi * (u - 0.5))

    def geometric(self, count: int, p: float) -> numpy.ndarray:
        """``count`` float64 geometric draws (trials until the first success): ⌈ln u / ln(1 − p)⌉."""
        return numpy.ceil(numpy.log(self.unit(count, numpy.float64)) / numpy.log1p(-p))

    def log_normal(self, count: int, mean: float, std: float) -> numpy.ndarray:
        """``count`` float64 draws of exp(N(mean, std²)), the normals one at a time (cached)."""
        return numpy.exp(self._normal_serial(count, mean, std))

    def exponential(self, count: int, rate: float) -> numpy.ndarray:
        """``count`` float64 draws of Exp(rate): −ln(1 − u) / rate for float64 uniforms u."""
        return -numpy.log1p(-self.unit(count, numpy.float64)) / rate

    def bernoulli(self, count: int, p: float) -> numpy.ndarray:
        """``count`` booleans, True with probability p: a float64 uniform u < p each, as ATen's
        ``bernoulli_(p)`` (and so dropout's mask) draws them. u = m · 2⁻⁵³ with m the low 53
        bits of a 64-bit draw, so u < p ⟺ m < p · 2⁵³ (exact: a power-of-two scaling)."""
        threshold = math.ceil(float(p) * 2.0**53)
        if not compiled.enabled():
            return (self.random64(count) & numpy.uint64((1 << 53) - 1)) < numpy.uint64(threshold)
        state = self._bits.state["state"]
        key, position = state["key"].astype(numpy.uint64), numpy.array([state["pos"]])
        out = numpy.empty(count, dtype=numpy.bool_)
        _bernoulli_kernel(key, position, numpy.uint64(threshold), out)
        self._bits.state = {
            "bit_generator": "MT19937",
            "state": {"key": key.astype(numpy.uint32), "pos": int(position[0])},
        }
        return out

    def bernoulli_each(self, count: int, probs) -> numpy.ndarray:
        """One boolean per probability (``count`` of them): a float32 uniform u < float32(p), as
        ATen's Bernoulli with a tensor of probabilities draws them."""
        return self.unit(count, numpy.float32) < probs.astype(numpy.float32)


# MT19937's constants (Matsumoto & Nishimura): the twist's matrix row and the tempering masks
_UPPER, _LOWER, _MATRIX = (
    numpy.uint64(0x80000000),
    numpy.uint64(0x7FFFFFFF),
    numpy.uint64(0x9908B0DF),
)
_TEMPER_B, _TEMPER_C = numpy.uint64(0x9D2C5680), numpy.uint64(0xEFC60000)
_WORD = numpy.uint64(0xFFFFFFFF)


@compiled.helper(exact=True)
def _twist(key):
    """The next 624 state words (the reference ``genrand`` regeneration), in place: word i
    mixes the top bit of word i with the rest of word i + 1, shifted and conditionally xored
    with the matrix row, into word i + 397 (indices mod 624; three runs avoid the modulo)."""
    for i in range(227):
        y = (key[i] & _UPPER) | (key[i + 1] & _LOWER)
        key[i] = key[i + 397] ^ (y >> numpy.uint64(1)) ^ ((y & numpy.uint64(1)) * _MATRIX)
    for i in range(227, 623):
        y = (key[i] & _UPPER) | (key[i + 1] & _LOWER)
        key[i] = key[i - 227] ^ (y >> numpy.uint64(1)) ^ ((y & numpy.uint64(1)) * _MATRIX)
    y = (key[623] & _UPPER) | (key[0] & _LOWER)
    key[623] = key[396] ^ (y >> numpy.uint64(1)) ^ ((y & numpy.uint64(1)) * _MATRIX)


@compiled.helper(exact=True)
def _temper(key, words):
    """The block's 624 outputs: each state word tempered (shifts and masks), into ``words``."""
    for i in range(624):
        word = key[i]
        word ^= word >> numpy.uint64(11)
        word ^= (word << numpy.uint64(7)) & _TEMPER_B
        word ^= (word << numpy.uint64(15)) & _TEMPER_C
        word ^= word >> numpy.uint64(18)
        words[i] = word & _WORD


@compiled.kernel
def _bernoulli_kernel(key, position, threshold, out):
    """out[i] = (low 53 bits of a 64-bit draw) < threshold, drawing from state ``key`` (624
    words as uint64) at ``position[0]``, which is advanced. A block's outputs are tempered at
    once; pairs of outputs inside a block run in a loop without branches, a pair across two
    blocks on its own. 1.6 M draws of 64 bits: 3.5 ms (NumPy's MT19937, 3.2 M raw draws and
    the comparison: 20-50 ms)."""
    words = numpy.empty(624, dtype=numpy.uint64)
    _temper(key, words)
    pos, i, n = position[0], 0, out.size
    low53 = numpy.uint64(0x1FFFFF)
    while i < n:
        if pos >= 624:
            _twist(key)
            _temper(key, words)
            pos = 0
        take = min(n - i, (624 - pos) // 2)
        for k in range(take):
            high, low = words[pos + 2 * k], words[pos + 2 * k + 1]
            out[i + k] = (((high & low53) << numpy.uint64(32)) | low) < threshold
        i += take
        pos += 2 * take
        if (
            i < n and pos == 623
        ):  # the pair's first word ends this block, its second starts the next
            high = words[623]
            _twist(key)
            _temper(key, words)
            pos = 1
            out[i] = (((high & low53) << numpy.uint64(32)) | words[0]) < threshold
            i += 1
    position[0] = pos


_NARROW_DTYPES = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float16))


def _fused_multiply_add(a, b, c):
    """a · b + c rounded once, in float64 (NumPy has no fma): the product's rounding error by
    Dekker's split, the sum's by Knuth's two-sum, both added back before the last rounding."""
    product = a * b

    def halves(v):
        scaled = 134217729.0 * v  # 2²⁷ + 1
        high = scaled - (scaled - v)
        return high, v - high

    (a_hi, a_lo), (b_hi, b_lo) = halves(a), halves(numpy.float64(b))
    product_error = ((a_hi * b_hi - product) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    total = product + c
    back = total - product
    sum_error = (product - (total - back)) + (c - back)
    return total + (sum_error + product_error)


def _box_muller_16(u, work):
    """Box–Muller on blocks of 16 uniforms: (1 − u[:8], u[8:]) → (r cos θ, r sin θ)."""
    blocks = u.reshape(-1, 2, 8)
    u1 = work(1) - blocks[:, 0]
    # theta = 2π u2 in float64, rounded to the working dtype (ATen's float kernel does so)
    theta = (2.0 * numpy.pi * blocks[:, 1].astype(numpy.float64)).astype(work)
    radius = numpy.sqrt(work(-2) * numpy.log(u1))
    out = numpy.empty_like(blocks)
    out[:, 0] = radius * numpy.cos(theta)
    out[:, 1] = radius * numpy.sin(theta)
    return out.reshape(-1)


@compiled.kernel
def _swap_forward_kernel(perm, offsets):
    """``_swap_forward`` on arrays, compiled."""
    for i in range(offsets.size):
        j = i + offsets[i]
        held = perm[i]
        perm[i] = perm[j]
        perm[j] = held


def _swap_forward(perm, offsets):
    """Fisher–Yates as randperm runs it: position i swaps with i + offsets[i]."""
    for i, offset in enumerate(offsets):
        if offset:
            j = i + offset
            perm[i], perm[j] = perm[j], perm[i]
    return perm
