"""Writers for small dataset files in the real formats (test helpers, not tests).

CIFAR-10's python batches were written by Python 2's cPickle, protocol 2: strings are
SHORT_BINSTRING/BINSTRING, the pixel array goes through ``numpy.core.multiarray._reconstruct``
with a ``numpy.dtype('u1')`` and a raw BINSTRING, lists are appended in groups of 1000 and every
object is memoised (BINPUT, LONG_BINPUT past 255). ``Py2Pickler`` writes that byte layout.
"""

import gzip
import io
import struct
import tarfile
from pathlib import Path

import numpy as np

from soma.data.datasets import write_idx


class Py2Pickler:
    """Emits the opcodes of Python 2 cPickle (protocol 2) for the values CIFAR's batches hold."""

    def __init__(self):
        self.out = bytearray(b"\x80\x02")
        self.memo = 0

    def put(self):
        self.memo += 1
        if self.memo < 256:
            self.out += b"q" + bytes([self.memo])
        else:
            self.out += b"r" + struct.pack("<I", self.memo)

    def string(self, s: bytes):
        if len(s) < 256:
            self.out += b"U" + bytes([len(s)]) + s
        else:
            self.out += b"T" + struct.pack("<I", len(s)) + s
        self.put()

    def int(self, v: int):
        if 0 <= v < 256:
            self.out += b"K" + bytes([v])
        elif 0 <= v < 65536:
            self.out += b"M" + struct.pack("<H", v)
        else:
            self.out += b"J" + struct.pack("<i", v)

    def glob(self, module: str, name: str):
        self.out += b"c" + f"{module}\n{name}\n".encode()
        self.put()

    def array_u1(self, a: np.ndarray):
        self.glob("numpy.core.multiarray", "_reconstruct")
        self.glob("numpy", "ndarray")
        self.int(0)
        self.out += b"\x85"
        self.put()
        self.string(b"b")
        self.out += b"\x87"
        self.put()
        self.out += b"R"
        self.put()
        self.out += b"("
        self.int(1)
        for d in a.shape:
            self.int(d)
        self.out += b"\x86"
        self.put()
        self.glob("numpy", "dtype")
        self.string(b"u1")
        self.int(0)
        self.int(1)
        self.out += b"\x87"
        self.put()
        self.out += b"R"
        self.put()
        self.out += b"("
        self.int(3)
        self.string(b"|")
        self.out += b"NNN" + b"J" + struct.pack("<i", -1) + b"J" + struct.pack("<i", -1)
        self.int(0)
        self.out += b"t"
        self.put()
        self.out += b"b\x89"
        self.string(a.tobytes())
        self.out += b"t"
        self.put()
        self.out += b"b"

    def list_of(self, values, emit):
        self.out += b"]"
        self.put()
        for start in range(0, len(values), 1000):
            self.out += b"("
            for v in values[start : start + 1000]:
                emit(v)
            self.out += b"e"

    def dict_of(self, items):
        self.out += b"}"
        self.put()
        self.out += b"("
        for key, emit_value in items:
            self.string(key)
            emit_value()
        self.out += b"u"

    def finish(self) -> bytes:
        return bytes(self.out + b".")


def cifar_python_batch(images, labels, batch_label: bytes = b"training batch 1 of 5") -> bytes:
    p = Py2Pickler()
    data = images.reshape(len(images), -1)
    names = [f"img_{i}.png".encode() for i in range(len(images))]
    p.dict_of(
        [
            (b"data", lambda: p.array_u1(data)),
            (b"labels", lambda: p.list_of(list(labels), p.int)),
            (b"batch_label", lambda: p.string(batch_label)),
            (b"filenames", lambda: p.list_of(names, p.string)),
        ]
    )
    return p.finish()


CIFAR_CLASSES = [
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
]


def cifar_python_meta() -> bytes:
    p = Py2Pickler()
    names = [n.encode() for n in CIFAR_CLASSES]
    p.dict_of(
        [
            (b"num_cases_per_batch", lambda: p.int(10000)),
            (b"label_names", lambda: p.list_of(names, p.string)),
            (b"num_vis", lambda: p.int(3072)),
        ]
    )
    return p.finish()


def random_images(rng, n, shape):
    images = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
    return images, rng.integers(0, 10, n).astype(np.int64)


def cifar_python_files(rng, n_per_batch=3):
    """{relative path: bytes} of a python-version CIFAR-10 folder, plus the arrays written."""
    files, arrays = {}, {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        images, labels = random_images(rng, n_per_batch, (3, 32, 32))
        files[f"cifar-10-batches-py/{name}"] = cifar_python_batch(images, labels)
        arrays[name] = (images, labels)
    files["cifar-10-batches-py/batches.meta"] = cifar_python_meta()
    return files, arrays


def cifar_binary_files(rng, n_per_batch=3):
    files, arrays = {}, {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        images, labels = random_images(rng, n_per_batch, (3, 32, 32))
        pixels = images.reshape(n_per_batch, -1)
        records = np.concatenate([labels.astype(np.uint8)[:, None], pixels], axis=1)
        files[f"cifar-10-batches-bin/{name}.bin"] = records.tobytes()
        arrays[name] = (images, labels)
    files["cifar-10-batches-bin/batches.meta.txt"] = ("\n".join(CIFAR_CLASSES) + "\n\n").encode()
    return files, arrays


def write_files(folder: Path, files: dict):
    for rel, data in files.items():
        path = Path(folder) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def tar_gz(files: dict) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for rel, data in files.items():
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_mnist(folder: Path, rng, n_train=7, n_test=5, gz=True, shape=(28, 28)):
    """Four MNIST IDX files in ``folder``; returns {split: (images, labels)}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, *shape), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
        out[prefix] = (images, labels)
    return out


def gunzip(data: bytes) -> bytes:
    return gzip.decompress(data)
