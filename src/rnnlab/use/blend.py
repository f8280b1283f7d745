"""``rnnlab blend``: combine trained runs into one evaluated, usable run folder.

The blend is evaluated beside each member on the same rows: by default the validation rows every
member held out (from their validation predictions), never rows a member trained on. The result
is an ensemble run (:class:`~rnnlab.runs.EnsembleRun`): predict, submission, thresholds and
serve use it like any run. Methods (``mean``, ``rank``) are described in
:mod:`rnnlab.runs.ensemble`.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data import load_for_run
from ..engine import compute_metrics, probability_loss
from ..errors import ConfigError
from ..runs import (METHODS, EnsembleRun, Run, RunFolder, combine, create, ensemble_loss, ensemble_metrics, finish,
                    read_predictions, unique_run_dir, write_ensemble, write_predictions)
from ..runs.folder import CHECKPOINTS

NO_PREDICTIONS = (" (it was trained before rnnlab wrote them); retrain it, or pass --data with a labelled "
                  "held-out file.")


def shared_rows(members: list[Run]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The validation rows every member was scored on: (ids, targets, outputs per member).

    Raises:
        ConfigError: the members share no validation row, or disagree on their labels.
    """
    tables = [read_predictions(m.folder, m.schema, NO_PREDICTIONS) for m in members]
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
        runs: two or more run folders (or :class:`~rnnlab.runs.Run` objects) trained on the
            same labels.
        out: the new run folder; default None = ``runs_dir/name`` (``-2``… if taken).
        data: labelled data to evaluate on; default None = the validation rows every member held
            out (read from their validation predictions). When ``data`` is the file the
            members trained on, those shared validation rows are used too (never rows a member
            trained on).
        weights: one non-negative weight per run; default None = equal weights.
        method: 'mean' (weighted mean of probabilities, default) or 'rank' (of percentiles).
        name: folder name when ``out`` is None; default 'blend'.
        runs_dir: parent of the folder when ``out`` is None; default 'runs'.

    Returns:
        (the blend as an :class:`~rnnlab.runs.EnsembleRun`, its evaluation: metrics of the blend
        and of every member on the same rows).

    Raises:
        ConfigError: fewer than two runs, runs of different labels, bad weights or method,
            no shared validation rows, or an existing non-empty ``out``.
        RunError: a run folder cannot be loaded.
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
        ds = load_for_run(members[0].config, data)
        if ds.schema is None or ds.targets is None:
            raise ConfigError(f"'{data}' has no labels; a blend is evaluated on labelled data.")
        ids, targets, outs = ds.ids.astype(str), ds.targets, [m.predict(ds, raw=True) for m in members]
        source = f"{data} ({len(ds):,} rows)"
    else:
        ids, targets, outs = shared_rows(members)
        source = f"the {len(ids):,} validation rows every run held out"
    references = ([np.sort(read_predictions(m.folder, m.schema, NO_PREDICTIONS)[2], axis=0) for m in members]
                  if method == "rank" else None)
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

    base = members[0].config
    config = dataclasses.replace(base, model=dataclasses.replace(base.model, type="blend"))
    folder, _ = create(config, out or unique_run_dir(runs_dir, name), schema)
    rel = []
    for i, m in enumerate(members, 1):
        dest = RunFolder.member_name(i, m.name)
        shutil.copytree(m.dir, folder.path / dest, ignore=shutil.ignore_patterns(CHECKPOINTS, "*.tmp", ".*"))
        rel.append((dest, w[i - 1]))
    write_ensemble(folder, rel, method, references)
    write_predictions(folder, ids, targets, blended, schema)
    params = sum(sum((m.metrics.get("params") or {}).values()) for m in members)
    finish(folder, ensemble_metrics(evaluation["blend"], schema, {
        "params": {"trainable": params, "non_trainable": 0},
        "blend": {"method": method, "data": source, "members": evaluation["members"]}}), started)
    return Run.load(folder.path), evaluation
