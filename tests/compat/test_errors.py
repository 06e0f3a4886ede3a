"""Issue 11 §7: a mistake raises an error of the class PyTorch raises for it (soma's message)."""

import pytest

import soma

torch = pytest.importorskip("torch")

CASES = {
    "matmul": lambda m: m.ones(2, 3) @ m.ones(2, 3),
    "broadcast": lambda m: m.ones(2, 3) + m.ones(2, 4),
    "view": lambda m: m.ones(2, 3).view(4, 2),
    "reshape": lambda m: m.ones(2, 3).reshape(5),
    "cat": lambda m: m.cat([m.ones(2, 3), m.ones(3, 4)], 0),
    "stack": lambda m: m.stack([m.ones(2, 3), m.ones(3, 3)]),
    "expand": lambda m: m.ones(2, 3).expand(4, 3),
    "linear-in-features": lambda m: m.nn.Linear(4, 2)(m.ones(2, 3)),
    "linear-dtype": lambda m: m.nn.Linear(3, 2)(m.ones(2, 3, dtype=m.float64)),
    "conv-channels": lambda m: m.nn.Conv2d(3, 2, 3)(m.ones(1, 2, 5, 5)),
    "batchnorm-features": lambda m: m.nn.BatchNorm1d(4)(m.ones(2, 3)),
    "lstm-input-size": lambda m: m.nn.LSTM(4, 3)(m.ones(2, 1, 3)),
    "mse-shapes": lambda m: m.nn.functional.mse_loss(m.ones(2, 3), m.ones(3, 2)),
    "cross-entropy-batch": lambda m: m.nn.functional.cross_entropy(
        m.ones(2, 3), m.tensor([0, 1, 2])
    ),
    "item": lambda m: m.ones(2, 3).item(),
    "index": lambda m: m.ones(2, 3)[5],
    "dim-range": lambda m: m.ones(2, 3).sum(dim=3),
    "embedding-range": lambda m: m.nn.Embedding(3, 2)(m.tensor([5])),
    "nll-target": lambda m: m.nn.functional.nll_loss(m.ones(2, 3), m.tensor([0, 7])),
}


def _error(fn, module):
    with pytest.raises(Exception) as info:  # noqa: PT011  (the class is what is compared)
        fn(module)
    return info.value


@pytest.mark.parametrize("case", sorted(CASES))
def test_soma_raises_what_pytorch_code_catches(case):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = _error(CASES[case], torch)
    got = _error(CASES[case], soma)
    assert isinstance(got, type(expected)), (type(got).__mro__, type(expected))


def test_the_error_keeps_somas_class_and_message():
    error = _error(CASES["matmul"], soma)
    assert isinstance(error, ValueError) and isinstance(error, RuntimeError)
    assert str(error).startswith("matmul: shapes (2, 3) and (2, 3) cannot be multiplied")
    error = _error(CASES["linear-in-features"], soma)
    assert isinstance(error, ValueError) and "Linear" in str(error)
    error = _error(CASES["linear-dtype"], soma)
    assert isinstance(error, TypeError) and isinstance(error, RuntimeError)
    assert "float64" in str(error)


def test_errors_of_their_own_class_are_not_converted():
    from soma.autograd.errors import as_pytorch_error
    from soma.io import CheckpointError

    own = CheckpointError("bad file")
    assert as_pytorch_error(own) is own
    converted = as_pytorch_error(ValueError("x"))
    assert type(converted).__name__ == "ShapeError" and converted.args == ("x",)
