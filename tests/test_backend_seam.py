"""The backend seam is real (issue 10 §4): every kernel reaches its array library through it.

A second backend, ``tests/recording_backend.py`` (NumPy behind a recorder whose arrays refuse
NumPy functions reached any other way), is registered and made active; then every row of the op
table runs forward and backward on its arrays. A kernel holding a NumPy handle of its own would
raise ``DirectNumpyCall`` or hand back a plain ndarray; the values must equal the NumPy
backend's, bit for bit.
"""

import ast
from pathlib import Path

import numpy as np
import pytest

import soma
from soma import backend
from soma.backend import compiled
from tests.op_specs import all_specs
from tests.recording_backend import RecordingArray, RecordingModule, host

SPECS = all_specs()
SRC = Path(soma.__file__).resolve().parent
RECORDER = RecordingModule()
backend.register_backend("recording", RECORDER, RecordingArray)


def _numpy_imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        if any(name == "numpy" or name.startswith("numpy.") for name in names):
            yield node.lineno


def test_no_module_outside_backend_imports_numpy():
    offenders = [
        f"{path.relative_to(SRC)}:{line}"
        for path in sorted(SRC.rglob("*.py"))
        if "backend" not in path.relative_to(SRC).parts[:1]
        for line in _numpy_imports(path)
    ]
    assert not offenders, f"NumPy imported outside soma.backend: {offenders}"


def test_the_seam_follows_the_active_backend_and_restores_it():
    xp = backend.get_xp()
    assert xp.exp is np.exp
    with backend.use_backend("recording") as active:
        assert active.name == "recording"
        assert backend.get_xp() is xp  # the same stand-in; only what it forwards to changes
        assert xp.exp is RECORDER.exp
        assert isinstance(xp.zeros(3), RecordingArray)
        assert backend.is_array(xp.zeros(3)) and not backend.is_array([0.0])
    assert xp.exp is np.exp
    assert backend.active_backend().name == "numpy"


def test_an_unknown_backend_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown array backend 'cupyy'.*numpy"):
        backend.set_backend("cupyy")


def test_the_recorder_catches_a_kernel_that_reaches_numpy_directly():
    """The oracle can fail: a function handing a backend array to NumPy is caught."""
    from tests.recording_backend import DirectNumpyCall

    with backend.use_backend("recording"):
        a = backend.get_xp().ones(3)
    with pytest.raises(DirectNumpyCall, match="numpy.concatenate"):
        np.concatenate([a, a])


def _run(spec, arrays, requires):
    """Forward, then backward of a fixed random projection of every float output."""
    inputs = [
        soma.tensor(a, dtype=a.dtype, requires_grad=(i in requires)) for i, a in enumerate(arrays)
    ]
    out = spec.soma(*inputs)
    outs = [o for o in (out if isinstance(out, (tuple, list)) else [out])]
    outs = [o for o in outs if isinstance(o, soma.Tensor)]
    loss = None
    for k, o in enumerate(outs):
        if o.requires_grad and o.dtype.kind == "f":
            weight = np.random.default_rng(k).standard_normal(tuple(o.shape))
            term = (o * soma.tensor(backend.get_xp().asarray(weight), dtype=o.dtype)).sum()
            loss = term if loss is None else loss + term
    if loss is not None:
        loss.backward()
    grads = [inputs[i].grad for i in requires]
    return outs, grads


@pytest.mark.parametrize("spec", SPECS, ids=[s.id for s in SPECS])
def test_every_op_runs_on_the_second_backend(spec):
    arrays = spec.inputs()
    requires = spec.differentiable(arrays)
    # NOTE: the NumPy forms on both backends (compiled kernels run on the NumPy backend only
    # and may differ from the NumPy forms in the last bit)
    with compiled.disabled():
        outs_np, grads_np = _run(spec, arrays, requires)
    with backend.use_backend("recording"):
        xp = backend.get_xp()
        before = sum(RECORDER.calls.values())
        outs, grads = _run(spec, [xp.asarray(a) for a in arrays], requires)
        assert sum(RECORDER.calls.values()) > before, f"{spec.id}: no call reached the backend"
    for k, (ours, reference) in enumerate(zip(outs, outs_np)):
        assert isinstance(ours.array, RecordingArray), (
            f"{spec.id}: output {k} is a {type(ours.array).__name__}, not the backend's array"
        )
        np.testing.assert_array_equal(host(ours.array), host(reference.array), err_msg=spec.id)
    for i, (ours, reference) in zip(requires, zip(grads, grads_np)):
        if reference is None:
            continue
        assert ours is not None, f"{spec.id}: no gradient for input {i} on the second backend"
        assert isinstance(ours.array, RecordingArray), (
            f"{spec.id}: gradient {i} is a {type(ours.array).__name__}, not the backend's array"
        )
        np.testing.assert_array_equal(host(ours.array), host(reference.array), err_msg=spec.id)


def test_the_recorder_catches_an_array_made_outside_the_backend():
    """The oracle can fail: arithmetic mixing a host ndarray into backend arrays is caught."""
    from tests.recording_backend import HostArrayMixed

    with backend.use_backend("recording"):
        a = backend.get_xp().ones(3)
        with pytest.raises(HostArrayMixed, match=r"numpy.multiply.*shape \(3,\)"):
            a * np.ones(3)


def _models():
    nn = soma.nn
    return {
        "lenet5": (lambda: soma.models.lenet5(num_classes=10), (4, 1, 32, 32)),
        "cnn_batchnorm": (
            lambda: nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1),
                nn.BatchNorm2d(8),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Flatten(),
                nn.Dropout(0.3),
                nn.Linear(8 * 4 * 4, 10),
            ),
            (4, 3, 8, 8),
        ),
        "lstm": (lambda: _LastStep(nn.LSTM(6, 10, num_layers=2, batch_first=True)), (4, 5, 6)),
        "transformer": (
            lambda: _Pooled(nn.TransformerEncoderLayer(16, 4, 32, dropout=0.1, batch_first=True)),
            (4, 5, 16),
        ),
    }


class _LastStep(soma.nn.Module):
    def __init__(self, rnn):
        super().__init__()
        self.rnn, self.head = rnn, soma.nn.Linear(rnn.hidden_size, 10)

    def forward(self, x):
        return self.head(self.rnn(x)[0][:, -1])


class _Pooled(soma.nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.layer, self.head = layer, soma.nn.Linear(16, 10)

    def forward(self, x):
        return self.head(self.layer(x).mean(1))


def _train_steps(build, shape, optimizer):
    soma.manual_seed(0)
    model = build()
    opt = optimizer(model.parameters())
    x = soma.randn(*shape)
    y = soma.randint(0, 10, (shape[0],))
    for _ in range(2):
        opt.zero_grad()
        loss = soma.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return [p.array for p in model.parameters()] + [b.array for b in model.buffers()]


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
@pytest.mark.parametrize("name", sorted(_models()))
def test_models_train_on_the_second_backend(name, optimizer):
    """Layers, initialisation, random draws and optimizers all go through the seam too."""
    build, shape = _models()[name]
    make = getattr(soma.optim, optimizer)

    def opt(params):
        return make(params, lr=0.1, momentum=0.9) if optimizer == "SGD" else make(params)

    with compiled.disabled():  # the NumPy forms on both backends, as above
        expected = _train_steps(build, shape, opt)
    with backend.use_backend("recording"):
        got = _train_steps(build, shape, opt)
    for k, (ours, reference) in enumerate(zip(got, expected)):
        assert isinstance(ours, RecordingArray), f"{name}: state {k} is a {type(ours).__name__}"
        np.testing.assert_array_equal(host(ours), reference, err_msg=f"{name}: state {k}")


def test_a_name_the_backend_lacks_gets_its_stand_in_or_a_clear_error():
    """CuPy has no ``errstate`` (GPU math raises no floating-point flags): a no-op stands in."""
    import types

    bare = types.ModuleType("bare")
    backend.register_backend("bare", bare, RecordingArray)
    with backend.use_backend("bare"):
        with backend.get_xp().errstate(divide="ignore"):
            pass
        with pytest.raises(AttributeError, match="exp"):
            backend.get_xp().exp  # noqa: B018
