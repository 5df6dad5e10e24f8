"""What a user sees: the help of every option, the progress bar and the lines training prints
(and a bar that leaves no trace on Ctrl-C), download messages, the model summary, and the
learning curve's axis and file format."""

from __future__ import annotations

import gzip
import itertools
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import test_download
from test_download import FILES_GZ, Handler, sha256

from mnistnp import datasets
from mnistnp.cli import main
from mnistnp.datasets import FILES, DatasetInfo, bundled_dir
from mnistnp.download import fetch
from mnistnp.errors import DatasetError
from mnistnp.nn import Dense, Flatten, RandomShift, mlp
from mnistnp.plots import learning_curve_figure, plot_learning_curve
from mnistnp.training import History

# The download tests' local HTTP server, the guard that fails any other URL, and the 'tiny'
# dataset entry: fixtures reused here under the same names.
server, down_url = test_download.server, test_download.down_url
local_only, tiny_registry = test_download.local_only, test_download.tiny_registry


def cli(*argv: object) -> int:
    try:
        return main([str(a) for a in argv])
    except SystemExit as e:
        return 0 if e.code is None else int(e.code)


# --- downloads --------------------------------------------------------------------------------


def test_download_without_a_name_lists_the_choices(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("download") == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnistnp download: error: ")
    for name in ("mnist", "fashion-mnist", "kmnist"):
        assert re.search(rf"(?<![\w-]){name}(?![\w-])", lines[0]), name
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
    model = mlp(sizes, np.random.default_rng(0), dropout=0.1, shift=1)
    per_dense = [a * b + b for a, b in itertools.pairwise(sizes)]  # weights and biases
    text = model.summary()
    cells = [re.split(r"\s{2,}", line.strip()) for line in text.splitlines()]
    rows = {row[0]: row[1:] for row in cells if len(row) == 3}
    assert rows["input"] == ["(N, 28, 28)", "0"]
    assert rows["RandomShift(shift=1)"] == ["(N, 28, 28)", "0"]
    assert rows["Flatten(scale=0.00392)"] == ["(N, 784)", "0"]
    for (a, b), count in zip(itertools.pairwise(sizes), per_dense):
        assert rows[f"Dense({a}, {b})"] == [f"(N, {b})", f"{count:,}"]
    assert text.splitlines()[-1] == (f"total: {sum(per_dense):,} parameters "
                                     f"({4 * sum(per_dense) / 1024:,.1f} KiB)")
    assert str(model) == text
    assert repr(model) == ("Sequential(RandomShift(shift=1) -> Flatten(scale=0.00392) -> "
                           "Dense(784, 50) -> ReLU -> Dropout(p=0.1) -> Dense(50, 30) -> ReLU "
                           f"-> Dropout(p=0.1) -> Dense(30, 10); {sum(per_dense):,} "
                           "parameters, float32)")


def test_summary_of_rows_and_of_a_shape_the_model_cannot_take() -> None:
    model = mlp([6, 4, 3])  # 6 inputs: not a square image, so rows
    assert "(N, 6)" in model.summary().splitlines()[3]
    assert "(N, 6)" in model.summary((2, 3)).splitlines()[4]  # (2, 3) images flattened
    with pytest.raises(ValueError, match=r"Dense\(6, 4\) takes rows of 6, got shape \(7,\)"):
        model.summary((7,))
    with pytest.raises(ValueError, match="RandomShift"):
        mlp([6, 3], shift=1).summary((6,))
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
