"""Ensembles: a run made of member runs — ``rnnlab blend`` and ``fit.folds``.

An ensemble folder holds ``ensemble.json`` (members, weights, method), the members as complete
run folders inside it (``members/…`` for a blend, ``folds/fold-K`` for k-fold), and the usual
``config.toml``, ``labels.json``, ``metrics.json``, ``validation_predictions.csv`` and
manifest, so ``rnnlab predict / evaluate / submission / serve / thresholds`` use it like any run.

Methods:

- ``mean``: the weighted mean of the members' probabilities.
- ``rank``: each member's score is replaced by its rank among that member's own validation
  scores (a percentile in [0, 1], stored in ``ensemble.safetensors``), then weighted-averaged.
  It evens out members whose scores live on different scales (a linear model's and an RNN's)
  and, unlike ranking within the scored file, gives a text the same score whatever it is
  scored with. The result orders texts well (ROC AUC) but is not a calibrated probability.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..config import Config
from ..data.dataset import LabelSchema, TextDataset
from ..engine import probability_loss
from ..errors import RunError
from .files import read_ensemble
from .folder import RunFolder
from .run import Run, check_labels

METHODS = ("mean", "rank")


class EnsembleRun(Run, kind="ensemble"):
    """A run that predicts with the (weighted) combination of its member runs."""

    def __init__(self, path, config, schema: LabelSchema, members: list[Run], weights: Sequence[float],
                 method: str = "mean", references: list[np.ndarray] | None = None):
        super().__init__(path, config, schema, None, 0)
        self.members = members
        self.weights = np.asarray(weights, dtype=np.float64)
        self.method = method
        self.references = references

    @classmethod
    def open(cls, folder: RunFolder, config: Config, schema: LabelSchema) -> "EnsembleRun":
        """The ensemble in a verified folder, its members loaded (and verified) in turn."""
        spec, refs = read_ensemble(folder)
        members = [Run.load(folder.path / m["path"]) for m in spec["members"]]
        return cls(folder.path, config, schema, members, [m["weight"] for m in spec["members"]], spec["method"], refs)

    @property
    def is_baseline(self) -> bool:
        return False

    @property
    def is_ensemble(self) -> bool:
        return True

    @property
    def model(self):
        raise RunError(f"'{self.dir}' is an ensemble of {len(self.members)} runs ({self.folder.ensemble.name}); it "
                       f"has no single network. Use one of its members, e.g. '{self.members[0].dir}'.")

    def predict(self, data: TextDataset | Sequence[str], batch_size: int = 1024, raw: bool = False) -> np.ndarray:
        """The members' raw outputs (as in their validation predictions, which the blend was
        fitted on) combined (``mean`` or ``rank``, weighted), then the ensemble's own stored
        calibration unless ``raw``."""
        out = combine([m.predict(data, batch_size, raw=True) for m in self.members], self.weights, self.method,
                      self.references)
        return out if raw else self.calibrate(out)

    def score(self, data: TextDataset, batch_size: int = 1024) -> tuple[np.ndarray, float | None]:
        """(blended outputs, mean loss; None for rank blends) on labelled ``data``."""
        check_labels(self, data)
        out = self.predict(data, batch_size)
        method = "mean" if self.calibration is not None else self.method  # calibrated: probabilities
        return out, ensemble_loss(out, data.targets, self.schema, method)


def ensemble_loss(out: np.ndarray, targets: np.ndarray, schema: LabelSchema, method: str) -> float | None:
    """Cross-entropy of a mean blend; None for rank blends (percentiles are not probabilities)."""
    return probability_loss(out.astype(np.float32), targets, schema) if method == "mean" else None


def percentiles(reference: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Mid-rank of each score among the sorted ``reference`` scores, per column, in [0, 1]."""
    n = len(reference)
    out = np.empty(scores.shape, dtype=np.float64)
    for j in range(scores.shape[1]):
        lo = np.searchsorted(reference[:, j], scores[:, j], side="left")
        hi = np.searchsorted(reference[:, j], scores[:, j], side="right")
        out[:, j] = (lo + hi) / (2.0 * n)
    return out


def combine(outputs: list[np.ndarray], weights: np.ndarray, method: str = "mean",
            references: list[np.ndarray] | None = None) -> np.ndarray:
    """Weighted mean of ``outputs`` (method 'mean') or of their percentiles in ``references``
    (method 'rank'; each reference sorted per column)."""
    w = np.asarray(weights, dtype=np.float64) / float(np.sum(weights))
    total = np.zeros(outputs[0].shape, dtype=np.float64)
    for i, (wi, out) in enumerate(zip(w, outputs)):
        total += wi * (percentiles(references[i], out) if method == "rank" else out)
    return total.astype(np.float32)


def ensemble_metrics(validation: dict, schema: LabelSchema, extra: dict) -> dict:
    """metrics.json of an ensemble folder: completed, its validation metrics, and ``extra``."""
    return {"status": "completed", "reason": "", "validation": validation, "schema": schema.to_dict(),
            "doctor": [], **extra}
