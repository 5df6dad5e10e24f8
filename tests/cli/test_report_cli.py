"""``mnistnp report``: a run folder's report.html from its files (command, per-epoch record,
learning curve), or a model file's beside it; the numbers those files hold."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import cli

from mnistnp.model_file import load_model


def test_report_of_a_run_folder(session_idx_dir: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert cli("train", "--data-dir", session_idx_dir, "--hidden", "8", "--epochs", "3",
               "--run-dir", run, "--no-progress") == 0
    (run / "report.html").unlink()
    capsys.readouterr()
    assert cli("report", run) == 0
    assert capsys.readouterr().out == f"wrote {run / 'report.html'}\n"
    text = (run / "report.html").read_text(encoding="utf-8")
    command = json.loads((run / "settings.json").read_text())["command"]
    assert " ".join(command[:3]) in text and "--no-progress" in text
    epochs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(epochs) == 3
    for record in epochs:  # each epoch's seconds and samples/s, as the log has them
        assert f"<td class=n>{record['seconds']:,.2f}</td>" in text
        assert f"<td class=n>{record['samples_per_s']:,.0f}</td>" in text
    assert text.count('<img alt="the learning curve" src="data:image/png;base64,') == 1
    accuracy = load_model(run / "model.npz").info["metrics"]["test_accuracy"]
    assert re.search(rf"<h1>model.npz: test accuracy {100 * accuracy:.2f}%</h1>", text)


def test_report_of_a_model_file_goes_beside_it(trained_model: Path, session_idx_dir: Path,
                                               tmp_path: Path) -> None:
    model = tmp_path / "tiny.npz"
    shutil.copy(trained_model, model)
    assert cli("report", model, "--data-dir", session_idx_dir) == 0
    text = (tmp_path / "tiny-report.html").read_text(encoding="utf-8")
    assert "The command is not recorded" in text and "No per-epoch record" in text
    assert "mistakes.png: the model makes no mistakes on this data" in text


def test_report_to_a_missing_folder_is_one_line_before_any_work(
        trained_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "nowhere" / "r.html"
    assert cli("report", trained_model, "--out", out) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"mnistnp: error: {out}: folder {out.parent} does not exist"]
