"""The fused optimizer updates (``soma.optim._kernels``): bit-identical to the NumPy path,
and equal to ``torch.optim`` over several steps, for every option of SGD and Adam/AdamW."""

import numpy as np
import pytest

import soma
from soma.backend import compiled
from soma.optim import _kernels

SGD_OPTIONS = [
    dict(lr=0.1),
    dict(lr=0.1, weight_decay=0.01, maximize=True),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1),
    dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.02),
    dict(lr=0.05, momentum=0.9, nesterov=True, maximize=True),
]
ADAM_OPTIONS = [
    dict(lr=0.01),
    dict(lr=0.01, betas=(0.4, 0.99), weight_decay=0.1),  # 1 − β₁ ≥ 0.5: lerp's second form
    dict(lr=0.02, amsgrad=True, maximize=True),
    dict(lr=0.02, amsgrad=True, weight_decay=0.05, eps=1e-6),
]
SHAPES = [(7, 5), (13,), (3, 1, 4)]


def _grads(dtype, steps):
    rng = np.random.default_rng(0)
    return [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]


def _run(lib, make, dtype, grads):
    rng = np.random.default_rng(1)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    params = [lib.nn.Parameter(lib.tensor(a.copy())) for a in init]
    opt = make(lib, params)
    for step in grads:
        for p, g in zip(params, step):
            p.grad = lib.tensor(g.copy())
        opt.step()
    return [p.detach().numpy().copy() for p in params]


def _sgd(options):
    return lambda lib, params: lib.optim.SGD(params, **options)


def _adam(options, cls="Adam"):
    return lambda lib, params: getattr(lib.optim, cls)(params, **options)


CASES = [_sgd(o) for o in SGD_OPTIONS] + [_adam(o) for o in ADAM_OPTIONS]
CASES.append(_adam(dict(lr=0.01, weight_decay=0.1), "AdamW"))
CASES.append(_adam(dict(lr=0.01, weight_decay=0.1, amsgrad=True), "AdamW"))


@pytest.mark.parametrize("make", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_equals_numpy_path_bit_for_bit(make, dtype, monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setattr(_kernels, "SGD_MIN_ELEMENTS", 1)  # the small test shapes fuse too
    calls = []
    for name in ("sgd_step", "adam_step"):
        kernel = getattr(_kernels, name)
        monkeypatch.setattr(_kernels, name, lambda *a, k=kernel: calls.append(k(*a)))
    grads = _grads(dtype, 4)
    fused = _run(soma, make, dtype, grads)
    assert len(calls) >= 3 * len(SHAPES)  # the fused path ran (SGD's first momentum step: NumPy)
    with compiled.disabled():
        plain = _run(soma, make, dtype, grads)
    for a, b in zip(fused, plain):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_torch_optim(make, dtype):
    torch = pytest.importorskip("torch")
    grads = _grads(dtype, 4)
    ours = _run(soma, make, dtype, grads)
    with compiled.disabled():
        plain = _run(soma, make, dtype, grads)
    theirs = _run(torch, make, dtype, grads)
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for a, b, c in zip(ours, plain, theirs):
        np.testing.assert_allclose(a, c, **tol)
        np.testing.assert_allclose(b, c, **tol)


def test_fusable_refuses_what_the_kernels_cannot_update():
    a = np.zeros((4, 3), np.float32)
    with compiled.disabled():
        assert not _kernels.fusable(a, a.copy())
    if not compiled.installed():
        return
    assert _kernels.fusable(a, a.copy(), a.copy())
    assert not _kernels.fusable(a, a.copy().T.copy().T)  # not C-contiguous
    assert not _kernels.fusable(a, a.astype(np.float64))  # dtypes differ
    assert not _kernels.fusable(a.astype(np.float16), a.astype(np.float16))
    frozen = a.copy()
    frozen.flags.writeable = False
    assert not _kernels.fusable(frozen, a)
    assert _kernels.fusable(a, frozen)  # the gradient is only read


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_non_contiguous_parameter_takes_the_numpy_path(momentum):
    # a transposed view as parameter: the fused kernel would need a copy, so NumPy updates it
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    results = []
    for flag in (True, False):
        previous = compiled.set_enabled(flag)
        try:
            p = soma.nn.Parameter(soma.tensor(base.copy()))
            p.array = p.array.T
            opt = soma.optim.SGD([p], lr=0.5, momentum=momentum)
            for _ in range(3):
                p.grad = soma.tensor(np.ones((4, 3), np.float32))
                opt.step()
            results.append(p.detach().numpy().copy())
        finally:
            compiled.set_enabled(previous)
    # by hand, at 11: momentum 0 → 11 − 3·0.5; momentum 0.9 → b = 1, 1.9, 2.71 → 11 − 0.5·5.61
    expected = 11 - (1.5 if momentum == 0 else 0.5 * 5.61)
    np.testing.assert_allclose(results[0][-1, -1], expected, rtol=1e-6)
    np.testing.assert_array_equal(results[0], results[1])


def test_adam_nan_gradient_propagates_through_amsgrad():
    # a NaN gradient makes v NaN; max(v̂, v) must keep the NaN (as np.maximum and torch do)
    for flag in (True, False):
        previous = compiled.set_enabled(flag)
        try:
            p = soma.nn.Parameter(soma.tensor([1.0, 2.0]))
            opt = soma.optim.Adam([p], lr=0.1, amsgrad=True)
            p.grad = soma.tensor([float("nan"), 1.0])
            opt.step()
            p.grad = soma.tensor([1.0, 1.0])
            opt.step()
            state = opt.state[p]
            assert np.isnan(state["max_exp_avg_sq"][0]) and np.isnan(p.array[0])
            assert np.isfinite(p.array[1])
        finally:
            compiled.set_enabled(previous)


@pytest.mark.parametrize("size", [_kernels.SGD_MIN_ELEMENTS - 1, _kernels.SGD_MIN_ELEMENTS])
def test_sgd_fuses_from_its_threshold_with_the_same_result(size, monkeypatch):
    pytest.importorskip("numba")
    calls = []
    kernel = _kernels.sgd_step
    monkeypatch.setattr(_kernels, "sgd_step", lambda *a: calls.append(kernel(*a)))
    rng = np.random.default_rng(2)
    grads = [rng.standard_normal(size).astype(np.float32) for _ in range(3)]
    results = []
    for flag in (True, False):
        previous = compiled.set_enabled(flag)
        try:
            p = soma.nn.Parameter(soma.ones(size))
            opt = soma.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True)
            for g in grads:
                p.grad = soma.tensor(g)
                opt.step()
            results.append(p.detach().numpy().copy())
        finally:
            compiled.set_enabled(previous)
    assert len(calls) == (2 if size >= _kernels.SGD_MIN_ELEMENTS else 0)
    np.testing.assert_array_equal(results[0], results[1])


def test_adam_scalars_follow_groups_and_lr_changes():
    # the fused path keeps the last scalar set; two groups and a changed lr must not reuse it
    pytest.importorskip("numba")
    rng = np.random.default_rng(3)
    grads = [[rng.standard_normal(5).astype(np.float32) for _ in range(3)] for _ in range(4)]
    results = []
    for flag in (True, False):
        previous = compiled.set_enabled(flag)
        try:
            ps = [soma.nn.Parameter(soma.ones(5)) for _ in range(3)]
            opt = soma.optim.Adam(
                [{"params": ps[:2]}, {"params": ps[2:], "lr": 0.5, "betas": (0.5, 0.9)}], lr=0.1
            )
            for i, step in enumerate(grads):
                if i == 2:
                    opt.param_groups[0]["lr"] = 0.01
                for p, g in zip(ps, step):
                    p.grad = soma.tensor(g)
                opt.step()
            results.append([p.detach().numpy().copy() for p in ps])
        finally:
            compiled.set_enabled(previous)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
