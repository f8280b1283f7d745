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
         out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for this demo's run folders and "
                                                                      "comparison: new or empty (default: runs/demo, "
                                                                      "runs/demo-2… when taken)."),
         full: bool = typer.Option(False, "--full", help="Train every model to its own stopping rule (slower)."),
         threads: Optional[str] = typer.Option(None, "--threads", metavar="auto|N",
                                               help="fit.threads for every model (default: each preset's, 'auto'); "
                                                    "1 on a shared machine."),
         ) -> None:
    """Train the blog's one-hot and embedding SimpleRNNs and a BiGRU on IMDB; print a comparison.
    Ctrl-C ends the demo (exit 130): the model in training is kept as an interrupted run, and the
    comparison lists it so."""
    from rich.table import Table

    from ..engine import format_metric
    from ..experiments.demo import DemoInterrupted, demo_folder, run_demo
    from ..runs.folder import CURVES

    folder = demo_folder(out)
    try:
        rows, code = run_demo(data, folder, full, threads=_threads(threads)), 0
    except DemoInterrupted as stop:
        rows, code = stop.rows, 130
    t = Table(title=f"IMDB validation (20% of the train split) — {folder}")
    for col in ("model", "status", "params", "epochs (best)", "val loss", "val acc", "majority acc", "val AUC",
                "seconds"):
        t.add_column(col, justify="left" if col in ("model", "status") else "right")
    for r in rows:
        if r["params"] is None:
            t.add_row(r["model"], r["status"], *[""] * 7)
            continue
        _f = format_metric
        t.add_row(r["model"], r["status"], f"{r['params']:,}", f"{r['epochs']} ({r['best_epoch']})", _f(r["val_loss"]),
                  _f(r["val_accuracy"]), _f(r["majority_accuracy"]), _f(r["val_auc"]), _f(r["seconds"], 1))
    console().print(t)
    print(f"comparison: {folder / 'comparison.md'}; run folders and {CURVES} under {folder}")
    if code:
        raise typer.Exit(code)


def _threads(value: Optional[str]):
    """--threads as fit.threads: 'auto', a count, or the text itself (the config check names it)."""
    if value is None or value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        return value
