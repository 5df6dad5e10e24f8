"""Training faults: non-finite values, Ctrl-C and SIGTERM, checkpoints and bit-identical resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_arrays
from test_model_file import _Payload

from mnistnp import ModelConfig, TrainConfig, load_model
from mnistnp.checkpoint import load_checkpoint
from mnistnp.cli import main
from mnistnp.errors import TrainingError
from mnistnp.pipeline import load_data, train
from mnistnp.training import Interrupted

# Every piece of state a resume must restore: Adam moments, warmup + cosine, dropout masks,
# augmentation shifts, early-stopping bests and the validation split.
CONFIG = TrainConfig(model=ModelConfig.mlp((16, 12), dropout=0.2, shift=1), epochs=4,
                     batch_size=64,
                     optimizer={"name": "adamw", "lr": 3e-3, "weight_decay": 0.01},
                     schedule={"name": "cosine", "warmup_epochs": 1}, val_split=100,
                     patience=3, seed=5, dataset="tiny")


def stop_after(batches: int):
    calls = iter(range(batches + 1_000_000))
    return lambda: next(calls) + 1 >= batches


@pytest.mark.parametrize("stop_at", [1, 7, 9, 15, 26])  # first batch, mid-epoch, epoch ends
def test_interrupted_and_resumed_run_is_bit_identical(tiny_idx_dir, tmp_path, stop_at):
    config = TrainConfig(**{**CONFIG.__dict__, "data_dir": str(tiny_idx_dir)})
    data = load_data(config)
    whole = train(config, data, progress=False)
    ckpt = tmp_path / "ckpt.npz"
    with pytest.raises(Interrupted) as info:
        train(config, data, progress=False, checkpoint_path=str(ckpt),
              should_stop=stop_after(stop_at))
    assert info.value.state.history.iterations == stop_at
    resumed = train(config, data, progress=False, resume=load_checkpoint(ckpt))
    assert np.array_equal(resumed.model.params, whole.model.params)
    assert resumed.history.costs == whole.history.costs
    assert resumed.history.epoch_val_loss == whole.history.epoch_val_loss


def test_a_resumed_plateau_run_keeps_the_rate_it_had_dropped_to(tmp_path):
    """The plateau schedule's state (the rate it dropped to, its best loss, its bad epochs)
    goes through the checkpoint: a run cut after its rate dropped ends, resumed, with the
    uninterrupted run's weights. Labels that cannot be learnt stall the validation loss."""
    arrays = tiny_arrays()
    labels = np.random.default_rng(1).permutation(arrays["train_labels"]).astype(np.int64)
    data = ((arrays["train_images"], labels),
            (arrays["test_images"], arrays["test_labels"].astype(np.int64)))
    config = TrainConfig(model=ModelConfig.mlp((16,)), epochs=6, batch_size=64,
                         optimizer={"name": "adam", "lr": 0.01},
                         schedule={"name": "plateau", "gamma": 0.5, "patience": 0},
                         val_split=100, patience=None, seed=5, dataset="tiny")
    whole = train(config, data, progress=False)
    ckpt = tmp_path / "ckpt.npz"
    with pytest.raises(Interrupted):
        train(config, data, progress=False, checkpoint_path=str(ckpt),
              should_stop=stop_after(27))  # 8 batches an epoch: in the fourth
    cut = load_checkpoint(ckpt)
    assert cut.schedule["current"] < config.optimizer.lr  # the rate had dropped before the cut
    resumed = train(config, data, progress=False, resume=cut)
    assert np.array_equal(resumed.model.params, whole.model.params)
    assert resumed.history.epoch_val_loss == whole.history.epoch_val_loss


def test_checkpoint_every_epoch_resumes_from_an_epoch_boundary(tiny_idx_dir, tmp_path):
    config = TrainConfig(**{**CONFIG.__dict__, "data_dir": str(tiny_idx_dir), "patience": None})
    data = load_data(config)
    ckpt = tmp_path / "ckpt.npz"
    whole = train(config, data, progress=False, checkpoint_path=str(ckpt), checkpoint_every=1)
    last = load_checkpoint(ckpt)
    assert (last.state.epoch, last.state.batch) == (config.epochs, 0)
    assert np.array_equal(last.params, whole.model.params)


def test_a_non_finite_cost_stops_training_naming_epoch_and_batch(tiny_idx_dir, tmp_path, capsys):
    out = tmp_path / "model.npz"
    status = main(["train", "--data-dir", str(tiny_idx_dir), "--hidden", "8", "--optimizer",
                   "sgd", "--lr", "1e30", "--schedule", "constant", "--epochs", "2",
                   "--out", str(out), "--run-dir", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 1
    assert "epoch 1, batch" in err and "lower learning rate" in err and "Traceback" not in err
    assert not out.exists()  # no model file claiming success


def test_non_finite_weights_stop_training(tiny_idx_dir, monkeypatch):
    import mnistnp.training as training

    real_step = training.train_step

    def poisoned(model, *args, **kwargs):
        cost = real_step(model, *args, **kwargs)
        model.params[3] = np.inf
        return cost

    monkeypatch.setattr(training, "train_step", poisoned)
    config = TrainConfig(model=ModelConfig("dense:8"),
                         epochs=1, data_dir=str(tiny_idx_dir), dataset="tiny")
    with pytest.raises(TrainingError, match="weights became non-finite at epoch 1, batch 1"):
        train(config, progress=False)


def _start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "mnistnp.cli", *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_epoch(proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("epoch 1/") or time.monotonic() > deadline:
            return


# 100 epochs of 38 batches, one cost line (about 47 bytes) per batch: 180 kB of output, far
# more than a pipe holds (64 kB), so a run whose standard output is not read stops in a print
# long before its end and a signal reaches it mid-run however busy the machine is.
SIGNAL_RUN = ["--hidden", "16", "--epochs", "100", "--batch-size", "16", "--seed", "3",
              "--val-split", "0", "--log-every", "1", "--no-progress"]


@pytest.fixture(scope="module")
def uninterrupted_signal_run(session_idx_dir, tmp_path_factory) -> Path:
    """The model file of SIGNAL_RUN trained without a break."""
    run = tmp_path_factory.mktemp("whole")
    assert main(["train", "--data-dir", str(session_idx_dir), *SIGNAL_RUN,
                 "--run-dir", str(run)]) == 0
    return run / "model.npz"


def _weights(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        return {name: f[name] for name in f.files if name.startswith("layers.")}


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_writes_a_checkpoint_that_resumes(session_idx_dir, uninterrupted_signal_run,
                                                   tmp_path, sig, status):
    run = tmp_path / "run"
    proc = _start(["train", "--data-dir", str(session_idx_dir), *SIGNAL_RUN,
                   "--run-dir", str(run)], tmp_path)
    assert proc.stdout is not None
    for line in proc.stdout:  # training has begun (and the handlers are in place) ...
        if line.startswith("iteration "):
            break  # ... and from here nobody reads, so the run soon blocks in a print
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err
    assert "Traceback" not in err
    ckpt = run / "checkpoint.npz"
    assert f"resume with: mnistnp train --resume {ckpt}" in err
    state = load_checkpoint(ckpt).state
    assert 1 <= state.history.iterations < 100 * 38
    assert not (run / "model.npz").exists()
    assert not list(run.glob(".*.tmp"))

    assert main(["train", "--resume", str(ckpt), "--no-progress"]) == 0
    resumed, whole = _weights(run / "model.npz"), _weights(uninterrupted_signal_run)
    assert resumed.keys() == whole.keys() and len(whole) == 4
    for name, array in whole.items():
        assert resumed[name].tobytes() == array.tobytes(), name  # bit for bit


def test_a_second_ctrl_c_while_saving_does_not_tear_the_checkpoint(tiny_idx_dir, tmp_path,
                                                                    monkeypatch, capsys):
    import mnistnp.checkpoint as checkpoint

    real_savez = checkpoint.np.savez

    def savez_interrupted(f, **arrays):
        os.kill(os.getpid(), signal.SIGINT)  # the impatient second Ctrl-C, mid-save
        real_savez(f, **arrays)

    monkeypatch.setattr(checkpoint.np, "savez", savez_interrupted)
    import mnistnp.training as training

    real_step = training.train_step
    steps = iter(range(10**6))

    def step_then_ctrl_c(*args, **kwargs):
        cost = real_step(*args, **kwargs)
        if next(steps) == 2:
            os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C, during batch 3
        return cost

    monkeypatch.setattr(training, "train_step", step_then_ctrl_c)
    run = tmp_path / "run"
    status = main(["train", "--data-dir", str(tiny_idx_dir), "--hidden", "8", "--epochs", "3",
                   "--run-dir", str(run), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 130
    assert "still writing the checkpoint" in err
    ckpt = load_checkpoint(run / "checkpoint.npz")
    assert ckpt.state.history.iterations == 3


def test_resume_refuses_training_options(tmp_path, capsys):
    status = main(["train", "--resume", str(tmp_path / "c.npz"), "--lr", "0.1"])
    assert status == 2
    assert "--lr" in capsys.readouterr().err  # --epochs may: test_run_folder.py


def test_resume_from_a_corrupt_checkpoint_is_one_clean_line(tmp_path, capsys):
    bad = tmp_path / "checkpoint.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    status = main(["train", "--resume", str(bad)])
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1 and str(bad) in err


def test_cli_resume_matches_an_uninterrupted_run(tiny_idx_dir, tmp_path):
    common = ["--data-dir", str(tiny_idx_dir), "--hidden", "16", "--epochs", "30",
              "--batch-size", "16", "--dropout", "0.1", "--seed", "4", "--no-progress"]
    assert main(["train", *common, "--run-dir", str(tmp_path / "whole")]) == 0
    run = tmp_path / "cut"
    proc = _start(["train", *common, "--run-dir", str(run)], tmp_path)
    _wait_for_epoch(proc)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert main(["train", "--resume", str(run / "checkpoint.npz"), "--no-progress"]) == 0
    a, b = load_model(tmp_path / "whole" / "model.npz"), load_model(run / "model.npz")
    assert np.array_equal(a.params, b.params)


def test_resume_refuses_a_checkpoint_with_a_pickled_member_unexecuted(tiny_idx_dir, tmp_path,
                                                                      capsys):
    """A checkpoint is read as a model file is: a pickled (object) member is refused by name
    and never unpickled, so resuming from a hostile file runs nothing of it."""
    run = tmp_path / "run"
    assert main(["train", "--data-dir", str(tiny_idx_dir), "--hidden", "8", "--epochs", "2",
                 "--checkpoint-every", "1", "--run-dir", str(run), "--no-progress"]) == 0
    with np.load(run / "checkpoint.npz", allow_pickle=False) as f:
        arrays = {name: f[name] for name in f.files}
    marker = tmp_path / "pwned"
    evil = np.empty(1, dtype=object)
    evil[0] = _Payload(marker)
    arrays["params"] = evil
    path = tmp_path / "evil.npz"
    np.savez(path, **arrays)
    capsys.readouterr()
    assert main(["train", "--resume", str(path), "--epochs", "3", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "params" in err and "pickle" in err
    assert not marker.exists()
    # Control: the payload is live, so its absence above means nothing unpickled it.
    with np.load(path, allow_pickle=True) as npz:
        npz["params"]
    assert marker.exists()
