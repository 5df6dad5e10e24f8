"""``mnistnp train``: train from a recipe plus overrides; save the model, settings, metrics
and learning curve; with --repeats, several seeds and their mean ± std."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..atomic import atomic_write, check_writable
from ..config import DTYPES, OPTIMIZER_DEFAULTS, RECIPES, TrainConfig
from ..errors import MnistnpError
from ..io import save_model
from ..optim import OPTIMIZERS, SCHEDULES
from ..signals import StopRequest
from ..training import Interrupted
from . import options as opt


def add_parser(sub: Any) -> argparse.ArgumentParser:
    from . import add_data_options

    p = sub.add_parser("train", help="train a model and save it",
                       description="Train a model, print its train, validation and test "
                       "accuracy, and save the model, the settings, the per-epoch metrics and "
                       "the learning curve.")
    r = p.add_argument_group("recipe (every option below overrides it)")
    r.add_argument("--recipe", choices=sorted(RECIPES), default="default",
                   help="preset settings: 'default' (fast), 'best' (most accurate) or "
                   "'notebook' (the seed notebook's full-batch descent, bugs fixed)")
    r.add_argument("--hidden", type=opt.hidden_sizes, metavar="W,W,...",
                   help="hidden-layer widths, e.g. 50,50,50 for a 784-50-50-50-10 net")
    r.add_argument("--epochs", type=opt.positive_int, metavar="N", help="passes over the data")
    r.add_argument("--iterations", type=opt.positive_int, metavar="N",
                   help="gradient steps in all (overrides --epochs)")
    r.add_argument("--batch-size", type=opt.batch_size, metavar="B",
                   help="samples per step, or 'full' for full-batch gradient descent")
    r.add_argument("--dtype", choices=DTYPES, help="floating-point precision")
    r.add_argument("--seed", type=opt.natural_int, metavar="S",
                   help="seed for weights, batch order and dropout (default 0)")
    o = p.add_argument_group("optimizer and schedule")
    o.add_argument("--optimizer", choices=sorted(OPTIMIZERS))
    o.add_argument("--lr", type=opt.positive_float, metavar="LR", help="(peak) learning rate")
    o.add_argument("--momentum", type=opt.unit_float, metavar="M", help="momentum for sgd")
    o.add_argument("--nesterov", action="store_true", default=None,
                   help="Nesterov momentum (sgd)")
    o.add_argument("--weight-decay", type=opt.natural_float, metavar="WD",
                   help="L2 penalty (sgd, adam) or decoupled decay (adamw)")
    o.add_argument("--schedule", choices=sorted(SCHEDULES), help="learning-rate schedule")
    o.add_argument("--warmup-epochs", type=opt.natural_float, metavar="E",
                   help="linear warmup before the cosine decay, in epochs")
    o.add_argument("--step-epochs", type=opt.positive_int, metavar="N",
                   help="step schedule: epochs between drops")
    o.add_argument("--gamma", type=opt.gamma_float, metavar="G",
                   help="step and plateau schedules: factor applied at each drop")
    o.add_argument("--plateau-patience", type=opt.natural_int, metavar="N",
                   help="plateau schedule: epochs without a better val_loss before a drop")
    g = p.add_argument_group("regularization and validation")
    g.add_argument("--dropout", type=opt.unit_float, metavar="P",
                   help="inverted dropout after each hidden layer (off in evaluation)")
    g.add_argument("--shift", type=opt.natural_int, metavar="PX",
                   help="augmentation: move training images by up to PX pixels at random")
    g.add_argument("--clip-norm", type=opt.positive_float, metavar="C",
                   help="clip the gradient's global L2 norm to C")
    g.add_argument("--val-split", type=opt.val_split, metavar="F|N",
                   help="validation held out from the end of the training set: a fraction or "
                   "a count; 0 turns it off (default 1/12: 5,000 of MNIST's 60,000)")
    g.add_argument("--patience", type=opt.positive_int, metavar="N",
                   help="early stopping: stop after N epochs without a better val_loss and "
                   "restore the best weights")
    add_data_options(p)
    out = p.add_argument_group("output")
    out.add_argument("--out", type=Path, metavar="MODEL.npz",
                     help="where the model goes (exactly this path; default: the run folder)")
    out.add_argument("--plot", type=Path, metavar="CURVE.png",
                     help="where the learning curve goes (default: the run folder)")
    out.add_argument("--metrics", type=Path, metavar="PATH",
                     help="where the per-epoch JSON lines go (default: the run folder)")
    out.add_argument("--run-dir", type=Path, metavar="DIR",
                     help="folder for the settings, metrics, curve and (without --out) model; "
                     "default: a new runs/<timestamp>/")
    out.add_argument("--repeats", type=opt.positive_int, default=1, metavar="K",
                     help="train K seeds (S, S+1, ...) and report test accuracy as mean ± std; "
                     "--out then gets the seed with the best validation accuracy")
    out.add_argument("--checkpoint-every", type=opt.natural_int, default=0, metavar="N",
                     help="write the run folder's checkpoint.npz every N epochs (it is also "
                     "written on Ctrl-C or SIGTERM)")
    out.add_argument("--resume", type=Path, metavar="CHECKPOINT",
                     help="continue the run saved in CHECKPOINT with its own settings (in its "
                     "folder unless --run-dir is given)")
    out.add_argument("--log-every", type=opt.natural_int, metavar="N",
                     help="iterations between cost lines; 0 prints one line per epoch")
    out.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    return p


_OVERRIDES = ("hidden", "epochs", "iterations", "dtype", "seed", "optimizer", "lr", "momentum",
              "nesterov", "weight_decay", "schedule", "warmup_epochs", "step_epochs", "gamma",
              "plateau_patience", "dropout", "shift", "clip_norm", "val_split", "patience",
              "log_every", "dataset")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The recipe with every option given on the command line applied."""
    try:  # a bad value, or an option the chosen optimizer or schedule would ignore
        config = RECIPES[args.recipe].with_overrides(
            **{name: getattr(args, name) for name in _OVERRIDES})
    except ValueError as e:
        raise opt.UsageError(f"--{e}") from None
    if args.batch_size is not None:
        config = replace(config, batch_size=args.batch_size or None)  # 0 means 'full'
    if args.data_dir:
        config = replace(config, data_dir=str(args.data_dir),
                         dataset=args.dataset or args.data_dir.resolve().name)
    try:
        return config.validate()
    except ValueError as e:
        raise opt.UsageError(f"--{e}") from None


def run(args: argparse.Namespace) -> int:
    from ..checkpoint import load_checkpoint
    from ..pipeline import load_data

    if args.repeats > 1 and (args.plot or args.metrics):
        raise opt.UsageError("--plot and --metrics name one run's files; with --repeats each "
                             "seed's files go to its own folder in the run folder")
    resume = None
    if args.resume:
        given = [f"--{n.replace('_', '-')}" for n in (*_OVERRIDES, "batch_size", "data_dir")
                 if getattr(args, n, None) is not None] + (["--repeats"] if args.repeats > 1
                                                           else [])
        if given or args.recipe != "default":
            raise opt.UsageError(f"--resume continues with the checkpoint's own settings; "
                                 f"drop {', '.join(given) or '--recipe'}")
        resume = load_checkpoint(args.resume)
        args.run_dir = args.run_dir or args.resume.parent
        config = resume.config
    else:
        config = config_from_args(args)
    args.resume_from = resume
    if args.download:
        from .download import fetch_dataset

        fetch_dataset(config.dataset, config.data_dir)  # with --resume, the checkpoint's
    data = load_data(config)
    for option in ("out", "plot", "metrics"):
        path = getattr(args, option)
        problem = path and check_writable(path)
        if problem:
            raise MnistnpError(f"--{option} {path}: {problem}")
    run_dir = args.run_dir or new_run_dir()
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "settings.json", {
        "recipe": args.recipe, "repeats": args.repeats, "config": config.to_dict(),
        "mnistnp": __version__, "command": ["mnistnp", *args.argv], "created": _now()})
    seeds = [config.seed + k for k in range(args.repeats)]
    results = []
    for seed in seeds:
        folder = run_dir if len(seeds) == 1 else run_dir / f"seed-{seed}"
        folder.mkdir(exist_ok=True)
        results.append(_train_one(args, replace(config, seed=seed), data, folder))
    if len(seeds) > 1:
        _summarise(seeds, [r for r, _ in results], run_dir)
        if args.out:
            best = _best_by_validation([r for r, _ in results])
            result, info = results[best]
            save_model(args.out, result.model, info)
            print(f"model (seed {seeds[best]}, best validation accuracy): {args.out}")
    return 0


def _best_by_validation(results: list[Any]) -> int:
    """The run with the best validation accuracy (the first if none has validation)."""
    return int(np.argmax([r.val_accuracy if r.val_accuracy is not None else -1.0
                          for r in results]))


def _train_one(args: argparse.Namespace, config: TrainConfig, data: Any, folder: Path
               ) -> tuple[Any, dict[str, Any]]:
    from ..pipeline import num_classes, train
    from ..plots import plot_learning_curve

    (x_train, y_train), (_, y_test) = data
    sizes = "-".join(map(str, (int(np.prod(x_train.shape[1:])), *config.hidden,
                               num_classes(config, y_train, y_test))))
    model_path = args.out if args.out and args.repeats == 1 else folder / "model.npz"
    plot_path = args.plot or folder / "learning_curve.png"
    metrics_path = args.metrics or folder / "metrics.jsonl"
    decay = f" weight decay {config.weight_decay:g}" if config.weight_decay else ""
    print(f"training {sizes} on {config.dataset}, recipe {args.recipe}: {_rate(args, config)}"
          f"{decay}, batch {config.batch_size or 'full'}, {config.dtype}, seed "
          f"{config.seed}", flush=True)
    checkpoint = folder / "checkpoint.npz"
    try:
        with StopRequest() as stop:
            result = train(config, data, log=lambda line: print(line, flush=True),
                           progress=False if args.no_progress else None,
                           metrics_path=str(metrics_path), resume=args.resume_from,
                           checkpoint_path=str(checkpoint),
                           checkpoint_every=args.checkpoint_every, should_stop=stop)
    except Interrupted as e:
        print(f"mnistnp: stopped at epoch {e.state.epoch + 1}, batch {e.state.batch}; "
              f"checkpoint: {checkpoint}\nresume with: mnistnp train --resume {checkpoint}",
              file=sys.stderr)
        raise opt.Exit(128 + (stop.signum or 2)) from None
    h = result.history
    stopped = f", best epoch {h.best_epoch} restored" if h.best_epoch else ""
    print(f"trained in {h.seconds:.1f} s ({h.iterations:,} iterations, {h.epochs} epochs"
          f"{stopped})")
    print(f"train accuracy: {100 * result.train_accuracy:.2f}%")
    if result.val_accuracy is not None:
        print(f"validation accuracy: {100 * result.val_accuracy:.2f}%")
    print(f"test accuracy: {100 * result.test_accuracy:.2f}%")
    info = {"seed": config.seed, "dataset": config.dataset, "recipe": args.recipe,
            "config": config.to_dict(), "metrics": result.metrics, "mnistnp": __version__,
            "saved": _now()}
    save_model(model_path, result.model, info)
    plot_learning_curve(h, plot_path, f"{sizes}, recipe {args.recipe}, seed {config.seed}: "
                        f"test accuracy {100 * result.test_accuracy:.2f}%")
    print(f"model: {model_path}\nlearning curve: {plot_path}\nmetrics: {metrics_path}",
          flush=True)
    return result, info


def _rate(args: argparse.Namespace, config: TrainConfig) -> str:
    """'sgd lr 0.05 momentum 0.9', saying which of these are the optimizer's own defaults,
    taken because the recipe's were for another optimizer."""
    text = f"{config.optimizer} lr {config.lr:g}"
    if config.momentum:
        text += f" momentum {config.momentum:g}{' Nesterov' if config.nesterov else ''}"
    recipe = RECIPES.get(args.recipe)
    if args.resume or recipe is None or config.optimizer == recipe.optimizer:
        return text  # a resumed run's settings are the checkpoint's, not the recipe's
    taken = [name for name in OPTIMIZER_DEFAULTS.get(config.optimizer, {})
             if getattr(args, name) is None]
    if taken:
        why = f"; the recipe's lr {recipe.lr:g} is for {recipe.optimizer}" if "lr" in taken else ""
        text += f" ({config.optimizer}'s default {' and '.join(taken)}{why})"
    return text


def _summarise(seeds: list[int], results: list[Any],
               run_dir: Path) -> None:
    """Print and save the mean ± std of test accuracy and time over the seeds."""
    tests = [100 * r.test_accuracy for r in results]
    secs = [r.history.seconds for r in results]
    print(f"test accuracy over {len(seeds)} seeds: {statistics.mean(tests):.2f} ± "
          f"{statistics.stdev(tests):.2f}% (mean ± std; {', '.join(f'{t:.2f}' for t in tests)})")
    print(f"training time: {statistics.mean(secs):.1f} ± {statistics.stdev(secs):.1f} s")
    write_json(run_dir / "summary.json", {
        "seeds": seeds, "test_accuracy": tests, "train_seconds": secs,
        "val_accuracy": [r.val_accuracy for r in results]})


def new_run_dir() -> Path:
    """A fresh runs/<timestamp>/ under the current folder (suffixed if taken)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path, n = Path("runs") / stamp, 1
    while path.exists():
        n += 1
        path = Path("runs") / f"{stamp}-{n}"
    return path


def write_json(path: Path, data: dict[str, Any]) -> None:
    with atomic_write(path, "w") as f:
        json.dump(data, f, indent=2, default=str)
        f.write("\n")


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")
