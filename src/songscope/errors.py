"""One exception hierarchy for songscope, and the failure record of a batch.

Every error a user can cause derives from :class:`SongscopeError`; its message says
what was wrong and what to do. The CLI prints ``str(error)`` on one line and exits with
``error.exit_code``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["AnnotationError", "AudioError", "BatchError", "CheckpointError", "ConfigError", "Failure",
           "InputError", "Interrupted", "OutputError", "SongscopeError", "TrainingDiverged"]


class SongscopeError(Exception):
    """Base class of all errors songscope raises on purpose."""

    exit_code = 1


class InputError(SongscopeError):
    """A path or argument given by the user is unusable (missing, wrong type, ...)."""

    exit_code = 2


class ConfigError(InputError):
    """A setting is wrong: a bad value in a config file, an unknown model name or option."""


class CheckpointError(InputError):
    """A model file cannot be used: unreadable, of another family, or refused as unsafe."""


class AudioError(InputError):
    """A file exists but cannot be used as audio (not audio, truncated, silent, too short)."""

    exit_code = 3


class OutputError(SongscopeError):
    """A result could not be written."""

    exit_code = 4


class TrainingDiverged(InputError):
    """Training gave a loss that is not a finite number (the learning rate is too high for the data)."""


class AnnotationError(InputError):
    """A reference annotation file is missing, empty or malformed."""

    exit_code = 5


class Interrupted(SongscopeError):
    """The run was stopped by a signal: Ctrl-C / SIGINT (exit status 130) or SIGTERM (143)."""

    def __init__(self, signal_name: str = "SIGINT", exit_code: int = 130):
        self.exit_code = exit_code
        super().__init__(f"interrupted by {signal_name}; finished outputs are kept, nothing is half-written")


@dataclass
class Failure:
    """An input of a batch that could not be processed, and the one-line reason."""

    item: Any
    message: str
    exit_code: int = 1


class BatchError(SongscopeError):
    """Some inputs of a batch failed; ``results`` holds the others, ``failures`` the reasons."""

    def __init__(self, results: list, failures: list[Failure]):
        self.results, self.failures = results, failures
        lines = "; ".join(f.message for f in failures)
        super().__init__(f"{len(failures)} of {len(results) + len(failures)} inputs failed: {lines}")
