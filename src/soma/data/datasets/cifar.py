"""CIFAR-10: 60,000 32×32 colour images in 10 classes, from the official batch files.

Both official versions are read, never with ``pickle``:

* the "python version" (``cifar-10-batches-py``: ``data_batch_1`` … ``data_batch_5``,
  ``test_batch``, ``batches.meta``) is a set of pickles; ``safe_pickle.safe_loads`` interprets
  their opcodes itself and refuses anything but plain data and NumPy's array reconstruction;
* the "binary version" (``cifar-10-batches-bin/*.bin``: records of 1 label byte + 3,072 pixel
  bytes) is read directly.

``download=True`` fetches the python version's archive (SHA-256 checked) and copies out only
the batch files. Pixels are stored channel-major (R, G, B planes), so each row of 3,072 bytes is
already one (3, 32, 32) image.
"""

from pathlib import Path

from soma.backend import get_xp
from soma.data.datasets.base import (
    DatasetSplits,
    ImageDataset,
    load_image_splits,
    register_dataset,
)
from soma.data.datasets.files import (
    DatasetFileError,
    default_root,
    extract_members,
    fetch,
    find_files,
)
from soma.data.datasets.idx import read_bytes
from soma.data.datasets.safe_pickle import safe_loads

_xp = get_xp()

_PIXELS = 3 * 32 * 32
_RECORD = 1 + _PIXELS


def _keys_as_text(batch, path) -> dict:
    if not isinstance(batch, dict):
        raise DatasetFileError(f"{path}: expected a pickled dict, got {type(batch).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}


def read_python_batch(path, num_classes: int = 10):
    """Images (n, 3, 32, 32) uint8 and labels (n,) int64 from one python-version batch file."""
    batch = _keys_as_text(safe_loads(read_bytes(path), str(path)), path)
    data, labels = batch.get("data"), batch.get("labels")
    if (
        not isinstance(data, _xp.ndarray)
        or data.dtype != _xp.uint8
        or data.ndim != 2
        or data.shape[1] != _PIXELS
    ):
        what = (
            f"{data.dtype} array of shape {data.shape}"
            if isinstance(data, _xp.ndarray)
            else type(data).__name__
        )
        raise DatasetFileError(f"{path}: 'data' should be a uint8 array (n, 3072), got {what}")
    if (
        not isinstance(labels, list)
        or len(labels) != len(data)
        or not all(isinstance(v, int) for v in labels)
    ):
        raise DatasetFileError(f"{path}: 'labels' should be a list of {len(data)} ints")
    labels = _xp.asarray(labels, dtype=_xp.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise DatasetFileError(f"{path}: labels outside 0..{num_classes - 1}")
    return data.reshape(-1, 3, 32, 32), labels


def read_binary_batch(path, num_classes: int = 10):
    """Images and labels from one binary-version batch (records of 1 + 3,072 bytes)."""
    raw = read_bytes(path)
    if len(raw) == 0 or len(raw) % _RECORD:
        raise DatasetFileError(
            f"{path}: {len(raw)} bytes is not a whole number of {_RECORD}-byte records "
            f"(1 label byte + 3072 pixel bytes each); truncated or not a CIFAR-10 batch"
        )
    records = _xp.frombuffer(raw, dtype=_xp.uint8).reshape(-1, _RECORD)
    labels = records[:, 0].astype(_xp.int64)
    if labels.max() >= num_classes:
        raise DatasetFileError(f"{path}: label {labels.max()} outside 0..{num_classes - 1}")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def _class_names(meta_path, default):
    if meta_path is None:
        return default
    if meta_path.suffix == ".txt":
        names = [line.strip() for line in meta_path.read_text().splitlines() if line.strip()]
    else:
        meta = _keys_as_text(safe_loads(read_bytes(meta_path), str(meta_path)), meta_path)
        names = [
            n.decode("latin1") if isinstance(n, bytes) else n for n in meta.get("label_names", [])
        ]
    if len(names) != len(default) or not all(isinstance(n, str) for n in names):
        raise DatasetFileError(
            f"{meta_path}: expected {len(default)} class names, got {names!r:.200}"
        )
    return tuple(names)


class CIFAR10(ImageDataset):
    """CIFAR-10, PyTorch-style: one split per instance.

    Args:
        root: dataset root (default ``$SOMA_HOME/datasets``); batch folders are looked for in
            ``root/cifar10/`` and ``root/`` (torchvision's layout).
        train: the 50,000 training images (five batches), else the 10,000 test images.
        transform, target_transform: applied to images (float32 in [0, 1]) / labels.
        download: fetch the python-version archive (SHA-256 checked) into ``root/cifar10``.
        base_url: a mirror to download from instead of the official site.

    ``.data`` holds uint8 (N, 3, 32, 32) (torchvision keeps (N, 32, 32, 3)).
    """

    folder = "cifar10"
    mirrors = ("https://www.cs.toronto.edu/~kriz/",)
    archive = (
        "cifar-10-python.tar.gz",
        "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    )
    python_folder, binary_folder = "cifar-10-batches-py", "cifar-10-batches-bin"
    train_batches = tuple(f"data_batch_{i}" for i in range(1, 6))
    test_batches = ("test_batch",)
    CLASSES = (
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
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
        root = default_root(root)
        reader, paths, meta = self._locate(root, train)
        if reader is None and download:
            self._download(root, base_url)
            reader, paths, meta = self._locate(root, train)
        if reader is None:
            raise FileNotFoundError(self._missing_message(root, train))
        parts = [reader(p, len(self.CLASSES)) for p in paths]
        images = _xp.concatenate([p[0] for p in parts])
        labels = _xp.concatenate([p[1] for p in parts])
        super().__init__(
            images, labels, transform, target_transform, _class_names(meta, self.CLASSES)
        )
        self.train = train

    def _locate(self, root: Path, train: bool):
        names = self.train_batches if train else self.test_batches
        bases = [root / self.folder, root]
        _, found = find_files([b / self.python_folder for b in bases], names)
        if found:
            folder = found[names[0]].parent
            meta = folder / "batches.meta"
            return read_python_batch, [found[n] for n in names], meta if meta.is_file() else None
        bin_names = [n + ".bin" for n in names]
        _, found = find_files([b / self.binary_folder for b in bases], bin_names)
        if found:
            meta = found[bin_names[0]].parent / "batches.meta.txt"
            meta = meta if meta.is_file() else None
            return read_binary_batch, [found[n] for n in bin_names], meta
        return None, [], None

    def _download(self, root: Path, base_url):
        folder = root / self.folder
        filename, sha256 = self.archive
        path = fetch(filename, folder, sha256, (base_url,) if base_url else self.mirrors)
        members = self.train_batches + self.test_batches + ("batches.meta",)
        extract_members(path, [f"{self.python_folder}/{m}" for m in members], folder)

    def _missing_message(self, root: Path, train: bool) -> str:
        names = self.train_batches if train else self.test_batches
        return (
            f"{type(self).__name__}: data files not found. Expected {', '.join(names)} in "
            f"{root / self.folder / self.python_folder} (the python version, from "
            f"{self.archive[0]}) or {', '.join(n + '.bin' for n in names)} in "
            f"{root / self.folder / self.binary_folder} (the binary version). Pass "
            f"download=True to fetch {self.mirrors[0]}{self.archive[0]} (SHA-256 checked), or "
            f"extract the archive into {root / self.folder}."
        )


@register_dataset(
    "cifar10", "32x32 colour photos, CIFAR-10 batches (60,000 images, 10 classes; download)"
)
def load_cifar10(
    root=None,
    val_split: float = 0.0,
    seed: int = 0,
    download: bool = False,
    transform=None,
    base_url: str | None = None,
) -> DatasetSplits:
    """CIFAR-10's 50,000 / 10,000 split, plus an optional stratified validation split."""
    return load_image_splits(
        CIFAR10, "cifar10", root, val_split, seed, download, transform, base_url=base_url
    )
