"""``rnnlab thresholds``: per-label decision thresholds picked on validation data.

A sigmoid output is a probability; turning it into a yes/no at 0.5 is rarely right for rare
labels (Jigsaw's `threat` is 1% of rows). Per label, pick the threshold that maximises F1,
or the one that reaches a target precision (with the best recall) or a target recall (with
the best precision), on data the model did not train on. The thresholds are stored in the
run (``thresholds.json``, covered by the manifest) and used by ``rnnlab predict`` and
``rnnlab serve``. A run with a stored calibration (``rnnlab calibrate``) gets thresholds on its
calibrated probabilities, as predict returns them.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import precision_recall_curve

from .._io import write_json
from ..data.dataset import TextDataset
from ..errors import ConfigError, DataError
from ..runs import Run, amend, read_predictions

OBJECTIVES = ("f1", "precision", "recall")


def _at(y: np.ndarray, p: np.ndarray, t: float) -> dict:
    pred = p >= t
    tp = float((pred & (y == 1)).sum())
    precision = tp / max(float(pred.sum()), 1.0)
    recall = tp / max(float((y == 1).sum()), 1.0)
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return {"threshold": float(t), "precision": precision, "recall": recall, "f1": f1}


def choose(y: np.ndarray, p: np.ndarray, label: str, optimize: str = "f1", target: float | None = None) -> dict:
    """The threshold for one label: max F1, or the target precision (best recall) / recall
    (best precision). Returns the threshold with its precision, recall and F1, and the same
    at 0.5 for comparison."""
    y = np.asarray(y).astype(int)
    if len(np.unique(y)) < 2:
        return {**_at(y, p, 0.5), "note": f"'{label}' has a single class in this data; kept 0.5"}
    precision, recall, thresholds = precision_recall_curve(y, p)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    if optimize == "f1":
        f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0)
        best = int(np.argmax(f1))
    else:
        reached = (precision if optimize == "precision" else recall) >= target
        if not reached.any():
            top = (precision if optimize == "precision" else recall).max()
            raise DataError(f"A {optimize} of {target} is never reached for '{label}' on this data (at most "
                            f"{top:.3f}); lower --target or use --optimize f1.")
        other = recall if optimize == "precision" else precision
        best = int(np.flatnonzero(reached)[np.argmax(other[reached])])
    return {**_at(y, p, float(thresholds[best])), "at_0_5": _at(y, p, 0.5)}


def _validation_predictions(run: Run) -> tuple[np.ndarray, np.ndarray, str]:
    _, y, p = read_predictions(run.folder, run.schema, "; pass labelled DATA to pick thresholds on.")
    # the file holds the network's own outputs: thresholds apply to what predict returns
    return y, run.calibrate(p), f"{run.folder.predictions.name} (the run's validation split)"


def fit_thresholds(run: Run, data: TextDataset | None = None, optimize: str = "f1",
                   target: float | None = None) -> dict:
    """Pick per-label thresholds on data the model did not train on.

    Args:
        run: a binary or multi-label run.
        data: labelled data; default None = the run's validation predictions.
        optimize: 'f1' (default), 'precision' or 'recall'.
        target: the precision or recall to reach (with those objectives).

    Returns:
        {'optimize', 'target', 'data', 'rows', 'thresholds': {label: t}, 'per_label': {...}}.

    Raises:
        ConfigError: a multi-class run, an unknown objective or a missing target.
        DataError: unlabelled data, or a target never reached.
        RunError: no validation predictions in the run.
    """
    if run.schema.task == "multiclass":
        raise ConfigError("Thresholds apply to binary and multi-label runs; a multi-class run predicts the "
                          "class with the highest probability.")
    if optimize not in OBJECTIVES:
        raise ConfigError(f"--optimize must be one of {', '.join(OBJECTIVES)}. Got {optimize!r} instead.")
    if optimize != "f1" and (target is None or not 0 < target <= 1):
        raise ConfigError(f"--optimize {optimize} needs --target in (0, 1]. Got {target!r} instead.")
    if data is None:
        y, p, source = _validation_predictions(run)
    else:
        if data.targets is None:
            raise DataError(f"'{data.source}' has no labels; thresholds need labelled data.")
        y, p, source = data.targets, run.predict(data), data.source
    per = {label: choose(y[:, j], p[:, j], label, optimize, target) for j, label in enumerate(run.labels)}
    return {"optimize": optimize, "target": target, "data": source, "rows": int(len(y)),
            "thresholds": {label: r["threshold"] for label, r in per.items()}, "per_label": per}


def save_thresholds(run: Run, result: dict) -> None:
    """Store the thresholds in the run folder and refresh its manifest (removed first: killed
    meanwhile, ``rnnlab train --resume`` seals the folder again; runs/lifecycle.py)."""
    with amend(run.folder):
        write_json(run.folder.thresholds, result)
