"""What network to build, as a typed dataclass (``ModelConfig``): a layer string, or the
settings of an MLP that make one."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .nn.arch import LayerStringError, mlp_layers, mlp_parts, parse_layers
from .nn.augment import MAX_SHIFT

# The settings that make an MLP (``ModelConfig.mlp``): a shorthand for its layer string.
MLP_SETTINGS = ("hidden", "dropout", "shift")


@dataclass(frozen=True)
class ModelConfig:
    """What network to build: its layers, as a layer string (see ``nn.arch``).

    The input shape and the number of classes come from the data; the output layer is added
    to match.

    Attributes
    ----------
    layers : str, default "dense:50,dense:50,dense:50"
        The hidden layers, e.g. ``"dense:256,dropout:0.2,dense:128"`` (``dense:N`` is N units
        and a ReLU). Checked by ``validate``, not on construction.
    """

    layers: str = "dense:50,dense:50,dense:50"

    @classmethod
    def mlp(cls, hidden: tuple[int, ...] = (50, 50, 50), dropout: float = 0.0,
            shift: int = 0) -> ModelConfig:
        """The config of an MLP: dense ReLU layers, optionally dropout and random shifts.

        Parameters
        ----------
        hidden : tuple of int, default (50, 50, 50)
            The hidden layers' widths, each >= 1; at least one.
        dropout : float, default 0.0
            The fraction of units dropped after every hidden layer in training, in [0, 1);
            0 adds no dropout layers.
        shift : int, default 0
            Move the training images by up to this many pixels (a ``RandomShift`` first),
            0 to MAX_SHIFT (8); 0 adds no such layer.

        Returns
        -------
        ModelConfig
            Its layer string, as ``mlp_layers`` writes it.

        Raises
        ------
        ValueError
            Naming the first bad setting and its value.
        """
        checks = [("hidden", bool(hidden) and min(hidden) >= 1, "widths must be >= 1"),
                  ("dropout", 0 <= dropout < 1, "must be in [0, 1)"),
                  ("shift", 0 <= shift <= MAX_SHIFT, f"must be 0 to {MAX_SHIFT} pixels")]
        for name, ok, why in checks:
            if not ok:
                value = {"hidden": ",".join(map(str, hidden)), "dropout": f"{dropout:g}",
                         "shift": shift}[name]
                raise ValueError(f"{name} {value}: {why}")
        return cls(mlp_layers(hidden, dropout, shift))

    def mlp_settings(self) -> dict[str, Any] | None:
        """The ``mlp`` settings that make these layers, if an MLP's.

        Returns
        -------
        dict or None
            ``{"hidden": tuple of int, "dropout": float, "shift": int}`` if ``mlp`` would make
            these layers, else None.
        """
        parts = mlp_parts(self.layers)
        return None if parts is None else dict(zip(MLP_SETTINGS, parts))

    def validate(self) -> ModelConfig:
        """Check the layer string.

        Returns
        -------
        ModelConfig
            ``self``, so a check can be chained.

        Raises
        ------
        ValueError
            Saying what is wrong with the layer string, which it quotes.
        """
        try:
            parse_layers(self.layers)
        except LayerStringError as e:
            raise ValueError(f"layers {self.layers!r}: {e}") from None
        return self

    def with_overrides(self, **changes: Any) -> ModelConfig:
        """A copy with ``layers``, or any of the MLP settings, changed.

        Parameters
        ----------
        **changes
            ``layers`` (str), or any of ``hidden``, ``dropout`` and ``shift`` (as ``mlp``
            takes them); None values are ignored, as not given.

        Returns
        -------
        ModelConfig
            The new config, checked; ``self`` if nothing was given.

        Raises
        ------
        ValueError
            If both the layers and MLP settings are given (the layers say the whole network),
            MLP settings are given for layers that are not an MLP's, or a value is bad.
        """
        given = {k: v for k, v in changes.items() if v is not None}
        shorthand = {k: given[k] for k in MLP_SETTINGS if k in given}
        if "layers" in given:
            if shorthand:
                raise ValueError(f"layers {given['layers']!r}: the layers say the whole "
                                 f"network, so {' and '.join(shorthand)} cannot be given too")
            return ModelConfig(given["layers"]).validate()
        if not shorthand:
            return self
        settings = self.mlp_settings()
        if settings is None:
            raise ValueError(f"{next(iter(shorthand))}: the layers {self.layers!r} are not an "
                             "MLP's; give the whole network as layers")
        return ModelConfig.mlp(**{**settings, **shorthand})

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-ready data.

        Returns
        -------
        dict
            ``{"layers": str}``.
        """
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        """The config ``to_dict`` gave.

        Parameters
        ----------
        d : dict
            ``{"layers": str}``; other keys are ignored.

        Returns
        -------
        ModelConfig
            The config, not yet checked (see ``validate``).
        """
        return cls(str(d["layers"]))
