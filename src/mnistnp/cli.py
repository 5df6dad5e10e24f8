"""The ``mnistnp`` command: argparse subcommands over the Python API; ``main(argv)`` returns
the exit status."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np

from . import __version__, datasets
from .atomic import atomic_write, check_writable
from .config import DTYPES, RECIPES
from .errors import MnistnpError
from .io import load_model, save_model
from .metrics import accuracy, confusion_matrix, per_class_accuracy
from .optim import OPTIMIZERS, SCHEDULES

# ---- option value parsers: each names the problem; argparse adds the option's name ----


def _number(kind: Callable[[str], float], test: Callable[[float], bool], what: str
            ) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return parse


positive_int = _number(int, lambda v: v >= 1, "a whole number >= 1")
natural_int = _number(int, lambda v: v >= 0, "a whole number >= 0")
positive_float = _number(float, lambda v: math.isfinite(v) and v > 0, "a finite number > 0")
unit_float = _number(float, lambda v: 0 <= v < 1, "a number in [0, 1)")


def hidden_sizes(text: str) -> tuple[int, ...]:
    """'50,50,50' -> (50, 50, 50); every width a whole number >= 1."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated widths >= 1 such as 50,50,50, got {text!r}")
    return sizes


def batch_size(text: str) -> int:
    """A whole number >= 1, or 'full' (encoded as 0) for the whole training set."""
    return 0 if text == "full" else int(positive_int(text))


# ---- the parser ----


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mnistnp", description="Train, evaluate and use NumPy neural networks on MNIST.")
    parser.add_argument("--version", action="version", version=f"mnistnp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="train a model and save it",
                           description="Train a model, print its train and test accuracy, and "
                           "save the model, the settings and the learning curve.")
    recipe = train.add_argument_group("recipe (each option below overrides it)")
    recipe.add_argument("--recipe", choices=sorted(RECIPES), default="default",
                        help="preset settings: 'default' (mini-batch Adam, fast and accurate) or "
                        "'notebook' (the seed notebook's full-batch descent, bugs fixed)")
    recipe.add_argument("--hidden", type=hidden_sizes, metavar="W,W,...",
                        help="hidden-layer widths (default 50,50,50: a 784-50-50-50-10 net)")
    recipe.add_argument("--epochs", type=positive_int, metavar="N", help="passes over the data")
    recipe.add_argument("--iterations", type=positive_int, metavar="N",
                        help="gradient steps in all (overrides --epochs)")
    recipe.add_argument("--batch-size", type=batch_size, metavar="B",
                        help="samples per step, or 'full' for full-batch gradient descent")
    recipe.add_argument("--optimizer", choices=sorted(OPTIMIZERS))
    recipe.add_argument("--lr", type=positive_float, metavar="LR", help="learning rate")
    recipe.add_argument("--momentum", type=unit_float, metavar="M", help="momentum for sgd")
    recipe.add_argument("--schedule", choices=sorted(SCHEDULES),
                        help="learning-rate schedule over the run")
    recipe.add_argument("--dtype", choices=DTYPES, help="floating-point precision")
    recipe.add_argument("--seed", type=natural_int, metavar="S",
                        help="seed for weights and batch order (default 0)")
    recipe.add_argument("--log-every", type=natural_int, metavar="N",
                        help="iterations between cost lines; 0 prints one per epoch")
    _add_data_options(train)
    out = train.add_argument_group("output")
    out.add_argument("--out", type=Path, metavar="MODEL.npz",
                     help="where the model goes (exactly this path; default: in the run folder)")
    out.add_argument("--plot", type=Path, metavar="CURVE.png",
                     help="where the learning curve goes (default: in the run folder)")
    out.add_argument("--run-dir", type=Path, metavar="DIR",
                     help="folder for the settings, the curve and (without --out) the model; "
                     "default: a new runs/<timestamp>/")
    out.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("evaluate", help="test a saved model",
                              description="Print a model's test accuracy, its per-class accuracy "
                              "and its confusion matrix.")
    evaluate.add_argument("--model", type=Path, required=True, metavar="MODEL.npz")
    _add_data_options(evaluate, default_help="default: the dataset the model was trained on")
    evaluate.set_defaults(func=cmd_evaluate)

    predict = sub.add_parser("predict", help="classify image files",
                             description="Print '<path>: <digit> (p=...)' for each image. Images "
                             "(PNG or JPEG, any size or mode) are prepared the MNIST way.")
    predict.add_argument("--model", type=Path, required=True, metavar="MODEL.npz")
    predict.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    predict.set_defaults(func=cmd_predict)
    return parser


def _add_data_options(parser: argparse.ArgumentParser, default_help: str = "default: mnist"
                      ) -> None:
    group = parser.add_argument_group("data").add_mutually_exclusive_group()
    group.add_argument("--dataset", choices=sorted(datasets.REGISTRY),
                       help=f"a known dataset ({default_help}, bundled)")
    group.add_argument("--data-dir", type=Path, metavar="DIR",
                       help="a folder holding the four standard IDX files (.gz or not)")


# ---- commands ----


def cmd_train(args: argparse.Namespace) -> int:
    from .pipeline import load_data, num_classes, train
    from .plots import plot_learning_curve

    config = RECIPES[args.recipe].with_overrides(
        hidden=args.hidden, epochs=args.epochs, iterations=args.iterations,
        batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
        momentum=args.momentum, schedule=args.schedule, dtype=args.dtype, seed=args.seed,
        log_every=args.log_every, dataset=args.dataset,
        data_dir=str(args.data_dir) if args.data_dir else None)
    if args.batch_size == 0:  # 'full'
        config = replace(config, batch_size=None)
    if args.data_dir and not args.dataset:
        config = replace(config, dataset=args.data_dir.resolve().name)
    try:
        config.validate()
    except ValueError as e:
        raise MnistnpError(str(e)) from None

    data = load_data(config)
    run_dir = args.run_dir or _new_run_dir()
    model_path = args.out or run_dir / "model.npz"
    plot_path = args.plot or run_dir / "learning_curve.png"
    for option, path in (("--out", args.out), ("--plot", args.plot)):
        problem = path and check_writable(path)
        if problem:
            raise MnistnpError(f"{option} {path}: {problem}")
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_json(run_dir / "settings.json", {
        "recipe": args.recipe, "config": config.to_dict(), "mnistnp": __version__,
        "command": sys.argv, "model": str(model_path), "plot": str(plot_path)})

    (x_train, y_train), (x_test, y_test) = data
    sizes = "-".join(map(str, (int(np.prod(x_train.shape[1:])), *config.hidden,
                               num_classes(config, y_train, y_test))))
    print(f"training {sizes} on {config.dataset} ({len(x_train):,} train, {len(x_test):,} "
          f"test images), recipe {args.recipe}: {config.optimizer} lr {config.lr}, batch "
          f"{config.batch_size or 'full'}, {config.dtype}, seed {config.seed}", flush=True)
    result = train(config, data, log=lambda line: print(line, flush=True),
                   progress=False if args.no_progress else None)
    print(f"trained in {result.history.seconds:.1f} s ({result.history.iterations:,} iterations)")
    print(f"train accuracy: {100 * result.train_accuracy:.2f}%")
    print(f"test accuracy: {100 * result.test_accuracy:.2f}%")
    info = {"seed": config.seed, "dataset": config.dataset, "recipe": args.recipe,
            "config": config.to_dict(), "metrics": result.metrics, "mnistnp": __version__,
            "saved": datetime.now().isoformat(timespec="seconds")}
    save_model(model_path, result.model, info)
    plot_learning_curve(result.history, plot_path,
                        f"{sizes}, recipe {args.recipe}: test accuracy "
                        f"{100 * result.test_accuracy:.2f}%")
    print(f"model: {model_path}")
    print(f"learning curve: {plot_path}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    model = load_model(args.model)
    name = args.dataset or (None if args.data_dir else _model_dataset(model.info))
    (_, _), (x_test, y_test) = datasets.load(name, args.data_dir)
    _check_input(args.model, model, x_test.shape[1:])
    predicted = model.predict(x_test)
    k = model.num_classes
    cm = confusion_matrix(y_test, predicted, k)
    print(f"accuracy: {100 * accuracy(y_test, predicted):.2f}%")
    print("per-class accuracy:")
    for c, (acc, count) in enumerate(zip(per_class_accuracy(cm), cm.sum(axis=1))):
        shown = "   n/a" if count == 0 else f"{100 * acc:6.2f}%"
        print(f"  {c}: {shown} of {count:,}")
    width = max(5, len(str(cm.max())) + 1)
    print("confusion matrix (rows: true class, columns: predicted class):")
    print("    " + "".join(f"{c:>{width}}" for c in range(k)))
    for c, row in enumerate(cm):
        print(f"{c:>3} " + "".join(f"{v:>{width}}" for v in row))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .images import load_digit

    model = load_model(args.model)
    _check_input(args.model, model, (28, 28))
    status = 0
    for path in args.images:
        try:
            image = load_digit(path)
        except MnistnpError as e:
            print(f"mnistnp: error: {e}", file=sys.stderr)
            status = 1
            continue
        p = model.predict_proba(image[None])[0]
        print(f"{path}: {int(np.argmax(p))} (p={p.max():.2f})", flush=True)
    return status


# ---- helpers ----


def _model_dataset(info: dict) -> str:
    name = info.get("dataset")
    return name if isinstance(name, str) and name in datasets.REGISTRY else "mnist"


def _check_input(path: Path, model, shape: tuple[int, ...]) -> None:
    expected = model.layers[1].in_features if len(model.layers) > 1 else None
    if expected is not None and expected != int(np.prod(shape)):
        raise MnistnpError(f"{path}: the model takes {expected} inputs but the images are "
                           f"{'x'.join(map(str, shape))}")


def _new_run_dir() -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path, n = Path("runs") / stamp, 1
    while path.exists():
        n += 1
        path = Path("runs") / f"{stamp}-{n}"
    return path


def _write_json(path: Path, data: dict) -> None:
    with atomic_write(path, "w") as f:
        json.dump(data, f, indent=2, default=str)
        f.write("\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (2 for usage errors, 1 for bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except MnistnpError as e:
        print(f"mnistnp: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mnistnp: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (e.g. `head`) left; silence the second error on the final flush.
        sys.stdout = None
        return 141


if __name__ == "__main__":
    sys.exit(main())
