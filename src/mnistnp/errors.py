"""The error types mnistnp raises for bad input; each message names the file or value at fault."""

from __future__ import annotations


class MnistnpError(Exception):
    """Base of every error mnistnp reports to a user as one line (no traceback)."""


class DatasetError(MnistnpError):
    """A data file or folder is missing, corrupt or inconsistent."""


class ModelFileError(MnistnpError):
    """A model file is missing, corrupt, or not one mnistnp can rebuild."""


class ImageError(MnistnpError):
    """An image given to ``predict`` cannot be read or prepared."""


class TrainingError(MnistnpError):
    """Training cannot go on (for example, the loss became non-finite)."""
