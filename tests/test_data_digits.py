"""The bundled digits: split sizes, stratification, dtypes, determinism, the load() API."""

import sys

import numpy as np
import pytest

import soma
from soma.data import DataLoader, load, load_digits
from soma.data.datasets import Digits, available
from soma.data.datasets import digits as digits_module


def test_split_sizes_dtypes_and_range():
    s = load_digits()
    assert (len(s.train), len(s.test), s.val) == (1438, 359, None)
    assert s.train.data.shape == (1438, 1, 8, 8) and s.train.data.dtype == np.float32
    assert s.train.targets.dtype == np.int64
    assert s.train.data.min() == 0.0 and s.train.data.max() == 1.0
    assert s.num_classes == 10 and s.input_shape == (1, 8, 8) and s.classes[3] == "3"
    assert s.task == "classification"


def test_test_split_is_stratified_fixed_and_disjoint():
    from sklearn.datasets import load_digits as sk

    counts = np.bincount(sk().target)
    s = load_digits(seed=123, val_split=0.2)
    test_counts = np.bincount(s.test.targets, minlength=10)
    np.testing.assert_array_equal(test_counts, np.floor(counts * 0.2 + 0.5))
    np.testing.assert_array_equal(s.test.data, load_digits(seed=0).test.data)
    ours = np.concatenate([s.train.data, s.val.data, s.test.data]).reshape(1797, -1)
    ref = (sk().images / 16).astype(np.float32).reshape(1797, -1)
    # every image exactly once across the three splits
    for a, b in zip(
        np.unique(ours, axis=0, return_counts=True), np.unique(ref, axis=0, return_counts=True)
    ):
        np.testing.assert_array_equal(a, b)


def test_val_split_is_stratified_and_seeded():
    a = load_digits(val_split=0.1, seed=0)
    b = load_digits(val_split=0.1, seed=0)
    c = load_digits(val_split=0.1, seed=1)
    assert len(a.train) + len(a.val) == 1438
    np.testing.assert_array_equal(a.val.data, b.val.data)
    assert not np.array_equal(a.val.data, c.val.data)
    train_counts = np.bincount(load_digits().train.targets)
    np.testing.assert_array_equal(np.bincount(a.val.targets), np.floor(train_counts * 0.1 + 0.5))


def test_mean_std_describe_the_training_images():
    s = load_digits()
    assert s.mean[0] == pytest.approx(float(s.train.data.mean()), rel=1e-6)
    assert s.std[0] == pytest.approx(float(s.train.data.std()), rel=1e-5)


def test_load_by_name_and_loaders():
    s = load("Digits", val_split=0.25)
    assert len(s.val) == pytest.approx(0.25 * 1438, abs=5)
    x, y = next(iter(s.loader("train", batch_size=16, generator=soma.Generator().manual_seed(0))))
    assert x.shape == (16, 1, 8, 8) and y.shape == (16,)
    assert len(s.loader("test", batch_size=100)) == 4
    with pytest.raises(ValueError, match="no split named 'valid'"):
        s.loader("valid")
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'"):
        load("imagenet")
    assert "digits" in available()


def test_pytorch_style_class():
    train, test = Digits(train=True), Digits(train=False)
    assert len(train) == 1438 and len(test) == 359
    image, label = test[0]
    assert image.shape == (1, 8, 8) and 0 <= int(label) < 10
    batches = list(DataLoader(test, batch_size=100))
    assert [len(b[1]) for b in batches] == [100, 100, 100, 59]


def test_missing_scikit_learn_names_the_extra(monkeypatch):
    digits_module._digits_arrays.cache_clear()
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    try:
        with pytest.raises(ImportError, match=r"pip install soma\[data\]"):
            load_digits()
    finally:
        digits_module._digits_arrays.cache_clear()


def test_soma_data_imports_without_optional_packages():
    import subprocess

    code = (
        "import sys\n"
        "for name in ('sklearn', 'matplotlib', 'tqdm', 'torch'):\n"
        "    sys.modules[name] = None  # makes any import of them fail\n"
        "import soma, soma.data, soma.utils.data, soma.data.transforms\n"
        "from soma.data import load\n"
        "print(len(load('moons', n_samples=100).train))\n"
        "try:\n"
        "    load('digits')\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "80" and "pip install soma[data]" in lines[1]
