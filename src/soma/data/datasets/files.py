"""Where dataset files live, and fetching them safely.

Files go under ``$SOMA_HOME`` (default ``~/.cache/soma``), datasets in ``<home>/datasets``.
``download`` uses only the standard library (``urllib``): it streams into a temporary file next
to the target, checks the SHA-256 and only then renames it into place, so the cache never holds a
half-written or unverified file (a failure or a checksum mismatch deletes the temporary file).
"""

import contextlib
import hashlib
import http.client
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

_CHUNK = 1 << 20


class DatasetFileError(ValueError):
    """A dataset file is missing a piece, has the wrong format, or fails a check."""


class ChecksumError(DatasetFileError):
    """A download's SHA-256 differs from the expected one (the file is not kept)."""


class IncompleteDownloadError(DatasetFileError):
    """The server closed the transfer before sending the announced length (nothing is kept)."""


def soma_home() -> Path:
    """soma's cache folder: ``$SOMA_HOME`` or ``~/.cache/soma``."""
    home = os.environ.get("SOMA_HOME")
    return Path(home).expanduser() if home else Path.home() / ".cache" / "soma"


def default_root(root=None) -> Path:
    """The dataset root: ``root`` if given, else ``<soma_home()>/datasets``."""
    return Path(root).expanduser() if root is not None else soma_home() / "datasets"


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_write(path: Path):
    """Yield a binary file that becomes ``path`` only if the block finishes without error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def download(url: str, path, sha256: str, timeout: float = 60) -> Path:
    """Fetch ``url`` into ``path``, verified against ``sha256``; reuse ``path`` if it verifies.

    Raises:
        ChecksumError: the bytes received do not have the expected SHA-256 (nothing is kept).
        IncompleteDownloadError: fewer bytes arrived than announced (nothing is kept).
        urllib.error.URLError, http.client.HTTPException, OSError: the transfer failed
            (nothing is kept).
    """
    path = Path(path)
    if path.is_file() and sha256_of(path) == sha256:
        return path
    digest = hashlib.sha256()
    with atomic_write(path) as out, urllib.request.urlopen(url, timeout=timeout) as response:
        received = 0
        while chunk := response.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
            received += len(chunk)
        announced = response.headers.get("Content-Length")
        if announced is not None and announced.isdigit() and int(announced) != received:
            raise IncompleteDownloadError(
                f"download of {url} ended after {received} of {announced} bytes; the partial "
                f"file was discarded"
            )
        if digest.hexdigest() != sha256:
            raise ChecksumError(
                f"download of {url} failed its checksum: expected SHA-256 {sha256}, got "
                f"{digest.hexdigest()}; the file was discarded (nothing written to {path})"
            )
    return path


def fetch(filename: str, folder: Path, sha256: str, base_urls) -> Path:
    """Download ``filename`` from the first of ``base_urls`` that answers, into ``folder``.

    A checksum mismatch stops at once (a mirror serving wrong bytes is not retried elsewhere);
    network errors move on to the next mirror.
    """
    failures = []
    for base in base_urls:
        url = base.rstrip("/") + "/" + filename
        try:
            return download(url, folder / filename, sha256)
        except ChecksumError:
            raise
        except (
            urllib.error.URLError,
            http.client.HTTPException,
            OSError,
            IncompleteDownloadError,
        ) as e:
            failures.append(f"{url}: {type(e).__name__}: {e}")
    raise DatasetFileError(f"could not download {filename}:\n  " + "\n  ".join(failures))


def extract_members(archive: Path, members, folder: Path) -> None:
    """Copy the named regular files out of a tar archive into ``folder`` (each atomically).

    Only the listed names are read; links, devices and unexpected paths are never written.
    """
    try:
        with tarfile.open(archive, "r:*") as tar:
            for name in members:
                try:
                    member = tar.getmember(name)
                except KeyError:
                    raise DatasetFileError(
                        f"{archive}: the archive has no member {name}"
                    ) from None
                if not member.isfile():
                    raise DatasetFileError(f"{archive}: member {name} is not a regular file")
                source = tar.extractfile(member)
                with source, atomic_write(folder / name) as out:
                    while chunk := source.read(_CHUNK):
                        out.write(chunk)
    except (tarfile.TarError, EOFError) as e:
        raise DatasetFileError(f"{archive}: not a readable tar archive ({e})") from None


def find_files(folders, names) -> tuple:
    """(folder, {name: path}) for the first folder holding every name (plain or ``.gz``)."""
    for folder in folders:
        found = {}
        for name in names:
            for candidate in (folder / name, folder / (name + ".gz")):
                if candidate.is_file():
                    found[name] = candidate
                    break
        if len(found) == len(names):
            return folder, found
    return None, {}
