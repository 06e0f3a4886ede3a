"""MNIST and Fashion-MNIST from their IDX files (28×28 grey images, 10 classes).

Files are looked for in ``<root>/mnist`` (``<root>/fashion_mnist``) and in torchvision's layout
``<root>/MNIST/raw``; each may be gzipped or not. ``download=True`` fetches the missing
``.gz`` files from the official mirrors (or ``base_url``) and checks their SHA-256.
"""

from soma.backend import get_xp
from soma.data.datasets.base import (
    DatasetSplits,
    ImageDataset,
    load_image_splits,
    register_dataset,
)
from soma.data.datasets.files import DatasetFileError, default_root, fetch, find_files
from soma.data.datasets.idx import read_idx

_xp = get_xp()


class MNIST(ImageDataset):
    """The MNIST handwritten digits, PyTorch-style: one split per instance.

    Args:
        root: dataset root (default ``$SOMA_HOME/datasets``); files in ``root/mnist``.
        train: the 60,000 training images, else the 10,000 test images.
        transform, target_transform: applied to images (float32 in [0, 1]) / labels.
        download: fetch missing files (SHA-256 checked) into ``root/mnist``.
        base_url: a mirror to download from instead of the official ones.

    Images are served as (1, 28, 28) float32 in [0, 1]; ``.data`` keeps them as uint8
    (N, 1, 28, 28) (torchvision keeps (N, 28, 28)).
    """

    folder = "mnist"
    torchvision_folder = "MNIST"
    mirrors = (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    )
    # SHA-256 of the official gzipped files
    resources = {
        "train-images-idx3-ubyte": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    }
    CLASSES = (
        "0 - zero",
        "1 - one",
        "2 - two",
        "3 - three",
        "4 - four",
        "5 - five",
        "6 - six",
        "7 - seven",
        "8 - eight",
        "9 - nine",
    )

    def __init__(
        self,
        root=None,
        train: bool = True,
        transform=None,
        target_transform=None,
        download: bool = False,
        base_url: str | None = None,
    ):
        images, labels = self._read_split(default_root(root), train, download, base_url)
        super().__init__(images, labels, transform, target_transform, self.CLASSES)
        self.train = train

    @classmethod
    def _read_split(cls, root, train, download, base_url):
        prefix = "train" if train else "t10k"
        names = [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]
        folders = [root / cls.folder, root / cls.torchvision_folder / "raw"]
        _, found = find_files(folders, names)
        if not found and download:
            for name in names:
                mirrors = (base_url,) if base_url else cls.mirrors
                fetch(name + ".gz", root / cls.folder, cls.resources[name], mirrors)
            _, found = find_files(folders, names)
        if not found:
            raise FileNotFoundError(cls._missing_message(root, names))
        return _check_pair(found[names[0]], found[names[1]], len(cls.CLASSES))

    @classmethod
    def _missing_message(cls, root, names) -> str:
        listing = ", ".join(f"{n} (or {n}.gz)" for n in names)
        return (
            f"{cls.__name__}: data files not found. Expected {listing} in {root / cls.folder} "
            f"(or torchvision's {root / cls.torchvision_folder / 'raw'}). Pass download=True to "
            f"fetch them (SHA-256 checked) from {cls.mirrors[0]}, or copy the four IDX files "
            f"({', '.join(n + '.gz' for n in cls.resources)}) there."
        )


def _check_pair(images_path, labels_path, num_classes: int):
    """Images (N, 1, H, W) uint8 and labels (N,) from a validated pair of IDX files."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dtype != _xp.uint8 or images.ndim != 3:
        raise DatasetFileError(
            f"{images_path}: expected an IDX image file (magic 0x00000803: uint8 values, 3 "
            f"dimensions), got {images.dtype} values with shape {images.shape}"
        )
    if labels.dtype != _xp.uint8 or labels.ndim != 1:
        raise DatasetFileError(
            f"{labels_path}: expected an IDX label file (magic 0x00000801: uint8 values, 1 "
            f"dimension), got {labels.dtype} values with shape {labels.shape}"
        )
    if len(images) != len(labels):
        raise DatasetFileError(
            f"{images_path} holds {len(images)} images but {labels_path} holds "
            f"{len(labels)} labels"
        )
    if labels.size and labels.max() >= num_classes:
        raise DatasetFileError(
            f"{labels_path}: label {labels.max()} is outside 0..{num_classes - 1}"
        )
    return images[:, None], labels.astype(_xp.int64)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: MNIST's format and sizes, ten kinds of clothing."""

    folder = "fashion_mnist"
    torchvision_folder = "FashionMNIST"
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    resources = {
        "train-images-idx3-ubyte": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    }
    CLASSES = (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    )


@register_dataset(
    "mnist", "28x28 handwritten digits, IDX files (70,000 images, 10 classes; download)"
)
def load_mnist(
    root=None,
    val_split: float = 0.0,
    seed: int = 0,
    download: bool = False,
    transform=None,
    base_url: str | None = None,
) -> DatasetSplits:
    """MNIST's 60,000 / 10,000 split, plus an optional stratified validation split."""
    return load_image_splits(
        MNIST, "mnist", root, val_split, seed, download, transform, base_url=base_url
    )


@register_dataset(
    "fashion_mnist", "28x28 clothing images, IDX files (70,000 images, 10 classes; download)"
)
def load_fashion_mnist(
    root=None,
    val_split: float = 0.0,
    seed: int = 0,
    download: bool = False,
    transform=None,
    base_url: str | None = None,
) -> DatasetSplits:
    """Fashion-MNIST's 60,000 / 10,000 split, plus an optional stratified validation split."""
    return load_image_splits(
        FashionMNIST,
        "fashion_mnist",
        root,
        val_split,
        seed,
        download,
        transform,
        base_url=base_url,
    )
