"""``mnistnp info``: what a saved model is (layers, parameters, FLOPs), what it scored and
where it came from."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..describe import describe, format_description
from ..model_file import load_model
from . import options as opt


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "info", help="describe a saved model",
        description="Print a model's layers as a table (output shape, parameters and "
        "floating-point operations per sample in inference, a multiply-add counted as 2), "
        "its totals, the metrics its training recorded, and where it came from: the dataset "
        "and the SHA-256 of its files, the recipe, seed and settings, the mnistnp version "
        "and the date it was saved. The file is checked as 'evaluate' checks it.")
    parser.add_argument("model", type=Path, nargs="?", metavar="MODEL.npz",
                        help="a model file written by 'mnistnp train'")
    parser.add_argument("--model", type=Path, dest="model_option", metavar="MODEL.npz",
                        help="the same, given as evaluate and predict take it")
    parser.add_argument("--json", action="store_true",
                        help="print the same as one JSON object")
    return parser


def run(args: argparse.Namespace) -> int:
    given = [path for path in (args.model, args.model_option) if path is not None]
    if len(given) != 1:
        raise opt.UsageError("give one model file: mnistnp info MODEL.npz")
    model = load_model(given[0])
    description = describe(model)
    print(json.dumps(description, indent=2) if args.json else format_description(description))
    return 0
