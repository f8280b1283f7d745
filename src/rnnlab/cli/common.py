"""Options shared by several commands."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer
from rich.console import Console

SET = typer.Option(None, "--set", "-s", metavar="KEY=VALUE",
                   help="Override a config key, e.g. --set fit.epochs=3 --set model.layers.0.units=64 (repeatable).")


def overrides(values: Optional[List[str]]) -> list[str]:
    return list(values or [])


def console():
    """stdout console; tables keep full column names when output is a file or a pipe."""
    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)
