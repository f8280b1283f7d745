"""``rnnlab calibrate RUN [DATA]``: fit and store temperature (or Platt) scaling; ECE before and after."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from .common import app, console


@app.command("calibrate")
def calibrate(run: Path = typer.Argument(..., help="Run folder."),
              data: Optional[Path] = typer.Argument(None, help="Labelled held-out data (default: the run's "
                                                               "validation split)."),
              labels: Optional[Path] = typer.Option(None, "--labels", help="Kaggle test_labels.csv for a Jigsaw "
                                                                           "test.csv."),
              method: str = typer.Option("temperature", help="temperature (default) or platt."),
              seed: Optional[int] = typer.Option(None, help="Seed of the half/half split that measures ECE "
                                                            "(default: the run's seed)."),
              dry_run: bool = typer.Option(False, "--dry-run", help="Show the fit without storing it."),
              ) -> None:
    """Per-label temperature (or Platt) scaling fitted on held-out rows, stored in the run; predict, serve,
    thresholds and submission apply it."""
    from rich.table import Table

    from ..data import load_for_run
    from ..engine import format_metric as f
    from ..runs import Run
    from ..use.calibrate import check_request, fit_calibration, save_calibration

    r = Run.load(run)
    check_request(r, method)  # before reading DATA
    ds = None if data is None else load_for_run(r.config, data, labelled=True, labels_path=labels)
    result = fit_calibration(r, ds, method, seed)
    t = Table(title=f"{r.name}: {method} scaling fitted on {result['data']} ({result['rows']:,} rows); ECE "
                    f"({result['bins']} bins) on rows not fitted on (two-fold, seed {result['seed']})")
    for col in ("label", "calibration", "ECE before", "ECE after", "ROC AUC before", "ROC AUC after"):
        t.add_column(col, justify="left" if col in ("label", "calibration") else "right")
    for label in r.labels:
        entry = (result.get("labels") or {}).get(label) or {}
        what = (f"T = {entry['temperature']:.4f}" if "temperature" in entry else
                f"a = {entry['a']:.4f}, b = {entry['b']:.4f}" if "a" in entry else
                f"T = {result['softmax_temperature']:.4f} (softmax)")
        t.add_row(label, what, f(result["ece_before"][label]), f(result["ece_after"][label]),
                  f(result["auc_before"][label]), f(result["auc_after"][label]))
    console().print(t)
    if dry_run:
        print("not stored (--dry-run)")
        return
    mapped = save_calibration(r, result)
    print(f"stored in {r.folder.calibration}; Run.predict, rnnlab predict, serve, thresholds and submission apply it")
    if mapped:
        print("stored thresholds mapped through it (decisions unchanged): "
              + ", ".join(f"{k} {v:.4f}" for k, v in mapped.items()))
