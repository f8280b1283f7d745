"""``rnnlab predict RUN INPUT --out FILE``: stream INPUT (a file or a folder of shards) through
the model, one probability column per label; ``--workers N`` scores in N processes."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import ConfigError
from .common import app, err

# = rnnlab.use.predict.CHUNK_ROWS (not imported from there: that would load pandas and torch for --help;
# tests/test_cli_start.py checks they agree)
CHUNK_ROWS = 10_000


def _threshold(value: Optional[str]):
    if value is None or value == "run":
        return value
    try:
        t = float(value)
    except ValueError:
        t = -1.0
    if not 0 <= t <= 1:
        raise ConfigError(f"--threshold must be a number in [0, 1] or 'run' (the run's stored per-label "
                          f"thresholds). Got {value!r} instead.")
    return t


@app.command("predict")
def predict(run: Path = typer.Argument(..., help="Run folder."),
            data: str = typer.Argument(..., help="CSV/TSV/JSONL (plain or .gz/.zip/.bz2/.xz) or parquet with a text "
                                                 "column; '-' reads one text per line from stdin."),
            out: Path = typer.Option(..., "--out", "-o", help="Output CSV: id + one column per label."),
            text_column: Optional[str] = typer.Option(None, help="Text column (default: the run's)."),
            id_column: Optional[str] = typer.Option(None, help="Id column (default: 'id' when present, else row "
                                                               "numbers)."),
            threshold: Optional[str] = typer.Option(None, help="Add 0/1 <label>_pred columns at this threshold, or "
                                                               "'run' for the run's stored per-label thresholds."),
            chunk_rows: int = typer.Option(CHUNK_ROWS, min=1, help="Rows read and scored at a time."),
            batch_size: int = typer.Option(1024, min=1, help="Rows per forward pass."),
            fmt: str = typer.Option("auto", "--format", help="Input format: auto (from the name), csv, tsv, jsonl or "
                                                             "parquet."),
            workers: int = typer.Option(1, "--workers", min=1, help="Processes that score (one thread each); the "
                                                                    "output is the same for any count."),
            raw: bool = typer.Option(False, "--raw", help="The network's own outputs, without the run's stored "
                                                          "calibration (default: calibrated when the run has one)."),
            ) -> None:
    """Score DATA with the model in RUN, streaming in chunks (constant memory); written atomically."""
    from ..runs import Run
    from ..use.predict import predict_file

    info = predict_file(Run.load(run), data, out, text_column=text_column, id_column=id_column,
                        chunk_rows=chunk_rows, threshold=_threshold(threshold), batch_size=batch_size, fmt=fmt,
                        workers=workers, raw=raw)
    for note in info.get("notes", []):
        err.print(f"note: {note}", markup=False, soft_wrap=True)
    speed = f" ({info['rows_per_second']:,} rows/s)" if "rows_per_second" in info else ""
    print(f"wrote {info['rows']:,} rows to {out}{speed}")
