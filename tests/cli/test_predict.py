"""``mnistnp predict`` beyond one line per image: blank images, several frames, --top-k, --json,
--show, folders, paths on standard input, and class names from the model's dataset."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import cli, constant_model, tiny_arrays
from PIL import Image

from mnistnp.model_file import load_model

LINE = re.compile(r"(.+): (.+)")
ENTRY = re.compile(r"(.+) \(p=([01]\.\d\d)\)")



def parse(line: str, pattern: re.Pattern[str] = LINE) -> tuple[str, str]:
    """``path: answer`` (or ``label (p=0.97)``) as its two parts."""
    match = pattern.fullmatch(line)
    assert match, line
    return match.group(1), match.group(2)


def error_lines(stderr: str) -> list[str]:
    lines = stderr.strip().splitlines()
    assert all(line.startswith("mnistnp") for line in lines), stderr
    assert "Traceback" not in stderr
    return lines


@pytest.fixture
def digits(tmp_path: Path) -> list[Path]:
    """Three images of the tiny dataset's classes (a bright block on a noisy canvas)."""
    folder = tmp_path / "digits"
    folder.mkdir()
    paths = []
    for i, image in enumerate(tiny_arrays()["test_images"][:3]):
        paths.append(folder / f"digit{i}.png")
        Image.fromarray(image).save(paths[-1])
    return paths


def blank(path: Path) -> Path:
    Image.new("RGB", (64, 48), (255, 255, 255)).save(path)
    return path


def probabilities(model_path: Path, image: np.ndarray) -> np.ndarray:
    return load_model(model_path).predict_proba(image[None])[0]


def test_a_blank_image_is_said_so_and_the_others_are_classified(
        trained_model: Path, digits: list[Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    white = blank(tmp_path / "white.png")
    assert cli("predict", "--model", trained_model, digits[0], white, digits[1]) == 1
    captured = capsys.readouterr()
    assert error_lines(captured.err) == [f"mnistnp: error: {white}: no ink found (a blank image)"]
    assert [parse(line)[0] for line in captured.out.splitlines()] == [
        str(digits[0]), str(digits[1])]


def test_of_several_frames_the_first_is_read_and_a_warning_says_so(
        trained_model: Path, digits: list[Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A GIF of two images: answered as its first frame's own file is, and one warning line
    names the file."""
    first, second = (Image.open(path) for path in digits[:2])
    gif = tmp_path / "two.gif"
    first.save(gif, save_all=True, append_images=[second])
    assert cli("predict", "--model", trained_model, gif, digits[0]) == 0
    captured = capsys.readouterr()
    assert parse(captured.out.splitlines()[0])[1] == parse(captured.out.splitlines()[1])[1]
    assert captured.err == (f"mnistnp: warning: {gif}: holds several frames or pages; only the "
                            "first is read\n")


def test_top_k_prints_the_k_likeliest_in_order_and_show_saves_what_was_scored(
        trained_model: Path, digits: list[Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    seen = tmp_path / "seen" / "deeper"  # created, parents and all
    assert cli("predict", "--model", trained_model, "--top-k", "3", "--show", seen,
               *digits) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(digits)
    for line, path in zip(lines, digits):
        answer, shown = line.split("; input saved as ")
        assert Path(shown) == seen / f"{path.stem}.png"
        image = np.asarray(Image.open(shown))
        assert image.shape == (28, 28) and image.dtype == np.uint8
        # The saved image is exactly what the model scored: its probabilities are the printed.
        p = probabilities(trained_model, image)
        name, rest = parse(answer)
        entries = [(int(c), float(q)) for c, q in
                   (parse(entry, ENTRY) for entry in rest.split(", "))]
        assert name == str(path) and len(entries) == 3
        assert [q for _, q in entries] == sorted((q for _, q in entries), reverse=True)
        assert len({c for c, _ in entries}) == 3
        for c, q in entries:
            assert q == pytest.approx(p[c], abs=0.005)
        best_others = np.delete(p, [c for c, _ in entries]).max()
        assert entries[-1][1] >= round(best_others, 2)  # none left out is likelier


def test_top_k_beyond_the_model_s_classes_is_a_usage_error(
        trained_model: Path, digits: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    for k in ("0", "11", "two"):
        assert cli("predict", "--model", trained_model, "--top-k", k, digits[0]) == 2
        captured = capsys.readouterr()
        assert "--top-k" in captured.err and captured.out == ""
    assert "at most 10" in (cli("predict", "--model", trained_model, "--top-k", "11",
                                digits[0]), capsys.readouterr().err)[1]


def test_json_is_one_object_per_image_and_errors_stay_on_stderr(
        trained_model: Path, digits: list[Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    white = blank(tmp_path / "white.png")
    assert cli("predict", "--model", trained_model, "--json", "--top-k", "2", "--show",
               tmp_path / "seen", digits[0], white, digits[1]) == 1
    captured = capsys.readouterr()
    assert len(error_lines(captured.err)) == 1 and str(white) in captured.err
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert [r["path"] for r in records] == [str(digits[0]), str(white), str(digits[1])]
    records.pop(1)  # the failed image's record (see the next test)
    for record in records:
        assert set(record) == {"path", "prediction", "label", "probability", "top_k", "input"}
        p = probabilities(trained_model, np.asarray(Image.open(record["input"])))
        assert record["prediction"] == int(np.argmax(p))
        assert record["label"] == str(record["prediction"])  # a --data-dir model: numbers
        assert record["probability"] == pytest.approx(p.max(), abs=1e-6)
        assert [e["class"] for e in record["top_k"]] == list(np.argsort(-p)[:2])
        assert record["top_k"][0] == {"class": record["prediction"], "label": record["label"],
                                      "probability": record["probability"]}


def test_json_has_a_record_with_the_error_for_every_input_that_failed(
        trained_model: Path, digits: list[Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    # A consumer of the JSON lines sees every input, in order; the exit status says one failed.
    white, empty = blank(tmp_path / "white.png"), tmp_path / "empty"
    empty.mkdir()
    missing = tmp_path / "gone.png"
    assert cli("predict", "--model", trained_model, "--json", white, digits[0], missing,
               empty) == 1
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["path"] for r in records] == [str(white), str(digits[0]), str(missing), str(empty)]
    assert records[0] == {"path": str(white), "error": "no ink found (a blank image)"}
    assert records[2] == {"path": str(missing), "error": "no such file"}
    assert records[3]["error"].startswith("a folder with no ")
    assert "error" not in records[1] and "prediction" in records[1]


def test_a_dash_with_nothing_on_standard_input_is_an_error(
        trained_model: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n\n"))
    assert cli("predict", "--model", trained_model, "-") == 1
    captured = capsys.readouterr()
    assert error_lines(captured.err) == [
        "mnistnp: error: -: no image paths on standard input (give one a line, or name the "
        "images as arguments)"]
    assert captured.out == ""


def test_a_folder_gives_its_images_sorted_and_an_empty_one_is_said_so(
        trained_model: Path, digits: list[Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    folder = digits[0].parent
    Image.open(digits[0]).convert("RGB").save(folder / "b-photo.JPG")
    (folder / "notes.txt").write_text("not an image")
    Image.open(digits[1]).save(folder / ".hidden.png")
    (folder / "sub.png").mkdir()  # a folder, whatever its name
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("predict", "--model", trained_model, empty, folder) == 1
    captured = capsys.readouterr()
    assert error_lines(captured.err) == [
        f"mnistnp: error: {empty}: a folder with no image files in it (PNG, JPEG, WebP, BMP, "
        "GIF or TIFF)"]
    printed = [parse(line)[0] for line in captured.out.splitlines()]
    assert printed == [str(folder / name) for name in
                       ("b-photo.JPG", "digit0.png", "digit1.png", "digit2.png")]


def test_a_folder_gives_its_webp_bmp_gif_and_tiff_images_too(
        trained_model: Path, digits: list[Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "formats"
    folder.mkdir()
    names = ["d.bmp", "d.gif", "d.tif", "d.TIFF", "d.webp"]
    for name in names:
        Image.open(digits[0]).save(folder / name, **({"lossless": True}
                                                     if name.endswith("webp") else {}))
    assert cli("predict", "--model", trained_model, folder, digits[0]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [parse(line)[0] for line in lines] == [str(folder / n) for n in sorted(names)] + [
        str(digits[0])]
    assert len({parse(line)[1] for line in lines}) == 1  # the same answer for the same image


def test_a_dash_reads_paths_from_standard_input(
        trained_model: Path, digits: list[Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    spaced = tmp_path / "a digit with spaces.png"
    spaced.write_bytes(digits[2].read_bytes())
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{digits[1]}\n\n{spaced}\r\n"))
    assert cli("predict", "--model", trained_model, digits[0], "-") == 0
    printed = [parse(line)[0] for line in capsys.readouterr().out.splitlines()]
    assert printed == [str(digits[0]), str(digits[1]), str(spaced)]


def test_show_never_overwrites_and_names_each_image(
        trained_model: Path, digits: list[Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    seen = tmp_path / "seen"
    seen.mkdir()
    (seen / "digit0.png").write_bytes(b"an earlier file")
    other = tmp_path / "other" / "digit0.jpg"  # the same name from another folder
    other.parent.mkdir()
    Image.open(digits[1]).convert("RGB").save(other)
    assert cli("predict", "--model", trained_model, "--show", seen, digits[0], other) == 0
    shown = [line.split("; input saved as ")[1] for line in capsys.readouterr().out.splitlines()]
    assert shown == [str(seen / "digit0-2.png"), str(seen / "digit0-3.png")]
    assert (seen / "digit0.png").read_bytes() == b"an earlier file"
    assert sorted(p.name for p in seen.iterdir()) == ["digit0-2.png", "digit0-3.png",
                                                       "digit0.png"]


def test_show_into_a_file_is_one_line_before_any_work(
        trained_model: Path, digits: list[Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    not_a_folder = tmp_path / "seen"
    not_a_folder.write_text("a file")
    assert cli("predict", "--model", trained_model, "--show", not_a_folder, digits[0]) == 1
    captured = capsys.readouterr()
    assert error_lines(captured.err) == [
        f"mnistnp: error: --show {not_a_folder}: exists and is not a folder"]
    assert captured.out == ""


@pytest.mark.parametrize(("dataset", "expected"), [
    ("fashion-mnist", "Ankle boot"), ("kmnist", "を"), ("mnist", "9"), ("my-own-folder", "9")])
def test_class_names_come_from_the_model_s_dataset(
        dataset: str, expected: str, digits: list[Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    model = constant_model(tmp_path / "m.npz", dataset, winner=9)
    assert cli("predict", "--model", model, "--top-k", "2", digits[0]) == 0
    answer = parse(capsys.readouterr().out.strip())[1]
    assert answer.startswith(f"{expected} (p=")
    assert cli("predict", "--model", model, "--json", digits[0]) == 0
    record = json.loads(capsys.readouterr().out)
    assert (record["prediction"], record["label"]) == (9, expected)
