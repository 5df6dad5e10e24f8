"""``mnistnp download``: fetch a dataset's four files into the cache (or a folder), verified."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..datasets import FILES, REGISTRY


def add_parser(sub: Any) -> argparse.ArgumentParser:
    names = sorted(k for k, v in REGISTRY.items() if v.gz_sha256)
    parser = sub.add_parser(
        "download", help="fetch a dataset into the cache",
        description="Fetch a dataset's four IDX files from its mirrors (in order, with retries), "
        "verify each by SHA-256 and keep it in the cache: $MNISTNP_DATA, else "
        "$XDG_CACHE_HOME/mnistnp, else ~/.cache/mnistnp. $MNISTNP_MIRRORS (comma-separated base "
        "URLs) replaces the mirror list, e.g. with a local mirror.")
    parser.add_argument("name", choices=names, help="the dataset")
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="put the files in DIR instead of the cache")
    return parser


def run(args: argparse.Namespace) -> int:
    folder = fetch_dataset(args.name, args.data_dir)
    print(f"{args.name}: {len(FILES)} files verified in {folder}")
    return 0


def fetch_dataset(name: str, data_dir: Path | None) -> Path:
    """Download (or verify) ``name``, reporting re-fetched files on stderr; the folder."""
    from ..download import download

    return download(name, data_dir, log=lambda line: print(f"mnistnp: {line}", file=sys.stderr))
