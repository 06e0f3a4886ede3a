"""Reading the real formats from small files written by the tests: IDX (gz and raw), CIFAR-10
python (pickle, parsed without unpickling) and binary batches; corrupt files are refused."""

import gzip
import pickle

import numpy as np
import pytest

from soma.data import DataLoader, load
from soma.data.datasets import (
    CIFAR10,
    MNIST,
    DatasetFileError,
    FashionMNIST,
    UnsafePickleError,
    read_idx,
    safe_loads,
    write_idx,
)
from tests.data_files import (
    CIFAR_CLASSES,
    cifar_binary_files,
    cifar_python_batch,
    cifar_python_files,
    write_files,
    write_mnist,
)


# ---------------------------------------------------------------------------- IDX
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_idx_roundtrip_all_types(tmp_path, dtype, gz):
    a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == np.uint8:
        a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / ("x.idx.gz" if gz else "x.idx")
    write_idx(path, a)
    assert path.read_bytes()[:2] == (b"\x1f\x8b" if gz else b"\x00\x00")
    b = read_idx(path)
    assert b.dtype == np.dtype(dtype) and b.shape == (2, 3, 4)
    np.testing.assert_array_equal(a, b)


def test_idx_big_endian_on_disk(tmp_path):
    write_idx(tmp_path / "x", np.array([1, 256], dtype=np.int32))
    header, values = [0, 0, 0x0C, 1, 0, 0, 0, 2], [0, 0, 0, 1, 0, 0, 1, 0]
    assert (tmp_path / "x").read_bytes() == bytes(header + values)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x00\x00", "too short"),
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "bad IDX magic number 0x01000801"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "bad IDX magic number"),
        (b"\x00\x00\x08\x00", "bad IDX magic number"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00", "truncated header"),
        (
            b"\x00\x00\x08\x01\x00\x00\x00\x03\x05\x06",
            r"truncated: header says uint8 values of shape \(3,\)",
        ),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01\x05\x06", "trailing bytes"),
    ],
)
def test_corrupt_idx_files_are_refused_naming_the_file(tmp_path, raw, message):
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(raw)
    with pytest.raises(DatasetFileError, match=message) as info:
        read_idx(path)
    assert "broken-idx1-ubyte" in str(info.value)


def test_truncated_and_corrupt_gzip_are_refused(tmp_path):
    data = gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 200]) + bytes(200))
    (tmp_path / "cut.gz").write_bytes(data[:-10])
    with pytest.raises(DatasetFileError, match="cut.gz: corrupt or truncated gzip"):
        read_idx(tmp_path / "cut.gz")
    (tmp_path / "bad.gz").write_bytes(data[:10] + b"\xff" * 20 + data[30:])
    with pytest.raises(DatasetFileError, match="bad.gz: corrupt or truncated gzip"):
        read_idx(tmp_path / "bad.gz")


# ---------------------------------------------------------------------------- MNIST
@pytest.mark.parametrize("gz", [True, False])
def test_mnist_reads_both_splits(tmp_path, gz):
    arrays = write_mnist(tmp_path / "mnist", np.random.default_rng(0), gz=gz)
    train, test = MNIST(tmp_path, train=True), MNIST(tmp_path, train=False)
    assert len(train) == 7 and len(test) == 5
    np.testing.assert_array_equal(train.data[:, 0], arrays["train"][0])
    np.testing.assert_array_equal(test.targets, arrays["t10k"][1])
    image, label = test[1]
    np.testing.assert_allclose(image.numpy()[0], arrays["t10k"][0][1] / 255, rtol=1e-6)
    assert image.dtype == np.float32 and int(label) == arrays["t10k"][1][1]
    x, y = next(iter(DataLoader(train, batch_size=4)))
    assert x.shape == (4, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_allclose(x.numpy()[:, 0], arrays["train"][0][:4] / 255, rtol=1e-6)


def test_mnist_torchvision_layout_and_fashion_classes(tmp_path):
    write_mnist(tmp_path / "MNIST" / "raw", np.random.default_rng(1))
    assert len(MNIST(tmp_path)) == 7
    write_mnist(tmp_path / "fashion_mnist", np.random.default_rng(2), gz=False)
    assert FashionMNIST(tmp_path, train=False).classes[9] == "Ankle boot"


def test_load_mnist_splits_and_metadata(tmp_path):
    write_mnist(tmp_path / "mnist", np.random.default_rng(3), n_train=40, n_test=10)
    s = load("mnist", root=tmp_path, val_split=0.25, seed=0)
    assert len(s.train) + len(s.val) == 40 and 6 <= len(s.val) <= 14 and len(s.test) == 10
    assert s.num_classes == 10 and s.input_shape == (1, 28, 28)
    assert s.mean[0] == pytest.approx(s.train.data.mean() / 255, rel=1e-9)
    assert s.std[0] == pytest.approx((s.train.data / 255).std(), rel=1e-9)


def test_missing_mnist_files_say_what_and_where(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        MNIST(tmp_path)
    msg = str(info.value)
    assert "train-images-idx3-ubyte" in msg and "train-labels-idx1-ubyte" in msg
    assert str(tmp_path / "mnist") in msg and "download=True" in msg


def test_mnist_content_checks(tmp_path):
    folder = tmp_path / "mnist"
    arrays = write_mnist(folder, np.random.default_rng(4))
    write_idx(folder / "train-labels-idx1-ubyte.gz", arrays["train"][1][:-1])
    with pytest.raises(DatasetFileError, match="holds 7 images but .* holds 6 labels"):
        MNIST(tmp_path)
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.full(7, 12, np.uint8))
    with pytest.raises(DatasetFileError, match="label 12 is outside 0..9"):
        MNIST(tmp_path)
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros((7, 2), np.uint8))
    with pytest.raises(DatasetFileError, match="expected an IDX label file"):
        MNIST(tmp_path)
    write_idx(folder / "train-images-idx3-ubyte.gz", np.zeros((7, 28, 28), np.float32))
    with pytest.raises(DatasetFileError, match="expected an IDX image file"):
        MNIST(tmp_path)


# ---------------------------------------------------------------------------- CIFAR-10 pickles
def test_py2_style_batch_is_a_real_pickle_and_parses_the_same():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (300, 3, 32, 32), dtype=np.uint8)  # >255 memo entries
    labels = rng.integers(0, 10, 300).tolist()
    raw = cifar_python_batch(images, labels)
    ref = pickle.loads(raw, encoding="bytes")  # our own bytes: checks the writer is faithful
    ours = safe_loads(raw)
    assert set(ours) == set(ref) == {b"data", b"labels", b"batch_label", b"filenames"}
    np.testing.assert_array_equal(ours[b"data"], ref[b"data"])
    assert ours[b"data"].dtype == np.uint8 and ours[b"data"].shape == (300, 3072)
    assert ours[b"labels"] == ref[b"labels"] == labels
    assert ours[b"filenames"] == ref[b"filenames"] and ours[b"batch_label"] == ref[b"batch_label"]
    assert b"r" in raw  # LONG_BINPUT was exercised


def test_python3_protocol2_and_3_pickles_parse():
    value = {
        "data": np.arange(12, dtype=np.uint8).reshape(3, 4),
        "labels": [1, 2, 3],
        "name": b"x\xff",
        "pi": 3.5,
        "flag": True,
        "none": None,
        "big": 2**40,
        "neg": -7,
    }
    for protocol in (2, 3):
        out = safe_loads(pickle.dumps(value, protocol=protocol))
        np.testing.assert_array_equal(out.pop("data"), value["data"])
        assert out == {k: v for k, v in value.items() if k != "data"}


@pytest.mark.parametrize(
    "payload, message",
    [
        (
            b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.",
            "refusing the global .os.system",
        ),
        (pickle.dumps({1, 2}, protocol=2), "builtins.set|__builtin__.set"),
        (pickle.dumps([1], protocol=4), "protocol 4"),
        (b"\x80\x02]q\x00(K\x01K\x02e", "ends before its STOP"),
        (b"\x80\x02T\xff\xff\x00\x00abc.", "runs past the end"),
        (b"\x80\x02\x93.", r"opcode 0x93 \(STACK_GLOBAL\)"),
        (b"\x80\x02K\x01K\x02.", "STOP with a malformed stack"),
        (b"\x80\x02cnumpy\ndtype\nU\x02O8K\x00K\x01\x87R.", "call of dtype"),
        (b"\x80\x02h\x05.", "malformed stream"),
    ],
)
def test_unsafe_or_malformed_pickles_are_refused(payload, message):
    with pytest.raises(UnsafePickleError, match=message) as info:
        safe_loads(payload, "evil_batch")
    assert "evil_batch" in str(info.value)


def test_pickle_with_wrong_array_size_is_refused():
    raw = cifar_python_batch(np.zeros((2, 3, 32, 32), np.uint8), [0, 1])
    broken = raw.replace(b"K\x01K\x02M\x00\x0c\x86", b"K\x01K\x03M\x00\x0c\x86")  # shape 3×3072
    with pytest.raises(UnsafePickleError, match=r"shape \(3, 3072\) uint8 needs 9216 bytes"):
        safe_loads(broken)


@pytest.mark.parametrize("kind", ["python", "binary"])
def test_cifar10_reads_both_versions(tmp_path, kind):
    maker = cifar_python_files if kind == "python" else cifar_binary_files
    files, arrays = maker(np.random.default_rng(5))
    write_files(tmp_path / "cifar10", files)
    train, test = CIFAR10(tmp_path, train=True), CIFAR10(tmp_path, train=False)
    assert len(train) == 15 and len(test) == 3 and train.classes == CIFAR_CLASSES
    want = np.concatenate([arrays[f"data_batch_{i}"][0] for i in range(1, 6)])
    np.testing.assert_array_equal(train.data, want)
    np.testing.assert_array_equal(test.targets, arrays["test_batch"][1])
    x, y = next(iter(DataLoader(test, batch_size=3)))
    assert x.shape == (3, 3, 32, 32)
    np.testing.assert_allclose(x.numpy(), arrays["test_batch"][0] / 255, rtol=1e-6)


def test_load_cifar10_with_torchvision_layout(tmp_path):
    files, _ = cifar_python_files(np.random.default_rng(6), n_per_batch=4)
    write_files(tmp_path, files)  # torchvision keeps root/cifar-10-batches-py
    s = load("cifar10", root=tmp_path, val_split=0.2)
    assert len(s.train) + len(s.val) == 20 and len(s.test) == 4
    assert s.input_shape == (3, 32, 32) and len(s.mean) == 3 and s.classes[0] == "airplane"


def test_cifar10_corrupt_files(tmp_path):
    files, _ = cifar_binary_files(np.random.default_rng(7))
    key = "cifar-10-batches-bin/test_batch.bin"
    files[key] = files[key][:-5]
    write_files(tmp_path / "cifar10", files)
    with pytest.raises(DatasetFileError, match=r"test_batch.bin: 9214 bytes is not a whole"):
        CIFAR10(tmp_path, train=False)
    py_files, _ = cifar_python_files(np.random.default_rng(8))
    py_files["cifar-10-batches-py/test_batch"] = py_files["cifar-10-batches-py/test_batch"][:500]
    write_files(tmp_path / "cifar10", py_files)
    with pytest.raises(UnsafePickleError, match="test_batch"):
        CIFAR10(tmp_path, train=False)


def test_cifar10_wrong_labels_are_refused(tmp_path):
    files, _ = cifar_python_files(np.random.default_rng(9))
    two_images = np.zeros((2, 3, 32, 32), np.uint8)
    files["cifar-10-batches-py/test_batch"] = cifar_python_batch(two_images, [0])
    write_files(tmp_path / "cifar10", files)
    with pytest.raises(DatasetFileError, match="'labels' should be a list of 2 ints"):
        CIFAR10(tmp_path, train=False)


def test_missing_cifar_files_explain_both_versions(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        CIFAR10(tmp_path, train=False)
    msg = str(info.value)
    assert "test_batch" in msg and "cifar-10-batches-py" in msg and "cifar-10-batches-bin" in msg
    assert "download=True" in msg and str(tmp_path / "cifar10") in msg
