"""Sweeps: the TOML file read and checked, grids and random draws, every trial a run of its own,
results.csv as trials finish, a failed trial recorded, the ranking by validation accuracy, a
resumed sweep, and the same sweep over MPI's pool."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli, write_idx_dir

from mnistnp.sweep import SweepError, load_spec


def write(folder: Path, text: str, name: str = "sweep.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_grid_is_every_combination_the_last_setting_fastest(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, 'method = "grid"\n[base]\nepochs = 2\n'
                                     '[grid]\nlr = [0.1, 0.2]\nhidden = [[8], [16, 16]]\n'))
    assert spec.trial_settings() == [
        {"epochs": 2, "lr": 0.1, "hidden": [8]}, {"epochs": 2, "lr": 0.1, "hidden": [16, 16]},
        {"epochs": 2, "lr": 0.2, "hidden": [8]}, {"epochs": 2, "lr": 0.2, "hidden": [16, 16]}]
    config = spec.config(spec.trial_settings()[1])
    assert config.value("lr") == 0.1 and config.model.layers == "dense:16,dense:16"


def test_a_random_search_draws_within_bounds_the_same_for_a_seed(tmp_path: Path) -> None:
    text = ('method = "random"\ntrials = 50\nseed = 4\n[random]\n'
            'lr = { log_uniform = [0.0001, 0.01] }\ndropout = { uniform = [0.0, 0.5] }\n'
            'batch_size = { int_uniform = [16, 32] }\noptimizer = { choice = ["sgd", "adam"] }\n')
    a = load_spec(write(tmp_path, text)).trial_settings()
    b = load_spec(write(tmp_path, text)).trial_settings()
    assert a == b and len(a) == 50
    assert all(1e-4 <= t["lr"] <= 1e-2 and 0 <= t["dropout"] <= 0.5 for t in a)
    assert {t["batch_size"] for t in a} <= set(range(16, 33)) and len({t["batch_size"]
                                                                      for t in a}) > 5
    assert {t["optimizer"] for t in a} == {"sgd", "adam"}
    other = load_spec(write(tmp_path, text.replace("seed = 4", "seed = 5"))).trial_settings()
    assert other != a


@pytest.mark.parametrize(("text", "said"), [
    ("[grid]\nlrr = [0.1]\n", "unknown [grid] setting 'lrr'; did you mean lr?"),
    ("methd = 'grid'\n", "unknown key 'methd'; did you mean method?"),
    ("method = 'bayes'\n", "method 'bayes': must be one of grid, random"),
    ("[grid]\nlr = 0.1\n", "[grid] lr: give a list of values"),
    ("method = 'random'\ntrials = 3\n[random]\nlr = [0.1]\n", "[random] lr: give one draw"),
    ("method = 'random'\n[random]\nlr = { uniform = [0.1, 0.2] }\n", "trials >= 1"),
    ("method = 'random'\ntrials = 2\n[random]\nlr = { log_uniform = [0, 1] }\n", "bounds > 0"),
    ("[grid]\nlr = [0.1, -1.0]\n", "trial 1 (lr=-1): lr"),
    ("[base]\nval_split = 0\n[grid]\nlr = [0.1]\n", "needs a validation split"),
    ("[grid]\n", "[grid] is empty"),
    ("lr = [", "not a TOML file"),
])
def test_a_bad_sweep_file_is_one_line_naming_the_file(tmp_path: Path, text: str,
                                                      said: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SweepError) as e:
        load_spec(path)
    assert str(e.value).startswith(f"{path}: ") and said in str(e.value)
    assert "\n" not in str(e.value)


SWEEP = """
method = "grid"
[base]
epochs = 1
batch_size = 100
data_dir = "{data}"
[grid]
layers = ["dense:8", "conv:4:40", "dense:16"]  # a kernel wider than the image: it fails
"""


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_a_sweep_runs_every_trial_records_a_failure_ranks_and_resumes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_idx_dir(tmp_path / "data")
    path = write(tmp_path, SWEEP.format(data=data))
    out = tmp_path / "out"
    assert cli("sweep", path, "--out", out, "--workers", "2", "--no-progress") == 0
    said = capsys.readouterr().out
    results = rows(out / "results.csv")
    assert sorted(r["trial"] for r in results) == ["0", "1", "2"]
    by_trial = {r["trial"]: r for r in results}
    assert by_trial["1"]["status"] == "failed" and by_trial["1"]["val_accuracy"] == ""
    assert "ShapeError" in by_trial["1"]["error"]
    for k in ("0", "2"):
        assert by_trial[k]["status"] == "ok" and 0 <= float(by_trial[k]["val_accuracy"]) <= 1
        assert (out / f"trial-00{k}" / "model.npz").is_file()
    best = max(("0", "2"), key=lambda k: (float(by_trial[k]["val_accuracy"]), -int(k)))
    assert json.loads((out / "best.json").read_text())["trial"] == int(best)
    assert f"best: trial {best} " in said and "1 failed" in said

    # Run again: nothing left to do; a row taken out is run again, and only it.
    assert cli("sweep", path, "--out", out, "--no-progress") == 0
    assert "3 done before" in capsys.readouterr().out and len(rows(out / "results.csv")) == 3
    kept = [r for r in results if r["trial"] != "2"]
    with open(out / "results.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, list(results[0]))
        writer.writeheader()
        writer.writerows(kept)
    assert cli("sweep", path, "--out", out, "--no-progress") == 0
    said = capsys.readouterr().out
    assert "2 done before" in said and "trial 2 (layers=dense:16)" in said
    assert "trial 0 (" not in said.split("done before")[1].split("results:")[0]
    assert sorted(r["trial"] for r in rows(out / "results.csv")) == ["0", "1", "2"]


def test_a_folder_holding_another_sweep_is_refused(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    data = write_idx_dir(tmp_path / "data")
    out = tmp_path / "out"
    path = write(tmp_path, SWEEP.format(data=data).replace('"conv:4:40", ', ""))
    assert cli("sweep", path, "--out", out, "--no-progress") == 0
    other = write(tmp_path, SWEEP.format(data=data).replace("epochs = 1", "epochs = 2"), "b.toml")
    assert cli("sweep", other, "--out", out, "--no-progress") == 1
    assert "holds a sweep of other settings" in capsys.readouterr().err


@pytest.mark.mpi
def test_a_sweep_over_mpis_pool(tmp_path: Path) -> None:
    mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent))
    pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install 'mnistnp[mpi]')")
    if mpiexec is None:
        pytest.skip("no mpiexec beside this Python (pip install 'mnistnp[mpi]')")
    data = write_idx_dir(tmp_path / "data")
    path = write(tmp_path, SWEEP.format(data=data))
    done = subprocess.run([mpiexec, "-n", "3", sys.executable, "-m", "mpi4py.futures", "-m",
                           "mnistnp", "sweep", str(path), "--out", str(tmp_path / "out"),
                           "--no-progress"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "2 at once" in done.stdout
    results = rows(tmp_path / "out" / "results.csv")
    assert sorted((r["trial"], r["status"]) for r in results) == [
        ("0", "ok"), ("1", "failed"), ("2", "ok")]
