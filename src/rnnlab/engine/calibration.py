"""Calibration: how far predicted probabilities are from observed frequencies, and the
monotone maps that bring them closer (applied by :meth:`rnnlab.runs.Run.predict`).

- **Expected calibration error (ECE)**, per label: the rows are put in ``bins`` (default 15)
  equal-width bins of the predicted probability over [0, 1] (a probability of exactly 1 goes
  in the last bin); ECE is the mean over bins of |mean predicted − observed positive rate|,
  weighted by the number of rows in the bin (empty bins weigh nothing). Multi-class runs:
  one-vs-rest per class, on the class's probability.
- **Temperature scaling**: per label one scalar T > 0 dividing the logit,
  ``p' = sigmoid(logit(p) / T)``; softmax runs: one T for the whole vector,
  ``p' = softmax(log(p) / T)`` (log p is the logits vector up to a constant, which softmax
  ignores). **Platt scaling** (sigmoid outputs only): ``p' = sigmoid(a·logit(p) + b)`` per label.
  Both are fitted by minimising the negative log-likelihood on held-out rows (scipy). A
  temperature, and a Platt slope a > 0, keep the order of the scores, so ROC AUC is unchanged.

Outputs are clipped to [1e-7, 1 − 1e-7] before the logit (a saved probability of exactly 0
or 1 has no finite logit).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.special import logsumexp

BINS = 15
EPS = 1e-7
METHODS = ("temperature", "platt")


def reliability(y: np.ndarray, p: np.ndarray, bins: int = BINS) -> dict:
    """The reliability diagram of one label: per equal-width bin the row count, mean predicted
    probability and observed positive rate, and the ECE (count-weighted |gap|).

    Args:
        y: 0/1 truth, shape (n,).
        p: predicted probabilities, shape (n,).
        bins: equal-width bins over [0, 1]; default 15.

    Returns:
        {'ece', 'bins', 'count', 'confidence', 'frequency'} (lists of length ``bins``; NaN
        for empty bins).
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    p = np.clip(np.asarray(p, dtype=np.float64).ravel(), 0.0, 1.0)
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    count = np.bincount(which, minlength=bins).astype(np.float64)
    conf_sum = np.bincount(which, weights=p, minlength=bins)
    pos_sum = np.bincount(which, weights=y, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf, freq = conf_sum / count, pos_sum / count
    filled = count > 0
    ece = float(np.sum(count[filled] * np.abs(conf[filled] - freq[filled])) / max(len(y), 1))
    return {"ece": ece, "bins": bins, "count": count.astype(int).tolist(), "confidence": conf.tolist(),
            "frequency": freq.tolist()}


def per_label_columns(task: str, labels: list[str], targets: np.ndarray, outputs: np.ndarray):
    """(label, 0/1 truth, probability) per label: sigmoid outputs column by column (a binary
    2-unit softmax: column 1), multi-class one-vs-rest on each class's probability."""
    outputs = np.asarray(outputs)
    if task == "multiclass":
        y = np.asarray(targets).astype(np.int64).ravel()
        return [(label, (y == j).astype(np.float64), outputs[:, j]) for j, label in enumerate(labels)]
    if task == "binary" and outputs.shape[1] == 2:
        outputs = outputs[:, 1:]
    return [(label, np.asarray(targets)[:, j], outputs[:, j]) for j, label in enumerate(labels)]


def ece_per_label(task: str, labels: list[str], targets: np.ndarray, outputs: np.ndarray,
                  bins: int = BINS) -> dict[str, float]:
    """ECE of every label (see the module docstring for the binning)."""
    return {label: reliability(y, p, bins)["ece"] for label, y, p in per_label_columns(task, labels, targets, outputs)}


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p) - np.log1p(-p)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))


def softmax_log(p: np.ndarray) -> np.ndarray:
    """log of the (clipped, renormalised) class probabilities: the logits up to a constant."""
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1.0)
    return np.log(p / p.sum(1, keepdims=True))


def _bce(y: np.ndarray, z: np.ndarray) -> float:
    # mean binary cross-entropy from logits, stable: log(1 + e^z) - y z
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def fit_temperature(y: np.ndarray, p: np.ndarray) -> float:
    """The temperature T > 0 minimising the NLL of ``sigmoid(logit(p) / T)`` (bounded search
    over log T in [-5, 5])."""
    z, y = logit(p), np.asarray(y, dtype=np.float64)
    res = minimize_scalar(lambda s: _bce(y, z * np.exp(-s)), bounds=(-5.0, 5.0), method="bounded",
                          options={"xatol": 1e-6})
    return float(np.exp(res.x))


def fit_softmax_temperature(y: np.ndarray, p: np.ndarray) -> float:
    """One temperature for a softmax vector: minimises the NLL of ``softmax(log p / T)``."""
    lp, y = softmax_log(p), np.asarray(y).astype(np.int64).ravel()

    def nll(s):
        z = lp * np.exp(-s)
        return float(np.mean(logsumexp(z, axis=1) - z[np.arange(len(y)), y]))

    res = minimize_scalar(nll, bounds=(-5.0, 5.0), method="bounded", options={"xatol": 1e-6})
    return float(np.exp(res.x))


def fit_platt(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """(a, b) minimising the NLL of ``sigmoid(a·logit(p) + b)`` (BFGS from a = 1, b = 0)."""
    z, y = logit(p), np.asarray(y, dtype=np.float64)

    def nll(ab):
        u = ab[0] * z + ab[1]
        r = sigmoid(u) - y
        return _bce(y, u), np.array([np.mean(r * z), np.mean(r)])

    res = minimize(nll, np.array([1.0, 0.0]), jac=True, method="BFGS")
    return float(res.x[0]), float(res.x[1])


def apply(spec: dict, outputs: np.ndarray, labels: list[str]) -> np.ndarray:
    """Calibrated probabilities from raw ``outputs`` with a stored calibration ``spec``
    (``{"method", "softmax_temperature"}`` or ``{"method", "labels": {label: {...}}}``).

    Returns float32 of the same shape; labels absent from the spec are left as they are. A
    spec with ``binary_softmax`` (one 0/1 label scored by a 2-unit softmax) calibrates column 1
    (P(label = 1)) and sets column 0 to its complement.
    """
    out = np.asarray(outputs)
    if spec.get("binary_softmax") and out.ndim == 2 and out.shape[1] == 2:
        q = apply({k: v for k, v in spec.items() if k != "binary_softmax"}, out[:, 1:], labels).astype(np.float64)
        return np.concatenate([1 - q, q], axis=1).astype(np.float32)
    if spec.get("softmax_temperature") is not None:
        z = softmax_log(out) / float(spec["softmax_temperature"])
        z -= z.max(1, keepdims=True)
        e = np.exp(z)
        return (e / e.sum(1, keepdims=True)).astype(np.float32)
    result = out.astype(np.float64, copy=True)
    per = spec.get("labels") or {}
    for j, label in enumerate(labels):
        if label in per and j < result.shape[1]:
            result[:, j] = forward(per[label], result[:, j])
    return result.astype(np.float32)


def forward(entry: dict, p: np.ndarray) -> np.ndarray:
    """One label's calibration map (``{"temperature": T}`` or ``{"a": a, "b": b}``)."""
    z = logit(p)
    if "temperature" in entry:
        return sigmoid(z / float(entry["temperature"]))
    return sigmoid(float(entry["a"]) * z + float(entry["b"]))


def inverse(entry: dict, q: np.ndarray) -> np.ndarray:
    """The raw probability whose calibrated value is ``q`` (the inverse of :func:`forward`;
    Platt needs a ≠ 0)."""
    u = logit(q)
    if "temperature" in entry:
        return sigmoid(u * float(entry["temperature"]))
    return sigmoid((u - float(entry["b"])) / float(entry["a"]))
