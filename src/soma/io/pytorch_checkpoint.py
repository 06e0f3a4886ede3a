"""Reading PyTorch's ``.pt``/``.pth`` files without unpickling them.

``torch.save`` writes a zip archive: ``<name>/data.pkl`` is a pickle describing the saved object,
and ``<name>/data/<key>`` holds the raw bytes of each storage. The pickle is interpreted by
``_torch_pickle.Machine``, which allows only PyTorch's tensor constructors and plain data, and
never imports or calls anything the file names. Tensors are rebuilt from the storage bytes with
their size, stride and offset (views sharing a storage come back right), bounds-checked against
the storage, and copied into soma Tensors.
"""

import math
import os
import zipfile

from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.io import whole_model
from soma.io._torch_pickle import Machine, Storage, UnsafeCheckpointError
from soma.io.serialization import CheckpointError

_xp = get_xp()

__all__ = ["UnsafeCheckpointError", "load_pytorch_checkpoint"]

_MAX_EXPANSION = 64  # elements of one tensor per element of its storage (stride-0 views)


class _Archive:
    """The storages of one ``torch.save`` zip file, read lazily and checked."""

    def __init__(self, zf: zipfile.ZipFile, prefix: str, where: str):
        self.zf, self.prefix, self.where = zf, prefix, where
        self.little = self._byteorder()
        self.cache = {}

    def _byteorder(self) -> bool:
        name = self.prefix + "byteorder"
        if name not in self.zf.NameToInfo:
            return True
        order = self.zf.read(name).decode("ascii", "replace").strip()
        if order not in ("little", "big"):
            raise CheckpointError(f"cannot load {self.where}: unknown byte order {order!r}")
        return order == "little"

    def _dtype(self, code: str):
        base = "u2" if code == "bf16" else code
        dtype = _xp.dtype(base)
        return dtype.newbyteorder("<" if self.little else ">") if dtype.itemsize > 1 else dtype

    def base(self, storage: Storage):
        """The storage's elements as a flat array (read once per storage key)."""
        if storage.key in self.cache:
            return self.cache[storage.key]
        name = f"{self.prefix}data/{storage.key}"
        info = self.zf.NameToInfo.get(name)
        dtype = self._dtype(storage.code)
        expected = storage.numel * dtype.itemsize
        if info is None:
            raise CheckpointError(
                f"cannot load {self.where}: storage '{storage.key}' is missing "
                "from the archive (truncated or damaged file)"
            )
        if info.file_size != expected:
            raise CheckpointError(
                f"cannot load {self.where}: storage '{storage.key}' holds {info.file_size} bytes, "
                f"its {storage.numel} elements need {expected}"
            )
        flat = _xp.frombuffer(_read(self.zf, name, self.where), dtype=dtype)
        flat = flat.astype(_xp.dtype(dtype.str[1:]), copy=False)  # native byte order
        if storage.code == "bf16":  # bfloat16 is the top half of a float32
            flat = (flat.astype(_xp.uint32) << 16).view(_xp.float32)
        self.cache[storage.key] = flat
        return flat

    def tensor(self, storage, offset, size, stride, requires_grad: bool) -> Tensor:
        if not isinstance(storage, Storage):
            raise TypeError("_rebuild_tensor_v2 without a storage")
        size, stride = _ints(size, "size"), _ints(stride, "stride")
        if not isinstance(offset, int) or offset < 0 or len(size) != len(stride):
            raise ValueError(f"bad tensor layout: offset {offset!r}, size {size}, stride {stride}")
        if any(s < 0 for s in size + stride):
            raise ValueError(f"negative size or stride: size {size}, stride {stride}")
        flat = self.base(storage)
        if 0 in size:
            array = _xp.zeros(size, dtype=flat.dtype)
        else:
            numel = math.prod(size)
            if numel > _MAX_EXPANSION * flat.size + 2**20:
                raise CheckpointError(
                    f"cannot load {self.where}: a tensor of size {size} repeats a storage of "
                    f"{flat.size} elements {numel // max(flat.size, 1)} times (an expanded view); "
                    "views that large are not materialised"
                )
            last = offset + sum((n - 1) * st for n, st in zip(size, stride))
            if last >= flat.size:
                raise CheckpointError(
                    f"cannot load {self.where}: a tensor of size {size}, stride {stride} and "
                    f"offset {offset} reaches element {last} of a storage of {flat.size}"
                )
            item = flat.dtype.itemsize
            view = _xp.lib.stride_tricks.as_strided(
                flat[offset:],
                shape=size,
                strides=tuple(st * item for st in stride),
                writeable=False,
            )
            array = view.copy()
        t = Tensor._wrap(array)
        t.requires_grad = requires_grad and array.dtype.kind in "fc"
        return t


def _ints(values, what: str) -> tuple:
    if not isinstance(values, tuple) or not all(isinstance(v, int) for v in values):
        raise TypeError(f"tensor {what} must be a tuple of ints, got {values!r}")
    return values


def _read(zf: zipfile.ZipFile, name: str, where: str) -> bytes:
    info = zf.getinfo(name)
    # torch.save stores entries uncompressed; a re-zipped file may compress them, but not 100x
    if info.compress_type != zipfile.ZIP_STORED and info.file_size > 100 * info.compress_size:
        raise CheckpointError(
            f"cannot load {where}: entry '{name}' would expand "
            f"{info.compress_size} bytes into {info.file_size} (zip bomb?)"
        )
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f"cannot load {where}: entry '{name}' is damaged ({e})") from None


def _open(path: str, where: str) -> zipfile.ZipFile:
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:1] == b"\x80":
        raise CheckpointError(
            f"cannot load {where}: this is PyTorch's legacy (pre-1.6) format, a bare pickle; "
            "re-save it with a recent torch.save, or convert it to safetensors"
        )
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise CheckpointError(
            f"cannot load {where}: not a PyTorch zip archive, or a truncated one ({e})"
        ) from None


def _pickle_entry(zf: zipfile.ZipFile, where: str) -> str:
    names = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(names) != 1:
        raise CheckpointError(
            f"cannot load {where}: expected one '<name>/data.pkl' in the "
            f"archive, found {len(names)} (not a torch.save file?)"
        )
    return names[0]


def load_pytorch_checkpoint(path, map_location=None, weights_only=True):
    """Load a file written by ``torch.save`` (a state dict or a checkpoint) without pickle.

    Tensors come back as soma Tensors with their dtypes (bfloat16 is widened to float32, which
    NumPy lacks); dicts, lists, tuples, numbers and strings as themselves. Nothing in the file
    is executed: anything but tensors and plain data is refused, except whole modules
    (``torch.save(model)``) of allowed classes, rebuilt as soma modules: PyTorch's layers
    (``torch.nn.modules.linear.Linear`` is soma's ``Linear``), classes passed to
    ``soma.serialization.add_safe_globals`` and, with ``weights_only=False``, ``Module``
    subclasses the program has already imported. ``map_location`` is accepted for PyTorch
    compatibility (everything loads to the CPU).

    Args:
        path: a ``.pt``/``.pth`` file from ``torch.save`` (PyTorch ≥ 1.6 zip format).

    Returns:
        The saved object, e.g. a dict mapping parameter names to Tensors, ready for
        ``model.load_state_dict``.

    Raises:
        UnsafeCheckpointError: the pickle names a function or opcode other than PyTorch's
            tensor constructors (the file may be malicious).
        CheckpointError: a truncated, damaged or legacy-format file.

    Example:
        >>> import soma  # doctest: +SKIP
        >>> state = soma.io.load_pytorch_checkpoint("resnet18.pth")  # doctest: +SKIP
        >>> model.load_state_dict(state)  # doctest: +SKIP
    """
    path = os.fspath(path)
    where = f"'{path}'"
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_pytorch_checkpoint: no such file: {where}")
    with _open(path, where) as zf:
        entry = _pickle_entry(zf, where)
        prefix = entry[: -len("data.pkl")]
        data = _read(zf, entry, where)
        classes = whole_model.torch_class_resolver(weights_only, where)
        result = Machine(data, where, _Archive(zf, prefix, where), classes).run()
    return whole_model.rebuild_torch_objects(result)
