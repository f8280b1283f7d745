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

import dataclasses
import shutil
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from . import __version__
from ._io import write_json, write_text
from .config import load_config
from .data.dataset import LabelSchema, TextDataset
from .errors import ConfigError, RunError
from .run import Run, load_weights, probability_loss, save_weights, unique_run_dir, write_manifest
from .train.metrics import compute_metrics

ENSEMBLE = "ensemble.json"
REFERENCES = "ensemble.safetensors"
METHODS = ("mean", "rank")


class EnsembleRun(Run):
    """A run that predicts with the (weighted) combination of its member runs."""

    def __init__(self, path, config, schema: LabelSchema, members: list[Run], weights: Sequence[float],
                 method: str = "mean", references: list[np.ndarray] | None = None):
        super().__init__(path, config, schema, None, 0)
        self.members = members
        self.weights = np.asarray(weights, dtype=np.float64)
        self.method = method
        self.references = references

    @classmethod
    def load(cls, path: str | Path) -> "EnsembleRun":  # called by Run.load after the manifest check
        import json

        path = Path(path)
        spec = json.loads((path / ENSEMBLE).read_text(encoding="utf-8"))
        labels = json.loads((path / "labels.json").read_text(encoding="utf-8"))
        members = [Run.load(path / m["path"]) for m in spec["members"]]
        refs = None
        if spec["method"] == "rank":
            state = load_weights(path / REFERENCES)
            refs = [state[f"member{i}"].numpy() for i in range(len(members))]
        return cls(path, load_config(path / "config.toml"), LabelSchema.from_dict(labels["schema"]), members,
                   [m["weight"] for m in spec["members"]], spec["method"], refs)

    @property
    def is_baseline(self) -> bool:
        return False

    @property
    def is_ensemble(self) -> bool:
        return True

    @property
    def model(self):
        raise RunError(f"'{self.dir}' is an ensemble of {len(self.members)} runs ({ENSEMBLE}); it has no single "
                       f"network. Use one of its members, e.g. '{self.members[0].dir}'.")

    def predict(self, data: TextDataset | Sequence[str], batch_size: int = 1024) -> np.ndarray:
        """The members' outputs combined (``mean`` or ``rank``, weighted)."""
        return combine([m.predict(data, batch_size) for m in self.members], self.weights, self.method,
                       self.references)

    def score(self, data: TextDataset, batch_size: int = 1024) -> tuple[np.ndarray, float | None]:
        if data.targets is None or data.schema is None:
            raise RunError(f"'{data.source}' has no labels to evaluate against.")
        if data.schema.labels != self.schema.labels or data.schema.task != self.schema.task:
            raise RunError(f"'{data.source}' has labels {data.schema.labels} ({data.schema.task}); the run was "
                           f"trained on {self.schema.labels} ({self.schema.task}).")
        out = self.predict(data, batch_size)
        return out, ensemble_loss(out, data.targets, self.schema, self.method)


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


# ------------------------------------------------------------------------------ validation rows
def read_predictions(run: Run) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids as str, targets, outputs) from a run's validation_predictions.csv."""
    import pandas as pd

    path = run.dir / "validation_predictions.csv"
    if not path.exists():
        raise RunError(f"'{run.dir}' has no validation_predictions.csv (it was trained before rnnlab wrote "
                       f"them); retrain it, or pass --data with a labelled held-out file.")
    frame = pd.read_csv(path, dtype={"id": str}, keep_default_na=False)
    schema = run.schema
    p_cols = [c for c in frame.columns if c.startswith("p_")]
    if schema.task == "multiclass":
        y = np.asarray([schema.labels.index(v) for v in frame["y"].astype(str)], dtype=np.int64)
    else:
        y = frame[[f"y_{label}" for label in schema.labels]].to_numpy(dtype=np.float32)
    return frame["id"].to_numpy(dtype=str), y, frame[p_cols].to_numpy(dtype=np.float32)


def shared_rows(members: list[Run]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The validation rows every member was scored on: (ids, targets, outputs per member)."""
    tables = [read_predictions(m) for m in members]
    common = tables[0][0]
    for ids, _, _ in tables[1:]:
        common = common[np.isin(common, ids)]
    if len(common) == 0:
        raise ConfigError("The runs share no validation rows, so their blend cannot be evaluated: train them on "
                          "the same data with the same data.split_seed (or the same fit.folds), or pass --data "
                          "with a labelled file none of them trained on.")
    outs, targets = [], None
    for ids, y, p in tables:
        where = {v: i for i, v in enumerate(ids)}
        rows = np.asarray([where[v] for v in common])
        if targets is None:
            targets = y[rows]
        elif not np.array_equal(targets, y[rows]):
            raise ConfigError(f"The runs disagree on the labels of their shared validation rows ('{members[0].dir}' "
                              f"vs another): they were not trained on the same data.")
        outs.append(p[rows])
    return common, targets, outs


# ------------------------------------------------------------------------------ writing
def _copy_member(run: Run, dest: Path) -> None:
    shutil.copytree(run.dir, dest, ignore=shutil.ignore_patterns("checkpoints", "*.tmp", ".*"))


def write_ensemble(out_dir: Path, members: list[tuple[str, float]], method: str,
                   references: list[np.ndarray] | None) -> None:
    """ensemble.json (+ ensemble.safetensors for rank blends)."""
    import torch

    write_json(out_dir / ENSEMBLE, {"rnnlab_version": __version__, "method": method,
                                    "members": [{"path": p, "weight": w} for p, w in members]})
    if method == "rank":
        save_weights({f"member{i}": torch.from_numpy(np.ascontiguousarray(r, dtype=np.float32))
                      for i, r in enumerate(references)}, out_dir / REFERENCES)


def write_rows(path: Path, ids: np.ndarray, targets: np.ndarray, outputs: np.ndarray, schema: LabelSchema) -> None:
    from .run import write_predictions

    write_predictions(path, TextDataset(ids=ids, texts=None, targets=targets, schema=schema, source=str(path)),
                      outputs, schema)


def _parse_weights(weights, n: int) -> list[float]:
    if weights is None:
        return [1.0] * n
    if len(weights) != n or any(not np.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise ConfigError(f"--weights needs {n} non-negative numbers (one per run, not all 0). Got "
                          f"{', '.join(map(str, weights))} instead.")
    return [float(w) for w in weights]


def blend(runs: Sequence[str | Path | Run], *, out: str | Path | None = None, data: str | Path | None = None,
          weights: Sequence[float] | None = None, method: str = "mean", name: str = "blend",
          runs_dir: str | Path = "runs") -> tuple[EnsembleRun, dict]:
    """Blend trained runs (RNN, baseline, k-fold or other blends) into a new run folder.

    Args:
        runs: two or more run folders (or :class:`Run` objects) trained on the same labels.
        out: the new run folder; default None = ``runs_dir/name`` (``-2``… if taken).
        data: labelled data to evaluate on; default None = the validation rows every member held
            out (read from their ``validation_predictions.csv``). When ``data`` is the file the
            members trained on, those shared validation rows are used too (never rows a member
            trained on).
        weights: one non-negative weight per run; default None = equal weights.
        method: 'mean' (weighted mean of probabilities, default) or 'rank' (of percentiles).
        name: folder name when ``out`` is None; default 'blend'.
        runs_dir: parent of the folder when ``out`` is None; default 'runs'.

    Returns (the blend as an :class:`EnsembleRun`, its evaluation: metrics of the blend and of
    every member on the same rows).
    """
    started = time.time()
    if method not in METHODS:
        raise ConfigError(f"The 'method' parameter must be one of {', '.join(METHODS)}. Got {method!r} instead.")
    members = [r if isinstance(r, Run) else Run.load(r) for r in runs]
    if len(members) < 2:
        raise ConfigError(f"A blend needs at least two runs; got {len(members)}.")
    schema = members[0].schema
    for m in members[1:]:
        if m.schema.labels != schema.labels or m.schema.task != schema.task:
            raise ConfigError(f"'{m.dir}' predicts {m.schema.labels} ({m.schema.task}) but '{members[0].dir}' "
                              f"predicts {schema.labels} ({schema.task}); blend runs of one task.")
    if method == "rank" and schema.task == "multiclass":
        raise ConfigError("method 'rank' averages per-label percentiles; a multi-class run needs 'mean' (its "
                          "class probabilities must sum to 1).")
    w = _parse_weights(weights, len(members))

    trained_on = {str(Path(m.config.data.path).resolve()) for m in members if m.config.data.path}
    if data is not None and str(Path(data).resolve()) not in trained_on:
        from .data import load_for_run

        ds = load_for_run(members[0].config, data)
        if ds.schema is None or ds.targets is None:
            raise ConfigError(f"'{data}' has no labels; a blend is evaluated on labelled data.")
        ids, targets, outs = ds.ids.astype(str), ds.targets, [m.predict(ds) for m in members]
        source = f"{data} ({len(ds):,} rows)"
    else:
        ids, targets, outs = shared_rows(members)
        source = f"the {len(ids):,} validation rows every run held out"
    references = [np.sort(read_predictions(m)[2], axis=0) for m in members] if method == "rank" else None
    blended = combine(outs, np.asarray(w), method, references)

    scores = {"loss": ensemble_loss(blended, targets, schema, method), **compute_metrics(schema, targets, blended)}
    if method == "rank":  # percentiles cut at 0.5 are no decisions: pick thresholds (rnnlab thresholds)
        for key in ("accuracy", "accuracy_per_label", "macro_f1", "confusion_matrix"):
            scores.pop(key, None)
        scores["note"] = "rank blend: outputs are percentiles; accuracy needs thresholds (rnnlab thresholds)"
    evaluation = {"data": source, "rows": int(len(ids)), "method": method, "blend": scores,
                  "members": [{"run": str(m.dir), "weight": wi,
                               "loss": probability_loss(o.astype(np.float32), targets, schema),
                               **compute_metrics(schema, targets, o)} for m, wi, o in zip(members, w, outs)]}

    out_dir = Path(out) if out else unique_run_dir(runs_dir, name)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ConfigError(f"The folder '{out_dir}' already exists and is not empty; choose another (--out) or "
                          f"remove it.")
    out_dir.mkdir(parents=True, exist_ok=True)
    rel = []
    for i, m in enumerate(members, 1):
        dest = f"members/{i}-{m.name}"
        _copy_member(m, out_dir / dest)
        rel.append((dest, w[i - 1]))
    base = members[0].config
    cfg = dataclasses.replace(base, name=out_dir.name, model=dataclasses.replace(base.model, type="blend"))
    write_text(out_dir / "config.toml", cfg.to_toml())
    write_json(out_dir / "labels.json", {"rnnlab_version": __version__, "schema": schema.to_dict()})
    write_ensemble(out_dir, rel, method, references)
    write_rows(out_dir / "validation_predictions.csv", ids, targets, blended, schema)
    params = sum(sum((m.metrics.get("params") or {}).values()) for m in members)
    finish(out_dir, evaluation["blend"], schema, started, extra={
        "params": {"trainable": params, "non_trainable": 0},
        "blend": {"method": method, "data": source, "members": evaluation["members"]}})
    return Run.load(out_dir), evaluation


def finish(out_dir: Path, validation: dict, schema: LabelSchema, started: float, extra: dict) -> None:
    """metrics.json, run.json and the manifest of an ensemble folder."""
    write_json(out_dir / "metrics.json", {"status": "completed", "reason": "", "validation": validation,
                                          "schema": schema.to_dict(), "doctor": [], **extra})
    write_json(out_dir / "run.json", {
        "rnnlab_version": __version__, "status": "completed",
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "duration_seconds": round(time.time() - started, 2)})
    write_manifest(out_dir)
