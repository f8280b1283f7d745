"""``rnnlab calibrate``: make a run's probabilities mean what they say, and show how far they are.

Fits per-label **temperature scaling** (default; softmax runs: one temperature for the whole
vector) or **Platt scaling** (sigmoid outputs only) on held-out rows — the run's own validation
predictions (validation_predictions.csv) when no data is given, else the given labelled data —
and stores it in the run (``calibration.json``, covered by the manifest;
:func:`rnnlab.runs.amend`). From then on ``Run.predict`` (so ``rnnlab predict``, ``serve``,
``submission``, ``thresholds``, ``evaluate``) returns calibrated probabilities;
``Run.predict(..., raw=True)`` the network's own.

ECE before and after is measured on rows the scaling was not fitted on: the held-out rows are
split in two halves by a seeded shuffle (``seed``, default the run's ``seed``); a scaling fitted
on one half calibrates the other, and the other way round (two-fold cross-fitting: every row is
measured, none by a scaling fitted on it); then the scaling is fitted again on all rows, and
that is what is stored. ECE: :mod:`rnnlab.engine.calibration` (15 equal-width bins, weighted by
row count). A temperature (and a Platt slope > 0) keeps the order of the scores, so ROC AUC is
unchanged: :func:`fit_calibration` checks it for the stored scaling on all held-out rows.

Stored thresholds (thresholds.json) were picked on the previous probabilities; they are mapped
through the new calibration (it is monotone) so every decision stays the same.

Reliability diagrams (:func:`plot_reliability`) are drawn by ``rnnlab evaluate`` and
``rnnlab report``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from .._io import pyplot, save_figure, write_json
from ..data.dataset import TextDataset
from ..engine import calibration as calib
from ..errors import ConfigError, DataError, RunError
from ..runs import Run, amend, read_json, read_predictions

MIN_ROWS = 20  # held-out rows: half to fit, half to measure
AUC_TOLERANCE = 1e-6  # float rounding of the calibrated probabilities (ties at saturation)


def _auc(y: np.ndarray, p: np.ndarray) -> float | None:
    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else None


def _held_out(run: Run, data: TextDataset | None) -> tuple[np.ndarray, np.ndarray, str]:
    """(targets, raw outputs, where they come from)."""
    if data is None:
        _, y, p = read_predictions(run.folder, run.schema, "; pass labelled DATA to calibrate on.")
        return y, p, f"{run.folder.predictions.name} (the run's validation split)"
    if data.targets is None:
        raise DataError(f"'{data.source}' has no labels; calibration needs labelled data.")
    return data.targets, run.predict(data, raw=True), data.source


def _fit(task: str, labels: list[str], method: str, y: np.ndarray, p: np.ndarray) -> dict:
    """A calibration spec fitted on (y, p)."""
    if task == "multiclass":
        return {"method": method, "softmax_temperature": calib.fit_softmax_temperature(y, p)}
    per = {}
    for label, yj, pj in calib.per_label_columns(task, labels, y, p):
        if len(np.unique(yj)) < 2:
            per[label] = {"temperature": 1.0, "note": "a single class in the fitting rows; left as it is"}
        elif method == "temperature":
            per[label] = {"temperature": calib.fit_temperature(yj, pj)}
        else:
            a, b = calib.fit_platt(yj, pj)
            if a <= 0:
                auc = _auc(yj, pj)
                raise DataError(f"Platt scaling of '{label}' has slope {a:.3g} <= 0: on these {len(yj)} rows the "
                                f"model scores the negatives above the positives (ROC AUC {auc:.3f}), and a "
                                f"calibration may not reverse the order of scores. Check that the data's "
                                f"'{label}' column means what the run was trained on, or calibrate on more "
                                f"held-out rows with --method temperature.")
            per[label] = {"a": a, "b": b}
    spec = {"method": method, "labels": per}
    if task == "binary" and p.shape[1] == 2:
        spec["binary_softmax"] = True
    return spec


def _apply(spec: dict, labels: list[str], p: np.ndarray) -> np.ndarray:
    return calib.apply(spec, p, labels)  # a 2-unit softmax over one 0/1 label: column 1 (binary_softmax)


def check_request(run: Run, method: str) -> None:
    """Refuse a calibration that cannot be fitted before any data is read.

    Raises:
        ConfigError: an unknown method, Platt scaling of a multi-class run, or a member of an
            ensemble.
    """
    if method not in calib.METHODS:
        raise ConfigError(f"--method must be one of {', '.join(calib.METHODS)}. Got {method!r} instead.")
    owner = run.folder.ensemble_owner
    if owner is not None:
        raise ConfigError(f"'{run.dir}' is a member of the ensemble '{owner.path}', which combines its members' "
                          f"raw outputs, so a member's calibration would change nothing it predicts: calibrate "
                          f"the ensemble (`rnnlab calibrate {owner.path}`).")
    if method == "platt" and run.schema.task == "multiclass":
        raise ConfigError("--method platt calibrates one sigmoid output per label; a multi-class (softmax) run "
                          "takes --method temperature (one temperature on the logits vector).")


def fit_calibration(run: Run, data: TextDataset | None = None, method: str = "temperature",
                    seed: int | None = None) -> dict:
    """Fit a calibration on held-out rows and measure it on rows it was not fitted on.

    Args:
        run: a trained run (binary, multi-label or multi-class).
        data: labelled data the model did not train on; default None = the run's validation
            predictions.
        method: 'temperature' (default) or 'platt' (sigmoid outputs only).
        seed: the seed of the half/half split that measures the fit; default None = the
            run's ``seed``.

    Returns:
        The calibration.json content: ``method``, per-label ``labels`` ({label: {temperature}
        or {a, b}}) or ``softmax_temperature``, ``data``, ``rows``, ``seed``, ``bins``,
        ``eval_rows``, ``measured`` and per label ``ece_before`` and ``ece_after`` (cross-fitted,
        see the module docstring), ``auc_before`` and ``auc_after`` (the stored scaling).

    Raises:
        ConfigError: an unknown method, Platt scaling of a multi-class run, or a run that is a
            member of an ensemble (calibrate the ensemble).
        DataError: unlabelled data, fewer than 20 rows, a single class in every label, or a
            Platt slope <= 0 (the scores rank the data's negatives above its positives).
        RunError: no validation predictions in the run, or a calibration that changed an AUC.
    """
    check_request(run, method)
    task, labels = run.schema.task, run.labels
    y, p, source = _held_out(run, data)
    p = np.asarray(p, dtype=np.float64)
    if len(y) < MIN_ROWS:
        raise DataError(f"{source} has {len(y)} rows; calibration needs at least {MIN_ROWS} held-out rows (half to "
                        f"fit, half to measure): pass labelled DATA with more rows the model did not train on.")
    if all(len(np.unique(yj)) < 2 for _, yj, _ in calib.per_label_columns(task, labels, y, p)):
        raise DataError(f"{source}: every label has a single class in its {len(y)} rows, so there is nothing to "
                        f"calibrate against; pass held-out rows with positives and negatives.")
    seed = run.config.seed if seed is None else int(seed)
    order = np.random.default_rng(seed).permutation(len(y))
    halves = (order[: len(y) // 2], order[len(y) // 2:])
    crossed = p.copy()  # every row calibrated by the scaling fitted on the other half
    for fit_rows, eval_rows in (halves, halves[::-1]):
        crossed[eval_rows] = _apply(_fit(task, labels, method, y[fit_rows], p[fit_rows]), labels, p[eval_rows])
    spec = _fit(task, labels, method, y, p)
    stored = _apply(spec, labels, p).astype(np.float64)
    ece_before, ece_after, auc_before, auc_after = {}, {}, {}, {}
    for (label, yj, b), (_, _, c), (_, _, a) in zip(*(calib.per_label_columns(task, labels, y, q)
                                                      for q in (p, crossed, stored))):
        ece_before[label], ece_after[label] = calib.reliability(yj, b)["ece"], calib.reliability(yj, c)["ece"]
        auc_before[label], auc_after[label] = _auc(yj, b), _auc(yj, a)
        if task != "multiclass" and auc_before[label] is not None \
                and abs(auc_before[label] - auc_after[label]) > AUC_TOLERANCE:
            raise RunError(f"Calibrating '{label}' changed its ROC AUC ({auc_before[label]:.6f} -> "
                           f"{auc_after[label]:.6f}); a monotone calibration must not. Report this as a bug.")
    return {**spec, "data": source, "rows": int(len(y)), "seed": seed, "bins": calib.BINS,
            "eval_rows": int(len(y)), "measured": "two-fold cross-fit: each half calibrated by the fit on the other",
            "ece_before": ece_before, "ece_after": ece_after, "auc_before": auc_before, "auc_after": auc_after}


def save_calibration(run: Run, result: dict) -> dict | None:
    """Store the calibration in the run folder (manifest removed first and written last:
    :func:`rnnlab.runs.amend`; the model card rewritten), mapping stored thresholds through it
    so decisions do not change.

    Returns:
        The thresholds as stored now ({label: threshold}), or None when the run has none.
    """
    old = run.calibration
    thresholds_file = read_json(run.folder.thresholds)
    mapped = None
    if thresholds_file and run.schema.task != "multiclass":
        mapped = {}
        for label, t in thresholds_file["thresholds"].items():
            raw = float(t)
            old_entry = ((old or {}).get("labels") or {}).get(label)
            if old_entry is not None:
                raw = float(calib.inverse(old_entry, np.array([raw]))[0])
            new_entry = (result.get("labels") or {}).get(label)
            mapped[label] = float(calib.forward(new_entry, np.array([raw]))[0]) if new_entry else raw
        thresholds_file = {**thresholds_file, "thresholds": mapped,
                           "calibrated": f"mapped through {run.folder.calibration.name} ({result['method']})"}
    with amend(run.folder):
        write_json(run.folder.calibration, result)
        if mapped is not None:
            write_json(run.folder.thresholds, thresholds_file)
    return mapped


def plot_reliability(targets: np.ndarray, outputs: np.ndarray, task: str, labels: list[str], path: str | Path,
                     title: str = "") -> Path:
    """Per-label reliability diagrams (observed positive rate against mean predicted
    probability per bin, with the diagonal and each label's ECE) as one PNG."""
    plt = pyplot()
    cols = calib.per_label_columns(task, labels, targets, outputs)
    n = len(cols)
    width = min(n, 3)
    rows = (n + width - 1) // width
    fig, axes = plt.subplots(rows, width, figsize=(3.4 * width, 3.2 * rows), squeeze=False)
    with plt.rc_context({"text.parse_math": False}):
        for ax, (label, y, p) in zip(axes.ravel(), cols):
            r = calib.reliability(y, p)
            conf, freq = np.asarray(r["confidence"]), np.asarray(r["frequency"])
            filled = np.asarray(r["count"]) > 0
            ax.plot([0, 1], [0, 1], color="#999", lw=1, ls="--")
            ax.plot(conf[filled], freq[filled], marker="o", ms=3, lw=1.2)
            ax.set_title(f"{label}  ECE {r['ece']:.4f}", fontsize=9)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_xlabel("mean predicted", fontsize=8)
            ax.set_ylabel("observed positive rate", fontsize=8)
            ax.tick_params(labelsize=7)
        for ax in axes.ravel()[n:]:
            ax.axis("off")
        if title:
            fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)
