"""``mnistnp train``: train from a recipe plus overrides; save the model, settings, metrics
and learning curve; with --repeats, several seeds and their mean ± std."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import warnings
from dataclasses import fields, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import __version__, datasets
from ..atomic import atomic_write, check_writable
from ..config import DTYPES, OPTIMIZER_DEFAULTS, RECIPES, TrainConfig
from ..errors import MnistnpError, MnistnpWarning
from ..io import save_model
from ..optim import OPTIMIZERS, SCHEDULES
from ..plots import PLOT_FORMATS, plot_format
from ..progress import ESTIMATE_AFTER
from ..signals import StopRequest
from ..text import plural
from ..training import Interrupted
from . import options as opt

if TYPE_CHECKING:
    from ..checkpoint import Checkpoint


def add_parser(sub: Any) -> argparse.ArgumentParser:
    from . import add_data_options

    p = sub.add_parser("train", help="train a model and save it",
                       description="Train a model, print its train, validation and test "
                       "accuracy, and save the model, the settings, the per-epoch metrics and "
                       "the learning curve.")
    r = p.add_argument_group("recipe (every option below overrides it)")
    r.add_argument("--recipe", choices=sorted(RECIPES), default="default",
                   help="preset settings (default: %(default)s): 'default' is fast, with the "
                   "values given below; 'best' is the most accurate "
                   f"({_differences('best')}); 'notebook' is the seed notebook, bugs fixed "
                   f"({_differences('notebook')})")
    r.add_argument("--hidden", type=opt.hidden_sizes, metavar="W,W,...",
                   help="hidden-layer widths, e.g. 50,50,50 for a 784-50-50-50-10 net "
                   f"({_recipe('hidden')})")
    r.add_argument("--epochs", type=opt.positive_int, metavar="N",
                   help=f"passes over the data ({_recipe('epochs')})")
    r.add_argument("--iterations", type=opt.positive_int, metavar="N",
                   help=f"gradient steps in all, overriding --epochs ({_recipe('iterations')})")
    r.add_argument("--batch-size", type=opt.batch_size, metavar="B",
                   help="samples per step, or 'full' for full-batch gradient descent "
                   f"({_recipe('batch_size')})")
    r.add_argument("--dtype", choices=DTYPES,
                   help=f"floating-point precision ({_recipe('dtype')})")
    r.add_argument("--seed", type=opt.natural_int, metavar="S",
                   help=f"seed for weights, batch order and dropout ({_recipe('seed')})")
    o = p.add_argument_group("optimizer and schedule")
    o.add_argument("--optimizer", choices=sorted(OPTIMIZERS),
                   help=f"the update rule ({_recipe('optimizer')})")
    o.add_argument("--lr", type=opt.positive_float, metavar="LR",
                   help=f"(peak) learning rate ({_recipe('lr')})")
    o.add_argument("--momentum", type=opt.unit_float, metavar="M",
                   help=f"momentum for sgd ({_recipe('momentum')})")
    o.add_argument("--nesterov", action="store_true", default=None,
                   help=f"Nesterov momentum (sgd) ({_recipe('nesterov')})")
    o.add_argument("--weight-decay", type=opt.natural_float, metavar="WD",
                   help="L2 penalty (sgd, adam) or decoupled decay (adamw) "
                   f"({_recipe('weight_decay')})")
    o.add_argument("--schedule", choices=sorted(SCHEDULES),
                   help=f"learning-rate schedule ({_recipe('schedule')})")
    o.add_argument("--warmup-epochs", type=opt.natural_float, metavar="E",
                   help="linear warmup before the cosine decay, in epochs "
                   f"({_recipe('warmup_epochs')})")
    o.add_argument("--step-epochs", type=opt.positive_int, metavar="N",
                   help=f"step schedule: epochs between drops ({_recipe('step_epochs')})")
    o.add_argument("--gamma", type=opt.gamma_float, metavar="G",
                   help="step and plateau schedules: factor applied at each drop "
                   f"({_recipe('gamma')})")
    o.add_argument("--plateau-patience", type=opt.natural_int, metavar="N",
                   help="plateau schedule: epochs without a better val_loss before a drop "
                   f"({_recipe('plateau_patience')})")
    g = p.add_argument_group("regularization and validation")
    g.add_argument("--dropout", type=opt.unit_float, metavar="P",
                   help="inverted dropout after each hidden layer, off in evaluation; 0 is off "
                   f"({_recipe('dropout')})")
    g.add_argument("--shift", type=opt.natural_int, metavar="PX",
                   help="augmentation: move training images by up to PX pixels at random; 0 is "
                   f"off ({_recipe('shift')})")
    g.add_argument("--clip-norm", type=opt.positive_float, metavar="C",
                   help=f"clip the gradient's global L2 norm to C ({_recipe('clip_norm')})")
    g.add_argument("--val-split", type=opt.val_split, metavar="F|N",
                   help="validation held out from the end of the training set: a fraction or "
                   f"a count; 0 turns it off ({_recipe('val_split')}, "
                   f"{round(60_000 * DEFAULT.val_split):,} of MNIST's 60,000)")
    g.add_argument("--patience", type=opt.positive_int, metavar="N",
                   help="early stopping: stop after N epochs without a better val_loss and "
                   f"restore the best weights ({_recipe('patience')})")
    add_data_options(p)
    out = p.add_argument_group("output")
    out.add_argument("--out", type=Path, metavar="MODEL.npz",
                     help="where the model goes (exactly this path; default: model.npz in the "
                     "run folder)")
    out.add_argument("--plot", type=Path, metavar="CURVE.png",
                     help="where the learning curve goes, in the format its extension names: "
                     f"{', '.join('.' + e for e in PLOT_FORMATS)} (default: learning_curve.png "
                     "in the run folder)")
    out.add_argument("--metrics", type=_path_or_stdout, metavar="PATH",
                     help="where the per-epoch JSON lines go (default: metrics.jsonl in the run "
                     "folder); '-' is standard output, and the other lines then go to standard "
                     "error")
    out.add_argument("--run-dir", type=Path, metavar="DIR",
                     help="folder for the settings, metrics, curve and (without --out) model; "
                     "default: a new runs/<timestamp>/")
    out.add_argument("--overwrite", action="store_true",
                     help="use a --run-dir that is not empty: the earlier run's files there "
                     "(settings, metrics, curve, model, checkpoint, summary, seed folders) are "
                     "removed first; other files stay")
    out.add_argument("--repeats", type=opt.positive_int, default=1, metavar="K",
                     help="train K seeds (S, S+1, ...) and report test accuracy as mean ± std; "
                     "--out then gets the seed with the best validation accuracy (default: "
                     "%(default)s)")
    out.add_argument("--checkpoint-every", type=opt.natural_int, default=0, metavar="N",
                     help="write the run folder's checkpoint.npz every N epochs and, marked "
                     "finished, at the end; 0: only on Ctrl-C or SIGTERM, when it is always "
                     "written (default: %(default)s)")
    out.add_argument("--resume", type=Path, metavar="CHECKPOINT",
                     help="continue the run saved in CHECKPOINT with its own settings (in its "
                     "folder unless --run-dir is given); with --epochs N (or --iterations N) "
                     "larger than its own, train it longer")
    out.add_argument("--log-every", type=opt.natural_int, metavar="N",
                     help="a cost line every N iterations, as well as the line per epoch (in "
                     "full-batch training, instead of it); 0: only the line per epoch "
                     f"({_recipe('log_every')})")
    out.add_argument("--no-progress", action="store_true",
                     help="never show a progress bar (it shows only on a terminal)")
    return p


DEFAULT = RECIPES["default"]


def _shown(name: str, value: Any) -> str:
    """Setting ``name`` as it would be typed on the command line; 'none' and 'off' for unset
    ones."""
    if value is None:
        return "full" if name == "batch_size" else "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _recipe(name: str) -> str:
    """'default recipe: 20': the default recipe's value of setting ``name``, for the help."""
    return f"default recipe: {_shown(name, getattr(DEFAULT, name))}"


def _differences(recipe: str) -> str:
    """The settings in which ``recipe`` differs from the default one, as options (epochs not
    when iterations are set: they count instead)."""
    config = RECIPES[recipe]
    return ", ".join(f"{f.name.replace('_', '-')} {_shown(f.name, getattr(config, f.name))}"
                     for f in fields(TrainConfig)
                     if getattr(config, f.name) != getattr(DEFAULT, f.name)
                     and not (f.name == "epochs" and config.iterations))


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
        # Absolute, so the model file names its data wherever evaluate is run from.
        config = replace(config, data_dir=os.path.abspath(args.data_dir),
                         dataset=args.dataset or args.data_dir.resolve().name)
    try:
        return config.validate()
    except ValueError as e:
        raise opt.UsageError(f"--{e}") from None


def _path_or_stdout(text: str) -> Path | str:
    return "-" if text == "-" else Path(text)


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
        from .download import fetch_dataset

        fetch_dataset(config.dataset, config.data_dir)  # with --resume, the checkpoint's
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
    settings = _settings(args, config, resume)
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

    given = [f"--{n.replace('_', '-')}" for n in (*_OVERRIDES, "batch_size", "data_dir")
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


def _settings(args: argparse.Namespace, config: TrainConfig, resume: Checkpoint | None
              ) -> dict[str, Any]:
    """settings.json: the run's settings and command; a resume keeps the earlier ones (from
    the checkpoint's folder) and adds its own command to the list under "resumed"."""
    command = ["mnistnp", *args.argv]
    if resume is None:
        return {"recipe": args.recipe, "repeats": args.repeats, "config": config.to_dict(),
                "mnistnp": __version__, "command": command, "created": _now()}
    earlier = {"recipe": None, "repeats": 1, "command": None,
               **_read_settings(args.resume.parent / "settings.json")}
    resumed = {"command": command, "at_epoch": resume.state.epoch,
               "at_batch": resume.state.batch, "mnistnp": __version__, "created": _now()}
    return {**earlier, "config": config.to_dict(),
            "resumed": [*earlier.get("resumed", []), resumed]}


def _read_settings(path: Path) -> dict[str, Any]:
    """An earlier settings.json, or {} if there is none (with a warning if it is unreadable)."""
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        settings = e
    if isinstance(settings, dict):
        return settings
    warnings.warn(f"{path}: not a settings file ({settings}); the run's original command "
                  f"is lost", MnistnpWarning, stacklevel=2)
    return {}


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
            "saved": _now()}
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


RUN_FILES = ("settings.json", "metrics.jsonl", "learning_curve.png", "model.npz",
             "checkpoint.npz", "summary.json")


def remove_run_files(run_dir: Path) -> None:
    """Remove what an earlier run left in ``run_dir`` (its checkpoint would resume that run
    here), in it and in its seed-* folders; anything else stays."""
    seeds = [p for p in run_dir.glob("seed-*") if p.is_dir()]
    for folder in [run_dir, *seeds]:
        for name in RUN_FILES:
            (folder / name).unlink(missing_ok=True)
    for folder in seeds:
        with contextlib.suppress(OSError):  # not empty: it holds something of the user's
            folder.rmdir()


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
