"""Transforms that move an image and its segmentation mask together.

A segmentation mask must follow every geometric change of its image: flip both, crop the same
window, rotate both by the same angle. Each transform here is called as
``image, mask = t(image, mask)`` on one sample (image (C, H, W), mask (H, W)) or on a batch
(N, C, H, W) and (N, H, W), drawing independent randomness per sample, vectorised. Images are
resampled bilinearly; masks by nearest neighbour, so they keep whole class indices. Arrays in,
arrays out; Tensors in, Tensors out. Use them as ``SegmentationDataset(..., transforms=...)``.

Example:
    >>> import numpy as np
    >>> import soma
    >>> t = JointCompose([JointRandomHorizontalFlip(p=1.0), JointRandomCrop(2)])
    >>> image, mask = np.arange(9.0).reshape(1, 3, 3), np.arange(9).reshape(3, 3)
    >>> x, y = t(image, mask)
    >>> bool((x[0] == y).all())   # the pixels and their labels moved together
    True
"""

import numbers

from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.backend import random as _random
from soma.data.transforms import _float, rotate
from soma.functional._utils import ntuple

_xp = get_xp()


class JointTransform:
    """Base class: unwraps Tensors, lifts one sample to a batch of one, undoes both after.

    Subclasses implement ``_batch(x, y, rng)`` on x (N, C, H, W) and y (N, H, W).
    """

    generator = None

    def __call__(self, image, mask):
        is_tensor = isinstance(image, Tensor)
        x = image.array if is_tensor else _xp.asarray(image)
        y = mask.array if isinstance(mask, Tensor) else _xp.asarray(mask)
        if x.ndim not in (3, 4) or y.shape != (*x.shape[:-3], *x.shape[-2:]):
            raise ValueError(
                f"{type(self).__name__}: expected an image (C, H, W) with a mask (H, W), or "
                f"batches (N, C, H, W) and (N, H, W); got shapes {x.shape} and {y.shape}"
            )
        single = x.ndim == 3
        x, y = (x[None], y[None]) if single else (x, y)
        x, y = self._batch(x, y, _random.resolve(self.generator))
        x, y = (x[0], y[0]) if single else (x, y)
        if is_tensor:
            return Tensor._wrap(_xp.ascontiguousarray(x)), Tensor._wrap(_xp.ascontiguousarray(y))
        return x, y

    def _batch(self, x, y, rng):
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "generator")
        return f"{type(self).__name__}({args})"


class JointCompose:
    """Apply joint transforms one after the other."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, image, mask):
        for t in self.transforms:
            image, mask = t(image, mask)
        return image, mask

    def __repr__(self) -> str:
        return f"JointCompose({self.transforms!r})"


class JointRandomHorizontalFlip(JointTransform):
    """Mirror left–right each sample with probability ``p`` (image and mask alike)."""

    def __init__(self, p: float = 0.5, generator=None):
        self.p, self.generator = p, generator

    def _batch(self, x, y, rng):
        flip = rng.random(x.shape[0]) < self.p
        x, y = x.copy(), y.copy()
        x[flip] = x[flip][..., ::-1]
        y[flip] = y[flip][..., ::-1]
        return x, y


class JointRandomVerticalFlip(JointTransform):
    """Mirror top–bottom each sample with probability ``p`` (image and mask alike)."""

    def __init__(self, p: float = 0.5, generator=None):
        self.p, self.generator = p, generator

    def _batch(self, x, y, rng):
        flip = rng.random(x.shape[0]) < self.p
        x, y = x.copy(), y.copy()
        x[flip] = x[flip][..., ::-1, :]
        y[flip] = y[flip][..., ::-1, :]
        return x, y


class JointRandomCrop(JointTransform):
    """The same random ``size`` window of image and mask (per sample), after optional zero
    padding of the image and ``mask_fill`` padding of the mask (e.g. an ``ignore_index``).

    Example:
        >>> import numpy as np
        >>> x, y = JointRandomCrop(4, padding=2)(np.ones((2, 1, 4, 4)), np.ones((2, 4, 4), int))
        >>> x.shape, y.shape
        ((2, 1, 4, 4), (2, 4, 4))
    """

    def __init__(self, size, padding: int = 0, fill: float = 0.0, mask_fill: int = 0,
                 generator=None):  # fmt: skip
        self.size = ntuple(size, 2, "JointRandomCrop", "size")
        self.padding, self.fill, self.mask_fill = int(padding), fill, mask_fill
        self.generator = generator

    def _batch(self, x, y, rng):
        p = self.padding
        if p:
            x = _xp.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=self.fill)
            y = _xp.pad(y, ((0, 0), (p, p), (p, p)), constant_values=self.mask_fill)
        h, w = self.size
        n, height, width = y.shape
        if h > height or w > width:
            raise ValueError(
                f"JointRandomCrop: crop {self.size} is larger than the (padded) images "
                f"{(height, width)}"
            )
        top = rng.integers(0, height - h + 1, n)
        left = rng.integers(0, width - w + 1, n)
        rows = top[:, None] + _xp.arange(h)  # (N, h)
        cols = left[:, None] + _xp.arange(w)  # (N, w)
        i = _xp.arange(n)[:, None, None]
        y = y[i, rows[:, :, None], cols[:, None, :]]
        x = x.transpose(0, 2, 3, 1)[i, rows[:, :, None], cols[:, None, :]].transpose(0, 3, 1, 2)
        return x, y


def rotate_mask(y, angles, fill: int = 0):
    """Rotate each mask of ``y`` (N, H, W) counter-clockwise by ``angles[n]`` degrees with
    nearest-neighbour sampling (the same geometry as ``transforms.rotate``); pixels from
    outside take ``fill``."""
    n, h, w = y.shape
    theta = _xp.deg2rad(_xp.asarray(angles, dtype=_xp.float64)).reshape(n, 1, 1)
    dy, dx = _xp.mgrid[0:h, 0:w].astype(_xp.float64)
    dy, dx = dy - (h - 1) / 2, dx - (w - 1) / 2
    sx = _xp.rint(_xp.cos(theta) * dx - _xp.sin(theta) * dy + (w - 1) / 2).astype(_xp.int64)
    sy = _xp.rint(_xp.sin(theta) * dx + _xp.cos(theta) * dy + (h - 1) / 2).astype(_xp.int64)
    inside = (sx >= 0) & (sx < w) & (sy >= 0) & (sy < h)
    picked = y[_xp.arange(n)[:, None, None], _xp.clip(sy, 0, h - 1), _xp.clip(sx, 0, w - 1)]
    return _xp.where(inside, picked, fill).astype(y.dtype)


class JointRandomRotation(JointTransform):
    """Rotate image and mask by the same random angle, uniform in [−degrees, degrees].

    The image is sampled bilinearly (``fill`` outside), the mask by nearest neighbour
    (``mask_fill`` outside: the background class, or an ``ignore_index``).
    """

    def __init__(self, degrees, fill: float = 0.0, mask_fill: int = 0, generator=None):
        if isinstance(degrees, numbers.Number):
            if degrees < 0:
                raise ValueError(
                    f"JointRandomRotation: degrees must be non-negative, got {degrees}"
                )
            degrees = (-degrees, degrees)
        self.degrees = (float(degrees[0]), float(degrees[1]))
        self.fill, self.mask_fill = fill, mask_fill
        self.generator = generator

    def _batch(self, x, y, rng):
        angles = rng.uniform(self.degrees[0], self.degrees[1], x.shape[0])
        return rotate(_float(x), angles, self.fill), rotate_mask(y, angles, self.mask_fill)


__all__ = [
    "JointCompose",
    "JointRandomCrop",
    "JointRandomHorizontalFlip",
    "JointRandomRotation",
    "JointRandomVerticalFlip",
    "JointTransform",
    "rotate_mask",
]
