"""A misspelt option or command gets the command's usage and a 'did you mean'."""

from __future__ import annotations

import pytest

from mnistnp.cli import main


def cli(*argv: object) -> int:
    try:
        return main([str(a) for a in argv])
    except SystemExit as e:
        return 0 if e.code is None else int(e.code)


MISSPELT = {  # argv, the misspelt word, the option it should suggest; every command
    "train": (["train", "--hiden", "5"], "--hiden", "--hidden"),
    "train-equals": (["train", "--batch-sise=64"], "--batch-sise=64", "--batch-size"),
    "evaluate-required": (["evaluate", "--modle", "m.npz"], "--modle", "--model"),
    "predict": (["predict", "--model", "m.npz", "--modle", "x.png"], "--modle", "--model"),
    "download": (["download", "mnist", "--data-dri", "d"], "--data-dri", "--data-dir"),
}


@pytest.mark.parametrize("case", list(MISSPELT))
def test_a_misspelt_option_gets_the_commands_usage_and_a_suggestion(
        case: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv, word, meant = MISSPELT[case]
    assert cli(*argv) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"usage: mnistnp {argv[0]} ")
    assert err[-1] == (f"mnistnp {argv[0]}: error: unrecognized argument {word}; "
                       f"did you mean {meant}?")


def test_an_unknown_option_with_nothing_close_gets_no_suggestion(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("train", "--xyzzy") == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("usage: mnistnp train ")
    assert err[-1] == "mnistnp train: error: unrecognized argument --xyzzy"


@pytest.mark.parametrize(("word", "meant"), [("trian", "train"), ("evalute", "evaluate"),
                                             ("predcit", "predict")])
def test_a_misspelt_command_gets_a_suggestion(word: str, meant: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(word, "--epochs", "2") == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("usage: mnistnp [-h]")
    assert err[-1].startswith(f"mnistnp: error: unknown command {word!r}; did you mean "
                              f"{meant}? (choose from train, ")
