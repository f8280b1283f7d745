"""``rnnlab quantize RUN``: int8 (dynamic quantization) against float32 on the validation rows."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import app


@app.command("quantize")
def quantize(run: Path = typer.Argument(..., help="Run folder."),
             rows: Optional[int] = typer.Option(None, help="First validation rows to compare on (default: all)."),
             batch_size: int = typer.Option(1024, help="Rows per forward pass."),
             repeats: int = typer.Option(3, help="Timed predictions of each model (the fastest counts)."),
             ) -> None:
    """Quantize the model in RUN to int8 (its LSTM / GRU / Dense weights; nothing is written) and
    compare it with float32 on the run's validation rows: mean ROC AUC change (tolerance 0.001)
    and rows/s. Exits 1 when the AUC changes by more than the tolerance. Serve the int8 model
    with `rnnlab serve RUN --int8`."""
    from ..use.quantize import parity

    r = parity(run, rows=rows, batch_size=batch_size, repeats=repeats)
    print(f"int8 ({r['quantized_layers']} layers quantized) vs float32 on {r['rows']:,} validation rows of {run}:")
    print(f"  mean ROC AUC {r['auc_fp32']:.4f} -> {r['auc_int8']:.4f} (change {r['auc_change']:+.4f}, "
          f"tolerance {r['auc_tolerance']:g}: {'ok' if r['ok'] else 'TOO LARGE'}); max abs output diff "
          f"{r['max_abs_diff']:.2e}")
    print(f"  {r['rows_per_s_fp32']:,.0f} -> {r['rows_per_s_int8']:,.0f} rows/s ({r['speedup']:.2f}x)")
    if r["speedup"] < 1:  # e.g. small LSTM / GRU layers, which float32 runs on rnnlab's fused kernel
        print(f"  int8 is slower than float32 for this model on this machine ({r['speedup']:.2f}x): "
              f"serve it without --int8.")
    if not r["ok"]:
        raise typer.Exit(1)
