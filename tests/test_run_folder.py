"""The records a run leaves: file modes that follow the umask, metrics.jsonl after a resume,
finished checkpoints and extending them, settings.json across resumes, run folders that are
not silently reused, summary.json's units, and ``--metrics -``."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import re
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import MakeIdxDir, cli

from mnistnp import ModelConfig, TrainConfig, datasets, load_model
from mnistnp.callbacks import Callback, TrainContext
from mnistnp.checkpoint import extend, load_checkpoint
from mnistnp.datasets import FILES, DatasetInfo
from mnistnp.download import download
from mnistnp.pipeline import load_data
from mnistnp.pipeline import train as train_run

FAST = ("--hidden", "8", "--epochs", "2", "--no-progress")



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


# --- --metrics - ----------------------------------------------------------------------------------

def without_times(records: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{k: v for k, v in r.items() if k not in ("seconds", "samples_per_s")}
            for r in records]


def read_jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_metrics_dash_writes_json_lines_to_stdout_and_the_rest_to_stderr(
        tiny_idx_dir: Path, tmp_path: Path) -> None:
    argv = ["train", "--data-dir", tiny_idx_dir, *FAST, "--epochs", "3", "--run-dir"]
    done = subprocess.run([sys.executable, "-m", "mnistnp.cli", *map(str, argv),
                           tmp_path / "run", "--metrics", "-"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]  # each line is JSON
    assert re.search(r"^epoch 3/3: loss", done.stderr, re.M)
    assert re.search(r"^test accuracy: \d+\.\d\d%$", done.stderr, re.M)
    assert not (tmp_path / "-").exists() and "metrics.jsonl" not in os.listdir(tmp_path / "run")
    # The same run writing its log to a file gives the same lines (times apart).
    assert cli(*argv, tmp_path / "again") == 0
    assert without_times(records) == without_times(read_jsonl(tmp_path / "again" /
                                                               "metrics.jsonl"))
    assert [r["epoch"] for r in records] == [1, 2, 3]


# --- metrics.jsonl across a resume ----------------------------------------------------------------

CONFIG = TrainConfig(model=ModelConfig("dense:8"),
                     epochs=6, batch_size=64, val_split=100, seed=2, dataset="tiny")


class Crash(BaseException):
    """What SIGKILL does to a run, as far as its files can tell: it stops between two writes."""


class CrashAtEpochEnd(Callback):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_epoch_end(self, ctx: TrainContext) -> None:
        if ctx.history.epochs == self.epoch:
            raise Crash


def test_a_resume_cuts_the_log_back_to_the_checkpoint(tiny_idx_dir: Path, tmp_path: Path) -> None:
    config = replace(CONFIG, data_dir=str(tiny_idx_dir))
    data = load_data(config)
    whole = tmp_path / "whole.jsonl"
    train_run(config, data, progress=False, metrics_path=str(whole))
    log, ckpt = tmp_path / "m.jsonl", tmp_path / "ckpt.npz"
    # Checkpoints at epochs 2 and 4; the crash comes after epoch 5's line is written (the
    # callback runs after the log's line), so the log is one epoch ahead of the checkpoint...
    with pytest.raises(Crash):
        train_run(config, data, progress=False, metrics_path=str(log), checkpoint_path=str(ckpt),
              checkpoint_every=2, callbacks=[CrashAtEpochEnd(6)])
    assert [r["epoch"] for r in read_jsonl(log)] == [1, 2, 3, 4, 5]
    with open(log, "a") as f:
        f.write('{"epoch": 6, "loss": 0.1')  # ...and a line torn by the kill
    resumed = load_checkpoint(ckpt)
    assert resumed.state.epoch == 4
    train_run(config, data, progress=False, metrics_path=str(log), resume=resumed)
    assert without_times(read_jsonl(log)) == without_times(read_jsonl(whole))


def interrupted(after_steps: int, *argv: object) -> None:
    """``mnistnp argv...``, Ctrl-C'd after ``after_steps`` gradient steps."""
    import mnistnp.training as training

    real_step, steps = training.train_step, iter(range(1, 10**6))

    def ctrl_c(*args: object, **kwargs: object) -> float:
        cost = real_step(*args, **kwargs)  # type: ignore[arg-type]
        if next(steps) == after_steps:
            os.kill(os.getpid(), signal.SIGINT)
        return cost

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "train_step", ctrl_c)
        assert cli(*argv) == 130


def train_argv(data_dir: Path, run: Path, *argv: object) -> list[object]:
    return ["train", "--data-dir", data_dir, *FAST, *argv, "--run-dir", run]


def test_a_cli_resume_leaves_each_epoch_once(tiny_idx_dir: Path, tmp_path: Path) -> None:
    argv = ["--epochs", "4", "--batch-size", "64", "--seed", "1"]
    assert train(tiny_idx_dir, *argv, "--run-dir", tmp_path / "whole") == 0
    run = tmp_path / "run"
    interrupted(23, *train_argv(tiny_idx_dir, run, *argv))  # 9 batches an epoch: 5 of epoch 3
    with open(run / "metrics.jsonl", "a") as f:  # what a kill after this point could leave
        f.write('{"epoch": 3, "loss": 9.0}\n{"epoch": 4, "lo')
    assert cli("train", "--resume", run / "checkpoint.npz", "--no-progress") == 0
    assert without_times(read_jsonl(run / "metrics.jsonl")) == without_times(
        read_jsonl(tmp_path / "whole" / "metrics.jsonl"))


# --- run folders are not reused by accident -------------------------------------------------------

def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_run_folder_in_use_is_refused(tiny_idx_dir: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert train(tiny_idx_dir, "--run-dir", run, "--checkpoint-every", "1") == 0
    before = snapshot(run)
    capsys.readouterr()
    assert train(tiny_idx_dir, "--run-dir", run, "--seed", "1") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"--run-dir {run}" in err and "--overwrite" in err
    assert snapshot(run) == before  # nothing written, nothing removed


@pytest.mark.parametrize("under", ["", "sub"])
def test_a_run_dir_that_names_a_file_says_so(tiny_idx_dir: Path, tmp_path: Path, under: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    # A file where the folder (or one of its parents) would go: not 'File exists'.
    afile = tmp_path / "notes.txt"
    afile.write_text("mine")
    run = afile / under if under else afile
    assert train(tiny_idx_dir, "--run-dir", run) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"mnistnp train: error: argument --run-dir: {afile} is a file, not a "
                       "folder; give a folder's name (it is made if missing)")
    assert afile.read_text() == "mine"


def test_a_folder_of_other_files_is_refused_and_an_empty_one_used(
        tiny_idx_dir: Path, tmp_path: Path) -> None:
    mine, empty = tmp_path / "mine", tmp_path / "empty"
    mine.mkdir()
    empty.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert train(tiny_idx_dir, "--run-dir", mine) == 2
    assert os.listdir(mine) == ["notes.txt"]
    assert train(tiny_idx_dir, "--run-dir", empty) == 0
    assert (empty / "model.npz").is_file()


def test_overwrite_replaces_the_earlier_run_and_keeps_other_files(tiny_idx_dir: Path,
                                                                  tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert train(tiny_idx_dir, "--run-dir", run, "--repeats", "2", "--checkpoint-every", "1") == 0
    assert train(tiny_idx_dir, "--run-dir", run, "--checkpoint-every", "1", "--seed", "7",
                 "--overwrite") == 0
    (run / "notes.txt").write_text("mine")
    (run / "seed-7").mkdir()
    (run / "seed-7" / "notes.txt").write_text("mine too")
    assert train(tiny_idx_dir, "--run-dir", run, "--seed", "9", "--overwrite") == 0
    # The earlier run's checkpoint is gone (resuming it would overwrite this run's model)...
    assert sorted(os.listdir(run)) == ["confusion_matrix.png", "first_layer.png",
                                       "learning_curve.png", "metrics.jsonl", "mistakes.png",
                                       "model.npz", "notes.txt", "reliability.png",
                                       "report.html", "seed-7", "settings.json"]
    assert os.listdir(run / "seed-7") == ["notes.txt"]  # ...and what the user put there stays
    assert load_model(run / "model.npz").info["seed"] == 9
    settings = json.loads((run / "settings.json").read_text())
    assert settings["config"]["seed"] == 9


# --- finished runs, and making them longer --------------------------------------------------------

def test_resuming_a_finished_run_again_says_it_is_complete(
        tiny_idx_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    interrupted(7, *train_argv(tiny_idx_dir, run))  # 5 batches an epoch: 2 of epoch 2
    ckpt = run / "checkpoint.npz"
    assert cli("train", "--resume", ckpt, "--no-progress") == 0
    finished = snapshot(run)
    capsys.readouterr()
    assert cli("train", "--resume", ckpt, "--no-progress") == 2  # the printed command, again
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(ckpt) in err
    assert "the run is complete (2 of 2 epochs)" in err and "--epochs N larger than 2" in err
    assert snapshot(run) == finished  # the finished model is not trained or written again


def test_a_run_with_checkpoints_ends_with_a_finished_one(tiny_idx_dir: Path,
                                                         tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert train(tiny_idx_dir, "--run-dir", run, "--checkpoint-every", "5") == 0  # 2 epochs
    ckpt = load_checkpoint(run / "checkpoint.npz")
    assert ckpt.state.finished and ckpt.state.epoch == 2
    assert cli("train", "--resume", run / "checkpoint.npz") == 2


def test_a_longer_run_from_a_finished_one_matches_a_run_planned_that_long(
        tiny_idx_dir: Path, tmp_path: Path) -> None:
    # A constant rate: then the only difference a longer plan makes is the extra epochs.
    argv = ["--schedule", "constant", "--optimizer", "adam", "--dropout", "0.1", "--seed", "3"]
    assert train(tiny_idx_dir, *argv, "--epochs", "4", "--run-dir", tmp_path / "whole") == 0
    run = tmp_path / "run"
    assert cli(*train_argv(tiny_idx_dir, run, *argv, "--checkpoint-every", "1")) == 0
    assert cli("train", "--resume", run / "checkpoint.npz", "--epochs", "4",
               "--no-progress") == 0
    whole = load_model(tmp_path / "whole" / "model.npz")
    longer = load_model(run / "model.npz")
    assert longer.params.tobytes() == whole.params.tobytes()
    assert without_times(read_jsonl(run / "metrics.jsonl")) == without_times(
        read_jsonl(tmp_path / "whole" / "metrics.jsonl"))
    settings = json.loads((run / "settings.json").read_text())
    assert settings["config"]["epochs"] == 4 and longer.info["config"]["epochs"] == 4
    assert settings["command"][1:] == list(map(str, train_argv(  # the original, as given
        tiny_idx_dir, run, *argv, "--checkpoint-every", "1")))
    assert settings["resumed"][0]["command"][-3:] == ["--epochs", "4", "--no-progress"]
    # The epoch it went on at, counted as the lines count them: epoch 3 of 4.
    assert settings["resumed"][0]["at_epoch"] == 3


def test_a_longer_cosine_is_laid_out_over_the_new_length(tiny_idx_dir: Path,
                                                         tmp_path: Path) -> None:
    config = replace(CONFIG, data_dir=str(tiny_idx_dir), epochs=2,
                     optimizer=CONFIG.optimizer.from_dict({**CONFIG.optimizer.to_dict(),
                                                           "lr": 0.01}),
                     schedule={"name": "cosine", "warmup_epochs": 1}, val_split=0)
    data = load_data(config)
    ckpt = tmp_path / "ckpt.npz"
    short = train_run(config, data, progress=False, checkpoint_path=str(ckpt),
                      checkpoint_every=1)
    longer = train_run(config, data, progress=False, resume=extend(load_checkpoint(ckpt), 5))
    steps = 10  # 600 rows in batches of 64

    def cosine(step: int, total: int) -> float:  # the rate of the step, warmup done
        return 0.01 * 0.5 * (1 + math.cos(math.pi * (step - steps) / (total - steps)))

    # Each epoch's rate is that of its last step: first over 2 epochs, then over 5.
    assert short.history.epoch_lr == pytest.approx([0.01, cosine(2 * steps - 1, 2 * steps)])
    assert longer.history.epoch_lr == pytest.approx(
        short.history.epoch_lr + [cosine(e * steps - 1, 5 * steps) for e in (3, 4, 5)])


@pytest.mark.parametrize(("argv", "message"), [
    (["--epochs", "2"], "epochs 2: give more than the 2 planned"),
    (["--iterations", "100"], "the run is counted in epochs (2); give more epochs"),
    (["--epochs", "5", "--lr", "0.1"], "drop --lr"),
])
def test_a_longer_run_must_be_longer_and_nothing_else(
        argv: list[str], message: str, tiny_idx_dir: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert train(tiny_idx_dir, "--run-dir", run, "--checkpoint-every", "1") == 0
    before = snapshot(run)
    capsys.readouterr()
    assert cli("train", "--resume", run / "checkpoint.npz", *argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err
    assert snapshot(run) == before


def test_a_run_early_stopping_ended_is_not_made_longer(make_idx_dir: MakeIdxDir, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    # Random labels: nothing to learn, so the validation loss soon stops improving.
    labels = np.random.default_rng(0).integers(0, 10, 600).astype(np.uint8)
    config = replace(CONFIG, data_dir=str(make_idx_dir(train_labels=labels)), epochs=40,
                     patience=1)
    data = load_data(config)
    ckpt = tmp_path / "ckpt.npz"
    result = train_run(config, data, progress=False, checkpoint_path=str(ckpt),
                       checkpoint_every=1)
    assert result.history.epochs < 40
    with pytest.raises(ValueError, match=f"early stopping ended the run at epoch "
                                         f"{result.history.epochs}"):
        extend(load_checkpoint(ckpt), epochs=80)
    assert cli("train", "--resume", ckpt) == 2
    assert "early stopping ended it" in capsys.readouterr().err


# --- settings.json across resumes -----------------------------------------------------------------

def test_settings_keep_the_original_command_and_add_each_resume(tiny_idx_dir: Path,
                                                                 tmp_path: Path) -> None:
    run, argv = tmp_path / "run", ["--recipe", "best", "--hidden", "8", "--epochs", "3"]
    interrupted(5, *train_argv(tiny_idx_dir, run, *argv))  # at the end of epoch 1's batches
    original = json.loads((run / "settings.json").read_text())
    resume = ["train", "--resume", str(run / "checkpoint.npz"), "--no-progress"]
    interrupted(8, *resume)  # epoch 3, batch 3
    assert cli(*resume) == 0
    settings = json.loads((run / "settings.json").read_text())
    assert settings["command"] == original["command"]
    assert settings["command"][1:] == list(map(str, train_argv(tiny_idx_dir, run, *argv)))
    assert settings["recipe"] == "best" and settings["created"] == original["created"]
    assert [r["command"][1:] for r in settings["resumed"]] == [resume] * 2
    assert [(r["at_epoch"], r["at_batch"]) for r in settings["resumed"]] == [(1, 5), (3, 3)]
    assert load_model(run / "model.npz").info["recipe"] == "best"


def test_an_unreadable_settings_file_is_reported_and_replaced(
        tiny_idx_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    interrupted(3, *train_argv(tiny_idx_dir, run))
    (run / "settings.json").write_text("{torn")
    capsys.readouterr()
    assert cli("train", "--resume", run / "checkpoint.npz", "--no-progress") == 0
    warning = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warning) == 1 and str(run / "settings.json") in warning[0]
    settings = json.loads((run / "settings.json").read_text())
    assert settings["command"] is None and len(settings["resumed"]) == 1
    assert settings["config"]["model"] == {"layers": "dense:8"}
