"""Evaluation metrics, with the majority-class baseline beside every accuracy.

- binary / multi-label: accuracy per label at threshold 0.5 (Keras ``binary_accuracy``) and
  its mean; ROC AUC per label and their mean (the Kaggle Jigsaw metric);
- multi-class: accuracy of the arg-max, macro F1, the confusion matrix, one-vs-rest macro AUC;
- ``majority_accuracy``: the accuracy of always predicting each label's most frequent value
  on the same data — an accuracy not clearly above it has learnt nothing.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, roc_auc_score

from ..data.dataset import LabelSchema


def is_missing(value) -> bool:
    """True for a metric that could not be computed: None or NaN (float or numpy)."""
    return value is None or (isinstance(value, (float, np.floating)) and math.isnan(value))


def format_metric(value, digits: int = 4, missing: str = "n/a") -> str:
    """A metric with ``digits`` decimals, or ``missing`` when it is None or NaN.

    >>> format_metric(0.92621), format_metric(float("nan")), format_metric(None, missing="")
    ('0.9262', 'n/a', '')
    """
    return missing if is_missing(value) else f"{value:.{digits}f}"


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    if len(np.unique(y)) < 2 or not np.isfinite(score).all():
        return float("nan")
    return float(roc_auc_score(y, score))


def compute_metrics(schema: LabelSchema, targets: np.ndarray, outputs: np.ndarray) -> dict:
    """Metrics of model ``outputs`` (what the output layer returns) against ``targets``."""
    out: dict = {"n": int(len(targets))}
    finite = bool(np.isfinite(outputs).all())
    if not finite:
        out["note"] = "the model output contains NaN/inf; metrics that need finite scores are NaN"
    if schema.task == "multiclass":
        y = targets.astype(np.int64)
        k = len(schema.labels)
        pred = outputs.argmax(1) if outputs.shape[1] > 1 else np.zeros(len(y), dtype=np.int64)
        counts = np.bincount(y, minlength=k)
        out["accuracy"] = float((pred == y).mean())
        out["majority_accuracy"] = float(counts.max() / len(y))
        out["majority_class"] = schema.labels[int(counts.argmax())]
        out["macro_f1"] = float(f1_score(y, pred, average="macro", labels=list(range(k)), zero_division=0))
        out["confusion_matrix"] = confusion_matrix(y, pred, labels=list(range(k))).tolist()
        if outputs.shape[1] == k and finite and len(np.unique(y)) > 1:
            per = {name: _auc((y == i).astype(int), outputs[:, i]) for i, name in enumerate(schema.labels)}
            out["auc_per_label"] = per
            vals = [v for v in per.values() if not math.isnan(v)]
            out["auc"] = float(np.mean(vals)) if vals else float("nan")
        else:
            out["auc"] = float("nan")
        return out
    y = targets
    if schema.task == "binary" and outputs.shape[1] == 2:
        outputs = outputs[:, 1:]  # a 2-unit softmax over a 0/1 label: column 1 is P(label = 1)
    if outputs.shape[1] != y.shape[1]:
        out.update(accuracy=float("nan"), majority_accuracy=float("nan"), auc=float("nan"),
                   note=f"the output has {outputs.shape[1]} columns for {y.shape[1]} labels")
        return out
    pred = outputs > 0.5
    acc = (pred == (y > 0.5)).mean(0)
    pos = y.mean(0)
    maj = np.maximum(pos, 1 - pos)
    out["accuracy"] = float(acc.mean())
    out["majority_accuracy"] = float(maj.mean())
    out["accuracy_per_label"] = {n: float(a) for n, a in zip(schema.labels, acc)}
    out["majority_accuracy_per_label"] = {n: float(m) for n, m in zip(schema.labels, maj)}
    out["positive_rate"] = {n: float(p) for n, p in zip(schema.labels, pos)}
    per = {n: _auc(y[:, j], outputs[:, j]) for j, n in enumerate(schema.labels)}
    out["auc_per_label"] = per
    vals = [v for v in per.values() if not math.isnan(v)]
    out["auc"] = float(np.mean(vals)) if vals else float("nan")
    if len(vals) < len(per):
        out.setdefault("note", "AUC is undefined for labels with a single class in this data; the mean "
                                "leaves them out")
    return out


def label_counts(schema: LabelSchema, targets: np.ndarray) -> dict[str, int]:
    """Positive rows per label (binary / multi-label) or rows per class (multi-class)."""
    if schema.task == "multiclass":
        counts = np.bincount(np.asarray(targets).astype(np.int64).ravel(), minlength=len(schema.labels))
        return {label: int(c) for label, c in zip(schema.labels, counts)}
    return {label: int((np.asarray(targets)[:, j] > 0.5).sum()) for j, label in enumerate(schema.labels)}
