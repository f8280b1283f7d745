"""``rnnlab demo``: train and compare the IMDB demo models end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import app, console


@app.command("demo")
def demo(data: Optional[Path] = typer.Option(None, "--data", "-d", envvar="RNNLAB_IMDB",
                                             help="IMDB train data: our CSV, the aclImdb folder/tar.gz or imdb.npz "
                                                  "(default: $RNNLAB_IMDB, else the official download)."),
         out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="Folder for the run folders."),
         full: bool = typer.Option(False, "--full", help="Train every model to its own stopping rule (slower)."),
         ) -> None:
    """Train the blog's one-hot and embedding SimpleRNNs and a BiGRU on IMDB; print a comparison."""
    from rich.table import Table

    from ..engine import format_metric as _f
    from ..experiments.demo import run_demo
    from ..runs.folder import CURVES

    rows = run_demo(data, out, full)
    t = Table(title=f"IMDB validation (20% of the train split) — {out}")
    for col in ("model", "params", "epochs (best)", "val loss", "val acc", "majority acc", "val AUC", "seconds"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for r in rows:
        t.add_row(r["model"], f"{r['params']:,}", f"{r['epochs']} ({r['best_epoch']})", _f(r["val_loss"]),
                  _f(r["val_accuracy"]), _f(r["majority_accuracy"]), _f(r["val_auc"]), _f(r["seconds"], 1))
    console().print(t)
    print(f"comparison: {out / 'comparison.md'}; run folders and {CURVES} under {out}")
