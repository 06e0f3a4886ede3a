"""Small synthetic datasets from the lectures, generated with NumPy and a seed.

* ``make_sin``: the lecture's regression target y = sin(3x), x in [−1, 1] by default;
* ``make_xor``: the four XOR points (what one neuron cannot separate), or a noisy sample;
* ``make_spirals``, ``make_moons``, ``make_circles``: two classes of 2-D points ("green vs red")
  that no straight line separates.

Every ``make_*`` returns ``(X, y)`` soma Tensors: X float32, y int64 class labels (float32
targets for ``make_sin``). Classes are balanced (sizes differ by at most one) and the samples are
shuffled. Randomness comes from ``generator=`` (default: the global generator).
``load("moons", n_samples=…, noise=…, seed=…)`` wraps them as ``DatasetSplits``.
"""

import math

from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.backend import random as _random
from soma.backend.random import Generator
from soma.data.dataset import TensorDataset
from soma.data.datasets.base import (
    DatasetSplits,
    random_split_indices,
    register_dataset,
    split_off_val,
    stratified_split,
)

_xp = get_xp()


def _finish(x, y, rng, shuffle=True, y_dtype=_xp.int64):
    order = rng.permutation(len(x)) if shuffle else _xp.arange(len(x))
    return Tensor._wrap(x[order].astype(_xp.float32)), Tensor._wrap(y[order].astype(y_dtype))


def _noise(rng, shape, noise):
    return rng.normal(0.0, noise, shape) if noise else 0.0


def make_sin(
    n_samples: int = 1000,
    low: float = -1.0,
    high: float = 1.0,
    noise: float = 0.0,
    grid: bool = False,
    generator=None,
):
    """Points of y = sin(3x) (+ Gaussian noise) with x in [low, high].

    Args:
        n_samples: number of points.
        low, high: the x range (the lecture trains on [−1, 1]).
        noise: standard deviation of the noise added to y.
        grid: evenly spaced x in order (``linspace``) instead of uniform random x.

    Shape:
        X (n_samples, 1), y (n_samples, 1), both float32.

    Example:
        >>> X, y = make_sin(5, grid=True)
        >>> X[:, 0].tolist(), round(float(y[4, 0]), 4)
        ([-1.0, -0.5, 0.0, 0.5, 1.0], 0.1411)
    """
    rng = _random.resolve(generator)
    x = _xp.linspace(low, high, n_samples) if grid else rng.uniform(low, high, n_samples)
    y = _xp.sin(3 * x) + _noise(rng, n_samples, noise)
    return _finish(x[:, None], y[:, None], rng, shuffle=False, y_dtype=_xp.float32)


_XOR_POINTS = _xp.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=_xp.float64)
_XOR_LABELS = _xp.array([0, 1, 1, 0])


def make_xor(n_samples: int | None = None, noise: float = 0.1, generator=None):
    """The XOR problem: label = x1 xor x2.

    Args:
        n_samples: ``None`` gives the four points (0,0)→0, (0,1)→1, (1,0)→1, (1,1)→0 in
            that order; a number gives that many points spread over the four corners (balanced).
        noise: standard deviation of the Gaussian jitter around the corners (sampled version).

    Example:
        >>> X, y = make_xor()
        >>> X.tolist(), y.tolist()
        ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
    """
    if n_samples is None:
        return Tensor._wrap(_XOR_POINTS.astype(_xp.float32)), Tensor._wrap(_XOR_LABELS.copy())
    rng = _random.resolve(generator)
    corner = _xp.arange(n_samples) % 4
    x = _XOR_POINTS[corner] + _noise(rng, (n_samples, 2), noise)
    return _finish(x, _XOR_LABELS[corner], rng)


def _two_classes(n_samples: int):
    """Sizes of class 0 and class 1 (class 1 gets the extra point) and the label array."""
    n0 = n_samples // 2
    return n0, n_samples - n0, _xp.repeat(_xp.array([0, 1]), [n0, n_samples - n0])


def make_spirals(n_samples: int = 400, noise: float = 0.0, turns: float = 1.5, generator=None):
    """Two interleaved spirals (arms rotated by half a turn), radius growing from 0.05 to 1.

    Example:
        >>> X, y = make_spirals(100, generator=Generator().manual_seed(0))
        >>> tuple(X.shape), y.tolist().count(0), y.tolist().count(1)
        ((100, 2), 50, 50)
    """
    rng = _random.resolve(generator)
    n0, n1, y = _two_classes(n_samples)
    t = _xp.concatenate([_xp.linspace(0, 1, n0), _xp.linspace(0, 1, n1)])
    radius = 0.05 + 0.95 * t
    angle = 2 * math.pi * turns * t + math.pi * y
    x = _xp.stack([radius * _xp.cos(angle), radius * _xp.sin(angle)], axis=1)
    return _finish(x + _noise(rng, x.shape, noise), y, rng)


def make_moons(n_samples: int = 400, noise: float = 0.0, generator=None):
    """Two interleaving half circles (the outer one is class 0).

    Example:
        >>> X, y = make_moons(10, generator=Generator().manual_seed(0))
        >>> tuple(X.shape), sorted(y.tolist())
        ((10, 2), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    """
    rng = _random.resolve(generator)
    n0, n1, y = _two_classes(n_samples)
    a0, a1 = _xp.linspace(0, math.pi, n0), _xp.linspace(0, math.pi, n1)
    outer = _xp.stack([_xp.cos(a0), _xp.sin(a0)], axis=1)
    inner = _xp.stack([1 - _xp.cos(a1), 0.5 - _xp.sin(a1)], axis=1)
    x = _xp.concatenate([outer, inner])
    return _finish(x + _noise(rng, x.shape, noise), y, rng)


def make_circles(n_samples: int = 400, noise: float = 0.0, factor: float = 0.5, generator=None):
    """A circle of class 0 (radius 1) around a circle of class 1 (radius ``factor``).

    Example:
        >>> X, y = make_circles(8, generator=Generator().manual_seed(0))
        >>> sorted({round(float((X[i] ** 2).sum().sqrt()), 3) for i in range(8)})
        [0.5, 1.0]
    """
    if not 0 < factor < 1:
        raise ValueError(f"make_circles: factor must be in (0, 1), got {factor}")
    rng = _random.resolve(generator)
    n0, n1, y = _two_classes(n_samples)
    a = _xp.concatenate(
        [
            _xp.linspace(0, 2 * math.pi, n0, endpoint=False),
            _xp.linspace(0, 2 * math.pi, n1, endpoint=False),
        ]
    )
    radius = _xp.where(y == 0, 1.0, factor)
    x = _xp.stack([radius * _xp.cos(a), radius * _xp.sin(a)], axis=1)
    return _finish(x + _noise(rng, x.shape, noise), y, rng)


def _feature_stats(x) -> tuple:
    return (
        tuple(float(m) for m in x.mean(axis=0, dtype=_xp.float64)),
        tuple(float(s) for s in x.std(axis=0, dtype=_xp.float64)),
    )


def _splits(name, x, y, test_fraction, val_split, seed, classification=True) -> DatasetSplits:
    """Train/val/test ``TensorDataset``s from generated arrays (stratified for classes)."""
    if classification:
        rest, test = stratified_split(y, test_fraction, seed)
    else:
        rest, test = random_split_indices(len(x), test_fraction, seed)
    train = TensorDataset(x[rest], y[rest])
    train, val = split_off_val(train, val_split, seed + 1, stratify=classification)
    mean, std = _feature_stats(train.tensors[0].array)
    return DatasetSplits(
        name,
        train,
        TensorDataset(x[test], y[test]),
        val,
        num_classes=2 if classification else None,
        input_shape=x.shape[1:],
        classes=("class 0", "class 1") if classification else (),
        mean=mean,
        std=std,
        task="classification" if classification else "regression",
    )


def _loader(make, name, classification=True):
    def load(
        root=None,
        val_split: float = 0.0,
        seed: int = 0,
        download: bool = False,
        n_samples: int = 1000,
        test_fraction: float = 0.2,
        **options,
    ) -> DatasetSplits:
        x, y = make(n_samples, generator=Generator().manual_seed(seed), **options)
        return _splits(name, x.array, y.array, test_fraction, val_split, seed, classification)

    load.__name__ = f"load_{name}"
    load.__doc__ = (
        f"``DatasetSplits`` of ``{make.__name__}(n_samples, **options)`` seeded with "
        f"``seed``; ``test_fraction`` of it goes to ``.test``."
    )
    return load


load_sin = register_dataset(
    "sin", "regression of sin(3x) on [-1, 1], the lecture's first network (synthetic)"
)(_loader(make_sin, "sin", classification=False))
load_spirals = register_dataset("spirals", "two interleaved spirals, 2 classes (synthetic)")(
    _loader(make_spirals, "spirals")
)
load_moons = register_dataset("moons", "two interleaving half circles, 2 classes (synthetic)")(
    _loader(make_moons, "moons")
)
load_circles = register_dataset(
    "circles", "a small circle inside a large one, 2 classes (synthetic)"
)(_loader(make_circles, "circles"))


@register_dataset("xor", "the four XOR points, or a noisy sample of them (synthetic)")
def load_xor(
    root=None,
    val_split: float = 0.0,
    seed: int = 0,
    download: bool = False,
    n_samples: int | None = None,
    noise: float = 0.1,
    test_fraction: float = 0.2,
) -> DatasetSplits:
    """XOR as ``DatasetSplits``: the four points as both train and test (``n_samples=None``),
    or a noisy sample of ``n_samples`` points split like the other synthetic sets."""
    if n_samples is not None:
        x, y = make_xor(n_samples, noise, generator=Generator().manual_seed(seed))
        return _splits("xor", x.array, y.array, test_fraction, val_split, seed)
    if val_split:
        raise ValueError(
            "load('xor'): the four XOR points have no room for a validation split; "
            "pass n_samples= for a sampled version"
        )
    x, y = make_xor()
    mean, std = _feature_stats(x.array)
    return DatasetSplits(
        "xor",
        TensorDataset(x, y),
        TensorDataset(x, y),
        None,
        num_classes=2,
        input_shape=(2,),
        classes=("0", "1"),
        mean=mean,
        std=std,
    )
