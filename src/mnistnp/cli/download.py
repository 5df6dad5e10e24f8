"""``mnistnp download``: fetch a dataset's four files into the cache (or a folder), verified;
and the ``--download`` step of ``train`` and ``evaluate``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from .. import datasets
from ..datasets import FILES, REGISTRY
from ..errors import DatasetError
from .options import UsageError


def _downloadable() -> list[str]:
    return sorted(k for k, v in REGISTRY.items() if v.gz_sha256)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "download", help="fetch a dataset into the cache",
        description="Fetch a dataset's four IDX files from its mirrors (in order, with retries), "
        "verify each by SHA-256 and keep it in the cache: $MNISTNP_DATA, else "
        "$XDG_CACHE_HOME/mnistnp, else ~/.cache/mnistnp (a folder per dataset). Files already "
        "there are verified and kept; a corrupt one is fetched again. $MNISTNP_MIRRORS "
        "(comma-separated base URLs, where {name} stands for the dataset) replaces the mirror "
        "list, e.g. with a local mirror.")
    parser.add_argument("name", choices=_downloadable(), help="the dataset")
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="put the files in DIR instead of the cache")
    return parser


def run(args: argparse.Namespace) -> int:
    folder = _download(args.name, args.data_dir)
    print(f"{args.name}: {len(FILES)} files verified in {folder}")
    return 0


def fetch_dataset(name: str, data_dir: str | os.PathLike[str] | None) -> Path:
    """``--download``: fetch ``name`` into ``data_dir`` (or the cache) unless it is already there.

    Without a folder, a copy found outside the cache (the bundled MNIST, $MNISTNP_DATA, a system
    folder) is left to ``load`` as it is, so no request is made; the cache is verified, and
    what is missing or corrupt there is fetched.
    """
    if name not in REGISTRY:  # only a --data-dir's folder name gets here
        raise UsageError(f"--download: which dataset belongs in {data_dir}? name it with "
                         f"--dataset ({', '.join(_downloadable())})")
    if data_dir is None:
        try:
            found = datasets.locate(name)
        except DatasetError:
            found = None
        if found is not None and found != datasets.cache_dir() / name:
            return found
    return _download(name, data_dir)


def _download(name: str, data_dir: str | os.PathLike[str] | None) -> Path:
    from ..download import download

    return download(name, data_dir, log=lambda line: print(f"mnistnp: {line}", file=sys.stderr))
