"""Fetching datasets: ordered mirrors, retries with backoff, streamed into a temp file beside
the target, verified by SHA-256, then renamed; and the cache folder they land in."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tqdm.auto import tqdm

from .datasets import FILES, REGISTRY, DatasetInfo, cache_dir
from .errors import DatasetError

CHUNK = 1 << 16


def mirrors_for(info: DatasetInfo) -> tuple[str, ...]:
    """The dataset's mirrors, or $MNISTNP_MIRRORS (comma-separated base URLs: a local mirror)."""
    override = os.environ.get("MNISTNP_MIRRORS")
    return tuple(m.strip() for m in override.split(",") if m.strip()) if override else info.mirrors


def download(name: str, data_dir: str | os.PathLike[str] | None = None, *, timeout: float = 30.0,
             retries: int = 3, backoff: float = 0.5, progress: bool | None = None,
             log: Callable[[str], None] | None = None,
             sleep: Callable[[float], None] = time.sleep) -> Path:
    """Make sure the four files of dataset ``name`` lie verified in ``data_dir`` (default:
    ``cache_dir()/name``); fetch what is missing or corrupt. Returns the folder.

    Raises DatasetError naming the file, every mirror tried and why each failed.
    """
    info = REGISTRY.get(name)
    if info is None or not info.gz_sha256:
        known = ", ".join(sorted(k for k, v in REGISTRY.items() if v.gz_sha256))
        raise DatasetError(f"no download is known for dataset {name!r} (known: {known})")
    folder = Path(data_dir) if data_dir is not None else cache_dir() / name
    folder.mkdir(parents=True, exist_ok=True)
    for stem in FILES:
        target = folder / f"{stem}.gz"
        expected = info.gz_sha256[stem]
        if target.is_file():
            if sha256_of(target) == expected:
                continue
            if log:
                log(f"{target}: SHA-256 does not match; fetching it again")
        fetch(target, mirrors_for(info), expected, timeout=timeout, retries=retries,
              backoff=backoff, progress=progress, sleep=sleep)
    return folder


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(target: Path, mirrors: tuple[str, ...], sha256: str, *, timeout: float, retries: int,
          backoff: float, progress: bool | None, sleep: Callable[[float], None]) -> None:
    """Try each mirror ``retries`` times (waiting backoff, 2 backoff, ...), first success wins."""
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + target.name
        reason = ""
        for attempt in range(retries):
            if attempt:
                sleep(backoff * 2 ** (attempt - 1))
            try:
                _stream(url, target, sha256, timeout, progress)
                return
            except _Failure as e:
                reason = str(e)
                if e.final:
                    break  # a 404 or 403 will not change on retry
        failures.append(f"{base} ({reason})")
    raise DatasetError(f"{target.name}: download failed from {len(mirrors)} "
                       f"mirror{'s' * (len(mirrors) != 1)}: {'; '.join(failures) or 'none set'}")


class _Failure(Exception):
    def __init__(self, reason: str, final: bool = False) -> None:
        super().__init__(reason)
        self.final = final


def _stream(url: str, target: Path, sha256: str, timeout: float, progress: bool | None) -> None:
    """Download ``url`` into a temp file beside ``target``, verify, then rename over it."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, _open(url, timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
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
        if digest.hexdigest() != sha256:
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


def _read(response: http.client.HTTPResponse, timeout: float) -> bytes:
    try:
        return response.read(CHUNK)
    except TimeoutError:
        raise _Failure(f"timed out after {timeout:g} s") from None
    except http.client.IncompleteRead as e:
        raise _Failure(f"cut off after {len(e.partial):,} bytes of a chunk") from None
    except (OSError, http.client.HTTPException) as e:
        raise _Failure(str(e) or type(e).__name__) from None
