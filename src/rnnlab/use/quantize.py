"""int8 inference: PyTorch dynamic quantization of a run's LSTM / GRU / Dense weights.

Dynamic quantization (``torch.ao.quantization.quantize_dynamic``) stores the weights of
``nn.LSTM``, ``nn.GRU`` and ``nn.Linear`` as int8 and quantizes their inputs on the fly, batch
by batch; embeddings, SimpleRNN (``nn.RNN``, which the quantizer does not cover), pooling and
the activations stay float32. It takes milliseconds, so nothing is stored: a run is quantized
when it is loaded (:func:`quantized`, ``rnnlab serve RUN --int8``), and :func:`parity` (``rnnlab
quantize RUN``) says what it costs in validation AUC and gains in rows/s before one serves it.
"""

from __future__ import annotations

import copy
import time
import warnings

import numpy as np
import torch
from torch import nn

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice (it works in 2.13)
    from torch.ao.nn.quantized import dynamic as qd
    from torch.ao.quantization import quantize_dynamic

from ..data import load_splits
from ..engine.metrics import compute_metrics
from ..errors import RunError, param_error
from ..runs import Run
from .export import recurrent_run

QUANTIZED_TYPES = (nn.LSTM, nn.GRU, nn.Linear)
AUC_TOLERANCE = 0.001  # mean validation AUC change that int8 may cost


def quantize_model(model: nn.Module) -> nn.Module:
    """An int8 copy of ``model`` (dynamic quantization of its LSTM / GRU / Linear layers), in
    inference mode; ``model`` itself is left as it is.

    Args:
        model: a float32 network (an RnnClassifier).

    Returns:
        The quantized copy.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice (it works in 2.13)
        q = quantize_dynamic(copy.deepcopy(model).eval(), set(QUANTIZED_TYPES), dtype=torch.qint8)
    return q.eval()


def quantized_layers(model: nn.Module) -> int:
    """How many LSTM / GRU / Linear layers of ``model`` are dynamically quantized."""
    return sum(1 for m in model.modules() if isinstance(m, (qd.LSTM, qd.GRU, qd.Linear)))


def quantized(run: Run | str) -> Run:
    """The run with an int8 model: same config, tokenizer, labels and thresholds; ``predict``,
    ``score`` and ``evaluate`` use the quantized network.

    Args:
        run: a :class:`Run` or its folder.

    Returns:
        A new :class:`Run` over the same folder (the given one is unchanged).

    Raises:
        RunError: an ensemble or a linear baseline (nothing to quantize), or a model without
            LSTM / GRU / Dense layers.
    """
    run = recurrent_run(run, "quantize one of its member runs (in its members/ or folds/ folder)",
                        "are quantized to int8")
    model = quantize_model(run.model)
    if quantized_layers(model) == 0:
        raise RunError(f"'{run.dir}' has no LSTM, GRU or Dense layer to quantize to int8.")
    return Run(run.dir, run.config, run.schema, run.tokenizer, run.vocab_size, model=model)


def _timed(fn, repeats: int) -> tuple[np.ndarray, float]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def parity(run: Run | str, *, rows: int | None = None, batch_size: int = 1024, repeats: int = 3) -> dict:
    """Validation AUC and speed of the int8 model against the float32 one.

    The validation split is the run's (``rnnlab.data.load_splits``: the same rows training held
    out), tokenized once; both models predict the same token ids, float32 and int8 alternately,
    ``repeats`` times each, and the fastest of each counts.

    Args:
        run: a :class:`Run` or its folder.
        rows: the first ``rows`` validation rows; default None = all of them.
        batch_size: rows per forward pass; default 1024.
        repeats: timed predictions of each model; default 3.

    Returns:
        ``rows``, ``auc_fp32`` / ``auc_int8`` (mean ROC AUC), ``auc_change`` (int8 − fp32),
        ``auc_tolerance``, ``ok`` (``|auc_change| <= auc_tolerance``), ``auc_per_label``
        ({label: [fp32, int8]}), ``max_abs_diff`` of the outputs, ``rows_per_s_fp32`` /
        ``rows_per_s_int8``, ``speedup`` (int8 / fp32 rows/s) and ``quantized_layers``.

    Raises:
        RunError: see :func:`quantized`; a validation split without labels or rows.
    """
    if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 1):
        raise param_error("rows", "an int >= 1 or None", rows)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise param_error("repeats", "an int >= 1", repeats)
    run = run if isinstance(run, Run) else Run.load(run)
    q = quantized(run)
    val = load_splits(run.config).validation
    if rows is not None:
        val = val.subset(np.arange(min(rows, len(val))))
    if len(val) == 0 or val.targets is None:
        raise RunError(f"'{run.dir}': its validation split has no labelled rows to compare the int8 model on.")
    seqs = run._sequences(val)
    outs, secs = {}, {}
    for _ in range(repeats):  # alternate, so both see the same machine
        for name, r in (("fp32", run), ("int8", q)):
            out, s = _timed(lambda r=r: r.predict(seqs, batch_size=batch_size), 1)
            outs[name], secs[name] = out, min(s, secs.get(name, float("inf")))
    m32 = compute_metrics(run.schema, val.targets, outs["fp32"])
    m8 = compute_metrics(run.schema, val.targets, outs["int8"])
    a32, a8 = m32.get("auc"), m8.get("auc")
    change = None if a32 is None or a8 is None else float(a8 - a32)
    per32, per8 = m32.get("auc_per_label") or {}, m8.get("auc_per_label") or {}
    return {
        "run": str(run.dir), "rows": len(val), "auc_fp32": a32, "auc_int8": a8, "auc_change": change,
        "auc_tolerance": AUC_TOLERANCE, "ok": change is not None and abs(change) <= AUC_TOLERANCE,
        "auc_per_label": {k: [per32.get(k), per8.get(k)] for k in per32},
        "max_abs_diff": float(np.abs(outs["fp32"] - outs["int8"]).max(initial=0.0)),
        "rows_per_s_fp32": len(val) / secs["fp32"], "rows_per_s_int8": len(val) / secs["int8"],
        "speedup": secs["fp32"] / secs["int8"], "quantized_layers": quantized_layers(q.model),
    }
