"""``rnnlab submission RUN TEST --sample sample_submission.csv --out submission.csv``."""

from __future__ import annotations

from pathlib import Path

import typer

from .common import app


@app.command("submission")
def submission(run: Path = typer.Argument(..., help="Run folder."),
               test: Path = typer.Argument(..., help="Kaggle test.csv (plain/.zip/.gz)."),
               sample: Path = typer.Option(..., "--sample", help="Kaggle sample_submission.csv."),
               out: Path = typer.Option(Path("submission.csv"), "--out", "-o", help="Where to write."),
               batch_size: int = typer.Option(1024, help="Rows per forward pass."),
               raw: bool = typer.Option(False, "--raw", help="The network's own outputs, without the run's stored "
                                                             "calibration (the same ROC AUC)."),
               ) -> None:
    """Write a Kaggle submission with exactly the sample's columns and ids (checked before writing)."""
    from ..runs import Run
    from ..use.submission import write_submission

    info = write_submission(Run.load(run), test, sample, out, batch_size=batch_size, raw=raw)
    print(f"wrote {info['rows']:,} rows to {info['path']} (columns: {', '.join(info['columns'])}); checked "
          f"against {sample}")
