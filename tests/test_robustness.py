"""Things going wrong around training: full disks, closed pipes, and odd image modes."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mnistnp import datasets
from mnistnp.cli import main
from mnistnp.images import load_digit


def _train_args(data: Path, run: Path, out: Path) -> list[str]:
    return ["train", "--data-dir", str(data), "--hidden", "8", "--epochs", "2",
            "--run-dir", str(run), "--out", str(out), "--no-progress"]


def test_a_disk_full_during_save_keeps_the_earlier_model(session_idx_dir, tmp_path, monkeypatch,
                                                         capsys):
    out = tmp_path / "model.npz"
    assert main(_train_args(session_idx_dir, tmp_path / "run1", out)) == 0
    before = out.read_bytes()
    import mnistnp.model_file as model_file

    def full_disk(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(model_file.np, "savez", full_disk)
    capsys.readouterr()
    assert main([*_train_args(session_idx_dir, tmp_path / "run2", out), "--overwrite"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(out) in err and "No space left" in err
    assert "Traceback" not in err
    assert out.read_bytes() == before  # the earlier model, byte for byte
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz", "run1", "run2"]


def test_a_run_folder_that_cannot_be_made_is_one_line(session_idx_dir, tmp_path, monkeypatch,
                                                      capsys):
    def refuse(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    status = main(_train_args(session_idx_dir, tmp_path / "ro" / "run", tmp_path / "m.npz"))
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1 and "Permission denied" in err
    assert not (tmp_path / "m.npz").exists()


def test_piping_predict_into_head_gives_no_traceback(trained_model, tmp_path):
    pixels = np.zeros((28, 28), np.uint8)
    pixels[6:22, 12:16] = 255
    image = tmp_path / "one.png"
    Image.fromarray(pixels).save(image)
    many = [str(image)] * 3000  # more output than a pipe buffer holds
    proc = subprocess.Popen([sys.executable, "-m", "mnistnp.cli", "predict", "--model",
                             str(trained_model), *many], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does after its line
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert first.startswith(str(image).encode())
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert proc.returncode != 0 or err == ""


@pytest.fixture(scope="module")
def mnist_model(tmp_path_factory):
    """A small model trained for one epoch on bundled MNIST (about a second)."""
    out = tmp_path_factory.mktemp("mnist") / "model.npz"
    assert main(["train", "--epochs", "1", "--hidden", "64", "--out", str(out),
                 "--run-dir", str(out.parent / "run"), "--no-progress"]) == 0
    return out


def _modes(digit: np.ndarray) -> dict[str, Image.Image]:
    """The same dark-on-light digit in the modes people's files come in."""
    paper = 255 - digit  # dark ink on white, as drawn
    grey = Image.fromarray(paper).resize((112, 112), Image.Resampling.LANCZOS)
    rgba = Image.new("RGBA", grey.size, (0, 0, 0, 0))
    rgba.putalpha(Image.eval(grey, lambda v: 255 - v))  # ink opaque, paper transparent
    la = Image.merge("LA", (Image.new("L", grey.size, 0), rgba.getchannel("A")))
    wide = Image.fromarray(np.asarray(grey, np.uint16) * 257)
    return {"L": grey, "RGB": grey.convert("RGB"), "RGBA": rgba, "LA": la,
            "P": grey.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=256),
            "I;16": wide}


@pytest.mark.parametrize("index", [0, 1, 2, 3, 4, 7, 11, 18])
def test_the_same_digit_in_any_mode_gets_the_same_prediction(mnist_model, tmp_path, index):
    from mnistnp import load_model

    model = load_model(mnist_model)
    _, (x_test, _) = datasets.load()
    digits, preds = {}, {}
    for mode, img in _modes(x_test[index]).items():
        path = tmp_path / f"{mode}.png"
        img.save(path)
        digits[mode] = load_digit(path)
        preds[mode] = int(model.predict(digits[mode][None])[0])
    # Every mode holds the same grey levels, so the model is shown the same digit (a level
    # of rounding allowed) and gives the same answer.
    for mode, digit in digits.items():
        assert np.abs(digit.astype(int) - digits["L"]).max() <= 1, mode
    assert set(preds.values()) == {preds["L"]}, preds


def test_a_read_only_output_folder_fails_before_training(session_idx_dir, tmp_path,
                                                          monkeypatch, capsys):
    import mnistnp.atomic as atomic

    # Root may write anywhere, so the folder's refusal is simulated where it is asked.
    monkeypatch.setattr(atomic.os, "access", lambda path, mode: False)
    out = tmp_path / "ro" / "model.npz"
    out.parent.mkdir()
    status = main(_train_args(session_idx_dir, tmp_path / "run", out))
    captured = capsys.readouterr()
    assert status == 1 and captured.out == ""  # nothing trained
    assert "--out" in captured.err and "not writable" in captured.err
    assert not (tmp_path / "run").exists()
