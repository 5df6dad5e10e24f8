"""``mnistnp serve`` as a user runs it: the URL printed, loopback by default, a warning when bound
elsewhere, Ctrl-C stopping it cleanly, and one line for each thing that stops it starting."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import cli

import mnistnp

pytest.importorskip("waitress")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("serve") / "tiny.npz"
    mnistnp.save_model(path, mnistnp.mlp([784, 8, 10], np.random.default_rng(0)),
                       {"dataset": "mnist"})
    return path


def start(*argv: object) -> subprocess.Popen[str]:
    """``mnistnp serve ...`` in a child that takes Ctrl-C (SIGINT) as a terminal's would."""
    return subprocess.Popen(
        [sys.executable, "-m", "mnistnp.cli", "serve", *map(str, argv)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def test_serve_prints_the_url_answers_there_and_stops_on_ctrl_c(model_file: Path) -> None:
    child = start("--model", model_file, "--port", 0)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith(f"serving {model_file}: open http://127.0.0.1:")
        url = line.split("open ")[1].split()[0]
        with urllib.request.urlopen(url + "api/model", timeout=30) as response:
            assert json.loads(response.read())["file"] == "tiny.npz"
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert (child.returncode, out, err) == (0, "stopped\n", "")


def test_binding_beyond_loopback_is_said_once(model_file: Path) -> None:
    child = start("--model", model_file, "--host", "0.0.0.0", "--port", 0)
    try:
        assert child.stdout is not None
        assert "open http://127.0.0.1:" in child.stdout.readline()
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert err.count("\n") == 1 and "listening on 0.0.0.0, not only this machine" in err


def test_a_bad_model_file_is_one_line_before_anything_listens(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a model")
    assert cli("serve", "--model", bad) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"mnistnp: error: {bad}") and err.count("\n") == 1


def test_a_taken_port_is_one_line(model_file: Path, capsys: pytest.CaptureFixture[str]
                                  ) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli("serve", "--model", model_file, "--port", port) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"mnistnp: error: --host 127.0.0.1 --port {port}: cannot listen")


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_a_bad_port_is_a_usage_error(model_file: Path, port: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("serve", "--model", model_file, "--port", port) == 2
    assert "expected a port number from 0 to 65535" in capsys.readouterr().err


def test_without_waitress_it_says_what_to_install(model_file: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "waitress", None)  # import waitress now fails
    assert cli("serve", "--model", model_file) == 1
    assert capsys.readouterr().err == ("mnistnp: error: mnistnp serve needs waitress: pip "
                                       "install 'mnistnp[serve]'\n")
