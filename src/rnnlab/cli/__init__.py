"""The ``rnnlab`` command: one module per command, each a thin wrapper over a library function.

Each command module registers itself on :data:`.common.app`; importing them here makes the
command complete. User mistakes (bad config, bad data, bad run folder) print one ``error:``
line and exit non-zero; they never show a traceback.
"""

from __future__ import annotations

import sys

from ..errors import RnnlabError
from . import (blend, calibrate, check, compare, demo, evaluate, explain, export, predict,  # noqa: F401
               quantize, report, serve, submission, summary, sweep, thresholds, train, vectors)  # (registers them)
from .common import app, err

__all__ = ["app", "main"]


def main() -> None:
    """The ``rnnlab`` console script."""
    try:
        app()
    except RnnlabError as exc:
        err.print(f"error: {exc}", markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        sys.exit(130)
