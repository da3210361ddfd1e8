"""One exception hierarchy for songscope.

Every error a user can cause derives from :class:`SongscopeError`; its message says
what was wrong and what to do. The CLI prints ``str(error)`` on one line and exits with
``error.exit_code``.
"""

from __future__ import annotations


class SongscopeError(Exception):
    """Base class of all errors songscope raises on purpose."""

    exit_code = 1


class InputError(SongscopeError):
    """A path or argument given by the user is unusable (missing, wrong type, ...)."""

    exit_code = 2


class AudioError(InputError):
    """A file exists but cannot be used as audio (not audio, truncated, silent, too short)."""

    exit_code = 3


class OutputError(SongscopeError):
    """A result could not be written."""

    exit_code = 4


class AnnotationError(InputError):
    """A reference annotation file is missing, empty or malformed."""

    exit_code = 5
