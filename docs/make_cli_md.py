"""Keep docs/cli.md in step with the command's parser: rewrite each generated block in it.

    python docs/make_cli_md.py           # rewrite docs/cli.md's generated blocks
    python docs/make_cli_md.py --check   # exit 1 if they are out of date (the tests run this)

docs/cli.md is written by hand, except the blocks between

    <!-- generated: mnistnp train --help -->
    ...
    <!-- end generated -->

which hold that command's ``--help`` as argparse prints it (100 columns wide, no colour), and
``<!-- generated: layer items -->``, which lists the item names a layer string takes (from
``mnistnp.nn.SHORTHANDS``). Only the generated blocks are rewritten.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
from pathlib import Path

CLI_MD = Path(__file__).resolve().parent / "cli.md"
BLOCK = re.compile(r"(<!-- generated: (.+?) -->\n)(.*?)(<!-- end generated -->)", re.S)
WIDTH = "100"


def help_text(argv: list[str]) -> str:
    """What ``mnistnp ARGV --help`` prints, at a fixed width and without colour."""
    os.environ["COLUMNS"] = WIDTH
    os.environ["PYTHON_COLORS"] = "0"
    os.environ["NO_COLOR"] = "1"
    from mnistnp.cli import _build

    parser, commands = _build()
    target = commands[argv[0]] if argv else parser
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        target.print_help()
    return out.getvalue()


def layer_items() -> str:
    from mnistnp.nn import SHORTHANDS

    return "Items a layer string takes: " + ", ".join(f"`{n}`" for n in sorted(SHORTHANDS))


def render(what: str) -> str:
    """The body of the generated block named ``what``."""
    if what == "layer items":
        return layer_items() + "\n"
    words = what.split()
    if words[0] != "mnistnp" or words[-1] != "--help":
        raise SystemExit(f"docs/cli.md: unknown generated block {what!r}")
    return "```text\n" + help_text(words[1:-1]).rstrip() + "\n```\n"


def regenerate(text: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + render(m.group(2)) + m.group(4), text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only say whether docs/cli.md is up to date (exit 1 if not)")
    args = parser.parse_args()
    text = CLI_MD.read_text(encoding="utf-8")
    new = regenerate(text)
    if args.check:
        if new != text:
            print("docs/cli.md is out of date with the parser: run python docs/make_cli_md.py",
                  file=sys.stderr)
            return 1
        return 0
    if new != text:
        CLI_MD.write_text(new, encoding="utf-8")
        print("docs/cli.md rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
