"""A run belongs to the library: ``Run`` writes the same folder from Python as ``mnistnp
train`` does, claims new folders exclusively, protects an earlier ``out`` file, and a resume
goes on with the whole run as it was asked for (every seed, its own files)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import cli
from test_run_folder import interrupted, read_jsonl, without_times

from mnistnp import experiment, run_folder
from mnistnp.config import RECIPES
from mnistnp.experiment import Run
from mnistnp.model_config import ModelConfig
from mnistnp.model_file import load_model
from mnistnp.run_errors import RunSetupError
from mnistnp.train_config import TrainConfig

FAST = ("--hidden", "8", "--epochs", "2", "--no-progress")


def config(data_dir: Path) -> TrainConfig:
    """What `--data-dir DIR --layers dense:8 --epochs 2` makes of the default recipe."""
    return replace(RECIPES["default"], model=ModelConfig("dense:8"), epochs=2,
                   data_dir=str(data_dir), dataset="tiny")


def test_a_run_from_python_leaves_the_folder_the_cli_leaves(tiny_idx_dir: Path,
                                                            tmp_path: Path) -> None:
    result = Run(config(tiny_idx_dir), tmp_path / "py", recipe="default").execute()
    assert cli("train", "--data-dir", tiny_idx_dir, "--layers", "dense:8", "--epochs", "2",
               "--no-progress", "--run-dir", tmp_path / "cli") == 0
    py, cmd = tmp_path / "py", tmp_path / "cli"
    assert sorted(p.name for p in py.iterdir()) == sorted(p.name for p in cmd.iterdir()) == [
        "confusion_matrix.png", "first_layer.png", "learning_curve.png", "metrics.jsonl",
        "mistakes.png", "model.npz", "reliability.png", "report.html", "settings.json"]
    assert set(run_folder.RUN_FILES) >= {p.name for p in py.iterdir()}
    assert load_model(py / "model.npz").params.tobytes() == \
        load_model(cmd / "model.npz").params.tobytes()
    assert without_times(read_jsonl(py / "metrics.jsonl")) == without_times(
        read_jsonl(cmd / "metrics.jsonl"))
    info = load_model(py / "model.npz").info
    assert info.dataset == "tiny" and info.image_shape == (28, 28) and info.seed == 0
    assert info.metrics["test_accuracy"] == result.seeds[0].test_accuracy
    assert result.run_dir == py and result.summary is None


def test_the_learning_curve_says_which_model_and_dataset(tiny_idx_dir: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    titles: list[str] = []
    monkeypatch.setattr(experiment, "plot_learning_curve",
                        lambda history, path, title: titles.append(title))
    Run(config(tiny_idx_dir), tmp_path / "run", recipe="default").execute()
    assert len(titles) == 1 and titles[0].startswith("784-8-10 on tiny, recipe default, "
                                                     "seed 0: test accuracy "), titles


def test_new_run_folders_are_claimed_exclusively(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # As when another process makes the same folder between a look and the mkdir: the look
    # says free both times, the folder itself decides.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(Path, "exists", lambda self: False)
    folders = {run_folder.claim(None) for _ in range(3)}
    assert len(folders) == 3 and all(f.parent == Path("runs") and f.is_dir() for f in folders)


def test_three_runs_in_the_same_second_keep_three_folders(tiny_idx_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.chdir(tmp_path)
    for seed in range(3):
        assert cli("train", "--data-dir", tiny_idx_dir, *FAST, "--seed", seed) == 0
    seeds = sorted(load_model(p / "model.npz").info.seed for p in (tmp_path / "runs").iterdir())
    assert seeds == [0, 1, 2]


def test_out_is_protected_like_the_run_folder(tiny_idx_dir: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "my.npz"
    out.write_bytes(b"the user's earlier model")
    capsys.readouterr()
    assert cli("train", "--data-dir", tiny_idx_dir, *FAST, "--out", out,
               "--run-dir", tmp_path / "a") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--out {out} exists" in err and "--overwrite" in err
    assert out.read_bytes() == b"the user's earlier model" and not (tmp_path / "a").exists()
    assert cli("train", "--data-dir", tiny_idx_dir, *FAST, "--out", out,
               "--run-dir", tmp_path / "b", "--overwrite") == 0
    assert load_model(out).info.seed == 0
    with pytest.raises(RunSetupError, match="exists"):
        Run(config(tiny_idx_dir), tmp_path / "c", out=out).execute()


def test_a_resume_writes_to_the_files_the_run_was_given(tiny_idx_dir: Path,
                                                        tmp_path: Path) -> None:
    run, out, plot = tmp_path / "run", tmp_path / "mine.npz", tmp_path / "curve.svg"
    interrupted(7, "train", "--data-dir", tiny_idx_dir, *FAST, "--run-dir", run,
                "--out", out, "--plot", plot)  # 5 batches an epoch: in epoch 2
    assert not out.exists() and not plot.exists()
    assert cli("train", "--resume", run / "checkpoint.npz", "--no-progress") == 0
    assert out.is_file() and plot.is_file()
    assert not (run / "model.npz").exists() and not (run / "learning_curve.png").exists()
    whole = tmp_path / "whole.npz"
    assert cli("train", "--data-dir", tiny_idx_dir, *FAST, "--run-dir", tmp_path / "w",
               "--out", whole) == 0
    assert load_model(out).params.tobytes() == load_model(whole).params.tobytes()


def test_a_resume_of_several_seeds_finishes_every_seed(tiny_idx_dir: Path,
                                                       tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    run, out = tmp_path / "run", tmp_path / "best.npz"
    argv = ["train", "--data-dir", tiny_idx_dir, *FAST, "--repeats", "3"]
    # seed 0 done (10 steps), seed 1 in its first epoch
    interrupted(13, *argv, "--out", out, "--run-dir", run)
    assert (run / "seed-0" / "model.npz").is_file()
    assert not (run / "seed-1" / "model.npz").exists() and not (run / "summary.json").exists()
    capsys.readouterr()
    assert cli("train", "--resume", run / "seed-1" / "checkpoint.npz", "--no-progress") == 0
    said = capsys.readouterr().out
    assert "seed 0: trained before the resume" in said and "over 3 seeds" in said
    summary = json.loads((run / "summary.json").read_text())
    assert summary["seeds"] == [0, 1, 2]
    assert cli(*argv, "--run-dir", tmp_path / "whole") == 0
    whole = json.loads((tmp_path / "whole" / "summary.json").read_text())
    assert summary["test_accuracy"] == whole["test_accuracy"]  # as if never stopped
    best = int(max(range(3), key=lambda k: summary["val_accuracy"][k]))
    assert out.read_bytes() == (run / f"seed-{best}" / "model.npz").read_bytes()
    settings = json.loads((run / "settings.json").read_text())
    assert settings["repeats"] == 3 and settings["resumed"][0]["at_epoch"] == 1


def test_a_resume_of_several_seeds_cannot_be_made_longer(tiny_idx_dir: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    run = tmp_path / "run"
    interrupted(13, "train", "--data-dir", tiny_idx_dir, *FAST, "--repeats", "2",
                "--run-dir", run)
    capsys.readouterr()
    assert cli("train", "--resume", run / "seed-1" / "checkpoint.npz", "--epochs", "5") == 2
    assert "start a new run" in capsys.readouterr().err


def test_the_scoring_after_training_is_announced(tiny_idx_dir: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("train", "--data-dir", tiny_idx_dir, *FAST, "--run-dir", tmp_path / "r") == 0
    lines = capsys.readouterr().out.splitlines()
    at = lines.index("scoring the model on 800 images (train, validation and test)")
    assert lines[at - 1].startswith("epoch 2/2: loss") and lines[at + 1].startswith("trained in")


@pytest.mark.parametrize("option", ["plot", "metrics"])
def test_one_runs_files_with_several_seeds_are_refused_by_the_run(option: str,
                                                                   tmp_path: Path) -> None:
    # The Run is the one place that says it; the CLI names the option from what it raises.
    with pytest.raises(RunSetupError, match="one run's file") as caught:
        Run(TrainConfig(), tmp_path / "run", repeats=2, **{option: tmp_path / "f"})
    assert caught.value.option == option and not (tmp_path / "run").exists()
