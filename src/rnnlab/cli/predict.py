"""``rnnlab predict RUN DATA --out FILE``: one probability column per label."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import typer

from .._io import write_text
from ..data import load_for_run
from ..run import Run
from . import app


@app.command("predict")
def predict(run: Path = typer.Argument(..., help="Run folder."),
            data: Path = typer.Argument(..., help="Texts to score (CSV/TSV/JSONL/parquet; the run's text column)."),
            out: Path = typer.Option(..., "--out", "-o", help="Output CSV: id + one column per label."),
            batch_size: int = typer.Option(1024, help="Rows per forward pass."),
            ) -> None:
    """Score DATA with the model in RUN and write id + probabilities as CSV."""
    r = Run.load(run)
    ds = load_for_run(r.config, data, labelled=False)
    probs = r.predict(ds, batch_size=batch_size)
    frame = pd.DataFrame({"id": ds.ids})
    for j, label in enumerate(r.labels):
        frame[label] = probs[:, j]
    if r.schema.task == "multiclass":
        frame["predicted"] = [r.labels[k] for k in probs.argmax(1)]
    buf = io.StringIO()
    frame.to_csv(buf, index=False, float_format="%.6g")
    write_text(out, buf.getvalue())
    print(f"wrote {len(frame):,} rows to {out}")
