"""Loss modules against their torch.nn twins over argument grids, PyTorch's weighting rules,
extreme inputs, and the errors for malformed targets."""

import itertools
import warnings

import numpy as np
import pytest

import soma
from tests.torch_oracle import torch

S = soma.nn.functional


def _both(array, dtype=None):
    return soma.tensor(array), torch.tensor(array)


def _compare_module(name, kwargs, inputs, grad_inputs=(0,), rtol=1e-5, atol=1e-6, tensors=()):
    """Run soma.nn.<name> and torch.nn.<name> on the same arrays; compare loss and gradients."""
    extra_s = {k: soma.tensor(v) for k, v in tensors}
    extra_t = {k: torch.tensor(v) for k, v in tensors}
    ours = getattr(soma.nn, name)(**kwargs, **extra_s)
    theirs = getattr(torch.nn, name)(**kwargs, **extra_t)
    xs = [soma.tensor(a, requires_grad=i in grad_inputs) for i, a in enumerate(inputs)]
    xt = [torch.tensor(a, requires_grad=i in grad_inputs) for i, a in enumerate(inputs)]
    ls, lt = ours(*xs), theirs(*xt)
    assert tuple(ls.shape) == tuple(lt.shape)
    assert ls.dtype == lt.detach().numpy().dtype
    np.testing.assert_allclose(ls.detach().numpy(), lt.detach().numpy(), rtol=rtol, atol=atol)
    v = np.random.default_rng(3).standard_normal(tuple(lt.shape)).astype(inputs[0].dtype)
    (ls * soma.tensor(v)).sum().backward()
    (lt * torch.tensor(v)).sum().backward()
    for i in grad_inputs:
        np.testing.assert_allclose(
            xs[i].grad.numpy(),
            xt[i].grad.numpy(),
            rtol=rtol,
            atol=atol,
            err_msg=f"{name}{kwargs}: gradient of input {i}",
        )
    return ls


RNG = np.random.default_rng(0)
F32 = np.float32


# ---------------------------------------------------------------------------- cross-entropy grid
CE_SHAPES = [((16, 10), (16,)), ((3, 5, 4, 2), (3, 4, 2)), ((7,), ())]
CE_GRID = list(itertools.product(["mean", "sum", "none"], [None, True], [-100, 3], [0.0, 0.1]))


@pytest.mark.parametrize("x_shape,t_shape", CE_SHAPES, ids=["2d", "4d", "unbatched"])
@pytest.mark.parametrize("reduction,weighted,ignore_index,smoothing", CE_GRID)
def test_cross_entropy_loss_grid(x_shape, t_shape, reduction, weighted, ignore_index, smoothing):
    n_classes = x_shape[1] if len(x_shape) > 1 else x_shape[0]
    x = RNG.standard_normal(x_shape).astype(F32) * 3
    t = RNG.integers(0, n_classes, t_shape)
    if t.ndim:
        t.flat[::4] = ignore_index  # some targets are ignored (also the default -100)
    tensors = [("weight", RNG.uniform(0.1, 3, n_classes).astype(F32))] if weighted else []
    kwargs = dict(reduction=reduction, ignore_index=ignore_index, label_smoothing=smoothing)
    _compare_module("CrossEntropyLoss", kwargs, [x, t], tensors=tensors)
    if not smoothing:
        logp = torch.log_softmax(torch.tensor(x), 1 if x.ndim > 1 else 0).numpy()
        _compare_module(
            "NLLLoss",
            dict(reduction=reduction, ignore_index=ignore_index),
            [logp, t],
            tensors=tensors,
        )


@pytest.mark.parametrize("x_shape", [(16, 10), (3, 5, 4, 2), (7,)], ids=["2d", "4d", "unbatched"])
@pytest.mark.parametrize(
    "reduction,weighted,smoothing",
    list(itertools.product(["mean", "sum", "none"], [None, True], [0.0, 0.25])),
)
def test_cross_entropy_with_probability_targets(x_shape, reduction, weighted, smoothing):
    n_classes = x_shape[1] if len(x_shape) > 1 else x_shape[0]
    axis = 1 if len(x_shape) > 1 else 0
    x = RNG.standard_normal(x_shape).astype(F32)
    q = RNG.uniform(0, 1, x_shape).astype(F32)
    q /= q.sum(axis=axis, keepdims=True)
    tensors = [("weight", RNG.uniform(0.1, 3, n_classes).astype(F32))] if weighted else []
    _compare_module(
        "CrossEntropyLoss",
        dict(reduction=reduction, label_smoothing=smoothing),
        [x, q],
        grad_inputs=(0, 1),
        tensors=tensors,
    )


def test_mean_with_weights_divides_by_the_counted_weights():
    # PyTorch's rule: Σ w_t ℓ_t / Σ w_t over targets that are not ignored
    x = np.zeros((3, 2), F32)
    t = np.array([0, 1, 1])
    w = np.array([1.0, 3.0], F32)
    loss = S.cross_entropy(soma.tensor(x), soma.tensor(t), soma.tensor(w))
    np.testing.assert_allclose(loss.item(), np.log(2), rtol=1e-6)  # (1 + 3 + 3) log 2 / 7
    loss = S.cross_entropy(soma.tensor(x), soma.tensor(t), soma.tensor(w), ignore_index=1)
    np.testing.assert_allclose(loss.item(), np.log(2), rtol=1e-6)  # 1·log 2 / 1


def test_every_target_ignored_gives_nan_like_torch():
    x = RNG.standard_normal((2, 3)).astype(F32)
    t = np.array([-100, -100])
    for kw in [{}, {"label_smoothing": 0.1}, {"weight": [1.0, 2.0, 3.0]}]:
        xs = soma.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        ws = soma.tensor(kw["weight"]) if "weight" in kw else None
        wt = torch.tensor(kw["weight"]) if "weight" in kw else None
        smoothing = kw.get("label_smoothing", 0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            loss = S.cross_entropy(xs, soma.tensor(t), ws, label_smoothing=smoothing)
            loss.backward()
        expected = torch.nn.functional.cross_entropy(
            xt, torch.tensor(t), wt, label_smoothing=smoothing
        )
        expected.backward()
        # the mean over no targets is 0/0 = NaN (asserted on its own, not against PyTorch's
        # value, which is a non-finite result); no target contributes, so the gradient is 0
        assert np.isnan(loss.item())
        np.testing.assert_array_equal(xs.grad.numpy(), np.zeros_like(x))


def test_cross_entropy_matches_log_softmax_then_nll():
    x = soma.tensor(RNG.standard_normal((8, 5)), requires_grad=True)
    t = soma.tensor(RNG.integers(0, 5, 8))
    fused = S.cross_entropy(x, t)
    fused.backward()
    g_fused, x.grad = x.grad.numpy().copy(), None
    composed = S.nll_loss(S.log_softmax(x, 1), t)
    composed.backward()
    np.testing.assert_allclose(fused.item(), composed.item(), rtol=1e-12)
    np.testing.assert_allclose(g_fused, x.grad.numpy(), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_stable_for_huge_logits(dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [3e4, 3e4, -3e4]], dtype)
    t = np.array([1, 2, 0])
    xs, xt = soma.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ls = S.cross_entropy(xs, soma.tensor(t), reduction="none", label_smoothing=0.1)
        ls.sum().backward()
    lt = torch.nn.functional.cross_entropy(
        xt, torch.tensor(t), reduction="none", label_smoothing=0.1
    )
    lt.sum().backward()
    np.testing.assert_allclose(ls.detach().numpy(), lt.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------- binary losses
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weight_shape", [None, (4,), (3, 1)])
def test_bce_loss_grid(reduction, weight_shape):
    p = RNG.uniform(0.01, 0.99, (3, 4)).astype(F32)
    t = RNG.uniform(0, 1, (3, 4)).astype(F32)
    tensors = [("weight", RNG.uniform(0.5, 2, weight_shape).astype(F32))] if weight_shape else []
    _compare_module(
        "BCELoss", dict(reduction=reduction), [p, t], grad_inputs=(0, 1), tensors=tensors
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted,pos_weighted", list(itertools.product([False, True], repeat=2)))
def test_bce_with_logits_loss_grid(reduction, weighted, pos_weighted):
    x = RNG.standard_normal((5, 4)).astype(F32) * 4
    t = RNG.integers(0, 2, (5, 4)).astype(F32)
    tensors = []
    if weighted:
        tensors.append(("weight", RNG.uniform(0.5, 2, (5, 1)).astype(F32)))
    if pos_weighted:
        tensors.append(("pos_weight", RNG.uniform(0.5, 3, (4,)).astype(F32)))
    _compare_module(
        "BCEWithLogitsLoss", dict(reduction=reduction), [x, t], grad_inputs=(0, 1), tensors=tensors
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_losses_are_stable_at_the_extremes(dtype):
    x = np.array([-1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4], dtype)
    t = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0], dtype)
    p = np.array([0.0, 1.0, 0.0, 1.0, 1e-30, 1 - 1e-7, 0.5], dtype)
    for fn, a in [("binary_cross_entropy_with_logits", x), ("binary_cross_entropy", p)]:
        xs, xt = soma.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        ts, tt = soma.tensor(t, requires_grad=True), torch.tensor(t, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ls = getattr(S, fn)(xs, ts, reduction="none")
            ls.sum().backward()
        lt = getattr(torch.nn.functional, fn)(xt, tt, reduction="none")
        lt.sum().backward()
        for ours, theirs in [(ls.detach(), lt.detach()), (xs.grad, xt.grad), (ts.grad, tt.grad)]:
            finite = np.isfinite(theirs.numpy())
            assert np.isfinite(ours.numpy()[finite]).all(), fn
            # ±inf only in BCE's target gradient at p = 0 or 1, where PyTorch has them too
            np.testing.assert_allclose(
                ours.numpy(), theirs.numpy(), rtol=2e-6, atol=1e-6, err_msg=fn
            )


# ---------------------------------------------------------------------------- regression, KL
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("MSELoss", {}),
        ("L1Loss", {}),
        ("HuberLoss", {}),
        ("HuberLoss", {"delta": 0.3}),
        ("SmoothL1Loss", {}),
        ("SmoothL1Loss", {"beta": 2.5}),
        ("SmoothL1Loss", {"beta": 0.0}),
    ],
)
def test_regression_loss_grid(name, kwargs, reduction):
    x = RNG.standard_normal((4, 3)).astype(F32) * 2
    t = RNG.standard_normal((4, 3)).astype(F32)
    _compare_module(name, dict(reduction=reduction, **kwargs), [x, t], grad_inputs=(0, 1))


@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_loss_grid(reduction, log_target):
    x = torch.log_softmax(torch.randn(4, 5), 1).numpy()
    t = torch.softmax(torch.randn(4, 5), 1).numpy()
    if log_target:
        t = np.log(t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # PyTorch's note on 'mean'
        _compare_module(
            "KLDivLoss",
            dict(reduction=reduction, log_target=log_target),
            [x, t],
            grad_inputs=(0, 1),
        )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("margin", [0.0, 0.25, -0.5])
def test_cosine_embedding_loss_grid(reduction, margin):
    a = RNG.standard_normal((6, 4)).astype(F32)
    b = RNG.standard_normal((6, 4)).astype(F32)
    y = np.array([1, -1, 1, -1, -1, 1])
    _compare_module(
        "CosineEmbeddingLoss",
        dict(margin=margin, reduction=reduction),
        [a, b, y],
        grad_inputs=(0, 1),
    )


def test_weights_are_buffers_in_the_state_dict():
    loss = soma.nn.CrossEntropyLoss(weight=soma.tensor([1.0, 2.0]))
    assert list(loss.state_dict()) == ["weight"]
    assert list(loss.parameters()) == []
    bce = soma.nn.BCEWithLogitsLoss(pos_weight=soma.tensor([2.0]))
    assert list(bce.state_dict()) == ["pos_weight"]
    assert list(soma.nn.CrossEntropyLoss().state_dict()) == []


def test_losses_print_as_pytorch_without_their_options():
    # PyTorch's losses have no extra_repr: print(model) shows ``CrossEntropyLoss()`` whatever
    # the options (soma listed them before; tests/test_module_repr.py compares with PyTorch)
    assert repr(soma.nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert (
        repr(soma.nn.CrossEntropyLoss(reduction="sum", label_smoothing=0.1))
        == "CrossEntropyLoss()"
    )
    assert repr(soma.nn.HuberLoss(delta=2.0)) == "HuberLoss()"
    assert repr(soma.nn.CosineEmbeddingLoss(0.5)) == "CosineEmbeddingLoss()"


# ---------------------------------------------------------------------------- errors
X = soma.zeros(4, 3)


@pytest.mark.parametrize(
    "call,error,match",
    [
        (
            lambda: S.cross_entropy(X, soma.tensor([0, 1, 2])),
            ValueError,
            r"cross_entropy: for input of shape \(4, 3\).*shape \(4,\); got \(3,\)",
        ),
        (
            lambda: S.cross_entropy(X, soma.tensor([[0], [1], [2], [0]])),
            ValueError,
            r"got \(4, 1\)",
        ),
        (
            lambda: S.cross_entropy(X, soma.tensor([0.0, 1.0, 2.0, 0.0])),
            TypeError,
            r"integer tensor.*float32.*\(4,\).*probabilities",
        ),
        (
            lambda: S.cross_entropy(X, soma.tensor([0, 1, 3, 0])),
            IndexError,
            r"target class 3 is out of range for 3 classes.*\(4, 3\).*\[0, 2\]",
        ),
        (lambda: S.cross_entropy(X, soma.tensor([0, -1, 2, 0])), IndexError, "target class -1"),
        (lambda: S.nll_loss(X, soma.tensor([0, 1, 7, 0])), IndexError, "nll_loss: target class 7"),
        (
            lambda: S.nll_loss(soma.zeros(3), soma.tensor([1])),
            ValueError,
            r"shape \(\); got \(1,\)",
        ),
        (
            lambda: S.cross_entropy(X, soma.tensor([0, 1, 2, 0]), soma.ones(4)),
            ValueError,
            r"weight must hold one value per class, shape \(3,\); got \(4,\)",
        ),
        (lambda: S.cross_entropy(X, soma.zeros(4, 3), ignore_index=0), ValueError, "ignore_index"),
        (
            lambda: S.cross_entropy(X, soma.tensor([0, 1, 2, 0]), label_smoothing=1.5),
            ValueError,
            "label_smoothing",
        ),
        (
            lambda: S.cross_entropy(X, soma.tensor([0, 1, 2, 0]), reduction="avg"),
            ValueError,
            "reduction must be one of 'mean', 'sum', 'none'; got 'avg'",
        ),
        (lambda: S.cross_entropy(soma.tensor(1.0), soma.tensor(0)), ValueError, "0-d"),
        (
            lambda: S.binary_cross_entropy(soma.full((4,), 0.5), soma.ones(4, 1)),
            ValueError,
            r"target shape \(4, 1\) must match the input shape \(4,\)",
        ),
        (
            lambda: S.binary_cross_entropy(soma.full((4,), 0.5), soma.tensor([1, 0, 1, 0])),
            TypeError,
            "int64",
        ),
        (
            lambda: S.binary_cross_entropy(soma.tensor([0.5, 1.5]), soma.ones(2)),
            ValueError,
            r"\[0, 1\].*\[0.5, 1.5\].*with_logits",
        ),
        (
            lambda: S.binary_cross_entropy_with_logits(
                X, soma.ones(4, 3), pos_weight=soma.ones(2)
            ),
            ValueError,
            r"pos_weight of shape \(2,\) does not broadcast to the input shape \(4, 3\)",
        ),
        (
            lambda: S.mse_loss(soma.zeros(4, 2), soma.zeros(3)),
            ValueError,
            r"\(4, 2\).*\(3,\) differ and do not broadcast",
        ),
        (lambda: S.huber_loss(X, X, delta=0.0), ValueError, "delta"),
        (lambda: S.smooth_l1_loss(X, X, beta=-1.0), ValueError, "beta"),
        (lambda: S.kl_div(X, X, reduction="batch"), ValueError, "batchmean"),
        (lambda: S.cosine_embedding_loss(X, X, soma.ones(3)), ValueError, r"target's batch size"),
        (
            lambda: S.cosine_embedding_loss(X, X, soma.ones(4, 1)),
            ValueError,
            "1-d target with 2-d",
        ),
        (
            lambda: soma.nn.CrossEntropyLoss(reduction="avg"),
            ValueError,
            "CrossEntropyLoss: reduction",
        ),
    ],
)
def test_malformed_arguments_give_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_module_errors_name_the_layer():
    model = soma.nn.Sequential(soma.nn.Linear(3, 2), soma.nn.CrossEntropyLoss())
    with pytest.raises(IndexError, match="target class"):
        model[1](model[0](soma.zeros(2, 3)), soma.tensor([0, 5]))


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses_broadcast_a_differing_target_with_pytorchs_warning(
    name, reduction, torch_or_skip
):
    # an (N, 1) prediction against an (N,) target: PyTorch warns and computes the (N, N) loss
    torch = torch_or_skip
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((4, 1)), rng.standard_normal(4)
    xs = soma.tensor(x, requires_grad=True)
    with pytest.warns(UserWarning, match=r"target size \(soma.Size\(\[4\]\)\) that is different"):
        got = getattr(S, name)(xs, soma.tensor(t), reduction=reduction)
    xt = torch.tensor(x, requires_grad=True)
    with pytest.warns(UserWarning):
        expected = getattr(torch.nn.functional, name)(xt, torch.tensor(t), reduction=reduction)
    assert tuple(got.shape) == tuple(expected.shape) == ((4, 4) if reduction == "none" else ())
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=1e-12)
    got.sum().backward()
    expected.sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
