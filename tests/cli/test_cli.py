"""The ``mnistnp`` command end to end on tiny generated IDX data: train, evaluate and predict,
the files each writes (and does not), usage errors (exit 2) and bad input (exit 1, one line)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from conftest import MakeIdxDir, cli, tiny_arrays
from PIL import Image
from reference import argmax_accuracy, argmax_predictions, forward, npz_weights

from mnistnp import TrainConfig
from mnistnp.cli import build_parser
from mnistnp.cli.train import config_from_args
from mnistnp.images import load_digit
from mnistnp.model_file import load_model, save_model
from mnistnp.nn import mlp

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FAST = ("--hidden", "16", "--epochs", "3", "--no-progress")
RUN_DIR_FILES = {"settings.json", "learning_curve.png", "metrics.jsonl", "confusion_matrix.png",
                 "mistakes.png", "first_layer.png", "reliability.png", "report.html"}



def train(data_dir: Path, *argv: object) -> int:
    return cli("train", "--data-dir", data_dir, *FAST, *argv)


def one_error_line(stderr: str, prefix: str = "mnistnp: error:") -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(prefix), stderr
    assert "Traceback" not in stderr
    return lines[0]


def listing(folder: Path) -> set[str]:
    return set(os.listdir(folder))


def run_subprocess(*argv: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mnistnp.cli", *map(str, argv)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


# --- train ----------------------------------------------------------------------------------------

def test_train_writes_the_model_and_the_run_files(tmp_path: Path, session_idx_dir: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    models, run_dir = tmp_path / "models", tmp_path / "run"
    models.mkdir()
    out = models / "m.npz"
    assert train(session_idx_dir, "--out", out, "--run-dir", run_dir) == 0
    stdout = capsys.readouterr().out
    for epoch in (1, 2, 3):
        assert re.search(rf"^epoch {epoch}/3: loss \d+\.\d{{4}}", stdout, re.M), stdout
    train_acc = re.search(r"^train accuracy: (\d+\.\d\d)%$", stdout, re.M)
    test_acc = re.search(r"^test accuracy: (\d+\.\d\d)%$", stdout, re.M)
    assert train_acc and test_acc, stdout

    assert listing(models) == {"m.npz"}  # exactly the path given, nothing beside it
    assert listing(run_dir) == RUN_DIR_FILES  # the model is not copied into the run folder
    assert (run_dir / "learning_curve.png").read_bytes().startswith(PNG_MAGIC)
    settings = json.loads((run_dir / "settings.json").read_text())
    config = settings["config"]
    assert config["model"] == {"layers": "dense:16"} and config["epochs"] == 3
    assert config["data_dir"] == str(session_idx_dir)
    assert config["seed"] == 0 and settings["recipe"] == "default"

    model = load_model(out)
    assert (model.input_size, model.num_classes) == (784, 10)
    assert model.info["config"] == config
    # The printed accuracies are the saved weights' on the arrays the files were made from
    # (the last twelfth of the training set is held out for validation).
    weights, arrays = npz_weights(out), tiny_arrays()
    expected_test = argmax_accuracy(weights, arrays["test_images"], arrays["test_labels"])
    expected_train = argmax_accuracy(weights, arrays["train_images"][:550],
                                     arrays["train_labels"][:550])
    assert float(test_acc.group(1)) == pytest.approx(100 * expected_test, abs=0.006)
    assert float(train_acc.group(1)) == pytest.approx(100 * expected_train, abs=0.006)


def test_without_out_the_model_goes_to_the_run_dir(tmp_path: Path, session_idx_dir: Path) -> None:
    run_dir = tmp_path / "run"
    assert train(session_idx_dir, "--run-dir", run_dir) == 0
    assert listing(run_dir) == RUN_DIR_FILES | {"model.npz"}
    load_model(run_dir / "model.npz")
    assert listing(tmp_path) == {"run"}


def test_without_run_dir_a_timestamped_folder_is_made(tmp_path: Path, session_idx_dir: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert train(session_idx_dir) == 0
    assert listing(tmp_path) == {"runs"}
    (stamp,) = os.listdir(tmp_path / "runs")
    assert re.fullmatch(r"\d{8}-\d{6}(-\d+)?", stamp)
    assert listing(tmp_path / "runs" / stamp) == RUN_DIR_FILES | {"model.npz"}
    # A second run in the same second gets its own folder rather than overwriting the first.
    assert train(session_idx_dir) == 0
    assert len(os.listdir(tmp_path / "runs")) == 2


def test_plot_goes_where_it_is_told(tmp_path: Path, session_idx_dir: Path) -> None:
    run_dir, pictures = tmp_path / "run", tmp_path / "pictures"
    pictures.mkdir()
    plot = pictures / "curve.png"
    assert train(session_idx_dir, "--run-dir", run_dir, "--plot", plot) == 0
    assert plot.read_bytes().startswith(PNG_MAGIC)
    assert listing(pictures) == {"curve.png"}
    assert "learning_curve.png" not in listing(run_dir)


def test_notebook_recipe_full_batch_float64(tmp_path: Path, session_idx_dir: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.npz"
    status = cli("train", "--data-dir", session_idx_dir, "--recipe", "notebook",
                 "--iterations", "5", "--log-every", "1", "--out", out,
                 "--run-dir", tmp_path / "run", "--no-progress")
    assert status == 0
    stdout = capsys.readouterr().out
    costs = re.findall(r"^iteration (\d+): cost (\d+\.\d+)$", stdout, re.M)
    assert [int(i) for i, _ in costs] == [1, 2, 3, 4, 5], stdout
    assert float(costs[-1][1]) < float(costs[0][1])  # full-batch descent at lr 0.5 goes down
    model = load_model(out)
    assert model.params.dtype == np.float64
    config = model.info["config"]
    assert config["batch_size"] is None and config["optimizer"]["name"] == "sgd"
    assert config["model"] == {"layers": "dense:50,dense:50,dense:50"}


def test_batch_size_full(tmp_path: Path, session_idx_dir: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    assert train(session_idx_dir, "--batch-size", "full", "--run-dir", run_dir) == 0
    assert "(3 iterations, 3 epochs" in capsys.readouterr().out  # one step per epoch
    settings = json.loads((run_dir / "settings.json").read_text())
    assert settings["config"]["batch_size"] is None


def test_same_seed_same_weights(tmp_path: Path, session_idx_dir: Path) -> None:
    paths = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        paths[name] = tmp_path / f"{name}.npz"
        assert train(session_idx_dir, "--seed", seed, "--out", paths[name],
                     "--run-dir", tmp_path / f"run-{name}") == 0
    a, b, c = (load_model(paths[name]) for name in "abc")
    assert a.params.tobytes() == b.params.tobytes()
    assert not np.array_equal(a.params, c.params)  # and the seed does matter


def test_settings_record_the_command_given(tmp_path: Path, session_idx_dir: Path) -> None:
    argv = ["train", "--data-dir", str(session_idx_dir), *FAST, "--run-dir", str(tmp_path)]
    # main(argv) called from Python records argv, not the host process's sys.argv.
    assert cli(*argv) == 0
    command = json.loads((tmp_path / "settings.json").read_text())["command"]
    assert command[1:] == argv


TRAINING_OPTIONS = {  # each option, the config field it sets and the value expected there
    "sgd-nesterov": (["--optimizer", "sgd", "--momentum", "0.9", "--nesterov", "--lr", "0.05"],
                     {"optimizer": "sgd", "momentum": 0.9, "nesterov": True, "lr": 0.05}),
    "adam-step": (["--optimizer", "adam", "--weight-decay", "0", "--schedule", "step",
                   "--step-epochs", "1", "--gamma", "0.5"],
                  {"optimizer": "adam", "weight_decay": 0.0, "schedule": "step",
                   "step_epochs": 1, "gamma": 0.5}),
    "adamw-cosine": (["--optimizer", "adamw", "--weight-decay", "0.01", "--schedule", "cosine",
                      "--warmup-epochs", "1", "--dropout", "0.2", "--clip-norm", "1"],
                     {"optimizer": "adamw", "weight_decay": 0.01, "warmup_epochs": 1.0,
                      "model": {"layers": "dense:16,dropout:0.2"}, "clip_norm": 1.0}),
    "plateau-patience": (["--schedule", "plateau", "--plateau-patience", "0", "--patience", "1",
                          "--val-split", "0.25"],
                         {"schedule": "plateau", "plateau_patience": 0, "patience": 1,
                          "val_split": 0.25}),
}


@pytest.mark.parametrize("case", list(TRAINING_OPTIONS))
def test_training_options_reach_the_run(case: str, tmp_path: Path, session_idx_dir: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    argv, fields = TRAINING_OPTIONS[case]
    assert train(session_idx_dir, "--run-dir", tmp_path, *argv) == 0
    config = json.loads((tmp_path / "settings.json").read_text())["config"]
    loaded = TrainConfig.from_dict(config)  # the settings by the options' names
    assert {k: config[k] if k == "model" else loaded.value(k) for k in fields} == fields
    stdout = capsys.readouterr().out
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    epochs = re.findall(r"^epoch (\d+)/3: .*, lr ([^,]+),", stdout, re.M)
    assert [int(e) for e, _ in epochs] == [r["epoch"] for r in records]
    assert [float(lr) for _, lr in epochs] == pytest.approx([r["lr"] for r in records],
                                                           rel=1e-2)
    if case == "adam-step":  # one drop by half per epoch
        assert [r["lr"] for r in records] == pytest.approx([config["optimizer"]["lr"] * 2 ** -k
                                                            for k in range(len(records))])
    if case == "plateau-patience":  # 150 of the 600 rows held out
        assert "validation accuracy:" in stdout
        assert all(r["val_loss"] is not None for r in records)
    assert re.search(r"^test accuracy: \d+\.\d\d%$", stdout, re.M)


@pytest.mark.parametrize(("argv", "weight_decay"), [
    ([], 0.1),  # the default recipe's own adamw decay
    (["--optimizer", "adamw"], 0.1),  # the recipe's optimizer, named: its decay stays
    (["--optimizer", "adam"], 0.0),  # another optimizer: the recipe's decay would mean L2
    (["--optimizer", "sgd", "--momentum", "0.9"], 0.0),
    (["--optimizer", "adam", "--weight-decay", "1e-4"], 1e-4),  # unless given
    (["--recipe", "notebook", "--optimizer", "adamw"], 0.0),
])
def test_another_optimizer_does_not_inherit_the_recipes_weight_decay(
        argv: list[str], weight_decay: float) -> None:
    args = build_parser().parse_args(["train", *argv])
    assert config_from_args(args).optimizer.weight_decay == weight_decay


def test_val_split_0_trains_on_everything(tmp_path: Path, session_idx_dir: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert train(session_idx_dir, "--run-dir", tmp_path, "--val-split", "0") == 0
    stdout = capsys.readouterr().out
    assert "validation accuracy" not in stdout and "val_loss" not in stdout
    model = load_model(tmp_path / "model.npz")
    assert model.info["metrics"]["val_accuracy"] is None


def test_metrics_option_writes_the_log_where_told(tmp_path: Path, session_idx_dir: Path) -> None:
    path = tmp_path / "logs" / "m.jsonl"
    path.parent.mkdir()
    assert train(session_idx_dir, "--run-dir", tmp_path / "run", "--metrics", path) == 0
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3]
    assert set(records[0]) == {"epoch", "loss", "val_loss", "val_accuracy", "lr", "seconds",
                               "samples_per_s"}
    assert "metrics.jsonl" not in listing(tmp_path / "run")


def test_repeats_report_mean_and_std_of_the_seeds(tmp_path: Path, session_idx_dir: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "best.npz"
    assert train(session_idx_dir, "--run-dir", tmp_path / "run", "--repeats", "3", "--seed",
                 "4", "--out", out) == 0
    stdout = capsys.readouterr().out
    per_seed = [float(t) for t in re.findall(r"^test accuracy: (\d+\.\d\d)%$", stdout, re.M)]
    assert len(per_seed) == 3
    summary = re.search(r"^test accuracy over 3 seeds: (\d+\.\d\d) ± (\d+\.\d\d)% "
                        r"\(mean ± std; ([\d., ]+)\)$", stdout, re.M)
    assert summary, stdout
    assert [float(t) for t in summary.group(3).split(", ")] == per_seed
    assert float(summary.group(1)) == pytest.approx(np.mean(per_seed), abs=0.006)
    assert float(summary.group(2)) == pytest.approx(np.std(per_seed, ddof=1), abs=0.006)
    run = tmp_path / "run"
    assert {"seed-4", "seed-5", "seed-6", "summary.json", "settings.json"} <= listing(run)
    summary_json = json.loads((run / "summary.json").read_text())
    assert summary_json["seeds"] == [4, 5, 6]
    seeds = [load_model(run / f"seed-{s}" / "model.npz") for s in (4, 5, 6)]
    assert not np.array_equal(seeds[0].params, seeds[1].params)
    # --out gets the seed with the best validation accuracy, chosen without the test set
    vals = summary_json["val_accuracy"]
    best = int(np.argmax(vals))
    np.testing.assert_array_equal(load_model(out).params, seeds[best].params)


def test_train_in_a_subprocess(tmp_path: Path, session_idx_dir: Path) -> None:
    done = run_subprocess("train", "--data-dir", session_idx_dir, *FAST, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert re.search(r"^test accuracy: \d+\.\d\d%$", done.stdout, re.M), done.stdout
    (stamp,) = os.listdir(tmp_path / "runs")
    settings = json.loads((tmp_path / "runs" / stamp / "settings.json").read_text())
    assert settings["command"][1:] == ["train", "--data-dir", str(session_idx_dir), *FAST]


# --- evaluate -------------------------------------------------------------------------------------

def cycled_model(source: Path, target: Path) -> Path:
    """A copy of a model file whose outputs for classes 1, 2, 3 are cycled, written with NumPy
    alone: what it called 1 it now calls 2, 2 becomes 3, 3 becomes 1. A model that is wrong
    in a known, lopsided way shows a swapped row and column or a per-class slip."""
    perm = np.array([0, 3, 1, 2, 4, 5, 6, 7, 8, 9])  # new output k is old output perm[k]
    with np.load(source, allow_pickle=False) as f:
        arrays = {name: f[name] for name in f.files}
    last = max(int(name.split(".")[1]) for name in arrays if name.endswith(".W"))
    arrays[f"layers.{last}.W"] = arrays[f"layers.{last}.W"][:, perm]
    arrays[f"layers.{last}.b"] = arrays[f"layers.{last}.b"][perm]
    np.savez(target, **arrays)
    return target


def test_evaluate(trained_model: Path, session_idx_dir: Path, tmp_path: Path,
                  capsys: pytest.CaptureFixture[str]) -> None:
    model = cycled_model(trained_model, tmp_path / "cycled.npz")
    assert cli("evaluate", "--model", model, "--data-dir", session_idx_dir) == 0
    lines = capsys.readouterr().out.splitlines()
    first = re.fullmatch(r"accuracy: (\d{1,3}\.\d\d)%", lines[0])
    assert first, lines[0]

    # The answer, from the weights and the arrays the test files were written from.
    arrays = tiny_arrays()
    y_test = arrays["test_labels"].astype(np.int64)
    predicted = argmax_predictions(npz_weights(model), arrays["test_images"])
    expected_cm = np.zeros((10, 10), np.int64)
    for true, guess in zip(y_test, predicted):
        expected_cm[true, guess] += 1
    expected = 100 * np.mean(predicted == y_test)
    assert float(first.group(1)) == pytest.approx(expected, abs=0.006)
    assert 50 <= expected < 100  # often right, and wrong in the cycled classes
    assert expected_cm[1, 2] and expected_cm[2, 3] and expected_cm[3, 1]

    per_class = [re.fullmatch(r"\s+(\d): +(\d+\.\d\d)% of (\d+)", line) for line in lines]
    found = [m for m in per_class if m]
    assert [int(m.group(1)) for m in found] == list(range(10))
    assert [int(m.group(3)) for m in found] == np.bincount(y_test, minlength=10).tolist()
    recall = 100 * np.diag(expected_cm) / expected_cm.sum(axis=1)
    assert [float(m.group(2)) for m in found] == pytest.approx(recall, abs=0.006)

    start = next(i for i, line in enumerate(lines) if line.startswith("confusion matrix"))
    assert lines[start + 1].split() == [str(c) for c in range(10)]
    rows = [[int(v) for v in line.split()] for line in lines[start + 2:start + 12]]
    assert [row[0] for row in rows] == list(range(10))
    cm = np.array([row[1:] for row in rows])
    np.testing.assert_array_equal(cm, expected_cm)  # row: true class, column: predicted


def test_evaluate_names_the_data_it_scored(trained_model: Path, session_idx_dir: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    # The first line stays 'accuracy: NN.NN%' alone (scripts read it); the next says on what.
    assert cli("evaluate", "--model", trained_model, "--data-dir", session_idx_dir) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"accuracy: \d{1,3}\.\d\d%", lines[0])
    assert lines[1] == f"on the test split in {session_idx_dir}: 200 images"


def test_evaluate_names_a_registered_dataset_and_its_split(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "untrained.npz"
    save_model(path, mlp([784, 4, 10], np.random.default_rng(0)),
               {"dataset": "mnist", "image_shape": [28, 28]})
    assert cli("evaluate", "--model", path) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "on mnist's test split: 10,000 images"


def test_evaluate_in_a_subprocess(tmp_path: Path, trained_model: Path,
                                  session_idx_dir: Path) -> None:
    done = run_subprocess("evaluate", "--model", trained_model, "--data-dir", session_idx_dir,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"accuracy: \d{1,3}\.\d\d%", done.stdout.splitlines()[0])
    assert listing(tmp_path) == set()


def test_evaluate_refuses_images_of_another_size(trained_model: Path, make_idx_dir: MakeIdxDir,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    small = {key: np.ascontiguousarray(a[:, :14, :14]) for key, a in tiny_arrays().items()
             if key.endswith("images")}
    folder = make_idx_dir("small", **small)
    assert cli("evaluate", "--model", trained_model, "--data-dir", folder) == 1
    line = one_error_line(capsys.readouterr().err)
    assert str(trained_model) in line and "784" in line and "14x14" in line


# --- predict --------------------------------------------------------------------------------------

@pytest.fixture
def digit_pngs(tmp_path: Path) -> list[Path]:
    images = tiny_arrays()["test_images"][:3]
    paths = []
    for i, image in enumerate(images):
        path = tmp_path / f"digit {i}.png"  # a space: the path is printed as given
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths


def expected_prediction(model_path: Path, image: Path) -> tuple[int, str]:
    """The class and probability from the file's weights by a forward pass and softmax written
    in the test, on the 28x28 digit the images module prepares (tested in test_images)."""
    logits = forward(npz_weights(model_path), load_digit(image)[None])[0]
    p = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    return int(np.argmax(p)), f"{p.max():.2f}"


def test_predict(trained_model: Path, digit_pngs: list[Path],
                 capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("predict", "--model", trained_model, *digit_pngs) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == len(digit_pngs) and captured.err == ""
    for line, path in zip(lines, digit_pngs):
        match = re.fullmatch(rf"{re.escape(str(path))}: (\d) \(p=([01]\.\d\d)\)", line)
        assert match, line
        assert (int(match.group(1)), match.group(2)) == expected_prediction(trained_model, path)


@pytest.mark.parametrize("kind", ["missing", "not-an-image", "directory"])
def test_predict_reports_a_bad_image_and_goes_on(trained_model: Path, digit_pngs: list[Path],
                                                 tmp_path: Path, kind: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / f"{kind}.png"
    if kind == "not-an-image":
        bad.write_text("hello")
    elif kind == "directory":
        bad.mkdir()
    first, second = digit_pngs[:2]
    assert cli("predict", "--model", trained_model, first, bad, second) == 1
    captured = capsys.readouterr()
    assert str(bad) in one_error_line(captured.err)
    lines = captured.out.splitlines()
    assert [line.split(": ")[0] for line in lines] == [str(first), str(second)]


# --- usage errors: exit 2, the option named, nothing written ------------------------------------

USAGE_ERRORS = {
    "hidden-0": (["--hidden", "0"], "--hidden"),
    "hidden-empty-width": (["--hidden", "5,,5"], "--hidden"),
    "hidden-word": (["--hidden", "wide"], "--hidden"),
    "epochs-negative": (["--epochs", "-1"], "--epochs"),
    "epochs-0": (["--epochs", "0"], "--epochs"),
    "epochs-fraction": (["--epochs", "1.5"], "--epochs"),
    "iterations-0": (["--iterations", "0"], "--iterations"),
    "lr-nan": (["--lr", "nan"], "--lr"),
    "lr-0": (["--lr", "0"], "--lr"),
    "lr-inf": (["--lr", "inf"], "--lr"),
    "lr-negative": (["--lr", "-0.1"], "--lr"),
    "batch-size-0": (["--batch-size", "0"], "--batch-size"),
    "batch-size-word": (["--batch-size", "half"], "--batch-size"),
    "seed-negative": (["--seed", "-3"], "--seed"),
    "unknown-recipe": (["--recipe", "magic"], "--recipe"),
    "unknown-dataset": (["--dataset", "cifar"], "--dataset"),
    "nesterov-without-sgd": (["--nesterov"], "--nesterov"),
    "repeats-with-plot": (["--repeats", "2", "--plot", "p.png"], "--plot"),
    "repeats-with-metrics": (["--repeats", "2", "--metrics", "m.jsonl"], "--metrics"),
    "repeats-0": (["--repeats", "0"], "--repeats"),
    "unknown-optimizer": (["--optimizer", "rmsprop"], "--optimizer"),
    "unknown-schedule": (["--schedule", "linear"], "--schedule"),
    "momentum-1": (["--momentum", "1"], "--momentum"),
    "weight-decay-negative": (["--weight-decay", "-1"], "--weight-decay"),
    "gamma-0": (["--gamma", "0"], "--gamma"),
    "warmup-negative": (["--warmup-epochs", "-1"], "--warmup-epochs"),
    "step-epochs-0": (["--step-epochs", "0"], "--step-epochs"),
    "dropout-1": (["--dropout", "1"], "--dropout"),
    "dropout-negative": (["--dropout", "-0.1"], "--dropout"),
    "clip-norm-0": (["--clip-norm", "0"], "--clip-norm"),
    "clip-norm-nan": (["--clip-norm", "nan"], "--clip-norm"),
    "val-split-negative": (["--val-split", "-1"], "--val-split"),
    "val-split-fraction-over-1": (["--val-split", "1.5"], "--val-split"),
    "val-split-word": (["--val-split", "tenth"], "--val-split"),
    "patience-0": (["--patience", "0"], "--patience"),
    "patience-without-validation": (["--patience", "2", "--val-split", "0"], "--patience"),
    "unknown-option": (["--hiden", "16"], "--hiden"),
}


@pytest.mark.parametrize("case", list(USAGE_ERRORS))
def test_train_usage_errors(case: str, tmp_path: Path, session_idx_dir: Path,
                            monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    argv, option = USAGE_ERRORS[case]
    monkeypatch.chdir(tmp_path)
    data = [] if "--dataset" in argv else ["--data-dir", session_idx_dir]
    status = cli("train", *data, "--epochs", "1", "--out", "m.npz", *argv, "--no-progress")
    assert status == 2
    captured = capsys.readouterr()
    assert option in captured.err and "error" in captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    assert listing(tmp_path) == set()  # no model, no runs/


@pytest.mark.parametrize("argv", [[], ["fly"], ["evaluate"], ["predict", "--model", "m.npz"]],
                         ids=["no-command", "unknown-command", "no-model", "no-images"])
def test_other_usage_errors(argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli(*argv) == 2
    assert "error" in capsys.readouterr().err
    assert listing(tmp_path) == set()


HELP_MENTIONS = {
    (): ["train", "evaluate", "predict", "--version"],
    ("train",): ["--recipe", "--hidden", "--epochs", "--iterations", "--batch-size", "--lr",
                 "--seed", "--dataset", "--data-dir", "--out", "--plot", "--run-dir",
                 "--dtype", "--optimizer", "--log-every", "--no-progress", "--metrics",
                 "--repeats", "--val-split", "--patience", "--dropout", "notebook",
                 "--momentum", "--nesterov", "--weight-decay", "--schedule", "--warmup-epochs",
                 "--clip-norm", "adamw", "plateau"],
    ("evaluate",): ["--model", "--dataset", "--data-dir", "accuracy: NN.NN%"],
    ("predict",): ["--model", "IMAGE", "p=0.97"],
}


@pytest.mark.parametrize("command", list(HELP_MENTIONS), ids=lambda c: " ".join(c) or "main")
def test_help(command: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(*command, "--help") == 0
    stdout = capsys.readouterr().out
    assert stdout.startswith("usage: mnistnp")
    for word in HELP_MENTIONS[command]:
        assert word in stdout, word


def test_console_script_version(tmp_path: Path) -> None:
    script = Path(sysconfig.get_path("scripts")) / "mnistnp"
    if not script.exists():
        pytest.skip(f"no console script at {script}")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert done.returncode == 0 and re.fullmatch(r"mnistnp \d+\.\d+\.\d+\S*\n", done.stdout)


# --- bad input: exit 1, one line, nothing written -------------------------------------------------

def test_dataset_error_in_a_subprocess(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run_subprocess("train", "--data-dir", empty, *FAST, cwd=tmp_path)
    assert done.returncode == 1
    line = one_error_line(done.stderr)
    assert str(empty) in line
    assert done.stdout == ""
    assert listing(tmp_path) == {"empty"} and listing(empty) == set()  # no runs/


def test_dataset_error_writes_nothing(tmp_path: Path, make_idx_dir: MakeIdxDir,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_idx_dir("data", train_labels=None)
    monkeypatch.chdir(tmp_path)
    assert train(folder, "--out", "m.npz", "--run-dir", "run") == 1
    line = one_error_line(capsys.readouterr().err)
    assert "train-labels-idx1-ubyte" in line
    assert listing(tmp_path) == {"data"}


@pytest.mark.parametrize("option", ["--out", "--plot", "--metrics"])
@pytest.mark.parametrize("where", ["missing-folder", "a-directory"])
def test_unwritable_output_fails_before_training(option: str, where: str, tmp_path: Path,
                                                 session_idx_dir: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    if where == "a-directory":
        target = tmp_path / "taken"
        target.mkdir()
    else:
        target = tmp_path / "no" / "such" / "file.out"
    assert train(session_idx_dir, option, target) == 1
    captured = capsys.readouterr()
    line = one_error_line(captured.err)
    assert option in line and str(target) in line
    assert captured.out == ""  # refused before training started
    assert listing(tmp_path) == ({"taken"} if where == "a-directory" else set())


@pytest.mark.parametrize("command", ["evaluate", "predict"])
@pytest.mark.parametrize("kind", ["corrupt", "truncated", "missing"])
def test_bad_model_file(command: str, kind: str, tmp_path: Path, trained_model: Path,
                        session_idx_dir: Path, digit_pngs: list[Path],
                        capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "model.npz"
    if kind == "corrupt":
        model.write_bytes(np.random.default_rng(3).bytes(2000))
    elif kind == "truncated":
        model.write_bytes(trained_model.read_bytes()[:-300])
    rest = (["--data-dir", session_idx_dir] if command == "evaluate" else digit_pngs[:1])
    assert cli(command, "--model", model, *rest) == 1
    captured = capsys.readouterr()
    assert str(model) in one_error_line(captured.err)
    assert captured.out == ""
