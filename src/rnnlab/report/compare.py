"""``rnnlab compare``: one ranked table of a study's variants or of run folders.

Columns: the parameters that differ between the rows (not all of them), parameter count, best
epoch, validation loss, mean ROC AUC and per-label AUC, accuracy beside the majority accuracy,
seconds per epoch, and the status — ok, failed (with the reason), blocked or flagged by the
config doctor, pruned. A search's sampled trials are rows too (their sampled values in the
parameter columns), followed by its summary and Optuna's parameter importances.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from ..config import tomllib
from ..engine import is_missing
from ..errors import RnnlabError
from ..experiments.search import SAMPLED, importances, sampled_trials, search_study
from ..experiments.sweep import JOURNAL, open_storage
from ..runs import RunFolder, read_json

STATUS_ORDER = {"ok": 0, "flagged": 1, "pruned": 2, "failed": 3, "blocked": 4}


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out.update(_flat(v, key))
        else:
            out[key] = v
    return out


def _row_from_run(run_dir: Path) -> dict:
    folder = RunFolder(run_dir)
    metrics, info = read_json(folder.metrics), read_json(folder.info)
    config = tomllib.loads(folder.config.read_text()) if folder.config.exists() else {}
    v = metrics.get("validation", {})
    status = metrics.get("status", "missing")
    flat = _flat(config)
    if flat.get("model.type") == "blend" and folder.ensemble.exists():
        # a blend's config is its first member's; what tells blends apart is their members
        spec = read_json(folder.ensemble)
        members = ", ".join(f"{m['weight']:g}×{Path(m['path']).name.split('-', 1)[-1]}" for m in spec["members"])
        flat = {"model.type": "blend", "blend": f"{spec['method']} of {members}"}
    return {"name": run_dir.name, "run_dir": str(run_dir), "config": flat,
            "outcome": ("ok" if status in ("completed", "early_stopped") else
                        "pruned" if status == "pruned" else "failed"),
            "reason": metrics.get("reason", ""), "val_auc": v.get("auc"), "val_loss": v.get("loss"),
            "val_accuracy": v.get("accuracy"), "majority_accuracy": v.get("majority_accuracy"),
            "auc_per_label": v.get("auc_per_label") or {}, "params": sum((metrics.get("params") or {}).values()),
            "best_epoch": metrics.get("best_epoch"), "epochs": metrics.get("epochs_run"),
            "seconds_per_epoch": info.get("seconds_per_epoch"), "doctor": metrics.get("doctor", [])}


def rows_from_runs(paths: list[str | Path]) -> list[dict]:
    rows = []
    for p in map(Path, paths):
        folder = RunFolder(p)
        if not folder.config.exists():
            raise RnnlabError(f"'{p}' is not a run folder (no {folder.config.name}); pass run folders or a study "
                              f"folder.")
        rows.append(_row_from_run(p))
    trained = {r["name"]: r["config"] for r in rows if r["config"].get("model.type") != "blend"}
    params = _differing(trained) if len(trained) > 1 else []
    if len(trained) < len(rows):  # blends: one column naming their members, not every config key
        params = ["blend", *params]
    for r in rows:
        r["params_shown"] = {k: r["config"].get(k, "·") for k in params}
    return rows


def _differing(configs: dict[str, dict]) -> list[str]:
    skip = ("name", "runs_dir")
    keys = sorted({k for c in configs.values() for k in c})
    return [k for k in keys if k not in skip and len({json.dumps(c.get(k), default=str) for c in configs.values()}) > 1]


def _load_study(storage: str | None, study: str, default_dir: Path | None):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    store = open_storage(storage, (default_dir or Path(".")) / JOURNAL)
    try:
        return optuna.load_study(study_name=study, storage=store)
    except KeyError:
        raise RnnlabError(f"No study named {study!r} in {storage or default_dir}; run `rnnlab sweep` first.") from None


def rows_from_study(storage: str | None, study: str, default_dir: Path | None = None) -> list[dict]:
    """One row per variant of an Optuna study written by ``rnnlab sweep`` (latest attempt), and
    one per sampled trial of a search (its sampled values in the parameter columns)."""
    st = _load_study(storage, study, default_dir)
    variants = st.user_attrs.get("variants", [])
    latest: dict[str, object] = {}
    for t in st.get_trials(deepcopy=False):
        if t.user_attrs.get("outcome") in ("duplicate", "removed"):
            continue
        latest[t.user_attrs.get("variant_key")] = t  # later trials (reruns) replace earlier ones
    rows = []
    sampled = [t for t in st.get_trials(deepcopy=False) if t.user_attrs.get(SAMPLED)]
    variants = variants + [{"name": t.user_attrs.get("variant_name", f"trial {t.number}"),
                            "key": t.user_attrs.get("variant_key"),
                            "overrides": json.loads(t.user_attrs.get("overrides", "{}"))} for t in sampled]
    keys = sorted({k for v in variants for k in v["overrides"]})
    for v in variants:
        t = latest.get(v["key"])
        a = t.user_attrs if t is not None else {}
        m = a.get("metrics", {})
        outcome = a.get("outcome") or ("running" if t is not None else "not started")
        row = {"name": v["name"], "run_dir": a.get("run_dir", ""), "outcome": outcome, "reason": a.get("reason", ""),
               "val_auc": m.get("val_auc"), "val_loss": m.get("val_loss"), "val_accuracy": m.get("val_accuracy"),
               "majority_accuracy": m.get("majority_accuracy"), "auc_per_label": m.get("auc_per_label") or {},
               "params": m.get("params"), "best_epoch": m.get("best_epoch"), "epochs": m.get("epochs"),
               "seconds_per_epoch": m.get("seconds_per_epoch"), "doctor": m.get("doctor", []),
               "trial": None if t is None else t.number}
        if row["run_dir"] and not row["doctor"]:
            row["doctor"] = read_json(RunFolder(row["run_dir"]).metrics).get("doctor", [])
        row["params_shown"] = {k: v["overrides"].get(k, "·") for k in keys}
        rows.append(row)
    return rows


def _status(row: dict) -> tuple[str, str]:
    """(kind, text) of the status column."""
    outcome = row["outcome"]
    errors = [d["rule"] for d in row.get("doctor", []) if d.get("severity") == "error"]
    if outcome == "ok" and errors:
        return "flagged", "flagged by doctor: " + ", ".join(errors)
    if outcome in ("failed", "blocked", "pruned", "interrupted"):
        kind = outcome if outcome in STATUS_ORDER else "failed"
        return kind, f"{outcome}: {row['reason']}" if row["reason"] else outcome
    return outcome if outcome in STATUS_ORDER else "failed", outcome


def ranked(rows: list[dict], metric: str = "val_auc") -> list[dict]:
    """Rows sorted: ok first by the metric (AUC/accuracy high, loss low), then flagged, pruned,
    failed, blocked."""
    sign = 1 if metric == "val_loss" else -1

    def key(r):
        kind, _ = _status(r)
        v = r.get(metric)
        v = math.inf if is_missing(v) else sign * v
        return (STATUS_ORDER.get(kind, 5), v)

    return sorted(rows, key=key)


def _fmt(v, digits=4):
    """A table cell: metrics with ``digits`` decimals, counts with thousands separators, "" when missing."""
    if is_missing(v):
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v) if not isinstance(v, (list, dict)) else json.dumps(v, separators=(",", ":"))


def table(rows: list[dict], metric: str = "val_auc") -> tuple[list[str], list[list[str]]]:
    """Header and cells of the comparison (ranked)."""
    rows = ranked(rows, metric)
    params = list(rows[0]["params_shown"]) if rows else []
    labels = []
    for r in rows:
        for label in r["auc_per_label"]:
            if label not in labels:
                labels.append(label)
    header = ["#", "variant", *params, "params", "best epoch", "val loss", "val AUC",
              *(f"AUC {label}" for label in labels if len(labels) > 1), "accuracy (majority)", "s/epoch", "status"]
    cells = []
    for i, r in enumerate(rows, 1):
        acc = _fmt(r["val_accuracy"])
        acc = f"{acc} ({_fmt(r['majority_accuracy'])})" if acc else ""
        cells.append([str(i), r["name"], *(_fmt(r["params_shown"][p]) for p in params), _fmt(r["params"]),
                      _fmt(r["best_epoch"]), _fmt(r["val_loss"]), _fmt(r["val_auc"]),
                      *(_fmt(r["auc_per_label"].get(label)) for label in labels if len(labels) > 1), acc,
                      _fmt(r["seconds_per_epoch"], 2), _status(r)[1]])
    return header, cells


def render(rows: list[dict], fmt: str = "md", metric: str = "val_auc") -> str:
    """The ranked comparison as 'md', 'csv' or 'json' text."""
    if fmt == "json":
        out = []
        for r in ranked(rows, metric):
            kind, text = _status(r)
            out.append({**{k: v for k, v in r.items() if k != "config"}, "status": kind, "status_text": text})
        return json.dumps(out, indent=2, default=str) + "\n"
    header, cells = table(rows, metric)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        w.writerows(cells)
        return buf.getvalue()
    esc = lambda s: s.replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in cells]
    return "\n".join(lines) + "\n"


def _study_target(targets: list[str], storage: str | None, study: str | None):
    """(storage, study name, folder) when the targets name a study, else None."""
    if storage or study:
        return storage, study or Path(targets[0]).name, None
    if len(targets) == 1 and (Path(targets[0]) / JOURNAL).exists():
        folder = Path(targets[0])
        return str(folder / JOURNAL), folder.name, folder
    return None


def collect(targets: list[str], storage: str | None = None, study: str | None = None) -> tuple[list[dict], str]:
    """Rows for `rnnlab compare`: a study (folder with study.journal, or --storage/--study) or run
    folders. Returns (rows, metric)."""
    target = _study_target(targets, storage, study)
    if target is not None:
        return rows_from_study(*target), "val_auc"
    if not targets:
        raise RnnlabError("compare needs a study folder, --storage URL --study NAME, or run folders.")
    return rows_from_runs(targets), "val_auc"


def collect_search(targets: list[str], storage: str | None = None, study: str | None = None):
    """The sampled trials of the study the targets name, as an in-memory Optuna study (for
    Optuna's optimisation-history plot and parameter importances); None for run folders or a
    sweep without a search."""
    target = _study_target(targets, storage, study)
    if target is None:
        return None
    st = _load_study(*target)
    return search_study(st) if sampled_trials(st) else None


def importance_table(search) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the parameter-importance table (Optuna's fANOVA importances over the
    completed sampled trials; no cells when there are fewer than two or nothing varied)."""
    return ["parameter", "importance"], [[k, f"{v:.3f}"] for k, v in importances(search)]


def search_text(search) -> str:
    """The search's summary under the comparison (Markdown): trials by state, the best trial
    and the parameter-importance table."""
    from optuna.trial import TrialState

    trials = search.get_trials(deepcopy=False)
    counts = {s.name.lower(): sum(t.state == s for t in trials) for s in (TrialState.COMPLETE, TrialState.PRUNED,
                                                                           TrialState.FAIL)}
    lines = [f"\nSearch: {len(trials)} sampled trials (" + ", ".join(f"{n} {k}" for k, n in counts.items()) + ")"]
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    if done:
        best = search.best_trial
        lines.append(f"best: {best.user_attrs.get('variant_name', best.number)}, value {best.value:.4f}: "
                     + ", ".join(f"{k}={_fmt(v)}" for k, v in best.params.items()))
    header, cells = importance_table(search)
    if cells:
        lines += ["", "Parameter importance (Optuna fANOVA over the completed trials):", "",
                  "| " + " | ".join(header) + " |", "|---|---|"] + ["| " + " | ".join(c) + " |" for c in cells]
    else:
        lines.append("parameter importance: needs two completed trials with different values")
    return "\n".join(lines) + "\n"
