"""``mnistnp train``: train from a recipe plus overrides; save the model, settings, metrics
and learning curve; with --repeats, several seeds and their mean ± std."""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import __version__, datasets
from ..atomic import check_writable
from ..config import OPTIMIZER_DEFAULTS, RECIPES, TrainConfig
from ..errors import MnistnpError, TrainingError
from ..io import save_model
from ..plots import plot_format
from ..progress import ESTIMATE_AFTER
from ..signals import StopRequest
from ..text import plural
from ..training import Interrupted
from . import options as opt
from .run_folder import new_run_dir, now, remove_run_files, settings_for, write_json
from .train_options import OVERRIDES, config_from_args
from .train_options import add_parser as add_parser  # the command table in cli/__init__ looks here

if TYPE_CHECKING:
    from ..checkpoint import Checkpoint


def run(args: argparse.Namespace) -> int:
    args.metrics_stream = None
    if args.metrics == "-":
        # The JSON lines own standard output (`| jq` reads them); the lines for a person go to
        # standard error, where the progress bar and warnings already are.
        args.metrics_stream = sys.stdout
        with contextlib.redirect_stdout(sys.stderr):
            return _run(args)
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    from ..pipeline import load_data

    if args.repeats > 1 and (args.plot or args.metrics):
        raise opt.UsageError("--plot and --metrics name one run's files; with --repeats each "
                             "seed's files go to its own folder in the run folder")
    resume = None
    if args.resume:
        resume = _resume(args)
        args.run_dir = args.run_dir or args.resume.parent
        config = resume.config
    else:
        config = config_from_args(args)
    args.resume_from = resume
    run_dir = args.run_dir or new_run_dir()
    # A resume carries on in its own folder; any other folder must not hold another run.
    reuse = not (resume and run_dir.resolve() == args.resume.parent.resolve())
    if reuse and not args.overwrite and run_dir.is_dir() and any(run_dir.iterdir()):
        raise opt.UsageError(f"--run-dir {run_dir} is not empty (an earlier run's files would "
                             f"be overwritten); give another folder, or --overwrite")
    if args.download:
        from .download import fetch

        fetch(config.dataset, config.data_dir)  # with --resume, the checkpoint's
    data = load_data(config)
    for option in ("out", "plot", "metrics"):
        path = getattr(args, option)
        problem = path and path != "-" and check_writable(path)
        if problem:
            raise MnistnpError(f"--{option} {path}: {problem}")
    if args.plot:
        try:
            plot_format(args.plot)
        except ValueError as e:
            raise opt.UsageError(f"--plot {e}") from None
    if config.dataset not in datasets.REGISTRY:  # what the labels alone say the classes are
        print(f"data in {config.data_dir}: {datasets.describe(data)}", flush=True)
    if reuse and args.overwrite:
        remove_run_files(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    settings = settings_for(args, config, resume)
    args.recipe = settings["recipe"] or "unknown"  # a resume's own is the run's
    write_json(run_dir / "settings.json", settings)
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
    print(f"settings: {run_dir / 'settings.json'}")
    return 0


_LONGER = ("epochs", "iterations")  # what --resume may change: the run's length


def _resume(args: argparse.Namespace) -> Checkpoint:
    """The checkpoint --resume names, made longer if --epochs or --iterations says so; a usage
    error for any other setting, or for a finished run not made longer."""
    from ..checkpoint import extend, load_checkpoint

    given = [f"--{n.replace('_', '-')}" for n in (*OVERRIDES, "batch_size", "data_dir")
             if n not in _LONGER and getattr(args, n, None) is not None]
    given += ["--repeats"] if args.repeats > 1 else []
    if given or args.recipe != "default":
        raise opt.UsageError(f"--resume continues with the checkpoint's own settings (only "
                             f"--epochs or --iterations, to make it longer); drop "
                             f"{', '.join(given) or '--recipe'}")
    ckpt = load_checkpoint(args.resume)
    if args.epochs is None and args.iterations is None:
        if ckpt.state.finished:
            raise opt.UsageError(f"--resume {args.resume}: {_complete(ckpt)}")
        return ckpt
    try:
        return extend(ckpt, args.epochs, args.iterations)
    except ValueError as e:
        raise opt.UsageError(f"--resume {args.resume}: {e}") from None


def _complete(ckpt: Checkpoint) -> str:
    """Why a finished checkpoint has nothing left to do, and what would make it go on."""
    h, c = ckpt.state.history, ckpt.config
    unit, done, planned = (("iterations", h.iterations, c.iterations) if c.iterations
                           else ("epochs", h.epochs, c.epochs))
    if done < planned:
        return f"the run is complete: early stopping ended it at epoch {h.epochs}"
    return (f"the run is complete ({done} of {planned} {unit}); to train further, give "
            f"--{unit} N larger than {planned}")


def _best_by_validation(results: list[Any]) -> int:
    """The run with the best validation accuracy (the first if none has validation)."""
    return int(np.argmax([r.val_accuracy if r.val_accuracy is not None else -1.0
                          for r in results]))


def _train_one(args: argparse.Namespace, config: TrainConfig, data: Any, folder: Path
               ) -> tuple[Any, dict[str, Any]]:
    from ..pipeline import num_classes, train
    from ..plots import plot_learning_curve

    (x_train, y_train), (_, y_test) = data
    # 784-50-50-50-10 for an MLP, 784-[dense:256,dropout:0.2]-10 for another network
    mlp, inputs = config.model.mlp_settings(), int(np.prod(x_train.shape[1:]))
    hidden = mlp["hidden"] if mlp else [f"[{config.model.layers}]"]
    sizes = "-".join(map(str, (inputs, *hidden, num_classes(config, y_train, y_test))))
    model_path = args.out if args.out and args.repeats == 1 else folder / "model.npz"
    plot_path = args.plot or folder / "learning_curve.png"
    metrics_path = args.metrics or folder / "metrics.jsonl"
    decay = f" weight decay {config.weight_decay:g}" if config.weight_decay else ""
    print(f"training {sizes} on {config.dataset}, recipe {args.recipe}: {_rate(args, config)}"
          f"{decay}, batch {config.batch_size or 'full'}, {config.dtype}, seed "
          f"{config.seed}", flush=True)
    print(plan(config, x_train, y_train, args.resume_from), flush=True)
    checkpoint = folder / "checkpoint.npz"
    try:
        with StopRequest() as stop:
            result = train(config, data, log=lambda line: print(line, flush=True),
                           progress=False if args.no_progress else None,
                           metrics_path=args.metrics_stream or str(metrics_path),
                           resume=args.resume_from,
                           checkpoint_path=str(checkpoint),
                           checkpoint_every=args.checkpoint_every, should_stop=stop)
    except TrainingError as e:
        if e.setting is None:
            raise
        raise TrainingError(f"{e} (--{e.setting.replace('_', '-')})") from None
    except Interrupted as e:
        print(f"mnistnp: stopped at epoch {e.state.epoch + 1}, batch {e.state.batch}; "
              f"checkpoint: {checkpoint}\nresume with: mnistnp train --resume {checkpoint}",
              file=sys.stderr)
        raise opt.Exit(128 + (stop.signum or 2)) from None
    h = result.history
    stopped = f", best epoch {h.best_epoch} restored" if h.best_epoch else ""
    print(f"trained in {h.seconds:.1f} s ({plural(h.iterations, 'iteration')}, "
          f"{plural(h.epochs, 'epoch')}{stopped})")
    print(f"train accuracy: {100 * result.train_accuracy:.2f}%")
    if result.val_accuracy is not None:
        print(f"validation accuracy: {100 * result.val_accuracy:.2f}%")
    print(f"test accuracy: {100 * result.test_accuracy:.2f}%")
    info = {"seed": config.seed, "dataset": config.dataset, "recipe": args.recipe,
            "image_shape": list(x_train.shape[1:]),
            "config": config.to_dict(), "metrics": result.metrics, "mnistnp": __version__,
            "saved": now()}
    save_model(model_path, result.model, info)
    plot_learning_curve(h, plot_path, f"{sizes}, recipe {args.recipe}, seed {config.seed}: "
                        f"test accuracy {100 * result.test_accuracy:.2f}%")
    print(f"model: {model_path}\nlearning curve: {plot_path}\nmetrics: {metrics_path}",
          flush=True)
    return result, info


def plan(config: TrainConfig, x_train: np.ndarray, y_train: np.ndarray,
         resume: Any = None) -> str:
    """What training will do, before it starts: steps and epochs, the images trained and
    validated on, which lines to expect, and when the time left is told."""
    (x, _), val = datasets.validation_split(x_train, y_train, config.val_split)
    n = len(x)
    steps = -(-n // min(config.batch_size or n, n))
    total = config.iterations or config.epochs * steps
    if steps == 1:
        what = f"{plural(total, 'iteration')} of full-batch gradient descent"
    elif config.iterations is None:
        what = f"{plural(config.epochs, 'epoch')} of {steps:,} steps ({total:,} iterations)"
    else:
        epochs = total / steps
        what = (f"{plural(total, 'iteration')} ({epochs:.3g} epoch{'s' * (epochs != 1)} of "
                f"{steps:,} steps)")
    if config.patience:
        what += f", stopping early after {plural(config.patience, 'epoch')} without progress"
    line = f"plan: {what} on {n:,} images, "
    line += f"validated on {len(val[0]):,} after each epoch" if val else "no validation"
    every = plural(config.log_every, "iteration")
    line += (f"; a line every {every}" if config.log_every and steps == 1 else
             f"; a line every {every} and every epoch" if config.log_every else
             "; a line every epoch")
    if resume is not None:
        state = resume.state
        line += f"; resuming at epoch {state.epoch + 1}" + (f", after batch {state.batch}"
                                                            if state.batch else "")
    return line + f"; the time left is estimated after {ESTIMATE_AFTER:g} s"


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
    # Fractions, as in metrics.jsonl and the model's info; only the printed lines say %.
    fractions = [r.test_accuracy for r in results]
    write_json(run_dir / "summary.json", {
        "units": "accuracies are fractions (0.9792 is 97.92%); times are seconds",
        "seeds": seeds, "test_accuracy": fractions,
        "test_accuracy_mean": statistics.mean(fractions),
        "test_accuracy_std": statistics.stdev(fractions), "train_seconds": secs,
        "val_accuracy": [r.val_accuracy for r in results]})
