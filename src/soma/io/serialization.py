"""``save`` and ``load``: nested containers of tensors in one safetensors file, never pickle.

A file is a standard safetensors file. The tensors are its tensors, named by their path in
the saved object (``"fc.weight"``, ``"optimizer.state.0.exp_avg"``), so a plain state dict
saved here opens in any safetensors reader. Everything else lives in the header's metadata as
JSON under the key ``"soma"``: the structure of the object (dicts, lists, tuples, numbers,
strings, ``None``) with references to the tensors, each tensor's dtype and shape, and a SHA-256
checksum over that JSON and every tensor's bytes, so a truncated or corrupted file is refused
instead of loading wrong values.

Files are written atomically: to a temporary file in the same folder, flushed to disk, then
renamed over the target, so a crash never leaves half a checkpoint behind.
"""

import hashlib
import json
import os
import struct
import tempfile

from soma.autograd.tensor import Tensor
from soma.backend import get_xp
from soma.nn.module import Module as _Module

_xp = get_xp()

FORMAT = "soma"
VERSION = 1
_MAX_HEADER = 100_000_000  # the safetensors limit on header size


class CheckpointError(ValueError):
    """A file that cannot be loaded (corrupt, truncated, not a soma file) or does not match."""


def _safetensors_numpy():
    try:
        import safetensors.numpy  # optional dependency (soma[io])
    except ImportError:
        raise ImportError(
            "saving and loading tensors needs the 'safetensors' package: pip install soma[io]"
        ) from None
    return safetensors.numpy


# ---------------------------------------------------------------------- object <-> JSON + tensors
class _Flattener:
    """Walks a nested object, collecting tensors by path and returning a JSON-able structure."""

    def __init__(self):
        self.tensors = {}
        self.refs = {}  # id(tensor) -> (name, tensor): parameters shared by modules

    def encode(self, value, path):
        if isinstance(value, Tensor):
            return {"__tensor__": self._add(value.detach().array, path)}
        if isinstance(value, _xp.ndarray):
            return {"__ndarray__": self._add(value, path)}
        if isinstance(value, _xp.generic):
            return value.item()
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, _xp.dtype):
            return {"__dtype__": value.name}
        if isinstance(value, tuple):
            return {"__tuple__": [self.encode(v, f"{path}.{i}") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.encode(v, f"{path}.{i}") for i, v in enumerate(value)]
        if isinstance(value, dict):
            return self._encode_dict(value, path)
        if isinstance(value, _Module):  # a whole model: class path + attributes + tensors
            return _whole_model.encode(value, self, path)
        where = f" at '{path}'" if path else ""
        if hasattr(value, "state_dict"):
            raise TypeError(
                f"soma.save: cannot save a {type(value).__name__} object{where}; save "
                "its state_dict() and load it into a new one with load_state_dict()"
            )
        raise TypeError(
            f"soma.save: cannot save a value of type {type(value).__name__}{where}; files hold "
            "tensors, arrays, numbers, strings, None and dicts/lists/tuples of them (no pickle)"
        )

    def _encode_dict(self, value, path):
        join = (lambda k: f"{path}.{k}") if path else str
        if all(isinstance(k, str) and not k.startswith("__") for k in value):
            return {k: self.encode(v, join(k)) for k, v in value.items()}
        for k in value:
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise TypeError(f"soma.save: dict key {k!r} at '{path}' is not a str or number")
        return {"__dict__": [[k, self.encode(v, join(k))] for k, v in value.items()]}

    def tensor_ref(self, tensor, path):
        """The name of ``tensor`` in the file, stored once however often it is referenced."""
        key = id(tensor)
        if key not in self.refs:
            self.refs[key] = (self._add(tensor.detach().array, path), tensor)
        return self.refs[key][0]

    def _add(self, array, path):
        name = path or "tensor"
        n = 1
        while name in self.tensors:  # paths can collide ({"a.b": x, "a": {"b": y}})
            name = f"{path}#{n}"
            n += 1
        self.tensors[name] = array if array.flags.c_contiguous else array.copy(order="C")
        return name


def _decode(value, tensors, rebuild=None):
    if isinstance(value, list):
        return [_decode(v, tensors, rebuild) for v in value]
    if not isinstance(value, dict):
        return value
    if "__module__" in value:
        if rebuild is None:
            raise CheckpointError("a whole module can only be loaded by soma.load")
        return rebuild.module(value, tensors, lambda v: _decode(v, tensors, rebuild))
    if "__tensor__" in value:
        return Tensor._wrap(tensors[value["__tensor__"]])
    if "__ndarray__" in value:
        return tensors[value["__ndarray__"]]
    if "__dtype__" in value:
        return _xp.dtype(value["__dtype__"])
    if "__tuple__" in value:
        return tuple(_decode(v, tensors, rebuild) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: _decode(v, tensors, rebuild) for k, v in value["__dict__"]}
    return {k: _decode(v, tensors, rebuild) for k, v in value.items()}


def _checksum(meta_json: str, tensors: dict) -> str:
    digest = hashlib.sha256(meta_json.encode())
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(tensors[name].tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------- save
def save(obj, f) -> None:
    """Save tensors, a state dict or a whole training checkpoint to one safetensors file.

    Args:
        obj: a Tensor, NumPy array, or nested dicts/lists/tuples of them mixed with numbers,
            strings and ``None`` (``model.state_dict()``, ``optimizer.state_dict()``, …).
        f: a path (the file is replaced atomically) or a binary file object.

    Example:
        >>> import os, tempfile, soma
        >>> path = os.path.join(tempfile.mkdtemp(), "w.safetensors")
        >>> soma.save({"w": soma.ones(2), "step": 3}, path)
        >>> soma.load(path)["step"]
        3
    """
    flat = _Flattener()
    structure = flat.encode(obj, "")
    info = {
        name: {"dtype": a.dtype.name, "shape": list(a.shape)} for name, a in flat.tensors.items()
    }
    meta_json = json.dumps(
        {"format": FORMAT, "version": VERSION, "structure": structure, "tensors": info}
    )
    metadata = {FORMAT: meta_json, "soma.sha256": _checksum(meta_json, flat.tensors)}
    blob = _safetensors_numpy().save(flat.tensors, metadata=metadata)
    if hasattr(f, "write"):
        f.write(blob)
    else:
        write_atomic(os.fspath(f), blob)


def _umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str, blob: bytes) -> None:
    """Write ``blob`` to ``path`` through a temporary file, fsync and an atomic rename."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(blob)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual 0644
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    try:  # make the rename itself durable (not possible on every platform)
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


# ---------------------------------------------------------------------- load
def load(f, map_location=None, weights_only: bool = True, **pickle_load_args):
    """Load what ``save`` wrote (or any safetensors file, as a dict of tensors).

    The file is checked before anything is returned: a truncated file, flipped bytes or a
    header that does not describe the data raise ``CheckpointError``. ``map_location`` is
    accepted for PyTorch compatibility (soma is CPU-only). A whole saved ``Module`` is rebuilt
    only from allowed classes (see ``whole_model.py``): soma's own, those passed to
    ``soma.serialization.add_safe_globals`` and, with ``weights_only=False``, ``Module``
    subclasses the program has already imported; nothing from the file is ever run.

    Example:
        >>> import io, soma
        >>> buf = io.BytesIO(); soma.save([soma.tensor([1.0, 2.0])], buf)
        >>> soma.load(io.BytesIO(buf.getvalue()))
        [tensor([1., 2.])]
    """
    name = getattr(f, "name", None) if hasattr(f, "read") else os.fspath(f)
    if hasattr(f, "read"):
        blob = f.read()
    else:
        if not os.path.exists(name):
            raise FileNotFoundError(f"soma.load: no such file: '{name}'")
        with open(name, "rb") as handle:
            blob = handle.read()
    where = f"'{name}'" if name else "the file"
    if blob[:4] == b"PK\x03\x04" and name and os.path.exists(name):
        # a torch.save zip archive (e.g. loaded by a program under `soma run`): read its
        # tensors and plain data without unpickling (lazy: soma.io.pytorch_checkpoint imports
        # this module at load time)
        from soma.io.pytorch_checkpoint import load_pytorch_checkpoint

        return load_pytorch_checkpoint(name, weights_only=weights_only)
    try:
        header = _read_header(blob, where)
    except CheckpointError:
        if blob[:4] == b"PK\x03\x04" or blob[:1] == b"\x80":  # torch.save's zip, or a pickle
            raise CheckpointError(
                f"cannot load {where} with soma.load: it is a PyTorch file (torch.save), not "
                "safetensors; read its tensors with soma.io.load_pytorch_checkpoint(path) "
                "(no unpickling)"
            ) from None
        raise
    arrays = _read_tensors(blob, where)
    meta_json = header.get("__metadata__", {}).get(FORMAT)
    if meta_json is None:  # a safetensors file written by another tool: a flat dict
        return {k: Tensor._wrap(v) for k, v in arrays.items()}
    rebuild = _whole_model.Rebuilder(weights_only, where)
    return _restore(meta_json, header["__metadata__"], arrays, where, rebuild)


def _read_header(blob: bytes, where: str) -> dict:
    if len(blob) < 8:
        raise CheckpointError(f"cannot load {where}: the file is truncated ({len(blob)} bytes)")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > _MAX_HEADER or 8 + n > len(blob):
        raise CheckpointError(
            f"cannot load {where}: the header claims {n} bytes but the file has {len(blob)}; "
            "the file is truncated or not a safetensors file"
        )
    try:
        header = json.loads(blob[8 : 8 + n])
    except (UnicodeDecodeError, ValueError):
        raise CheckpointError(
            f"cannot load {where}: the header is not valid JSON (corrupt file)"
        ) from None
    if not isinstance(header, dict):
        raise CheckpointError(
            f"cannot load {where}: the header is not a JSON object (corrupt file)"
        )
    ends = [
        v["data_offsets"][1]
        for k, v in header.items()
        if k != "__metadata__" and isinstance(v, dict) and "data_offsets" in v
    ]
    expected, found = max(ends, default=0), len(blob) - 8 - n
    if found != expected:
        state = "truncated" if found < expected else "longer than its header says (corrupt)"
        raise CheckpointError(
            f"cannot load {where}: the file is {state}: {expected} bytes of tensor data "
            f"expected, {found} found"
        )
    return header


def _read_tensors(blob: bytes, where: str) -> dict:
    try:
        arrays = _safetensors_numpy().load(blob)
    except Exception as error:  # safetensors raises its own error type for malformed files
        raise CheckpointError(f"cannot load {where}: {error} (corrupt file)") from None
    return {k: v.copy() for k, v in arrays.items()}  # frombuffer views are read-only


def _restore(meta_json: str, metadata: dict, arrays: dict, where: str, rebuild=None):
    if _checksum(meta_json, arrays) != metadata.get("soma.sha256"):
        raise CheckpointError(
            f"cannot load {where}: checksum mismatch, the file is corrupt "
            "(its bytes changed after it was written)"
        )
    meta = json.loads(meta_json)
    if meta.get("version", 0) > VERSION:
        raise CheckpointError(
            f"cannot load {where}: written by a newer soma (format version {meta['version']}, "
            f"this soma reads up to {VERSION})"
        )
    for name, info in meta["tensors"].items():
        a = arrays.get(name)
        if a is None or a.dtype.name != info["dtype"] or list(a.shape) != info["shape"]:
            raise CheckpointError(
                f"cannot load {where}: tensor '{name}' does not match its metadata"
            )
    return _decode(meta["structure"], arrays, rebuild)


# NOTE: imported last: whole_model imports CheckpointError's module family
from soma.io import whole_model as _whole_model  # noqa: E402
