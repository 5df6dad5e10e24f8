"""``mnistnp train``: train from a recipe plus overrides; save the model, settings, metrics
and learning curve; with --repeats, several seeds and their mean ± std."""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys

from .. import datasets
from ..checkpoint import Checkpoint
from ..config import RECIPES
from ..errors import MnistnpError, TrainingError
from ..experiment import Run, RunListener
from ..optim import OPTIMIZERS
from ..plan import Plan, network_name
from ..progress import ESTIMATE_AFTER, ProgressBar, TextLog
from ..run_errors import RunInterrupted, RunSetupError
from ..run_folder import CONFUSION, FIRST_LAYER, MISTAKES, RELIABILITY, REPORT, SETTINGS
from ..run_result import RunResult, SeedResult
from ..signals import StopRequest
from ..text import plural
from ..train_config import TrainConfig
from ..training_world import World
from . import options as opt
from .train_options import OVERRIDES, config_from_args
from .train_options import add_parser as add_parser  # the command table in cli/__init__ looks here


def run(args: argparse.Namespace) -> int:
    world = _world()
    args.metrics_stream = None
    if args.metrics == "-":
        # The JSON lines own standard output (`| jq` reads them); the lines for a person go to
        # standard error, where the progress bar and warnings already are.
        args.metrics_stream = sys.stdout
        with contextlib.redirect_stdout(sys.stderr):
            return _run(args, world)
    return _run(args, world)


def _world() -> World:
    """The processes training: those of ``mpiexec`` if it started this one (only then is
    mpi4py imported), else this one alone."""
    from ..mpi.launch import launched

    if not launched():
        return World()
    try:
        from ..mpi import MPIWorld

        return MPIWorld()
    except ImportError as e:
        raise MnistnpError(f"started by mpiexec, but {e.name or 'mpi4py'} cannot be imported; "
                           "pip install 'mnistnp[mpi]'") from None


def _prepare(args: argparse.Namespace, world: World) -> Run:
    """The run, its data fetched (by the writing process) and its files checked."""
    run = _make_run(args, world)
    if args.download and world.writes:
        from .download import fetch

        fetch(run.config.dataset, run.config.data_dir)  # with --resume, the checkpoint's
    try:
        run.check()
    except RunSetupError as e:
        raise _usage(e) from None
    return run


def _run(args: argparse.Namespace, world: World) -> int:
    # Every process must be able to start before any does: one that cannot would leave the
    # others waiting.
    run = world.agree(lambda: _prepare(args, world))
    data = world.agree(run.load_data)
    if run.config.dataset not in datasets.REGISTRY:  # what the labels alone say the classes are
        print(f"data in {run.config.data_dir}: {datasets.describe(data)}", flush=True)
    try:
        with StopRequest() as stop, world.guard():
            # The terminal's callbacks: the text lines, the bar, Ctrl-C (should_stop).
            lines = TextLog(lambda line: print(line, flush=True), run.config.log_every)
            shown = [lines] if args.no_progress else [lines, ProgressBar()]
            if not world.writes:
                shown = []
            run.execute(callbacks=shown, listeners=[Report(args, world)], should_stop=stop)
    except TrainingError as e:
        if e.setting is None:
            raise
        raise TrainingError(f"{e} (--{e.setting.replace('_', '-')})") from None
    except RunInterrupted as e:
        print(f"mnistnp: stopped at epoch {e.state.epoch + 1}, batch {e.state.batch}; "
              f"checkpoint: {e.checkpoint}\nresume with: mnistnp train --resume "
              f"{e.checkpoint}", file=sys.stderr)
        raise opt.Exit(128 + (stop.signum or 2)) from None
    return 0


_LONGER = ("epochs", "iterations")  # what --resume may change: the run's length


def _make_run(args: argparse.Namespace, world: World) -> Run:
    """The Run the options ask for: a new one, or the one --resume names going on."""
    command = ["mnistnp", *args.argv]
    if args.resume is None:
        try:
            return Run(config_from_args(args), args.run_dir, recipe=args.recipe,
                       repeats=args.repeats, out=args.out, plot=args.plot,
                       metrics=args.metrics_stream or args.metrics, overwrite=args.overwrite,
                       checkpoint_every=args.checkpoint_every, command=command, world=world)
        except RunSetupError as e:
            raise _usage(e) from None
    given = [f"--{n.replace('_', '-')}" for n in (*OVERRIDES, "batch_size", "data_dir",
                                                  "run_dir", "out", "plot", "metrics")
             if n not in _LONGER and getattr(args, n, None) is not None]
    given += ["--repeats"] if args.repeats > 1 else []
    if given or args.recipe != "default":
        raise opt.UsageError(f"--resume continues with the checkpoint's own settings, files "
                             f"and folder (only --epochs or --iterations, to make it longer); "
                             f"drop {', '.join(given) or '--recipe'}")
    try:
        run = Run.resume(args.resume, args.epochs, args.iterations, command, world)
    except RunSetupError as e:
        raise _usage(e) from None
    args.recipe = run.recipe or "unknown"  # a resume's own is the run's
    return run


def _usage(e: RunSetupError) -> Exception:
    """A run that cannot start, said as the option at fault."""
    option = f"--{e.option.replace('_', '-')}"
    if e.unwritable:
        return MnistnpError(f"{option} {e}")
    hint = {"run_dir": "; give another folder, or --overwrite",
            "out": "; give another file, or --overwrite"}.get(e.option, "")
    hint = hint if "overwritten" in str(e) else ""
    return opt.UsageError(f"{option} {e}{hint}")


class Report(RunListener):
    """The lines a run prints: what trains and the plan before each seed, its accuracies and
    files after, the summary of several seeds, and where the settings are."""

    def __init__(self, args: argparse.Namespace, world: World | None = None) -> None:
        self.args, self.world = args, world or World()

    def on_seed_begin(self, run: Run, seed: int, config: TrainConfig, plan: Plan,
                      resume: Checkpoint | None) -> None:
        wd = config.value("weight_decay")
        decay = f" weight decay {wd:g}" if wd else ""
        print(f"training {network_name(config, plan)} on {config.dataset}, recipe "
              f"{self.args.recipe}: {_rate(self.args, config)}{decay}, batch "
              f"{config.batch_size or 'full'}, {config.dtype}, seed {config.seed}", flush=True)
        where = (resume.state.epoch, resume.state.batch) if resume else (None, 0)
        print(f"{plan.describe(config, *where)}; the time left is estimated after "
              f"{ESTIMATE_AFTER:g} s", flush=True)
        shared = self.world.describe(plan.batch_size)
        if shared:
            print(f"processes: {shared}", flush=True)

    def on_scoring(self, run: Run, seed: int, images: int) -> None:
        print(f"scoring the model on {images:,} images (train, validation and test)",
              flush=True)

    def on_seed_end(self, run: Run, result: SeedResult) -> None:
        h, m = result.history, result.metrics
        if h is None:
            print(f"seed {result.seed}: trained before the resume (test accuracy "
                  f"{100 * result.test_accuracy:.2f}%): {result.files.model}", flush=True)
            return
        stopped = f", best epoch {h.best_epoch} restored" if h.best_epoch else ""
        print(f"trained in {h.seconds:.1f} s ({plural(h.iterations, 'iteration')}, "
              f"{plural(h.epochs, 'epoch')}{stopped})")
        print(f"train accuracy: {100 * m['train_accuracy']:.2f}%")
        if result.val_accuracy is not None:
            print(f"validation accuracy: {100 * result.val_accuracy:.2f}%")
        print(f"test accuracy: {100 * result.test_accuracy:.2f}%")
        metrics = result.files.metrics or "standard output"
        print(f"model: {result.files.model}\nlearning curve: {result.files.curve}\n"
              f"metrics: {metrics}", flush=True)
        folder = result.files.folder
        pictures = [name for name in (CONFUSION, MISTAKES, FIRST_LAYER, RELIABILITY)
                    if (folder / name).exists()]
        if pictures:
            print(f"pictures: {', '.join(pictures)} in {folder}")
        if (folder / REPORT).exists():
            print(f"report: {folder / REPORT}", flush=True)

    def on_run_end(self, run: Run, result: RunResult) -> None:
        if result.summary is not None:
            s = result.summary
            tests = [100 * t for t in s["test_accuracy"]]
            secs = s["train_seconds"]
            print(f"test accuracy over {len(tests)} seeds: {statistics.mean(tests):.2f} ± "
                  f"{statistics.stdev(tests):.2f}% (mean ± std; "
                  f"{', '.join(f'{t:.2f}' for t in tests)})")
            print(f"training time: {statistics.mean(secs):.1f} ± {statistics.stdev(secs):.1f} s")
        if result.best is not None:
            print(f"model (seed {result.best.seed}, best validation accuracy): {run.out}")
        print(f"settings: {result.run_dir / SETTINGS}")


def _rate(args: argparse.Namespace, config: TrainConfig) -> str:
    """'sgd lr 0.05 momentum 0.9', saying which of these are the optimizer's own defaults,
    taken because the recipe's were for another optimizer."""
    name, momentum = config.optimizer.name, config.value("momentum")
    text = f"{name} lr {config.value('lr'):g}"
    if momentum:
        text += f" momentum {momentum:g}{' Nesterov' if config.value('nesterov') else ''}"
    recipe = RECIPES.get(args.recipe)
    if args.resume or recipe is None or name == recipe.optimizer.name:
        return text  # a resumed run's settings are the checkpoint's, not the recipe's
    taken = [key for key in OPTIMIZERS[name].switch_defaults if getattr(args, key) is None]
    if taken:
        why = (f"; the recipe's lr {recipe.value('lr'):g} is for {recipe.optimizer.name}"
               if "lr" in taken else "")
        text += f" ({name}'s default {' and '.join(taken)}{why})"
    return text
