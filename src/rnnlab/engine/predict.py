"""The forward pass over token ids, in inference mode: what ``Run.predict`` and the validation
step of training both call."""

from __future__ import annotations

import numpy as np
import torch

from ..text.sequences import Sequences
from .batching import inference_batches, padded, pooled_batches
from .losses import Loss
from .threads import AUTO, inference_tuner


def predict_outputs(model, seqs: Sequences, batch_size: int, padding: str, width: int | None,
                    device: torch.device, bucketing: bool = True, loss: Loss | None = None,
                    targets: np.ndarray | None = None, maxlen: int | None = None,
                    threads: int | str | None = None) -> tuple[np.ndarray, float | None]:
    """Model outputs for every row (original order) and, given ``loss``/``targets``, the
    example-weighted mean loss.

    Runs in inference mode, batched by padded length
    (:func:`~rnnlab.engine.batching.inference_widths`).

    Args:
        model: an :class:`~rnnlab.models.RnnClassifier`.
        seqs: the token ids, already truncated to maxlen.
        batch_size: rows per forward pass.
        padding: 'pre' or 'post'.
        width: pad every row to this width (no bucketing); None = per batch.
        device: where the model is.
        bucketing: batch rows of one padded width (default True).
        loss: the loss to report; default None = no loss.
        targets: the targets the loss compares with; default None.
        maxlen: the longest width a row is padded to; default None.
        threads: torch threads of the calling thread: 'auto' (timed batches choose, with a tuner
            that lives across this thread's calls: :func:`~rnnlab.engine.threads.inference_tuner`),
            a count, or None (leave it as it is: the validation step inside training); default None.

    Returns:
        (outputs of shape (n, outputs) as float32, the mean loss or None).
    """
    model.eval()
    tuner = inference_tuner() if threads == AUTO and device.type == "cpu" else None
    if threads not in (None, AUTO) and torch.get_num_threads() != int(threads):
        torch.set_num_threads(int(threads))
    outs: np.ndarray | None = None
    total, count = 0.0, 0
    with torch.inference_mode():
        for index, w, own in _batches(model, seqs, batch_size, bucketing, maxlen, width, device):
            ids = padded(seqs, index, width if w is None else w, padding)
            y = None if targets is None else torch.from_numpy(targets[index])
            if tuner is not None:
                tuner.start()
            raw = None if own is None else model.forward_ragged(ids, torch.from_numpy(own), padding,
                                                                 logits=model.fused)
            if raw is None and own is not None:  # not runnable ragged here after all: one pass per width
                raw = _by_width(model, seqs, index, own, padding)
            elif raw is None:
                raw = model(ids.to(device), logits=model.fused)
            if loss is not None and y is not None:
                per = loss(raw, y.to(device), logits=model.fused)
                total += float(per.sum())
                count += len(index)
            out = model.outputs_from(raw).float().cpu().numpy()
            if outs is None:
                outs = np.empty((len(seqs), out.shape[1]), dtype=np.float32)
            outs[index] = out
            if tuner is not None:
                tuner.stop(ids.numel())
    if outs is None:
        outs = np.zeros((0, 0), dtype=np.float32)
    return outs, (total / count if count else None)


def _batches(model, seqs: Sequences, batch_size: int, bucketing: bool, maxlen: int | None, width: int | None,
             device: torch.device) -> list[tuple[np.ndarray, int | None, np.ndarray | None]]:
    """(rows, width, each row's own width or None) per forward pass: widths with few texts
    pooled (:func:`~rnnlab.engine.batching.pooled_batches`) where the model runs rows of
    different widths in one pass (``ragged_rows``), else one width per pass."""
    pool = getattr(model, "ragged_rows", lambda: 0)() if bucketing and width is None and device.type == "cpu" else 0
    if pool:
        return pooled_batches(seqs.lengths, batch_size, min(pool, batch_size), maxlen)
    return [(index, w, None) for index, w in inference_batches(seqs.lengths, batch_size, bucketing, maxlen)]


def _by_width(model, seqs: Sequences, index: np.ndarray, own: np.ndarray, padding: str) -> torch.Tensor:
    """The model's raw outputs for the rows ``index``, one forward pass per width in ``own``."""
    out = None
    for w in np.unique(own):
        at = np.flatnonzero(own == w)
        raw = model(padded(seqs, index[at], int(w), padding), logits=model.fused)
        if out is None:
            out = raw.new_empty((len(index), *raw.shape[1:]))
        out[torch.from_numpy(at)] = raw
    return out
