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
    # programs flatten it with view: soma copies there (as reshape does) instead of raising
    conv = soma.nn.Conv2d(1, 64, 3, padding=1)
    x = conv(soma.randn(2, 1, 7, 7))
    assert not x.is_contiguous()
    flat = x.view(x.size(0), -1)
    assert np.array_equal(flat.detach().numpy(), x.detach().numpy().reshape(2, -1))


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
