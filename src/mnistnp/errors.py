"""The error types mnistnp raises for bad input; each message names the file or value at fault."""

from __future__ import annotations


class MnistnpError(Exception):
    """Base of every error mnistnp reports to a user as one line (no traceback)."""


class DatasetError(MnistnpError):
    """A data file or folder is missing, corrupt or inconsistent."""


class ModelFileError(MnistnpError):
    """A model file is missing, corrupt, or not one mnistnp can rebuild."""


class ExportError(MnistnpError):
    """A model cannot be exported (a layer kind without an ONNX piece), or the exporter's
    optional package is missing."""


class ImageError(MnistnpError):
    """An image given to ``predict`` cannot be read or prepared."""


class TrainingError(MnistnpError):
    """Training cannot go on (for example, the loss became non-finite).

    ``setting`` names the setting whose change would help (``"lr"``), if one would.

    Parameters
    ----------
    message : str
        What went wrong.
    setting : str, optional
        The setting whose change would help, such as ``"lr"``.
    """

    def __init__(self, message: str, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


class InputError(MnistnpError, ValueError):
    """Arrays given to a model are not what it takes.

    Pixels already scaled to [0, 1] for a model that rescales 0-255 pixels itself.
    """


class SettingError(MnistnpError, ValueError):
    """A setting's value does not suit the data.

    A validation split that leaves too little to train or validate on, say. ``setting`` names it
    (``"val_split"``), and the message starts with it as the command line spells it (``val-split
    60000: ...``).

    Parameters
    ----------
    message : str
        The message, starting with the setting as the command line spells it.
    setting : str
        The setting's name, such as ``"val_split"``.
    """

    def __init__(self, message: str, setting: str) -> None:
        super().__init__(message)
        self.setting = setting


class MnistnpWarning(UserWarning):
    """Something that works but is probably not what the user meant (an option the chosen
    optimizer ignores, a nearly empty class). The library warns with ``warnings.warn``; the
    command line shows each as one line, ``mnistnp: warning: <message>``."""


def os_problem(error: OSError, what: str) -> str:
    """The short reason a file could not be read, for ``f"{path}: {reason}"`` messages."""
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, IsADirectoryError):
        return f"is a directory, not {what}"
    if isinstance(error, PermissionError):
        return "permission denied"
    return f"cannot read ({error.strerror or error})"


class ShapeError(MnistnpError, ValueError):
    """A layer cannot take the shape the layer before it (or the data) gives it."""
