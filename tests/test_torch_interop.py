"""PyTorch interop: tensor and state-dict conversion, state dicts moving between the two
frameworks unchanged, and reading ``torch.save`` files without unpickling them."""

import collections
import os
import pickle
import zipfile

import numpy as np
import pytest

import soma
from soma.io import (
    CheckpointError,
    UnsafeCheckpointError,
    from_torch,
    load_pytorch_checkpoint,
    to_torch,
)
from tests.torch_oracle import torch

nn = soma.nn

DTYPES = [
    torch.float32,
    torch.float64,
    torch.float16,
    torch.int64,
    torch.int32,
    torch.int16,
    torch.int8,
    torch.uint8,
    torch.bool,
]


# ---------------------------------------------------------------------- tensors and containers
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_round_trip_keeps_dtype_shape_and_values(dtype):
    t = (torch.arange(24).reshape(2, 3, 4) % 7).to(dtype)
    s = from_torch(t)
    assert s.dtype == np.dtype(str(dtype).removeprefix("torch."))
    assert tuple(s.shape) == (2, 3, 4)
    np.testing.assert_array_equal(s.numpy(), t.numpy())
    back = to_torch(s)
    assert back.dtype == dtype and torch.equal(back, t)


def test_conversions_copy_the_data():
    t = torch.zeros(3)
    s = from_torch(t)
    t[0] = 5.0
    assert s.numpy()[0] == 0.0
    back = to_torch(s)
    back[1] = 7.0
    assert s.numpy()[1] == 0.0


def test_non_contiguous_views_and_bfloat16():
    t = torch.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(from_torch(t.t()).numpy(), t.t().numpy())
    np.testing.assert_array_equal(from_torch(t[:, 1::2]).numpy(), t[:, 1::2].numpy())
    b = torch.tensor([1.5, -2.0, 3.25], dtype=torch.bfloat16)
    s = from_torch(b)
    assert s.dtype == soma.float32
    np.testing.assert_array_equal(s.numpy(), [1.5, -2.0, 3.25])


def test_nested_containers_and_requires_grad():
    obj = collections.OrderedDict(
        a=torch.ones(2, requires_grad=True),
        b=[torch.zeros(1), (torch.arange(3), "x")],
        c={"n": 3, "f": 0.5, "none": None},
    )
    s = from_torch(obj)
    assert isinstance(s, collections.OrderedDict) and list(s) == ["a", "b", "c"]
    assert isinstance(s["a"], soma.Tensor) and s["a"].requires_grad
    assert not s["b"][0].requires_grad
    assert isinstance(s["b"][1], tuple) and s["b"][1][1] == "x"
    assert s["b"][1][0].dtype == soma.int64 and s["c"] == {"n": 3, "f": 0.5, "none": None}
    back = to_torch(s)
    assert isinstance(back, collections.OrderedDict)
    assert back["a"].requires_grad and torch.equal(back["b"][1][0], torch.arange(3))
    assert to_torch({"arr": np.arange(3)})["arr"].dtype == torch.int64


# ---------------------------------------------------------------------- state dicts, unchanged
PAIRS = {  # name: (build from an nn namespace, input shape or None)
    "linear": (lambda m: m.Linear(5, 3), (4, 5)),
    "conv2d": (lambda m: m.Conv2d(3, 4, 3, padding=1), (2, 3, 6, 6)),
    "conv_transpose2d": (lambda m: m.ConvTranspose2d(4, 2, 3, stride=2), (2, 4, 5, 5)),
    "batch_norm2d": (lambda m: m.BatchNorm2d(3), (2, 3, 4, 4)),
    "layer_norm": (lambda m: m.LayerNorm(6), (2, 6)),
    "group_norm": (lambda m: m.GroupNorm(2, 4), (2, 4, 3)),
    "prelu": (lambda m: m.PReLU(3), (2, 3)),
    "embedding": (lambda m: m.Embedding(10, 4), None),
    "lstm": (lambda m: m.LSTM(4, 5, num_layers=2, batch_first=True), (2, 3, 4)),
    "gru": (lambda m: m.GRU(4, 5, bidirectional=True), (3, 2, 4)),
    "multihead_attention": (lambda m: m.MultiheadAttention(8, 2, batch_first=True), None),
    "transformer_encoder_layer": (
        lambda m: m.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True),
        (2, 5, 8),
    ),
}


@pytest.mark.parametrize("name", list(PAIRS))
def test_state_dicts_have_pytorchs_names_shapes_and_dtypes(name):
    build, shape = PAIRS[name]
    tm, sm = build(torch.nn).eval(), build(nn).eval()
    ts, ss = tm.state_dict(), sm.state_dict()
    assert list(ss) == list(ts)
    for k in ts:
        assert tuple(ss[k].shape) == tuple(ts[k].shape), k
        assert ss[k].dtype == np.dtype(str(ts[k].dtype).removeprefix("torch.")), k
    sm.load_state_dict(ts)  # torch tensors straight in
    for k in ts:
        np.testing.assert_array_equal(sm.state_dict()[k].numpy(), ts[k].numpy(), err_msg=k)
    if shape is None:
        return
    x = torch.randn(*shape)
    out_t = tm(x)
    out_s = sm(soma.tensor(x.numpy()))
    out_t, out_s = (out_t[0], out_s[0]) if isinstance(out_t, tuple) else (out_t, out_s)
    np.testing.assert_allclose(
        out_s.detach().numpy(), out_t.detach().numpy(), rtol=1e-4, atol=1e-5
    )


def test_soma_state_dict_loads_into_torch():
    sm = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3)
    )
    sm.train()
    sm(soma.randn(4, 1, 6, 6))  # move the running statistics off their initial values
    tm = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3),
        torch.nn.BatchNorm2d(2),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(32, 3),
    )
    tm.load_state_dict(to_torch(sm.state_dict()))
    assert int(tm[1].num_batches_tracked) == 1
    sm.eval(), tm.eval()
    x = np.random.randn(2, 1, 6, 6).astype(np.float32)
    np.testing.assert_allclose(
        sm(soma.tensor(x)).detach().numpy(),
        tm(torch.from_numpy(x)).detach().numpy(),
        rtol=1e-5,
        atol=1e-6,
    )


# ---------------------------------------------------------------------- torch.save files
def test_checkpoint_of_a_model_loads_into_soma(tmp_path):
    tm = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 2))
    tm.train()
    tm(torch.randn(5, 4))
    path = tmp_path / "model.pth"
    torch.save(tm.state_dict(), path)
    sd = load_pytorch_checkpoint(path)
    assert list(sd) == list(tm.state_dict())
    assert sd["1.num_batches_tracked"].dtype == soma.int64
    sm = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2)).eval()
    sm.load_state_dict(sd)
    tm.eval()
    x = np.random.randn(3, 4).astype(np.float32)
    np.testing.assert_allclose(
        sm(soma.tensor(x)).detach().numpy(),
        tm(torch.from_numpy(x)).detach().numpy(),
        rtol=1e-5,
        atol=1e-6,
    )


def test_checkpoint_dtypes_views_and_nesting(tmp_path):
    base = torch.arange(24, dtype=torch.float64).reshape(4, 6)
    obj = {
        "f32": torch.randn(3, 2),
        "f64": base,
        "i64": torch.arange(-3, 3),
        "f16": torch.ones(2).half(),
        "bool": torch.tensor([True, False]),
        "u8": torch.arange(4, dtype=torch.uint8),
        "t": base.t(),
        "offset": base[1:, 2:5],
        "strided": base[::2, ::3],
        "expanded": torch.arange(3.0).expand(2, 3),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
        "bf16": torch.tensor([0.5, -4.0], dtype=torch.bfloat16),
        "param": torch.nn.Parameter(torch.ones(2)),
        "nested": {
            "list": [torch.ones(1), 3, "s"],
            "tuple": (1, 2.5, None, True),
            "size": torch.Size([2, 3]),
            7: "int key",
        },
    }
    path = tmp_path / "mixed.pt"
    torch.save(obj, path)
    got = load_pytorch_checkpoint(str(path))
    for key in [
        "f32",
        "f64",
        "i64",
        "f16",
        "bool",
        "u8",
        "t",
        "offset",
        "strided",
        "expanded",
        "scalar",
        "empty",
    ]:
        want = obj[key].numpy()
        assert got[key].dtype == want.dtype and tuple(got[key].shape) == want.shape, key
        np.testing.assert_array_equal(got[key].numpy(), want, err_msg=key)
    np.testing.assert_array_equal(got["bf16"].numpy(), np.array([0.5, -4.0], np.float32))
    assert got["param"].requires_grad and not got["f32"].requires_grad
    assert got["nested"]["list"][1:] == [3, "s"] and got["nested"][7] == "int key"
    assert got["nested"]["tuple"] == (1, 2.5, None, True) and got["nested"]["size"] == (2, 3)


def test_checkpoint_with_optimizer_state(tmp_path):
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    path = tmp_path / "ckpt.pt"
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, path)
    got = load_pytorch_checkpoint(path)
    assert got["epoch"] == 3
    assert got["optimizer"]["param_groups"][0]["lr"] == 0.01
    assert got["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    np.testing.assert_array_equal(
        got["optimizer"]["state"][0]["exp_avg"].numpy(),
        opt.state_dict()["state"][0]["exp_avg"].numpy(),
    )


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _zip_with_pickle(path, payload: bytes, extra=None):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", payload)
        z.writestr("archive/byteorder", "little")
        for name, data in (extra or {}).items():
            z.writestr(name, data)


def test_a_malicious_pickle_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    _zip_with_pickle(path, pickle.dumps({"w": _Evil(marker)}, protocol=2))
    with pytest.raises(UnsafeCheckpointError, match=r"refusing the global '(posix|os)\.system'"):
        load_pytorch_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_other_globals_and_opcodes_are_refused(tmp_path, protocol):
    path = tmp_path / "evil.pt"
    _zip_with_pickle(path, pickle.dumps(collections.Counter("ab"), protocol=protocol))
    with pytest.raises(UnsafeCheckpointError, match="collections.Counter"):
        load_pytorch_checkpoint(path)
    _zip_with_pickle(path, pickle.dumps(object(), protocol=protocol))
    with pytest.raises(UnsafeCheckpointError):
        load_pytorch_checkpoint(path)


def _save_tensor(path, t):
    torch.save({"t": t}, path)
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _rewrite(path, entries):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)


def test_truncated_and_damaged_archives_are_refused(tmp_path):
    path = tmp_path / "w.pt"
    entries = _save_tensor(path, torch.randn(64))
    blob = path.read_bytes()
    for cut in (len(blob) // 2, len(blob) - 10, 3):
        (tmp_path / "cut.pt").write_bytes(blob[:cut])
        with pytest.raises(CheckpointError, match="cannot load"):
            load_pytorch_checkpoint(tmp_path / "cut.pt")
    prefix = next(n for n in entries if n.endswith("data.pkl"))[: -len("data.pkl")]
    short = dict(entries)
    short[prefix + "data/0"] = entries[prefix + "data/0"][:-4]
    _rewrite(path, short)
    with pytest.raises(CheckpointError, match="holds 252 bytes, its 64 elements need 256"):
        load_pytorch_checkpoint(path)
    missing = {k: v for k, v in entries.items() if k != prefix + "data/0"}
    _rewrite(path, missing)
    with pytest.raises(CheckpointError, match="missing from the archive"):
        load_pytorch_checkpoint(path)
    cut_pickle = dict(entries)
    cut_pickle[prefix + "data.pkl"] = entries[prefix + "data.pkl"][:-5]
    _rewrite(path, cut_pickle)
    with pytest.raises(CheckpointError, match="cut short|before its STOP"):
        load_pytorch_checkpoint(path)


def test_flipped_storage_bytes_fail_the_zip_checksum(tmp_path):
    path = tmp_path / "w.pt"
    torch.save({"t": torch.zeros(1000)}, path)
    blob = bytearray(path.read_bytes())
    at = blob.find(b"\x00" * 4000)
    blob[at + 100] = 1
    path.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="damaged"):
        load_pytorch_checkpoint(path)


def test_a_view_reaching_past_its_storage_is_refused(tmp_path, torch_or_skip):
    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", torch.FloatStorage, "0", "cpu", 4) if obj == "S" else None

    class Rebuild:
        def __reduce__(self):  # a 2x3 tensor over a 4-element storage
            return torch._utils._rebuild_tensor_v2, (
                "S",
                0,
                (2, 3),
                (3, 1),
                False,
                collections.OrderedDict(),
            )

    import io

    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump({"t": Rebuild()})
    path = tmp_path / "bad.pt"
    _zip_with_pickle(path, buf.getvalue(), {"archive/data/0": np.zeros(4, np.float32).tobytes()})
    with pytest.raises(CheckpointError, match=r"reaches element 5 of a storage of 4"):
        load_pytorch_checkpoint(path)


def test_huge_expanded_views_and_zip_bombs_are_refused(tmp_path):
    path = tmp_path / "w.pt"
    torch.save({"t": torch.zeros(1).expand(2**12, 2**12)}, path)
    with pytest.raises(CheckpointError, match="expanded view"):
        load_pytorch_checkpoint(path)
    entries = _save_tensor(path, torch.zeros(2**20))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    with pytest.raises(CheckpointError, match="zip bomb"):
        load_pytorch_checkpoint(path)


def test_legacy_format_and_non_archives_are_refused(tmp_path):
    legacy = tmp_path / "old.pt"
    torch.save({"t": torch.ones(2)}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match="legacy"):
        load_pytorch_checkpoint(legacy)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="not a PyTorch zip archive"):
        load_pytorch_checkpoint(text)
    with pytest.raises(FileNotFoundError):
        load_pytorch_checkpoint(tmp_path / "nothing.pt")
