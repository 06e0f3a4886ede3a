"""PyTorch's results at the edges of reductions, clipping and shapes, with no NumPy warning:
reductions over nothing (NaN means and variances, −inf log-sum-exp, empty softmaxes, NaN mean
losses), sums that meet inf − inf or overflow float32, hardtanh/relu6 on integers (clipped in
their own dtype), clamp's type promotion, masked_fill's and threshold's kept dtype, square and
sign of bools, local response normalisation of integers (in float: it returned the integers
unchanged); flatten, chunk, norms, renorm, prod's gradient, batch and instance norm of empty
tensors."""

import math
import warnings

import numpy as np
import pytest

import soma
from soma.nn import functional as F


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_mean_var_std_over_nothing_are_nan():
    x = soma.zeros(0, 3, requires_grad=True)
    assert math.isnan(x.mean().item())
    assert [math.isnan(v) for v in x.mean(0).tolist()] == [True] * 3
    assert x.mean(1).shape == (0,)  # nothing reduced to nothing: empty, not NaN
    assert math.isnan(x.var().item()) and math.isnan(x.std(0, unbiased=False)[0].item())
    (x.mean() + x.std(0).sum()).backward()
    assert x.grad.shape == (0, 3)


def test_logsumexp_over_nothing_is_minus_infinity():
    x = soma.zeros(0, 3, requires_grad=True)
    assert soma.logsumexp(x, 0).tolist() == [-math.inf] * 3
    assert soma.logsumexp(x, (0, 1)).item() == -math.inf
    assert soma.logsumexp(x, 1).shape == (0,)
    soma.logsumexp(x, 0).sum().backward()
    assert x.grad.shape == (0, 3)


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax, F.softmin])
def test_softmaxes_of_nothing_are_empty(fn):
    x = soma.zeros(0, 2, requires_grad=True)
    y = fn(x, dim=0)
    assert y.shape == (0, 2)
    y.sum().backward()
    assert x.grad.shape == (0, 2)
    assert fn(soma.zeros(0), dim=0).shape == (0,)


def test_a_mean_loss_over_no_samples_is_nan():
    x = soma.zeros(0, 4, requires_grad=True)
    loss = F.mse_loss(x, soma.zeros(0, 4))
    assert math.isnan(loss.item())
    loss.backward()
    assert x.grad.shape == (0, 4)


def test_sums_meeting_infinities_or_overflowing_give_ieee_results_silently():
    inf = math.inf
    assert math.isnan(soma.tensor([inf, -inf]).sum().item())
    assert math.isnan(soma.tensor([inf, -inf]).mean().item())
    big = soma.tensor([3e38, 3e38])  # float32: the exact sum 6e38 is beyond its range
    assert big.sum().item() == inf and big.mean().item() == inf


def test_hardtanh_and_relu6_clip_integers_in_their_dtype():
    x = soma.tensor([-3, -1, 0, 1, 2, 5])
    y = F.hardtanh(x, -2.7, 0.9)  # limits truncated toward zero: -2 and 0
    assert y.dtype == soma.int64 and y.tolist() == [-2, -1, 0, 0, 0, 0]
    assert F.hardtanh(x).tolist() == [-1, -1, 0, 1, 1, 1]
    u = soma.tensor([0, 3, 9]).to(soma.uint8)
    assert F.relu6(u).dtype == soma.uint8 and F.relu6(u).tolist() == [0, 3, 6]
    x6 = soma.tensor([-3, 8], dtype=soma.int32)
    assert F.relu6(x6, inplace=True) is x6 and x6.tolist() == [0, 6]


def test_hardtanh_refuses_bools_and_negative_limits_for_unsigned_integers():
    with pytest.raises(RuntimeError, match="hardtanh: bool inputs are not supported"):
        F.hardtanh(soma.tensor([True, False]))
    with pytest.raises(RuntimeError, match=r"unsigned input \(uint8\).*min_val=-1"):
        F.hardtanh(soma.tensor([3]).to(soma.uint8))


def test_clamp_promotes_as_pytorch_does():
    ints = soma.tensor([1, 5])
    y = soma.clamp(ints, -0.5, 2.5)  # float bounds on integers: the default float dtype
    assert y.dtype == soma.float32 and y.tolist() == [1.0, 2.5]
    y = soma.clamp(ints.to(soma.int32), 0, 3)  # integer bounds keep the dtype
    assert y.dtype == soma.int32 and y.tolist() == [1, 3]
    y = soma.clamp(soma.tensor([True, False]), 0, 2)  # bool with integer bounds: int64
    assert y.dtype == soma.int64 and y.tolist() == [1, 0]


def test_masked_fill_keeps_the_tensors_dtype():
    mask = soma.tensor([True, False])
    y = soma.tensor([1, 5]).masked_fill(mask, 0.5)
    assert y.dtype == soma.int64 and y.tolist() == [0, 5]  # 0.5 as an int64: 0
    y = soma.tensor([False, False]).masked_fill(mask, 0.5)
    assert y.dtype == soma.bool and y.tolist() == [True, False]


def test_flatten_and_chunk_of_empty_tensors():
    assert soma.zeros(0, 3, 4).flatten(1).shape == (0, 12)
    assert soma.zeros(0, 3).flatten().shape == (0,)
    assert [p.shape for p in soma.zeros(0, 4).chunk(2)] == [(0, 4), (0, 4)]
    assert [p.shape for p in soma.zeros(5).chunk(3)] == [(2,), (2,), (1,)]
    assert [p.shape for p in soma.zeros(4).chunk(3)] == [(2,), (2,)]  # as PyTorch: two


def test_threshold_keeps_integers_and_square_lifts_bools():
    y = F.threshold(soma.tensor([-3, 0, 2, 5]), 1.5, -7.5)  # the value truncated: -7
    assert y.dtype == soma.int64 and y.tolist() == [-7, -7, 2, 5]
    with pytest.raises(NotImplementedError, match="threshold: bool"):
        F.threshold(soma.tensor([True]), 0.5, 0)
    y = soma.square(soma.tensor([True, False]))
    assert y.dtype == soma.int64 and y.tolist() == [1, 0]


def test_local_response_norm_of_integers_normalises_in_float():
    x = soma.tensor([[[-3, 0, 2, 5], [1, 1, 1, 1]]])
    y = F.local_response_norm(x, 2, alpha=2.0, beta=1.0, k=1.0)
    # y_c = x_c / (k + α/n Σ x²) over channels c-1 … c: channel 0 sees only itself (and the
    # missing channel -1), channel 1 sees channels 0 and 1
    expected = [
        [[-3 / 10, 0.0, 2 / 5, 5 / 26], [1 / 11, 1 / 2, 1 / 6, 1 / 27]],
    ]
    assert y.dtype == soma.float32
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6)
    with pytest.raises(NotImplementedError, match="local_response_norm: bool"):
        F.local_response_norm(x > 0, 2)


def test_norms_renorm_and_prod_gradients_of_empty_tensors():
    assert soma.linalg.norm(soma.zeros(0, 4), dim=1).shape == (0,)
    assert soma.linalg.matrix_norm(soma.zeros(0, 3, 4)).shape == (0,)
    assert soma.linalg.vector_norm(soma.zeros(3, 0), dim=1).tolist() == [0.0, 0.0, 0.0]
    assert soma.renorm(soma.zeros(0, 4), 2, 0, 1.0).shape == (0, 4)
    x = soma.zeros(0, 4, requires_grad=True)
    assert x.prod().item() == 1.0  # the empty product
    x.prod().backward()
    assert x.grad.shape == (0, 4)


def test_sign_of_bools_is_the_bools():
    y = soma.sign(soma.tensor([True, False]))
    assert y.dtype == soma.bool and y.tolist() == [True, False]


def test_batch_and_instance_norm_of_an_empty_batch():
    """An empty output, the running statistics untouched, zero gradients for weight and bias
    (PyTorch's; its instance_norm alone turns the running statistics to NaN there)."""
    x = soma.zeros(0, 3, 5, requires_grad=True)
    weight, bias = soma.ones(3, requires_grad=True), soma.zeros(3, requires_grad=True)
    mean, var = soma.zeros(3), soma.ones(3)
    y = F.batch_norm(x, mean, var, weight, bias, training=True)
    assert y.shape == (0, 3, 5)
    y.sum().backward()
    assert weight.grad.tolist() == [0.0] * 3 and bias.grad.tolist() == [0.0] * 3
    assert x.grad.shape == (0, 3, 5)
    assert mean.tolist() == [0.0] * 3 and var.tolist() == [1.0] * 3
    assert F.batch_norm(x, mean, var, training=False).shape == (0, 3, 5)
    assert F.instance_norm(soma.zeros(0, 3, 6), mean, var).shape == (0, 3, 6)
    assert mean.tolist() == [0.0] * 3
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(soma.zeros(1, 3), None, None, training=True)
