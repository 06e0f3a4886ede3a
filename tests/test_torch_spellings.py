"""PyTorch's older top-level spellings (torch.det, torch.svd, torch.range, windows, constants)
give PyTorch's values and gradients."""

import math

import numpy as np
import pytest

import soma

torch = pytest.importorskip("torch")


def _pair(shape, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape)
    return soma.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _check(ours, theirs, inputs):
    (o_in, t_in) = inputs
    ours = [ours] if isinstance(ours, soma.Tensor) else list(ours)
    theirs = [theirs] if isinstance(theirs, torch.Tensor) else list(theirs)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)
    weights = [
        np.random.default_rng(9 + k).standard_normal(tuple(t.shape)) for k, t in enumerate(theirs)
    ]
    sum(((o * soma.tensor(w)).sum() for o, w in zip(ours, weights) if o.requires_grad)).backward()
    sum(
        ((t * torch.tensor(w)).sum() for t, w in zip(theirs, weights) if t.requires_grad)
    ).backward()
    np.testing.assert_allclose(o_in.grad.numpy(), t_in.grad.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize(
    "name, call",
    [
        ("det", lambda lib, x: lib.det(x)),
        ("det_method", lambda lib, x: x.det()),
        ("inverse", lambda lib, x: lib.inverse(x)),
        ("inverse_method", lambda lib, x: x.inverse()),
        ("logdet", lambda lib, x: lib.logdet(x @ x.transpose(-2, -1))),
        ("slogdet", lambda lib, x: lib.slogdet(x)[1]),
        ("svd_S", lambda lib, x: lib.svd(x)[1]),
        ("qr_R_abs", lambda lib, x: lib.qr(x)[1].abs()),
    ],
)
def test_linear_algebra_spellings_match_pytorch(name, call):
    o, t = _pair((2, 3, 3))
    _check(call(soma, o), call(torch, t), (o, t))


@pytest.mark.parametrize("some", [True, False])
def test_svd_returns_v_not_vh_and_reconstructs(some):
    o, t = _pair((4, 3), seed=1)
    u, s, v = soma.svd(o, some=some)
    tu, ts, tv = torch.svd(t, some=some)
    assert tuple(u.shape) == tuple(tu.shape) and tuple(v.shape) == tuple(tv.shape)
    k = s.shape[0]
    rebuilt = (u[:, :k] * s) @ v[:, :k].T
    np.testing.assert_allclose(rebuilt.detach().numpy(), o.detach().numpy(), atol=1e-12)
    zu, zs, zv = soma.svd(o, compute_uv=False)
    tzu, tzs, tzv = torch.svd(t, compute_uv=False)
    assert tuple(zu.shape) == tuple(tzu.shape) and not zu.numpy().any()
    np.testing.assert_allclose(zs.numpy(), tzs.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("some", [True, False])
def test_qr_shapes_match_pytorch(some):
    o, t = _pair((5, 3), seed=2)
    q, r = soma.qr(o, some=some)
    tq, tr = torch.qr(t, some=some)
    assert tuple(q.shape) == tuple(tq.shape) and tuple(r.shape) == tuple(tr.shape)
    np.testing.assert_allclose((q @ r).detach().numpy(), o.detach().numpy(), atol=1e-12)


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((1, 4), {}),
        ((1, 4, 0.5), {}),
        ((-2, 5, 3), {}),
        ((0.0, 1.0, 0.3), {}),
        ((1, 4), {"dtype": "int64"}),
    ],
)
@pytest.mark.filterwarnings("ignore:torch.range is deprecated")
def test_range_includes_its_end_as_pytorch(args, kwargs):
    if "dtype" in kwargs:
        ours = soma.range(*args, dtype=soma.int64)
        theirs = torch.range(*args, dtype=torch.int64)
    else:
        ours, theirs = soma.range(*args), torch.range(*args)
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_range_warns_as_pytorch_does():
    with pytest.warns(UserWarning, match="torch.range is deprecated"):
        soma.range(0, 2)


@pytest.mark.parametrize(
    "name", ["hann_window", "hamming_window", "blackman_window", "bartlett_window"]
)
@pytest.mark.parametrize("length", [0, 1, 2, 7, 16])
@pytest.mark.parametrize("periodic", [True, False])
def test_windows_match_pytorch(name, length, periodic):
    ours = getattr(soma, name)(length, periodic, dtype=soma.float64)
    theirs = getattr(torch, name)(length, periodic, dtype=torch.float64)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-12)
    assert getattr(soma, name)(5).dtype == soma.float32


def test_constants_predicates_and_dtype_helpers():
    assert (soma.pi, soma.e) == (math.pi, math.e) and soma.newaxis is None
    assert math.isinf(soma.inf) and math.isnan(soma.nan)
    x = soma.ones(2, 3)
    assert soma.is_floating_point(x) and not soma.is_floating_point(x.long())
    assert soma.is_same_size(x, soma.zeros(2, 3)) and not x.is_same_size(soma.zeros(3, 2))
    assert soma.is_nonzero(soma.tensor([2.0])) and not soma.tensor(0).is_nonzero()
    with pytest.raises(RuntimeError, match="more than one value"):
        soma.is_nonzero(x)
    assert soma.result_type(soma.tensor([1, 2]), 1.0) == soma.float32
    assert soma.result_type(soma.tensor([1, 2], dtype=soma.int32), 5) == soma.int32
    assert soma.promote_types(soma.int32, soma.float32) == soma.float32
    assert soma.promote_types(soma.uint8, soma.int8) == soma.int16
    assert soma.scalar_tensor(3).dtype == soma.float32 and soma.scalar_tensor(3).shape == ()
    assert x.byte().dtype == soma.uint8 and x.char().dtype == soma.int8
    assert x.short().dtype == soma.int16 and x.ndimension() == 2 and x.itemsize == 4
    assert x.is_signed() and not x.byte().is_signed()


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_pooling_with_indices_spellings_match_pytorch(nd):
    a = np.random.default_rng(nd).standard_normal((2, 3) + (6,) * nd)
    F, TF = soma.nn.functional, torch.nn.functional
    for name, args in (
        (f"max_pool{nd}d_with_indices", (2,)),
        (f"adaptive_max_pool{nd}d_with_indices", (3,)),
    ):
        values, indices = getattr(F, name)(soma.tensor(a), *args)
        t_values, t_indices = getattr(TF, name)(torch.tensor(a), *args)
        np.testing.assert_array_equal(values.numpy(), t_values.numpy())
        np.testing.assert_array_equal(indices.numpy(), t_indices.numpy())


def test_rrelu_module_matches_pytorch_in_eval_and_draws_in_its_range_in_training():
    a = np.linspace(-3, 3, 13)
    ours, theirs = soma.nn.RReLU(0.1, 0.3), torch.nn.RReLU(0.1, 0.3)
    assert repr(ours) == repr(theirs)
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(ours(soma.tensor(a)).numpy(), theirs(torch.tensor(a)).numpy())
    ours.train()
    y = ours(soma.tensor(a)).numpy()
    slope = y[a < 0] / a[a < 0]
    assert ((slope >= 0.1) & (slope <= 0.3)).all() and np.array_equal(y[a >= 0], a[a >= 0])


def test_nllloss2d_is_nllloss_on_images():
    logp = np.log(np.random.default_rng(0).dirichlet(np.ones(4), size=(2, 3, 3))).transpose(
        0, 3, 1, 2
    )
    target = np.random.default_rng(1).integers(0, 4, (2, 3, 3))
    ours = soma.nn.NLLLoss2d()(soma.tensor(logp), soma.tensor(target))
    with pytest.warns(Warning):  # PyTorch deprecates the name
        theirs = torch.nn.NLLLoss2d()(torch.tensor(logp), torch.tensor(target))
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)


def test_iterable_datasets_chain_with_plus_as_pytorch():
    class Count(soma.utils.data.IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

        def __len__(self):
            return self.n

    chained = Count(2) + Count(3)
    assert isinstance(chained, soma.utils.data.ChainDataset)
    assert list(chained) == [0, 1, 0, 1, 2] and len(chained) == 5
    with pytest.raises(TypeError, match="only supports IterableDataset"):
        list(soma.utils.data.ChainDataset([[1, 2]]))
