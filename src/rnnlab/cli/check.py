"""``rnnlab check CONFIG``: the config doctor — what would go wrong, before training."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import SET, app, overrides


@app.command("check")
def check(config: Path = typer.Argument(..., help="TOML config file."), set_: Optional[List[str]] = SET) -> None:
    """Examine CONFIG (and every variant of its [sweep]) against a profile of its data: errors,
    warnings and how to fix them. Exit code 1 when any error is found, else 0."""
    from ..config import load_config
    from ..experiments.doctor import diagnose, format_report, has_sweep
    from ..train.doctor import has_errors

    cfg = load_config(config, overrides(set_))
    diagnoses = diagnose(cfg)
    typer.echo(format_report(diagnoses, sweep=has_sweep(cfg)))
    raise typer.Exit(1 if any(has_errors(d.findings) for d in diagnoses) else 0)
