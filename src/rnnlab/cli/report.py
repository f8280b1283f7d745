"""``rnnlab report STUDY_OR_RUNS… --out report.html``: one self-contained HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .common import app


@app.command("report")
def report(targets: List[str] = typer.Argument(None, help="A study folder (runs/<study>) or run folders."),
           storage: Optional[str] = typer.Option(None, help="Optuna storage URL of the study."),
           study: Optional[str] = typer.Option(None, help="Study name (with --storage)."),
           out: Path = typer.Option(Path("report.html"), "--out", "-o", help="The HTML file to write."),
           title: Optional[str] = typer.Option(None, help="Page title (default: the study's name)."),
           ) -> None:
    """Write one HTML page: ranked table, search history and importances, learning curves, AUC heat-map, ROC
    curves, doctor findings."""
    from ..report.compare import collect, collect_search
    from ..report.html import write_report

    targets = list(targets or [])
    rows, metric = collect(targets, storage, study)
    path = write_report(rows, out, title or _default_title(targets, study), metric,
                        collect_search(targets, storage, study))
    print(f"wrote {path}")


def _default_title(targets: list[str], study: str | None) -> str:
    """The study's name, the one run folder's name, or how many runs are compared."""
    if study:
        return study
    if len(targets) == 1:
        return Path(targets[0]).resolve().name
    return f"{len(targets)} runs"
