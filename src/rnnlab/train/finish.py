"""The end of every training: ``metrics.json``, ``run.json`` (versions, device, threads,
timings), the final line on the console, ``log.txt``, and the manifest (:func:`rnnlab.runs.finish`)."""

from __future__ import annotations

import platform

import numpy as np
import torch

from ..data.dataset import LabelSchema
from ..engine import is_missing
from ..runs import RunFolder, finish
from .progress import Reporter


def finish_run(folder: RunFolder, rep: Reporter, metrics: dict, history: list[dict], started: float,
               device: str, threads: dict | None = None) -> None:
    """Write the files that end a run (the manifest last) and print the validation line;
    ``threads``: the training's thread plan (:meth:`rnnlab.engine.threads.ThreadPlan.record`)."""
    secs = [h["train_seconds"] for h in history]
    info = {"torch_version": torch.__version__, "python": platform.python_version(), "device": device,
            "threads": threads["threads"] if threads else torch.get_num_threads(), "thread_policy": threads,
            "seconds_per_epoch": round(float(np.median(secs)), 3) if secs else None}
    if "accuracy" in metrics["validation"]:
        rep.message(final_line(metrics["validation"], LabelSchema.from_dict(metrics["schema"])))
    finish(folder, metrics, started, info, log=rep.lines)


def final_line(m: dict, schema: LabelSchema) -> str:
    """The validation summary printed at the end of training."""
    parts = [f"validation: loss {m['loss']:.4f}" if m.get("loss") is not None else "validation:"]
    parts.append(f"accuracy {m['accuracy']:.4f} (majority {m['majority_accuracy']:.4f})")
    if not is_missing(m.get("auc")):
        parts.append(f"mean ROC AUC {m['auc']:.4f}")
    if schema.task == "multiclass":
        parts.append(f"macro F1 {m['macro_f1']:.4f}")
    line = ", ".join(parts)
    if m.get("auc_per_label") and len(m["auc_per_label"]) > 1:
        line += "\n  AUC per label: " + ", ".join(f"{k} {v:.4f}" for k, v in m["auc_per_label"].items())
    return line
