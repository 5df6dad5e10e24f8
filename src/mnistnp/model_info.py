"""What a model file records about how its model was made: a typed, read-only record over the
JSON object stored in the file (older files' keys, and keys it does not know, are kept)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from .version import __version__


class ModelInfo(Mapping[str, Any]):
    """The ``info`` of a model file. Reads as a mapping (``info["config"]``), as it always has.

    The library reads it through the typed properties, which give None for what the file does not
    record, or records as the wrong type (a hostile or hand-edited file).

    Parameters
    ----------
    data : mapping, optional
        The file's recorded info (a copy is kept).
    """

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data = dict(data or {})

    @classmethod
    def of_run(cls, config: Mapping[str, Any], *, recipe: str | None, seed: int,
               image_shape: tuple[int, ...], metrics: Mapping[str, Any]) -> ModelInfo:
        """The record ``mnistnp train`` (a Run) writes: ``config`` is ``TrainConfig.to_dict()``.

        Parameters
        ----------
        config : mapping
            ``TrainConfig.to_dict()``.
        recipe : str or None
            The recipe's name, if the run started from one.
        seed : int
            The run's seed.
        image_shape : tuple of int
            One training image's shape, such as (28, 28).
        metrics : mapping
            The run's figures (accuracies, time).

        Returns
        -------
        ModelInfo
            The record, with the version of mnistnp and the time it was made.
        """
        return cls({"seed": seed, "dataset": config.get("dataset"), "recipe": recipe,
                    "image_shape": list(image_shape), "config": dict(config),
                    "metrics": dict(metrics), "mnistnp": __version__,
                    "saved": datetime.now().isoformat(timespec="seconds")})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"ModelInfo({self._data!r})"

    def to_dict(self) -> dict[str, Any]:
        """The record as a plain dict (a shallow copy), as the model file stores it.

        Returns
        -------
        dict
            Every recorded key and its value.
        """
        return dict(self._data)

    def _typed(self, key: str, kind: type, within: Mapping[str, Any] | None = None) -> Any:
        value = (self._data if within is None else within).get(key)
        return value if isinstance(value, kind) else None

    @property
    def config(self) -> dict[str, Any]:
        """The training settings as recorded ({} if none)."""
        return self._typed("config", dict) or {}

    @property
    def dataset(self) -> str | None:
        """The dataset's name (the config's first, then the record's own)."""
        name = self.config.get("dataset", self._data.get("dataset"))
        return name if isinstance(name, str) else None

    @property
    def data_dir(self) -> str | None:
        """The folder of IDX files the model was trained on, as its config recorded it."""
        return self._typed("data_dir", str, self.config)

    @property
    def image_shape(self) -> tuple[int, ...] | None:
        """The shape of one training image, such as (28, 28), or None if not recorded."""
        shape = self._typed("image_shape", list)
        if shape is None or not all(isinstance(n, int) for n in shape):
            return None
        return tuple(shape)

    @property
    def seed(self) -> int | None:
        """The seed the model was trained with, or None if not recorded."""
        return self._typed("seed", int)

    @property
    def recipe(self) -> str | None:
        """The recipe's name (``RECIPES``), or None if not recorded."""
        return self._typed("recipe", str)

    @property
    def metrics(self) -> dict[str, Any]:
        """Accuracies (fractions) and times of the run that made the model ({} if none)."""
        return self._typed("metrics", dict) or {}
