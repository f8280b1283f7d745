"""k-fold cross-validation (``fit.folds = K``): K member runs in ``RUN/folds/fold-i``.

Each member trains on K−1 folds and is validated on the remaining one (seeded, stratified
folds of the whole training file). The parent folder is an ensemble run: it predicts with the
mean of the K models, its validation predictions are the out-of-fold predictions of every row
(what ``rnnlab blend`` combines), and ``metrics.json`` reports each fold, the mean ± std across
folds and the out-of-fold metrics.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from ..config import Config
from ..data import MemoryTable
from ..engine import compute_metrics, is_missing, label_counts
from ..runs import (Run, RunFolder, create, ensemble_metrics, finish, is_finished, read_predictions, reopen,
                    resume_plan, seal, write_ensemble, write_labels, write_predictions)
from ..runs.lifecycle import SEAL
from .progress import Reporter
from .single import train_single

SUMMARY_METRICS = ("auc", "accuracy", "loss", "macro_f1")


def _fold_tracking(cfg: Config):
    """A fold's ``[track]``: the parent's, in the experiment of the parent's name when tracked."""
    t = cfg.track
    return dataclasses.replace(t, experiment=t.experiment or cfg.name) if t.mlflow else t


def train_folds(cfg: Config, run_dir, rep: Reporter, force: bool = False, resume: bool = False,
                table: MemoryTable | None = None) -> Run:
    """Train ``cfg.fit.folds`` member runs and write the parent ensemble folder.

    With ``resume`` (``rnnlab train --resume RUN``) finished folds are kept, an unfinished one
    is resumed as a run of its own (:func:`rnnlab.runs.resume_plan`) and missing ones are
    trained; the parent's files are then all written again. ``table``: the training table in
    memory (every fold is cut from it), read instead of ``data.path``."""
    started = time.time()
    k = cfg.fit.folds
    if resume:
        parent = RunFolder(run_dir)
        reopen(parent)  # leftovers of the killed run (temporary files and folders) go
    else:
        parent, cfg = create(cfg, run_dir)
    members: list[Run] = []
    for i in range(1, k + 1):
        folder = parent.fold(i)
        rep.message(f"fold {i} of {k}: {folder.path}")
        if resume and is_finished(folder):
            members.append(Run.load(folder.path))
        elif resume and folder.config.exists():
            member_cfg, action = resume_plan(folder)
            if action == SEAL:
                seal(folder)
                members.append(Run.load(folder.path))
            else:
                members.append(train_single(member_cfg, folder.path, rep, time.time(), force=True, resume=action,
                                            table=table))
        else:
            member = dataclasses.replace(cfg, name=f"fold-{i}", data=dataclasses.replace(cfg.data, fold=i),
                                         track=_fold_tracking(cfg))
            members.append(train_single(member, folder.path, rep, time.time(), force=force, table=table))
        if members[-1].metrics.get("status") == "interrupted":
            rep.message(f"stopped during fold {i}; continue with `rnnlab train --resume {parent.path}`")
            return members[-1]

    schema = members[0].schema
    parts = [read_predictions(m.folder, schema, ".") for m in members]
    ids = np.concatenate([p[0] for p in parts])
    targets = np.concatenate([p[1] for p in parts])
    oof = np.concatenate([p[2] for p in parts])
    folds = [m.metrics["validation"] for m in members]
    cv = {}
    for key in SUMMARY_METRICS:
        values = [f.get(key) for f in folds]
        if all(isinstance(v, (int, float)) and not is_missing(v) for v in values):
            cv[key] = {"mean": float(np.mean(values)), "std": float(np.std(values)), "folds": values}
    oof_metrics = compute_metrics(schema, targets, oof)
    write_labels(parent, schema)
    write_ensemble(parent, [(RunFolder.fold_name(i), 1.0) for i in range(1, k + 1)], "mean", None)
    write_predictions(parent, ids, targets, oof, schema)
    m0 = members[0].metrics
    extra = {}
    if cfg.fit.class_weight is not None:  # computed on each fold's own training rows
        extra["class_weight"] = [m.metrics.get("class_weight") for m in members]
    main = "auc" if "auc" in cv else "accuracy"
    line = f"{k}-fold cross-validation: val {main} {cv[main]['mean']:.4f} ± {cv[main]['std']:.4f} " \
           f"(folds: {', '.join(f'{v:.4f}' for v in cv[main]['folds'])}); out-of-fold {main} {oof_metrics[main]:.4f}"
    if "accuracy" in oof_metrics:
        line += f", accuracy {oof_metrics['accuracy']:.4f} (majority {oof_metrics['majority_accuracy']:.4f})"
    rep.message(line)
    finish(parent, ensemble_metrics(oof_metrics, schema, {
        "folds": k, "cross_validation": cv, "validation_is": "out-of-fold predictions of every row",
        "epochs_run": [m.metrics.get("epochs_run") for m in members],
        "best_epoch": [m.metrics.get("best_epoch") for m in members],
        "params": m0.get("params"), "train_rows": int(len(ids)),
        "train_label_counts": label_counts(schema, targets), **extra}), started, log=rep.lines)
    return Run.load(parent.path)
