"""Downloading into the cache, against a local HTTP server on a random port: checksums are
enforced, nothing half-written stays in the cache, and a second call uses the cache."""

import hashlib
import threading
import urllib.error
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from soma.data import load
from soma.data.datasets import CIFAR10, MNIST, ChecksumError, DatasetFileError, download, soma_home
from soma.data.datasets.files import IncompleteDownloadError, fetch
from tests.data_files import cifar_python_files, tar_gz, write_mnist


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    requests = []

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

        def do_GET(self):
            requests.append(self.path)
            if self.path.startswith("/short/"):  # promise more bytes than are sent, then hang up
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                self.wfile.write(b"x" * 1000)
                self.wfile.flush()
                self.close_connection = True
                return
            super().do_GET()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_port}/"
    yield SimpleNamespace(root=root, url=url, requests=requests)
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    home = tmp_path / "soma_home"
    monkeypatch.setenv("SOMA_HOME", str(home))
    return home


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _files_under(folder: Path) -> list:
    return (
        sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        if folder.exists()
        else []
    )


def test_download_verifies_writes_and_reuses(server, tmp_path):
    data = bytes(range(256)) * 100
    (server.root / "blob.bin").write_bytes(data)
    target = tmp_path / "cache" / "blob.bin"
    assert download(server.url + "blob.bin", target, _sha(data)) == target
    assert target.read_bytes() == data and server.requests == ["/blob.bin"]
    download(server.url + "blob.bin", target, _sha(data))
    assert server.requests == ["/blob.bin"]  # verified cache hit: no second request
    assert _files_under(tmp_path / "cache") == ["blob.bin"]


def test_checksum_mismatch_is_refused_and_leaves_nothing(server, tmp_path):
    (server.root / "blob.bin").write_bytes(b"tampered")
    folder = tmp_path / "cache"
    with pytest.raises(ChecksumError) as info:
        download(server.url + "blob.bin", folder / "blob.bin", "0" * 64)
    msg = str(info.value)
    assert "0" * 64 in msg and _sha(b"tampered") in msg and "blob.bin" in msg
    assert _files_under(folder) == []


def test_a_stale_cached_file_is_replaced(server, tmp_path):
    (server.root / "blob.bin").write_bytes(b"good")
    target = tmp_path / "blob.bin"
    target.write_bytes(b"corrupted earlier")
    download(server.url + "blob.bin", target, _sha(b"good"))
    assert target.read_bytes() == b"good"


def test_failed_transfers_leave_nothing(server, tmp_path):
    folder = tmp_path / "cache"
    with pytest.raises(urllib.error.HTTPError):
        download(server.url + "missing.bin", folder / "missing.bin", "0" * 64)
    with pytest.raises(IncompleteDownloadError, match="ended after 1000 of 100000 bytes"):
        download(server.url + "short/blob.bin", folder / "blob.bin", "0" * 64)
    assert _files_under(folder) == []


def test_fetch_falls_back_to_the_next_mirror(server, tmp_path):
    (server.root / "good").mkdir()
    (server.root / "good" / "f.gz").write_bytes(b"payload")
    mirrors = [server.url + "nowhere/", server.url + "good/"]
    path = fetch("f.gz", tmp_path, _sha(b"payload"), mirrors)
    assert path.read_bytes() == b"payload"
    with pytest.raises(DatasetFileError, match=r"could not download f.gz:\n.*f.gz: HTTPError"):
        fetch("f.gz", tmp_path / "other", _sha(b"payload"), [server.url + "nowhere/"])


def _serve_mnist(server, monkeypatch, good=True):
    arrays = write_mnist(server.root, np.random.default_rng(0))
    resources = {
        name: _sha((server.root / (name + ".gz")).read_bytes()) if good else "f" * 64
        for name in MNIST.resources
    }
    monkeypatch.setattr(MNIST, "resources", resources)
    return arrays


def test_mnist_download_then_cache(server, cache, monkeypatch):
    arrays = _serve_mnist(server, monkeypatch)
    s = load("mnist", download=True, base_url=server.url)
    np.testing.assert_array_equal(s.test.targets, arrays["t10k"][1])
    folder = cache / "datasets" / "mnist"
    assert _files_under(folder) == sorted(n + ".gz" for n in MNIST.resources)
    assert len(server.requests) == 4
    again = load("mnist", download=True, base_url=server.url)
    assert len(server.requests) == 4  # files already there: no network
    np.testing.assert_array_equal(again.train.data, s.train.data)


def test_mnist_checksum_mismatch_leaves_an_empty_cache(server, cache, monkeypatch):
    _serve_mnist(server, monkeypatch, good=False)
    with pytest.raises(ChecksumError, match="train-images-idx3-ubyte.gz failed its checksum"):
        MNIST(download=True, base_url=server.url)
    assert _files_under(cache) == []


def test_cifar10_download_extracts_only_the_batches(server, cache, monkeypatch):
    files, arrays = cifar_python_files(np.random.default_rng(1))
    files["cifar-10-batches-py/readme.html"] = b"<html>"
    archive = tar_gz(files)
    (server.root / "cifar-10-python.tar.gz").write_bytes(archive)
    monkeypatch.setattr(CIFAR10, "archive", ("cifar-10-python.tar.gz", _sha(archive)))
    test = CIFAR10(train=False, download=True, base_url=server.url)
    np.testing.assert_array_equal(test.data, arrays["test_batch"][0])
    folder = cache / "datasets" / "cifar10"
    listed = _files_under(folder)
    assert "cifar-10-python.tar.gz" in listed and "cifar-10-batches-py/readme.html" not in listed
    assert "cifar-10-batches-py/data_batch_5" in listed and not any(".part" in p for p in listed)
    train = CIFAR10(train=True, download=True, base_url=server.url)
    assert len(train) == 15 and server.requests == ["/cifar-10-python.tar.gz"]


def test_cifar10_archive_without_a_batch_is_refused(server, cache, monkeypatch):
    files, _ = cifar_python_files(np.random.default_rng(2))
    del files["cifar-10-batches-py/test_batch"]
    archive = tar_gz(files)
    (server.root / "cifar-10-python.tar.gz").write_bytes(archive)
    monkeypatch.setattr(CIFAR10, "archive", ("cifar-10-python.tar.gz", _sha(archive)))
    with pytest.raises(DatasetFileError, match="has no member cifar-10-batches-py/test_batch"):
        CIFAR10(train=False, download=True, base_url=server.url)
    assert not any(".part" in p for p in _files_under(cache))


def test_soma_home_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("SOMA_HOME", str(tmp_path / "h"))
    assert soma_home() == tmp_path / "h"
    monkeypatch.delenv("SOMA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert soma_home() == tmp_path / ".cache" / "soma"
