"""User-facing errors.

Every mistake a user can make (bad config, bad data, bad run folder) raises a subclass of
:class:`RnnlabError` carrying one clear line: what is wrong, where, and how to fix it.
The CLI prints that line and exits non-zero; it never shows a traceback for these.
"""

from __future__ import annotations


class RnnlabError(Exception):
    """Base class of every error caused by user input. ``exit_code`` is what the CLI returns."""

    exit_code = 2


class ConfigError(RnnlabError):
    """An invalid configuration value (names the key, the value received and a hint)."""


class DoctorBlocked(ConfigError):
    """The config doctor found errors (a config that would train without learning); --force
    trains anyway."""


class DataError(RnnlabError):
    """Invalid or unreadable data (names the file, and the row and column where known)."""


class RunError(RnnlabError):
    """A run folder that is missing, incomplete, tampered with or from an incompatible version."""


class TrainingFailed(RnnlabError):
    """Training stopped because it cannot go on (e.g. the loss became NaN)."""

    exit_code = 1


def param_error(key: str, expected: str, got: object, hint: str | None = None) -> ConfigError:
    """Build the one message shape used for every invalid parameter.

    >>> str(param_error("text.maxlen", "an int >= 1", 0))
    "The 'text.maxlen' parameter must be an int >= 1. Got 0 instead."
    """
    msg = f"The '{key}' parameter must be {expected}. Got {got!r} instead."
    if hint:
        msg += f" {hint}"
    return ConfigError(msg)
