"""``mnistnp export MODEL --onnx OUT.onnx``: the file it writes runs in onnxruntime with the
model's answers and carries its record; every refusal (a layer kind without an ONNX piece, a
broken or hostile model file, no onnx package, an OUT that cannot be written) is one line and
exit status 1, with nothing written and an earlier OUT left as it was."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import cli, tiny_arrays
from toy_layers import toy_layers

from mnistnp.model_file import load_model, save_model
from mnistnp.nn import network

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

EARLIER = b"an earlier export, to be kept"


def one_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnistnp: error: "), stderr
    return lines[0]


def test_export_writes_a_file_onnxruntime_runs_as_mnistnp(
        trained_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tiny.onnx"
    assert cli("export", trained_model, "--onnx", out) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{out}: ONNX opset 17, input images uint8 (N, 28, 28), outputs probabilities and "
        "logits float32 (N, 10)"]
    x = tiny_arrays()["test_images"]
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    probabilities, _ = session.run(None, {"images": x})
    model = load_model(trained_model)
    expected = model.predict_proba(x)
    assert np.array_equal(probabilities.argmax(1), expected.argmax(1))
    assert np.abs(probabilities - expected).max() <= 1e-5
    props = session.get_modelmeta().custom_metadata_map
    assert float(props["test_accuracy"]) == model.info.metrics["test_accuracy"]


def test_the_training_only_layers_left_out_are_named(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model_path = tmp_path / "m.npz"
    rng = np.random.default_rng(0)
    save_model(model_path, network("shift:2,dense:8,dropout:0.5", (28, 28), 10, rng=rng))
    assert cli("export", model_path, "--onnx", tmp_path / "m.onnx") == 0
    assert capsys.readouterr().out.splitlines()[1] == \
        "left out (training only): layer 0 (RandomShift), layer 5 (Dropout)"


def test_a_layer_kind_without_a_piece_is_refused_by_name(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model_path, out = tmp_path / "toy.npz", tmp_path / "toy.onnx"
    out.write_bytes(EARLIER)
    with toy_layers():
        save_model(model_path, network("dense:8,toynorm", (28, 28), 10,
                                       rng=np.random.default_rng(0)))
        assert cli("export", model_path, "--onnx", out) == 1
    line = one_error(capsys.readouterr().err)
    assert re.match(rf"mnistnp: error: {re.escape(str(model_path))}: layer 4: layer kind "
                    r"ToyNorm has no ONNX export \(kinds that have one: ", line), line
    assert out.read_bytes() == EARLIER
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.npz", "toy.onnx"]


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04 truncated"])
def test_a_broken_model_file_is_one_line(tmp_path: Path, content: bytes,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    model_path, out = tmp_path / "broken.npz", tmp_path / "out.onnx"
    model_path.write_bytes(content)
    out.write_bytes(EARLIER)
    assert cli("export", model_path, "--onnx", out) == 1
    assert str(model_path) in one_error(capsys.readouterr().err)
    assert out.read_bytes() == EARLIER


def test_a_model_file_holding_a_pickle_is_refused(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    model_path = tmp_path / "hostile.npz"
    np.savez(model_path, **{"meta.json": np.array([{"format_version": 3}], dtype=object)})
    assert cli("export", model_path, "--onnx", tmp_path / "out.onnx") == 1
    assert str(model_path) in one_error(capsys.readouterr().err)
    assert not (tmp_path / "out.onnx").exists()


def test_without_onnx_it_says_what_to_install(trained_model: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    assert cli("export", trained_model, "--onnx", tmp_path / "m.onnx") == 1
    assert "pip install 'mnistnp[onnx]'" in one_error(capsys.readouterr().err)
    assert not list(tmp_path.iterdir())


def test_a_failure_while_exporting_keeps_the_earlier_file(
        trained_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise onnx.checker.ValidationError("Field 'type' of 'value_info' is required")

    monkeypatch.setattr(onnx.checker, "check_model", fail)
    out = tmp_path / "m.onnx"
    out.write_bytes(EARLIER)
    assert cli("export", trained_model, "--onnx", out) == 1
    assert "the ONNX graph does not check: Field 'type'" in one_error(capsys.readouterr().err)
    assert out.read_bytes() == EARLIER
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


@pytest.mark.parametrize("where", ["no-such-folder/m.onnx", "."])
def test_an_out_that_cannot_be_written_is_named(trained_model: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch, where: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli("export", trained_model, "--onnx", where) == 1
    assert one_error(capsys.readouterr().err).startswith(f"mnistnp: error: --onnx {where}: ")
    assert not list(tmp_path.iterdir())


def test_the_model_file_is_not_overwritten_by_its_export(
        trained_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model_path = tmp_path / "m.npz"
    model_path.write_bytes(trained_model.read_bytes())
    assert cli("export", model_path, "--onnx", model_path) == 1
    assert "is the model file itself" in one_error(capsys.readouterr().err)
    assert model_path.read_bytes() == trained_model.read_bytes()


def test_onnx_is_required(trained_model: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("export", trained_model) == 2
    assert "--onnx" in capsys.readouterr().err
