"""Images with per-pixel class masks: ``SegmentationDataset`` and the folder reader.

A segmentation sample is ``(image, mask)``: the image (C, H, W) float, the mask (H, W) int64
holding a class index per pixel. ``transforms=`` takes a joint transform (see
``soma.data.mask_transforms``) that moves image and mask together (flips, crops, rotations);
``transform=`` then changes the image alone (``Normalize``).

``read_segmentation_folder(root)`` reads the common layout on disk, with Pillow (the ``image``
extra)::

    root/images/0001.png   root/masks/0001.png      (mask pixel value = class index)
    root/images/0002.png   root/masks/0002.png

Images and masks are paired by file name without extension; all images must have one size.
"""

import os

from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.data.dataset import TensorDataset
from soma.data.datasets.base import _to_float

_xp = get_xp()


class SegmentationDataset(TensorDataset):
    """Images (N, C, H, W) and class masks (N, H, W); samples are ``(image, mask)``.

    Args:
        images: uint8 (served as float32 in [0, 1]) or float images.
        masks: integer class indices, one per pixel.
        transforms: joint transform ``(image, mask) → (image, mask)`` (batched on the loader's
            fast path, one sample when indexing).
        transform: image-only transform, applied after ``transforms``.
        classes: class names, index = mask value.

    Example:
        >>> import numpy as np
        >>> ds = SegmentationDataset(np.zeros((2, 1, 4, 4), np.uint8), np.ones((2, 4, 4), int))
        >>> image, mask = ds[0]
        >>> tuple(image.shape), image.dtype, tuple(mask.shape), int(mask.sum())
        ((1, 4, 4), dtype('float32'), (4, 4), 16)
    """

    def __init__(self, images, masks, transforms=None, transform=None, classes=()):
        images = images.array if isinstance(images, Tensor) else _xp.asarray(images)
        masks = masks.array if isinstance(masks, Tensor) else _xp.asarray(masks)
        if (
            images.ndim != 4
            or masks.shape != (images.shape[0], *images.shape[2:])
            or masks.dtype.kind not in "iu"
        ):
            raise ValueError(
                f"SegmentationDataset: expected images (N, C, H, W) and integer masks "
                f"(N, H, W), got shapes {images.shape} and {masks.shape} ({masks.dtype})"
            )
        super().__init__(images, masks.astype(_xp.int64, copy=False), transform=transform)
        self.transforms = transforms
        self.classes = list(classes)

    @property
    def images(self):
        return self.tensors[0].array

    @property
    def masks(self):
        return self.tensors[1].array

    def _finish(self, fields):
        fields[0] = _to_float(fields[0])
        if self.transforms is not None:
            fields[0], fields[1] = self.transforms(fields[0], fields[1])
        return super()._finish(fields)

    def take(self, indices) -> "SegmentationDataset":
        """A new dataset holding copies of the samples at ``indices`` (same transforms)."""
        return SegmentationDataset(
            self.images[indices],
            self.masks[indices],
            self.transforms,
            self.transform,
            self.classes,
        )

    def __repr__(self) -> str:
        return (
            f"SegmentationDataset(samples={len(self)}, image_shape={self.images.shape[1:]}, "
            f"classes={len(self.classes) or 'unnamed'})"
        )


def _pil():
    try:
        from PIL import Image  # optional dependency: the `image` extra
    except ImportError:
        raise ImportError(
            "soma.data: reading PNG files needs Pillow; install it with `pip install soma[image]`"
        ) from None
    return Image


def _pngs(folder: str) -> dict:
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"read_segmentation_folder: no folder '{folder}'")
    names = sorted(f for f in os.listdir(folder) if f.lower().endswith(".png"))
    return {os.path.splitext(f)[0]: os.path.join(folder, f) for f in names}


def read_segmentation_folder(
    root, images: str = "images", masks: str = "masks", channels: int | None = None, **kwargs
) -> SegmentationDataset:
    """Read ``root/images/*.png`` and their masks ``root/masks/*.png`` as a dataset.

    Args:
        root: the folder holding the two sub-folders.
        images, masks: the sub-folders' names.
        channels: 1 (grayscale) or 3 (RGB); default: the first image's.
        **kwargs: ``transforms``, ``transform``, ``classes`` for ``SegmentationDataset``.

    Returns:
        a ``SegmentationDataset`` with uint8 images and int64 masks, sorted by file name.
    """
    Image = _pil()
    image_files = _pngs(os.path.join(root, images))
    mask_files = _pngs(os.path.join(root, masks))
    unpaired = sorted(set(image_files) ^ set(mask_files))
    if unpaired:
        raise ValueError(
            f"read_segmentation_folder: files without a partner in '{root}': {unpaired[:10]}"
        )
    if not image_files:
        raise ValueError(f"read_segmentation_folder: no PNG images in '{root}/{images}'")
    xs, ys = [], []
    for stem, path in image_files.items():
        with Image.open(path) as im:
            if channels is None:
                channels = 1 if im.mode in ("L", "I", "I;16", "1") else 3
            x = _xp.asarray(im.convert("L" if channels == 1 else "RGB"))
        with Image.open(mask_files[stem]) as im:
            y = _xp.asarray(im)  # "L" or "P": the pixel value is the class index
        if y.ndim != 2 or y.shape != x.shape[:2] or (xs and x.shape != xs[0].shape):
            raise ValueError(
                f"read_segmentation_folder: '{path}' is {x.shape[:2]} with a mask of "
                f"{y.shape}; every image and mask must have the first image's size"
            )
        xs.append(x)
        ys.append(y)
    images_array = _xp.stack(xs)
    images_array = images_array[:, None] if channels == 1 else images_array.transpose(0, 3, 1, 2)
    return SegmentationDataset(
        _xp.ascontiguousarray(images_array), _xp.stack(ys).astype(_xp.int64), **kwargs
    )


__all__ = ["SegmentationDataset", "read_segmentation_folder"]
