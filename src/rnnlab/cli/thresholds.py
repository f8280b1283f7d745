"""``rnnlab thresholds RUN [DATA]``: pick and store per-label decision thresholds."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import app, console


@app.command("thresholds")
def thresholds(run: Path = typer.Argument(..., help="Run folder."),
               data: Optional[Path] = typer.Argument(None, help="Labelled data (default: the run's validation split)."),
               labels: Optional[Path] = typer.Option(None, "--labels", help="Kaggle test_labels.csv for a Jigsaw "
                                                                            "test.csv."),
               optimize: str = typer.Option("f1", help="f1 (default), precision or recall."),
               target: Optional[float] = typer.Option(None, help="The precision or recall to reach (with --optimize)."),
               dry_run: bool = typer.Option(False, "--dry-run", help="Show the thresholds without storing them."),
               ) -> None:
    """Per label, the threshold that maximises F1 or reaches a target precision / recall; stored in the run."""
    from rich.table import Table

    from ..data import load_for_run
    from ..runs import Run
    from ..use.thresholds import fit_thresholds, save_thresholds

    r = Run.load(run)
    ds = None if data is None else load_for_run(r.config, data, labelled=True, labels_path=labels)
    result = fit_thresholds(r, ds, optimize, target)
    t = Table(title=f"{r.name}: thresholds on {result['data']} ({result['rows']:,} rows, {optimize}"
                    + (f" >= {target}" if target else "") + ")")
    for col in ("label", "threshold", "precision", "recall", "F1", "F1 at 0.5"):
        t.add_column(col, justify="left" if col == "label" else "right")
    for label, row in result["per_label"].items():
        at05 = row.get("at_0_5", row)
        t.add_row(label, f"{row['threshold']:.4f}", f"{row['precision']:.4f}", f"{row['recall']:.4f}",
                  f"{row['f1']:.4f}", f"{at05['f1']:.4f}")
    console().print(t)
    if dry_run:
        print("not stored (--dry-run)")
        return
    save_thresholds(r, result)
    print(f"stored in {r.folder.thresholds}; rnnlab predict --threshold run and rnnlab serve use them")
