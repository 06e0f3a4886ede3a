"""Reductions given an empty dim list, and max/min-like reductions of empty tensors, as in
PyTorch 2.13.

``x.sum(dim=())`` in PyTorch is the total over every dimension (as are mean, nansum, nanmean,
amax, amin, var, std, var_mean, std_mean, count_nonzero, norm and vector_norm), while
``all``/``any`` with ``dim=()`` reduce nothing; soma used to return the input unchanged for the
former, a silent wrong answer. Max/min-like reductions of an empty tensor give an empty result
over non-empty dimensions and raise PyTorch's error types otherwise: IndexError over an empty
dimension, RuntimeError over the whole tensor (IndexError for argmax/argmin). The hand-worked
values need no PyTorch; the last test compares every case with it.
"""

import numpy as np
import pytest

import soma

T = [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize("dim", [(), []])
@pytest.mark.parametrize(
    "op, expected",
    [
        (lambda t, d: t.sum(dim=d), 10.0),
        (lambda t, d: t.mean(dim=d), 2.5),
        (lambda t, d: soma.nansum(t, dim=d), 10.0),
        (lambda t, d: soma.nanmean(t, dim=d), 2.5),
        (lambda t, d: t.amax(dim=d), 4.0),
        (lambda t, d: t.amin(dim=d), 1.0),
        (lambda t, d: t.var(dim=d), 5.0 / 3.0),  # Σ(x - 2.5)² = 5, over n - 1 = 3
        (lambda t, d: t.std(dim=d), (5.0 / 3.0) ** 0.5),
        (lambda t, d: soma.count_nonzero(t, dim=d), 4),
        (lambda t, d: t.norm(dim=d), 30.0**0.5),
        (lambda t, d: soma.linalg.vector_norm(t, dim=d), 30.0**0.5),
        (lambda t, d: t.logsumexp(dim=d, keepdim=True), np.log(np.exp([1, 2, 3, 4]).sum())),
    ],
)
def test_an_empty_dim_list_reduces_every_dimension(op, dim, expected):
    got = op(soma.tensor(T), dim)
    assert got.numel() == 1
    np.testing.assert_allclose(float(got.reshape(())), expected, rtol=1e-6)


def test_var_mean_with_an_empty_dim_list():
    var, mean = soma.var_mean(soma.tensor(T), dim=())
    assert (var.shape, mean.shape) == ((), ())
    np.testing.assert_allclose([float(var), float(mean)], [5.0 / 3.0, 2.5], rtol=1e-6)


def test_keepdim_keeps_every_reduced_dimension():
    assert soma.tensor(T).sum(dim=(), keepdim=True).tolist() == [[10.0]]


@pytest.mark.parametrize("op", ["all", "any"])
def test_all_and_any_with_an_empty_dim_list_reduce_nothing(op):
    mask = soma.tensor([[True, False], [True, True]])
    assert getattr(mask, op)(dim=()).tolist() == mask.tolist()


def test_logsumexp_of_an_empty_dim_list_without_keepdim_is_refused():
    with pytest.raises(RuntimeError, match=r"logsumexp\(\): dim=\(\) with keepdim=False"):
        soma.tensor(T).logsumexp(dim=())


def test_max_over_a_non_empty_dimension_of_an_empty_tensor_is_empty():
    values, indices = soma.zeros(0, 3).max(1)
    assert values.shape == (0,) and indices.shape == (0,) and indices.dtype == soma.int64
    values, indices = soma.zeros(2, 0, 3).min(0, keepdim=True)
    assert values.shape == (1, 0, 3) and indices.shape == (1, 0, 3)
    assert soma.zeros(2, 0, 3).amax((0, 2)).shape == (0,)
    assert soma.zeros(2, 0, 3).argmax(2).shape == (2, 0)


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda x: x.max(), RuntimeError),
        (lambda x: x.min(), RuntimeError),
        (lambda x: x.amax(), RuntimeError),
        (lambda x: x.amin(dim=()), RuntimeError),
        (lambda x: x.aminmax(), RuntimeError),
        (lambda x: x.argmax(), IndexError),
        (lambda x: x.argmin(), IndexError),
        (lambda x: x.max(0), IndexError),
        (lambda x: x.min(0), IndexError),
        (lambda x: x.amax(0), IndexError),
        (lambda x: x.amax(dim=(0, 1)), IndexError),
        (lambda x: x.argmax(0), IndexError),
        (lambda x: x.aminmax(dim=0), IndexError),
        (lambda x: x.kthvalue(1, 0), IndexError),
    ],
)
def test_reductions_over_nothing_raise_pytorchs_error_types(call, error):
    with pytest.raises(error, match=r"\(\): "):
        call(soma.zeros(0, 3))


CASES = {
    "sum(dim=())": lambda L, t, e: L.sum(t, dim=()),
    "mean(dim=[])": lambda L, t, e: L.mean(t, dim=[]),
    "amax(dim=(), keepdim)": lambda L, t, e: L.amax(t, dim=(), keepdim=True),
    "std(dim=())": lambda L, t, e: L.std(t, dim=()),
    "var_mean(dim=[])": lambda L, t, e: L.var_mean(t, dim=[]),
    "count_nonzero(dim=())": lambda L, t, e: L.count_nonzero(t, dim=()),
    "norm(dim=())": lambda L, t, e: L.norm(t, dim=()),
    "vector_norm(ord=3, dim=())": lambda L, t, e: L.linalg.vector_norm(t, ord=3, dim=()),
    "all(dim=())": lambda L, t, e: L.all(t > 1, dim=()),
    "empty max(1)": lambda L, t, e: e.max(1),
    "empty amax((0, 2))": lambda L, t, e: e.amax((0, 2)),
    "empty argmin(2)": lambda L, t, e: e.argmin(2),
    "empty amax(1)": lambda L, t, e: e.amax(1),
    "empty argmax(1)": lambda L, t, e: e.argmax(1),
    "empty max()": lambda L, t, e: e.max(),
    "empty argmax()": lambda L, t, e: e.argmax(),
}


@pytest.mark.parametrize("case", CASES)
def test_the_same_as_pytorch(torch_or_skip, case):
    results = []
    for L in (torch_or_skip, soma):
        try:
            out = CASES[case](L, L.tensor(T), L.zeros(2, 0, 3))
        except Exception as error:  # noqa: BLE001 (the error types are compared)
            results.append(type(error))
            continue
        parts = out if isinstance(out, tuple) else (out,)
        results.append([np.asarray(p.tolist(), dtype=float).reshape(p.shape) for p in parts])
    theirs, ours = results
    if isinstance(theirs, type) or isinstance(ours, type):
        assert theirs == ours
        return
    assert [p.shape for p in ours] == [p.shape for p in theirs]
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-6)
