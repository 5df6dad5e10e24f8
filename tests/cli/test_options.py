"""Options that would be ignored or combine badly are refused once, eagerly, by the library and
the command line alike; another optimizer brings its own rate; a misspelt option or command gets
the command's usage and a 'did you mean'."""

from __future__ import annotations

import json
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import cli, tiny_arrays, write_idx_dir

from mnistnp.cli import build_parser
from mnistnp.cli.train import _rate, config_from_args
from mnistnp.config import RECIPES
from mnistnp.errors import MnistnpWarning
from mnistnp.optim import OPTIMIZERS
from mnistnp.pipeline import make_schedule, train
from mnistnp.train_config import TrainConfig

# changes to the default recipe (adamw, cosine with warmup, 20 epochs) that would be ignored,
# and the start of the message; the CLI's is the same with "--" in front.
IGNORED: dict[str, tuple[dict[str, Any], str]] = {
    "momentum-adamw": ({"momentum": 0.9},
                       "momentum 0.9: only the sgd optimizer uses it; adamw ignores it"),
    "momentum-adam": ({"optimizer": "adam", "momentum": 0.9},
                      "momentum 0.9: only the sgd optimizer uses it; adam ignores it"),
    "nesterov-adamw": ({"nesterov": True}, "nesterov: only the sgd optimizer uses it"),
    "step-epochs-cosine": ({"step_epochs": 5}, "step-epochs 5: only the step schedule"),
    "gamma-cosine": ({"gamma": 0.5}, "gamma 0.5: only the step and plateau schedules use it"),
    "gamma-constant": ({"schedule": "constant", "gamma": 0.5}, "gamma 0.5: only the step"),
    "plateau-patience-step": ({"schedule": "step", "plateau_patience": 3},
                              "plateau-patience 3: only the plateau schedule"),
    "warmup-step": ({"schedule": "step", "warmup_epochs": 2},
                    "warmup-epochs 2: only the cosine schedule uses it; step ignores it"),
    "warmup-whole-run": ({"epochs": 3, "warmup_epochs": 3},
                         "warmup-epochs 3: not shorter than the run (3 epochs)"),
    "warmup-past-the-recipes-run": ({"warmup_epochs": 25}, "warmup-epochs 25: not shorter"),
    "step-past-the-run": ({"schedule": "step", "epochs": 4, "step_epochs": 4},
                          "step-epochs 4: not shorter than the run (4 epochs)"),
    "epochs-and-iterations": ({"epochs": 3, "iterations": 100},
                              "epochs 3: iterations 100 sets the run's length"),
}


@pytest.mark.parametrize("case", list(IGNORED))
def test_a_given_setting_the_run_would_ignore_is_refused(case: str) -> None:
    changes, message = IGNORED[case]
    with pytest.raises(ValueError) as raised:
        RECIPES["default"].with_overrides(**changes)
    assert str(raised.value).startswith(message)
    assert "--" not in str(raised.value)  # the library names settings, not flags


# (recipe, changes) where the recipe's own unused fields (step_epochs, gamma, a warmup under
# another schedule, momentum 0) are left over but nothing the user gave is ignored.
ACCEPTED = [
    ("default", {}), ("best", {}), ("notebook", {}),
    ("default", {"schedule": "constant"}),  # the recipe's warmup is not the user's
    ("default", {"schedule": "plateau"}),
    ("default", {"schedule": "step", "gamma": 0.5, "step_epochs": 5}),
    ("default", {"schedule": "plateau", "gamma": 0.5, "plateau_patience": 1}),
    ("default", {"warmup_epochs": 0.5, "epochs": 1}),
    ("default", {"optimizer": "sgd", "nesterov": True}),
    ("notebook", {"momentum": 0.9, "nesterov": True}),
    ("notebook", {"optimizer": "adam"}),  # the notebook's sgd momentum 0 is not carried over
]


@pytest.mark.parametrize(("recipe", "changes"), ACCEPTED)
def test_a_recipes_leftover_settings_trigger_nothing(recipe: str, changes: dict[str, Any]
                                                     ) -> None:
    config = RECIPES[recipe].with_overrides(**changes)
    assert {k: config.value(k) for k in changes} == changes


def test_settings_of_a_config_are_not_held_against_a_later_override() -> None:
    sgd = RECIPES["default"].with_overrides(optimizer="sgd", nesterov=True)
    adam = sgd.with_overrides(optimizer="adam")  # sgd's momentum and nesterov do not follow
    assert adam.optimizer.to_dict() == {"name": "adam", "lr": 0.002, "beta1": 0.9,
                                        "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}
    assert sgd.with_overrides(seed=3).optimizer == sgd.optimizer


@pytest.mark.parametrize("config", [
    TrainConfig(schedule={"name": "plateau"}, val_split=0),  # no validation loss: no drop
    TrainConfig(schedule={"name": "plateau", "gamma": 1.0}),  # a drop by 1 is no drop
    TrainConfig(optimizer={"name": "adam", "lr": 0.002, "nesterov": True}),  # adam has none
    TrainConfig(optimizer={"name": "sgd", "lr": 0.1, "nesterov": True}),  # momentum 0
], ids=["plateau-no-validation", "plateau-gamma-1", "nesterov-adam", "nesterov-momentum-0"])
def test_combinations_that_cannot_work_fail_validation(config: TrainConfig) -> None:
    with pytest.raises(ValueError) as raised:
        config.validate()
    assert "True" not in str(raised.value)  # 'nesterov: ...', not 'nesterov True: ...'


@pytest.mark.parametrize("recipe", list(RECIPES))
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_another_optimizer_takes_its_own_rate_and_momentum(recipe: str, optimizer: str) -> None:
    base = RECIPES[recipe]
    config = base.with_overrides(optimizer=optimizer)
    if optimizer == base.optimizer.name:  # not a switch: the recipe's tuned settings stay
        assert config == base
        return
    own = OPTIMIZERS[optimizer].switch_defaults
    assert config.optimizer.lr == own["lr"]
    assert config.value("momentum") in (own.get("momentum", 0.0), None)  # None: adam has none
    assert not config.value("nesterov") and config.optimizer.weight_decay == 0.0
    given = base.with_overrides(optimizer=optimizer, lr=0.123, weight_decay=1e-4)
    assert (given.optimizer.lr, given.optimizer.weight_decay) == (0.123, 1e-4)  # given wins


def test_sgd_chosen_over_the_recipe_learns_as_well_as_the_recipe() -> None:
    # Before: sgd kept adamw's rate 0.002 and had no momentum, 14% on the tiny set here.
    a = tiny_arrays()
    data = ((a["train_images"], a["train_labels"]), (a["test_images"], a["test_labels"]))
    recipe = RECIPES["default"].with_overrides(hidden=(16,), epochs=3)
    own = train(recipe, data, progress=False)
    sgd = train(recipe.with_overrides(optimizer="sgd"), data, progress=False)
    assert sgd.test_accuracy >= own.test_accuracy > 0.5


def test_epochs_given_replace_the_recipes_iterations() -> None:
    # The notebook counts 1000 iterations; '--epochs 2' used to be ignored for them.
    config = RECIPES["notebook"].with_overrides(epochs=2)
    assert (config.epochs, config.iterations) == (2, None)
    assert RECIPES["notebook"].with_overrides(iterations=5).iterations == 5


def _warnings(config: TrainConfig, steps_per_epoch: int, total_steps: int) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_schedule(config, steps_per_epoch, total_steps)
    assert all(w.category is MnistnpWarning for w in caught)
    return [str(w.message) for w in caught]


def test_a_schedule_the_run_ends_before_warns() -> None:
    # A recipe's warmup, or a step, as long as a run cut short: the rate would never decay or
    # drop. Checked in steps, which only the data decide (with iterations, say).
    warm = RECIPES["default"]  # warmup 1 epoch
    assert _warnings(replace(warm, epochs=2), 5, 10) == []
    assert _warnings(replace(warm, epochs=1), 5, 5) == [
        "warmup-epochs 1 (5 steps) is not shorter than the run (5 steps): the rate rises to "
        "its peak at the end and never decays"]
    assert len(_warnings(replace(warm, iterations=4), 5, 4)) == 1
    step = TrainConfig(schedule={"name": "step", "step_epochs": 2})
    assert _warnings(step, 5, 11) == []
    assert len(_warnings(step, 5, 10)) == 1
    assert _warnings(replace(warm, schedule={"name": "constant"}, epochs=1), 5, 5) == []


# -- the command line --

CLI_ERRORS = {  # argv, the one error line expected after "mnistnp train: error: "
    "momentum": (["--momentum", "0.9"],
                 "--momentum 0.9: only the sgd optimizer uses it; adamw ignores it"),
    "nesterov-adamw": (["--nesterov"],
                       "--nesterov: only the sgd optimizer uses it; adamw ignores it"),
    "nesterov-no-momentum": (["--recipe", "notebook", "--nesterov"],
                             "--nesterov: needs momentum > 0 (momentum 0 is plain gradient "
                             "descent)"),
    "gamma-cosine": (["--gamma", "0.5"],
                     "--gamma 0.5: only the step and plateau schedules use it; cosine "
                     "ignores it"),
    "plateau-no-validation": (["--schedule", "plateau", "--val-split", "0"],
                              "--schedule 'plateau': needs a validation split (val-split is 0), "
                              "or the rate never changes"),
    "plateau-gamma-1": (["--schedule", "plateau", "--gamma", "1"],
                        "--gamma 1: the plateau schedule needs gamma < 1, or the rate never "
                        "changes"),
    "warmup-whole-run": (["--warmup-epochs", "2"],
                         "--warmup-epochs 2: not shorter than the run (2 epochs), so the rate "
                         "would never decay"),
}


@pytest.mark.parametrize("case", list(CLI_ERRORS))
def test_ignored_options_are_usage_errors(case: str, tmp_path: Path, session_idx_dir: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    argv, message = CLI_ERRORS[case]
    run = tmp_path / "run"
    assert cli("train", "--data-dir", session_idx_dir, "--epochs", "2", *argv,
               "--run-dir", run, "--no-progress") == 2
    captured = capsys.readouterr()
    assert captured.err == f"mnistnp train: error: {message}\n" and captured.out == ""
    assert not run.exists()


def _start_line(*argv: str) -> str:
    """The optimizer part of the start line for these options."""
    args = build_parser().parse_args(["train", *argv])
    return _rate(args, config_from_args(args))


def test_the_start_line_says_whose_rate_is_used(tmp_path: Path, session_idx_dir: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    recipe = RECIPES["default"]
    sgd = OPTIMIZERS["sgd"].switch_defaults
    assert cli("train", "--data-dir", session_idx_dir, "--hidden", "8", "--epochs", "2",
               "--optimizer", "sgd", "--run-dir", tmp_path, "--no-progress") == 0
    captured = capsys.readouterr()
    start = next(line for line in captured.out.splitlines() if line.startswith("training "))
    assert (f": sgd lr {sgd['lr']:g} momentum {sgd['momentum']:g} (sgd's default lr and "
            f"momentum; the recipe's lr {recipe.optimizer.lr:g} is for {recipe.optimizer.name})"
            ) in start
    assert captured.err == ""
    assert _start_line("--optimizer", "sgd", "--lr", "0.1") == (
        f"sgd lr 0.1 momentum {sgd['momentum']:g} (sgd's default momentum)")
    assert _start_line("--optimizer", "sgd", "--lr", "0.1", "--momentum", "0.5",
                       "--nesterov") == "sgd lr 0.1 momentum 0.5 Nesterov"
    assert _start_line() == f"{recipe.optimizer.name} lr {recipe.optimizer.lr:g}"
    # A resumed run's settings are its checkpoint's: no recipe to compare with.
    resumed = build_parser().parse_args(["train", "--resume", "run/checkpoint.npz"])
    config = recipe.with_overrides(optimizer="sgd")
    assert _rate(resumed, config) == (f"sgd lr {config.optimizer.lr:g} momentum "
                                      f"{config.optimizer.momentum:g}")


def test_iterations_shorter_than_a_warmup_given_warn_in_one_line(
        tmp_path: Path, session_idx_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Only the data say how many steps an epoch is, so this is a warning, not a usage error.
    assert cli("train", "--data-dir", session_idx_dir, "--hidden", "8", "--iterations", "3",
               "--warmup-epochs", "1", "--run-dir", tmp_path, "--no-progress") == 0
    err = capsys.readouterr().err
    assert err.startswith("mnistnp: warning: warmup-epochs 1 (") and err.count("\n") == 1
    assert "never decays" in err


MISSPELT = {  # argv, the misspelt word, the option it should suggest; every command
    "train": (["train", "--hiden", "5"], "--hiden", "--hidden"),
    "train-equals": (["train", "--batch-sise=64"], "--batch-sise=64", "--batch-size"),
    "evaluate-required": (["evaluate", "--modle", "m.npz"], "--modle", "--model"),
    "predict": (["predict", "--model", "m.npz", "--modle", "x.png"], "--modle", "--model"),
    "download": (["download", "mnist", "--data-dri", "d"], "--data-dri", "--data-dir"),
}


@pytest.mark.parametrize("case", list(MISSPELT))
def test_a_misspelt_option_gets_the_commands_usage_and_a_suggestion(
        case: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv, word, meant = MISSPELT[case]
    assert cli(*argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"usage: mnistnp {argv[0]} ")
    assert err[-1] == (f"mnistnp {argv[0]}: error: unrecognized argument {word}; "
                       f"did you mean {meant}?")


def test_an_unknown_option_with_nothing_close_gets_no_suggestion(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("train", "--xyzzy") == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("usage: mnistnp train ")
    assert err[-1] == "mnistnp train: error: unrecognized argument --xyzzy"


@pytest.mark.parametrize(("word", "meant"), [("trian", "train"), ("evalute", "evaluate"),
                                             ("predcit", "predict")])
def test_a_misspelt_command_gets_a_suggestion(word: str, meant: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(word, "--epochs", "2") == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("usage: mnistnp [-h]")
    assert err[-1].startswith(f"mnistnp: error: unknown command {word!r}; did you mean "
                              f"{meant}? (choose from train, ")


@pytest.mark.parametrize("argv", [["train", "--verbose"], ["--verbose", "train"]])
def test_an_option_nothing_is_close_to_gets_no_far_fetched_suggestion(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    # --verbose is not --overwrite (nor --version): a suggestion must be a likely typo.
    assert cli(*argv) == 2
    err = capsys.readouterr().err
    assert "did you mean" not in err and "--verbose" in err


def test_an_option_before_the_command_says_what_the_top_level_takes(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("--verbose", "train") == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("usage: mnistnp [-h]")
    assert err[-1] == ("mnistnp: error: unrecognized argument --verbose (before the command, "
                       "mnistnp takes only --help and --version)")


def test_a_commands_option_before_the_command_is_told_to_go_after_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("--overwrite", "train", "--epochs", "1") == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == ("mnistnp: error: --overwrite is an option of train: put it after the "
                       "command (mnistnp train --overwrite ...)")


def test_download_usage_shows_the_dataset_as_required(
        capsys: pytest.CaptureFixture[str]) -> None:
    # The usage line and the behaviour agree: the dataset is not optional.
    assert cli("download") == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("usage: mnistnp download ")
    choices = "{fashion-mnist,kmnist,mnist}"
    assert f"[{choices}]" not in " ".join(err) and choices in err[0] + err[1]
    assert err[-1] == ("mnistnp download: error: the following arguments are required: "
                       f"{choices}")


def test_epochs_shorter_than_the_recipes_warmup_shortens_it_without_a_warning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The default recipe warms up for 1 of its 20 epochs; --epochs 1 did not choose a warmup,
    # so it gets the same share of its run (0.05 epochs) and no warning about it.
    data = write_idx_dir(tmp_path / "tiny")
    assert cli("train", "--data-dir", data, "--epochs", "1", "--hidden", "8", "--no-progress",
               "--run-dir", tmp_path / "run") == 0
    err = capsys.readouterr().err
    assert "warmup" not in err, err
    settings = json.loads((tmp_path / "run" / "settings.json").read_text())
    assert settings["config"]["schedule"]["warmup_epochs"] == pytest.approx(1 / 20)
    config = config_from_args(build_parser().parse_args(
        ["train", "--recipe", "cnn", "--epochs", "1"]))
    assert config.schedule.warmup_epochs == pytest.approx(1 / 12)
    # Epochs that leave room for the recipe's warmup keep it as it is.
    config = config_from_args(build_parser().parse_args(["train", "--epochs", "2"]))
    assert config.schedule.warmup_epochs == 1


@pytest.mark.parametrize(("argv", "warmup_epochs"), [
    (["--iterations", "20"], 1.0), (["--epochs", "10"], 0.5), (["--iterations", "100"], 50.0),
    (["--iterations", "2000"], 50.0), (["--iterations", "20", "--warmup-epochs", "5"], 5.0)])
def test_a_short_notebook_run_keeps_the_same_share_of_warmup(argv: list[str],
                                                             warmup_epochs: float) -> None:
    # The notebook warms up for 50 of its 1000 full-batch steps (one step an epoch): a run of
    # 20 gets 1, not a warning that its rate never decays; a run longer than 50 keeps the 50.
    config = config_from_args(build_parser().parse_args(
        ["train", "--recipe", "notebook", *argv]))
    assert config.schedule.warmup_epochs == pytest.approx(warmup_epochs)


def test_a_warmup_the_user_gives_is_still_checked_against_the_run(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("train", "--epochs", "1", "--warmup-epochs", "1") == 2
    assert "--warmup-epochs 1: not shorter than the run (1 epoch)" in capsys.readouterr().err
