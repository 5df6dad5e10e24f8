"""Downloads against a local HTTP server on 127.0.0.1 that this test starts: good files, a 403
page, a file cut off halfway, flipped bytes, a response too slow, and a server that is down."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from mnistnp import datasets
from mnistnp.cli import main
from mnistnp.cli.download import fetch_dataset
from mnistnp.data import idx_bytes
from mnistnp.datasets import FILES, DatasetInfo, bundled_dir, cache_dir
from mnistnp.download import download
from mnistnp.errors import DatasetError


def tiny_files() -> dict[str, bytes]:
    """The four uncompressed IDX files of a tiny dataset (50 train, 20 test 28x28 images)."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (50, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(50) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(20) % 10).astype(np.uint8),
    }
    return {k: idx_bytes(v) for k, v in arrays.items()}


RAW = tiny_files()
FILES_GZ = {f"{k}.gz": gzip.compress(v, mtime=0) for k, v in RAW.items()}
# The same contents compressed otherwise, as a mirror that recompressed them would serve them.
RECOMPRESSED = {f"{k}.gz": gzip.compress(v, compresslevel=1, mtime=1) for k, v in RAW.items()}


class Handler(http.server.BaseHTTPRequestHandler):
    """/good/F serves F; /forbidden/ a 403 HTML page; /cut/ half of F with the full length
    declared; /flipped/ F with one byte flipped; /slow/ nothing for longer than the timeout;
    /recompressed/ F's contents gzipped with other settings."""

    requests: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # the name http.server calls
        Handler.requests.append(self.path)
        kind, name = self.path.strip("/").split("/", 1)
        body = FILES_GZ.get(name)
        if body is None or kind == "forbidden":
            page = b"<html><body>403 Forbidden</body></html>"
            self.send_response(403 if body is not None else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            return
        if kind == "slow":
            time.sleep(1.0)
        if kind == "flipped":
            body = body[:40] + bytes([body[40] ^ 0xFF]) + body[41:]
        if kind == "recompressed":
            body = RECOMPRESSED[name]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:len(body) // 2] if kind == "cut" else body)


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up on the slow response is expected here


@pytest.fixture(autouse=True)
def local_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that would open a URL off 127.0.0.1: these tests never use the network."""
    real = urllib.request.urlopen

    def urlopen(url: object, *args: object, **kwargs: object) -> object:
        full = url if isinstance(url, str) else url.full_url  # type: ignore[attr-defined]
        if urllib.parse.urlsplit(full).hostname != "127.0.0.1":
            pytest.fail(f"a test tried to open {full}")
        return real(url, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    Handler.requests.clear()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def down_url() -> str:
    """A 127.0.0.1 port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/good/"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def tiny_registry(monkeypatch: pytest.MonkeyPatch) -> str:
    """Register a 'tiny' dataset whose .gz hashes are those of FILES_GZ (no raw hashes, as for
    kmnist)."""
    info = DatasetInfo(name="tiny", gz_sha256={s: sha256(FILES_GZ[f"{s}.gz"]) for s in FILES})
    monkeypatch.setitem(datasets.REGISTRY, "tiny", info)
    return "tiny"


@pytest.fixture
def tiny_with_raw(monkeypatch: pytest.MonkeyPatch) -> str:
    """'tiny' with the decompressed files' hashes known too, as for mnist and fashion-mnist."""
    info = DatasetInfo(name="tiny", gz_sha256={s: sha256(FILES_GZ[f"{s}.gz"]) for s in FILES},
                       sha256={s: sha256(RAW[s]) for s in FILES})
    monkeypatch.setitem(datasets.REGISTRY, "tiny", info)
    return "tiny"


def fetch(tmp_path: Path, mirrors: list[str], monkeypatch: pytest.MonkeyPatch,
          **kwargs: object) -> Path:
    monkeypatch.setenv("MNISTNP_MIRRORS", ",".join(mirrors))
    assert all(m.startswith("http://127.0.0.1:") for m in mirrors)  # never the real network
    options = {"timeout": 0.3, "retries": 2, "backoff": 0.0, "progress": False, **kwargs}
    return download("tiny", tmp_path / "data", **options)  # type: ignore[arg-type]


def test_good_files_are_fetched_and_verified(server, tiny_registry, tmp_path, monkeypatch):
    folder = fetch(tmp_path, [f"{server}/good/"], monkeypatch)
    for name, body in FILES_GZ.items():
        assert (folder / name).read_bytes() == body
    (x, _), (_, yt) = datasets.load(None, folder)
    assert x.shape == (50, 28, 28) and yt.shape == (20,)
    assert not list(folder.glob(".*"))  # no temp files left


def test_a_verified_cached_file_is_used_without_a_request(server, tiny_registry, tmp_path,
                                                        monkeypatch):
    fetch(tmp_path, [f"{server}/good/"], monkeypatch)
    Handler.requests.clear()
    fetch(tmp_path, [f"{server}/good/"], monkeypatch)
    assert Handler.requests == []


def test_a_corrupt_cached_file_is_reported_and_fetched_again(server, tiny_registry, tmp_path,
                                                            monkeypatch):
    folder = fetch(tmp_path, [f"{server}/good/"], monkeypatch)
    target = folder / "t10k-labels-idx1-ubyte.gz"
    target.write_bytes(b"not the file")
    lines: list[str] = []
    Handler.requests.clear()
    fetch(tmp_path, [f"{server}/good/"], monkeypatch, log=lines.append)
    assert target.read_bytes() == FILES_GZ[target.name]
    assert Handler.requests == [f"/good/{target.name}"]
    assert len(lines) == 1 and str(target) in lines[0]


@pytest.mark.parametrize(("kind", "reason"), [
    ("forbidden", "HTTP 403"), ("cut", "cut off"), ("flipped", "checksum mismatch"),
    ("slow", "timed out"),
])
def test_each_failure_is_named_and_leaves_nothing(server, tiny_registry, tmp_path, monkeypatch,
                                                  kind, reason):
    with pytest.raises(DatasetError) as info:
        fetch(tmp_path, [f"{server}/{kind}/"], monkeypatch)
    message = str(info.value)
    assert message.startswith("train-images-idx3-ubyte.gz: download failed from 1 mirror")
    assert f"{server}/{kind}/" in message and reason in message
    assert "\n" not in message
    assert not (tmp_path / "data").exists()  # no partial or temp file, not even the new folder


def test_a_server_that_is_down(tiny_registry, tmp_path, monkeypatch, down_url):
    with pytest.raises(DatasetError, match=r"refused"):
        fetch(tmp_path, [down_url], monkeypatch)


def test_every_mirror_tried_is_listed_with_its_reason(server, tiny_registry, tmp_path,
                                                      monkeypatch, down_url):
    mirrors = [f"{server}/forbidden/", down_url, f"{server}/flipped/"]
    with pytest.raises(DatasetError) as info:
        fetch(tmp_path, mirrors, monkeypatch)
    message = str(info.value)
    assert "from 3 mirrors" in message
    for mirror, reason in zip(mirrors, ["HTTP 403", "Connection refused", "checksum mismatch"]):
        assert f"{mirror} ({reason}" in message


def test_the_next_mirror_is_tried_after_a_403(server, tiny_registry, tmp_path, monkeypatch):
    Handler.requests.clear()
    folder = fetch(tmp_path, [f"{server}/forbidden/", f"{server}/good/"], monkeypatch)
    assert (folder / "train-images-idx3-ubyte.gz").read_bytes() == \
        FILES_GZ["train-images-idx3-ubyte.gz"]
    # a 403 is not retried: one request to the first mirror per file, then the second
    assert Handler.requests.count("/forbidden/train-images-idx3-ubyte.gz") == 1


def test_retries_back_off_exponentially(server, tiny_registry, tmp_path, monkeypatch):
    waits: list[float] = []
    Handler.requests.clear()
    with pytest.raises(DatasetError):
        fetch(tmp_path, [f"{server}/cut/"], monkeypatch, retries=4, backoff=0.25,
              sleep=waits.append)
    assert waits == [0.25, 0.5, 1.0]
    assert Handler.requests.count("/cut/train-images-idx3-ubyte.gz") == 4


def test_a_failed_download_keeps_an_earlier_file_intact(server, tiny_registry, tmp_path,
                                                        monkeypatch):
    folder = fetch(tmp_path, [f"{server}/good/"], monkeypatch)
    target = folder / "train-labels-idx1-ubyte.gz"
    target.write_bytes(b"corrupt but mine")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(DatasetError):
        fetch(tmp_path, [f"{server}/flipped/"], monkeypatch)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("MNISTNP_DATA", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "mnistnp"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "mnistnp"
    monkeypatch.setenv("MNISTNP_DATA", str(tmp_path / "data"))
    assert cache_dir() == tmp_path / "data"


def test_load_finds_a_download_in_the_cache(server, tiny_registry, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("MNISTNP_DATA", raising=False)
    monkeypatch.setenv("MNISTNP_MIRRORS", f"{server}/good/")
    download("tiny", timeout=1, progress=False)
    (x, _), _ = datasets.load("tiny")
    assert x.shape == (50, 28, 28)
    # a corrupt cached file is never used
    (tmp_path / "xdg" / "mnistnp" / "tiny" / "t10k-images-idx3-ubyte.gz").write_bytes(b"x")
    with pytest.raises(DatasetError, match="SHA-256"):
        datasets.load("tiny")


def test_cli_download_and_train_with_download(server, tmp_path, monkeypatch, capsys):
    # The real registry entry for kmnist, its mirror list replaced by the local server and its
    # hashes by the tiny files': the CLI path end to end.
    info = datasets.REGISTRY["kmnist"]
    tiny = DatasetInfo(name="kmnist", gz_sha256={stem: hashlib.sha256(FILES_GZ[f"{stem}.gz"])
                                                 .hexdigest() for stem in FILES},
                       mirrors=info.mirrors, class_names=info.class_names)
    monkeypatch.setitem(datasets.REGISTRY, "kmnist", tiny)
    monkeypatch.setenv("MNISTNP_MIRRORS", f"{server}/good/")
    data = tmp_path / "kmnist"
    assert main(["download", "kmnist", "--data-dir", str(data)]) == 0
    assert f"kmnist: 4 files verified in {data}" in capsys.readouterr().out
    fresh = tmp_path / "fresh"
    # 50 training images: the default twelfth would validate on 4, which is refused.
    assert main(["train", "--download", "--dataset", "kmnist", "--data-dir", str(fresh),
                 "--hidden", "8", "--epochs", "1", "--run-dir", str(tmp_path / "run"),
                 "--val-split", "0", "--no-progress"]) == 0
    assert sorted(p.name for p in fresh.iterdir()) == sorted(FILES_GZ)
    again = tmp_path / "again"
    capsys.readouterr()
    assert main(["evaluate", "--model", str(tmp_path / "run" / "model.npz"), "--download",
                 "--dataset", "kmnist", "--data-dir", str(again)]) == 0
    assert capsys.readouterr().out.startswith("accuracy: ")
    assert sorted(p.name for p in again.iterdir()) == sorted(FILES_GZ)


def test_cli_download_failure_is_one_line(tiny_registry, tmp_path, monkeypatch, capsys,
                                          down_url):
    monkeypatch.setenv("MNISTNP_MIRRORS", down_url)
    status = main(["download", "kmnist", "--data-dir", str(tmp_path / "k")])
    *retries, last = capsys.readouterr().err.splitlines()
    assert status == 1 and "Traceback" not in last
    assert last.startswith("mnistnp: error: train-images-idx3-ubyte.gz: download failed")
    # before it, one line per retry as it happened (three attempts: two retries)
    assert len(retries) == 2 and all("retrying in" in line for line in retries)


def test_the_network_guard_refuses_other_hosts(tiny_registry, tmp_path, monkeypatch):
    monkeypatch.setenv("MNISTNP_MIRRORS", "http://example.invalid/")
    with pytest.raises(pytest.fail.Exception, match=r"example\.invalid"):
        download("tiny", tmp_path / "d", retries=1, progress=False)


def test_a_recompressed_file_is_accepted_by_its_decompressed_hash(server, tiny_with_raw,
                                                                  tmp_path, monkeypatch):
    folder = fetch(tmp_path, [f"{server}/recompressed/"], monkeypatch)
    for name, body in RECOMPRESSED.items():
        assert (folder / name).read_bytes() == body
    Handler.requests.clear()
    fetch(tmp_path, [f"{server}/recompressed/"], monkeypatch)  # and verified as cached
    assert Handler.requests == []
    (x, _), _ = datasets.load("tiny", folder)
    assert x.shape == (50, 28, 28)


def test_a_recompressed_file_is_refused_when_no_raw_hash_is_known(server, tiny_registry,
                                                                  tmp_path, monkeypatch):
    with pytest.raises(DatasetError, match="checksum mismatch"):
        fetch(tmp_path, [f"{server}/recompressed/"], monkeypatch)


def test_verified_uncompressed_files_need_no_download(server, tiny_with_raw, tmp_path,
                                                      monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    for stem, body in RAW.items():
        (data / stem).write_bytes(body)
    fetch(tmp_path, [f"{server}/good/"], monkeypatch)
    assert Handler.requests == []
    assert sorted(p.name for p in data.iterdir()) == sorted(RAW)


def test_mirror_override_names_the_dataset(server, tiny_registry, tmp_path, monkeypatch):
    fetch(tmp_path, [server + "/{name}/"], monkeypatch)  # the server serves /tiny/ as /good/
    assert Handler.requests == [f"/tiny/{name}" for name in FILES_GZ]


def test_download_into_a_file_is_one_line(tiny_registry, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_bytes(b"mine")
    with pytest.raises(DatasetError, match=r"a-file: not a folder$"):
        download("tiny", a_file, progress=False)
    assert a_file.read_bytes() == b"mine"
    with pytest.raises(DatasetError, match=r"cannot create the folder \(Not a directory\)"):
        download("tiny", a_file / "sub", progress=False)


def test_download_flag_leaves_a_copy_found_outside_the_cache(server, tiny_registry, tmp_path,
                                                             monkeypatch):
    monkeypatch.setenv("MNISTNP_MIRRORS", f"{server}/good/")
    assert fetch_dataset("mnist", None) == bundled_dir()  # bundled: nothing to fetch
    flat = tmp_path / "flat"  # the files right in $MNISTNP_DATA, not in its tiny/ folder
    flat.mkdir()
    for name, body in FILES_GZ.items():
        (flat / name).write_bytes(body)
    monkeypatch.setenv("MNISTNP_DATA", str(flat))
    assert fetch_dataset("tiny", None) == flat
    assert Handler.requests == []
    # the cache itself is the place to fetch into
    monkeypatch.setenv("MNISTNP_DATA", str(tmp_path / "cache"))
    assert fetch_dataset("tiny", None) == tmp_path / "cache" / "tiny"
    assert len(Handler.requests) == 4


def test_download_flag_with_a_folder_needs_the_dataset_named(tmp_path, capsys):
    status = main(["train", "--download", "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "--download" in err and "--dataset" in err
    assert list(tmp_path.iterdir()) == []
