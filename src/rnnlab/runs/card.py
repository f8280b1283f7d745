"""``MODEL_CARD.md``: the model card of a run folder, in the Hugging Face layout (YAML front
matter, then model details, uses, limitations, training data, training procedure, evaluation).

:func:`render_card` is pure: it takes plain data (:func:`card_facts` gathers it from a folder:
config.toml, labels.json, metrics.json, run.json, thresholds.json, calibration.json and every
evaluation-*.json) and returns the Markdown, so any layer can render a card. :func:`write_card`
writes it atomically; :func:`rnnlab.runs.finish` calls it before the manifest at the end of
training, :func:`rnnlab.runs.amend` (thresholds, calibrate) and ``rnnlab evaluate`` write it
again. The card is documentation: loading never reads it, and the manifest does not cover it.

Limitations are derived from the data, never boilerplate alone: labels with few positive
training rows, positive rates far from 50 % (the probabilities carry the training rates),
small training sets, texts cut at ``text.maxlen``, tokens without a pretrained vector,
uncalibrated probabilities and the config doctor's warnings.
"""

from __future__ import annotations

import json
import math

from .._io import write_text
from .._version import __version__
from ..config import tomllib
from ..errors import RunError
from .files import JSON_MAX_BYTES, read_json, read_run_bytes
from .folder import RunFolder

RARE_POSITIVES = 100  # fewer positive training rows than this: a rare label
FEW_VALIDATION_POSITIVES = 30  # fewer validation positives: its AUC is noisy
SKEWED = 0.10  # a positive rate below this (or above 1 - this): imbalanced
SMALL_DATA = 5000  # fewer training rows: a small training set
LOW_TOKEN_SHARE = 0.95  # fewer training tokens with a pretrained vector
TRUNCATED = 0.05  # more texts longer than maxlen


def card_facts(folder: RunFolder) -> dict:
    """The plain data a card is rendered from, read from the run folder (absent files give
    empty entries).

    Raises:
        RunError: a file of the folder is unreadable (see :func:`~rnnlab.runs.files.read_json`).
    """
    folder = RunFolder(folder)
    try:
        config_text = read_run_bytes(folder.config, JSON_MAX_BYTES).decode("utf-8")
        config = tomllib.loads(config_text)
    except (FileNotFoundError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        config_text, config = "", {}
    evaluations = []
    for path in folder.evaluations():
        try:
            evaluations.append(read_json(path))
        except RunError:
            continue  # a damaged evaluation file is left out of the card, not fatal
    return {"name": folder.name, "config": config, "config_text": config_text,
            "labels": read_json(folder.labels), "metrics": read_json(folder.metrics), "info": read_json(folder.info),
            "thresholds": read_json(folder.thresholds), "calibration": read_json(folder.calibration),
            "evaluations": evaluations, "kind": folder.kind}


def write_card(folder: RunFolder) -> None:
    """Render the card of ``folder`` (:func:`card_facts`) and write it atomically."""
    folder = RunFolder(folder)
    write_text(folder.card, render_card(card_facts(folder)))


# ------------------------------------------------------------------------------ rendering
def _f(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else str(value)


def _n(value) -> str:
    return f"{value:,}" if isinstance(value, int) else "n/a"


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _count(r: dict) -> str:
    if r["train_positives"] is None:
        return "n/a"
    return f"≈{r['train_positives']:,}" if r["estimated"] else f"{r['train_positives']:,}"


def _q(value) -> str:
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid YAML scalar


def _esc(value) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def architecture(config: dict, kind: str, blend: dict | None = None) -> str:
    """One line saying what the model is, from the resolved config's ``[model]`` table (a
    blend: from its ``metrics.json`` ``blend`` entry, naming the members)."""
    model = config.get("model", {})
    mtype = model.get("type", kind)
    if kind == "ensemble" and blend and blend.get("members"):
        members = blend["members"]
        return (f"a blend ({blend.get('method', 'mean')}) of {len(members)} runs: "
                + ", ".join(f"`{str(m.get('run', '?')).rstrip('/').split('/')[-1]}` (weight {_f(m.get('weight'), 3)})"
                            for m in members) + "; each member's own card is in its folder")
    if kind == "ensemble":
        folds = (config.get("fit") or {}).get("folds")
        return (f"an ensemble of {folds} fold models, each: {architecture(config, 'rnn')}"
                if mtype == "rnn" and folds else f"an ensemble ({mtype}) of the runs in its folder")
    if mtype != "rnn":
        return f"linear baseline `{mtype}`"
    parts = []
    emb = model.get("embedding") or {}
    if model.get("input", "embedding") == "embedding":
        vec = emb.get("pretrained")
        parts.append(f"Embedding({emb.get('dim', '?')}" + (f", pretrained {vec}" if vec else "") + ")")
    else:
        parts.append(f"{model.get('input')} input")
    for layer in model.get("layers", []):
        t = layer.get("type", "?")
        args = [str(layer[k]) for k in ("units", "rate", "filters") if k in layer]
        if layer.get("modes"):
            args.append(", ".join(layer["modes"]))
        if layer.get("activation") and t == "Dense":
            args.append(layer["activation"])
        text = f"{t}({', '.join(args)})"
        parts.append(f"Bidirectional {text}" if layer.get("bidirectional") else text)
    return " → ".join(parts)


def _per_label(facts: dict) -> list[dict]:
    """One dict per label: training positives and rate, validation positive rate, AUC,
    accuracy, majority baseline, threshold, calibration, ECE after calibration."""
    m = facts["metrics"]
    val = m.get("validation") or {}
    labels = ((facts["labels"].get("schema") or {}).get("labels")) or (m.get("schema") or {}).get("labels") or []
    counts = m.get("train_label_counts") or {}
    rows_train = m.get("train_rows")
    cal = facts["calibration"] or {}
    thresholds = (facts["thresholds"] or {}).get("thresholds") or {}
    out = []
    for label in labels:
        pos = counts.get(label)
        val_rate = (val.get("positive_rate") or {}).get(label)
        estimated = pos is None and val_rate is not None and bool(rows_train)
        if estimated:  # a run from before train_label_counts: the (stratified) validation rate
            pos = round(val_rate * rows_train)
        entry = (cal.get("labels") or {}).get(label) or {}
        out.append({
            "label": label, "train_positives": pos, "estimated": estimated,
            "train_rate": pos / rows_train if pos is not None and rows_train else None,
            "val_rate": val_rate,
            "auc": (val.get("auc_per_label") or {}).get(label),
            "accuracy": (val.get("accuracy_per_label") or {}).get(label),
            "majority": (val.get("majority_accuracy_per_label") or {}).get(label),
            "threshold": thresholds.get(label),
            "calibration": ("T = " + _f(entry["temperature"], 3) if "temperature" in entry else
                            f"a = {_f(entry['a'], 3)}, b = {_f(entry['b'], 3)}" if "a" in entry else
                            "T = " + _f(cal["softmax_temperature"], 3) if cal.get("softmax_temperature") else None),
            "ece_before": (cal.get("ece_before") or {}).get(label),
            "ece_after": (cal.get("ece_after") or {}).get(label),
        })
    return out


def _validation_rows(m: dict):
    """Validation rows: recorded by training, else the validation metrics' row count (blends,
    k-fold runs)."""
    return m.get("validation_rows") if m.get("validation_rows") is not None else (m.get("validation") or {}).get("n")


def limitations(facts: dict) -> list[str]:
    """The data-driven limitations of a run (see the module docstring)."""
    m, notes = facts["metrics"], []
    task = (m.get("schema") or {}).get("task")
    rows, val_rows = m.get("train_rows"), _validation_rows(m)
    per = _per_label(facts)
    rare = [r for r in per if r["train_positives"] is not None and r["train_positives"] < RARE_POSITIVES]
    if rare:
        notes.append("Rare labels: " + ", ".join(f"`{r['label']}` has {_count(r)} positive training rows"
                                                 for r in rare)
                     + f" (fewer than {RARE_POSITIVES}); its scores rest on few examples.")
    noisy = [r for r in per
             if r["val_rate"] is not None and val_rows and r["val_rate"] * val_rows < FEW_VALIDATION_POSITIVES]
    if noisy:
        notes.append("Validation AUC is uncertain for " + ", ".join(
            f"`{r['label']}` ({round(r['val_rate'] * val_rows)} positive rows)" for r in noisy)
            + f": fewer than {FEW_VALIDATION_POSITIVES} positives.")
    if task != "multiclass":
        rates = [r for r in per if r["train_rate"] is not None]
        skewed = [r for r in rates if r["train_rate"] < SKEWED or r["train_rate"] > 1 - SKEWED]
        if rates:
            notes.append("The probabilities carry the training data's positive rates ("
                         + ", ".join(f"`{r['label']}` {_pct(r['train_rate'])}" for r in rates)
                         + "); on data with other rates (e.g. when training used a subset enriched in positives, "
                           "or deployment traffic has fewer) they are biased: recalibrate on representative "
                           "labelled data (`rnnlab calibrate RUN DATA`) and re-pick thresholds.")
        if skewed:
            notes.append("Imbalanced labels (positive rate below " f"{_pct(SKEWED)} or above {_pct(1 - SKEWED)}): "
                         + ", ".join(f"`{r['label']}` {_pct(r['train_rate'])}" for r in skewed)
                         + "; accuracy at 0.5 says little for them, compare it with the majority baseline and use "
                           "per-label thresholds.")
    if rows is not None and rows < SMALL_DATA:
        notes.append(f"Small training set: {rows:,} rows (fewer than {SMALL_DATA:,}).")
    lengths = m.get("train_lengths") or {}
    if (lengths.get("truncated_share") or 0) > TRUNCATED:
        notes.append(f"{_pct(lengths['truncated_share'])} of training texts are longer than text.maxlen = "
                     f"{lengths.get('maxlen')} tokens ({_pct(lengths.get('tokens_lost_share'))} of tokens cut); "
                     f"the model does not see the rest of long texts.")
    vectors = m.get("pretrained_vectors") or {}
    if vectors.get("token_share") is not None and vectors["token_share"] < LOW_TOKEN_SHARE:
        notes.append(f"Pretrained vectors cover {_pct(vectors['token_share'])} of training tokens "
                     f"({_pct(vectors.get('vocabulary_share'))} of the vocabulary); the rest start from random "
                     "vectors.")
    if not facts["calibration"] and task is not None:
        notes.append("The probabilities are not calibrated (`rnnlab calibrate RUN`); a score of 0.8 need not mean "
                     "80 % of such texts are positive.")
    warnings = [d for d in m.get("doctor") or [] if d.get("severity") in ("warning", "error")]
    if warnings:
        notes.append(f"The config doctor raised {len(warnings)} warning(s) or error(s): see Doctor findings.")
    if m.get("status") not in (None, "completed", "early_stopped"):
        notes.append(f"Training status is '{m.get('status')}': {m.get('reason', '')}")
    return notes


def render_card(facts: dict) -> str:
    """The model card (Markdown with YAML front matter) of the plain ``facts`` of a run
    (:func:`card_facts`)."""
    m, info, config = facts["metrics"], facts["info"], facts["config"]
    val = m.get("validation") or {}
    schema = m.get("schema") or (facts["labels"].get("schema") or {})
    task, name = schema.get("task", "?"), facts["name"]
    data = config.get("data", {})
    source = data.get("path") or data.get("dataset") or "?"
    params = m.get("params") or {}
    n_params = (params.get("trainable") or 0) + (params.get("non_trainable") or 0) if params else None
    per = _per_label(facts)
    val_rows = _validation_rows(m)
    if m.get("validation_is"):  # k-fold: every row validated by the fold model that did not train on it
        rows_line = f"- **Rows:** {_n(m.get('train_rows'))}; validation: {m['validation_is']} ({m.get('folds')} folds)"
    elif m.get("blend"):
        rows_line = (f"- **Rows:** each member's own (see their cards); the blend was evaluated on "
                     f"{m['blend'].get('data', 'n/a')} ({_n(val_rows)} rows)")
    elif isinstance(m.get("train_rows"), int) and isinstance(val_rows, int):
        rows_line = (f"- **Rows:** {m['train_rows']:,} train, {val_rows:,} validation (validation_split "
                     f"{data.get('validation_split', 'n/a')}, split_seed {data.get('split_seed', 'n/a')})")
    else:
        rows_line = f"- **Rows:** {_n(m.get('train_rows'))} train, {_n(val_rows)} validation"

    yaml = ["---", "library_name: rnnlab", f"tags: [text-classification, {task}, rnnlab]",
            f"datasets: [{_q(data.get('dataset', 'table'))}]", "metrics: [roc_auc, accuracy]", "model-index:",
            f"- name: {_q(name)}", "  results:", "  - task:", "      type: text-classification",
            "    dataset:", f"      name: {_q(source)}", f"      type: {_q(data.get('dataset', 'table'))}",
            "      split: validation", "    metrics:"]
    if val.get("auc") is not None:
        yaml += ["    - type: roc_auc", f"      value: {_f(val.get('auc'))}", "      name: mean ROC AUC"]
    if val.get("accuracy") is not None:
        yaml += ["    - type: accuracy", f"      value: {_f(val.get('accuracy'))}", "      name: accuracy"]
    yaml.append("---")

    md = [f"# Model card: {name}", "",
          f"A {task} text classifier trained with rnnlab. This card is written by rnnlab from the run folder "
          "(training, `rnnlab evaluate`, `rnnlab thresholds` and `rnnlab calibrate` rewrite it).", "",
          "## Model details", "",
          f"- **Architecture:** {architecture(config, facts['kind'], m.get('blend'))}",
          f"- **Parameters:** {n_params:,}" if n_params is not None else "- **Parameters:** n/a",
          f"- **Task:** {task}; labels: " + ", ".join(f"`{r['label']}`" for r in per),
          f"- **rnnlab version:** {facts['labels'].get('rnnlab_version') or info.get('rnnlab_version') or __version__}",
          f"- **Trained:** {info.get('created_at', 'n/a')} on {info.get('device', 'n/a')} "
          f"({_f(info.get('duration_seconds'), 0)} s); torch {info.get('torch_version', 'n/a')}",
          f"- **Training status:** {m.get('status', 'n/a')}" + (f" ({m['reason']})" if m.get("reason") else ""),
          "", "## Intended use", "",
          "Scoring texts like the training data for " + ", ".join(f"`{r['label']}`" for r in per)
          + (" (each label independently, a probability per label)." if task == "multilabel" else
             " (one probability per class, summing to 1)." if task == "multiclass" else " (one probability)."),
          "Use it to rank or triage texts, with per-label thresholds (`rnnlab thresholds`) and a person "
          "reviewing consequential decisions.", "",
          "Out of scope: texts in another language or domain than the training data, and automatic decisions "
          "about people without review.", "",
          "## Bias, risks and limitations", ""]
    md += [f"- {note}" for note in limitations(facts)] or ["- None found in the recorded data."]

    md += ["", "## Training data", "",
           f"- **Source:** `{source}` (dataset `{data.get('dataset', '?')}`)",
           rows_line,
           "", "| label | positives in training | positive rate (train) | positive rate (validation) |",
           "|---|---:|---:|---:|"]
    md += [f"| {_esc(r['label'])} | {_count(r)} | {_pct(r['train_rate'])}{' (est.)' if r['estimated'] else ''} | "
           f"{_pct(r['val_rate'])} |" for r in per]
    if any(r["estimated"] for r in per):
        md += ["", "(est.): this run did not record its training label counts; estimated from the validation "
                   "positive rate (the split is stratified by default)."]

    md += ["", "## Training procedure", "", "The resolved config (every default filled in):", "", "```toml",
           facts["config_text"].rstrip(), "```", "", "### Doctor findings", ""]
    doctor = m.get("doctor") or []
    md += [f"- **{d.get('severity')}** `{d.get('rule')}`" + (f" ({d['key']})" if d.get("key") else "")
           + f": {d.get('message')} Fix: {d.get('fix')}" for d in doctor] or ["- None."]

    md += ["", "## Evaluation", "",
           f"On the validation split ({_n(val_rows)} rows): loss {_f(val.get('loss'))}, accuracy "
           f"{_f(val.get('accuracy'))} (majority baseline {_f(val.get('majority_accuracy'))}), mean ROC AUC "
           f"{_f(val.get('auc'))} (a constant score: 0.5000).", "",
           "| label | ROC AUC | accuracy at 0.5 | majority baseline | threshold | calibration |",
           "|---|---:|---:|---:|---:|---|"]
    md += [f"| {_esc(r['label'])} | {_f(r['auc'])} | {_f(r['accuracy'])} | {_f(r['majority'])} | "
           f"{_f(r['threshold']) if r['threshold'] is not None else '0.5 (none stored)'} | "
           f"{r['calibration'] or 'none'} |" for r in per]
    for ev in facts["evaluations"]:
        md += ["", f"On `{ev.get('data', '?')}` ({ev.get('n', '?')} rows, `rnnlab evaluate`"
               + (", calibrated" if ev.get("calibrated") else "") + f"): accuracy {_f(ev.get('accuracy'))} "
               f"(majority {_f(ev.get('majority_accuracy'))}), mean ROC AUC {_f(ev.get('auc'))}, mean ECE "
               f"{_f(ev.get('ece'))}; per label AUC: " + ", ".join(
                   f"{_esc(k)} {_f(v)}" for k, v in (ev.get("auc_per_label") or {}).items())]

    thresholds = facts["thresholds"]
    md += ["", "### Thresholds", ""]
    md += ([f"Picked by `rnnlab thresholds` ({thresholds.get('optimize')}) on {thresholds.get('data')} "
            f"({thresholds.get('rows')} rows): " + ", ".join(f"`{k}` {_f(v)}" for k, v in
                                                             (thresholds.get("thresholds") or {}).items())]
           if thresholds else ["None stored: decisions use 0.5."])
    cal = facts["calibration"]
    md += ["", "### Calibration", ""]
    if cal:
        md += [f"`rnnlab calibrate` ({cal.get('method')}) fitted on {cal.get('data')} ({cal.get('rows')} rows). "
               f"ECE ({cal.get('bins', 15)} equal-width bins, count-weighted) on {cal.get('eval_rows')} rows, each "
               f"calibrated by a scaling not fitted on it ({cal.get('measured', 'held-out half')}, seed "
               f"{cal.get('seed')}); ROC AUC of the stored scaling:", "",
               "| label | calibration | ECE before | ECE after | ROC AUC before | ROC AUC after |",
               "|---|---|---:|---:|---:|---:|"]
        md += [f"| {_esc(r['label'])} | {r['calibration'] or 'none'} | {_f(r['ece_before'])} | {_f(r['ece_after'])} | "
               f"{_f((cal.get('auc_before') or {}).get(r['label']))} | "
               f"{_f((cal.get('auc_after') or {}).get(r['label']))} |" for r in per]
    else:
        md.append("None stored: `Run.predict` returns the network's own probabilities.")
    return "\n".join(yaml + md) + "\n"
