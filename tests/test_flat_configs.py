"""Settings files, model files and checkpoints written while TrainConfig held every
optimizer's and schedule's setting flat (tests/data/flat_*, see its README): they load with
their config upgraded to the nested form, evaluate and resume, and give the numbers the code
that wrote them gave."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import cli, write_idx_dir
from old_files import DATA, assert_same_arithmetic, tiny_data

from mnistnp import RECIPES, TrainConfig, load_model
from mnistnp.checkpoint import extend, load_checkpoint
from mnistnp.optim_config import upgrade_flat
from mnistnp.pipeline import train

EXPECTED = dict(np.load(DATA / "flat_expected.npz"))


# Each file's optimizer and schedule, as the nested config has them: the settings each takes.
SGD_STEP = {"optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True,
                          "weight_decay": 0.0005},
            "schedule": {"name": "step", "step_epochs": 2, "gamma": 0.5}}
ADAMW_COSINE = {"optimizer": {"name": "adamw", "lr": 0.002, "beta1": 0.9, "beta2": 0.999,
                              "eps": 1e-08, "weight_decay": 0.1},
                "schedule": {"name": "cosine", "warmup_epochs": 0.5}}
ADAM_PLATEAU = {"optimizer": {"name": "adam", "lr": 0.03, "beta1": 0.9, "beta2": 0.999,
                              "eps": 1e-08, "weight_decay": 0.0001},
                "schedule": {"name": "plateau", "gamma": 0.5, "patience": 0, "threshold": 1e-4,
                             "min_lr": 0.0}}
FLAT = ("lr", "momentum", "nesterov", "weight_decay", "warmup_epochs", "step_epochs", "gamma",
        "plateau_patience")


def assert_upgraded(config: dict, parts: dict) -> None:
    """``config`` (a dict) is nested, its optimizer and schedule ``parts``, and builds a
    TrainConfig that gives the same dict back."""
    assert not set(FLAT) & set(config)
    assert {k: config[k] for k in parts} == parts
    assert TrainConfig.from_dict(config).to_dict() == config


@pytest.mark.parametrize(("path", "parts"), [("flat_sgd_run/model.npz", SGD_STEP),
                                             ("flat_adamw_cosine.npz", ADAMW_COSINE)])
def test_an_old_model_files_config_is_upgraded_as_it_loads(path: str, parts: dict) -> None:
    info = load_model(DATA / path).info
    assert_upgraded(info.config, parts)
    assert info.config["epochs"] == {"flat_sgd_run/model.npz": 3}.get(path, 2)
    if path == "flat_adamw_cosine.npz":
        assert info.config["clip_norm"] == 5


def test_old_settings_and_checkpoints_are_upgraded_as_they_load() -> None:
    settings = json.loads((DATA / "flat_sgd_run" / "settings.json").read_text())
    assert settings["config"]["optimizer"] == "sgd"  # as written: flat
    assert_upgraded(upgrade_flat(settings["config"]), SGD_STEP)
    for path, parts in [("flat_sgd_run/checkpoint.npz", SGD_STEP),
                        ("flat_plateau_checkpoint.npz", ADAM_PLATEAU)]:
        config = load_checkpoint(DATA / path).config
        assert_upgraded(config.to_dict(), parts)


@pytest.mark.parametrize("path", ["flat_sgd_run/model.npz", "flat_adamw_cosine.npz"])
def test_an_old_model_file_evaluates_as_it_scored(
        path: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_idx_dir(tmp_path / "tiny")
    recorded = load_model(DATA / path).info.metrics["test_accuracy"]
    assert cli("evaluate", "--model", DATA / path, "--data-dir", data) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"accuracy: {recorded:.2%}"


def test_an_old_run_folder_is_made_longer() -> None:
    settings = json.loads((DATA / "flat_sgd_run" / "settings.json").read_text())
    ckpt = load_checkpoint(DATA / "flat_sgd_run" / "checkpoint.npz")
    assert ckpt.state.finished and ckpt.state.epoch == 3
    assert TrainConfig.from_dict(settings["config"]) == ckpt.config
    longer = extend(ckpt, epochs=4)
    result = train(longer.config, tiny_data(), progress=False, resume=longer)
    assert_same_arithmetic(result.model.params, EXPECTED["sgd_run_longer_params"])


def test_an_old_checkpoint_taken_mid_run_resumes_as_before(tmp_path: Path) -> None:
    shutil.copy(DATA / "flat_plateau_checkpoint.npz", tmp_path / "old.npz")
    ckpt = load_checkpoint(tmp_path / "old.npz")
    assert ckpt.schedule["current"] == 0.015  # the plateau had halved the rate
    result = train(ckpt.config, tiny_data(), progress=False, resume=ckpt)
    assert_same_arithmetic(result.model.params, EXPECTED["plateau_resumed_params"])
    assert result.history.epoch_lr == list(EXPECTED["plateau_resumed_lr"])


# The recipes' optimizer and schedule settings as they were written when they were flat.
FLAT_RECIPES = {
    "default": {"optimizer": "adamw", "weight_decay": 0.1, "warmup_epochs": 1},
    "best": {"optimizer": "adamw", "lr": 1e-3, "weight_decay": 0.05, "warmup_epochs": 1},
    "cnn": {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True,
            "weight_decay": 5e-4, "warmup_epochs": 1},
    # The notebook's rate as the flat form would write it since it warms up and decays.
    "notebook": {"optimizer": "sgd", "lr": 0.4, "warmup_epochs": 50, "weight_decay": 0.0},
}


@pytest.mark.parametrize("name", list(RECIPES))
def test_the_recipes_keep_their_settings_nested(name: str) -> None:
    recipe = RECIPES[name].to_dict()
    flat = {k: v for k, v in recipe.items() if k not in ("optimizer", "schedule")}
    assert TrainConfig.from_dict({**flat, **FLAT_RECIPES[name]}) == RECIPES[name]


def test_a_dict_is_taken_as_the_config_it_describes() -> None:
    config = TrainConfig(optimizer={"name": "sgd", "lr": 0.1},
                         schedule={"name": "step", "step_epochs": 2})
    assert config == TrainConfig.from_dict(config.to_dict())
    assert config.optimizer.to_dict() == {"name": "sgd", "lr": 0.1, "momentum": 0.0,
                                          "nesterov": False, "weight_decay": 0.0}
    assert config.schedule.to_dict() == {"name": "step", "step_epochs": 2, "gamma": 0.1}
    # Another schedule keeps the settings it shares with the last one.
    plateau = config.with_overrides(gamma=0.5).with_overrides(schedule="plateau")
    assert plateau.schedule.gamma == 0.5 and plateau.value("plateau_patience") == 2
