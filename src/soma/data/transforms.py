"""Image transforms on whole batches: NumPy arrays or soma Tensors, (N, C, H, W) or (C, H, W).

A transform called on one image (C, H, W) treats it as a batch of one; on a batch it draws
independent randomness for every image, vectorised (no Python loop over images or pixels).
Randomness comes from ``generator=`` (a ``soma.Generator``; default: the global generator).
Transforms return what they were given: an array for an array, a Tensor for a Tensor. Use them
as a dataset's ``transform=`` (applied per batch on the loader's fast path) or a
``DataLoader(..., transform=...)``.

Example:
    >>> import numpy as np
    >>> import soma
    >>> augment = Compose([RandomCrop(8, padding=1, generator=soma.Generator().manual_seed(0)),
    ...                    RandomHorizontalFlip(), Normalize([0.5], [0.25])])
    >>> augment(np.zeros((16, 1, 8, 8), np.float32)).shape
    (16, 1, 8, 8)
"""

import math
import numbers

from soma.autograd.tensor import Tensor
from soma.backend import get_xp, sliding_windows
from soma.backend import random as _random
from soma.functional._utils import ntuple

_xp = get_xp()


class Transform:
    """Base class: unwraps Tensors, lifts one image to a batch of one, and undoes both after.

    Subclasses implement ``_batch(x, rng)`` on a (N, C, H, W) array.
    """

    generator = None

    def __call__(self, img):
        is_tensor = isinstance(img, Tensor)
        x = img.array if is_tensor else _xp.asarray(img)
        if x.ndim not in (3, 4):
            raise ValueError(
                f"{type(self).__name__}: expected an image (C, H, W) or a batch "
                f"(N, C, H, W), got shape {x.shape}"
            )
        y = self._batch(x if x.ndim == 4 else x[None], _random.resolve(self.generator))
        y = y if x.ndim == 4 else y[0]
        return Tensor._wrap(y) if is_tensor else y

    def _batch(self, x, rng):
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "generator")
        return f"{type(self).__name__}({args})"


def _float(x):
    """Integer images become float32 (pixel values unchanged); floats stay as they are."""
    return x if x.dtype.kind == "f" else x.astype(_xp.float32)


class Compose:
    """Apply transforms one after the other.

    Example:
        >>> Compose([lambda x: x + 1, lambda x: x * 2])(1)
        4
    """

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        return "Compose(\n" + "".join(f"    {t!r},\n" for t in self.transforms) + ")"


class Lambda:
    """Wrap a function as a transform."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, img):
        return self.fn(img)


class ToTensor:
    """Arrays → soma Tensors; uint8 pixels become float32 in [0, 1] (as torchvision's).

    soma images are already (C, H, W), so unlike torchvision's no axes move.

    Example:
        >>> import numpy as np
        >>> ToTensor()(np.full((1, 2, 2), 255, np.uint8)).tolist()
        [[[1.0, 1.0], [1.0, 1.0]]]
    """

    def __call__(self, img):
        x = img.array if isinstance(img, Tensor) else _xp.asarray(img)
        if x.dtype == _xp.uint8:
            x = x.astype(_xp.float32) / 255
        return Tensor._wrap(x)

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize(Transform):
    """(x − mean[c]) / std[c] per channel.

    Example:
        >>> import numpy as np
        >>> Normalize([0.5, 1.0], [0.5, 2.0])(np.ones((2, 1, 1), np.float32)).ravel().tolist()
        [1.0, 0.0]
    """

    def __init__(self, mean, std, inplace: bool = False):
        self.mean = tuple(float(m) for m in _xp.atleast_1d(mean))
        self.std = tuple(float(s) for s in _xp.atleast_1d(std))
        self.inplace = inplace
        if any(s == 0 for s in self.std):
            raise ValueError(
                f"Normalize: std evaluated to zero in {self.std}, leading to division by zero"
            )

    def _batch(self, x, rng):
        if x.dtype.kind != "f":
            raise TypeError(f"Normalize: expected a floating-point image, got {x.dtype}")
        channels = x.shape[1]
        if len(self.mean) not in (1, channels) or len(self.std) not in (1, channels):
            raise ValueError(
                f"Normalize: {len(self.mean)} means / {len(self.std)} stds for "
                f"images with {channels} channels (shape {x.shape})"
            )
        mean = _xp.asarray(self.mean, dtype=x.dtype).reshape(-1, 1, 1)
        std = _xp.asarray(self.std, dtype=x.dtype).reshape(-1, 1, 1)
        if self.inplace:
            x -= mean
            x /= std
            return x
        return (x - mean) / std


def _resize_matrix(n_in: int, n_out: int, dtype):
    """(n_out, n_in) bilinear weights with PyTorch's align_corners=False source positions."""
    src = (_xp.arange(n_out, dtype=_xp.float64) + 0.5) * (n_in / n_out) - 0.5
    src = _xp.maximum(src, 0.0)
    i0 = _xp.minimum(_xp.floor(src).astype(_xp.int64), n_in - 1)
    i1 = _xp.minimum(i0 + 1, n_in - 1)
    w1 = src - i0
    m = _xp.zeros((n_out, n_in), dtype=_xp.float64)
    rows = _xp.arange(n_out)
    m[rows, i0] = 1 - w1
    m[rows, i1] += w1  # i1 == i0 at the last row: the weights add up to 1
    return m.astype(dtype)


class Resize(Transform):
    """Bilinear resize (PyTorch's ``interpolate(mode="bilinear", align_corners=False)``).

    Computed as two small matrix products, along H then W. No antialiasing (as ``interpolate``).

    Args:
        size: (height, width), or an int: the smaller edge becomes ``size``, aspect ratio kept.

    Example:
        >>> import numpy as np
        >>> Resize((2, 2))(np.arange(16, dtype=np.float32).reshape(1, 4, 4)).tolist()
        [[[2.5, 4.5], [10.5, 12.5]]]
    """

    def __init__(self, size):
        self.size = (
            size if isinstance(size, numbers.Integral) else ntuple(size, 2, "Resize", "size")
        )

    def _output_size(self, h: int, w: int) -> tuple:
        if not isinstance(self.size, numbers.Integral):
            return self.size
        if h <= w:
            return self.size, int(self.size * w / h)
        return int(self.size * h / w), self.size

    def _batch(self, x, rng):
        x = _float(x)
        oh, ow = self._output_size(*x.shape[2:])
        mh = _resize_matrix(x.shape[2], oh, x.dtype)
        mw = _resize_matrix(x.shape[3], ow, x.dtype)
        return _xp.matmul(_xp.matmul(mh, x), mw.T)


class CenterCrop(Transform):
    """Crop the central (height, width) region (torchvision's rounding of the offsets)."""

    def __init__(self, size):
        self.size = ntuple(size, 2, "CenterCrop", "size")

    def _batch(self, x, rng):
        (h, w), (height, width) = self.size, x.shape[2:]
        if h > height or w > width:
            raise ValueError(
                f"CenterCrop: crop {self.size} is larger than the images {x.shape[2:]}"
            )
        top, left = int(round((height - h) / 2.0)), int(round((width - w) / 2.0))
        return x[:, :, top : top + h, left : left + w].copy()


def _padding(padding) -> tuple:
    """torchvision's padding forms → (top, bottom, left, right)."""
    if isinstance(padding, numbers.Integral):
        return (padding,) * 4
    padding = tuple(padding)
    if len(padding) == 2:  # (left/right, top/bottom)
        return padding[1], padding[1], padding[0], padding[0]
    if len(padding) == 4:  # (left, top, right, bottom)
        return padding[1], padding[3], padding[0], padding[2]
    raise ValueError(
        f"RandomCrop: padding should be an int or a 2- or 4-sequence, got {padding!r}"
    )


_PAD_MODES = ("constant", "edge", "reflect", "symmetric")  # np.pad names = torchvision names


class RandomCrop(Transform):
    """Crop a random (height, width) window from each image, after optional padding.

    Args:
        size: output (height, width) or an int for a square.
        padding: int, (left/right, top/bottom) or (left, top, right, bottom), added first.
        pad_if_needed: pad images smaller than ``size`` up to it.
        fill: value of constant padding.
        padding_mode: ``"constant"``, ``"edge"``, ``"reflect"`` or ``"symmetric"``.
        generator: ``soma.Generator`` for the offsets.

    Example:
        >>> import numpy as np
        >>> RandomCrop(2, padding=1)(np.ones((5, 3, 4, 4), np.float32)).shape
        (5, 3, 2, 2)
    """

    def __init__(
        self,
        size,
        padding=None,
        pad_if_needed: bool = False,
        fill=0,
        padding_mode: str = "constant",
        generator=None,
    ):
        if padding_mode not in _PAD_MODES:
            raise ValueError(
                f"RandomCrop: padding_mode should be one of {list(_PAD_MODES)}, "
                f"got {padding_mode!r}"
            )
        self.size = ntuple(size, 2, "RandomCrop", "size")
        self.padding = padding
        self.pad_if_needed = pad_if_needed
        self.fill = fill
        self.padding_mode = padding_mode
        self.generator = generator

    def _pad(self, x, top, bottom, left, right):
        if not (top or bottom or left or right):
            return x
        pads = ((0, 0), (0, 0), (top, bottom), (left, right))
        if self.padding_mode == "constant":
            return _xp.pad(x, pads, mode="constant", constant_values=self.fill)
        return _xp.pad(x, pads, mode=self.padding_mode)

    def _batch(self, x, rng):
        if self.padding is not None:
            x = self._pad(x, *_padding(self.padding))
        h, w = self.size
        if self.pad_if_needed:
            dh, dw = max(h - x.shape[2], 0), max(w - x.shape[3], 0)
            x = self._pad(x, dh, dh, dw, dw)
        n, _, height, width = x.shape
        if h > height or w > width:
            raise ValueError(
                f"RandomCrop: crop {self.size} is larger than the (padded) images "
                f"{(height, width)}"
            )
        top = rng.integers(0, height - h + 1, n)
        left = rng.integers(0, width - w + 1, n)
        windows = sliding_windows(x, (h, w), axis=(2, 3))  # (N, C, H-h+1, W-w+1, h, w), a view
        return windows[_xp.arange(n), :, top, left]  # → (N, C, h, w)


class RandomHorizontalFlip(Transform):
    """Mirror each image left-right with probability ``p`` (independently per image)."""

    def __init__(self, p: float = 0.5, generator=None):
        self.p = p
        self.generator = generator

    def _batch(self, x, rng):
        flip = rng.random(x.shape[0]) < self.p
        out = x.copy()
        out[flip] = x[flip][..., ::-1]
        return out


class RandomVerticalFlip(Transform):
    """Mirror each image top-bottom with probability ``p`` (independently per image)."""

    def __init__(self, p: float = 0.5, generator=None):
        self.p = p
        self.generator = generator

    def _batch(self, x, rng):
        flip = rng.random(x.shape[0]) < self.p
        out = x.copy()
        out[flip] = x[flip][..., ::-1, :]
        return out


def rotate(x, angles, fill: float = 0.0):
    """Rotate each image of ``x`` (N, C, H, W) counter-clockwise by ``angles[n]`` degrees.

    Bilinear sampling about the image centre ((H−1)/2, (W−1)/2); pixels that come from outside
    the image take ``fill``. One sampling grid for the batch, four gathers, no Python loops.
    """
    x = _float(x)
    n, c, h, w = x.shape
    theta = _xp.deg2rad(_xp.asarray(angles, dtype=_xp.float64)).reshape(n, 1, 1)
    dy, dx = _xp.mgrid[0:h, 0:w].astype(_xp.float64)
    dy, dx = (dy - (h - 1) / 2).astype(x.dtype), (dx - (w - 1) / 2).astype(x.dtype)
    cos, sin = _xp.cos(theta).astype(x.dtype), _xp.sin(theta).astype(x.dtype)  # x's precision
    # output pixel q samples the input at R(−θ) q (y axis points down)
    sx = _xp.clip(cos * dx - sin * dy + (w - 1) / 2, -1, w).reshape(n, -1)
    sy = _xp.clip(sin * dx + cos * dy + (h - 1) / 2, -1, h).reshape(n, -1)
    x0 = _xp.minimum(_xp.floor(sx), w - 1)
    y0 = _xp.minimum(_xp.floor(sy), h - 1)
    wx, wy = (sx - x0)[:, None], (sy - y0)[:, None]
    # a one-pixel frame of `fill` stands in for everything outside the image
    padded = _xp.full((n, c, h + 2, w + 2), fill, dtype=x.dtype)
    padded[:, :, 1:-1, 1:-1] = x
    flat = padded.reshape(-1)
    plane = (h + 2) * (w + 2)
    # flat index of each output pixel's top-left neighbour, per image and channel: (N, C, H·W)
    corner = ((y0 + 1) * (w + 2) + x0 + 1).astype(_xp.int64)[:, None, :] + (
        _xp.arange(n * c) * plane
    ).reshape(n, c, 1)
    top_left, top_right = flat.take(corner), flat[1:].take(corner)
    bottom_left, bottom_right = flat[w + 2 :].take(corner), flat[w + 3 :].take(corner)
    top = top_left + wx * (top_right - top_left)
    bottom = bottom_left + wx * (bottom_right - bottom_left)
    return (top + wy * (bottom - top)).reshape(n, c, h, w)


class RandomRotation(Transform):
    """Rotate each image by its own random angle, uniform in [−degrees, degrees] (or a range).

    Counter-clockwise for positive angles (as torchvision), bilinear, ``fill`` outside.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).random((2, 1, 5, 5)).astype(np.float32)
        >>> bool(np.allclose(RandomRotation(0)(x), x))
        True
    """

    def __init__(self, degrees, fill: float = 0.0, generator=None):
        if isinstance(degrees, numbers.Number):
            if degrees < 0:
                raise ValueError(f"RandomRotation: degrees must be non-negative, got {degrees}")
            degrees = (-degrees, degrees)
        self.degrees = (float(degrees[0]), float(degrees[1]))
        self.fill = fill
        self.generator = generator

    def _batch(self, x, rng):
        angles = rng.uniform(self.degrees[0], self.degrees[1], x.shape[0])
        return rotate(x, angles, self.fill)


class GaussianNoise:
    """Add N(mean, std²) noise to every value (any shape; arrays or Tensors).

    Args:
        std: standard deviation of the noise.
        mean: its mean.
        clip: clamp the result to [0, 1] (for images in that range).
        generator: ``soma.Generator`` for the noise.
    """

    def __init__(self, std: float = 0.1, mean: float = 0.0, clip: bool = False, generator=None):
        if std < 0 or not math.isfinite(std):
            raise ValueError(f"GaussianNoise: std must be a non-negative number, got {std}")
        self.std, self.mean, self.clip = std, mean, clip
        self.generator = generator

    def __call__(self, img):
        is_tensor = isinstance(img, Tensor)
        x = img.array if is_tensor else _xp.asarray(img)
        if x.dtype.kind != "f":
            raise TypeError(f"GaussianNoise: expected floating-point values, got {x.dtype}")
        noise = _random.resolve(self.generator).normal(self.mean, self.std, x.shape)
        y = x + noise.astype(x.dtype)
        if self.clip:
            y = _xp.clip(y, 0, 1)
        return Tensor._wrap(y) if is_tensor else y

    def __repr__(self) -> str:
        return f"GaussianNoise(std={self.std}, mean={self.mean}, clip={self.clip})"


__all__ = [
    "CenterCrop",
    "Compose",
    "GaussianNoise",
    "Lambda",
    "Normalize",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomRotation",
    "RandomVerticalFlip",
    "Resize",
    "ToTensor",
    "Transform",
    "rotate",
]
