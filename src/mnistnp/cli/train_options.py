"""``mnistnp train``'s options: the parser, with each option's help showing the default
recipe's value, and the TrainConfig the options given make from their recipe."""

from __future__ import annotations

import argparse
import os
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from ..config import RECIPES
from ..model_config import MLP_SETTINGS
from ..nn import LayerStringError, parse_layers
from ..nn.arch import format_layers, grammar
from ..optim import OPTIMIZERS, SCHEDULES
from ..optim_config import FLAT_DEFAULTS, PART_SETTINGS, ScheduleConfig
from ..plots import PLOT_FORMATS
from ..train_config import DTYPES, TrainConfig
from . import options as opt


def add_parser(sub: Any) -> argparse.ArgumentParser:

    p = sub.add_parser("train", help="train a model and save it",
                       description="Train a model, print its train, validation and test "
                       "accuracy, and save the model, the settings, the per-epoch metrics and "
                       "the learning curve.")
    r = p.add_argument_group("recipe (every option below overrides it)")
    r.add_argument("--recipe", choices=sorted(RECIPES), default="default",
                   help="preset settings (default: %(default)s): 'default' is fast, with the "
                   "values given below; 'best' is the most accurate MLP "
                   f"({_differences('best')}); 'cnn' is a convolutional network for 99.5%%, "
                   f"minutes per epoch ({_differences('cnn')}); 'notebook' is the seed "
                   "notebook, bugs fixed and its rate warmed up then decayed along a cosine "
                   f"({_differences('notebook')})")
    r.add_argument("--hidden", type=opt.hidden_sizes, metavar="W,W,...",
                   help="hidden-layer widths, e.g. 50,50,50 for a 784-50-50-50-10 net "
                   f"({_recipe('hidden')})")
    r.add_argument("--layers", type=layer_string, metavar="LAYERS",
                   help="the network as a layer string, instead of --hidden, --dropout and "
                   "--shift: e.g. dense:256,dropout:0.2,dense:128, or for a CNN "
                   "conv:32:5,maxpool:2,conv:64:5,maxpool:2,dense:1024,dropout:0.4. Items, "
                   "comma-separated: "
                   f"{grammar()}. The pixels are rescaled to [0, 1] first; the output layer, "
                   f"one unit per class, is added at the end ({_recipe('layers')})")
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
                   help=f"the update rule: {_kinds(OPTIMIZERS)} ({_recipe('optimizer')})")
    o.add_argument("--lr", type=opt.real, metavar="LR",
                   help=f"(peak) learning rate ({_recipe('lr')})")
    o.add_argument("--momentum", type=opt.real, metavar="M",
                   help=f"momentum for sgd ({_recipe('momentum')})")
    o.add_argument("--nesterov", action="store_true", default=None,
                   help=f"Nesterov momentum (sgd) ({_recipe('nesterov')})")
    o.add_argument("--weight-decay", type=opt.real, metavar="WD",
                   help="L2 penalty (sgd, adam) or decoupled decay (adamw) "
                   f"({_recipe('weight_decay')})")
    o.add_argument("--schedule", choices=sorted(SCHEDULES),
                   help=f"learning-rate schedule: {_kinds(SCHEDULES)} ({_recipe('schedule')})")
    o.add_argument("--warmup-epochs", type=opt.real, metavar="E",
                   help="linear warmup before the cosine decay, in epochs "
                   f"({_recipe('warmup_epochs')})")
    o.add_argument("--step-epochs", type=opt.whole, metavar="N",
                   help=f"step schedule: epochs between drops ({_recipe('step_epochs')})")
    o.add_argument("--gamma", type=opt.real, metavar="G",
                   help="step and plateau schedules: factor applied at each drop "
                   f"({_recipe('gamma')})")
    o.add_argument("--plateau-patience", type=opt.whole, metavar="N",
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
    opt.add_data_options(p)
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
    out.add_argument("--run-dir", type=opt.folder, metavar="DIR",
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
# Every setting of a TrainConfig as the command line names it, in the config's order, each
# optimizer's and schedule's settings after its name.
SETTINGS = tuple(name for f in fields(TrainConfig) if f.name != "model" for name in (
    f.name, *(k for k, (part, _) in PART_SETTINGS.items() if part == f.name)))


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


def setting_of(config: TrainConfig, name: str) -> Any:
    """The value of setting ``name`` in ``config``: one of its fields, its model's layer string
    (``layers``), or one of its MLP's settings (``hidden``, ``dropout``, ``shift``)."""
    if name == "layers":
        return config.model.layers
    if name in MLP_SETTINGS:
        return (config.model.mlp_settings() or {}).get(name)
    value = config.value(name)
    if value is None and name in PART_SETTINGS:  # not a setting of this optimizer or schedule
        return FLAT_DEFAULTS[name]  # shown as its value had every config held it
    return value


def _kinds(registry: dict[str, Any]) -> str:
    """'adam (Adam, ...), sgd (...)': each registered name with its class's summary."""
    return "; ".join(f"{name}: {cls.summary}" for name, cls in sorted(registry.items()))


def _recipe(name: str) -> str:
    """'default recipe: 20': the default recipe's value of setting ``name``, for the help."""
    return f"default recipe: {_shown(name, setting_of(DEFAULT, name))}"


def _differences(recipe: str) -> str:
    """The settings in which ``recipe`` differs from the default one, as options (epochs not
    when iterations are set: they count instead; the network as MLP settings if it is one)."""
    config = RECIPES[recipe]
    mlp = config.model.mlp_settings() is not None
    names = [*(MLP_SETTINGS if mlp else ("layers",)), *SETTINGS]
    return ", ".join(f"{name.replace('_', '-')} {_shown(name, setting_of(config, name))}"
                     for name in names
                     if setting_of(config, name) != setting_of(DEFAULT, name)
                     and not (name == "epochs" and config.iterations))


OVERRIDES = ("layers", "hidden", "epochs", "iterations", "dtype", "seed", "optimizer", "lr",
             "momentum", "nesterov", "weight_decay", "schedule", "warmup_epochs", "step_epochs",
             "gamma", "plateau_patience", "dropout", "shift", "clip_norm", "val_split",
             "patience", "log_every", "dataset")


# What to write in a layer string instead of an MLP option given with --layers.
_IN_LAYERS = {"hidden": "dense:N items, one per hidden layer", "dropout": "dropout:P items "
              "where you want dropout, e.g. dense:256,dropout:0.2", "shift": "shift:PX first, "
              "e.g. shift:2,dense:256"}


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The recipe with every option given on the command line applied."""
    clash = next((name for name in MLP_SETTINGS if getattr(args, name) is not None), None)
    if args.layers is not None and clash:
        raise opt.UsageError(f"--{clash} with --layers: the layer string says the whole "
                             f"network; write {_IN_LAYERS[clash]}")
    try:  # a bad value, or an option the chosen optimizer or schedule would ignore
        config = RECIPES[args.recipe].with_overrides(
            **{name: getattr(args, name) for name in OVERRIDES})
    except ValueError as e:
        raise opt.UsageError(f"--{e}") from None
    if args.batch_size is not None:
        config = replace(config, batch_size=args.batch_size or None)  # 0 means 'full'
    config = _fit_warmup(args.recipe, config, args.warmup_epochs is not None)
    if args.data_dir:
        # Absolute, so the model file names its data wherever evaluate is run from.
        config = replace(config, data_dir=os.path.abspath(args.data_dir),
                         dataset=args.dataset or args.data_dir.resolve().name)
    try:
        return config.validate()
    except ValueError as e:
        raise opt.UsageError(f"--{e}") from None


def _fit_warmup(recipe: str, config: TrainConfig, given: bool) -> TrainConfig:
    """``config`` with the recipe's warmup shortened to the same share of the run it has in
    the recipe (1 of 20 epochs: 0.05 for --epochs 1; the notebook's 50 of 1000 full-batch
    steps: 1 for --iterations 20), if --epochs or --iterations left it no shorter than the run:
    the rate would only rise, and never decay. The user chose no warmup, so nothing is said; a
    warmup given (``given``) is checked as given (``check_given``)."""
    own = RECIPES[recipe]
    run, own_run = _length_in_epochs(config), _length_in_epochs(own)
    if (given or config.schedule.name != "cosine" or run is None or own_run is None
            or config.value("warmup_epochs") < run):
        return config
    share = own.value("warmup_epochs") / own_run
    return replace(config, schedule=ScheduleConfig(
        "cosine", {**config.schedule.settings, "warmup_epochs": share * run}))


def _length_in_epochs(config: TrainConfig) -> float | None:
    """The run's length in epochs where it is known before the data: its epochs, or its
    iterations when each is a full-batch step (one epoch); None otherwise."""
    if config.iterations is None:
        return config.epochs
    return config.iterations if config.batch_size is None else None


def layer_string(text: str) -> str:
    """A layer string such as 'dense:256,dropout:0.2', each item checked (see nn.arch), as
    written but for spaces around items."""
    try:
        return format_layers(parse_layers(text))
    except LayerStringError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _path_or_stdout(text: str) -> Path | str:
    return "-" if text == "-" else Path(text)
