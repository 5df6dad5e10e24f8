"""A run folder: the one list of what a run leaves in it, where each file of a training goes,
its settings.json (with the history of resumes), and how a folder is claimed for a run."""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .atomic import atomic_write
from .errors import MnistnpWarning
from .version import __version__

# Everything a run writes in its folder (and in each seed-* folder of a run of several seeds).
SETTINGS, METRICS, CURVE, MODEL, CHECKPOINT, SUMMARY = (
    "settings.json", "metrics.jsonl", "learning_curve.png", "model.npz", "checkpoint.npz",
    "summary.json")
# The evaluation pictures (see ``pictures``) and the report (``report``) at a run's end.
CONFUSION, MISTAKES, FIRST_LAYER, RELIABILITY, REPORT = (
    "confusion_matrix.png", "mistakes.png", "first_layer.png", "reliability.png", "report.html")
RUN_FILES = (SETTINGS, METRICS, CURVE, MODEL, CHECKPOINT, SUMMARY, CONFUSION, MISTAKES,
             FIRST_LAYER, RELIABILITY, REPORT)


@dataclass(frozen=True)
class SeedFiles:
    """Where one training's files go: in ``folder`` unless the run was given other paths
    (``metrics`` is None when the metrics go to a stream)."""

    folder: Path
    model: Path
    curve: Path
    metrics: Path | None
    checkpoint: Path

    @classmethod
    def in_folder(cls, folder: Path, model: Path | None = None, curve: Path | None = None,
                  metrics: Path | None = None, metrics_stream: bool = False) -> SeedFiles:
        return cls(folder, model or folder / MODEL, curve or folder / CURVE,
                   None if metrics_stream else metrics or folder / METRICS,
                   folder / CHECKPOINT)


def seed_folder(run_dir: Path, seed: int, repeats: int) -> Path:
    """A run of one seed keeps its files in the run folder; of several, in seed-<S>/."""
    return run_dir if repeats == 1 else run_dir / f"seed-{seed}"


def run_dir_of(checkpoint: Path) -> Path:
    """The run folder a checkpoint belongs to: its own folder, or the one above a seed-*
    folder of a run of several seeds."""
    folder = checkpoint.parent
    if folder.name.startswith("seed-") and (folder.parent / SETTINGS).is_file():
        return folder.parent
    return folder


def claim(run_dir: Path | None, overwrite: bool = False) -> Path:
    """Create the run's folder and return it: ``run_dir`` (its earlier run's files removed
    with ``overwrite``), or a new runs/<timestamp>/ under the current folder, created
    exclusively so runs started in the same second each get their own (a suffix -2, -3...)."""
    if run_dir is not None:
        if overwrite:
            remove_run_files(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        return run_dir
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    Path("runs").mkdir(exist_ok=True)
    for n in range(1, 10_000):
        path = Path("runs") / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"runs/{stamp}: every suffix up to 9999 is taken")


def holds_a_run(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds anything (an earlier run's files would be overwritten)."""
    return run_dir.is_dir() and any(run_dir.iterdir())


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


def new_settings(config: dict[str, Any], recipe: str | None, repeats: int,
                 command: Sequence[str] | None, paths: dict[str, str | None]) -> dict[str, Any]:
    """settings.json of a new run: its settings, its command, and the paths it was given
    outside its folder (``out``, ``plot``, ``metrics``), so that a resume writes there too."""
    return {"recipe": recipe, "repeats": repeats, "config": config, "paths": paths,
            "mnistnp": __version__, "command": list(command) if command else None,
            "created": now()}


def resumed_settings(earlier: dict[str, Any], config: dict[str, Any],
                     command: Sequence[str] | None, epoch: int, batch: int) -> dict[str, Any]:
    """settings.json of a resumed run: the earlier settings, its config as now (made longer
    perhaps), and this resume added to the list under "resumed"."""
    earlier = {"recipe": None, "repeats": 1, "command": None, **earlier}
    resumed = {"command": list(command) if command else None, "at_epoch": epoch,
               "at_batch": batch, "mnistnp": __version__, "created": now()}
    return {**earlier, "config": config, "resumed": [*earlier.get("resumed", []), resumed]}


def read_settings(path: Path) -> dict[str, Any]:
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


def write_json(path: Path, data: dict[str, Any]) -> None:
    with atomic_write(path, "w") as f:
        json.dump(data, f, indent=2, default=str)
        f.write("\n")


def now() -> str:
    return datetime.now().isoformat(timespec="seconds")
