"""The ``mnistnp`` command: argparse subcommands over the Python API.

``main(argv)`` returns the exit status: 0 on success, 1 for bad input (one line on stderr,
no traceback), 2 for usage errors, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import difflib
import itertools
import os
import sys
import warnings
from collections.abc import Iterable, Sequence

from .. import datasets
from ..errors import MnistnpError, MnistnpWarning, SettingError
from ..mpi import faults, supervise
from ..mpi.launch import quiet_followers
from ..version import __version__
from . import download, evaluate, export, info, plot, predict, report, serve, sweep, train
from .options import Exit, UsageError


def build_parser() -> argparse.ArgumentParser:
    return _build()[0]


def _build() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser, and each command's own parser by name."""
    parser = argparse.ArgumentParser(
        prog="mnistnp", description="Train, evaluate and use NumPy neural networks on MNIST.")
    parser.add_argument("--version", action="version", version=f"mnistnp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (train, evaluate, predict, download, info, plot, report, export, serve, sweep):
        command = module.add_parser(sub)
        command.set_defaults(func=module.run)
    return parser, dict(sub.choices)


def _parse(argv: list[str]) -> argparse.Namespace:
    """Parse, with 'did you mean' for a misspelt command or option (Python 3.11's argparse
    has neither, and reports a command's unknown option with the top-level usage)."""
    parser, commands = _build()
    # The top level takes no option values, so its first bare word is the command.
    name = next((a for a in argv if not a.startswith("-")), None)
    if name is not None and name not in commands:
        parser.error(f"unknown command {name!r}{_did_you_mean(name, commands)} (choose from "
                     f"{', '.join(commands)})")
    for word in argv[:argv.index(name)] if name else argv:  # only the top level's options
        option = word.split("=", 1)[0]
        if any(o.startswith(option) for o in parser._option_string_actions):
            continue
        if name and option.startswith("--") and any(
                o.startswith(option) for o in commands[name]._option_string_actions):
            parser.error(f"{option} is an option of {name}: put it after the command "
                         f"(mnistnp {name} {option} ...)")
        parser.error(f"unrecognized argument {word}{_did_you_mean(option, ['--version'])} "
                     "(before the command, mnistnp takes only --help and --version)")
    if name is None:
        return parser.parse_args(argv)  # --help, --version, or the missing command's error
    command = commands[name]
    options = command._option_string_actions  # every option string the command takes
    for word in itertools.takewhile(lambda a: a != "--", argv[argv.index(name) + 1:]):
        # Checked before parsing, which would first complain of a required option misspelt.
        option = word.split("=", 1)[0]
        if option.startswith("--") and not any(o.startswith(option) for o in options):
            command.error(f"unrecognized argument {word}{_did_you_mean(option, options)}")
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        command.error(f"unrecognized argument {unknown[0]}{_did_you_mean(unknown[0], options)}")
    return args


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    """'; did you mean --hidden?' for a likely typo, else "". Words are compared without
    their leading dashes (and an option's =value), which would make any two options look
    alike: --verbose is no typo of --overwrite."""
    bare = {choice.lstrip("-"): choice for choice in choices}
    close = difflib.get_close_matches(word.split("=", 1)[0].lstrip("-"), list(bare), n=1)
    return f"; did you mean {bare[close[0]]}?" if close else ""


def show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: object = None, line: str | None = None) -> None:
    """mnistnp's own warnings as one plain line on stderr, without the source location."""
    if issubclass(category, MnistnpWarning):
        print(f"mnistnp: warning: {message}", file=sys.stderr, flush=True)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)  # type: ignore[arg-type]


_default_showwarning = warnings.showwarning


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    if supervise.wanted(argv):
        supervise.become(sys.argv[1:])  # under mpiexec: a supervisor that names a killed rank
    supervise.die_with_supervisor()
    quiet_followers()  # under mpiexec, rank 0 alone speaks
    with warnings.catch_warnings():
        warnings.simplefilter("always", MnistnpWarning)  # every occurrence, not once per place
        warnings.showwarning = show_warning
        return _main(argv)


def _checksum_hint(args: argparse.Namespace, e: datasets.ChecksumMismatch) -> str:
    """What would load the files of a --data-dir that are not the named dataset's as a user's
    own, unchecked: leaving out --dataset or, as ``train`` takes a folder's name for its
    dataset, a folder of another name. Nothing for the dataset's own places."""
    given = getattr(args, "data_dir", None)
    if given is None:
        return ""
    named = getattr(args, "dataset", None)
    if args.command == "train" and given.resolve().name in datasets.REGISTRY:
        drop = " and no --dataset" if named else ""
        return (f"; {given} is taken for {given.resolve().name}'s files by its name, so they "
                f"are checked: for your own files, unchecked, use a folder of another name"
                f"{drop}")
    if named:
        return (f"; if these are your own files, not {e.dataset}'s, drop --dataset {named} to "
                f"load the files in {given} unchecked, as custom IDX files")
    return ""


def _check_environment() -> None:
    """Settings read from the environment, checked before any work (not mid-training)."""
    from ..nn import threads

    try:
        threads.num_threads()
    except ValueError as e:
        raise UsageError(f"environment variable {e}") from None


def _whose(args: argparse.Namespace, e: SettingError) -> str:
    """Whose the setting at fault is when the user did not give it: the recipe's (or the
    checkpoint's), so a message never reads as if the user had typed it."""
    option = str(e).split(" ", 1)[0].replace("-", "_")
    if getattr(args, option, None) is not None:
        return ""
    return "the checkpoint's " if getattr(args, "resume", None) else (
        f"the {getattr(args, 'recipe', 'default')} recipe's ")


def _main(argv: Sequence[str] | None) -> int:
    args = _parse(list(sys.argv[1:] if argv is None else argv))
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded in settings.json
    try:
        _check_environment()
        return int(args.func(args))
    except Exit as e:
        return e.status
    except UsageError as e:
        print(f"mnistnp {args.command}: error: {e}", file=sys.stderr)
        return 2
    except SettingError as e:  # an option's value the data cannot take: a usage error too
        print(f"mnistnp {args.command}: error: {_whose(args, e)}--{e}", file=sys.stderr)
        return 2
    except MnistnpError as e:
        hint = _checksum_hint(args, e) if isinstance(e, datasets.ChecksumMismatch) else ""
        print(f"mnistnp: error: {e}{hint}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader (e.g. `head`) left: stop quietly, and keep the final flush quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as e:  # a write the checks before training could not foresee: disk full...
        where = f"{e.filename}: " if e.filename else ""
        print(f"mnistnp: error: {where}{e.strerror or e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mnistnp: interrupted", file=sys.stderr)
        faults.end_shared_job(130)  # under mpiexec, the other ranks may wait for this one
        return 130
