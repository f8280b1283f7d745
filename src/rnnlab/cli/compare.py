"""``rnnlab compare STUDY_OR_RUNS…``: the ranked comparison table."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..errors import ConfigError
from .common import app, console


@app.command("compare")
def compare(targets: List[str] = typer.Argument(None, help="A study folder (runs/<study>) or run folders."),
            storage: Optional[str] = typer.Option(None, help="Optuna storage URL of the study."),
            study: Optional[str] = typer.Option(None, help="Study name (with --storage)."),
            fmt: str = typer.Option("table", "--format", help="table, md, csv or json."),
            out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write to a file instead of the screen."),
            ) -> None:
    """Rank variants by validation mean ROC AUC; show what differs, the baselines, and why variants failed.

    A search also shows its best trial and the parameter importances (table and md formats)."""
    from rich.table import Table

    from .._io import write_text
    from ..report.compare import collect, collect_search, render, search_text, table

    if fmt not in ("table", "md", "csv", "json"):
        raise ConfigError(f"--format must be table, md, csv or json. Got {fmt!r} instead.")
    rows, metric = collect(list(targets or []), storage, study)
    search = collect_search(list(targets or []), storage, study) if fmt in ("table", "md") else None
    if fmt == "table" and out is None:
        header, cells = table(rows, metric)
        t = Table(title=f"{len(rows)} variants, ranked by validation mean ROC AUC")
        for h in header:
            t.add_column(h, overflow="fold")
        for row in cells:
            t.add_row(*row)
        console().print(t)
        if search is not None:
            print(search_text(search), end="")
        return
    text = render(rows, "md" if fmt == "table" else fmt, metric)
    if search is not None:
        text += search_text(search)
    if out:
        write_text(out, text)
        print(f"wrote {out}")
    else:
        print(text, end="")
