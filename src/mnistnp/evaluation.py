"""A model scored on a test split, as the pictures and the report show it, and what they are
drawn for: a model file, or a run folder with its settings and per-epoch record."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from . import datasets
from .errors import MnistnpError
from .metrics import (
    ReliabilityBins,
    accuracy,
    confusion_matrix,
    per_class_accuracy,
    reliability_bins,
)
from .model_file import load_model
from .nn import Sequential
from .nn.losses import softmax
from .run_folder import CURVE, METRICS, MODEL, SETTINGS, read_settings
from .sources import DataSource, check_fits, trained_on


@dataclass
class Evaluation:
    """A model's class probabilities on a test split.

    Parameters
    ----------
    images : ndarray of shape (n_samples, *sample_shape)
        The test images as the model takes them (uint8 pixels for a dataset's images).
    labels : ndarray of shape (n_samples,), integer
        Their true classes.
    proba : ndarray of shape (n_samples, n_classes), float
        The model's probabilities (the softmax of its logits).
    predicted : ndarray of shape (n_samples,), int
        The predicted classes: the argmax of the logits, as ``Sequential.predict``.
    class_names : tuple of str
        A name per class ("0".."9" for digits).
    data : str
        What the split is, for titles: "mnist's test split".
    """

    images: np.ndarray
    labels: np.ndarray
    proba: np.ndarray
    predicted: np.ndarray
    class_names: tuple[str, ...]
    data: str = "the test split"

    @property
    def confidence(self) -> np.ndarray:
        """The probability of each predicted class, shape (n_samples,)."""
        return self.proba.max(axis=1)

    @cached_property
    def confusion(self) -> np.ndarray:
        """Counts of shape (n_classes, n_classes), int64: row = true class."""
        return confusion_matrix(self.labels, self.predicted, self.proba.shape[1])

    @property
    def accuracy(self) -> float:
        return accuracy(self.labels, self.predicted)

    @property
    def per_class(self) -> np.ndarray:
        """Accuracy of each class, shape (n_classes,), NaN for a class with no samples."""
        return per_class_accuracy(self.confusion)

    @cached_property
    def reliability(self) -> ReliabilityBins:
        return reliability_bins(self.proba, self.labels)


def evaluate(model: Sequential, images: np.ndarray, labels: np.ndarray,
             class_names: tuple[str, ...] | None = None,
             data: str = "the test split") -> Evaluation:
    """Score ``model`` on ``images`` (n_samples, *sample_shape) and ``labels``
    (n_samples,): its logits in batches of ``model.eval_rows`` (bounded memory), their
    argmax and softmax. InputError for pixels already scaled to [0, 1] (``check_pixels``)."""
    model.check_pixels(images)
    rows = model.eval_rows
    chunks = [model.forward(images[i:i + rows]) for i in range(0, len(images), rows)]
    logits = np.concatenate(chunks) if chunks else np.empty((0, model.num_classes))
    names = class_names or tuple(str(c) for c in range(model.num_classes))
    return Evaluation(images, np.asarray(labels), softmax(logits), np.argmax(logits, axis=1),
                      names, data)


def test_split_name(source: DataSource) -> str:
    """"mnist's test split", "mnist's test split in DIR", "the test split in DIR"."""
    if source.registered:
        return f"{source.name}'s test split" + (f" in {source.data_dir}" if source.data_dir
                                                 else "")
    return f"the test split in {source.data_dir}"


def evaluate_on(model: Sequential, path: str | os.PathLike[str],
                source: DataSource) -> Evaluation:
    """Score ``model`` (read from ``path``) on the test split of ``source``, checked first
    to fit the model (``sources.check_fits``)."""
    data = source.load()
    check_fits(model, path, data, source)
    _, (x_test, y_test) = data
    names = datasets.class_names(source.registered or trained_on(model.info), model.num_classes)
    return evaluate(model, x_test, y_test, names, test_split_name(source))


@dataclass
class Subject:
    """What the pictures and the report are of: a model, the file it was read from, and,
    for a run folder, the folder, its settings.json and its metrics.jsonl records (one dict
    per epoch, as ``History.record`` writes them)."""

    model: Sequential
    model_path: Path
    run_dir: Path | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    epochs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def learning_curve(self) -> Path | None:
        """The run's learning curve PNG, if it has one."""
        if self.run_dir is None:
            return None
        path = _run_file(self.settings, "plot", self.run_dir / CURVE)
        return path if path.suffix.lower() == ".png" and path.is_file() else None

    @property
    def folder(self) -> Path:
        """Where its pictures go by default: the run folder, or the model file's folder."""
        return self.run_dir if self.run_dir is not None else self.model_path.parent


def open_subject(path: str | os.PathLike[str]) -> Subject:
    """A model file, or a run folder (its model.npz, or the file its ``out`` path named, its
    settings.json and metrics.jsonl). MnistnpError naming the path when it is neither, or is
    a run of several seeds."""
    path = Path(path)
    if not path.is_dir():
        if not path.exists():
            raise MnistnpError(f"{path}: no such model file or run folder")
        return Subject(load_model(path), path)
    settings = read_settings(path / SETTINGS)
    model = _run_file(settings, "out", path / MODEL)  # where --out sent it, if it did
    if not model.is_file():
        seeds = sorted(p.name for p in path.glob("seed-*") if (p / MODEL).is_file())
        if seeds:
            raise MnistnpError(f"{path}: a run of several seeds; give one of its folders "
                               f"({', '.join(seeds)})")
        raise MnistnpError(f"{path}: not a run folder (it holds no {MODEL})")
    return Subject(load_model(model), model, path, settings,
                   read_epochs(_run_file(settings, "metrics", path / METRICS)))


def _run_file(settings: dict[str, Any], key: str, default: Path) -> Path:
    """Where a run's file went: the path its settings record (``paths``: ``out``,
    ``metrics``, ``plot``) when the run was given one, else its place in the folder."""
    paths = settings.get("paths")
    given = paths.get(key) if isinstance(paths, dict) else None
    return Path(given) if isinstance(given, str) else default


def read_epochs(path: Path) -> list[dict[str, Any]]:
    """The per-epoch records of a metrics.jsonl file ([] if it is missing); a line that is
    not a JSON object (a torn last line) is left out."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as e:
        raise MnistnpError(f"{path}: cannot be read ({e.strerror or e})") from None
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records
