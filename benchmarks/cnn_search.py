"""Search for the CNN recipe: train one candidate network on MNIST's first 55,000
training images and score it on the validation split (the last 5,000) after every epoch.

    OPENBLAS_NUM_THREADS=1 python benchmarks/cnn_search.py --arch c32-p-c64-c64-p-d256 \\
        [--epochs 12] [--optimizer adamw|sgd] [--lr 2e-3] [--weight-decay 0.05] \\
        [--warmup 1] [--augment affine|shift|none] [--rotate 10] [--scale 0.1] [--shift 2] \\
        [--dropout 0.25] [--seed 0] [--results search.jsonl]

``--arch`` is a short form, tokens joined by "-", turned into a layer string (printed first):
``cF`` (or ``cFkK``) is ``conv:F:K,bn`` (a K x K "same" convolution to F channels, K = 3 if
not given, then batch norm; the ReLU comes after any pool that follows), ``p`` is
``maxpool:2``, ``g`` is ``gap``, ``dN`` is ``dense:N`` followed by ``dropout:P`` with
``--dropout P``; the augmentation goes first (``affine:ROT:SCALE:SHIFT`` or ``shift:PX``) and
the output layer is added, as for ``mnistnp train --layers``. So each candidate is also a plain
``mnistnp train --layers ... --optimizer ... --epochs ...`` command; this script only prints the
validation figures as JSON lines (appended to ``--results``) and never looks at the test set.
Each line: the epoch's mean training loss, the validation loss and accuracy, the training
seconds (fit's clock, without validation), the epoch's last learning rate (``rate``), the
1-minute load average and the BLAS threads.
"""

from __future__ import annotations

import argparse
import json
import math
import os

import numpy as np

from mnistnp import datasets
from mnistnp.callbacks import Callback, LearningRateScheduler, TrainContext
from mnistnp.nn.arch import network
from mnistnp.optim import SGD, AdamW, Cosine, Optimizer
from mnistnp.training import fit


def layer_string(args: argparse.Namespace) -> str:
    """The layer string of ``--arch`` with the augmentation and dropout asked for."""
    items = {"affine": [f"affine:{args.rotate:g}:{args.scale:g}:{args.shift}"],
             "shift": [f"shift:{args.shift}"], "none": []}[args.augment]
    for token in args.arch.split("-"):
        if token.startswith("c"):
            width, _, kernel = token[1:].partition("k")
            items += [f"conv:{int(width)}:{int(kernel or 3)}", "bn"]
        elif token == "p":
            items.append("maxpool:2")
        elif token == "g":
            items.append("gap")
        elif token.startswith("d"):
            items.append(f"dense:{int(token[1:])}")
            if args.dropout:
                items.append(f"dropout:{args.dropout:g}")
        else:
            raise SystemExit(f"cnn_search: unknown --arch token {token!r}")
    return ",".join(items)


class Report(Callback):
    """Prints each epoch's training and validation figures as a JSON line, and appends them
    with the run's settings to ``results`` if given."""

    def __init__(self, settings: dict[str, object], results: str) -> None:
        self.settings, self.results = settings, results

    def on_epoch_end(self, ctx: TrainContext) -> None:
        h = ctx.history
        row = {"epoch": h.epochs, "loss": round(h.epoch_loss[-1], 5),
               "val_loss": round(h.epoch_val_loss[-1], 5),
               "val_accuracy": h.epoch_val_accuracy[-1],
               "seconds": round(h.epoch_seconds[-1], 2), "rate": h.epoch_lr[-1],
               "load": round(os.getloadavg()[0], 2)}
        print(json.dumps(row), flush=True)
        if self.results:
            with open(self.results, "a", encoding="utf-8") as f:
                f.write(json.dumps({**self.settings, **row}) + "\n")


def optimizer_for(args: argparse.Namespace) -> Optimizer:
    if args.optimizer == "adamw":
        return AdamW(args.lr, weight_decay=args.weight_decay)
    return SGD(args.lr, momentum=0.9, nesterov=True, weight_decay=args.weight_decay)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="c32-p-c64-c64-p-d256")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--optimizer", choices=["adamw", "sgd"], default="adamw")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--warmup", type=float, default=1.0, help="epochs of linear warmup")
    parser.add_argument("--augment", choices=["none", "shift", "affine"], default="affine")
    parser.add_argument("--rotate", type=float, default=10.0, help="degrees, at most")
    parser.add_argument("--scale", type=float, default=0.1, help="scaled by 1 -/+ this")
    parser.add_argument("--shift", type=int, default=2, help="whole pixels, at most")
    parser.add_argument("--dropout", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", default="")
    args = parser.parse_args()

    (x_all, y_all), _ = datasets.load()  # the test set is never looked at here
    (x_train, y_train), validation = datasets.validation_split(x_all, y_all, 1 / 12)
    rng = np.random.default_rng(args.seed)
    layers = layer_string(args)
    model = network(layers, x_train.shape[1:], 10, rng=rng)
    steps = math.ceil(len(x_train) / args.batch)
    settings = {**{k: v for k, v in vars(args).items() if k != "results"}, "layers": layers,
                "threads": os.environ.get("OPENBLAS_NUM_THREADS", "unset"),
                "params": int(model.params.size)}
    print(json.dumps(settings), flush=True)
    schedule = Cosine(args.lr, args.epochs * steps, args.warmup, steps_per_epoch=steps)
    history = fit(model, x_train, y_train, optimizer_for(args), rng=rng, epochs=args.epochs,
                  batch_size=args.batch, validation=validation,
                  callbacks=[LearningRateScheduler(schedule), Report(settings, args.results)])
    print(json.dumps({"final_val_accuracy": history.epoch_val_accuracy[-1],
                      "train_seconds": round(history.seconds, 1)}), flush=True)


if __name__ == "__main__":
    main()
