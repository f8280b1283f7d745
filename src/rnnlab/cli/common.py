"""What every command shares: the typer application they register on, the stderr console, and
common options."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer
from rich.console import Console

app = typer.Typer(name="rnnlab", add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None,
                  help="Train, compare and use recurrent-network text classifiers (Keras semantics, PyTorch engine).")
err = Console(stderr=True, highlight=False)

SET = typer.Option(None, "--set", "-s", metavar="KEY=VALUE",
                   help="Override a config key, e.g. --set fit.epochs=3 --set model.layers.0.units=64 (repeatable).")

TRACK = typer.Option(False, "--track",
                     help="Log to MLflow (same as --set track.mlflow=true): the local store runs/mlflow.db unless "
                          "track.uri or MLFLOW_TRACKING_URI names another (docs/tracking.md).")


def overrides(values: Optional[List[str]], track: bool = False) -> list[str]:
    """The --set values, with track.mlflow=true last when ``track`` (--track)."""
    return list(values or []) + (["track.mlflow=true"] if track else [])


def console():
    """stdout console; tables keep full column names when output is a file or a pipe."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)
