"""``rnnlab predict RUN INPUT --out FILE``: stream INPUT through the model, one probability
column per label."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Optional

import pandas as pd
import typer

from .._io import write_text
from ..data import load_for_run
from ..errors import ConfigError
from ..run import Run
from ..scoring import CHUNK_ROWS, score_file
from . import app


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
            id_column: Optional[str] = typer.Option(None, help="Id column (default: 'id' when present, else row numbers)."),
            threshold: Optional[str] = typer.Option(None, help="Add 0/1 <label>_pred columns at this threshold, or "
                                                               "'run' for the run's stored per-label thresholds."),
            chunk_rows: int = typer.Option(CHUNK_ROWS, min=1, help="Rows read and scored at a time."),
            batch_size: int = typer.Option(1024, min=1, help="Rows per forward pass."),
            ) -> None:
    """Score DATA with the model in RUN, streaming in chunks (constant memory); written atomically."""
    r = Run.load(run)
    t = _threshold(threshold)
    if t == "run" and not r.thresholds:
        raise ConfigError(f"--threshold run: '{run}' has no stored thresholds; run `rnnlab thresholds {run}` first "
                          f"or give a number.")
    path = Path(data)
    if data != "-" and (path.is_dir() or path.name.endswith((".npz", ".tar.gz", ".tgz", ".tar"))):
        _predict_dataset(r, path, out, batch_size)  # IMDB's folder / archive / Keras npz: not a table
        return
    info = score_file(r, data, out, text_column=text_column, id_column=id_column, chunk_rows=chunk_rows,
                      threshold=t, batch_size=batch_size)
    print(f"wrote {info['rows']:,} rows to {out} ({info['rows_per_second']:,} rows/s)")


def _predict_dataset(r: Run, path: Path, out: Path, batch_size: int) -> None:
    ds = load_for_run(r.config, path, labelled=False)
    probs = r.predict(ds, batch_size=batch_size)
    frame = pd.DataFrame({"id": ds.ids})
    for j, label in enumerate(r.labels):
        frame[label] = probs[:, j]
    buf = io.StringIO()
    frame.to_csv(buf, index=False, float_format="%.6g")
    write_text(out, buf.getvalue())
    print(f"wrote {len(frame):,} rows to {out}")
