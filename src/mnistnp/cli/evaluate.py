"""``mnistnp evaluate``: a saved model's test accuracy, per-class accuracy and confusion matrix."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from .. import datasets
from ..errors import MnistnpError
from ..io import load_model
from ..metrics import accuracy, confusion_matrix, per_class_accuracy
from ..nn import Sequential


def add_parser(sub: Any) -> argparse.ArgumentParser:
    from . import add_data_options

    parser = sub.add_parser("evaluate", help="test a saved model",
                            description="Print a model's test accuracy (first line, "
                            "'accuracy: NN.NN%'), its per-class accuracy and its confusion "
                            "matrix.")
    parser.add_argument("--model", type=Path, required=True, metavar="MODEL.npz",
                        help="a model file written by 'mnistnp train'")
    add_data_options(parser, default="the dataset the model was trained on")
    return parser


def run(args: argparse.Namespace) -> int:
    model = load_model(args.model)
    name = args.dataset or (None if args.data_dir else model_dataset(model))
    if args.download:
        from .download import fetch_dataset

        fetch_dataset(name or model_dataset(model), args.data_dir)
    _, (x_test, y_test) = datasets.load(name, args.data_dir)
    check_input(args.model, model, x_test.shape[1:])
    predicted = model.predict(x_test)
    cm = confusion_matrix(y_test, predicted, model.num_classes)
    print(f"accuracy: {100 * accuracy(y_test, predicted):.2f}%")
    print("per-class accuracy:")
    for c, (acc, count) in enumerate(zip(per_class_accuracy(cm), cm.sum(axis=1))):
        shown = "   n/a" if count == 0 else f"{100 * acc:6.2f}%"
        print(f"  {c}: {shown} of {count:,}")
    width = max(5, len(str(cm.max())) + 1)
    print("confusion matrix (rows: true class, columns: predicted class):")
    print("    " + "".join(f"{c:>{width}}" for c in range(len(cm))))
    for c, row in enumerate(cm):
        print(f"{c:>3} " + "".join(f"{v:>{width}}" for v in row))
    return 0


def model_dataset(model: Sequential) -> str:
    """The registered dataset the model was trained on, else mnist."""
    name = model.info.get("dataset")
    return name if isinstance(name, str) and name in datasets.REGISTRY else "mnist"


def check_input(path: Path, model: Sequential, shape: tuple[int, ...]) -> None:
    """Refuse images whose pixel count is not the model's input size."""
    expected = model.input_size
    if expected != int(np.prod(shape)):
        raise MnistnpError(f"{path}: the model takes {expected} inputs but the images are "
                           f"{'x'.join(map(str, shape))}")
