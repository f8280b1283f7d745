"""``rnnlab summary CONFIG``: the Keras-style model table without training."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import SET, app, console, overrides


@app.command("summary")
def summary(config: Path = typer.Argument(..., help="TOML config file."), set_: Optional[List[str]] = SET) -> None:
    """Print layers, output shapes and parameter counts exactly as Keras's model.summary()."""
    from ..models import summary_table
    from ..train.prepare import summary_model

    model, notes = summary_model(config, overrides(set_))
    out = console()
    for note in notes:
        out.print(f"note: {note}", markup=False)
    out.print(summary_table(model, title=config.stem))
