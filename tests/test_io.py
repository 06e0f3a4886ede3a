"""soma.save / soma.load: round trips, safetensors compatibility, refusal of damaged files."""

import io
import json
import os

import numpy as np
import pytest
import safetensors.numpy

import soma
from soma.io import CheckpointError


def _model():
    return soma.nn.Sequential(soma.nn.Linear(4, 8), soma.nn.ReLU(), soma.nn.Linear(8, 3))


def test_state_dict_round_trip_is_bit_exact(tmp_path):
    model = _model()
    path = tmp_path / "model.safetensors"
    soma.save(model.state_dict(), path)
    other = _model()
    other.load_state_dict(soma.load(path))
    for (k, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)


def test_a_state_dict_file_is_plain_safetensors(tmp_path):
    model = _model()
    path = tmp_path / "model.safetensors"
    soma.save(model.state_dict(), path)
    with open(path, "rb") as f:
        plain = safetensors.numpy.load(f.read())
    assert sorted(plain) == sorted(model.state_dict())
    np.testing.assert_array_equal(plain["0.weight"], model[0].weight.detach().numpy())


def test_nested_values_of_every_kind_round_trip():
    obj = {
        "t": soma.arange(6).reshape(2, 3),
        "b": soma.tensor([True, False]),
        "h": soma.zeros(2, dtype=soma.float16),
        "scalar": soma.tensor(2.5),
        "empty": soma.zeros(0, 3),
        "arr": np.arange(3.0),
        "nums": [1, 2.5, None, "x", True, float("inf")],
        "tup": (1, (2, 3)),
        3: {"__odd": 1},  # non-string key, key with the marker prefix
        "deep": {"a.b": soma.ones(1), "a": {"b": soma.zeros(1)}},  # colliding paths
        "dtype": soma.float64,
        "npscalar": np.float32(1.5),
    }
    buf = io.BytesIO()
    soma.save(obj, buf)
    out = soma.load(io.BytesIO(buf.getvalue()))
    assert out["t"].tolist() == [[0, 1, 2], [3, 4, 5]] and out["t"].dtype == soma.int64
    assert out["b"].dtype == soma.bool and out["h"].dtype == soma.float16
    assert out["scalar"].shape == () and out["scalar"].item() == 2.5
    assert tuple(out["empty"].shape) == (0, 3)
    assert isinstance(out["arr"], np.ndarray) and not isinstance(out["arr"], soma.Tensor)
    assert out["nums"] == [1, 2.5, None, "x", True, float("inf")]
    assert out["tup"] == (1, (2, 3))
    assert out[3] == {"__odd": 1}
    assert out["deep"]["a.b"].tolist() == [1.0] and out["deep"]["a"]["b"].tolist() == [0.0]
    assert out["dtype"] == soma.float64 and out["npscalar"] == 1.5
    out["t"].add_(1)  # loaded tensors are writable


def test_unsupported_values_are_refused_with_their_path():
    with pytest.raises(TypeError, match=r"type function at 'opt.fn'.*no pickle"):
        soma.save({"opt": {"fn": lambda x: x}}, io.BytesIO())
    # a whole Module is saved since issue 11 (tests/test_compat_whole_model.py); an optimizer
    # is not: its state_dict() is the way
    opt = soma.optim.SGD(_model().parameters(), lr=0.1)
    with pytest.raises(TypeError, match=r"cannot save a SGD object; save its state_dict"):
        soma.save(opt, io.BytesIO())


def _saved(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    soma.save({"w": soma.randn(64, 32), "step": 7}, path)
    return path, path.read_bytes()


@pytest.mark.parametrize("keep", [0, 5, 40, 200, -1])
def test_truncated_files_are_refused(tmp_path, keep):
    path, blob = _saved(tmp_path)
    path.write_bytes(blob[:keep] if keep >= 0 else blob[:-3])
    with pytest.raises(CheckpointError, match="truncated|corrupt"):
        soma.load(path)


def test_flipped_bytes_anywhere_are_refused(tmp_path):
    path, blob = _saved(tmp_path)
    header_end = 8 + int.from_bytes(blob[:8], "little")
    positions = [
        0,
        3,
        9,
        30,
        header_end - 40,
        header_end - 2,
        header_end,
        header_end + 1000,
        len(blob) - 1,
    ]
    for pos in positions:
        damaged = bytearray(blob)
        damaged[pos] ^= 0x5A
        path.write_bytes(bytes(damaged))
        with pytest.raises(CheckpointError):
            soma.load(path)


def test_a_tensor_bit_flip_is_caught_by_the_checksum(tmp_path):
    path, blob = _saved(tmp_path)
    damaged = bytearray(blob)
    damaged[-100] ^= 0x01  # a plausible float: only the checksum can tell
    path.write_bytes(bytes(damaged))
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        soma.load(path)


def test_missing_file_and_non_safetensors_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        soma.load(tmp_path / "nope.safetensors")
    (tmp_path / "x.txt").write_text("hello, this is not a checkpoint at all")
    with pytest.raises(CheckpointError):
        soma.load(tmp_path / "x.txt")


def test_writes_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    soma.save({"w": soma.ones(3)}, path)

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        soma.save({"w": soma.zeros(3)}, path)
    assert soma.load(path)["w"].tolist() == [1.0, 1.0, 1.0]  # the old file is intact
    assert os.listdir(tmp_path) == ["m.safetensors"]  # no temporary left behind


def test_metadata_is_readable_json(tmp_path):
    path = tmp_path / "m.safetensors"
    soma.save({"w": soma.ones(2), "lr": 0.1}, path)
    blob = path.read_bytes()
    header = json.loads(blob[8 : 8 + int.from_bytes(blob[:8], "little")])
    meta = json.loads(header["__metadata__"]["soma"])
    assert meta["structure"] == {"w": {"__tensor__": "w"}, "lr": 0.1}
    assert meta["tensors"] == {"w": {"dtype": "float32", "shape": [2]}}


def test_checkpoint_restore_checks_names_shapes_dtypes(tmp_path):
    model, opt = _model(), None
    path = tmp_path / "c.safetensors"
    soma.io.save_checkpoint(path, model, epoch=3, extra={"model": "mlp"})
    ckpt = soma.io.load_checkpoint(path, _model())
    assert ckpt["epoch"] == 3 and ckpt["extra"] == {"model": "mlp"}
    wrong = soma.nn.Sequential(soma.nn.Linear(4, 8), soma.nn.ReLU(), soma.nn.Linear(8, 5))
    with pytest.raises(
        CheckpointError, match=r"2.weight: checkpoint has shape \(3, 8\), model has \(5, 8\)"
    ):
        soma.io.load_checkpoint(path, wrong)
    with pytest.raises(CheckpointError, match="dtype float32, model has float64"):
        soma.io.load_checkpoint(path, _model().double())
    renamed = soma.nn.Sequential(soma.nn.Linear(4, 8))
    with pytest.raises(CheckpointError, match="but not in the model: 2.weight, 2.bias"):
        soma.io.load_checkpoint(path, renamed)
    soma.save(model.state_dict(), tmp_path / "sd.safetensors")
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        soma.io.load_checkpoint(tmp_path / "sd.safetensors", _model())
    del opt


def test_checkpoint_restores_rng_state(tmp_path):
    path = tmp_path / "c.safetensors"
    soma.manual_seed(5)
    soma.io.save_checkpoint(path, _model())
    expected = soma.rand(4).tolist()
    soma.rand(10)
    soma.io.load_checkpoint(path, _model())
    assert soma.rand(4).tolist() == expected


def test_optimizer_state_round_trip(tmp_path):
    model = _model()
    opt = soma.optim.Adam(model.parameters(), lr=0.01)
    model(soma.randn(5, 4)).sum().backward()
    opt.step()
    path = tmp_path / "c.safetensors"
    soma.io.save_checkpoint(path, model, opt, epoch=1)
    model2 = _model()
    opt2 = soma.optim.Adam(model2.parameters(), lr=0.5)
    soma.io.load_checkpoint(path, model2, opt2)
    assert opt2.param_groups[0]["lr"] == 0.01
    for p, q in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(opt.state[p]["exp_avg"], opt2.state[q]["exp_avg"])
        assert opt2.state[q]["step"] == 1
