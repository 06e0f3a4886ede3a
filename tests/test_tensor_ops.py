"""Hand tests for the tensor operations added for PyTorch parity (issue 11 §3): what the op
table (tests/op_specs) cannot say — counting ops, in-place forms, randomness, special values,
errors, and the names themselves."""

import math

import numpy as np
import pytest

import soma
import soma.nn.functional as F


def t(values, dtype=None):
    return soma.tensor(values, dtype=dtype)


# ---------------------------------------------------------------------------- counting ops
def test_unique_matches_pytorch(torch_or_skip):
    torch = torch_or_skip
    a = np.array([[3, 1, 3], [2, 1, 1]])
    for kw in (
        {},
        {"return_inverse": True},
        {"return_counts": True},
        {"return_inverse": True, "return_counts": True},
        {"dim": 1},
        {"dim": 0},
    ):
        ours = soma.unique(t(a), **kw)
        theirs = torch.unique(torch.tensor(a), **kw)
        ours = ours if isinstance(ours, tuple) else (ours,)
        theirs = theirs if isinstance(theirs, tuple) else (theirs,)
        for o, e in zip(ours, theirs):
            np.testing.assert_array_equal(o.numpy(), e.numpy(), err_msg=str(kw))
            assert o.dtype == e.numpy().dtype


def test_unique_consecutive_matches_pytorch(torch_or_skip):
    torch = torch_or_skip
    a = np.array([1, 1, 2, 2, 3, 1, 1, 2])
    o = soma.unique_consecutive(t(a), return_inverse=True, return_counts=True)
    e = torch.unique_consecutive(torch.tensor(a), return_inverse=True, return_counts=True)
    for x, y in zip(o, e):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    m = np.array([[1, 1, 2, 2], [0, 0, 5, 5]])
    o = soma.unique_consecutive(t(m), dim=1, return_counts=True)
    e = torch.unique_consecutive(torch.tensor(m), dim=1, return_counts=True)
    for x, y in zip(o, e):
        np.testing.assert_array_equal(x.numpy(), y.numpy())


def test_bincount_counts_and_weights():
    assert soma.bincount(t([0, 1, 1, 3])).tolist() == [1, 2, 0, 1]
    assert soma.bincount(t([0, 1, 1, 3]), minlength=6).tolist() == [1, 2, 0, 1, 0, 0]
    w = soma.bincount(t([0, 1, 1]), weights=t([0.5, 1.0, 2.0]))
    assert w.tolist() == [0.5, 3.0] and w.dtype == soma.float32
    empty = soma.bincount(soma.tensor([], dtype=soma.int64))
    assert empty.shape == (0,) and empty.dtype == soma.int64
    with pytest.raises(RuntimeError, match="non-negative"):
        soma.bincount(t([1, -1]))
    with pytest.raises(RuntimeError, match="1-d"):
        soma.bincount(t([0.5]))


def test_histc_by_hand():
    # bins of width 0.75 over [0, 3]: 1 falls in bin 1, 2 in bin 2, 3 in the last (closed) bin
    h = soma.histc(t([1.0, 2.0, 1.0, 3.0, -1.0, 4.0]), bins=4, min=0, max=3)
    assert h.tolist() == [0.0, 2.0, 1.0, 1.0] and h.dtype == soma.float32
    assert soma.histc(t([1.0, 2.0, 3.0]), bins=2).tolist() == [1.0, 2.0]  # the data's range


def test_bucketize_and_searchsorted_match_pytorch(torch_or_skip):
    torch = torch_or_skip
    b = np.array([1.0, 3.0, 5.0, 7.0])
    v = np.array([[0.0, 3.0, 6.0], [7.0, 9.0, 1.0]])
    for right in (False, True):
        o = soma.bucketize(t(v), t(b), right=right)
        e = torch.bucketize(torch.tensor(v), torch.tensor(b), right=right)
        np.testing.assert_array_equal(o.numpy(), e.numpy())
        assert o.dtype == soma.int64
    seq = np.array([[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]])
    q = np.array([[3.0, 0.0], [6.0, 5.0]])
    for kw in ({}, {"right": True}, {"side": "right"}, {"out_int32": True}):
        o = soma.searchsorted(t(seq), t(q), **kw)
        e = torch.searchsorted(torch.tensor(seq), torch.tensor(q), **kw)
        np.testing.assert_array_equal(o.numpy(), e.numpy(), err_msg=str(kw))
        assert o.numpy().dtype == e.numpy().dtype
    unsorted = np.array([5.0, 1.0, 3.0])
    sorter = np.argsort(unsorted)
    o = soma.searchsorted(t(unsorted), t([2.0, 5.0]), sorter=t(sorter))
    e = torch.searchsorted(
        torch.tensor(unsorted), torch.tensor([2.0, 5.0]), sorter=torch.tensor(sorter)
    )
    np.testing.assert_array_equal(o.numpy(), e.numpy())


# ---------------------------------------------------------------------------- special values
def test_erf_family_special_values():
    # erfinv inverts erf; ±1 map to ±inf, |y| > 1 to NaN (the mathematical values)
    x = np.linspace(-3, 3, 13)
    np.testing.assert_allclose(soma.erfinv(soma.erf(t(x, soma.float64))).numpy(), x, atol=1e-12)
    e = soma.erfinv(t([1.0, -1.0, 1.5], soma.float64)).numpy()
    assert e[0] == math.inf and e[1] == -math.inf and math.isnan(e[2])
    # erfc keeps its digits far in the tail, where 1 - erf(x) would round to 0
    for v in (5.0, 10.0, 20.0, -3.0):
        assert soma.erfc(t(v, soma.float64)).item() == pytest.approx(math.erfc(v), rel=1e-13)
    g = t([0.0], soma.float64).requires_grad_()
    soma.erf(g).sum().backward()
    assert g.grad.item() == pytest.approx(2 / math.sqrt(math.pi))


def test_logaddexp_and_logcumsumexp_stay_finite():
    big = t([1000.0, -1000.0], soma.float64)
    assert soma.logaddexp(big, big).tolist() == pytest.approx(
        [1000 + math.log(2), -1000 + math.log(2)]
    )
    y = soma.logcumsumexp(t([-math.inf, 0.0, 800.0], soma.float64), 0).numpy()
    assert y[0] == -math.inf and y[1] == 0.0 and y[2] == pytest.approx(800.0)


def test_cummax_propagates_nan_and_keeps_the_last_tie():
    v, i = soma.cummax(t([1.0, 3.0, 3.0, math.nan, 5.0]), 0)
    assert v.tolist()[:3] == [1.0, 3.0, 3.0] and all(math.isnan(a) for a in v.tolist()[3:])
    assert i.tolist() == [0, 1, 2, 3, 3]


def test_median_nan_and_nanmedian():
    assert math.isnan(soma.median(t([1.0, math.nan, 2.0])).item())
    assert soma.nanmedian(t([1.0, math.nan, 2.0, 5.0])).item() == 2.0
    v, i = soma.nanmedian(t([[math.nan, 4.0, 1.0], [math.nan, math.nan, math.nan]]), 1)
    assert v.tolist()[0] == 1.0 and i.tolist()[0] == 2 and math.isnan(v.tolist()[1])


def test_sort_descending_stable_puts_nan_first():
    v, i = soma.sort(t([1.0, math.nan, 2.0, 1.0]), descending=True, stable=True)
    assert math.isnan(v.tolist()[0]) and v.tolist()[1:] == [2.0, 1.0, 1.0]
    assert i.tolist() == [1, 2, 0, 3]


def test_nan_to_num_defaults_and_integers():
    y = soma.nan_to_num(t([math.nan, math.inf, -math.inf, 1.0]))
    assert y.tolist() == [0.0, np.finfo(np.float32).max, np.finfo(np.float32).min, 1.0]
    ints = t([1, 2])
    assert soma.nan_to_num(ints).tolist() == [1, 2] and soma.nan_to_num(ints).dtype == soma.int64


def test_isclose_infinities_and_nan():
    a = t([math.inf, -math.inf, math.nan, 1.0])
    b = t([math.inf, math.inf, math.nan, 1.0 + 1e-9])
    assert soma.isclose(a, b).tolist() == [True, False, False, True]
    assert soma.isclose(a, b, equal_nan=True).tolist() == [True, False, True, True]


def test_rounding_integers_keeps_the_dtype():
    for op in (soma.trunc, soma.floor, soma.ceil, soma.round, soma.fix):
        y = op(t([-3, 2]))
        assert y.dtype == soma.int64 and y.tolist() == [-3, 2]


def test_frac_of_integers_refuses():
    with pytest.raises(RuntimeError, match="frac"):
        soma.frac(t([1, 2]))


def test_scatter_reduce_include_self_false_keeps_untouched():
    x = t([10.0, 20.0, 30.0])
    y = soma.scatter_reduce(x, 0, t([0, 0]), t([1.0, 2.0]), "amax", include_self=False)
    assert y.tolist() == [2.0, 20.0, 30.0]
    y = soma.scatter_reduce(x, 0, t([2, 2]), t([1.0, 2.0]), "mean", include_self=True)
    assert y.tolist() == [10.0, 20.0, 11.0]


def test_einsum_errors_name_the_subscripts():
    with pytest.raises(RuntimeError, match="ij"):
        soma.einsum("ij->i", soma.ones(2, 3, 4))
    with pytest.raises(RuntimeError, match="output"):
        soma.einsum("ij->ii", soma.ones(2, 2))


def test_shape_errors_are_runtime_errors():
    with pytest.raises(RuntimeError, match="tril"):
        soma.tril(soma.ones(3))
    with pytest.raises(RuntimeError, match="diag"):
        soma.diag(soma.ones(2, 2, 2))
    with pytest.raises(RuntimeError, match="glu"):
        F.glu(soma.ones(3))
    with pytest.raises(RuntimeError, match="unfold"):
        soma.ones(3).unfold(0, 4, 1)
    with pytest.raises(IndexError, match="scatter"):
        soma.zeros(3).scatter(0, t([3]), t([1.0]))


# ---------------------------------------------------------------------------- in-place forms
def test_inplace_activation_forms_write_into_the_input():
    for fn, args, expected in [
        (F.relu_, (), [0.0, 2.0]),
        (F.leaky_relu_, (0.5,), [-0.5, 2.0]),
        (F.hardtanh_, (-0.5, 0.5), [-0.5, 0.5]),
        (F.threshold_, (1.0, 9.0), [9.0, 2.0]),
        (F.elu_, (), [math.expm1(-1), 2.0]),
        (soma.relu_, (), [0.0, 2.0]),
    ]:
        x = t([-1.0, 2.0])
        assert fn(x, *args) is x
        assert x.tolist() == pytest.approx(expected), fn.__name__


def test_inplace_relu_in_a_graph_matches_pytorch(torch_or_skip):
    torch = torch_or_skip
    a = np.array([-1.0, 0.5, 2.0])
    ours = t(a, soma.float64).requires_grad_()
    theirs = torch.tensor(a, requires_grad=True)
    y = ours * 2
    F.relu(y, inplace=True)
    (y * y).sum().backward()
    z = theirs * 2
    torch.nn.functional.relu(z, inplace=True)
    (z * z).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy())


def test_tensor_inplace_methods_match_out_of_place():
    x = np.array([[0.3, -0.2], [0.7, 0.1]])
    for name in (
        "tan",
        "asin",
        "atan",
        "sinh",
        "cosh",
        "erf",
        "erfinv",
        "exp2",
        "log1p",
        "expm1",
        "trunc",
        "frac",
        "sin",
        "cos",
        "tril",
        "triu",
        "sign",
        "square",
    ):
        a = t(x)
        expected = getattr(a, name)().numpy()
        assert getattr(a, name + "_")() is a
        np.testing.assert_allclose(a.numpy(), expected, err_msg=name)
    a = soma.zeros(2, 3)
    a.index_add_(1, t([0, 2]), soma.ones(2, 2), alpha=2)
    assert a.tolist() == [[2.0, 0.0, 2.0], [2.0, 0.0, 2.0]]
    a.scatter_(0, t([[1, 0, 1]]), t([[5.0, 6.0, 7.0]]))
    assert a.tolist() == [[2.0, 6.0, 2.0], [5.0, 0.0, 7.0]]
    a.index_fill_(0, t([0]), -1.0)
    assert a.tolist()[0] == [-1.0, -1.0, -1.0]


def test_inplace_float_op_on_integer_tensor_refuses():
    with pytest.raises(RuntimeError, match="can't be cast"):
        t([1, 2]).tan_()


def test_inplace_on_leaf_that_requires_grad_refuses():
    with pytest.raises(RuntimeError, match="leaf"):
        t([0.5]).requires_grad_().tan_()


# ---------------------------------------------------------------------------- randomness
def test_gumbel_softmax_soft_and_hard():
    logits = t([[1.0, 2.0, 0.5]]).requires_grad_()
    g = soma.Generator().manual_seed(0)
    soft = F.gumbel_softmax(logits, tau=0.5, generator=g)
    assert soft.sum().item() == pytest.approx(1.0)
    hard = F.gumbel_softmax(logits, hard=True, generator=g)
    assert sorted(hard.tolist()[0]) == [0.0, 0.0, 1.0]
    (hard * t([[1.0, 2.0, 3.0]])).sum().backward()
    assert logits.grad is not None and np.any(logits.grad.numpy() != 0)  # straight-through


def test_gumbel_softmax_hard_samples_follow_the_softmax():
    # the argmax of logits + Gumbel noise is a sample of softmax(logits) (the Gumbel-max trick)
    logits = soma.tensor([[0.0, 1.0, 2.0]]).expand(20000, 3)
    hard = F.gumbel_softmax(logits, hard=True, generator=soma.Generator().manual_seed(1))
    freq = hard.numpy().mean(axis=0)
    p = np.exp([0.0, 1.0, 2.0]) / np.exp([0.0, 1.0, 2.0]).sum()
    np.testing.assert_allclose(freq, p, atol=0.015)  # 3 standard errors at n = 20000


def test_rrelu_training_slopes_lie_in_range():
    x = soma.full((1000,), -1.0, requires_grad=True)
    y = F.rrelu(x, 0.1, 0.3, training=True, generator=soma.Generator().manual_seed(0))
    slopes = -y.detach().numpy()
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and slopes.std() > 0.03
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), slopes, rtol=1e-6)


# ---------------------------------------------------------------------------- sampling
def test_identity_affine_grid_samples_the_image_back():
    img = soma.randn(2, 3, 5, 4)
    theta = soma.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]] * 2)
    for align in (False, True):
        grid = F.affine_grid(theta, (2, 3, 5, 4), align_corners=align)
        out = F.grid_sample(img, grid, align_corners=align)
        np.testing.assert_allclose(out.numpy(), img.numpy(), atol=1e-5)


def test_grid_sample_shift_by_one_pixel_by_hand():
    # x = -1 + 2/W·(j + ½) is the centre of column j (align_corners=False); shifting the grid
    # by one column width reads the next column, and zeros past the edge
    img = soma.arange(4.0).reshape(1, 1, 1, 4)
    xs = (soma.arange(4.0) * 2 + 1) / 4 - 1 + 0.5
    grid = soma.stack([xs, soma.zeros(4)], -1).reshape(1, 1, 4, 2)
    assert F.grid_sample(img, grid).flatten().tolist() == pytest.approx([1.0, 2.0, 3.0, 0.0])


# ---------------------------------------------------------------------------- names
NEW_TENSOR_METHODS = """tan asin acos atan atan2 sinh cosh asinh acosh atanh arcsin arccos arctan
arctan2 arcsinh arccosh arctanh erf erfc erfinv exp2 expm1 log2 log10 log1p logaddexp logaddexp2
logit sinc xlogy trunc fix frac copysign hypot fmax fmin float_power nan_to_num isclose signbit
lerp cumprod cummax cummin logcumsumexp kthvalue median nanmedian mode msort unique
unique_consecutive bincount histc aminmax count_nonzero nansum nanmean scatter scatter_add
scatter_reduce index_add index_copy index_fill index_select masked_fill masked_scatter
masked_select take take_along_dim tril triu diag diagonal diag_embed diagflat trace rot90
repeat_interleave unfold roll flip movedim moveaxis outer ger inner kron mv addmm addmv addr
baddbmm addbmm addcmul addcdiv clamp_min clamp_max logical_and logical_or logical_xor
logical_not greater less greater_equal less_equal not_equal fmod remainder argwhere""".split()


def test_every_new_method_and_its_inplace_form_exists(torch_or_skip):
    torch = torch_or_skip
    missing = [n for n in NEW_TENSOR_METHODS if not hasattr(soma.Tensor, n)]
    inplace = [n + "_" for n in NEW_TENSOR_METHODS if hasattr(torch.Tensor, n + "_")]
    missing += [n for n in inplace if not hasattr(soma.Tensor, n)]
    assert not missing


def test_new_functions_exist_where_pytorch_has_them(torch_or_skip):
    torch = torch_or_skip
    names = [n for n in NEW_TENSOR_METHODS if hasattr(torch, n)]
    names += [
        "cdist",
        "cosine_similarity",
        "pairwise_distance",
        "pdist",
        "meshgrid",
        "cartesian_prod",
        "block_diag",
        "tril_indices",
        "triu_indices",
        "std_mean",
        "var_mean",
        "bucketize",
        "searchsorted",
        "tensordot",
        "relu_",
        "selu_",
        "celu_",
        "rrelu",
        "rrelu_",
        "threshold_",
        "deg2rad",
        "rad2deg",
    ]
    assert [n for n in names if not hasattr(soma, n)] == []
    functional = [
        "normalize",
        "cosine_similarity",
        "pairwise_distance",
        "pdist",
        "glu",
        "gumbel_softmax",
        "grid_sample",
        "affine_grid",
        "one_hot",
        "rrelu",
        "relu_",
        "elu_",
        "leaky_relu_",
        "hardtanh_",
        "threshold_",
        "selu_",
        "celu_",
        "rrelu_",
    ]
    assert [n for n in functional if not hasattr(F, n)] == []


# ---------------------------------------------------------------------------- second batch
def test_histogram_matches_pytorch(torch_or_skip):
    torch = torch_or_skip
    a = np.array([0.5, 1.5, 1.7, 3.0, 2.2])
    h, e = soma.histogram(t(a), 3, range=(0.0, 3.0))
    th, te = torch.histogram(torch.tensor(a), 3, range=(0.0, 3.0))
    np.testing.assert_allclose(h.numpy(), th.numpy())
    np.testing.assert_allclose(e.numpy(), te.numpy())


def test_unravel_index_and_broadcast_shapes():
    r, c = soma.unravel_index(t([0, 5, 7]), (2, 4))
    assert r.tolist() == [0, 1, 1] and c.tolist() == [0, 1, 3]
    assert tuple(soma.broadcast_shapes((3, 1), (4,), ())) == (3, 4)
    with pytest.raises(RuntimeError, match="broadcast"):
        soma.broadcast_shapes((3,), (4,))


def test_fill_diagonal_and_shape_changes_in_place():
    a = soma.zeros(3, 2)
    a.fill_diagonal_(5.0)
    assert a.tolist() == [[5.0, 0.0], [0.0, 5.0], [0.0, 0.0]]
    b = soma.zeros(5, 2)
    b.fill_diagonal_(1.0, wrap=True)  # NumPy/PyTorch: restart after a blank row
    assert b.tolist() == [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    x = soma.ones(2, 3)
    assert x.unsqueeze_(0) is x and x.shape == (1, 2, 3)
    assert x.squeeze_() is x and x.shape == (2, 3)
    assert x.t_() is x and x.shape == (3, 2)


def test_random_fills_draw_from_their_distributions():
    g = soma.Generator().manual_seed(0)
    x = soma.empty(20000).random_(3, 7, generator=g)
    assert set(x.tolist()) == {3.0, 4.0, 5.0, 6.0}
    assert soma.empty(20000).geometric_(0.25, generator=g).mean().item() == pytest.approx(
        4, rel=0.05
    )
    ln = soma.empty(20000, dtype=soma.float64).log_normal_(0.0, 0.5, generator=g)
    assert soma.log(ln).std().item() == pytest.approx(0.5, rel=0.05)
    c = soma.empty(20001).cauchy_(2.0, generator=g)
    assert c.median().item() == pytest.approx(2.0, abs=0.05)
    probs = t([[0.0, 1.0, 0.0]])
    assert probs.multinomial(2, replacement=True, generator=g).tolist() == [[1, 1]]


def test_infinity_tests():
    a = t([math.inf, -math.inf, 1.0, math.nan])
    assert a.isposinf().tolist() == [True, False, False, False]
    assert soma.isneginf(a).tolist() == [False, True, False, False]
    assert soma.isreal(a).tolist() == [True] * 4


def test_top_level_functional_aliases_match_pytorch_signatures(torch_or_skip):
    torch = torch_or_skip
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 5))
    w = np.random.default_rng(1).standard_normal((3, 2, 3, 3))
    ours = soma.conv2d(t(x, soma.float64), t(w, soma.float64), None, 1, 1)
    theirs = torch.conv2d(torch.tensor(x), torch.tensor(w), None, 1, 1)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-12)
    ours = soma.max_pool2d(t(x, soma.float64), 2)
    np.testing.assert_allclose(ours.numpy(), torch.max_pool2d(torch.tensor(x), 2).numpy())
    y = soma.layer_norm(t(x, soma.float64), (5,))
    np.testing.assert_allclose(
        y.numpy(), torch.layer_norm(torch.tensor(x), (5,)).numpy(), atol=1e-12
    )


SECOND_BATCH = """diff cross cov corrcoef dist quantile nanquantile histogram renorm heaviside isposinf
isneginf isreal sgn gcd lcm ldexp hardshrink prelu vdot matrix_power ravel select tensor_split
hsplit vsplit dsplit tile swapdims fliplr flipud sum_to_size select_scatter slice_scatter
diagonal_scatter index_put put multinomial fill_diagonal_ squeeze_ unsqueeze_ transpose_ t_
swapaxes_ swapdims_ random_ geometric_ log_normal_ cauchy_ absolute_ negative_ multiply_ divide_
subtract_ true_divide_ floor_divide_ multiply divide subtract lgamma digamma polygamma mvlgamma
lgamma_ digamma_ polygamma_ mvlgamma_""".split()


def test_second_batch_of_methods_exists():
    assert [n for n in SECOND_BATCH if not hasattr(soma.Tensor, n)] == []


def test_det_gradient_at_a_singular_matrix_is_the_adjugate():
    # det [[a, b], [c, d]] = ad - bc: the gradient is [[d, -c], [-b, a]], 0 nowhere here
    a = soma.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=soma.float64, requires_grad=True)
    d = soma.linalg.det(a)
    assert d.item() == pytest.approx(0.0, abs=1e-12)
    d.backward()
    np.testing.assert_allclose(a.grad.numpy(), [[4.0, -2.0], [-2.0, 1.0]], atol=1e-12)


def test_linalg_and_special_namespaces():
    assert soma.linalg.solve(soma.eye(2) * 2, soma.ones(2)).tolist() == [0.5, 0.5]
    s, logabs = soma.linalg.slogdet(-soma.eye(3))
    assert s.item() == -1.0 and logabs.item() == 0.0
    a = np.array([[[2.0, 1.0], [1.0, -3.0]], [[1.0, 0.5], [0.0, 2.0]]])
    assert soma.linalg.slogdet(t(a)).sign.tolist() == [-1.0, 1.0]
    assert soma.special.expit(soma.tensor(0.0)).item() == 0.5


@pytest.mark.parametrize(
    "op",
    [
        lambda x, m: x.index_add_(1, m.tensor([0, 2, 0]), x.detach()[:, :3] * 2),
        lambda x, m: x.scatter_(1, m.tensor([[1], [0]]), 0.5),
        lambda x, m: x.masked_scatter_(x > 0, x.detach() * 3 + 1),
        lambda x, m: x.tril_(-1),
        lambda x, m: x.cumprod_(1),
        lambda x, m: x.atan_(),
        lambda x, m: x.unsqueeze_(0),
        lambda x, m: x.fill_diagonal_(2.0),
    ],
)
def test_inplace_methods_in_a_graph_match_pytorch(op, torch_or_skip):
    torch = torch_or_skip
    a = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    ours = t(a, soma.float64).requires_grad_()
    theirs = torch.tensor(a, requires_grad=True)
    y_s = ours * 1.5
    y_t = theirs * 1.5
    op(y_s, soma)
    op(y_t, torch)
    np.testing.assert_allclose(y_s.detach().numpy(), y_t.detach().numpy(), atol=1e-12)
    (y_s * y_s).sum().backward()
    (y_t * y_t).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), atol=1e-12)


def test_matrix_rank_by_hand():
    a = soma.tensor([[1.0, 2.0], [2.0, 4.0], [0.0, 0.0]])
    assert soma.linalg.matrix_rank(a).item() == 1
    assert soma.linalg.matrix_rank(soma.eye(3)).item() == 3
    assert soma.linalg.matrix_rank(soma.eye(3) * 1e-3, atol=0.01).item() == 0


def test_sign_of_nan_is_zero_as_pytorch():
    # PyTorch computes sign as [x > 0] − [x < 0]: NaN fails both comparisons (NumPy gives NaN)
    x = soma.tensor([float("nan"), -0.0, 0.0, -2.5, float("inf"), -float("inf")])
    assert soma.sign(x).tolist() == [0.0, 0.0, 0.0, -1.0, 1.0, -1.0]
    assert soma.sgn(x.double()).tolist() == [0.0, 0.0, 0.0, -1.0, 1.0, -1.0]
    assert x.sign().dtype == soma.float32


@pytest.mark.parametrize(
    "write",
    [
        lambda x: x.add_(1),
        lambda x: x.fill_(2.0),
        lambda x: x.zero_(),
        lambda x: x.uniform_(),
        lambda x: x.__setitem__(0, 5.0),
    ],
)
def test_writing_into_an_expanded_tensor_raises_pytorchs_error(write):
    # its rows share memory: PyTorch refuses with a RuntimeError (soma let NumPy's bare
    # "assignment destination is read-only" ValueError through)
    x = soma.zeros(1, 3).expand(2, 3)
    with pytest.raises(RuntimeError, match=r"refers to a single memory location.*clone\(\)"):
        write(x)
    assert x.tolist() == [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]


def test_one_hot_errors_are_runtime_errors_as_pytorch():
    F = soma.nn.functional
    with pytest.raises(RuntimeError, match="non-negative"):
        F.one_hot(soma.tensor([-1, 0]))
    with pytest.raises(RuntimeError, match="does not fit num_classes=2"):
        F.one_hot(soma.tensor([3]), 2)
    with pytest.raises(RuntimeError, match="integer tensor"):
        F.one_hot(soma.tensor([1.0]))
