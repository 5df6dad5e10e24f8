"""``mnistnp info MODEL [--json]`` end to end on a model trained on tiny generated data: the
table, totals, metrics and provenance it prints agree with the model file, and a broken or
hostile file gets the same one-line refusal as ``evaluate`` gives it (exit 1)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import cli
from toy_layers import toy_layers

from mnistnp.model_file import load_model, save_model
from mnistnp.nn import Dense, Flatten, ReLU, Rescale, Sequential


def one_line(stderr: str, prefix: str = "mnistnp: error:") -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(prefix), stderr
    assert "Traceback" not in stderr
    return lines[0]


def flops_of(path: Path) -> int:
    """The model's FLOPs per sample, summed here from its layers."""
    model = load_model(path)
    return sum(layer.flops(shape) for layer, shape
               in zip(model.layers, [model.input_shape, *model.shapes]))


def test_info_prints_the_table_totals_metrics_and_provenance(
        trained_model: Path, session_idx_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("info", trained_model) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    out = captured.out
    model = load_model(trained_model)
    # the summary's table, each row with its FLOPs
    for layer, shape in zip(model.layers, [model.input_shape, *model.shapes]):
        row = next(line for line in out.splitlines() if line.startswith(repr(layer) + " "))
        assert row.split()[-2:] == [f"{layer.num_params:,}", f"{layer.flops(shape):,}"]
    assert f"total: {model.num_params:,} parameters" in out
    assert f"multiply-add counted as 2): {flops_of(trained_model):,}\n" in out
    test_accuracy = model.info["metrics"]["test_accuracy"]
    assert f"test_accuracy: {100 * test_accuracy:.2f}%" in out
    assert f"the files in {session_idx_dir}" in out
    assert "seed: 1" in out and "recipe: default" in out
    assert "    model: layers=dense:32\n" in out  # the settings, as recorded
    assert f"mnistnp version: {model.info['mnistnp']}" in out
    assert f"saved: {model.info['saved']}" in out


def test_json_holds_the_same_numbers(trained_model: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("info", trained_model, "--json") == 0
    d = json.loads(capsys.readouterr().out)
    model = load_model(trained_model)
    assert [row["name"] for row in d["layers"]] == [repr(layer) for layer in model.layers]
    assert [row["parameters"] for row in d["layers"]] == [layer.num_params
                                                          for layer in model.layers]
    assert [tuple(row["output_shape"]) for row in d["layers"]] == model.shapes
    assert d["totals"]["parameters"] == model.num_params == 784 * 32 + 32 + 32 * 10 + 10
    assert d["totals"]["flops"] == flops_of(trained_model)
    assert d["totals"]["bytes"] == model.params.nbytes
    assert d["metrics"] == model.info["metrics"]
    assert d["provenance"]["seed"] == 1
    assert d["provenance"]["settings"] == model.info["config"]
    assert d["provenance"]["checksums"] is None  # a folder of its own, never checked


def test_a_model_of_a_registered_dataset_shows_its_checksums(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = Sequential([Rescale(1 / 255), Flatten(), Dense(784, 10)], (28, 28))
    save_model(tmp_path / "m.npz", model, {"dataset": "mnist"})
    assert cli("info", tmp_path / "m.npz") == 0
    out = capsys.readouterr().out
    assert "dataset: mnist\n" in out
    assert ("train-images-idx3-ubyte  ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc"
            "25776db") in out
    assert "metrics: none recorded" in out and "recipe: not recorded" in out


def test_a_layer_kind_without_a_count_is_named_on_stderr(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with toy_layers() as toys:
        model = Sequential([Flatten(), Dense(16, 3), toys["ToyNorm"](3), ReLU(), Dense(3, 2)],
                           (4, 4))
        save_model(tmp_path / "toy.npz", model)
        assert cli("info", tmp_path / "toy.npz", "--json") == 0
        captured = capsys.readouterr()
        assert cli("info", tmp_path / "toy.npz") == 0
        text = capsys.readouterr().out
    d = json.loads(captured.out)
    assert d["totals"]["flops"] is None
    assert one_line(captured.err, "mnistnp: warning:") == (
        "mnistnp: warning: layer kind ToyNorm gives no FLOP count; the total FLOPs are unknown")
    assert "unknown (layer kind ToyNorm gives no FLOP count)" in text


# --- refusals: what evaluate says of the same file ----------------------------------------------

def _pickled(good: Path, path: Path) -> None:
    """``good`` with a weight replaced by a pickled object array."""
    with np.load(good, allow_pickle=False) as npz:
        arrays: dict[str, Any] = {name: npz[name] for name in npz.files}
    evil = np.empty(1, dtype=object)
    evil[0] = {"not": "an array"}
    arrays["layers.2.b"] = evil
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _no_metadata(good: Path, path: Path) -> None:
    with np.load(good, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files if name != "meta.json"}
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _huge_architecture(good: Path, path: Path) -> None:
    """Metadata declaring a 10^5 x 10^5 Dense: refused before anything is allocated."""
    with np.load(good, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(arrays["meta.json"].tobytes())
    meta["model"]["layers"][2]["in_features"] = 100_000
    meta["model"]["layers"][2]["out_features"] = 100_000
    arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


BROKEN = {
    "missing": lambda good, path: None,
    "empty": lambda good, path: path.write_bytes(b""),
    "corrupt": lambda good, path: path.write_bytes(np.random.default_rng(3).bytes(2000)),
    "truncated": lambda good, path: path.write_bytes(good.read_bytes()[:-300]),
    "a .npy": lambda good, path: path.write_bytes(_npy(np.zeros(3))),
    "a directory": lambda good, path: path.mkdir(),
    "pickled": _pickled,
    "no metadata": _no_metadata,
    "huge": _huge_architecture,
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_or_hostile_file_is_refused_as_evaluate_refuses_it(
        kind: str, tmp_path: Path, trained_model: Path, session_idx_dir: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "model.npz"
    BROKEN[kind](trained_model, path)
    assert cli("info", path) == 1
    captured = capsys.readouterr()
    line = one_line(captured.err)
    assert str(path) in line
    assert captured.out == ""
    assert cli("info", path, "--json") == 1
    assert capsys.readouterr().err == captured.err
    assert cli("evaluate", "--model", path, "--data-dir", session_idx_dir) == 1
    assert capsys.readouterr().err == captured.err  # the same words


def test_the_model_may_be_given_as_evaluate_takes_it(
        trained_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("info", trained_model) == 0
    plain = capsys.readouterr().out
    assert cli("info", "--model", trained_model) == 0
    assert capsys.readouterr().out == plain


@pytest.mark.parametrize("argv", [[], ["a.npz", "--model", "b.npz"]], ids=["none", "two"])
def test_one_model_is_required(argv: list[str], tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli("info", *argv) == 2
    captured = capsys.readouterr()
    assert one_line(captured.err, "mnistnp info: error:") == (
        "mnistnp info: error: give one model file: mnistnp info MODEL.npz")
    assert captured.out == ""


def test_help_says_what_it_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("info", "--help") == 0
    out = capsys.readouterr().out
    for word in ("usage: mnistnp info", "MODEL.npz", "--json", "SHA-256", "multiply-add"):
        assert word in out, word
