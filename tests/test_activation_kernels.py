"""The activations' compiled kernels (``activation/_kernels.py``) against the NumPy path and PyTorch.

Each case runs the activation in soma twice (compiled, and ``with compiled.disabled()``) and in
PyTorch, and compares the output and the input gradient: float32 and float64, odd sizes,
channels-last and transposed inputs (dense in another axis order: the kernels walk their
memory), a strided slice (the NumPy path), and an upstream gradient in another layout.
"""

import contextlib

import numpy as np
import pytest

import soma
from soma.backend import compiled, parallel
from soma.functional.activation import _kernels
from soma.testing import gradcheck

F = soma.nn.functional

# name: (soma function, torch function name, extra args)
OPS = {
    "relu": (F.relu, "relu", ()),
    "leaky_relu": (F.leaky_relu, "leaky_relu", (0.2,)),
    "gelu": (F.gelu, "gelu", ()),
    "silu": (F.silu, "silu", ()),
    "elu": (F.elu, "elu", (0.7,)),
    "selu": (F.selu, "selu", ()),
    "celu": (F.celu, "celu", (2.0,)),
    "softplus": (F.softplus, "softplus", ()),
    "softplus_beta": (F.softplus, "softplus", (2.0, 5.0)),
    "sigmoid": (soma.sigmoid, "sigmoid", ()),
    "tanh": (soma.tanh, "tanh", ()),
}
TOL = {np.float32: 3e-6, np.float64: 1e-12}


def _arrange(a, layout):
    if layout == "cl":  # (N, C, H, W) view of (N, H, W, C) memory
        return np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 1, -1)), -1, 1)
    if layout == "transposed":
        return np.ascontiguousarray(a.T).T
    if layout == "strided":
        return np.repeat(a, 2, axis=-1)[..., ::2]
    return np.ascontiguousarray(a)


def _soma(name, xa, ga, fast):
    fn, _, args = OPS[name]
    x = soma.tensor(xa, requires_grad=True)
    x.array = xa  # keep the layout under test (tensor() copies to C order)
    g = soma.tensor(ga)
    g.array = ga
    with contextlib.nullcontext() if fast else compiled.disabled():
        y = fn(x, *args)
        y.backward(g)
    return y.detach().numpy(), x.grad.numpy()


def _torch(name, xa, ga):
    torch = pytest.importorskip("torch")
    _, tname, args = OPS[name]
    fn = (
        getattr(torch, tname)
        if tname in ("sigmoid", "tanh")
        else getattr(torch.nn.functional, tname)
    )
    x = torch.tensor(np.ascontiguousarray(xa), requires_grad=True)
    y = fn(x, *args)
    y.backward(torch.tensor(np.ascontiguousarray(ga)))
    return y.detach().numpy(), x.grad.numpy()


DEFAULT_SMALL = _kernels.SMALL


@pytest.fixture(autouse=True)
def _kernels_at_every_size(monkeypatch):
    # the kernels of relu, sigmoid, ... run from _kernels.SMALL elements up; these tests' arrays
    # are smaller, and must reach the kernels
    monkeypatch.setattr(_kernels, "SMALL", 1)


def _inputs(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    xa = (rng.standard_normal(shape) * 4).astype(dtype)
    flat = xa.reshape(-1)
    flat[:8] = [0.0, -0.0, 25.0, -25.0, 60.0, -60.0, 1e-4, -1e-4]  # tails, thresholds, zero
    return xa, rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(OPS))
def test_matches_numpy_path_and_torch(name, dtype):
    xa, ga = _inputs((37, 129), dtype)
    ref = _torch(name, xa, ga)
    for fast in (True, False):
        for ours, theirs, what in zip(_soma(name, xa, ga, fast), ref, ("y", "grad")):
            tol = TOL[dtype]
            np.testing.assert_allclose(
                ours, theirs, rtol=tol, atol=tol, err_msg=f"{name} {what} fast={fast}"
            )


@pytest.mark.parametrize("layout", ["cl", "transposed", "strided"])
@pytest.mark.parametrize("name", sorted(OPS))
def test_layouts(name, layout):
    xa, ga = _inputs((3, 5, 4, 7), np.float32, seed=1)
    ref = _torch(name, xa, ga)
    # the upstream gradient in C order while x is not (or the reverse): copied to x's layout
    ours = _soma(name, _arrange(xa, layout), np.ascontiguousarray(ga), True)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=3e-6, atol=3e-6)
    ours = _soma(name, np.ascontiguousarray(xa), _arrange(ga, layout), True)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=3e-6, atol=3e-6)


def test_flat_views():
    a = np.zeros((3, 5, 4, 7), np.float32)
    assert _kernels.flat(_arrange(a, "cl")) is not None
    assert _kernels.flat(_arrange(a, "transposed")) is not None
    assert _kernels.flat(_arrange(a, "strided")) is None
    b = _arrange(np.arange(24.0).reshape(2, 3, 4), "cl")
    np.testing.assert_array_equal(_kernels.flat_like(np.ascontiguousarray(b), b), _kernels.flat(b))


def test_relu_keeps_channels_last():
    xa = _arrange(np.random.default_rng(2).standard_normal((2, 6, 3, 3)), "cl")
    x = soma.tensor(xa)
    x.array = xa
    assert np.moveaxis(F.relu(x).numpy(), 1, -1).flags.c_contiguous


@pytest.mark.parametrize("fast", [True, False])
def test_relu_gradient_takes_the_activation_layout_from_a_strided_gradient(fast):
    """A strided upstream gradient (the interior of a padded depthwise convolution's buffer)
    gives an input gradient in the activation's own layout, channel-major here, so the layers
    before keep theirs; values are gy · (x > 0)."""
    rng = np.random.default_rng(9)
    xa = np.ascontiguousarray(rng.standard_normal((3, 4, 6, 6)).swapaxes(0, 1)).swapaxes(0, 1)
    padded = rng.standard_normal((4, 3, 8, 8)).astype(np.float64)
    ga = padded[:, :, 1:-1, 1:-1].swapaxes(0, 1)  # strided, like Taps.grad_input's result
    x = soma.tensor(xa, requires_grad=True)
    x.array = xa
    h = x * 1.0  # not a leaf: the gradient is seen as it arrives (a leaf's is copied)
    seen = []
    h.register_hook(lambda grad: seen.append(grad.numpy()))
    with contextlib.nullcontext() if fast else compiled.disabled():
        F.relu(h).backward(soma.from_numpy(ga))
    assert seen[0].swapaxes(0, 1).flags.c_contiguous
    np.testing.assert_array_equal(seen[0], ga * (xa > 0))


@pytest.mark.parametrize("name", sorted(OPS))
def test_nan_and_infinity(name):
    # the mathematical limits (not PyTorch's values, which depend on the CPU): NaN stays NaN
    x = np.array([np.nan, np.inf, -np.inf, 0.5], np.float32)
    y, gy = _soma(name, x, np.ones(4, np.float32), True)
    z, gz = _soma(name, x, np.ones(4, np.float32), False)
    assert np.isnan(y[0])
    np.testing.assert_array_equal(y[1:3], z[1:3])  # the NumPy path's limits, tested elsewhere
    # NOTE: the gradients at ±inf agree between the paths (to the last bit but one: selu's
    # scale is rounded once or twice) and raise no warning; for gelu and silu both give NaN
    # there (x·φ(x) and x·(1 - σ) are inf·0), as PyTorch does, not the limits 1 and 0
    np.testing.assert_allclose(gy[1:3], gz[1:3], rtol=2e-7, equal_nan=True)


@pytest.mark.parametrize("name", sorted(OPS))
def test_threads_give_the_same_bits(name):
    pytest.importorskip("numba")
    xa, ga = _inputs((64, 1000), np.float32, seed=3)
    old_threads, old_min = parallel.get_num_threads(), parallel.set_min_elements(1)
    try:
        parallel.set_num_threads(1)
        one = _soma(name, xa, ga, True)
        parallel.set_num_threads(2)
        two = _soma(name, xa, ga, True)
    finally:
        parallel.set_num_threads(old_threads)
        parallel.set_min_elements(old_min)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(OPS))
def test_gradcheck_float64(name):
    fn, _, args = OPS[name]
    rng = np.random.default_rng(4)
    xa = _arrange(rng.standard_normal((2, 3, 2, 4)) * 2 + 0.05, "cl")  # away from relu's kink
    x = soma.tensor(xa, requires_grad=True)
    x.array = xa
    assert gradcheck(lambda t: fn(t, *args), (x,))


def test_small_arrays_keep_the_numpy_forms_of_the_cheap_activations():
    pytest.importorskip("numba")
    small = np.zeros((32, 128), np.float32)  # one LSTM gate block: NumPy measured faster
    large = np.zeros((256, 128), np.float32)
    _kernels.SMALL = DEFAULT_SMALL  # undone by the fixture's monkeypatch
    assert not _kernels.usable(small) and _kernels.usable(large) == compiled.enabled()
    assert _kernels.usable(small, min_size=1) == compiled.enabled()  # GELU, ELU, softplus


def test_a_broadcast_gradient_reaches_the_kernels_and_another_layout_does_not():
    pytest.importorskip("numba")
    y = np.zeros((256, 128), np.float32)
    broadcast = np.broadcast_to(np.float32(1), y.shape)  # the gradient of y.sum()
    transposed = np.ascontiguousarray(y.T).T
    assert _kernels.usable(broadcast, dense=False, like=y) == compiled.enabled()
    assert not _kernels.usable(transposed, dense=False, like=y)


def test_repeated_flat_is_kept_for_the_same_value_and_remade_for_another(monkeypatch):
    monkeypatch.setattr(_kernels, "_repeated", [None])
    one = np.broadcast_to(np.float32(1), (4, 6))
    first = _kernels.repeated_flat(one)
    assert first.shape == (24,) and not first.flags.writeable and np.all(first == 1)
    again = _kernels.repeated_flat(np.broadcast_to(np.float32(1), (2, 5)))
    assert np.shares_memory(again, first) and again.size == 10
    # another value, another dtype, a larger size: a new array, never the kept one's numbers
    cases = [(np.float32(3), 24), (np.float64(1), 24), (np.float32(1), 30)]
    for value, size in cases:
        made = _kernels.repeated_flat(np.broadcast_to(value, (size,)))
        assert made.dtype == value.dtype and made.size == size and np.all(made == value)
    # −0.0 equals 0.0 but its products carry the sign: compared by bits, it is not reused
    _kernels.repeated_flat(np.broadcast_to(np.float32(0.0), (24,)))
    negative = _kernels.repeated_flat(np.broadcast_to(np.float32(-0.0), (24,)))
    assert np.all(np.signbit(negative))
    # beyond REPEATED_KEPT elements nothing is kept
    monkeypatch.setattr(_kernels, "REPEATED_KEPT", 8)
    big = _kernels.repeated_flat(np.broadcast_to(np.float32(5), (24,)))
    assert np.all(big == 5) and _kernels._repeated[0][0] != 5


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "silu", "gelu", "softplus", "elu"])
def test_sums_with_different_scales_in_turn_give_each_its_own_gradient(name):
    """The gradient of c·Σ f(x) reaches f's backward as a broadcast c; after a backward with
    c = 1 the next with c = 3, then −0.0, must not reuse the kept array of ones."""
    pytest.importorskip("numba")
    fn, _, args = OPS[name]
    xa, _ = _inputs((40, 50), np.float32, seed=3)
    x = soma.tensor(xa, requires_grad=True)
    grads = {}
    for scale in (1.0, 3.0, -0.0, 3.0):
        x.grad = None
        (fn(x, *args).sum() * scale).backward()
        grads.setdefault(scale, []).append(x.grad.numpy().copy())
    x.grad = None
    fn(x, *args).backward(soma.ones(40, 50))  # a dense gradient of ones: the reference
    reference = x.grad.numpy()
    np.testing.assert_array_equal(grads[1.0][0], reference)
    np.testing.assert_allclose(grads[3.0][0], 3 * reference, rtol=1e-6)
    np.testing.assert_array_equal(grads[3.0][0], grads[3.0][1])
    assert np.all(np.signbit(grads[-0.0][0]) != np.signbit(reference))  # −0 · f'(x)
