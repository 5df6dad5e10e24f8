"""Fetching datasets: ordered mirrors, retries with backoff, streamed into a temp file beside
the target, verified by SHA-256, then renamed into the cache (`datasets.cache_dir`) or a folder."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from pathlib import Path

from tqdm.auto import tqdm

from .atomic import atomic_write, new_file_mode
from .datasets import FILES, REGISTRY, DatasetInfo, bundled_dir, cache_dir, locate
from .errors import DatasetError

CHUNK = 1 << 16
# Seconds a connect or a read may wait: a stall this long on a working link is rare, and with
# retries and mirrors a dead one should not hang for minutes.
TIMEOUT = 15.0


class DownloadFailed(DatasetError):
    """No mirror served a file verified."""


class DatasetUnnamed(DatasetError):
    """Files were to be fetched into a folder, but no known dataset was named.

    Which files belong there cannot be told. ``folder`` is the folder, ``known`` the datasets that
    can be fetched.
    """

    def __init__(self, folder: str | os.PathLike[str] | None, known: list[str]) -> None:
        super().__init__(f"which dataset belongs in {folder}? name one ({', '.join(known)})")
        self.folder, self.known = folder, known


def mirrors_for(info: DatasetInfo) -> tuple[str, ...]:
    """The dataset's mirrors, or $MNISTNP_MIRRORS.

    Comma-separated base URLs (a local mirror, or the tests' server), in which ``{name}`` stands for
    the dataset's name.
    """
    override = os.environ.get("MNISTNP_MIRRORS")
    if not override:
        return info.mirrors
    return tuple(m.strip().replace("{name}", info.name) for m in override.split(",") if m.strip())


def download(name: str, data_dir: str | os.PathLike[str] | None = None, *,
             timeout: float = TIMEOUT, retries: int = 3, backoff: float = 0.5,
             progress: bool | None = None, log: Callable[[str], None] | None = None,
             sleep: Callable[[float], None] = time.sleep) -> Path:
    """Make sure the four files of dataset ``name`` lie verified in ``data_dir``; return it.

    ``data_dir`` defaults to ``cache_dir()/name``; what is missing or corrupt is fetched.

    Each mirror gets ``retries`` attempts (``timeout`` seconds per connect or read, waiting
    ``backoff``, ``2 * backoff``, ... between them) before the next is tried; each retry and
    each change of mirror is reported through ``log`` as it happens. A file already there is
    verified first; a corrupt one is reported through ``log`` and fetched again. Raises
    DownloadFailed naming the file, every mirror tried and why each failed; a folder this
    call created is removed again if nothing landed in it.

    A bundled dataset (mnist) needs no network: without ``data_dir`` its bundled folder is
    returned as it is; with one, its bundled files are copied there, verified.
    """
    info = REGISTRY.get(name)
    if info is None or not info.gz_sha256:
        known = ", ".join(sorted(k for k, v in REGISTRY.items() if v.gz_sha256))
        raise DatasetError(f"no download is known for dataset {name!r} (known: {known})")
    if info.bundled and data_dir is None:
        return bundled_dir()
    folder = Path(data_dir) if data_dir is not None else cache_dir() / name
    created = _make_folder(folder)
    try:
        for stem in FILES:
            if _present(folder, stem, info, log):
                continue
            target = folder / f"{stem}.gz"
            try:
                if info.bundled:
                    _copy_bundled(target, info.gz_sha256[stem], info.sha256.get(stem))
                    continue
                fetch(target, mirrors_for(info), info.gz_sha256[stem],
                      raw_sha256=info.sha256.get(stem), timeout=timeout, retries=retries,
                      backoff=backoff, progress=progress, log=log, sleep=sleep)
            except OSError as e:  # the network's errors are reasons: this is the disk
                raise DatasetError(f"{target}: cannot write ({e.strerror or e})") from None
    except BaseException:
        for made in created:  # deepest first; a folder holding a verified file stays
            with contextlib.suppress(OSError):
                made.rmdir()
        raise
    return folder


def downloadable() -> list[str]:
    """The registered datasets that have files to fetch (mnist's are bundled, so it has too)."""
    return sorted(k for k, v in REGISTRY.items() if v.gz_sha256)


def fetch_dataset(name: str, data_dir: str | os.PathLike[str] | None = None, *,
                  timeout: float = TIMEOUT, log: Callable[[str], None] | None = None,
                  progress: bool | None = None) -> Path:
    """Make sure dataset ``name`` can be loaded.

    Fetch it into ``data_dir`` (or the cache) unless it is already there; returns the folder it is
    in.

    Without a folder, a copy found outside the cache (the bundled MNIST, $MNISTNP_DATA, a system
    folder) is left to ``datasets.load`` as it is, so no request is made; the cache is
    verified, and what is missing or corrupt there is fetched (see ``download``). Raises
    DatasetUnnamed if ``name`` is not a known dataset (a folder's name, say).
    """
    if name not in REGISTRY:
        raise DatasetUnnamed(data_dir, downloadable())
    if data_dir is None:
        try:
            found = locate(name)
        except DatasetError:
            found = None
        if found is not None and found != cache_dir() / name:
            return found
    return download(name, data_dir, timeout=timeout, log=log, progress=progress)


def _make_folder(folder: Path) -> list[Path]:
    """Create ``folder`` (and its parents); the folders made, deepest first."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise DatasetError(f"{folder}: not a folder") from None
    except OSError as e:
        raise DatasetError(f"{folder}: cannot create the folder ({e.strerror or e})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DatasetError(f"{folder}: folder is not writable")
    return missing


def _copy_bundled(target: Path, sha256: str, raw_sha256: str | None) -> None:
    """Copy the bundled file of ``target``'s name to ``target``, atomically, once verified."""
    source = bundled_dir() / target.name
    if not source.is_file() or not verified(source, sha256, raw_sha256):
        raise DatasetError(f"{source}: the bundled file is missing or corrupt; reinstall "
                           f"mnistnp")
    with open(source, "rb") as f, atomic_write(target) as out:
        shutil.copyfileobj(f, out, CHUNK)


def _present(folder: Path, stem: str, info: DatasetInfo,
             log: Callable[[str], None] | None) -> bool:
    """Whether a verified copy of ``stem`` is in ``folder`` (the .gz, or the uncompressed file
    when its raw SHA-256 is known). A corrupt .gz is reported and counts as missing."""
    raw = info.sha256.get(stem)
    plain, target = folder / stem, folder / f"{stem}.gz"
    if raw and plain.is_file() and sha256_of(plain) == raw:
        return True
    if not target.is_file():
        return False
    if verified(target, info.gz_sha256[stem], raw):
        return True
    if log:
        log(f"{target}: SHA-256 does not match; fetching it again")
    return False


def verified(path: Path, sha256: str, raw_sha256: str | None = None) -> bool:
    """Whether ``path`` is the expected .gz file.

    The .gz file's own SHA-256 is what a download is checked against. A mirror that recompressed
    the files (other gzip headers or level) is accepted too when the decompressed bytes match the
    dataset's known raw SHA-256 (mnist, fashion-mnist; none is known for kmnist), since that is
    what ``datasets.load`` checks on every load.
    """
    if sha256_of(path) == sha256:
        return True
    return raw_sha256 is not None and _gunzipped_sha256(path) == raw_sha256


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, as hex, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _gunzipped_sha256(path: Path) -> str | None:
    """SHA-256 of the decompressed contents, or None if ``path`` is not one whole gzip stream."""
    digest = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as f:
            for block in iter(lambda: f.read(CHUNK), b""):
                digest.update(block)
    except (OSError, EOFError, zlib.error):
        return None
    return digest.hexdigest()


def fetch(target: Path, mirrors: tuple[str, ...], sha256: str, *, raw_sha256: str | None = None,
          timeout: float = TIMEOUT, retries: int = 3, backoff: float = 0.5,
          progress: bool | None = None, log: Callable[[str], None] | None = None,
          sleep: Callable[[float], None] = time.sleep) -> None:
    """Fetch ``target.name`` from the first mirror that serves it verified.

    Each mirror gets ``retries`` attempts (waiting backoff, 2 backoff, ...), except after a 403, 404
    or 410. Each retry and each move to the next mirror is told to ``log`` before the wait.
    """
    say = log or (lambda line: None)
    failures = []
    for m, base in enumerate(mirrors):
        url = base.rstrip("/") + "/" + target.name
        reason = ""
        for attempt in range(1, retries + 1):
            try:
                _stream(url, target, sha256, raw_sha256, timeout, progress)
                return
            except _Failure as e:
                reason = str(e) + (", which a retry would not change" if e.final else "")
                if e.final:
                    break  # a 404 or 403 will not change on retry
            if attempt < retries:
                wait = backoff * 2 ** (attempt - 1)
                say(f"{url}: attempt {attempt} of {retries} failed ({reason}); retrying in "
                    f"{wait:g} s")
                sleep(wait)
        failures.append(f"{base} ({reason})")
        if m + 1 < len(mirrors):
            say(f"{url}: attempt {attempt} of {retries} failed ({reason}); trying the next "
                f"mirror, {mirrors[m + 1]}")
    raise DownloadFailed(f"{target.name}: download failed from {len(mirrors)} "
                         f"mirror{'s' * (len(mirrors) != 1)}: "
                         f"{'; '.join(failures) or 'none set'}")


class _Failure(Exception):
    def __init__(self, reason: str, final: bool = False) -> None:
        super().__init__(reason)
        self.final = final


def _stream(url: str, target: Path, sha256: str, raw_sha256: str | None, timeout: float,
            progress: bool | None) -> None:
    """Download ``url`` into a temp file beside ``target``, verify, then rename over it."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        os.chmod(tmp, new_file_mode())  # a data file is as readable as any other new file
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, _open(url, timeout) as response:
            total = _length(response)
            with tqdm(total=total, unit="B", unit_scale=True, desc=target.name, leave=False,
                      disable=True if progress is False else None) as bar:
                got = 0
                for block in iter(lambda: _read(response, timeout), b""):
                    out.write(block)
                    digest.update(block)
                    got += len(block)
                    bar.update(len(block))
            if total is not None and got != total:
                raise _Failure(f"cut off after {got:,} of {total:,} bytes")
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256 and not (
                raw_sha256 and _gunzipped_sha256(Path(tmp)) == raw_sha256):
            raise _Failure(f"checksum mismatch: got {digest.hexdigest()[:12]}…, expected "
                           f"{sha256[:12]}…")
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _open(url: str, timeout: float) -> http.client.HTTPResponse:
    try:
        return urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.HTTPError as e:
        raise _Failure(f"HTTP {e.code} {e.reason}", final=e.code in (403, 404, 410)) from None
    except urllib.error.URLError as e:
        reason = e.reason
        if isinstance(reason, TimeoutError):
            raise _Failure(f"timed out after {timeout:g} s") from None
        raise _Failure(str(getattr(reason, "strerror", None) or reason)) from None
    except TimeoutError:
        raise _Failure(f"timed out after {timeout:g} s") from None
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise _Failure(str(e)) from None


def _length(response: http.client.HTTPResponse) -> int | None:
    """The declared Content-Length, or None if absent or not a number."""
    try:
        return int(response.headers.get("Content-Length") or 0) or None
    except ValueError:
        return None


def _read(response: http.client.HTTPResponse, timeout: float) -> bytes:
    try:
        return response.read(CHUNK)
    except TimeoutError:
        raise _Failure(f"timed out after {timeout:g} s") from None
    except http.client.IncompleteRead as e:
        raise _Failure(f"cut off after {len(e.partial):,} bytes of a chunk") from None
    except (OSError, http.client.HTTPException) as e:
        raise _Failure(str(e) or type(e).__name__) from None
