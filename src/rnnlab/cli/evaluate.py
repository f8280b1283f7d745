"""``rnnlab evaluate RUN DATA``: metrics of a trained model on labelled data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from .common import app, console

if TYPE_CHECKING:
    pass


def metrics_table(m: dict, title: str):
    from rich.table import Table

    from ..engine import format_metric as f

    t = Table(title=title)
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_column("majority baseline", justify="right")

    t.add_row("loss", f(m.get("loss")), "")
    t.add_row("accuracy", f(m.get("accuracy")), f(m.get("majority_accuracy")))
    t.add_row("mean ROC AUC", f(m.get("auc")), "0.5000")
    if "macro_f1" in m:
        t.add_row("macro F1", f(m["macro_f1"]), "")
    if "ece" in m:
        t.add_row("mean ECE (15 bins)" + (", calibrated" if m.get("calibrated") else ""), f(m["ece"]), "")
    for label, auc in (m.get("auc_per_label") or {}).items():
        acc = (m.get("accuracy_per_label") or {}).get(label)
        maj = (m.get("majority_accuracy_per_label") or {}).get(label)
        t.add_row(f"  {label}: AUC / accuracy", f"{f(auc)} / {f(acc)}", f(maj) if maj is not None else "")
    for label, ece in (m.get("ece_per_label") or {}).items():
        t.add_row(f"  {label}: ECE", f(ece), "")
    return t


@app.command("evaluate")
def evaluate(run: Path = typer.Argument(..., help="Run folder."),
             data: Path = typer.Argument(..., help="Labelled data file (read like the run's training data)."),
             labels: Optional[Path] = typer.Option(None, "--labels", help="Kaggle test_labels.csv for a Jigsaw "
                                                                          "test.csv."),
             out: Optional[Path] = typer.Option(None, "--out", "-o", help="metrics JSON (default "
                                                                          "RUN/evaluation-<data>.json)."),
             batch_size: int = typer.Option(1024, help="Rows per forward pass."),
             ) -> None:
    """Loss, accuracy beside the majority baseline, ROC AUC and expected calibration error per label, and
    reliability diagrams; warns when DATA holds rows the run was trained on (by id, else by text)."""
    from .._io import write_json
    from ..runs.card import write_card
    from ..use.calibrate import plot_reliability
    from ..use.evaluate import evaluate_file

    ev = evaluate_file(run, data, labels=labels, batch_size=batch_size)
    r, m = ev.run, ev.metrics
    screen = console()
    for line in ev.lines:  # one line each, never wrapped (a note or warning is one line to grep)
        screen.print(line, markup=False, soft_wrap=True)
    screen.print(metrics_table(ev.metrics, f"{ev.run.name} on {data.name} ({len(ev.data):,} rows)"))
    target = out or ev.run.folder.evaluation(data)
    write_json(target, ev.metrics)
    screen.print(f"metrics: {target}", markup=False)
    if "ece" in m:
        png = r.folder.reliability(data) if out is None else out.with_name(f"{out.stem}-reliability.png")
        plot_reliability(ev.data.targets, ev.outputs, r.schema.task, r.labels, png, f"{r.name} on {data.name}")
        screen.print(f"reliability diagrams: {png}", markup=False)
    if out is None:
        write_card(r.folder)
        screen.print(f"model card: {r.folder.card}", markup=False)
