"""Layers that own a random stream (``RandomLayer``: dropout, the augmentations), seeded from
the model's generator and saved by checkpoints to resume bit-identically."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from .base import Layer


class RandomLayer(Layer):
    """A layer that owns a random stream (``rng``, a NumPy Generator).

    Dropout's masks, the augmentations' transforms. ``init`` makes it a child of the model's
    generator, so a seed gives the same draws; a checkpoint finds such layers by this class and
    saves and restores their streams (``random_state``, ``load_random_state``) to resume
    bit-identically.
    """

    # Its training-mode output depends on its stream, not only on the input and parameters.
    deterministic: ClassVar[bool] = False

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)  # until ``init`` gives it the model's child stream

    def init(self, rng: np.random.Generator) -> None:
        """Take a child of the model's generator as this layer's stream.

        Parameters
        ----------
        rng : numpy.random.Generator
            The model's generator; one child is spawned from it.
        """
        self.rng = rng.spawn(1)[0]

    def random_state(self) -> dict[str, Any]:
        """The stream's state, JSON-ready (``bit_generator.state``).

        Returns
        -------
        dict
            The bit generator's state.
        """
        return dict(self.rng.bit_generator.state)

    def load_random_state(self, state: Mapping[str, Any]) -> None:
        """Put back a state ``random_state`` gave: the stream goes on from where it was.

        Parameters
        ----------
        state : mapping
            What ``random_state`` gave.
        """
        self.rng.bit_generator.state = dict(state)
