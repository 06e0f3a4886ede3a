"""The IDX format of MNIST and Fashion-MNIST, gzipped or not.

An IDX file is a 4-byte magic number (two zero bytes, a data-type code, the number of
dimensions), one big-endian uint32 per dimension, then the values, big-endian, row-major.
Every part is checked: a wrong magic number, an unknown type, a truncated header or body, or
trailing bytes give a ``DatasetFileError`` naming the file and what is wrong.
"""

import gzip
import struct
import zlib
from pathlib import Path

from soma.backend import get_xp
from soma.data.datasets.files import DatasetFileError

_xp = get_xp()

# data-type code → (name, big-endian dtype string)
IDX_TYPES = {
    0x08: ("uint8", ">u1"),
    0x09: ("int8", ">i1"),
    0x0B: ("int16", ">i2"),
    0x0C: ("int32", ">i4"),
    0x0D: ("float32", ">f4"),
    0x0E: ("float64", ">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_bytes(path: Path) -> bytes:
    """The file's content, gunzipped when it starts with the gzip magic bytes."""
    raw = Path(path).read_bytes()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DatasetFileError(f"{path}: corrupt or truncated gzip data ({e})") from None


def parse_idx(raw: bytes, path="<bytes>"):
    """An array from IDX bytes (native byte order), after checking header and size."""
    if len(raw) < 4:
        raise DatasetFileError(f"{path}: too short for an IDX header ({len(raw)} bytes)")
    zero, code, ndim = raw[:2], raw[2], raw[3]
    magic = int.from_bytes(raw[:4], "big")
    if zero != b"\x00\x00" or code not in IDX_TYPES or ndim == 0:
        raise DatasetFileError(
            f"{path}: bad IDX magic number 0x{magic:08X} (expected 0x0000TTDD: two zero bytes, "
            f"a type code in {[hex(c) for c in IDX_TYPES]}, and at least one dimension)"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetFileError(
            f"{path}: truncated header: {ndim} dimensions need {header} bytes, file has {len(raw)}"
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _xp.dtype(IDX_TYPES[code][1])
    expected = int(_xp.prod(dims, dtype=_xp.int64)) * dtype.itemsize
    actual = len(raw) - header
    if actual != expected:
        what = "truncated" if actual < expected else "has trailing bytes"
        raise DatasetFileError(
            f"{path}: {what}: header says {IDX_TYPES[code][0]} values of shape {dims} "
            f"({expected} bytes of data), file has {actual}"
        )
    values = _xp.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return values.astype(dtype.newbyteorder("="))


def read_idx(path) -> "object":
    """Read an IDX file (gzipped or not) into an array.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "labels-idx1-ubyte"
        >>> _ = p.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 1, 4]))
        >>> read_idx(p).tolist()
        [7, 1, 4]
    """
    return parse_idx(read_bytes(path), path)


def write_idx(path, array, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file (gzipped when ``compress`` or the name ends in ``.gz``)."""
    array = _xp.asarray(array)
    codes = {_xp.dtype(dt).newbyteorder("="): code for code, (_, dt) in IDX_TYPES.items()}
    if array.dtype not in codes or array.ndim == 0:
        raise ValueError(
            f"write_idx: unsupported array of dtype {array.dtype}, shape {array.shape}"
        )
    header = bytes([0, 0, codes[array.dtype], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    body = array.astype(array.dtype.newbyteorder(">")).tobytes()
    data = header + body
    path = Path(path)
    if compress or (compress is None and path.suffix == ".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)
