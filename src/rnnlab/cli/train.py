"""``rnnlab train CONFIG``: train a model and write its run folder."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from ..train.trainer import train as train_fn
from . import app
from .common import SET, overrides


@app.command("train")
def train(config: Path = typer.Argument(..., help="TOML config file."),
          set_: Optional[List[str]] = SET,
          out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder (default: runs/<name>, -2, -3… if taken)."),
          quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output."),
          force: bool = typer.Option(False, "--force", help="Train even when the config doctor finds errors."),
          ) -> None:
    """Train the model CONFIG describes; prints per-epoch metrics and writes runs/<name>/."""
    run = train_fn(config, overrides(set_), run_dir=out, verbose="quiet" if quiet else None, force=force)
    status = run.metrics.get("status")
    print(f"run folder: {run.dir}")
    if status == "interrupted":
        sys.exit(130)
