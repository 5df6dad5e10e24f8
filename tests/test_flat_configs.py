"""Settings files, model files and checkpoints written while TrainConfig held every
optimizer's and schedule's setting flat (tests/data/flat_*, see its README): they load,
evaluate and resume, and give the numbers the code that wrote them gave."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import cli, tiny_arrays, write_idx_dir

from mnistnp import TrainConfig, load_model
from mnistnp.checkpoint import extend, load_checkpoint
from mnistnp.pipeline import train

DATA = Path(__file__).parent / "data"
EXPECTED = dict(np.load(DATA / "flat_expected.npz"))


def tiny_data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    a = tiny_arrays(0)
    return ((a["train_images"], a["train_labels"].astype(np.int64)),
            (a["test_images"], a["test_labels"].astype(np.int64)))


def assert_same_arithmetic(actual: np.ndarray, expected: np.ndarray) -> None:
    """The old code's numbers, up to the order of floating-point sums (see
    test_model_file_v2's twin: another CPU sums matrix products in another order)."""
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


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
