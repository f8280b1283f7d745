"""Training a linear baseline (``model.type = 'tfidf_lr'`` or ``'nbsvm'``): fitted in one step on
the same split as the networks and scored with the same metrics, so the comparison is fair.
``fit.class_weight`` becomes scikit-learn sample weights (per label for multi-label data)."""

from __future__ import annotations

import dataclasses
import time

from ..config import Config
from ..data import Splits
from ..engine import compute_metrics, label_counts, probability_loss
from ..errors import ConfigError
from ..models.baselines import LinearBaseline
from ..data.rows import row_keys
from ..runs import Run, create, save_baseline, write_history, write_predictions, write_train_rows
from .class_weights import announce, resolve_class_weight
from .finish import finish_run
from .progress import Reporter
from .track import Tracker


def train_baseline(cfg: Config, splits: Splits, rep: Reporter, run_dir, started: float, findings: list, *,
                   again: bool = False, track: dict | None = None) -> Run:
    """Fit the baseline ``cfg`` describes on ``splits.train`` and write its run folder (``again``:
    the unfinished one at ``run_dir``, rewritten in place; default False; ``track``: a sweep's
    MLflow child run, :meth:`rnnlab.train.track.Tracker.start`'s ``run_id`` and ``tags``)."""
    schema = splits.train.schema
    if splits.train.texts is None:
        raise ConfigError(f"model.type = {cfg.model.type!r} needs texts, but this dataset holds token ids "
                          f"(Keras imdb.npz); use the aclImdb files or our CSV.")
    weights = resolve_class_weight(cfg.fit, schema, splits.train.targets)  # its errors come before the folder
    folder, cfg = create(cfg, run_dir, schema, again=again)
    write_train_rows(folder, row_keys(splits.train))
    rep.message(f"run: {folder.path}  (baseline {cfg.model.type}: TF-IDF word {cfg.model.baseline.word_ngrams} + "
                f"char {cfg.model.baseline.char_ngrams} n-grams, C = {cfg.model.baseline.c:g})")
    announce(weights, rep)
    tracker = Tracker.start(cfg, folder, rep, resumed=again, **(track or {}))  # again: its MLflow run goes on
    try:
        return _fit(cfg, splits, rep, folder, started, findings, weights, tracker)
    except BaseException as exc:
        tracker.abort(exc)
        raise


def _fit(cfg: Config, splits: Splits, rep: Reporter, folder, started: float, findings: list, weights,
         tracker: Tracker) -> Run:
    """Fit, score and finish the folder (:func:`train_baseline`'s second half)."""
    schema = splits.train.schema
    t0 = time.perf_counter()
    model = LinearBaseline(cfg.model.type, cfg.model.baseline, seed=cfg.seed).fit(
        splits.train.texts, splits.train.targets, schema,
        sample_weight=None if weights is None else weights.sample_weight(splits.train.targets))
    fit_secs = time.perf_counter() - t0
    for note in model.notes:
        rep.message(f"baseline: {note}")
    save_baseline(folder, model)
    run = Run(folder.path, cfg, schema, None, 0, model=model)
    train_out = model.predict(splits.train.texts)
    train_m = compute_metrics(schema, splits.train.targets, train_out)
    outputs, val_loss = run.score(splits.validation)
    final = {"loss": val_loss, **compute_metrics(schema, splits.validation.targets, outputs)}
    write_predictions(folder, splits.validation.ids, splits.validation.targets, outputs, schema)
    history = [{"epoch": 1, "loss": probability_loss(train_out, splits.train.targets, schema),
                "accuracy": train_m["accuracy"], "val_loss": val_loss, "val_accuracy": final["accuracy"],
                "val_majority_accuracy": final["majority_accuracy"], "val_auc": final.get("auc"),
                "seconds": round(time.perf_counter() - t0, 3), "train_seconds": round(fit_secs, 3)}]
    write_history(folder, history)
    tracker.epoch(history[0], final)
    metrics = {
        "status": "completed", "reason": "", "epochs_run": 1, "best_epoch": 1, "best_monitor": "val_loss",
        "best_value": val_loss, "restored_best_weights": False,
        "params": {"trainable": model.n_params, "non_trainable": 0},
        "train_rows": len(splits.train), "validation_rows": len(splits.validation),
        "train_label_counts": label_counts(schema, splits.train.targets), "validation": final,
        "schema": schema.to_dict(), "data": splits.origin, "doctor": [dataclasses.asdict(f) for f in findings],
    }
    if weights is not None:
        metrics["class_weight"] = weights.to_dict()
    finish_run(folder, rep, metrics, history, started, "cpu")
    tracker.end(metrics)
    return run
