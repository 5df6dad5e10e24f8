"""``mnistnp evaluate``: a saved model's test accuracy, calibration error, per-class accuracy and
confusion matrix."""

from __future__ import annotations

import argparse
import unicodedata
from pathlib import Path
from typing import Any

from ..errors import MnistnpError
from ..evaluation import Evaluation, evaluate_on
from ..model_file import load_model
from ..nn import Sequential
from ..sources import DataSource, SourceUnknown, source_for, trained_on
from . import options as opt


def add_parser(sub: Any) -> argparse.ArgumentParser:

    parser = sub.add_parser("evaluate", help="test a saved model",
                            description="Print a model's test accuracy (first line, "
                            "'accuracy: NN.NN%'), the data it was scored on (the test split "
                            "of a dataset or folder), its expected calibration error, its "
                            "per-class accuracy and its confusion matrix.")
    parser.add_argument("--model", type=Path, required=True, metavar="MODEL.npz",
                        help="a model file written by 'mnistnp train'")
    opt.add_data_options(parser, default="the dataset the model was trained on")
    return parser


def run(args: argparse.Namespace) -> int:
    model = load_model(args.model)
    _, evaluation = scored(args, model, args.model)
    cm = evaluation.confusion
    names = evaluation.class_names
    # A class is shown by its number, and by its name where it has one (Fashion-MNIST).
    labels = [f"{c:>3}" + ("" if name == str(c) else f" {name}") for c, name in enumerate(names)]
    wide = max(map(_width, labels))
    bins = evaluation.reliability
    print(f"accuracy: {100 * evaluation.accuracy:.2f}%")
    print(f"on {evaluation.data}: {len(evaluation.labels):,} images")
    print(f"expected calibration error: {100 * bins.ece:.2f}% ({len(bins.count)} bins of "
          f"confidence)")
    print("per-class accuracy:")
    for label, acc, count in zip(labels, evaluation.per_class, cm.sum(axis=1)):
        shown = "   n/a" if count == 0 else f"{100 * acc:6.2f}%"
        print(f"{_pad(label + ':', wide + 1)} {shown} of {count:,}")
    width = max(5, len(str(cm.max())) + 1)
    print("confusion matrix (rows: true class, columns: predicted class):")
    print(" " * (wide + 1) + "".join(f"{c:>{width}}" for c in range(len(cm))))
    for label, row in zip(labels, cm):
        print(f"{_pad(label, wide)} " + "".join(f"{v:>{width}}" for v in row))
    return 0


def scored(args: argparse.Namespace, model: Sequential, path: Path
           ) -> tuple[DataSource, Evaluation]:
    """The data the options name (``--dataset``, ``--data-dir``, fetched first with
    ``--download``) or the file records, and ``model``, read from ``path``, scored on its
    test split; shared by ``evaluate``, ``plot`` and ``report``."""
    try:
        source = source_for(model, path, args.dataset, args.data_dir)
    except SourceUnknown as e:
        flags = " or ".join({"dataset": "--dataset NAME", "data_dir": "--data-dir DIR"}[option]
                            for option in e.options)
        raise MnistnpError(f"{e.what}; give {flags}") from None
    if args.download:
        from .download import fetch

        fetch(source.name or trained_on(model.info) or "", source.data_dir)
    return source, evaluate_on(model, path, source)


def _width(text: str) -> int:
    """Terminal columns: a wide character (Kuzushiji's hiragana) takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
