"""The run folder's own files: settings.json (with the history of resumes), the list of what a
run leaves there (so ``--overwrite`` removes only that), new timestamped folders and JSON writes."""

from __future__ import annotations

import argparse
import contextlib
import json
import warnings
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..atomic import atomic_write
from ..config import TrainConfig
from ..errors import MnistnpWarning

if TYPE_CHECKING:
    from ..checkpoint import Checkpoint


def settings_for(args: argparse.Namespace, config: TrainConfig, resume: Checkpoint | None
              ) -> dict[str, Any]:
    """settings.json: the run's settings and command; a resume keeps the earlier ones (from
    the checkpoint's folder) and adds its own command to the list under "resumed"."""
    command = ["mnistnp", *args.argv]
    if resume is None:
        return {"recipe": args.recipe, "repeats": args.repeats, "config": config.to_dict(),
                "mnistnp": __version__, "command": command, "created": now()}
    earlier = {"recipe": None, "repeats": 1, "command": None,
               **read_settings(args.resume.parent / "settings.json")}
    resumed = {"command": command, "at_epoch": resume.state.epoch,
               "at_batch": resume.state.batch, "mnistnp": __version__, "created": now()}
    return {**earlier, "config": config.to_dict(),
            "resumed": [*earlier.get("resumed", []), resumed]}


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


def now() -> str:
    return datetime.now().isoformat(timespec="seconds")
