"""Shape ops and norms at their argument edges, as PyTorch 2.13 (all found silently wrong or
missing in soma, each checked by hand here and against PyTorch at the end):

* ``narrow`` with a negative start counts from the end (soma returned an empty slice), and a
  run outside the dimension raises (soma clipped it as Python slicing does);
* ``roll`` without dims (None or ``()``) rolls the flattened tensor (``()`` returned the input),
  and shifts that do not pair up with dims raise (soma summed or broadcast them);
* ``flatten`` with start_dim after end_dim and ``movedim`` with a repeated dim raise (soma
  returned a reshaped or unchanged tensor); ``chunk`` with chunks <= 0 raises a RuntimeError;
* ``norm(p='nuc')`` and ``linalg.matrix_norm`` with ``'nuc'``, ``2`` and ``-2`` (singular
  values, with gradients), and ``linalg.norm`` refuses an empty dim list.
"""

import numpy as np
import pytest

import soma
from soma.testing import gradcheck

T = [[1.0, 2.0], [3.0, 4.0]]


def test_narrow_counts_a_negative_start_from_the_end():
    t = soma.tensor(T)
    assert soma.narrow(t, 0, -1, 1).tolist() == [[3.0, 4.0]]
    assert t.narrow(-1, -2, 1).tolist() == [[1.0], [3.0]]
    assert soma.narrow(t, 0, 2, 0).shape == (0, 2)


@pytest.mark.parametrize(
    "start, length, error",
    [(-3, 1, IndexError), (3, 0, IndexError), (1, -1, RuntimeError), (0, 3, RuntimeError)],
)
def test_narrow_outside_the_dimension_raises(start, length, error):
    with pytest.raises(error, match=r"narrow\(\)"):
        soma.narrow(soma.tensor(T), 0, start, length)


@pytest.mark.parametrize("dims", [None, (), []])
def test_roll_without_dims_rolls_the_flattened_tensor(dims):
    assert soma.roll(soma.tensor(T), 1, dims).tolist() == [[4.0, 1.0], [2.0, 3.0]]


def test_roll_pairs_shifts_with_dims():
    t = soma.tensor(T)
    assert soma.roll(t, [1, -1], [0, 1]).tolist() == [[4.0, 3.0], [2.0, 1.0]]
    assert soma.roll(t, (1, 1), (0, 0)).tolist() == T  # twice by one along a length-2 axis


@pytest.mark.parametrize("shifts, dims", [((1, 2), None), ((1, 2), (0,)), (1, (0, 1))])
def test_roll_with_unpaired_shifts_raises(shifts, dims):
    with pytest.raises(RuntimeError, match="roll: shifts .* must pair up"):
        soma.roll(soma.tensor(T), shifts, dims)


def test_roll_gradient_rolls_back():
    x = soma.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert gradcheck(lambda x: soma.roll(x, (1, -2), (0, 1)), (x,))
    assert gradcheck(lambda x: soma.roll(x, 4, ()), (x,))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda t: t.flatten(1, 0), "flatten: start_dim 1 comes after end_dim 0"),
        (lambda t: t.movedim((0, 1), (1, 1)), r"movedim: repeated dim in destination \(1, 1\)"),
        (lambda t: t.movedim((0, 0), (1, 0)), r"movedim: repeated dim in source \(0, 0\)"),
        (lambda t: soma.chunk(t, 0), "chunk: chunks must be greater than 0, got 0"),
        (lambda t: soma.linalg.norm(t, dim=()), "linalg.norm: dim must name 1 or 2"),
        (lambda t: soma.norm(t, p="nuc", dim=1), "norm: p='nuc' needs two dimensions"),
    ],
)
def test_bad_arguments_raise_runtime_errors(call, message):
    with pytest.raises(RuntimeError, match=message):
        call(soma.tensor(T))


def test_nuclear_and_spectral_norms_by_hand():
    """diag(3, -4): singular values 4 and 3."""
    d = soma.tensor([[3.0, 0.0], [0.0, -4.0]])
    assert float(soma.norm(d, p="nuc")) == pytest.approx(7.0)
    assert float(soma.linalg.matrix_norm(d, "nuc")) == pytest.approx(7.0)
    assert float(soma.linalg.matrix_norm(d, 2)) == pytest.approx(4.0)
    assert float(soma.linalg.matrix_norm(d, -2)) == pytest.approx(3.0)
    assert soma.linalg.matrix_norm(soma.stack([d, d]), "nuc", keepdim=True).shape == (2, 1, 1)


@pytest.mark.parametrize("order", ["nuc", 2, -2])
def test_matrix_norm_gradients(order):
    rng = np.random.default_rng(3)
    a = soma.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    assert gradcheck(lambda a: soma.linalg.matrix_norm(a, order, dim=(0, 2)), (a,))


CASES = {
    "narrow(0, -1, 1)": lambda L, t: L.narrow(t, 0, -1, 1),
    "narrow(0, 0, 3)": lambda L, t: L.narrow(t, 0, 0, 3),
    "narrow(0, -3, 1)": lambda L, t: L.narrow(t, 0, -3, 1),
    "roll(1, ())": lambda L, t: L.roll(t, 1, ()),
    "roll((1, 2))": lambda L, t: L.roll(t, (1, 2)),
    "flatten(1, 0)": lambda L, t: t.flatten(1, 0),
    "movedim((0, 1), (1, 1))": lambda L, t: t.movedim((0, 1), (1, 1)),
    "chunk(0)": lambda L, t: L.chunk(t, 0),
    "norm(nuc)": lambda L, t: L.norm(t, p="nuc"),
    "matrix_norm(2)": lambda L, t: L.linalg.matrix_norm(t, 2),
    "matrix_norm(-2, keepdim)": lambda L, t: L.linalg.matrix_norm(t, -2, keepdim=True),
    "linalg.norm(dim=())": lambda L, t: L.linalg.norm(t, dim=()),
}


@pytest.mark.parametrize("case", CASES)
def test_the_same_as_pytorch(torch_or_skip, case):
    results = []
    for L in (torch_or_skip, soma):
        try:
            out = CASES[case](L, L.tensor(T))
        except (IndexError, RuntimeError) as error:
            results.append(IndexError if isinstance(error, IndexError) else RuntimeError)
            continue
        results.append(np.asarray(out.tolist()))
    theirs, ours = results
    if isinstance(theirs, type) or isinstance(ours, type):
        assert theirs == ours
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize("p", [1, 2, 3, float("inf")])
@pytest.mark.parametrize("dim", [(1, 2), [0, 2], (0, 1, 2)])
def test_normalize_over_several_dimensions(p, dim):
    """F.normalize with a tuple of dims divides by the norm over all of them (it raised)."""
    x = np.random.default_rng(5).standard_normal((2, 3, 4))
    got = soma.nn.functional.normalize(soma.tensor(x), p=p, dim=dim).numpy()
    axes = tuple(d % 3 for d in dim)
    if p == float("inf"):
        length = np.abs(x).max(axis=axes, keepdims=True)
    else:
        length = (np.abs(x) ** p).sum(axis=axes, keepdims=True) ** (1 / p)
    np.testing.assert_allclose(got, x / length, rtol=1e-12)
