"""A CNN through the command line, end to end on tiny generated data: train (the issue's
example network), its files, evaluate, predict on an image, --repeats, early stopping, Ctrl-C
and --resume bit for bit, and another 28x28 dataset unchanged."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import cli, tiny_arrays, write_idx_dir
from PIL import Image

from mnistnp import load_model
from mnistnp.checkpoint import load_checkpoint
from mnistnp.config import RECIPES
from mnistnp.images import load_digit

EXAMPLE = "conv:32:5,maxpool:2,conv:64:5,maxpool:2,dense:1024,dropout:0.4"
# A small CNN with every kind of state: affine transforms, batch norm, dropout.
SMALL = "affine:10:0.1:1,conv:4:3,bn,maxpool:2,dense:16,dropout:0.1"


def test_the_issues_example_trains_and_writes_every_file(session_idx_dir: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    run = tmp_path / "run"
    assert cli("train", "--data-dir", session_idx_dir, "--layers", EXAMPLE, "--epochs", "1",
               "--seed", "1", "--run-dir", run, "--no-progress") == 0
    out = capsys.readouterr().out
    assert f"training 784-[{EXAMPLE}]-10 on tiny" in out
    assert "epoch 1/1: loss " in out
    model = load_model(run / "model.npz")
    assert [layer.kind for layer in model.layers] == [
        "Rescale", "AddChannel", "Conv2D", "MaxPool2D", "ReLU", "Conv2D", "MaxPool2D", "ReLU",
        "Flatten", "Dense", "ReLU", "Dropout", "Dense"]
    assert model.input_shape == (28, 28) and model.info["config"]["model"] == {
        "layers": EXAMPLE}
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1] and lines[0]["val_accuracy"] is not None
    assert (run / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    settings = json.loads((run / "settings.json").read_text())
    assert settings["config"]["model"] == {"layers": EXAMPLE}
    # The test accuracy printed is the saved model's on the test images.
    a = tiny_arrays()
    accuracy = np.mean(model.predict(a["test_images"]) == a["test_labels"])
    assert f"test accuracy: {100 * accuracy:.2f}%" in out


@pytest.fixture(scope="module")
def cnn_model(session_idx_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SMALL trained for 3 epochs on the tiny set: its model file."""
    run = tmp_path_factory.mktemp("cnn")
    assert cli("train", "--data-dir", session_idx_dir, "--layers", SMALL, "--epochs", "3",
               "--seed", "2", "--run-dir", run, "--no-progress") == 0
    return run / "model.npz"


def test_evaluate_scores_a_cnn_on_the_data_its_file_records(cnn_model: Path,
                                                            capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    capsys.readouterr()
    assert cli("evaluate", "--model", cnn_model) == 0
    first = capsys.readouterr().out.splitlines()[0]
    a = tiny_arrays()
    accuracy = np.mean(load_model(cnn_model).predict(a["test_images"]) == a["test_labels"])
    assert first == f"accuracy: {100 * accuracy:.2f}%"


def test_predict_reads_a_users_image_with_a_cnn(cnn_model: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A test digit drawn dark on white, as on paper, and enlarged: prepared as for an MLP,
    then the CNN's answer, with the probability it gives."""
    a = tiny_arrays()
    path = tmp_path / "digit.png"
    Image.fromarray(255 - a["test_images"][3]).resize((140, 140)).save(path)
    capsys.readouterr()
    assert cli("predict", "--model", cnn_model, "--json", path) == 0
    record = json.loads(capsys.readouterr().out)
    p = load_model(cnn_model).predict_proba(load_digit(path)[None])[0]
    assert record["prediction"] == int(np.argmax(p))
    assert record["probability"] == round(float(p.max()), 6)


def test_repeats_train_each_seed_of_a_cnn(session_idx_dir: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    run, out = tmp_path / "run", tmp_path / "best.npz"
    assert cli("train", "--data-dir", session_idx_dir, "--layers", "conv:2:3,bn,maxpool:4",
               "--epochs", "1", "--repeats", "2", "--seed", "5", "--out", out,
               "--run-dir", run, "--no-progress") == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["seeds"] == [5, 6]
    files = [load_model(run / f"seed-{s}" / "model.npz") for s in (5, 6)]
    assert not np.array_equal(files[0].params, files[1].params)
    best = int(np.argmax(summary["val_accuracy"]))
    np.testing.assert_array_equal(load_model(out).params, files[best].params)


def test_early_stopping_from_the_command_line_keeps_the_best_epochs_statistics(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The validation rows' labels shuffled, so early stopping goes back to epoch 1: the model
    file holds epoch 1's weights and batch-norm statistics, those its checkpoint of epoch 1
    holds."""
    a = tiny_arrays()
    labels = a["train_labels"].copy()
    labels[-50:] = np.random.default_rng(0).permutation(labels[-50:])
    data = write_idx_dir(tmp_path / "noisy", train_labels=labels)
    run = tmp_path / "run"
    common = ["--data-dir", data, "--layers", "conv:4:3,bn,maxpool:2,dense:16,bn",
              "--val-split", "50", "--lr", "0.01", "--schedule", "constant", "--seed", "1",
              "--no-progress"]
    assert cli("train", *common, "--epochs", "1", "--checkpoint-every", "1",
               "--run-dir", tmp_path / "first") == 0
    epoch1 = load_checkpoint(tmp_path / "first" / "checkpoint.npz")
    assert cli("train", *common, "--epochs", "6", "--patience", "2", "--run-dir", run) == 0
    assert "best epoch 1 restored" in capsys.readouterr().out
    with np.load(run / "model.npz") as saved:
        state = {k: saved[k] for k in saved.files if "running" in k}
    assert set(state) == set(epoch1.layer_state) and len(state) == 4
    for name, array in state.items():
        np.testing.assert_array_equal(array, epoch1.layer_state[name], err_msg=name)


def _weights(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as f:
        return {name: f[name] for name in f.files if name.startswith("layers.")}


# 60 epochs of 75 batches, a cost line (about 30 bytes) each: 130 kB, twice what a pipe holds,
# so a run whose output is not read blocks in a print long before its end, and the signal
# reaches it mid-run however busy the machine is.
SIGNAL_RUN = ["--layers", SMALL, "--epochs", "60", "--batch-size", "8", "--seed", "3",
              "--val-split", "0", "--log-every", "1", "--no-progress"]


def test_ctrl_c_writes_a_checkpoint_that_resumes_bit_for_bit(session_idx_dir: Path,
                                                             tmp_path: Path) -> None:
    whole = tmp_path / "whole"
    assert cli("train", "--data-dir", session_idx_dir, *SIGNAL_RUN, "--run-dir", whole) == 0
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "mnistnp.cli", "train", "--data-dir",
                             str(session_idx_dir), *SIGNAL_RUN, "--run-dir", str(run)],
                            cwd=tmp_path, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None
    for line in proc.stdout:  # training has begun, and from here nobody reads
        if line.startswith("iteration "):
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    ckpt = run / "checkpoint.npz"
    assert f"resume with: mnistnp train --resume {ckpt}" in err and "Traceback" not in err
    state = load_checkpoint(ckpt)
    assert 1 <= state.state.history.iterations < 60 * 75
    assert not (run / "model.npz").exists()
    assert cli("train", "--resume", ckpt, "--no-progress") == 0
    resumed, expected = _weights(run / "model.npz"), _weights(whole / "model.npz")
    # weights and batch-norm statistics, after affine transforms and dropout drawn alike
    assert resumed.keys() == expected.keys() and len(expected) == 10
    for name, array in expected.items():
        assert resumed[name].tobytes() == array.tobytes(), name


def test_the_same_cnn_runs_unchanged_on_another_28x28_dataset(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]
                                                              ) -> None:
    """Another IDX folder (other images, 7 classes): the same --layers, nothing else."""
    rng = np.random.default_rng(8)
    labels = (np.arange(300) % 7).astype(np.uint8)
    test_labels = (np.arange(70) % 7).astype(np.uint8)
    images = rng.integers(0, 256, (300, 28, 28), dtype=np.uint8)
    images[np.arange(300), labels * 4, :] = 255  # a bright row per class
    test = rng.integers(0, 256, (70, 28, 28), dtype=np.uint8)
    test[np.arange(70), test_labels * 4, :] = 255
    data = write_idx_dir(tmp_path / "other", train_images=images, train_labels=labels,
                         test_images=test, test_labels=test_labels)
    out = tmp_path / "m.npz"
    assert cli("train", "--data-dir", data, "--layers", SMALL, "--epochs", "3", "--out", out,
               "--run-dir", tmp_path / "run", "--no-progress") == 0
    assert "7 classes (0-6)" in capsys.readouterr().out
    model = load_model(out)
    assert model.num_classes == 7 and model.input_shape == (28, 28)
    assert cli("evaluate", "--model", out) == 0
    assert capsys.readouterr().out.startswith("accuracy: ")


def test_the_cnn_recipe_runs_unchanged_on_another_folder(session_idx_dir: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    """--recipe cnn on another IDX folder: the recipe's network, optimizer and schedule, built
    for that folder's images and classes, with nothing else given but the length."""
    out = tmp_path / "m.npz"
    assert cli("train", "--recipe", "cnn", "--data-dir", session_idx_dir, "--epochs", "2",
               "--out", out, "--run-dir", tmp_path / "run", "--no-progress") == 0
    assert "recipe cnn: sgd lr 0.05 momentum 0.9 Nesterov" in capsys.readouterr().out
    model = load_model(out)
    assert model.info["config"]["model"] == {"layers": RECIPES["cnn"].model.layers}
    assert [layer.kind for layer in model.layers].count("BatchNorm") == 3
    assert cli("evaluate", "--model", out) == 0
    assert capsys.readouterr().out.startswith("accuracy: ")


@pytest.mark.slow
def test_a_cnn_trains_on_fashion_mnist(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """The installed Fashion-MNIST, 100 steps of a small CNN: it learns (well above the 10%
    of chance) and evaluate names the classes."""
    from mnistnp import datasets

    try:
        datasets.load("fashion-mnist")
    except datasets.DatasetError:
        pytest.skip("Fashion-MNIST is not installed")
    out = tmp_path / "fashion.npz"
    assert cli("train", "--dataset", "fashion-mnist", "--layers", "conv:8:5,maxpool:2,dense:32",
               "--iterations", "100", "--out", out, "--run-dir", tmp_path / "run",
               "--no-progress") == 0
    capsys.readouterr()
    assert cli("evaluate", "--model", out) == 0
    lines = capsys.readouterr().out.splitlines()
    assert float(lines[0].removeprefix("accuracy: ").rstrip("%")) > 60
    assert any("Ankle boot" in line for line in lines)
