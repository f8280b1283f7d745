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
"""

from __future__ import annotations

import contextlib
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
from ..errors import ConfigError, RunError, param_error
from ..runs import Run, read_json
from ..text.sequences import Sequences

TOLERANCE = 1e-5
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


def metadata(run: Run) -> dict:
    """What ``<out>.json`` holds: labels, task, the padding rules and the tokenizer settings and
    word index of the run's vocab.json (without word counts), plus the resolved OOV index."""
    vocab = read_json(run.folder.vocab)
    tokenizer = {k: v for k, v in vocab["tokenizer"].items() if k != "word_counts"}
    t = run.config.text
    return {
        "format": "rnnlab-onnx", "rnnlab_version": __version__, "input": INPUT, "output": OUTPUT,
        "task": run.schema.task, "labels": run.labels,
        "padding": t.padding, "truncating": t.truncating, "maxlen": t.maxlen, "pad_to": pad_to(run),
        "pad_multiple": PAD_MULTIPLE,
        "oov_index": run.tokenizer.oov_index, "tokenizer": tokenizer,
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


def export_onnx(run: Run | str | Path, out_path: str | Path, *, opset: int | None = None, check_rows: int = 256,
                texts: Sequence[str] | None = None) -> dict:
    """Write the run's network as ONNX to ``out_path`` and ``<out_path>.json`` beside it, once
    onnxruntime gives the outputs PyTorch gives (max abs diff <= 1e-5) on a sample.

    Args:
        run: a :class:`Run` or its folder.
        out_path: the .onnx file to write (atomically; nothing is written when the check fails).
        opset: ONNX opset version; default None = the exporter's default.
        check_rows: rows in the parity sample; default 256.
        texts: texts to check on; default None = the first ``check_rows`` rows of the run's
            validation split (``rnnlab.data.load_splits``).

    Returns:
        The parity report: path, metadata path, opset, rows checked, batches, max_abs_diff,
        tolerance and export_seconds.

    Raises:
        ConfigError: onnx or onnxruntime is not installed.
        RunError: an ensemble or linear-baseline run, an exporter failure, or outputs that
            differ from PyTorch by more than 1e-5 (nothing is written then).
    """
    run = recurrent_run(run, "export one of its member runs (in its members/ or folds/ folder) to ONNX",
                        "export to ONNX")
    if check_rows < 1:
        raise param_error("check_rows", "an int >= 1", check_rows)
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
        meta_path = out_path.with_name(out_path.name + ".json")
        write_json(meta_path, metadata(run))
    return {"path": str(out_path), "metadata": str(meta_path), "opset": used_opset, "rows": len(seqs),
            "batches": len(batches), "max_abs_diff": diff, "tolerance": TOLERANCE, "export_seconds": seconds}
