"""Where a resumed run starts: its checkpoint, made longer if asked, and the arguments and
settings its run folder's settings.json recorded."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from .checkpoint import Checkpoint, extend, load_checkpoint
from .run_errors import RunSetupError
from .run_folder import SETTINGS, read_settings, run_dir_of


def resume_point(checkpoint: str | os.PathLike[str], epochs: int | None = None,
                 iterations: int | None = None
                 ) -> tuple[Checkpoint, dict[str, Any], dict[str, Any]]:
    """The checkpoint a run goes on from, the settings it recorded, and the run's arguments.

    ``checkpoint``, ``epochs`` and ``iterations`` are ``Run.resume``'s, whose docstring says
    what each asks for and what is raised here when the resume cannot be done
    (``ModelFileError``, ``RunSetupError``).

    Returns
    -------
    checkpoint : Checkpoint
        The checkpoint, made longer if asked.
    settings : dict
        What the run folder's settings.json holds.
    arguments : dict
        ``Run``'s arguments as the run was started: ``config`` (with several seeds, the first
        seed's), ``run_dir``, ``recipe``, ``repeats``, ``out``, ``plot``, ``metrics`` and
        ``checkpoint_every``.
    """
    path = Path(checkpoint)
    ckpt = load_checkpoint(path)
    run_dir = run_dir_of(path)
    settings = read_settings(run_dir / SETTINGS)
    repeats = settings.get("repeats", 1)
    repeats = repeats if isinstance(repeats, int) and repeats >= 1 else 1
    paths, earlier = settings.get("paths"), settings.get("config")
    paths = paths if isinstance(paths, dict) else {}
    first = earlier.get("seed") if isinstance(earlier, dict) else None
    if repeats > 1 and (epochs is not None or iterations is not None):
        raise RunSetupError("a run of several seeds goes on as it was asked for; to train "
                            "longer, start a new run", "resume")
    if epochs is not None or iterations is not None:
        try:
            ckpt = extend(ckpt, epochs, iterations)
        except ValueError as e:
            raise RunSetupError(f"{path}: {e}", "resume") from None
    elif ckpt.state.finished and repeats == 1:
        raise RunSetupError(f"{path}: {_complete(ckpt)}", "resume")
    base = replace(ckpt.config, seed=first if isinstance(first, int) else ckpt.config.seed)
    recipe = settings.get("recipe")
    arguments = {"config": base if repeats > 1 else ckpt.config, "run_dir": run_dir,
                 "recipe": recipe if isinstance(recipe, str) else None, "repeats": repeats,
                 "out": paths.get("out"), "plot": paths.get("plot"),
                 "metrics": paths.get("metrics"),
                 "checkpoint_every": int(settings.get("checkpoint_every") or 0)}
    return ckpt, settings, arguments


def _complete(ckpt: Checkpoint) -> str:
    """Why a finished checkpoint has nothing left to do, and what would make it go on."""
    h, c = ckpt.state.history, ckpt.config
    unit, done, planned = (("iterations", h.iterations, c.iterations) if c.iterations
                           else ("epochs", h.epochs, c.epochs))
    if done < planned:
        return f"the run is complete: early stopping ended it at epoch {h.epochs}"
    return (f"the run is complete ({done} of {planned} {unit}); to train further, give "
            f"--{unit} N larger than {planned}")
