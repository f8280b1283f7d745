"""``rnnlab export RUN --format onnx --out model.onnx``: the network as ONNX, checked against PyTorch."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import param_error
from .common import app


@app.command("export")
def export(run: Path = typer.Argument(..., help="Run folder."),
           fmt: str = typer.Option("onnx", "--format", help="Export format; 'onnx' is the only one."),
           out: Path = typer.Option(..., "--out", "-o", help="The .onnx file; <out>.json is written beside it."),
           opset: Optional[int] = typer.Option(None, help="ONNX opset version (default: torch's, 20 in 2.13)."),
           check_rows: int = typer.Option(256, help="Validation rows the ONNX outputs are checked on against PyTorch."),
           ) -> None:
    """Export the model in RUN to ONNX (input_ids int64 → outputs float32) and write <out>.json
    (labels, padding, tokenizer) beside it; fails, writing nothing, unless onnxruntime matches
    PyTorch within 1e-5 on the run's validation rows."""
    from ..use.export import export_onnx

    if fmt != "onnx":
        raise param_error("--format", "'onnx'", fmt)
    report = export_onnx(run, out, opset=opset, check_rows=check_rows)
    print(f"wrote {report['path']} (ONNX opset {report['opset']}, exported in {report['export_seconds']:.1f}s) "
          f"and {report['metadata']}")
    print(f"parity on {report['rows']} validation rows: max abs diff {report['max_abs_diff']:.2e} "
          f"(tolerance {report['tolerance']:g})")
