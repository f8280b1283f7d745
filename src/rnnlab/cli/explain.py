"""``rnnlab explain RUN --text "…"`` / ``--data FILE --out explanations.jsonl``: per-token
attributions (Integrated Gradients for RNN runs, coefficients for linear baselines)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import ConfigError
from .common import app, console, err


@app.command("explain")
def explain(run: Path = typer.Argument(..., help="Run folder (an RNN or a linear baseline)."),
            text: Optional[List[str]] = typer.Option(None, "--text", "-t", help="A text to explain (repeatable)."),
            data: Optional[str] = typer.Option(None, "--data", help="CSV/TSV/JSONL (plain or compressed) or parquet "
                                                                   "with a text column, or '-' (one text per line on "
                                                                   "stdin); needs --out."),
            out: Optional[Path] = typer.Option(None, "--out", "-o", help="JSON-lines file for --data: one explanation "
                                                                         "per row."),
            label: Optional[List[str]] = typer.Option(None, "--label", "-l", help="Explain this label (repeatable; "
                                                                                  "default: every label)."),
            steps: int = typer.Option(50, "--steps", min=1, help="Integrated Gradients steps (RNN runs); more steps "
                                                                 "make the attributions add up more exactly."),
            html: Optional[Path] = typer.Option(None, "--html", help="Also write a self-contained HTML view (tokens "
                                                                     "coloured by attribution)."),
            text_column: Optional[str] = typer.Option(None, help="Text column of --data (default: the run's)."),
            id_column: Optional[str] = typer.Option(None, help="Id column of --data (default: 'id' when present, "
                                                               "else row numbers)."),
            fmt: str = typer.Option("auto", "--format", help="--data format: auto (from the name), csv, tsv, jsonl or "
                                                             "parquet."),
            ) -> None:
    """Which tokens push each label up or down: coloured on a terminal, token(+attribution) otherwise."""
    if bool(text) == (data is not None):
        raise ConfigError("rnnlab explain needs either --text \"...\" (repeatable) or --data FILE --out FILE, "
                          "not both and not neither.")
    if data is not None and out is None:
        raise ConfigError("rnnlab explain --data needs --out FILE (the explanations as JSON lines).")
    from ..runs import Run
    from ..use.explain import explain_file, explain_texts, to_text, write_html

    r = Run.load(run)
    if r.calibration is not None and not r.is_baseline:
        err.print(f"note: '{r.dir}' is calibrated ({r.calibration.get('method')}); the explanations are of the "
                  f"network's own outputs (`rnnlab predict --raw`), not of the calibrated probabilities.",
                  markup=False, soft_wrap=True)
    if data is not None:
        info = explain_file(r, data, out, label, text_column=text_column, id_column=id_column, fmt=fmt,
                            n_steps=steps, html_out=html)
        print(f"wrote {info['rows']:,} explanations to {out}" + (f" and {html}" if html else ""))
        return
    explanations = explain_texts(r, list(text), label, n_steps=steps)
    colour = sys.stdout.isatty()
    con = console()
    for e in explanations:
        print(f"text: {e.text}")
        for name in e.labels:
            extra = (f"baseline {e.baseline[name]:.4f}, delta {e.delta[name]:.2g}" if e.explains == "output"
                     else f"score {e.value[name]:+.4f} = intercept {e.baseline[name]:+.4f} + the n-grams")
            print(f"  {name}: output {e.outputs[name]:.4f} ({extra})")
            if colour:
                con.print(to_text(e, name, colour=True), soft_wrap=True)
            else:
                print("  " + to_text(e, name))
    if html:
        write_html(explanations, html, f"rnnlab explain: {r.name}")
        print(f"wrote {html}")
