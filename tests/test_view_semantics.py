"""``Tensor.view`` shares memory or raises, as PyTorch's does; ``reshape`` may copy.

Before stop 43 soma's ``view`` was ``reshape``: on a transposed tensor it returned a copy, so
writes through the "view" never reached the tensor (PyTorch raises there instead).
"""

import numpy as np
import pytest

import soma


def test_view_of_a_transposed_tensor_raises_and_names_the_shapes():
    x = soma.zeros(2, 3)
    with pytest.raises(
        RuntimeError, match=r"view: a tensor of shape \(3, 2\) and strides \(1, 3\)"
    ):
        x.t().view(6)
    with pytest.raises(RuntimeError, match="view_as"):
        x.t().view_as(soma.zeros(6))


def test_reshape_still_copies_where_it_must():
    x = soma.arange(6.0).reshape(2, 3)
    assert x.t().reshape(6).tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    assert x.t().reshape_as(soma.zeros(6)).tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]


def test_a_view_writes_through_to_its_base():
    x = soma.zeros(2, 3)
    v = x.view(3, 2)
    v[2, 1] = 7.0
    assert x.tolist() == [[0.0, 0.0, 0.0], [0.0, 0.0, 7.0]]


def test_a_layout_of_soma_s_own_is_viewed_as_pytorch_s_contiguous_tensor():
    # a convolution's output is channels-last memory in soma, contiguous in PyTorch, whose
    # programs flatten it with view: the output moves to PyTorch's layout instead of raising
    conv = soma.nn.Conv2d(1, 64, 3, padding=1)
    x = conv(soma.randn(2, 1, 7, 7))
    assert not x.is_contiguous()
    flat = x.view(x.size(0), -1)
    assert x.is_contiguous()
    assert np.array_equal(flat.detach().numpy(), x.detach().numpy().reshape(2, -1))


def test_a_write_through_a_view_of_a_convolution_output_reaches_it():
    # before stop 44 the view of soma's channels-last output was a copy: the write was lost
    conv = soma.nn.Conv2d(1, 4, 3, padding=1)
    with soma.no_grad():
        x = conv(soma.randn(2, 1, 5, 5))
        x.view(2, -1)[:, 0] = 7.0
        x.view(2, 4, 25)[1, 3, 24] = -1.0
    assert x[:, 0, 0, 0].tolist() == [7.0, 7.0]
    assert x[1, 3, 4, 4].item() == -1.0


def test_an_in_place_op_on_a_view_of_a_convolution_output_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    images, weight = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3))
    grads = []
    for lib in (torch, soma):
        w = lib.tensor(weight, requires_grad=True)
        h = lib.nn.functional.conv2d(lib.tensor(images), w, padding=1)
        h.view(2, -1).mul_(3.0)  # PyTorch: this changes h and h's gradient
        (h * h).sum().backward()
        grads.append((h.detach().numpy().copy(), w.grad.numpy().copy()))
    np.testing.assert_allclose(grads[1][0], grads[0][0], rtol=1e-12)
    np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=1e-12)


def test_memory_shared_with_a_numpy_array_stays_shared_after_view():
    # soma moves a tensor of its own layout to new memory for view (above), but never one
    # whose memory an array outside soma sees: from_numpy, as_tensor, numpy(), .data
    a = np.arange(6.0).reshape(2, 3).T
    t = soma.from_numpy(a)
    assert t.view(2, 3).tolist() == [[0.0, 3.0, 1.0], [4.0, 2.0, 5.0]]  # a copy, as before
    t[0, 0] = 9.0
    assert a[0, 0] == 9.0
    conv = soma.nn.Conv2d(1, 4, 3)
    with soma.no_grad():
        h = conv(soma.randn(1, 1, 4, 4))
        seen = h.numpy()
        h.view(1, -1)
        h.add_(1.0)
    assert np.array_equal(seen, h.numpy())


# (function building the tensor, new shape): each either views or raises in PyTorch 2.13
CASES = [
    (lambda L: L.zeros(2, 3).t(), (6,)),  # raises
    (lambda L: L.zeros(4, 3)[::2], (6,)),  # raises: rows 6 apart
    (lambda L: L.zeros(4, 3)[:, :2], (8,)),  # raises
    (lambda L: L.zeros(3).expand(2, 3), (6,)),  # raises: a broadcast row
    (lambda L: L.zeros(3).expand(2, 3), (2, 1, 3)),  # views
    (lambda L: L.zeros(1, 3).t(), (3,)),  # views: a dimension of one has any stride
    (lambda L: L.zeros(0, 3).t(), (-1,)),  # views: no elements
    (lambda L: L.zeros(2, 3, 4).permute(0, 2, 1), (2, 12)),  # raises
    (lambda L: L.zeros(2, 3, 4).permute(1, 0, 2), (3, 2, 2, 2)),  # views: splits the last dim
    (lambda L: L.tensor(5.0), (1, 1)),  # views
]


@pytest.mark.parametrize("build, shape", CASES)
def test_view_raises_exactly_where_pytorch_raises(build, shape):
    torch = pytest.importorskip("torch")
    outcomes = []
    for lib in (torch, soma):
        x = build(lib)
        try:
            y = x.view(*shape)
        except RuntimeError:
            outcomes.append("raises")
            continue
        outcomes.append(tuple(y.shape))
        if y.numel() and 0 not in x.stride():  # a view: a write through it reaches x
            y[(-1,) * y.dim()] = 1.0
            assert float(np.asarray(x.numpy()).max()) == 1.0
    assert outcomes[1] == outcomes[0]


def test_an_in_place_change_through_a_view_of_a_saved_output_raises_as_in_pytorch():
    # ReLU saves its output; changing it through a view must fail the backward pass, as in
    # PyTorch (before stop 44 the view of soma's channels-last output was a copy: no error)
    torch = pytest.importorskip("torch")
    for lib in (torch, soma):
        w = lib.ones(4, 3, 3, 3, requires_grad=True)
        h = lib.relu(lib.nn.functional.conv2d(lib.ones(2, 3, 5, 5), w, padding=1))
        h.view(2, -1).mul_(2.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            h.sum().backward()
