"""``rnnlab sweep CONFIG``: run every variant of the config's [sweep] as its own run."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import SET, TRACK, app, overrides


@app.command("sweep")
def sweep(config: Path = typer.Argument(..., help="TOML config with a [sweep] table."),
          set_: Optional[List[str]] = SET,
          storage: Optional[str] = typer.Option(None, help="Optuna storage URL (postgresql://…) or journal file "
                                                           "(default runs/<study>/study.journal)."),
          study: Optional[str] = typer.Option(None, help="Study name (default: the config's name)."),
          workers: int = typer.Option(1, min=1, help="Local worker processes; threads are split between them."),
          force: bool = typer.Option(False, "--force", help="Also run variants the config doctor finds errors in."),
          worker: bool = typer.Option(False, "--worker", hidden=True),
          threads: Optional[int] = typer.Option(None, hidden=True),
          nproc: int = typer.Option(1, "--nproc", min=1, help="Train each variant data-parallel on this many "
                                                              "processes (rnnlab train --nproc; docs/scale.md)."),
          track: bool = TRACK,
          ) -> None:
    """Train every variant (resuming an interrupted sweep), then print the ranked comparison."""
    from ..experiments.sweep import run_sweep
    from ..report.compare import render, rows_from_study

    info = run_sweep(config, overrides(set_, track), storage=storage, study=study, workers=workers, force=force,
                     worker=worker, threads=threads, nproc=nproc)
    if worker:
        return
    rows = rows_from_study(info["storage"], info["study"], Path(info["dir"]))
    print()
    print(render(rows, "md"))
    print(f"study: {info['study']} in {info['storage']}; `rnnlab compare {info['dir']}` shows this table again")
