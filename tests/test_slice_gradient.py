"""Slice gradients: ``x[index]``'s gradient kept as (index, values) and summed in place.

Every graph here has a gradient worked out by hand (or by PyTorch); the engine must give it
whatever order the gradients arrive in, and must never write into an array that another
gradient shares.
"""

import numpy as np
import pytest

import soma
from soma.autograd.slice_gradient import SliceGradient


def _x(*shape):
    return soma.tensor(
        np.arange(np.prod(shape), dtype=np.float64).reshape(shape) / 7.0, requires_grad=True
    )


def test_getitem_backward_returns_a_slice_gradient_and_introspection_sees_an_array():
    x = _x(3, 4)
    y = x[1:, ::2]
    g = y.grad_fn._fn.backward(y.grad_fn, np.ones((2, 2)))
    assert isinstance(g, SliceGradient)
    expected = np.zeros((3, 4))
    expected[1:, ::2] = 1
    assert np.array_equal(g.dense(), expected)
    (dense,) = y.grad_fn(soma.ones(2, 2))  # Context.__call__ hands out arrays only
    assert np.array_equal(dense.numpy(), expected)


def test_a_loop_over_time_steps_sums_the_blocks():
    """The unrolled-RNN pattern: every step reads x[:, t] of an interior node."""
    x = _x(2, 5, 3)
    h = x * 2.0  # interior node: its slot sums the slice gradients
    total = sum(((t + 1) * h[:, t]).sum() for t in range(5))
    total.backward()
    weights = np.arange(1, 6, dtype=np.float64)[None, :, None]
    assert np.array_equal(x.grad.numpy(), np.broadcast_to(2.0 * weights, (2, 5, 3)))


def test_overlapping_blocks_and_a_dense_gradient_add_up():
    x = _x(6, 2)
    h = x * 1.0
    out = h[0:4].sum() + (2 * h[2:6]).sum() + (h * 10).sum() + h[3].sum()
    out.backward()
    expected = np.full((6, 2), 10.0)
    expected[0:4] += 1
    expected[2:6] += 2
    expected[3] += 1
    assert np.array_equal(x.grad.numpy(), expected)


def test_slices_of_a_leaf_accumulate_into_grad():
    x = _x(4, 3)
    (x[0] * 3).sum().backward()
    (x[1:3] * 2).sum().backward()  # .grad accumulates across backward calls
    expected = np.zeros((4, 3))
    expected[0] = 3
    expected[1:3] = 2
    assert np.array_equal(x.grad.numpy(), expected)


@pytest.mark.parametrize("order", ["sums_first", "sums_last"])
def test_a_gradient_two_inputs_share_is_never_written_in_place(order):
    """Add hands one array to both of its inputs; a later sum into one of them must not write
    into it, even when that array is itself a sum the engine made.

    x → u = 2x, v = 3x;  s = u + v, consumed twice (its gradient is a sum the engine made:
    1 + 1), and u, v consumed once more each (5u, 7v).  dL/du = 2 + 5, dL/dv = 2 + 7,
    dL/dx = 2·7 + 3·9 = 41.
    """
    x = _x(3)
    u, v = x * 2.0, x * 3.0
    s = u + v
    sums = [(s * 1.0).sum(), (s * 1.0).sum()]
    others = [(u * 5.0).sum(), (v * 7.0).sum()]
    parts = sums + others if order == "sums_first" else others + sums
    loss = parts[0]
    for part in parts[1:]:
        loss = loss + part
    loss.backward()
    assert np.array_equal(x.grad.numpy(), np.full(3, 41.0))


def test_hooks_see_the_whole_gradient():
    x = _x(2, 3)
    h = x * 1.0
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    (h[0].sum() + 2 * h[1].sum()).backward()
    assert np.array_equal(seen[0], [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])


def test_autograd_grad_and_retain_graph_with_slices():
    x = _x(3, 2)
    h = x * 1.0
    out = h[0].sum() + 3 * h[2].sum()
    (gx,) = soma.autograd.grad(out, [x], retain_graph=True)
    assert np.array_equal(gx.numpy(), [[1, 1], [0, 0], [3, 3]])
    (gh,) = soma.autograd.grad(out, [h])
    assert np.array_equal(gh.numpy(), [[1, 1], [0, 0], [3, 3]])


def test_anomaly_mode_checks_slice_gradients():
    x = _x(2, 2)
    h = x * 1.0
    with soma.autograd.detect_anomaly():
        (h[0] * 2.0 + h[1]).sum().backward()
    assert np.array_equal(x.grad.numpy(), [[2.0, 2.0], [1.0, 1.0]])
    y = x * 1.0
    # x[0, 0] = 0: 0 · ∞ in sqrt's backward (NumPy's own warnings about it are beside the point)
    with np.errstate(divide="ignore", invalid="ignore"), soma.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match="nan"):
            (soma.sqrt(y[0]) * 0.0).sum().backward()


def test_advanced_indices_and_other_dtypes_stay_dense():
    x = _x(4)
    h = x * 1.0
    (h[[0, 0, 2]] * 1.0).sum().backward()  # repeated indices accumulate
    assert np.array_equal(x.grad.numpy(), [2.0, 0.0, 1.0, 0.0])


def test_unrolled_lstm_gradients_match_torch(torch_or_skip):
    torch = torch_or_skip
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 4))
    w_ih = rng.standard_normal((16, 4)) * 0.3
    w_hh = rng.standard_normal((16, 4)) * 0.3

    def run(fw):
        xs, wi, wh = (fw.tensor(a, requires_grad=True) for a in (x, w_ih, w_hh))
        projected = xs @ wi.T
        h = fw.zeros(3, 4, dtype=xs.dtype)
        c = fw.zeros(3, 4, dtype=xs.dtype)
        for t in range(6):
            i, f, g, o = (projected[:, t] + h @ wh.T).chunk(4, 1)
            c = fw.sigmoid(f) * c + fw.sigmoid(i) * fw.tanh(g)
            h = fw.sigmoid(o) * fw.tanh(c)
        (h**2).sum().backward()
        return [t.grad.detach().numpy() for t in (xs, wi, wh)]

    for ours, theirs in zip(run(soma), run(torch)):
        assert np.allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_slice_gradients_pass_float64_finite_differences():
    """Overlapping blocks, a 0-d pick, an empty slice and a dense use of one interior node."""
    rng = np.random.default_rng(4)
    x = soma.tensor(rng.standard_normal((4, 5)), requires_grad=True)

    def fn(x):
        h = x.tanh()
        return (h[1:3] * h[0:2]).sum() + h[2, 3] ** 2 + h[3:3].sum() + (h * h[:, 1:2]).sum()

    assert soma.autograd.gradcheck(fn, (x,))
