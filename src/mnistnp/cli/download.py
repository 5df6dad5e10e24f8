"""``mnistnp download``: fetch a dataset's four files into the cache (or a folder), verified;
and the ``--download`` step of ``train`` and ``evaluate``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..datasets import FILES, REGISTRY, bundled_dir
from ..download import (
    TIMEOUT,
    DatasetUnnamed,
    DownloadFailed,
    download,
    downloadable,
    fetch_dataset,
)
from . import options as opt
from .options import UsageError

# Where else the files can come from, added to a failed download's line.
ELSEWHERE = ("; to get the files another way, set $MNISTNP_MIRRORS to mirrors you can reach "
             "(comma-separated base URLs; file:///folder/ works too), or put the four files in "
             "a folder and give --data-dir DIR")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "download", help="fetch a dataset into the cache",
        description="Fetch a dataset's four IDX files from its mirrors (in order, with retries), "
        "verify each by SHA-256 and keep it in the cache: $MNISTNP_DATA, else "
        "$XDG_CACHE_HOME/mnistnp, else ~/.cache/mnistnp (a folder per dataset). Files already "
        "there are verified and kept; a corrupt one is fetched again. $MNISTNP_MIRRORS "
        "(comma-separated base URLs, where {name} stands for the dataset) replaces the mirror "
        "list, e.g. with a local mirror. MNIST is bundled: it is never fetched, only copied "
        "into --data-dir if one is given.")
    # Named by its choices, so usage and the missing argument's error both list them.
    parser.add_argument("name", choices=downloadable(),
                        metavar="{" + ",".join(downloadable()) + "}",
                        help=f"the dataset: {', '.join(downloadable())} (mnist is bundled: it "
                        "is only copied, and only into --data-dir)")
    parser.add_argument("--data-dir", type=Path, metavar="DIR",
                        help="put the files in DIR instead of the cache")
    parser.add_argument("--timeout", type=opt.positive_float, metavar="SECONDS",
                        help="how long a connection or a read may stall before the attempt "
                        f"fails (default: $MNISTNP_TIMEOUT, else {TIMEOUT:g})")
    return parser


def run(args: argparse.Namespace) -> int:
    if REGISTRY[args.name].bundled and args.data_dir is None:
        print(f"{args.name} is bundled with mnistnp, in {bundled_dir()}: nothing to download "
              "(--data-dir DIR copies its files there)")
        return 0
    folder = _download(args.name, args.data_dir, args.timeout)
    print(f"{args.name}: {len(FILES)} files verified in {folder}")
    return 0


def fetch(name: str, data_dir: str | os.PathLike[str] | None) -> Path:
    """The ``--download`` step of train and evaluate: ``fetch_dataset``, with the command
    line's timeout and messages."""
    try:
        return _download(name, data_dir, None, fetch_dataset)
    except DatasetUnnamed:  # only a --data-dir's folder name gets here
        raise UsageError(f"--download: which dataset belongs in {data_dir}? name it with "
                         f"--dataset ({', '.join(downloadable())})") from None


def _download(name: str, data_dir: str | os.PathLike[str] | None, timeout: float | None,
              how: Callable[..., Path] = download) -> Path:
    try:
        return how(name, data_dir, timeout=timeout or _env_timeout(),
                   log=lambda line: print(f"mnistnp: {line}", file=sys.stderr, flush=True))
    except DownloadFailed as e:
        raise DownloadFailed(f"{e}{ELSEWHERE}") from None


def _env_timeout() -> float:
    """$MNISTNP_TIMEOUT if set (a usage error if it is not a number of seconds), else TIMEOUT."""
    text = os.environ.get("MNISTNP_TIMEOUT")
    if not text:
        return TIMEOUT
    try:
        return float(opt.positive_float(text))
    except argparse.ArgumentTypeError as e:
        raise UsageError(f"$MNISTNP_TIMEOUT: {e}") from None
