"""Synthetic datasets: shapes, dtypes, balance, geometry and determinism."""

import numpy as np
import pytest

import soma
from soma.data import DataLoader, load
from soma.data.datasets import make_circles, make_moons, make_sin, make_spirals, make_xor


def _g(seed=0):
    return soma.Generator().manual_seed(seed)


@pytest.mark.parametrize("make", [make_spirals, make_moons, make_circles])
@pytest.mark.parametrize("n", [10, 101])
def test_two_class_sets_shapes_balance_and_determinism(make, n):
    x, y = make(n, noise=0.05, generator=_g(1))
    assert x.shape == (n, 2) and x.dtype == soma.float32
    assert y.shape == (n,) and y.dtype == soma.int64
    counts = np.bincount(y.numpy(), minlength=2)
    assert counts.sum() == n and abs(counts[0] - counts[1]) <= 1
    x2, y2 = make(n, noise=0.05, generator=_g(1))
    np.testing.assert_array_equal(x.numpy(), x2.numpy())
    np.testing.assert_array_equal(y.numpy(), y2.numpy())
    x3, _ = make(n, noise=0.05, generator=_g(2))
    assert not np.array_equal(x.numpy(), x3.numpy())
    assert not np.array_equal(y.numpy(), np.sort(y.numpy()))  # shuffled


def test_global_seed_drives_the_default_generator():
    soma.manual_seed(5)
    a = make_moons(50, noise=0.1)[0].numpy()
    soma.manual_seed(5)
    np.testing.assert_array_equal(a, make_moons(50, noise=0.1)[0].numpy())


def test_noise_free_geometry():
    x, y = make_circles(40, factor=0.3, generator=_g())
    r = np.linalg.norm(x.numpy(), axis=1)
    np.testing.assert_allclose(r[y.numpy() == 0], 1, rtol=1e-6)
    np.testing.assert_allclose(r[y.numpy() == 1], 0.3, rtol=1e-6)
    x, y = make_moons(40, generator=_g())
    outer = x.numpy()[y.numpy() == 0]
    np.testing.assert_allclose(np.linalg.norm(outer, axis=1), 1, rtol=1e-6)
    assert outer[:, 1].min() >= -1e-7  # upper half circle
    x, y = make_spirals(200, generator=_g())
    a, b = x.numpy()[y.numpy() == 0], x.numpy()[y.numpy() == 1]
    radii = [np.sort(np.linalg.norm(arm, axis=1)) for arm in (a, b)]
    np.testing.assert_allclose(radii[0], radii[1], rtol=1e-5)
    np.testing.assert_allclose(np.sort(a[:, 0]), np.sort(-b[:, 0]), atol=1e-6)  # rotated by π


def test_xor_points_and_sampled_version():
    x, y = make_xor()
    assert x.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]] and y.tolist() == [0, 1, 1, 0]
    xs, ys = make_xor(400, noise=0.05, generator=_g())
    corners = np.round(xs.numpy()).astype(int)
    np.testing.assert_array_equal(corners[:, 0] ^ corners[:, 1], ys.numpy())
    assert np.bincount(ys.numpy()).tolist() == [200, 200]


def test_sin_regression():
    x, y = make_sin(100, generator=_g())
    assert x.shape == (100, 1) and y.shape == (100, 1) and y.dtype == soma.float32
    assert x.numpy().min() >= -1 and x.numpy().max() <= 1
    np.testing.assert_allclose(y.numpy(), np.sin(3 * x.numpy()), atol=1e-6)
    xg, _ = make_sin(5, low=-2, high=2, grid=True)
    assert xg[:, 0].tolist() == [-2, -1, 0, 1, 2]
    _, yn = make_sin(2000, noise=0.1, generator=_g())
    xn, _ = make_sin(2000, noise=0.1, generator=_g())
    assert abs(float((yn.numpy() - np.sin(3 * xn.numpy())).std()) - 0.1) < 0.01


@pytest.mark.parametrize("name", ["moons", "circles", "spirals"])
def test_load_synthetic_splits(name):
    s = load(name, n_samples=500, noise=0.1, val_split=0.1, seed=3)
    assert len(s.train) + len(s.val) + len(s.test) == 500 and len(s.test) == 100
    assert s.num_classes == 2 and s.input_shape == (2,) and s.task == "classification"
    assert abs(np.bincount(s.test.tensors[1].numpy()).tolist()[0] - 50) <= 1
    again = load(name, n_samples=500, noise=0.1, val_split=0.1, seed=3)
    np.testing.assert_array_equal(s.train.tensors[0].numpy(), again.train.tensors[0].numpy())
    x, y = next(iter(DataLoader(s.train, batch_size=32)))
    assert x.shape == (32, 2) and y.dtype == soma.int64


def test_load_sin_and_xor():
    s = load("sin", n_samples=200, low=-1, high=1)
    assert s.task == "regression" and s.num_classes is None and s.input_shape == (1,)
    assert len(s.train) == 160 and len(s.test) == 40
    xor = load("xor")
    assert len(xor.train) == 4 and xor.train.tensors[1].tolist() == [0, 1, 1, 0]
    noisy = load("xor", n_samples=100, noise=0.1)
    assert len(noisy.train) == 80
    with pytest.raises(ValueError, match="no room for a validation split"):
        load("xor", val_split=0.5)
