"""``mnistnp evaluate``: a saved model's test accuracy, per-class accuracy and confusion matrix."""

from __future__ import annotations

import argparse
import unicodedata
from pathlib import Path
from typing import Any

from .. import datasets
from ..errors import MnistnpError
from ..metrics import accuracy, confusion_matrix, per_class_accuracy
from ..model_file import load_model
from ..sources import DataSource, SourceUnknown, check_fits, source_for, trained_on
from . import options as opt


def add_parser(sub: Any) -> argparse.ArgumentParser:

    parser = sub.add_parser("evaluate", help="test a saved model",
                            description="Print a model's test accuracy (first line, "
                            "'accuracy: NN.NN%'), the data it was scored on (the test split "
                            "of a dataset or folder), its per-class accuracy and its confusion "
                            "matrix.")
    parser.add_argument("--model", type=Path, required=True, metavar="MODEL.npz",
                        help="a model file written by 'mnistnp train'")
    opt.add_data_options(parser, default="the dataset the model was trained on")
    return parser


def run(args: argparse.Namespace) -> int:
    model = load_model(args.model)
    try:
        source = source_for(model, args.model, args.dataset, args.data_dir)
    except SourceUnknown as e:
        flags = " or ".join({"dataset": "--dataset NAME", "data_dir": "--data-dir DIR"}[option]
                            for option in e.options)
        raise MnistnpError(f"{e.what}; give {flags}") from None
    if args.download:
        from .download import fetch

        fetch(source.name or trained_on(model.info) or "", source.data_dir)
    data = source.load()
    check_fits(model, args.model, data, source)
    _, (x_test, y_test) = data
    predicted = model.predict(x_test)
    cm = confusion_matrix(y_test, predicted, model.num_classes)
    names = datasets.class_names(source.registered or trained_on(model.info), len(cm))
    # A class is shown by its number, and by its name where it has one (Fashion-MNIST).
    labels = [f"{c:>3}" + ("" if name == str(c) else f" {name}") for c, name in enumerate(names)]
    wide = max(map(_width, labels))
    print(f"accuracy: {100 * accuracy(y_test, predicted):.2f}%")
    print(f"on {_test_split(source)}: {len(y_test):,} images")
    print("per-class accuracy:")
    for label, acc, count in zip(labels, per_class_accuracy(cm), cm.sum(axis=1)):
        shown = "   n/a" if count == 0 else f"{100 * acc:6.2f}%"
        print(f"{_pad(label + ':', wide + 1)} {shown} of {count:,}")
    width = max(5, len(str(cm.max())) + 1)
    print("confusion matrix (rows: true class, columns: predicted class):")
    print(" " * (wide + 1) + "".join(f"{c:>{width}}" for c in range(len(cm))))
    for label, row in zip(labels, cm):
        print(f"{_pad(label, wide)} " + "".join(f"{v:>{width}}" for v in row))
    return 0


def _test_split(source: DataSource) -> str:
    """"mnist's test split", "mnist's test split in DIR", "the test split in DIR"."""
    if source.registered:
        return f"{source.name}'s test split" + (f" in {source.data_dir}" if source.data_dir
                                                 else "")
    return f"the test split in {source.data_dir}"


def _width(text: str) -> int:
    """Terminal columns: a wide character (Kuzushiji's hiragana) takes two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
