"""k-fold cross-validation (``fit.folds = K``): K member runs in ``RUN/folds/fold-i``.

Each member trains on K−1 folds and is validated on the remaining one (seeded, stratified
folds of the whole training file). The parent folder is an ensemble run: it predicts with the
mean of the K models, its ``validation_predictions.csv`` holds the out-of-fold predictions of
every row (what ``rnnlab blend`` combines), and ``metrics.json`` reports each fold, the mean ±
std across folds and the out-of-fold metrics.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from .. import __version__
from .._io import write_json, write_text
from ..config import Config
from ..errors import ConfigError
from ..run import Run, unique_run_dir
from .metrics import compute_metrics
from .progress import Reporter

SUMMARY_METRICS = ("auc", "accuracy", "loss", "macro_f1")


def _finished(folder: Path) -> bool:
    metrics = folder / "metrics.json"
    return (folder / "manifest.json").exists() and metrics.exists() and \
        json.loads(metrics.read_text(encoding="utf-8")).get("status") in ("completed", "early_stopped")


def train_folds(cfg: Config, run_dir, rep: Reporter, force: bool = False, resume: bool = False) -> Run:
    """Train ``cfg.fit.folds`` member runs and write the parent ensemble folder.

    With ``resume`` (``rnnlab train --resume RUN``) finished folds are kept, an interrupted
    one continues from its last epoch and missing ones are trained."""
    from ..ensemble import finish, write_ensemble, write_rows
    from .trainer import train

    started = time.time()
    k = cfg.fit.folds
    out_dir = Path(run_dir) if run_dir else unique_run_dir(cfg.runs_dir, cfg.name or "run")
    if not resume:
        if out_dir.exists() and any(out_dir.iterdir()):
            raise ConfigError(f"The run folder '{out_dir}' already exists and is not empty; choose another "
                              f"(--out) or remove it.")
        cfg = dataclasses.replace(cfg, name=out_dir.name)
        write_text(out_dir / "config.toml", cfg.to_toml())
    members: list[Run] = []
    for i in range(1, k + 1):
        folder = out_dir / "folds" / f"fold-{i}"
        rep.message(f"fold {i} of {k}: {folder}")
        if resume and _finished(folder):
            members.append(Run.load(folder))
        elif resume and (folder / "config.toml").exists():
            members.append(train(resume=folder, reporter=rep))
        else:
            member = dataclasses.replace(cfg, name=f"fold-{i}", data=dataclasses.replace(cfg.data, fold=i))
            members.append(train(member, run_dir=folder, reporter=rep, force=force))
        if members[-1].metrics.get("status") == "interrupted":
            rep.message(f"stopped during fold {i}; continue with `rnnlab train --resume {out_dir}`")
            return members[-1]

    from ..ensemble import read_predictions

    schema = members[0].schema
    parts = [read_predictions(m) for m in members]
    ids = np.concatenate([p[0] for p in parts])
    targets = np.concatenate([p[1] for p in parts])
    oof = np.concatenate([p[2] for p in parts])
    folds = [m.metrics["validation"] for m in members]
    cv = {}
    for key in SUMMARY_METRICS:
        values = [f.get(key) for f in folds]
        if all(isinstance(v, (int, float)) and v == v for v in values):
            cv[key] = {"mean": float(np.mean(values)), "std": float(np.std(values)), "folds": values}
    oof_metrics = compute_metrics(schema, targets, oof)
    write_json(out_dir / "labels.json", {"rnnlab_version": __version__, "schema": schema.to_dict()})
    write_ensemble(out_dir, [(f"folds/fold-{i}", 1.0) for i in range(1, k + 1)], "mean", None)
    write_rows(out_dir / "validation_predictions.csv", ids, targets, oof, schema)
    m0 = members[0].metrics
    finish(out_dir, oof_metrics, schema, started, extra={
        "folds": k, "cross_validation": cv, "validation_is": "out-of-fold predictions of every row",
        "epochs_run": [m.metrics.get("epochs_run") for m in members],
        "best_epoch": [m.metrics.get("best_epoch") for m in members],
        "params": m0.get("params"), "train_rows": int(len(ids))})
    main = "auc" if "auc" in cv else "accuracy"
    line = f"{k}-fold cross-validation: val {main} {cv[main]['mean']:.4f} ± {cv[main]['std']:.4f} " \
           f"(folds: {', '.join(f'{v:.4f}' for v in cv[main]['folds'])}); out-of-fold {main} {oof_metrics[main]:.4f}"
    if "accuracy" in oof_metrics:
        line += f", accuracy {oof_metrics['accuracy']:.4f} (majority {oof_metrics['majority_accuracy']:.4f})"
    rep.message(line)
    write_text(out_dir / "log.txt", "\n".join(rep.lines) + "\n")
    return Run.load(out_dir)
