"""The records a run leaves: file modes that follow the umask, metrics.jsonl after a resume,
finished checkpoints and extending them, settings.json across resumes, run folders that are
not silently reused, summary.json's units, and ``--metrics -``."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mnistnp import datasets, load_model
from mnistnp.cli import main
from mnistnp.datasets import FILES, DatasetInfo
from mnistnp.download import download

FAST = ("--hidden", "8", "--epochs", "2", "--no-progress")


def cli(*argv: object) -> int:
    """``mnistnp argv...`` in this process; argparse's own exits become return codes too."""
    try:
        return main([str(a) for a in argv])
    except SystemExit as e:
        return 0 if e.code is None else int(e.code)


def train(data_dir: Path, *argv: object) -> int:
    return cli("train", "--data-dir", data_dir, *FAST, *argv)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- file modes -----------------------------------------------------------------------------------

@pytest.fixture(params=[0o022, 0o002, 0o077], ids=oct)
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


# What `open` gives a new file under each umask, written out rather than computed.
MODES = {0o022: 0o644, 0o002: 0o664, 0o077: 0o600}


def test_every_file_train_writes_follows_the_umask(umask: int, tiny_idx_dir: Path,
                                                   tmp_path: Path) -> None:
    run, repeats = tmp_path / "run", tmp_path / "repeats"
    assert train(tiny_idx_dir, "--run-dir", run, "--checkpoint-every", "1") == 0
    assert train(tiny_idx_dir, "--run-dir", repeats, "--repeats", "2") == 0
    files = [run / name for name in ("model.npz", "learning_curve.png", "settings.json",
                                     "checkpoint.npz", "metrics.jsonl")]
    files += [repeats / "summary.json", repeats / "seed-1" / "model.npz"]
    assert {f.name: oct(mode(f)) for f in files} == {f.name: oct(MODES[umask]) for f in files}


def test_a_replaced_file_takes_the_umask_mode_too(umask: int, tmp_path: Path) -> None:
    from mnistnp.atomic import atomic_write

    target = tmp_path / "f.txt"
    target.write_text("old")
    target.chmod(0o640)
    with atomic_write(target, "w") as f:
        f.write("new")
    assert target.read_text() == "new" and mode(target) == MODES[umask]


def test_downloaded_files_follow_the_umask(umask: int, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    hashes = {}
    for stem in FILES:
        body = gzip.compress(stem.encode(), mtime=0)  # any bytes do: only the hash is checked
        (mirror / f"{stem}.gz").write_bytes(body)
        hashes[stem] = hashlib.sha256(body).hexdigest()
    monkeypatch.setitem(datasets.REGISTRY, "tiny", DatasetInfo(name="tiny", gz_sha256=hashes))
    monkeypatch.setenv("MNISTNP_MIRRORS", mirror.as_uri() + "/")
    folder = download("tiny", tmp_path / "data", progress=False)
    got = {p.name: oct(mode(p)) for p in folder.iterdir()}
    assert got == {f"{stem}.gz": oct(MODES[umask]) for stem in FILES}


def test_the_umask_is_read_without_changing_it(umask: int,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from mnistnp import atomic

    assert atomic.umask() == umask
    monkeypatch.setattr(atomic, "open", lambda *a, **k: open("/nonexistent/status"),
                        raising=False)  # no /proc: the fallback sets it and puts it back
    assert atomic.umask() == umask
    assert os.umask(umask) == umask


# --- summary.json ---------------------------------------------------------------------------------

def test_summary_holds_fractions_only_and_says_so(tiny_idx_dir: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert train(tiny_idx_dir, "--run-dir", run, "--repeats", "2", "--val-split", "100") == 0
    printed = [float(p) / 100 for p in
               re.findall(r"^test accuracy: (\d+\.\d\d)%$", capsys.readouterr().out, re.M)]
    summary = json.loads((run / "summary.json").read_text())
    assert "fraction" in summary["units"]
    infos = [load_model(run / f"seed-{s}" / "model.npz").info["metrics"] for s in (0, 1)]
    assert summary["test_accuracy"] == [m["test_accuracy"] for m in infos]
    assert summary["val_accuracy"] == [m["val_accuracy"] for m in infos]
    assert summary["test_accuracy"] == pytest.approx(printed, abs=5e-5)
    assert summary["test_accuracy_mean"] == pytest.approx(np.mean(printed), abs=5e-5)
    assert summary["test_accuracy_std"] == pytest.approx(np.std(printed, ddof=1), abs=1e-4)
    assert all(0 <= a <= 1 for a in summary["test_accuracy"] + summary["val_accuracy"])
