"""Class-index losses on (N, C, d1, …) inputs in every memory layout.

``cross_entropy`` and ``nll_loss`` find each target's entry through the input's strides
(``_target_offsets``), so the layouts a network hands them — contiguous, channels-last, the
channel-major memory of soma's convolutions, a sliced view with gaps — must all give PyTorch's
values and gradients, with class weights, ignored targets and label smoothing.
"""

import numpy as np
import pytest

import soma

LAYOUTS = {
    "contiguous": lambda a: a,
    "channels_last": lambda a: np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2),
    "channel_major": lambda a: np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3),
    "with_gaps": lambda a: np.repeat(a, 2, axis=3),  # every other column is read: [..., ::2]
}

OPTIONS = {
    "plain": {},
    "weights_ignore": {"weight": np.array([0.5, 2.0, 1.0, 0.25]), "ignore_index": 1},
    "smoothing_sum": {"label_smoothing": 0.1, "reduction": "sum"},
    "none": {"reduction": "none", "weight": np.array([1.0, 3.0, 0.5, 2.0])},
}


def _case(layout):
    """(memory, targets): the logits' memory in ``layout`` and class targets."""
    rng = np.random.default_rng(7)
    return LAYOUTS[layout](rng.standard_normal((3, 4, 5, 6))), rng.integers(0, 4, (3, 5, 6))


def _view(memory, layout):
    return memory[..., ::2] if layout == "with_gaps" else memory


def _input(fw, layout):
    """(leaf, logits): a leaf tensor on the memory and the (N, C, H, W) logits viewing it."""
    memory, _ = _case(layout)
    leaf = fw.tensor(memory, requires_grad=True)
    return leaf, _view(leaf, layout)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_target_pick_follows_the_strides(layout):
    from soma.functional.loss.classification import _add_at_targets, _pick

    memory, t = _case(layout)
    x = _view(memory, layout)
    assert np.array_equal(_pick(x, t), np.take_along_axis(x, t[:, None], axis=1)[:, 0])
    before = x.copy()
    _add_at_targets(x, t, np.float64(10.0))  # in place, through the view
    one_hot = np.arange(4)[None, :, None, None] == t[:, None]
    assert np.array_equal(x, before + 10.0 * one_hot)


@pytest.mark.parametrize("options", sorted(OPTIONS))
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_cross_entropy_matches_torch_in_every_layout(torch_or_skip, layout, options):
    torch = torch_or_skip
    _, t = _case(layout)
    kwargs = dict(OPTIONS[options])
    results = []
    for fw in (soma, torch):
        leaf, x = _input(fw, layout)
        extra = {k: fw.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
        loss = fw.nn.functional.cross_entropy(x, fw.tensor(t), **extra)
        loss.backward(fw.ones_like(loss))
        results.append((loss.detach().numpy(), leaf.grad.numpy()))
    (ours, ours_grad), (theirs, theirs_grad) = results
    assert np.allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    assert np.allclose(ours_grad, theirs_grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_nll_loss_matches_torch_in_every_layout(torch_or_skip, layout):
    torch = torch_or_skip
    _, t = _case(layout)
    results = []
    for fw in (soma, torch):
        # NOTE: PyTorch's own nll_loss backward refuses non-contiguous 4-D inputs ("grad_input
        # must be contiguous"); its values on a contiguous copy are the reference
        leaf, x = _input(fw, layout)
        x = x if fw is soma else x.contiguous()
        loss = fw.nn.functional.nll_loss(x, fw.tensor(t), ignore_index=2)
        loss.backward()
        results.append((loss.detach().numpy(), leaf.grad.numpy()))
    assert np.allclose(results[0][0], results[1][0], rtol=1e-12)
    assert np.allclose(results[0][1], results[1][1], rtol=1e-12)


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_cross_entropy_passes_float64_finite_differences(layout):
    _, t = _case(layout)
    leaf, _ = _input(soma, layout)
    targets = soma.tensor(t)

    def fn(leaf):
        x = _view(leaf, layout)
        return soma.nn.functional.cross_entropy(x, targets, label_smoothing=0.05)

    assert soma.autograd.gradcheck(fn, (leaf,))
