"""Export a trained run to ONNX, checked against PyTorch (``rnnlab export RUN --format onnx``).

The graph takes ``input_ids`` (int64, batch × sequence, both axes dynamic): token ids already
tokenized, truncated and padded the way the run does it, and returns ``outputs`` (float32,
batch × outputs): what :meth:`Run.predict` returns (probabilities for sigmoid/softmax outputs).
``<out>.json`` beside it holds the labels, the padding rules and the tokenizer (settings and
word index), so a consumer needs neither torch nor rnnlab (docs/onnx.md).

The exporter is torch's TorchScript-based one (``dynamo=False``): it writes nn.LSTM / GRU / RNN
as single ONNX LSTM / GRU / RNN nodes with a dynamic sequence axis, exports the packed
sequences of ``mask_zero`` models (as ``sequence_lens``) and needs no package besides ``onnx``.
The dynamo exporter (torch's default since 2.9) needs ``onnxscript``, is ~80x slower on a toy
LSTM and cannot trace packed sequences.

``quantize="int8"`` (``rnnlab export --quantize int8``) passes the checked float32 graph through
ONNX Runtime's dynamic quantizer (``onnxruntime.quantization.quantize_dynamic``, int8 weights):
it covers the embedding (Gather), LSTM and MatMul nodes (GRU, SimpleRNN and Gemm stay float32).
int8 outputs cannot match float32 to 1e-5, so that graph is checked the way ``rnnlab quantize``
checks PyTorch's int8 model: the mean validation AUC may move by at most 0.001
(:data:`AUC_TOLERANCE`), and the rows/s of both graphs are measured on the same rows.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .._io import atomic_path, write_json
from .._version import __version__
from ..data import load_splits
from ..engine import PAD_MULTIPLE, inference_batches, padded
from ..engine.metrics import compute_metrics
from ..errors import ConfigError, RunError, param_error
from ..runs import Run, read_json
from ..text.sequences import Sequences

TOLERANCE = 1e-5
AUC_TOLERANCE = 0.001  # mean validation AUC change an int8 export may cost (as rnnlab quantize)
QUANTIZE = ("int8",)
INPUT, OUTPUT = "input_ids", "outputs"


def recurrent_run(run: Run | str, member_fix: str, rnn_only: str) -> Run:
    """``run`` loaded, when it is one recurrent network; else the one-line RunError of export and
    quantize: an ensemble (``member_fix``: what to do with a member) or a linear baseline
    (``rnn_only``: what only recurrent models do)."""
    run = run if isinstance(run, Run) else Run.load(run)
    if run.is_ensemble:
        raise RunError(f"'{run.dir}' is an ensemble of {len(run.members)} runs (a blend or k-fold run); "
                       f"{member_fix}.")
    if run.is_baseline:
        raise RunError(f"'{run.dir}' is a linear baseline (model.type = {run.config.model.type!r}); only "
                       f"recurrent models (model.type = 'rnn') {rnn_only}.")
    return run

def _onnx_modules():
    try:
        import onnx
        import onnxruntime
    except ImportError as exc:
        raise ConfigError(f"ONNX export needs the packages onnx and onnxruntime ({exc.name} is missing); "
                          f"install them with pip install 'rnnlab[onnx]'.") from None
    return onnx, onnxruntime


@contextlib.contextmanager
def _quiet():
    """Mute the process's stdout and stderr (file descriptors 1 and 2). The exporter's C++ passes
    write notes there ("shape inference of prim::PackPadded is missing": harmless, the outputs
    are checked after) and dump the whole graph when they fail (the error says what failed)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            yield
    finally:
        for fd, copy_ in zip((1, 2), saved, strict=True):
            os.dup2(copy_, fd)
            os.close(copy_)


def pad_to(run: Run) -> int | None:
    """The width every row is padded to for prediction: ``text.maxlen`` for runs with
    ``fit.bucketing = false``, else None: each text is padded to its own length rounded up to a
    multiple of ``pad_multiple`` (at most maxlen), as :meth:`Run.predict` does."""
    return None if run.config.fit.bucketing else run.config.text.maxlen


def metadata(run: Run, quantize: str | None = None) -> dict:
    """What ``<out>.json`` holds: labels, task, the padding rules and the tokenizer settings and
    word index of the run's vocab.json (without word counts), plus the resolved OOV index and
    ``quantize`` (None, or "int8" for a graph from ONNX Runtime's quantizer)."""
    vocab = read_json(run.folder.vocab)
    tokenizer = {k: v for k, v in vocab["tokenizer"].items() if k != "word_counts"}
    t = run.config.text
    return {
        "format": "rnnlab-onnx", "rnnlab_version": __version__, "input": INPUT, "output": OUTPUT,
        "task": run.schema.task, "labels": run.labels,
        "padding": t.padding, "truncating": t.truncating, "maxlen": t.maxlen, "pad_to": pad_to(run),
        "pad_multiple": PAD_MULTIPLE,
        "oov_index": run.tokenizer.oov_index, "quantize": quantize, "tokenizer": tokenizer,
    }


def _sample(run: Run, texts: Sequence[str] | None, rows: int) -> Sequences:
    """Token ids of ``texts``, or of the first ``rows`` rows of the run's validation split."""
    if texts is not None:
        return run.encode(list(texts)[:rows])
    val = load_splits(run.config).validation
    val = val.subset(np.arange(min(rows, len(val))))
    if val.sequences is not None:
        return val.sequences.truncate(run.config.text.maxlen, run.config.text.truncating)
    return run.encode(val.texts)


def _batches(run: Run, seqs: Sequences) -> list[np.ndarray]:
    """Padded id matrices to compare on: the batches :meth:`Run.predict` makes (padded-length
    buckets, or fixed-width rows), and every row padded to ``maxlen`` (or the longest) at once."""
    padding = run.config.text.padding
    out = [padded(seqs, index, pad_to(run) if w is None else w, padding).numpy()
           for index, w in inference_batches(seqs.lengths, 64, run.config.fit.bucketing, run.config.text.maxlen)]
    width = run.config.text.maxlen or max(int(seqs.lengths.max(initial=0)), 1)
    out.append(seqs.pad(length=width, padding=padding))
    return out


def max_abs_diff(model, session, batches: list[np.ndarray]) -> float:
    """Largest |PyTorch − onnxruntime| over the outputs for ``batches`` (model in inference mode)."""
    worst = 0.0
    model.eval()
    with torch.inference_mode():
        for ids in batches:
            want = model(torch.from_numpy(ids)).float().numpy()
            got = session.run([OUTPUT], {INPUT: ids})[0]
            worst = max(worst, float(np.abs(want - got).max(initial=0.0)))
    return worst


def _run_session(session, run: Run, seqs: Sequences, batch_size: int = 256) -> np.ndarray:
    """onnxruntime's outputs for every row of ``seqs``, in order, batched as :meth:`Run.predict` does."""
    out = None
    for index, width in inference_batches(seqs.lengths, batch_size, run.config.fit.bucketing, run.config.text.maxlen):
        ids = padded(seqs, index, pad_to(run) if width is None else width, run.config.text.padding).numpy()
        got = session.run([OUTPUT], {INPUT: ids})[0]
        if out is None:
            out = np.empty((len(seqs), got.shape[1]), dtype=np.float32)
        out[index] = got
    return out


def int8_parity(run: Run, fp32_path: str | Path, int8_path: str | Path, *, rows: int | None = None,
                repeats: int = 2, auc_tolerance: float = AUC_TOLERANCE) -> dict:
    """Validation mean ROC AUC and rows/s of the float32 and int8 ONNX graphs of ``run``.

    Args:
        run: the exported run.
        fp32_path: its checked float32 graph.
        int8_path: the quantized graph.
        rows: the first ``rows`` validation rows; default None = all of them.
        repeats: timed passes of each graph (alternately; the fastest counts); default 2.
        auc_tolerance: the largest |AUC change| that is ``ok``; default 0.001.

    Returns:
        rows, auc_fp32, auc_int8, auc_change (int8 - fp32), auc_tolerance, ok, max_abs_diff,
        rows_per_s_fp32, rows_per_s_int8, speedup (int8 / fp32 rows/s), size_fp32, size_int8
        (bytes) and quantized_nodes (op types of the int8 graph's integer and dequantizing
        nodes, counted; an int8 embedding shows as a DequantizeLinear before its Gather).

    Raises:
        RunError: the run's validation split has no labelled rows.
    """
    onnx, ort = _onnx_modules()
    val = load_splits(run.config).validation
    if rows is not None:
        val = val.subset(np.arange(min(rows, len(val))))
    if len(val) == 0 or val.targets is None:
        raise RunError(f"'{run.dir}': its validation split has no labelled rows to measure the int8 export on; "
                       f"export without --quantize.")
    seqs = run._sequences(val)
    sessions = {name: ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
                for name, path in (("fp32", fp32_path), ("int8", int8_path))}
    outs, secs = {}, {}
    for _ in range(repeats):
        for name, session in sessions.items():
            t0 = time.perf_counter()
            outs[name] = _run_session(session, run, seqs)
            secs[name] = min(time.perf_counter() - t0, secs.get(name, float("inf")))
    a32 = compute_metrics(run.schema, val.targets, outs["fp32"]).get("auc")
    a8 = compute_metrics(run.schema, val.targets, outs["int8"]).get("auc")
    change = None if a32 is None or a8 is None else float(a8 - a32)
    nodes: dict[str, int] = {}
    for node in onnx.load(str(int8_path)).graph.node:
        if ("Integer" in node.op_type or node.op_type.startswith("DynamicQuantize")
                or node.op_type == "DequantizeLinear" or node.domain == "com.microsoft"):
            nodes[node.op_type] = nodes.get(node.op_type, 0) + 1
    return {"rows": len(val), "auc_fp32": a32, "auc_int8": a8, "auc_change": change, "auc_tolerance": auc_tolerance,
            "ok": change is not None and abs(change) <= auc_tolerance,
            "max_abs_diff": float(np.abs(outs["fp32"] - outs["int8"]).max(initial=0.0)),
            "rows_per_s_fp32": len(val) / secs["fp32"], "rows_per_s_int8": len(val) / secs["int8"],
            "speedup": secs["fp32"] / secs["int8"], "size_fp32": Path(fp32_path).stat().st_size,
            "size_int8": Path(int8_path).stat().st_size, "quantized_nodes": nodes}


def export_onnx(run: Run | str | Path, out_path: str | Path, *, opset: int | None = None, check_rows: int = 256,
                texts: Sequence[str] | None = None, quantize: str | None = None,
                auc_tolerance: float = AUC_TOLERANCE) -> dict:
    """Write the run's network as ONNX to ``out_path`` and ``<out_path>.json`` beside it, once
    onnxruntime gives the outputs PyTorch gives (max abs diff <= 1e-5) on a sample.

    Args:
        run: a :class:`Run` or its folder.
        out_path: the .onnx file to write (atomically; nothing is written when the check fails).
        opset: ONNX opset version; default None = the exporter's default.
        check_rows: rows in the parity sample; default 256.
        texts: texts to check on; default None = the first ``check_rows`` rows of the run's
            validation split (``rnnlab.data.load_splits``).
        quantize: None (default: float32) or "int8": the checked float32 graph through ONNX
            Runtime's dynamic quantizer, then checked on all validation rows (:func:`int8_parity`).
        auc_tolerance: with int8, the largest |mean validation AUC change| allowed; default 0.001.

    Returns:
        The parity report: path, metadata path, opset, rows checked, batches, max_abs_diff,
        tolerance, export_seconds and quantize; with ``quantize="int8"`` also ``int8``: the
        report of :func:`int8_parity`.

    Raises:
        ConfigError: onnx or onnxruntime is not installed.
        RunError: an ensemble or linear-baseline run, an exporter failure, outputs that differ
            from PyTorch by more than 1e-5, or an int8 graph whose mean validation AUC moves by
            more than ``auc_tolerance`` (nothing is written then).
    """
    run = recurrent_run(run, "export one of its member runs (in its members/ or folds/ folder) to ONNX",
                        "export to ONNX")
    if check_rows < 1:
        raise param_error("check_rows", "an int >= 1", check_rows)
    if quantize is not None and quantize not in QUANTIZE:
        raise param_error("quantize", "None or " + " or ".join(map(repr, QUANTIZE)), quantize)
    if isinstance(auc_tolerance, bool) or not isinstance(auc_tolerance, (int, float)) or not 0 <= auc_tolerance <= 1:
        raise param_error("auc_tolerance", "a float in [0, 1]", auc_tolerance)
    onnx, ort = _onnx_modules()
    seqs = _sample(run, texts, check_rows)
    if len(seqs) == 0:
        raise RunError("The parity sample is empty: give at least one text to check the export on.")
    batches = _batches(run, seqs)
    model = run.model.eval()
    out_path = Path(out_path)
    with atomic_path(out_path) as tmp:
        start = time.perf_counter()
        example = torch.from_numpy(batches[-1][:2])
        try:
            with warnings.catch_warnings(), torch.no_grad(), _quiet():
                warnings.simplefilter("ignore")  # the legacy-exporter notice and tracer warnings
                torch.onnx.export(model, (example,), str(tmp), dynamo=False, opset_version=opset,
                                  input_names=[INPUT], output_names=[OUTPUT],
                                  dynamic_axes={INPUT: {0: "batch", 1: "sequence"}, OUTPUT: {0: "batch"}})
        except Exception as exc:  # noqa: BLE001  (any exporter failure becomes one clear line)
            raise RunError(f"Cannot export '{run.dir}' to ONNX: {str(exc).strip().splitlines()[0]}") from None
        seconds = time.perf_counter() - start
        graph = onnx.load(str(tmp))
        onnx.checker.check_model(graph)
        used_opset = next(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx"))
        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        diff = max_abs_diff(model, session, batches)
        if not diff <= TOLERANCE:
            raise RunError(f"The ONNX export of '{run.dir}' differs from PyTorch by up to {diff:.3g} (> {TOLERANCE:g}) "
                           f"on {len(seqs)} rows; nothing was written. Try another --opset.")
        int8 = None
        if quantize == "int8":
            int8 = _quantize_int8(run, Path(tmp), auc_tolerance)
        meta_path = out_path.with_name(out_path.name + ".json")
        write_json(meta_path, metadata(run, quantize))
    return {"path": str(out_path), "metadata": str(meta_path), "opset": used_opset, "rows": len(seqs),
            "batches": len(batches), "max_abs_diff": diff, "tolerance": TOLERANCE, "export_seconds": seconds,
            "quantize": quantize, "int8": int8}


def _quantize_int8(run: Run, path: Path, auc_tolerance: float) -> dict:
    """Replace the checked float32 graph at ``path`` by ONNX Runtime's dynamic int8 quantization
    of it, once :func:`int8_parity` holds; the float32 graph is kept nowhere."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32 = path.with_name(path.name + ".fp32")
    int8 = path.with_name(path.name + ".int8")
    os.replace(path, fp32)
    try:
        root = logging.getLogger()
        level, root.level = root.level, logging.ERROR  # its advice to pre-process first (shape inference)
        try:
            with warnings.catch_warnings(), _quiet():
                warnings.simplefilter("ignore")
                quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
        finally:
            root.setLevel(level)
        report = int8_parity(run, fp32, int8, auc_tolerance=auc_tolerance)
        if not report["ok"]:
            change = "cannot be measured" if report["auc_change"] is None else f"{report['auc_change']:+.4f}"
            raise RunError(f"The int8 ONNX export of '{run.dir}' moves the mean validation AUC by {change} "
                           f"(more than {auc_tolerance:g}) on {report['rows']} rows; nothing was written. Export "
                           f"without --quantize, or allow more with --auc-tolerance.")
        os.replace(int8, path)
        return report
    finally:
        for leftover in (fp32, int8):
            leftover.unlink(missing_ok=True)
