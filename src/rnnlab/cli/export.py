"""``rnnlab export RUN --format onnx --out model.onnx [--quantize int8]``: the network as ONNX,
checked against PyTorch (and, for int8, against the float32 graph's validation AUC)."""

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
           quantize: Optional[str] = typer.Option(
               None, "--quantize", metavar="int8", help="'int8': ONNX Runtime's dynamic quantization of the graph."),
           auc_tolerance: float = typer.Option(0.001, help="With --quantize int8: the largest mean validation AUC "
                                                           "change allowed."),
           ) -> None:
    """Export the model in RUN to ONNX (input_ids int64 → outputs float32) and write <out>.json
    (labels, padding, tokenizer) beside it; fails, writing nothing, unless onnxruntime matches
    PyTorch within 1e-5 on the run's validation rows. With --quantize int8 the graph's weights
    are int8 (embedding, LSTM, MatMul) and the export fails unless the mean validation AUC moves
    by at most --auc-tolerance (0.001); the AUC change and rows/s of both graphs are printed."""
    from ..use.export import QUANTIZE, export_onnx

    if fmt != "onnx":
        raise param_error("--format", "'onnx'", fmt)
    if quantize is not None and quantize not in QUANTIZE:
        raise param_error("--quantize", " or ".join(map(repr, QUANTIZE)), quantize)
    report = export_onnx(run, out, opset=opset, check_rows=check_rows, quantize=quantize, auc_tolerance=auc_tolerance)
    print(f"wrote {report['path']} (ONNX opset {report['opset']}, exported in {report['export_seconds']:.1f}s) "
          f"and {report['metadata']}")
    print(f"parity on {report['rows']} validation rows: max abs diff {report['max_abs_diff']:.2e} "
          f"(tolerance {report['tolerance']:g})")
    q = report.get("int8")
    if q:
        nodes = ", ".join(f"{k} {n}" for k, n in sorted(q["quantized_nodes"].items())) or "none"
        print(f"int8 (ONNX Runtime dynamic quantization; integer nodes: {nodes}): mean AUC on {q['rows']} validation "
              f"rows {q['auc_fp32']:.4f} -> {q['auc_int8']:.4f} ({q['auc_change']:+.4f}, tolerance "
              f"{q['auc_tolerance']:g}); {q['rows_per_s_fp32']:,.0f} -> {q['rows_per_s_int8']:,.0f} rows/s "
              f"({q['speedup']:.2f}x); {_size(q['size_fp32'])} -> {_size(q['size_int8'])}")


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"
