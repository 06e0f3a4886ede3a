"""Whole-model ``save``/``load`` (issue 11 §5): class paths + attributes + tensors, no code run."""

import io
import json
import struct

import pytest

import soma
from soma import nn
from soma.io import UnsafeCheckpointError


class Net(nn.Module):
    def __init__(self, width=4):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, width), nn.ReLU(), nn.BatchNorm1d(width))
        self.head = nn.Linear(width, 2)
        self.head2 = nn.Linear(width, 2)
        self.head2.weight = self.head.weight  # tied
        self.register_buffer("scale", soma.tensor(0.5))
        self.register_buffer("cache", soma.zeros(2), persistent=False)
        self.tag, self.sizes, self.act = "net", (3, width), soma.nn.functional.relu
        self.device = soma.device("cpu")

    def forward(self, x):
        h = self.body(x)
        return self.act(self.head(h)) * self.scale + self.head2(h)


def _roundtrip(obj, **load_args):
    buf = io.BytesIO()
    soma.save(obj, buf)
    return soma.load(io.BytesIO(buf.getvalue()), **load_args)


def test_soma_layers_round_trip_without_asking():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.Flatten(),
                          nn.Linear(2 * 4 * 4, 3))  # fmt: skip
    model(soma.randn(2, 1, 4, 4))
    model.eval()
    loaded = _roundtrip(model)
    x = soma.randn(5, 1, 4, 4)
    assert type(loaded) is nn.Sequential and loaded.training is False
    assert soma.equal(loaded(x), model(x))
    assert [type(m).__name__ for m in loaded] == ["Conv2d", "BatchNorm2d", "Flatten", "Linear"]


def test_user_class_needs_allowing_with_weights_only():
    model = Net()
    with pytest.raises(UnsafeCheckpointError, match=r"test_whole_model\.Net.*add_safe_globals"):
        _roundtrip(model)
    with soma.serialization.safe_globals([Net]):
        loaded = _roundtrip(model)
    assert Net not in soma.serialization.get_safe_globals()  # the block's allowance ended
    with pytest.raises(UnsafeCheckpointError):
        _roundtrip(model)
    soma.serialization.add_safe_globals([Net])
    try:
        assert type(_roundtrip(model)) is Net
    finally:
        soma.serialization.clear_safe_globals()
    x = soma.randn(4, 3)
    model.eval(), loaded.eval()
    assert soma.equal(loaded(x), model(x))
    assert (loaded.tag, loaded.sizes, loaded.act, loaded.device) == (
        "net",
        (3, 4),
        soma.nn.functional.relu,
        soma.device("cpu"),
    )
    assert loaded.head2.weight is loaded.head.weight  # ties survive
    assert "cache" in dict(loaded.named_buffers()) and "cache" not in loaded.state_dict()
    assert [n for n, _ in loaded.named_parameters()] == [n for n, _ in model.named_parameters()]


def test_weights_only_false_allows_imported_module_classes():
    loaded = _roundtrip(Net(), weights_only=False)
    assert type(loaded) is Net


def _tampered(model, old, new):
    """A saved file whose class path is rewritten (header and checksum kept consistent)."""
    import hashlib

    buf = io.BytesIO()
    soma.save(model, buf)
    blob = buf.getvalue()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    meta = header["__metadata__"]["soma"].replace(old, new)
    digest = hashlib.sha256(meta.encode())
    body = blob[8 + n :]
    from soma.io.serialization import _read_tensors

    arrays = _read_tensors(blob, "x")
    for name in sorted(arrays):
        digest.update(name.encode())
        digest.update(arrays[name].tobytes())
    header["__metadata__"] = {"soma": meta, "soma.sha256": digest.hexdigest()}
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


def test_a_class_no_program_imported_is_never_imported():
    blob = _tampered(nn.Linear(2, 2), "soma.nn.modules.linear.Linear", "os.system")
    for weights_only in (True, False):
        with pytest.raises(UnsafeCheckpointError, match="os.system"):
            soma.load(io.BytesIO(blob), weights_only=weights_only)
    blob = _tampered(nn.Linear(2, 2), "soma.nn.modules.linear.Linear", "some_pkg_x.evil.Net")
    with pytest.raises(UnsafeCheckpointError, match="some_pkg_x.evil.Net"):
        soma.load(io.BytesIO(blob), weights_only=False)
    import sys

    assert "some_pkg_x" not in sys.modules


def test_pytorch_class_paths_name_soma_classes():
    blob = _tampered(nn.Linear(2, 3), "soma.nn.modules.linear.Linear",
                     "torch.nn.modules.linear.Linear")  # fmt: skip
    loaded = soma.load(io.BytesIO(blob))
    assert type(loaded) is nn.Linear and loaded.out_features == 3
    from soma.io.whole_model import torch_to_soma_path

    assert torch_to_soma_path("torch.nn.modules.conv.Conv2d") == "soma.nn.Conv2d"
    assert torch_to_soma_path("torch.nn.functional.relu") == "soma.nn.functional.relu"


def test_unsafe_globals_are_listed():
    buf = io.BytesIO()
    soma.save({"model": Net(), "epoch": 3}, buf)
    paths = soma.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(buf.getvalue()))
    assert len(paths) == 1 and paths[0].endswith("test_whole_model.Net"), paths


class _Hooked(nn.Module):
    def __init__(self):
        super().__init__()
        self.fn = lambda x: x


def test_what_cannot_be_saved_is_named():
    with pytest.raises(TypeError, match="attribute 'fn' is a lambda"):
        soma.save(_Hooked(), io.BytesIO())
    model = nn.Linear(2, 2)
    model.register_forward_hook(lambda m, i, o: None)
    with pytest.raises(TypeError, match="_forward_hooks"):
        soma.save(model, io.BytesIO())

    class Local(nn.Module):
        pass

    with pytest.raises(TypeError, match="defined inside a function"):
        soma.save(Local(), io.BytesIO())


def test_checkpoint_dict_with_a_model_inside():
    model = nn.Linear(2, 1)
    loaded = _roundtrip({"model": model, "epoch": 4})
    assert loaded["epoch"] == 4 and soma.equal(loaded["model"].weight, model.weight)


def test_load_reads_a_torch_save_file_without_unpickling(tmp_path):
    torch = pytest.importorskip("torch")
    tmodel = torch.nn.Linear(3, 2)
    path = tmp_path / "state.pt"
    torch.save(tmodel.state_dict(), path)
    model = nn.Linear(3, 2)
    model.load_state_dict(soma.load(path, weights_only=True))
    x = torch.randn(4, 3)
    got = model(soma.tensor(x.numpy())).detach().numpy()
    assert abs(got - tmodel(x).detach().numpy()).max() < 1e-6


def test_load_rebuilds_a_whole_pytorch_model_as_soma_modules(tmp_path):
    torch = pytest.importorskip("torch")
    tnn = torch.nn

    class Model(tnn.Module):
        def __init__(self):
            super().__init__()
            self.features = tnn.Sequential(
                tnn.Conv2d(1, 4, 3, padding=1), tnn.BatchNorm2d(4), tnn.ReLU(), tnn.MaxPool2d(2),
                tnn.Dropout(0.2), tnn.Flatten(),
            )  # fmt: skip
            self.rnn = tnn.LSTM(4, 3, batch_first=True)
            self.head = tnn.Linear(64, 2)
            self.tied = self.head  # shared module
            self.scale = 2.0

        def forward(self, x):
            return self.head(self.features(x)) * self.scale

    # the pickle names the class by import path: give it one (a program's __main__.Model)
    import sys
    import types

    home = types.ModuleType("compat_program_x")
    Model.__module__, Model.__qualname__, home.Model = "compat_program_x", "Model", Model
    sys.modules["compat_program_x"] = home
    try:
        tmodel = Model()
        tmodel.features[1].running_mean.add_(0.5)
        tmodel.eval()
        torch.save(tmodel, tmp_path / "whole.pt")
    finally:
        del sys.modules["compat_program_x"]
    for weights_only in (True, False):  # not allowed, not imported: refused either way
        with pytest.raises(UnsafeCheckpointError, match="compat_program_x.Model"):
            soma.load(tmp_path / "whole.pt", weights_only=weights_only)
    with soma.serialization.safe_globals([(SomaTwin, "compat_program_x.Model")]):
        model = soma.load(tmp_path / "whole.pt")
    assert type(model) is SomaTwin and type(model.features[0]) is nn.Conv2d
    assert type(model.rnn) is nn.LSTM and type(model.features[4]) is nn.Dropout
    assert model.tied is model.head and model.scale == 2.0 and model.training is False
    x = torch.randn(2, 1, 8, 8)
    expected = tmodel(x).detach().numpy()
    got = model(soma.tensor(x.numpy())).detach().numpy()
    assert abs(got - expected).max() < 1e-5
    np_mean = model.features[1].running_mean.numpy()
    assert abs(np_mean - 0.5).max() == 0
    seq = torch.randn(2, 5, 4)
    out, _ = model.rnn(soma.tensor(seq.numpy()))
    assert abs(out.detach().numpy() - tmodel.rnn(seq)[0].detach().numpy()).max() < 1e-5


class SomaTwin(nn.Module):
    def forward(self, x):
        return self.head(self.features(x)) * self.scale


@pytest.mark.parametrize("name,shape", [("lenet5", (2, 1, 32, 32)), ("resnet18", (1, 3, 32, 32)),
                                        ("vit_tiny", (1, 3, 32, 32))])  # fmt: skip
def test_zoo_models_round_trip_whole(name, shape):
    from soma.models import get_model

    soma.manual_seed(0)
    model = get_model(name, num_classes=10).eval()  # vit_tiny takes 32x32 images
    loaded = _roundtrip(model)
    x = soma.randn(*shape)
    with soma.no_grad():
        assert soma.equal(loaded(x), model(x))
    assert type(loaded) is type(model)
