"""The command line shows mnistnp's warnings as one plain line each, every time they occur."""

from __future__ import annotations

import argparse
import warnings

import pytest

from mnistnp.cli import download, main
from mnistnp.errors import MnistnpWarning


def test_each_warning_is_one_plain_line(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    def run(args: argparse.Namespace) -> int:
        for _ in range(2):  # the same place twice: both are shown, not once per place
            warnings.warn("an option the optimizer ignores", MnistnpWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(download, "run", run)
    assert main(["download", "mnist"]) == 0
    err = capsys.readouterr().err
    assert err == "mnistnp: warning: an option the optimizer ignores\n" * 2
