"""BatchNorm's compiled kernels (``_batch_kernels.py``) against its NumPy path and PyTorch.

Every case runs the op twice in soma (compiled, and ``with compiled.disabled()``) and once in
PyTorch, and compares the output, every gradient and the running statistics. Inputs come in
the three memory layouts the kernels walk (contiguous NCHW, channels-last, and channel-major as
depthwise and pointwise convolutions return) and in one they do not (a strided slice, which
must take the NumPy path).
"""

import contextlib

import numpy as np
import pytest

import soma
from soma.backend import compiled, parallel
from soma.functional.normalization import _batch_kernels as kernels
from soma.testing import gradcheck

TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-10, atol=1e-10)}


def _layout(a, kind):
    if kind == "cl":  # (N, C, *S) view of (N, *S, C) memory, as soma's convolutions return
        return np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 1, -1)), -1, 1)
    if kind == "cm":  # (N, C, *S) view of (C, N, *S) memory, as depthwise convolutions return
        return np.ascontiguousarray(a.swapaxes(0, 1)).swapaxes(0, 1)
    if kind == "strided":
        wide = np.repeat(a, 2, axis=-1)  # every value twice; the view takes one of each
        return wide[..., ::2]
    return np.ascontiguousarray(a)


def _soma_run(xa, ga, w, b, *, kind, fast, training, momentum, track):
    c = xa.shape[1]
    x = soma.tensor(xa, requires_grad=True)
    x.array = _layout(xa, kind)  # the layout under test (tensor() copies to C order)
    gy = soma.tensor(ga)
    gy.array = _layout(ga, kind)
    wt = None if w is None else soma.tensor(w, requires_grad=True)
    bt = None if b is None else soma.tensor(b, requires_grad=True)
    rm = soma.tensor(np.linspace(-1, 1, c).astype(xa.dtype)) if track else None
    rv = soma.tensor(np.linspace(0.5, 2, c).astype(xa.dtype)) if track else None
    with contextlib.nullcontext() if fast else compiled.disabled():
        y = soma.nn.functional.batch_norm(
            x, rm, rv, wt, bt, training=training, momentum=momentum, eps=1e-5
        )
        y.backward(gy)
    grads = [x.grad.numpy()] + [None if t is None else t.grad.numpy() for t in (wt, bt)]
    stats = [None if t is None else t.numpy() for t in (rm, rv)]
    return [y.detach().numpy()] + grads + stats


def _torch_run(xa, ga, w, b, *, training, momentum, track):
    torch = pytest.importorskip("torch")
    c = xa.shape[1]
    x = torch.tensor(xa, requires_grad=True)
    wt = None if w is None else torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    rm = torch.tensor(np.linspace(-1, 1, c).astype(xa.dtype)) if track else None
    rv = torch.tensor(np.linspace(0.5, 2, c).astype(xa.dtype)) if track else None
    y = torch.nn.functional.batch_norm(
        x, rm, rv, wt, bt, training=training, momentum=momentum, eps=1e-5
    )
    y.backward(torch.tensor(ga))
    grads = [x.grad.numpy()] + [None if t is None else t.grad.numpy() for t in (wt, bt)]
    stats = [None if t is None else t.numpy() for t in (rm, rv)]
    return [y.detach().numpy()] + grads + stats


def _compare(shape, dtype, kind, *, affine=True, training=True, momentum=0.1, track=True):
    rng = np.random.default_rng(sum(shape))
    xa = (rng.standard_normal(shape) * 3 + 5).astype(dtype)  # mean ≠ 0: the shift matters
    ga = rng.standard_normal(shape).astype(dtype)
    c = shape[1]
    w = rng.standard_normal(c).astype(dtype) if affine else None
    b = rng.standard_normal(c).astype(dtype) if affine else None
    if not training:
        track = True
    args = dict(training=training, momentum=momentum, track=track)
    ref = _torch_run(xa, ga, w, b, **args)
    fast = _soma_run(xa, ga, w, b, kind=kind, fast=True, **args)
    slow = _soma_run(xa, ga, w, b, kind=kind, fast=False, **args)
    names = ["y", "grad x", "grad weight", "grad bias", "running_mean", "running_var"]
    for name, r, f, s in zip(names, ref, fast, slow):
        assert (r is None) == (f is None) == (s is None), name
        if r is not None:
            np.testing.assert_allclose(f, r, err_msg=f"compiled {name}", **TOL[dtype])
            np.testing.assert_allclose(s, r, err_msg=f"numpy {name}", **TOL[dtype])
    return fast


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["nchw", "cl", "cm", "strided"])
@pytest.mark.parametrize("shape", [(5, 7, 3, 9), (2, 3, 17, 40), (3, 5, 17), (2, 3, 2, 3, 4)])
def test_train_matches_numpy_path_and_torch(shape, dtype, kind):
    _compare(shape, dtype, kind)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(6, 5), (1100, 3), (4, 40)])
def test_batchnorm1d_matrix(shape, dtype):
    _compare(shape, dtype, "nchw")  # (N, C): the rows layout, several row blocks for 1100


@pytest.mark.parametrize("kind", ["nchw", "cl", "cm"])
@pytest.mark.parametrize(
    "options",
    [
        dict(affine=False),
        dict(momentum=0.7),
        dict(track=False),
        dict(training=False),
        dict(training=False, affine=False),
    ],
)
def test_options(kind, options):
    _compare((4, 6, 5, 7), np.float32, kind, **options)


def test_layouts_chosen():
    a = np.zeros((2, 8, 5, 5), np.float32)
    assert kernels.layout(a) == "planes"
    assert kernels.layout(_layout(a, "cl")) == "rows"
    assert kernels.layout(_layout(a, "cm")) == "cm"
    assert kernels.layout(np.zeros((7, 3), np.float32)) == "rows"
    assert kernels.layout(_layout(a, "strided")) is None
    assert kernels.layout(a.astype(np.float16)) is None


@pytest.mark.parametrize("kind", ["cl", "cm"])
def test_output_keeps_the_input_layout(kind):
    """Channels-last stays channels-last, channel-major stays channel-major (a MobileNet's
    depthwise → BatchNorm → ReLU → pointwise chain then never changes layout)."""
    if not compiled.enabled():
        pytest.skip("the NumPy path writes C order")
    x = soma.tensor(np.zeros((2, 8, 5, 5), np.float32))
    x.array = _layout(np.random.default_rng(0).standard_normal((2, 8, 5, 5)), kind)
    x.array = x.array.astype(np.float32)
    y = soma.nn.functional.batch_norm(x, None, None, training=True)
    if kind == "cl":
        assert np.moveaxis(y.numpy(), 1, -1).flags.c_contiguous
    else:
        assert y.numpy().swapaxes(0, 1).flags.c_contiguous


@pytest.mark.parametrize("shape", [(16, 4, 8, 8), (4, 4, 16, 16)])  # planes of 256: quads
def test_large_mean_float32_variance(shape):
    # mean 1e4 with std 1: E[x²] − mean² would lose every digit in float32; the shifted
    # float64 sums keep the variance to float32 precision
    pytest.importorskip("numba")
    rng = np.random.default_rng(1)
    xa = (rng.standard_normal(shape) + 1e4).astype(np.float32)
    var = xa.astype(np.float64).var(axis=(0, 2, 3))
    for kind in ("nchw", "cl"):
        a = _layout(xa, kind)
        mean, got = kernels.stats(kernels.layout(a), kernels.view(a, kernels.layout(a)))
        np.testing.assert_allclose(got, var, rtol=1e-6)
        np.testing.assert_allclose(mean, xa.astype(np.float64).mean(axis=(0, 2, 3)), rtol=1e-12)


@pytest.mark.parametrize("shape", [(8, 4, 8, 8), (4, 4, 16, 16)])
@pytest.mark.parametrize("kind", ["nchw", "cl"])
def test_large_mean_float32_weight_gradient(kind, shape):
    """dL/dγ = invstd·Σg·(x − mean) with mean 1e4 and spread 1e-2: x − mean computed against
    a float32 mean would be off by its rounding (about 5e-4, 5 % of the spread); the kernels
    subtract the mean in two parts and match float64 arithmetic on the same float32 values."""
    pytest.importorskip("numba")
    rng = np.random.default_rng(4)
    xa = (1e4 + rng.standard_normal(shape) * 1e-2).astype(np.float32)
    ga = rng.standard_normal(xa.shape).astype(np.float32)
    x = soma.tensor(xa)
    x.array = _layout(xa, kind)
    w = soma.tensor(np.ones(4, np.float32), requires_grad=True)
    g = soma.tensor(ga)
    g.array = _layout(ga, kind)
    soma.nn.functional.batch_norm(x, None, None, w, None, training=True).backward(g)
    x64, g64 = xa.astype(np.float64), ga.astype(np.float64)
    centred = x64 - x64.mean(axis=(0, 2, 3), keepdims=True)
    invstd = 1 / np.sqrt((centred**2).mean(axis=(0, 2, 3)) + 1e-5)
    expected = (g64 * centred).sum(axis=(0, 2, 3)) * invstd
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("kind", ["nchw", "cl", "cm"])
def test_threads_give_the_same_bits(kind):
    # the partial sums are per fixed block, combined in block order: one thread or two, the
    # same result bit for bit
    pytest.importorskip("numba")
    rng = np.random.default_rng(2)
    xa = _layout(rng.standard_normal((8, 16, 30, 30)).astype(np.float32), kind)
    k = kernels.layout(xa)
    v = kernels.view(xa, k)
    old_threads, old_min = parallel.get_num_threads(), parallel.set_min_elements(1)
    try:
        parallel.set_num_threads(1)
        one = kernels.stats(k, v)
        parallel.set_num_threads(2)
        two = kernels.stats(k, v)
    finally:
        parallel.set_num_threads(old_threads)
        parallel.set_min_elements(old_min)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", ["nchw", "cl", "cm"])
def test_gradcheck_float64(kind):
    rng = np.random.default_rng(3)
    xa = _layout(rng.standard_normal((3, 4, 2, 5)), kind)
    x = soma.tensor(xa, requires_grad=True)
    x.array = xa
    w = soma.tensor(rng.standard_normal(4), requires_grad=True)
    b = soma.tensor(rng.standard_normal(4), requires_grad=True)
    assert gradcheck(
        lambda x, w, b: soma.nn.functional.batch_norm(x, None, None, w, b, training=True),
        (x, w, b),
    )


@pytest.mark.parametrize("kind", ["nchw", "cl"])
def test_module_cumulative_average(kind):
    # momentum=None: the running statistics are the plain average over the batches seen
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    mine, ref = soma.nn.BatchNorm2d(3, momentum=None), torch.nn.BatchNorm2d(3, momentum=None)
    for _ in range(3):
        xa = (rng.standard_normal((4, 3, 5, 6)) * 2 + 1).astype(np.float32)
        x = soma.tensor(xa)
        x.array = _layout(xa, kind)
        np.testing.assert_allclose(
            mine(x).detach().numpy(), ref(torch.tensor(xa)).detach().numpy(), atol=2e-5
        )
    np.testing.assert_allclose(
        mine.running_mean.detach().numpy(), ref.running_mean.numpy(), atol=1e-6
    )
    np.testing.assert_allclose(
        mine.running_var.detach().numpy(), ref.running_var.numpy(), rtol=1e-6
    )


def test_parallel_ranges_cover_every_item_once_and_raise():
    # the helper the kernels use: contiguous ranges of [0, n), one per thread, all finished
    # before an error in any of them is raised
    seen = np.zeros(10, int)

    def mark(start, stop):
        seen[start:stop] += 1

    old_threads, old_min = parallel.get_num_threads(), parallel.set_min_elements(1)
    try:
        parallel.set_num_threads(2)
        parallel.ranges(mark, 10, 10)
        np.testing.assert_array_equal(seen, np.ones(10, int))

        def fail(start, stop):
            mark(start, stop)
            if start > 0:
                raise ValueError("second range")

        with pytest.raises(ValueError, match="second range"):
            parallel.ranges(fail, 10, 10)
        np.testing.assert_array_equal(seen, np.full(10, 2))
    finally:
        parallel.set_num_threads(old_threads)
        parallel.set_min_elements(old_min)
