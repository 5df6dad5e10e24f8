"""What a user sees: the help of every option, the progress bar and the lines training prints
(and a bar that leaves no trace on Ctrl-C), download messages, the model summary, and the
learning curve's axis and file format."""

from __future__ import annotations

import argparse
import gzip
import io
import itertools
import json
import math
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import test_download
from conftest import cli
from test_download import FILES_GZ, Handler, sha256

from mnistnp import datasets, progress
from mnistnp.cli import build_parser
from mnistnp.cli.train_options import setting_of
from mnistnp.config import RECIPES
from mnistnp.datasets import FILES, DatasetInfo, bundled_dir
from mnistnp.download import fetch
from mnistnp.errors import DatasetError
from mnistnp.model_config import MLP_SETTINGS
from mnistnp.nn import Dense, Flatten, RandomShift, mlp
from mnistnp.optim import Adam
from mnistnp.optim_config import PART_SETTINGS
from mnistnp.plots import learning_curve_figure, plot_learning_curve
from mnistnp.train_config import TrainConfig
from mnistnp.training import History, fit

# The download tests' local HTTP server, the guard that fails any other URL, and the 'tiny'
# dataset entry: fixtures reused here under the same names.
server, down_url = test_download.server, test_download.down_url
local_only, tiny_registry = test_download.local_only, test_download.tiny_registry



# --- help -------------------------------------------------------------------------------------


def subcommands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]


def shown_help(action: argparse.Action) -> str:
    """The help text as argparse prints it (with %(default)s filled in)."""
    assert action.help is not None
    return action.help % dict(vars(action), prog="mnistnp")


@pytest.mark.parametrize("command", ["train", "evaluate", "predict", "download"])
def test_every_option_has_help(command: str) -> None:
    parser = subcommands()[command]
    for action in options(parser):
        assert action.help and action.help != argparse.SUPPRESS and action.help.strip(), \
            action.option_strings or action.dest
    assert parser.format_help()  # every help string formats (no stray %)


def test_train_help_gives_the_default_recipes_value_of_each_setting() -> None:
    """Read back each value the help shows, with the option's own parser, and compare it with
    the recipe: so the help can neither go stale nor show a value the option would not give."""
    default = RECIPES["default"]
    # The config's own fields, and its network's: the layer string and the MLP's settings.
    settings = {*TrainConfig.__dataclass_fields__, *PART_SETTINGS, "layers",
                *MLP_SETTINGS} - {"model"}
    checked = []
    for action in options(subcommands()["train"]):
        if action.dest not in settings:
            continue
        # (--dataset, shared with evaluate, says "default: mnist")
        found = re.search(r"default(?: recipe)?: (\S+?)(?:\)|, |;|$)", shown_help(action))
        assert found, f"{action.option_strings}: {action.help}"
        text = found.group(1)
        value: Any = {"none": None, "off": False, "on": True}.get(text, text)
        if action.dest == "batch_size" and text == "full":
            value = None
        elif isinstance(value, str) and action.type is not None:
            value = action.type(text)  # type: ignore[operator]
        expected = setting_of(default, action.dest)
        if action.dest == "batch_size" and value == 0:
            value = None
        if isinstance(expected, float) and value is not None:
            assert value == pytest.approx(expected, rel=1e-3), action.dest
        else:
            assert value == expected, action.dest
        checked.append(action.dest)
    assert {"hidden", "layers", "epochs", "lr", "optimizer", "weight_decay", "warmup_epochs",
            "val_split", "batch_size", "seed", "nesterov", "patience"} <= set(checked)


def test_options_with_a_default_of_their_own_show_it() -> None:
    shown = []
    for command, parser in subcommands().items():
        for action in options(parser):
            if action.default is None or action.default is False \
                    or action.default == argparse.SUPPRESS:
                continue
            found = re.search(r"default: (\S+?)(?:\)|, |;|$)", shown_help(action))
            assert found and found.group(1) == str(action.default), (command, action.dest)
            shown.append(action.dest)
    assert {"recipe", "repeats", "checkpoint_every"} <= set(shown)


def test_the_recipe_help_lists_what_each_recipe_changes() -> None:
    action = next(a for a in options(subcommands()["train"]) if a.dest == "recipe")
    text = shown_help(action)
    for name in ("best", "notebook"):
        part = text.split(f"'{name}'")[1].split(";")[0]
        recipe = RECIPES[name]
        for field in {*TrainConfig.__dataclass_fields__, *MLP_SETTINGS} - {"model"}:
            if field == "epochs" and recipe.iterations:
                continue  # iterations count instead
            if setting_of(recipe, field) != setting_of(RECIPES["default"], field):
                assert re.search(rf"[(, ]{field.replace('_', '-')} ", part), (name, field)


def test_evaluate_help_shows_one_percent_sign(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("evaluate", "--help") == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "'accuracy: NN.NN%'" in text and "%%" not in text


def test_predict_help_takes_either_polarity(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("predict", "--help") == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "dark digit on light paper" in text and "light digit on dark" in text


# --- the progress bar -------------------------------------------------------------------------


def quadrants(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 8x8 images whose class (0-3) is the bright quadrant."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    x = rng.integers(0, 60, (n, 8, 8), dtype=np.uint8)
    for k, (r, c) in enumerate([(0, 0), (0, 4), (4, 0), (4, 4)]):
        x[y == k, r:r + 4, c:c + 4] = 200
    return x, y


def test_the_bar_shows_epoch_running_loss_and_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    real = progress.tqdm

    def forced(*args: Any, **kwargs: Any) -> Any:  # a terminal's bar, drawn into a string
        return real(*args, **{**kwargs, "disable": False, "file": screen, "mininterval": 0})

    monkeypatch.setattr(progress, "tqdm", forced)
    x, y = quadrants()
    history = fit(mlp([64, 8, 4], np.random.default_rng(0)), x, y, Adam(0.01),
                  rng=np.random.default_rng(0), epochs=3, batch_size=50,
                  callbacks=[progress.ProgressBar()])
    frames = screen.getvalue().split("\r")
    for e in range(1, 4):
        # the last frame of each epoch shows its number, its mean cost (what the epoch line
        # says) and the rate of its last step
        last = [f for f in frames if f.startswith(f"epoch {e}/3:") and f"{4 * e}/12" in f]
        assert last, frames
        assert f"loss {history.epoch_loss[e - 1]:.4f}" in last[-1]
        assert f"lr {history.epoch_lr[e - 1]:.3g}" in last[-1]


def screen_of(output: str, columns: int) -> list[str]:
    """What a terminal of ``columns`` shows after ``output``: carriage return, line feed,
    erase to the end of the line, cursor up, and wrapping at the last column."""
    lines: list[list[str]] = [[]]
    row = col = 0
    for token in re.findall(r"\x1b\[\d*[A-Za-z]|.", output, re.S):
        if token == "\r":
            col = 0
        elif token == "\n":
            row += 1
        elif token.startswith("\x1b["):
            if token.endswith("K"):
                del lines[row][col:]
            elif token.endswith("A"):
                row = max(0, row - int(token[2:-1] or 1))
            continue
        else:
            if col == columns:  # wrap pending: the next character starts the next line
                row, col = row + 1, 0
            while len(lines) <= row:
                lines.append([])
            line = lines[row]
            line.extend(" " * (col + 1 - len(line)))
            line[col] = token
            col += 1
        while len(lines) <= row:
            lines.append([])
    return ["".join(line).rstrip() for line in lines if "".join(line).strip()]


# Starts mnistnp as a session leader and opens the terminal, which makes it the process's
# controlling terminal, so a typed Ctrl-C is echoed as ^C and sent as SIGINT, as in real life.
CHILD = ("import os, sys; os.open(sys.argv[1], os.O_RDWR); "
         "os.execv(sys.executable, [sys.executable, '-m', 'mnistnp.cli', *sys.argv[2:]])")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs a Linux terminal")
def test_ctrl_c_leaves_no_bar_on_the_screen(tmp_path: Path, session_idx_dir: Path) -> None:
    import fcntl
    import pty
    import struct
    import termios

    columns = 120
    master, slave = pty.openpty()
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 30, columns, 0, 0))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, os.ttyname(slave), "train", "--data-dir",
         str(session_idx_dir), "--hidden", "8", "--epochs", "100000", "--batch-size", "1",
         "--run-dir", "run"],  # relative: short lines, none wrapped
        stdin=slave, stdout=slave, stderr=slave, start_new_session=True, cwd=tmp_path)
    os.close(slave)
    out, typed = b"", False
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 1 << 16)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            # typed while the bar is on the screen (its frame was the last thing written)
            if not typed and b"epoch 2/" in out and b"it/s" in out.rsplit(b"\r", 1)[-1]:
                os.write(master, b"\x03")  # Ctrl-C, typed
                typed = True
        status = child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
        os.close(master)
    assert typed and status == 130, out[-2000:]
    shown = screen_of(out.decode(errors="replace"), columns)
    # (the terminal's ^C echo may stay at the end of a line of text, as for any program)
    assert not [line for line in shown if "it/s" in line], shown
    assert shown[-3].startswith("mnistnp: SIGINT received: finishing the current batch")
    assert shown[-2].startswith("mnistnp: stopped at epoch ")
    assert shown[-1].startswith("resume with: mnistnp train --resume ")


def test_screen_of_wraps_and_erases() -> None:
    """The little terminal above, checked on what the test relies on."""
    assert screen_of("abcdef^C", 6) == ["abcdef", "^C"]
    assert screen_of("abcd^C\r\x1b[Kmessage\n", 8) == ["message"]
    assert screen_of("one\r\ntwo\r   \r", 8) == ["one"]
    assert screen_of("one\ntwo", 8) == ["one", "   two"]  # a bare line feed keeps the column


# --- the lines training prints ----------------------------------------------------------------


def train_run(data: Path, tmp_path: Path, *argv: object) -> int:
    return cli("train", "--data-dir", data, "--hidden", "8", "--run-dir", tmp_path / "run",
               "--no-progress", *argv)


def test_log_every_keeps_the_epoch_lines_with_validation(tmp_path: Path, session_idx_dir: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    assert train_run(session_idx_dir, tmp_path, "--epochs", "3", "--log-every", "2") == 0
    out = capsys.readouterr().out
    records = [json.loads(line)
               for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    epochs = re.findall(r"^epoch (\d)/3: loss [\d.]+, val_loss ([\d.]+), val_accuracy", out, re.M)
    assert [int(e) for e, _ in epochs] == [1, 2, 3]
    assert [float(v) for _, v in epochs] == pytest.approx([r["val_loss"] for r in records],
                                                          abs=1e-4)
    assert re.search(r"^iteration 2: cost [\d.]+ \(mean of the last 2\)$", out, re.M)


def test_full_batch_cost_lines_carry_the_validation(tmp_path: Path, session_idx_dir: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert train_run(session_idx_dir, tmp_path, "--recipe", "notebook", "--iterations", "4",
                     "--log-every", "2", "--val-split", "100") == 0
    out = capsys.readouterr().out
    records = [json.loads(line)
               for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    lines = re.findall(r"^iteration (\d): cost ([\d.]+), val_loss ([\d.]+), val_accuracy "
                       r"([\d.]+)%$", out, re.M)
    assert [int(i) for i, *_ in lines] == [2, 4], out
    for i, cost, val_loss, val_acc in lines:
        record = records[int(i) - 1]  # one step per epoch: iteration i ends epoch i
        assert float(cost) == pytest.approx(record["loss"], abs=1e-4)
        assert float(val_loss) == pytest.approx(record["val_loss"], abs=1e-4)
        assert float(val_acc) == pytest.approx(100 * record["val_accuracy"], abs=0.005)


@pytest.mark.parametrize("argv", [["--epochs", "1"], ["--iterations", "1", "--batch-size", "full"],
                                  ["--iterations", "1"]], ids=["1-epoch", "1-step", "1-iteration"])
def test_one_is_singular(argv: list[str], tmp_path: Path, session_idx_dir: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    assert train_run(session_idx_dir, tmp_path, *argv) == 0
    out = capsys.readouterr().out
    assert not re.search(r"(?<![\d.,])1 (epochs|iterations|steps|images|seeds)\b", out), out
    assert re.search(r"\(\d[\d,]* iterations?, 1 epoch\)", out), out


def test_the_closing_lines_name_the_settings(tmp_path: Path, session_idx_dir: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert train_run(session_idx_dir, tmp_path, "--epochs", "1") == 0
    tail = capsys.readouterr().out.splitlines()[-6:]
    run = tmp_path / "run"
    assert tail == [f"model: {run / 'model.npz'}", f"learning curve: {run / 'learning_curve.png'}",
                    f"metrics: {run / 'metrics.jsonl'}",
                    "pictures: confusion_matrix.png, mistakes.png, first_layer.png, "
                    f"reliability.png in {run}",
                    f"report: {run / 'report.html'}", f"settings: {run / 'settings.json'}"]
    assert all((run / name).is_file() for name in ("mistakes.png", "report.html"))
    assert json.loads((run / "settings.json").read_text())["config"]["epochs"] == 1


def test_piped_notebook_says_what_and_how_long_before_its_first_cost_line(
        tmp_path: Path, session_idx_dir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(progress, "ESTIMATE_AFTER", 0.0)  # as if the first steps took long
    assert not sys.stdout.isatty()
    assert train_run(session_idx_dir, tmp_path, "--recipe", "notebook", "--iterations", "6",
                     "--log-every", "3") == 0
    lines = capsys.readouterr().out.splitlines()
    first_cost = next(i for i, line in enumerate(lines) if line.startswith("iteration "))
    before = lines[:first_cost]
    n_train = len(datasets.load(None, session_idx_dir)[0][1])
    plan = next(i for i, line in enumerate(before) if line.startswith("plan: "))
    assert (f"plan: 6 iterations of full-batch gradient descent on {n_train:,} images, "
            "no validation; a line every 3 iterations") in before[plan]
    assert re.fullmatch(r"time left: about [\d.]+ (s|min|h) \([\d.]+ m?s per iteration so far\)",
                        before[plan + 1]), before


def test_the_time_left_is_the_rate_so_far_times_the_steps_left() -> None:
    # 8 steps in 2 s: 0.25 s each; 992 left: 248 s, said as 4.1 min
    assert progress.time_left_line(2.0, 8, 992) == \
        "time left: about 4.1 min (0.25 s per iteration so far)"
    assert progress.time_left_line(2.0, 1000, 500) == \
        "time left: about 1.0 s (2 ms per iteration so far)"


def test_the_plan_counts_epochs_steps_and_images() -> None:
    from mnistnp.plan import Plan

    x, y = np.zeros((1000, 2, 2), np.uint8), np.zeros(1000, np.uint8)
    config = TrainConfig(epochs=3, batch_size=128, val_split=100)
    plan = Plan.of(config, ((x, y), (x[:10], y[:10])))
    assert (plan.train_images, plan.val_images, plan.steps_per_epoch, plan.total_steps) == (
        900, 100, 8, 24)
    # 900 trained on: 8 steps per epoch (7 of 128 and one of 4), 24 in all
    assert plan.describe(config).startswith("plan: 3 epochs of 8 steps (24 iterations) on 900 "
                                         "images, validated on 100 after each epoch")


# --- downloads --------------------------------------------------------------------------------


def test_download_without_a_name_lists_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("download") == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    # argparse's usage, then its error naming the missing argument by its choices.
    assert lines[0].startswith("usage: mnistnp download")
    assert lines[-1].startswith("mnistnp download: error: ")
    for name in ("mnist", "fashion-mnist", "kmnist"):
        assert re.search(rf"(?<![\w-]){name}(?![\w-])", lines[-1]), name
    assert captured.out == ""


def test_each_retry_and_mirror_change_is_told_as_it_happens(server: str, tmp_path: Path) -> None:
    events: list[tuple[str, object]] = []
    target = tmp_path / "train-labels-idx1-ubyte.gz"
    body = FILES_GZ[target.name]
    fetch(target, (f"{server}/cut/", f"{server}/good/"), sha256(body), retries=2, backoff=0.25,
          progress=False, timeout=5, log=lambda line: events.append(("log", line)),
          sleep=lambda s: events.append(("sleep", s)))
    assert target.read_bytes() == body
    cut = f"{server}/cut/{target.name}"
    assert [kind for kind, _ in events] == ["log", "sleep", "log"]
    assert events[0][1] == (f"{cut}: attempt 1 of 2 failed (cut off after "
                            f"{len(body) // 2:,} of {len(body):,} bytes); retrying in 0.25 s")
    assert events[1][1] == 0.25  # the line comes before the wait, not after
    assert str(events[2][1]).startswith(f"{cut}: attempt 2 of 2 failed (cut off")
    assert str(events[2][1]).endswith(f"; trying the next mirror, {server}/good/")


def test_a_403_is_told_as_not_retried(server: str, tmp_path: Path) -> None:
    lines: list[str] = []
    target = tmp_path / "t10k-labels-idx1-ubyte.gz"
    fetch(target, (f"{server}/forbidden/", f"{server}/good/"), sha256(FILES_GZ[target.name]),
          progress=False, timeout=5, log=lines.append, sleep=lambda s: None)
    assert len(lines) == 1 and "HTTP 403" in lines[0] and "a retry would not change" in lines[0]


@pytest.mark.parametrize("how", ["option", "environment"])
def test_the_timeout_is_an_option(how: str, server: str, tiny_registry: str, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    # the kmnist entry, served by the local server's /slow/ (1 s before answering)
    info = DatasetInfo(name="kmnist", gz_sha256=datasets.REGISTRY["tiny"].gz_sha256)
    monkeypatch.setitem(datasets.REGISTRY, "kmnist", info)
    monkeypatch.setenv("MNISTNP_MIRRORS", f"{server}/slow/")
    argv = ["download", "kmnist", "--data-dir", tmp_path / "k"]
    if how == "option":
        argv += ["--timeout", "0.25"]
    else:
        monkeypatch.setenv("MNISTNP_TIMEOUT", "0.25")
    assert cli(*argv) == 1
    last = capsys.readouterr().err.splitlines()[-1]
    assert "timed out after 0.25 s" in last


def test_a_bad_timeout_in_the_environment_is_a_usage_error(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
        ) -> None:
    monkeypatch.setenv("MNISTNP_TIMEOUT", "soon")
    assert cli("download", "kmnist", "--data-dir", tmp_path / "k") == 2
    assert "MNISTNP_TIMEOUT" in capsys.readouterr().err
    assert not (tmp_path / "k").exists()


def test_a_failed_download_ends_with_where_else_the_data_can_come_from(
        tiny_registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, down_url: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MNISTNP_MIRRORS", down_url)
    assert cli("download", "kmnist", "--data-dir", tmp_path / "k", "--timeout", "1") == 1
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("mnistnp: error: train-images-idx3-ubyte.gz: download failed")
    assert "$MNISTNP_MIRRORS" in last and last.endswith("--data-dir DIR")


def test_download_mnist_says_it_is_bundled(server: str, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MNISTNP_MIRRORS", f"{server}/good/")  # any request would show
    assert cli("download", "mnist") == 0
    out = capsys.readouterr().out
    assert "bundled" in out and str(bundled_dir()) in out
    assert Handler.requests == []


def test_download_mnist_into_a_folder_copies_the_bundled_files(
        server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MNISTNP_MIRRORS", f"{server}/good/")
    folder = tmp_path / "mnist"
    assert cli("download", "mnist", "--data-dir", folder) == 0
    assert Handler.requests == []
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{s}.gz" for s in FILES)
    for stem in FILES:
        copy = (folder / f"{stem}.gz").read_bytes()
        assert copy == (bundled_dir() / f"{stem}.gz").read_bytes()
        assert sha256(gzip.decompress(copy)) == datasets.REGISTRY["mnist"].sha256[stem]


def test_a_corrupt_bundled_file_is_not_copied(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bundled"
    fake.mkdir()
    for stem in FILES:
        (fake / f"{stem}.gz").write_bytes(b"not the file")
    monkeypatch.setattr("mnistnp.download.bundled_dir", lambda: fake)
    from mnistnp.download import download

    with pytest.raises(DatasetError, match="bundled file is missing or corrupt"):
        download("mnist", tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


# --- the model summary ------------------------------------------------------------------------


def test_summary_counts_parameters_and_follows_shapes() -> None:
    sizes = [784, 50, 30, 10]
    model = mlp(sizes, np.random.default_rng(0), dropout=0.1, shift=1)  # 784: 28x28 images
    per_dense = [a * b + b for a, b in itertools.pairwise(sizes)]  # weights and biases
    text = model.summary()
    cells = [re.split(r"\s{2,}", line.strip()) for line in text.splitlines()]
    rows = {row[0]: row[1:] for row in cells if len(row) == 3}
    assert rows["input"] == ["(N, 28, 28)", "0"]
    assert rows["RandomShift(shift=1)"] == ["(N, 28, 28)", "0"]
    assert rows["Rescale(scale=0.00392)"] == ["(N, 28, 28)", "0"]
    assert rows["Flatten"] == ["(N, 784)", "0"]
    for (a, b), count in zip(itertools.pairwise(sizes), per_dense):
        assert rows[f"Dense({a}, {b})"] == [f"(N, {b})", f"{count:,}"]
    assert text.splitlines()[-1] == (f"total: {sum(per_dense):,} parameters "
                                     f"({4 * sum(per_dense) / 1024:,.1f} KiB)")
    assert str(model) == text
    assert repr(model) == ("Sequential(RandomShift(shift=1) -> Rescale(scale=0.00392) -> "
                           "Flatten -> Dense(784, 50) -> ReLU -> Dropout(p=0.1) -> "
                           "Dense(50, 30) -> ReLU -> Dropout(p=0.1) -> Dense(30, 10); "
                           f"{sum(per_dense):,} "
                           "parameters, float32)")


def test_summary_of_rows_and_of_a_shape_the_model_cannot_take() -> None:
    model = mlp([6, 4, 3])  # 6 inputs: not a square image, so rows, straight into a Dense
    assert "(N, 6)" in model.summary().splitlines()[3]
    with pytest.raises(ValueError, match=r"layer 1 \(Dense\): expects 6 inputs, gets 7$"):
        model.summary((7,))
    images = mlp([6, 4, 3], input_shape=(2, 3))
    assert "(N, 6)" in images.summary((2, 3)).splitlines()[5]  # (2, 3) images flattened
    with pytest.raises(ValueError, match=r"layer 2 \(Dense\): expects 6 inputs, gets 7$"):
        images.summary((7,))
    with pytest.raises(ValueError, match=r"layer 0 \(RandomShift\): takes images"):
        mlp([6, 3], shift=1, input_shape=(2, 3)).summary((6,))
    with pytest.raises(ValueError, match=r"shift:1: .*takes images"):
        mlp([6, 3], shift=1)  # rows: nothing to shift
    assert Dense(3, 2).output_shape((3,)) == (2,) and Flatten().output_shape((4, 5)) == (20,)
    assert RandomShift(1).output_shape((4, 5)) == (4, 5)


# --- the learning curve -----------------------------------------------------------------------


def uneven_history() -> History:
    """Three epochs of 4, 4 and 2 steps (the last cut short, as --iterations does)."""
    h = History()
    h.costs = [2.0, 1.8, 1.6, 1.4, 1.2, 1.0, 0.9, 0.8, 0.7, 0.6]
    h.epoch_end = [4, 8, 10]
    h.epoch_loss = [float(np.mean(h.costs[a:b])) for a, b in [(0, 4), (4, 8), (8, 10)]]
    h.epoch_val_loss = [1.5, 1.1, 0.8]
    h.epoch_val_accuracy = [0.5, 0.7, 0.8]
    h.epoch_lr = [0.1] * 3
    h.epoch_seconds = [1.0] * 3
    h.epoch_samples_per_s = [1.0] * 3
    return h


def lines_of(fig: Any) -> dict[str, Any]:
    return {line.get_label(): line for ax in fig.axes for line in ax.get_lines()}


def test_the_curve_reads_in_epochs_with_each_mean_at_the_middle_of_its_epoch() -> None:
    import matplotlib.pyplot as plt

    h = uneven_history()
    fig = learning_curve_figure(h)  # several epochs of several steps: epochs
    try:
        assert fig.axes[0].get_xlabel() == "epoch"
        drawn = lines_of(fig)
        # the k-th of an epoch's L steps spans (e-1 + (k-1)/L, e-1 + k/L]: drawn at its middle
        expected = [e + (k - 0.5) / n for e, n in enumerate([4, 4, 2]) for k in range(1, n + 1)]
        assert list(drawn["cost per iteration"].get_xdata()) == pytest.approx(expected)
        assert list(drawn["train cost (epoch mean)"].get_xdata()) == pytest.approx(
            [0.5, 1.5, 2.5])
        assert list(drawn["train cost (epoch mean)"].get_ydata()) == h.epoch_loss
        assert list(drawn["validation loss"].get_xdata()) == pytest.approx([1, 2, 3])
        assert list(drawn["validation accuracy"].get_xdata()) == pytest.approx([1, 2, 3])
    finally:
        plt.close(fig)
    fig = learning_curve_figure(h, x="iteration")
    try:
        drawn = lines_of(fig)
        assert list(drawn["train cost (epoch mean)"].get_xdata()) == pytest.approx([2, 6, 9])
        assert list(drawn["validation loss"].get_xdata()) == pytest.approx([4, 8, 10])
    finally:
        plt.close(fig)


def test_a_full_batch_curve_reads_in_iterations() -> None:
    import matplotlib.pyplot as plt

    h = History()
    h.costs = [1.0, 0.5, 0.3]
    h.epoch_end, h.epoch_loss = [1, 2, 3], [1.0, 0.5, 0.3]
    h.epoch_val_loss = h.epoch_val_accuracy = [math.nan] * 3
    fig = learning_curve_figure(h)
    try:
        assert fig.axes[0].get_xlabel() == "iteration"
    finally:
        plt.close(fig)


MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "jpg": b"\xff\xd8\xff", "jpeg": b"\xff\xd8\xff",
         "pdf": b"%PDF-", "svg": b"<?xml"}


@pytest.mark.parametrize("ext", sorted(MAGIC))
def test_the_curve_is_written_in_the_format_its_extension_names(ext: str,
                                                                 tmp_path: Path) -> None:
    path = tmp_path / f"curve.{ext.upper() if ext == 'jpg' else ext}"
    plot_learning_curve(uneven_history(), path)
    data = path.read_bytes()
    assert data.startswith(MAGIC[ext])
    if ext == "svg":
        assert b"<svg" in data[:1000]


@pytest.mark.parametrize("name", ["curve.gif", "curve"])
def test_an_unknown_plot_extension_is_refused_before_training(
        name: str, tmp_path: Path, session_idx_dir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli("train", "--data-dir", session_idx_dir, "--hidden", "8", "--epochs", "1",
               "--plot", name, "--no-progress") == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mnistnp train: error: --plot {name}: ")
    assert ".png" in lines[0] and ".jpg" in lines[0]
    assert captured.out == "" and os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match=r"curve\.gif"):
        plot_learning_curve(uneven_history(), tmp_path / "curve.gif")
    assert os.listdir(tmp_path) == []
