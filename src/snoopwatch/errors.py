"""One base exception for everything a user can cause; the CLI turns it into one sentence and exit 2."""

from __future__ import annotations


class SnoopwatchError(Exception):
    """A problem with the user's input or environment, explained in plain words.

    Real bugs are not SnoopwatchErrors: they keep their traceback.
    """

    exit_code = 2


class DatasetError(SnoopwatchError):
    """A data set cannot be read, or breaks the format contract (see shared/DATASET.md)."""

    def __init__(self, message: str, problems: list | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class ScenarioError(SnoopwatchError):
    """A scenario name or scenario data file is unknown or invalid."""


class ModelError(SnoopwatchError):
    """A model file is missing, untrusted, tampered with or incompatible."""


class ConversionError(SnoopwatchError):
    """A real log cannot be converted (bad mapping file, unknown log format)."""
