"""A run: one ``mnistnp train`` from its settings to every file of its folder, for one seed or
several; what is shown on a terminal is left to its listeners."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from .atomic import atomic_write, check_writable
from .callbacks import Callback
from .checkpoint import Checkpoint
from .errors import MnistnpWarning
from .model_file import load_model, save_model
from .model_info import ModelInfo
from .nn import Sequential
from .pipeline import Data, load_data, train
from .plan import Plan, network_name
from .plots import plot_format, plot_learning_curve
from .report import write_run_report
from .run_errors import RunInterrupted, RunSetupError
from .run_folder import (
    SETTINGS,
    SUMMARY,
    SeedFiles,
    claim,
    holds_a_run,
    new_settings,
    read_settings,
    resumed_settings,
    seed_folder,
    write_json,
)
from .run_result import RunResult, SeedResult, best_by_validation, summarise
from .run_resume import resume_point
from .sources import DataSource
from .train_config import TrainConfig
from .training import History, Interrupted
from .training_world import World


class RunListener:
    """What a run tells whoever shows it (the command line prints; the default does nothing)."""

    def on_seed_begin(self, run: Run, seed: int, config: TrainConfig, plan: Plan,
                      resume: Checkpoint | None) -> None:
        """Before a seed trains (not for one trained before a resume)."""

    def on_scoring(self, run: Run, seed: int, images: int) -> None:
        """After a seed's training, before its model is scored on ``images`` images."""

    def on_seed_end(self, run: Run, result: SeedResult) -> None:
        """After a seed's files are written, or for a seed found trained on a resume."""

    def on_run_end(self, run: Run, result: RunResult) -> None:
        """After the last file of the run is written."""


class Run:
    """A training run of one seed or several, which writes every file of its folder.

    The run folder gets settings.json, and per seed the model, metrics, learning curve,
    checkpoint, evaluation pictures and report.html (in seed-<S>/ folders with several seeds,
    then summary.json). Constructing it checks the arguments; ``execute`` does the work.

    Parameters
    ----------
    config : TrainConfig
        What to train; checked here (``TrainConfig.validate``).
    run_dir : str or os.PathLike, optional
        The run folder; by default a new runs/<timestamp>/ under the current folder. One
        holding an earlier run is refused unless ``overwrite``.
    recipe : str, optional
        The recipe ``config`` came from, recorded in settings.json and the model's info.
    repeats : int, default 1
        How many seeds to train: ``config.seed`` and the next ones; >= 1.
    out : str or os.PathLike, optional
        Where the model goes instead of the run folder; with several seeds, a copy of the
        model of the best validation accuracy.
    plot : str or os.PathLike, optional
        Where the learning curve goes instead of the run folder; its extension names the
        format. One seed only.
    metrics : str, os.PathLike or text stream, optional
        Where the metrics lines (JSON Lines) go instead of the run folder: a file, or an open
        text stream. One seed only.
    overwrite : bool, default False
        Replace an earlier run in ``run_dir`` and earlier ``out``, ``plot`` and ``metrics``
        files, instead of refusing them.
    checkpoint_every : int, default 0
        Epochs between two checkpoints; 0 for none but the last and an interrupt's.
    command : sequence of str, optional
        The command line that started the run, recorded in settings.json.
    world : World, optional
        The processes training together (``mnistnp.mpi.MPIWorld``); only the first writes
        and reports. By default this process alone.

    Raises
    ------
    RunSetupError
        For ``repeats`` below 1, or ``plot`` or ``metrics`` with several seeds.
    ValueError
        For a bad setting in ``config``.

    Examples
    --------
    >>> result = Run(TrainConfig(epochs=2), "my-run").execute()  # doctest: +SKIP
    """

    def __init__(self, config: TrainConfig, run_dir: str | os.PathLike[str] | None = None, *,
                 recipe: str | None = None, repeats: int = 1,
                 out: str | os.PathLike[str] | None = None,
                 plot: str | os.PathLike[str] | None = None,
                 metrics: str | os.PathLike[str] | IO[str] | None = None,
                 overwrite: bool = False, checkpoint_every: int = 0,
                 command: Sequence[str] | None = None, world: World | None = None) -> None:
        if repeats < 1:
            raise RunSetupError(f"repeats {repeats}: must be >= 1", "repeats")
        if repeats > 1 and (plot is not None or metrics is not None):
            raise RunSetupError("names one run's file; with several seeds (repeats) each "
                                "seed's files go to its own folder in the run folder",
                                "plot" if plot is not None else "metrics")
        self.config = config.validate()
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.recipe, self.repeats, self.overwrite = recipe, repeats, overwrite
        self.out = None if out is None else Path(out)
        self.plot = None if plot is None else Path(plot)
        self.metrics_stream: IO[str] | None = None
        self.metrics: Path | None = None
        if isinstance(metrics, (str, os.PathLike)):
            self.metrics = Path(metrics)
        elif metrics is not None:
            self.metrics_stream = metrics
        self.checkpoint_every, self.command = checkpoint_every, command
        self.world = world or World()
        self.checkpoint: Checkpoint | None = None  # set by ``resume``
        self._settings: dict[str, Any] | None = None  # the earlier ones, on a resume
        self._data: Data | None = None

    @property
    def seeds(self) -> list[int]:
        """The seeds the run trains: ``config.seed`` and the next ``repeats - 1``."""
        return [self.config.seed + k for k in range(self.repeats)]

    @classmethod
    def resume(cls, checkpoint: str | os.PathLike[str], epochs: int | None = None,
               iterations: int | None = None, command: Sequence[str] | None = None,
               world: World | None = None) -> Run:
        """The run ``checkpoint`` was written by, to go on as it was asked for.

        It goes on in its folder, with its files and its other seeds, as its settings.json
        records them.

        Parameters
        ----------
        checkpoint : str or os.PathLike
            A checkpoint in a run folder (or in a seed-<S>/ folder of one).
        epochs : int, optional
            Make a run of one seed counted in epochs longer: its new total, more than
            planned (see ``checkpoint.extend``).
        iterations : int, optional
            The same for a run counted in iterations.
        command : sequence of str, optional
            The command line that resumes it, added to settings.json.
        world : World, optional
            The processes training together, as for ``Run``.

        Returns
        -------
        Run
            The run, ready to ``execute``.

        Raises
        ------
        ModelFileError
            If ``checkpoint`` is not a usable checkpoint.
        RunSetupError
            If a run of several seeds is asked to be longer, ``checkpoint.extend`` refuses the
            new length, or the run is complete and not made longer.
        """
        ckpt, settings, arguments = resume_point(checkpoint, epochs, iterations)
        run = cls(**arguments, command=command, world=world)
        run.checkpoint, run._settings = ckpt, settings
        return run

    def check(self) -> None:
        """Check, before any work, that the run can write its files.

        Raises
        ------
        RunSetupError
            If the run folder or a file given holds an earlier run (unless ``overwrite``), a
            file cannot be written, or the plot's extension names no format.
        """
        if not self.world.writes:
            return  # the writing process checks what it will write
        if self.run_dir is not None and self.checkpoint is None and not self.overwrite \
                and holds_a_run(self.run_dir):
            raise RunSetupError(f"{self.run_dir} is not empty (an earlier run's files would "
                                f"be overwritten)", "run_dir")
        for option in ("out", "plot", "metrics"):
            path = getattr(self, option)
            if path is None:
                continue
            problem = check_writable(path)
            if problem:
                raise RunSetupError(f"{path}: {problem}", option, unwritable=True)
            if path.exists() and not self.overwrite and self.checkpoint is None:
                raise RunSetupError(f"{path} exists (an earlier file would be overwritten)",
                                    option)
        if self.plot is not None:
            try:
                plot_format(self.plot)
            except ValueError as e:
                raise RunSetupError(str(e), "plot") from None

    def load_data(self) -> Data:
        """The run's data, loaded once, as ``config.dataset`` and ``config.data_dir`` say.

        Returns
        -------
        ((x_train, y_train), (x_test, y_test)) : tuple of two (ndarray, ndarray) tuples
            ``x_*`` is an ndarray of shape (n_samples, height, width), dtype uint8; ``y_*``
            an ndarray of shape (n_samples,), dtype uint8 (see ``datasets.load``).

        Raises
        ------
        DatasetError
            If the data cannot be had, naming the file.
        SettingError
            If ``config.val_split`` does not suit the data.
        """
        if self._data is None:  # once per node when the world shares it
            self._data = self.world.share_data(lambda: load_data(self.config))
        return self._data

    def execute(self, *, callbacks: Sequence[Callback] = (),
                listeners: Sequence[RunListener] = (),
                should_stop: Callable[[], bool] | None = None) -> RunResult:
        """Train every seed and write the run's files, showing nothing itself.

        Parameters
        ----------
        callbacks : sequence of Callback, default ()
            Join each seed's training loop (a ``progress.TextLog`` or ``ProgressBar`` to
            watch it).
        listeners : sequence of RunListener, default ()
            Hear of each seed's beginning, scoring and end, and of the run's end.
        should_stop : callable, optional
            Polled after each batch; True stops the run with a checkpoint.

        Returns
        -------
        RunResult
            The run folder and each seed's result.

        Raises
        ------
        RunSetupError
            If the run cannot write its files (see ``check``), before any work.
        RunInterrupted
            When ``should_stop`` stopped the run; its ``checkpoint`` resumes it.
        """
        self.check()
        data = self.load_data()
        plan = Plan.of(self.config, data)
        if not self.world.writes:
            self._follow(data, plan, should_stop)
            return RunResult(self.run_dir or Path(), [])
        self.run_dir = claim(self.run_dir, self.overwrite and self.checkpoint is None)
        write_json(self.run_dir / SETTINGS, self._settings_now())
        results = []
        for seed in self.seeds:
            files, start = self.files_for(seed), self._start(seed)
            if start is None:
                done = SeedResult(seed, files, ModelInfo(load_model(files.model).info).metrics)
                results.append(done)
                for listener in listeners:
                    listener.on_seed_end(self, done)
                continue
            config, resume = start
            for listener in listeners:
                listener.on_seed_begin(self, seed, config, plan, resume)
            result = self._train_seed(config, data, plan, files, resume, callbacks,
                                      should_stop, listeners)
            results.append(result)
            for listener in listeners:
                listener.on_seed_end(self, result)
        run = RunResult(self.run_dir, results)
        if self.repeats > 1:
            run.summary = summarise(results)
            write_json(self.run_dir / SUMMARY, run.summary)
            if self.out is not None:
                run.best = best_by_validation(results)
                with atomic_write(self.out) as f:
                    f.write(run.best.files.model.read_bytes())
        for listener in listeners:
            listener.on_run_end(self, run)
        return run

    def _follow(self, data: Data, plan: Plan, should_stop: Callable[[], bool] | None) -> None:
        """Train every seed as the writing process does, beside it, writing nothing."""
        for start in filter(None, map(self._start, self.seeds)):
            try:
                train(start[0], data, progress=False, resume=start[1], should_stop=should_stop,
                      plan=plan, world=self.world)
            except Interrupted as e:
                raise RunInterrupted(e, Path()) from None  # the writing process says where

    def files_for(self, seed: int) -> SeedFiles:
        """Where one seed's files go.

        The run folder must be known: given, or made by ``execute``.

        Parameters
        ----------
        seed : int
            One of ``seeds``.

        Returns
        -------
        SeedFiles
            In the run folder (or its seed-<S>/ folder with several seeds), or with one seed
            at the ``out``, ``plot`` and ``metrics`` paths given.
        """
        assert self.run_dir is not None
        folder = seed_folder(self.run_dir, seed, self.repeats)
        if self.repeats > 1:
            return SeedFiles.in_folder(folder)
        return SeedFiles.in_folder(folder, self.out, self.plot, self.metrics,
                                   self.metrics_stream is not None)

    def _start(self, seed: int) -> tuple[TrainConfig, Checkpoint | None] | None:
        """A seed's config and the checkpoint it goes on from: the one resumed, if it is this
        seed's and not finished (a run of one seed always goes on from it: it was made
        longer); None for a seed trained before the resume (its model is there)."""
        ckpt = self.checkpoint
        if ckpt is not None and ckpt.config.seed == seed and (
                self.repeats == 1 or not ckpt.state.finished):
            return ckpt.config, ckpt
        if ckpt is not None and self.files_for(seed).model.is_file():
            return None
        return replace(self.config, seed=seed), None

    def _settings_now(self) -> dict[str, Any]:
        config = self.config.to_dict()
        if self.checkpoint is None:
            paths = {k: None if v is None else str(Path(v).resolve())
                     for k, v in (("out", self.out), ("plot", self.plot),
                                  ("metrics", self.metrics))}
            settings = new_settings(config, self.recipe, self.repeats, self.command, paths)
            return {**settings, "checkpoint_every": self.checkpoint_every,
                    **self.world.settings()}
        state = self.checkpoint.state
        return resumed_settings(self._settings or {}, config, self.command, state.epoch + 1,
                                state.batch)

    def _train_seed(self, config: TrainConfig, data: Data, plan: Plan, files: SeedFiles,
                    resume: Checkpoint | None, callbacks: Sequence[Callback],
                    should_stop: Callable[[], bool] | None,
                    listeners: Sequence[RunListener]) -> SeedResult:
        files.folder.mkdir(exist_ok=True)

        def scoring(images: int) -> None:
            for listener in listeners:
                listener.on_scoring(self, config.seed, images)

        try:
            result = train(config, data, progress=False,
                           metrics_path=self.metrics_stream or files.metrics,
                           callbacks=callbacks, resume=resume,
                           checkpoint_path=str(files.checkpoint),
                           checkpoint_every=self.checkpoint_every, should_stop=should_stop,
                           plan=plan, on_scoring=scoring, world=self.world)
        except Interrupted as e:
            raise RunInterrupted(e, files.checkpoint) from None
        info = ModelInfo.of_run(config.to_dict(), recipe=self.recipe, seed=config.seed,
                                image_shape=plan.input_shape, metrics=result.metrics)
        save_model(files.model, result.model, info)
        plot_learning_curve(result.history, files.curve,
                            f"{network_name(config, plan)} on {config.dataset}, recipe "
                            f"{self.recipe or 'unknown'}, "
                            f"seed {config.seed}: test accuracy "
                            f"{100 * result.test_accuracy:.2f}%")
        result.model.info = info
        self._write_report(config, data, files, result.model, result.history)
        return SeedResult(config.seed, files, result.metrics, result.model, result.history)

    def _write_report(self, config: TrainConfig, data: Data, files: SeedFiles,
                      model: Sequential, history: History) -> None:
        """The seed's evaluation pictures and report.html (which says which picture could not
        be drawn, and why); a failure to make them is a warning, not the run's end: its model
        and curve are written."""
        assert self.run_dir is not None
        try:
            write_run_report(
                model, files.model, data[1], DataSource(config.dataset, config.data_dir),
                files.folder, settings=read_settings(self.run_dir / SETTINGS),
                epochs=[history.record(e) for e in range(1, history.epochs + 1)],
                curve=files.curve)
        except Exception as e:  # drawing and reporting only: the trained model is safe
            warnings.warn(f"{files.folder}: the pictures and report were not written ({e})",
                          MnistnpWarning, stacklevel=2)

