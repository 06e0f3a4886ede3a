"""Segmentation losses: pixel-wise cross-entropy (N×C×H×W, ignore_index) against PyTorch, soft
Dice and focal loss against the formulas written in PyTorch, forward and gradients."""

import numpy as np
import pytest

import soma
import soma.nn.functional as F

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)


def _inputs(n=2, c=4, h=5, w=6, ignore=None):
    x = RNG.standard_normal((n, c, h, w)).astype(np.float32)
    t = RNG.integers(0, c, (n, h, w))
    if ignore is not None:
        t[RNG.random((n, h, w)) < 0.3] = ignore
    return x, t


def _both(fn_soma, fn_torch, x, t, **kw):
    xs = soma.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    ls = fn_soma(xs, soma.tensor(t), **kw)
    lt = fn_torch(xt, torch.tensor(t), **kw)
    np.testing.assert_allclose(ls.detach().numpy(), lt.detach().numpy(), rtol=1e-5, atol=1e-6)
    ls.sum().backward()
    lt.sum().backward()
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ignore_index", [-100, 255, 2])
def test_pixelwise_cross_entropy_with_ignore_index_matches_torch(reduction, ignore_index):
    x, t = _inputs(ignore=ignore_index)
    _both(
        F.cross_entropy,
        torch.nn.functional.cross_entropy,
        x,
        t,
        ignore_index=ignore_index,
        reduction=reduction,
    )


def test_pixelwise_cross_entropy_with_class_weights_and_ignore_index_matches_torch():
    x, t = _inputs(ignore=255)
    w = np.array([0.2, 1.0, 3.0, 0.5], np.float32)
    xs, xt = soma.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ls = F.cross_entropy(xs, soma.tensor(t), weight=soma.tensor(w), ignore_index=255)
    lt = torch.nn.functional.cross_entropy(
        xt, torch.tensor(t), weight=torch.tensor(w), ignore_index=255
    )
    np.testing.assert_allclose(ls.item(), lt.item(), rtol=1e-5)
    ls.backward()
    lt.backward()
    np.testing.assert_allclose(xs.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-7)


def test_pixelwise_cross_entropy_all_pixels_ignored_is_nan_like_torch_mean():
    # every target ignored: mean over zero counted pixels, 0/0 -> NaN (PyTorch documents this)
    x, t = _inputs()
    t[:] = 255
    loss = F.cross_entropy(soma.tensor(x), soma.tensor(t), ignore_index=255)
    assert np.isnan(loss.item())


# ---------------------------------------------------------------------- Dice
def torch_dice(x, t, smooth=1.0, squared=False, ignore_index=None, reduction="mean"):
    """The soft Dice loss written in PyTorch: 1 − (2Σpg + s)/(Σp + Σg + s) per class."""
    n, c = x.shape[:2]
    p = torch.sigmoid(x) if c == 1 else torch.softmax(x, 1)
    p = p.reshape(n, c, -1)
    t = t.reshape(n, -1)
    valid = torch.ones_like(t, dtype=x.dtype)
    if ignore_index is not None:
        valid = (t != ignore_index).to(x.dtype)
        t = torch.where(t == ignore_index, torch.zeros_like(t), t)
    if c == 1:
        g = t[:, None].to(x.dtype)
    else:
        g = torch.nn.functional.one_hot(t, c).permute(0, 2, 1).to(x.dtype)
    p, g = p * valid[:, None], g * valid[:, None]
    inter = (p * g).sum((0, 2))
    total = (p * p).sum((0, 2)) + (g * g).sum((0, 2)) if squared else p.sum((0, 2)) + g.sum((0, 2))
    loss = 1 - (2 * inter + smooth) / (total + smooth)
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_dice_loss_matches_its_torch_formula(squared, reduction):
    x, t = _inputs()
    _both(F.dice_loss, torch_dice, x, t, squared=squared, reduction=reduction)


def test_dice_loss_ignore_index_and_binary_channel():
    x, t = _inputs(ignore=255)
    _both(F.dice_loss, torch_dice, x, t, ignore_index=255)
    xb = RNG.standard_normal((3, 1, 4, 4)).astype(np.float32)
    tb = RNG.integers(0, 2, (3, 4, 4))
    _both(F.dice_loss, torch_dice, xb, tb, smooth=0.5)


def test_dice_loss_by_hand():
    # two pixels, two classes, certain predictions: p ≈ one-hot of [0, 1]; target [1, 1].
    # class 0: inter 0, Σp 1, Σg 0 -> 1 − 1/2 = 0.5; class 1: inter 1, Σp 1, Σg 2 -> 1 − 3/4
    x = soma.tensor([[[[20.0, -20.0]], [[-20.0, 20.0]]]])
    loss = F.dice_loss(x, soma.tensor([[[1, 1]]]), reduction="none")
    np.testing.assert_allclose(loss.numpy(), [0.5, 0.25], atol=1e-6)
    # a perfect prediction has loss 0 (smooth only keeps absent classes finite)
    assert F.dice_loss(x, soma.tensor([[[0, 1]]])).item() == pytest.approx(0.0, abs=1e-6)


def test_dice_loss_float_target_of_input_shape():
    x = RNG.standard_normal((2, 3, 4, 4)).astype(np.float32)
    q = RNG.random((2, 3, 4, 4)).astype(np.float32)
    q /= q.sum(1, keepdims=True)
    ls = F.dice_loss(soma.tensor(x), soma.tensor(q))
    p = torch.softmax(torch.tensor(x), 1).reshape(2, 3, -1)
    g = torch.tensor(q).reshape(2, 3, -1)
    lt = (1 - (2 * (p * g).sum((0, 2)) + 1) / (p.sum((0, 2)) + g.sum((0, 2)) + 1)).mean()
    np.testing.assert_allclose(ls.item(), lt.item(), rtol=1e-5)


def test_dice_loss_rejects_mismatched_targets():
    with pytest.raises(ValueError, match="dice_loss: target shape"):
        F.dice_loss(soma.zeros(2, 3, 4, 4), soma.zeros(2, 4, 5).long())


# ---------------------------------------------------------------------- focal
def torch_focal(x, t, gamma=2.0, alpha=None, ignore_index=-100, reduction="mean"):
    logp = torch.log_softmax(x, 1)
    keep = t != ignore_index
    tt = torch.where(keep, t, torch.zeros_like(t))
    logpt = logp.gather(1, tt.unsqueeze(1)).squeeze(1)
    loss = -((1 - logpt.exp()) ** gamma) * logpt
    if alpha is not None:
        loss = loss * torch.tensor(alpha, dtype=x.dtype)[tt]
    loss = loss * keep.to(x.dtype)
    if reduction == "mean":
        return loss.sum() / keep.sum()
    return loss.sum() if reduction == "sum" else loss


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_focal_loss_matches_its_torch_formula(gamma, reduction):
    x, t = _inputs(ignore=255)
    _both(F.focal_loss, torch_focal, x, t, gamma=gamma, ignore_index=255, reduction=reduction)


def test_focal_loss_with_alpha_and_gamma_zero_is_cross_entropy():
    x, t = _inputs(ignore=-100)
    _both(F.focal_loss, torch_focal, x, t, alpha=[0.1, 0.2, 0.3, 0.4])
    ce = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t)).item()
    fl = F.focal_loss(soma.tensor(x), soma.tensor(t), gamma=0.0).item()
    assert fl == pytest.approx(ce, rel=1e-5)


def test_sigmoid_focal_loss_matches_torchvisions_formula():
    def torchvision_sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
        # torchvision.ops.sigmoid_focal_loss, verbatim arithmetic
        p = torch.sigmoid(inputs)
        ce = torch.nn.functional.binary_cross_entropy_with_logits(
            inputs, targets, reduction="none"
        )
        p_t = p * targets + (1 - p) * (1 - targets)
        loss = ce * ((1 - p_t) ** gamma)
        if alpha >= 0:
            loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
        return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]

    x = RNG.standard_normal((2, 1, 5, 5)).astype(np.float32)
    t = (RNG.random((2, 1, 5, 5)) < 0.4).astype(np.float32)
    for reduction in ("none", "mean"):
        _both(F.sigmoid_focal_loss, torchvision_sigmoid_focal_loss, x, t, reduction=reduction)


def test_loss_modules_call_the_functions():
    x, t = _inputs()
    xs, ts = soma.tensor(x), soma.tensor(t)
    assert soma.nn.DiceLoss()(xs, ts).item() == pytest.approx(F.dice_loss(xs, ts).item())
    assert soma.nn.FocalLoss(gamma=1.0)(xs, ts).item() == pytest.approx(
        F.focal_loss(xs, ts, gamma=1.0).item()
    )
    both = F.cross_entropy(xs, ts).item() + 0.5 * F.dice_loss(xs, ts).item()
    assert soma.nn.DiceCELoss(dice_weight=0.5)(xs, ts).item() == pytest.approx(both, rel=1e-6)
