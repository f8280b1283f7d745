"""``rnnlab blend RUN RUN ... [--data DATA]``: combine trained runs into one evaluated, usable run."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..errors import ConfigError
from .common import app, console


@app.command("blend")
def blend(runs: List[Path] = typer.Argument(..., help="Two or more run folders (RNN, baseline, k-fold or blend runs)."),
          data: Optional[Path] = typer.Option(None, "--data", help="Labelled data to evaluate on (default: the "
                                              "validation rows all runs held out; the members' training file "
                                              "means the same)."),
          weights: Optional[str] = typer.Option(None, "--weights", help="Comma-separated weights, one per run "
                                                "(default: equal)."),
          method: str = typer.Option("mean", "--method", help="'mean' of probabilities or 'rank' (of each run's "
                                     "validation percentiles)."),
          out: Optional[Path] = typer.Option(None, "--out", "-o", help="Blend run folder (default runs/blend, -2…)."),
          ) -> None:
    """Average the predictions of several runs (optionally weighted or rank-averaged), evaluate the blend
    beside each run on the same rows, and write it as a run folder for predict / submission / serve."""
    from rich.table import Table

    from ..engine import format_metric as _f
    from ..use.blend import blend as blend_fn

    w = None
    if weights is not None:
        try:
            w = [float(x) for x in weights.split(",")]
        except ValueError:
            raise ConfigError(f"--weights must be comma-separated numbers, e.g. 2,1,1. Got {weights!r} "
                              f"instead.") from None
    run, ev = blend_fn(runs, out=out, data=data, weights=w, method=method)
    t = Table(title=f"blend ({method}) on {ev['data']}")
    for col in ("run", "weight", "mean ROC AUC", "accuracy (majority)", "loss"):
        t.add_column(col, justify="left" if col == "run" else "right")
    for m in ev["members"]:
        t.add_row(m["run"], f"{m['weight']:g}", _f(m.get("auc")),
                  f"{_f(m.get('accuracy'))} ({_f(m.get('majority_accuracy'))})", _f(m.get("loss")))
    b = ev["blend"]
    acc = f"{_f(b.get('accuracy'))} ({_f(b.get('majority_accuracy'))})" if method == "mean" else \
        f"n/a: ranks ({_f(b.get('majority_accuracy'))})"  # percentiles cut at 0.5 are no decisions
    t.add_row("blend", "", _f(b.get("auc")), acc, _f(b.get("loss")), style="bold")
    screen = console()
    screen.print(t)
    screen.print(f"run folder: {run.dir}", markup=False)
