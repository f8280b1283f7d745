"""The ``rnnlab`` command: one module per command, each a thin wrapper over a library function.

User mistakes (bad config, bad data, bad run folder) print one ``error:`` line and exit
non-zero; they never show a traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from ..errors import RnnlabError

app = typer.Typer(name="rnnlab", add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None,
                  help="Train, compare and use recurrent-network text classifiers (Keras semantics, PyTorch engine).")
err = Console(stderr=True, highlight=False)

from . import (blend, check, compare, demo, evaluate, export, predict, report, serve, submission,  # noqa: E402,F401
               summary, sweep, thresholds, train)  # (register the commands)


def main() -> None:
    try:
        app()
    except RnnlabError as exc:
        err.print(f"error: {exc}", markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        sys.exit(130)
