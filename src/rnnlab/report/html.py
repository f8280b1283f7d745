"""``rnnlab report``: one self-contained HTML page about a study (or a set of run folders).

The page holds the ranked comparison table of ``rnnlab compare`` (status cells coloured), for
a search Optuna's optimisation-history plot and the parameter-importance table, overlaid
validation learning curves, a per-label AUC heat-map, ROC curves of the three best variants,
the config doctor's findings per variant, the length histogram of the best variant, its
reliability diagrams with ECE per label (Calibration), and its
explanations: per label the tokens that push it up most over a seeded sample of validation
rows (``EXPLAIN_ROWS`` rows, ``EXPLAIN_STEPS`` Integrated Gradients steps, so the time stays
bounded; a linear baseline's top n-grams by weight) and a few explained rows.
Figures are inlined as base64 PNG and the CSS is inline: no external resource, no
JavaScript, so the file can be mailed or archived on its own. Every string from a config, a
run folder or a study is escaped. A missing piece (a failed variant without history, a run
without predictions) is left out with a short note, never an error.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import auc, roc_curve

from .._io import pyplot, write_text
from ..engine.calibration import BINS, reliability
from ..config import tomllib
from ..data import load_splits
from ..errors import RnnlabError
from ..runs import Run, RunFolder
from ..runs.folder import HISTORY, LENGTHS, PREDICTIONS
from ..use.explain import EXPLAIN_CSS, explain_texts, explanation_html, token_summary, top_features
from .compare import _flat, _status, importance_table, ranked, table

ROC_VARIANTS = 3
EXPLAIN_ROWS = 60  # validation rows explained for the report (seeded sample)
EXPLAIN_STEPS = 16  # Integrated Gradients steps per row and label for the report
EXPLAIN_TOP = 8  # tokens shown per label
EXPLAIN_EXAMPLES = 3  # explained rows shown

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1300px;color:#222;
padding:0 1em}
h1{margin-bottom:.2em} .meta{color:#555;margin-top:0}
section{margin:2em 0} h2{border-bottom:1px solid #ddd;padding-bottom:.2em}
table.compare{border-collapse:collapse;font-size:13px}
table.compare th,table.compare td{border:1px solid #ccc;padding:3px 7px;text-align:left;vertical-align:top}
table.compare th{background:#f1f3f5}
td.status-ok{background:#d3f9d8} td.status-flagged{background:#fff3bf} td.status-pruned{background:#e9ecef}
td.status-failed{background:#ffc9c9} td.status-blocked{background:#eebefa}
.note{color:#666;font-style:italic} img{max-width:100%;height:auto;display:block;margin:.5em 0}
ul.findings{margin-top:.2em} .sev-error{color:#c92a2a} .sev-warning{color:#e67700} .sev-info{color:#1864ab}
.fix{color:#2b8a3e} h3{margin:.8em 0 .2em;font-size:15px}
table.tokens{border-collapse:collapse;font-size:13px;display:inline-table;margin:0 1.5em 1em 0;vertical-align:top}
table.tokens th,table.tokens td{border:1px solid #ccc;padding:2px 6px;text-align:left}
""" + EXPLAIN_CSS


def esc(value) -> str:
    """``value`` as text safe inside HTML elements and quoted attributes."""
    return html.escape(str(value), quote=True)


def write_report(rows: list[dict], out_path: str | Path, title: str, metric: str = "val_auc", search=None) -> Path:
    """Write the HTML report of ``rows`` (from :func:`rnnlab.report.compare.collect`) atomically
    to ``out_path``; returns the path.

    Args:
        rows: the comparison rows.
        out_path: the HTML file.
        title: the page title.
        metric: the metric that ranks the rows; default 'val_auc'.
        search: the sampled trials of a search (:func:`rnnlab.report.compare.collect_search`);
            default None (no search section).
    """
    write_text(out_path, render_report(rows, title, metric, search))
    return Path(out_path)


def render_report(rows: list[dict], title: str, metric: str = "val_auc", search=None) -> str:
    """The whole HTML page as text (a search section after the table when ``search`` is given)."""
    order = ranked(rows, metric)
    plt = pyplot()
    with plt.rc_context({"text.parse_math": False}):  # a '$' in a variant name is not math
        sections = [_table_section(rows, metric), *([_search_section(search)] if search is not None else []),
                    _curves_section(order), _heatmap_section(order),
                    _roc_section(rows), _doctor_section(order), _lengths_section(order),
                    _calibration_section(order),
                    _explain_section(order)]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            f"<h1>{esc(title)}</h1>\n{_meta(order)}\n" + "\n".join(sections) + "\n</body>\n</html>\n")


def _meta(order: list[dict]) -> str:
    """The line under the title: date, data, labels, number of variants."""
    parts = [f"generated {datetime.now().strftime('%Y-%m-%d %H:%M')}", f"{len(order)} variants"]
    config = next((c for c in map(_config, order) if c), {})
    data = config.get("data.path") or config.get("data.dataset")
    if data:
        parts.append(f"data: {data}")
    labels = config.get("data.label_columns")
    if labels:
        parts.append("labels: " + ", ".join(map(str, labels)))
    return f'<p class="meta">{esc(" · ".join(parts))}</p>'


def _config(row: dict) -> dict:
    """The flat config of a row: carried by run-folder rows, read from config.toml for study rows."""
    if row.get("config"):
        return row["config"]
    path = _file(row, "config")
    try:
        return _flat(tomllib.loads(path.read_text(encoding="utf-8"))) if path else {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):  # a damaged file: the page goes without it
        return {}


def _file(row: dict, which: str) -> Path | None:
    """The file ``which`` (a :class:`~rnnlab.runs.RunFolder` attribute: 'config', 'history',
    'predictions', 'lengths') of the row's run folder, or None when there is no folder or no such file."""
    if not row.get("run_dir"):
        return None
    path = getattr(RunFolder(row["run_dir"]), which)
    return path if path.is_file() else None


def _note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def _section(heading: str, body: str) -> str:
    return f"<section>\n<h2>{esc(heading)}</h2>\n{body}\n</section>"


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _png(fig) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    pyplot().close(fig)
    return buf.getvalue()


def _number(value) -> float:
    """A finite float, or NaN for None, '' and anything not numeric."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.nan
    return value if math.isfinite(value) else math.nan


def _table_section(rows: list[dict], metric: str) -> str:
    """The ranked comparison table, status cells coloured by kind."""
    header, cells = table(rows, metric)
    kinds = [_status(r)[0] for r in ranked(rows, metric)]
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for kind, row in zip(kinds, cells, strict=True):
        tds = "".join(f"<td>{esc(c)}</td>" for c in row[:-1])
        body.append(f'<tr>{tds}<td class="status status-{esc(kind)}">{esc(row[-1])}</td></tr>')
    rows_html = "\n".join(body) if body else f'<tr><td colspan="{len(header)}">no variants</td></tr>'
    return _section("Comparison", f'<table class="compare">\n<thead><tr>{head}</tr></thead>\n'
                                  f"<tbody>\n{rows_html}\n</tbody>\n</table>")


def _search_section(search) -> str:
    """A search: Optuna's optimisation-history plot and the parameter-importance table."""
    from optuna.trial import TrialState
    from optuna.visualization.matplotlib import plot_optimization_history

    trials = search.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    states = ", ".join(f"{sum(t.state == s for t in trials)} {s.name.lower()}"
                       for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL))
    parts = [f"<p>{esc(len(trials))} sampled trials ({esc(states)}).</p>"]
    if done:
        with warnings.catch_warnings():  # Optuna marks its matplotlib plots experimental
            warnings.simplefilter("ignore")
            ax = plot_optimization_history(search)
        fig = ax.figure
        fig.set_size_inches(8, 4.2)
        fig.set_layout_engine("tight")
        parts.append(_img(_png(fig), "optimisation history: objective value per trial and best so far"))
    else:
        parts.append(_note("No sampled trial completed: no optimisation history."))
    header, cells = importance_table(search)
    if cells:
        head = "".join(f"<th>{esc(h)}</th>" for h in header)
        body = "\n".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in cells)
        parts.append("<h3>Parameter importance (Optuna fANOVA over the completed trials)</h3>\n"
                     f'<table class="compare importance">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n'
                     "</tbody>\n</table>")
    else:
        parts.append(_note("Parameter importance needs two completed trials with different values."))
    return _section("Search", "\n".join(parts))


def read_history(row: dict) -> list[dict]:
    """The epochs of a row's history.csv as dicts of floats (NaN for blanks); [] when absent."""
    path = _file(row, "history")
    if path is None:
        return []
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return [{k: _number(v) for k, v in r.items()} for r in csv.DictReader(fh)]
    except (OSError, UnicodeDecodeError, csv.Error):  # a damaged file counts as no history
        return []


def _colours(order: list[dict]) -> dict[str, tuple]:
    """One colour per variant, the same in every figure."""
    cmap = pyplot().get_cmap("tab10" if len(order) <= 10 else "tab20")
    return {r["name"]: cmap(i % cmap.N) for i, r in enumerate(order)}


def _curves_section(order: list[dict]) -> str:
    """Validation loss and validation AUC per epoch, one line per variant."""
    histories = {r["name"]: read_history(r) for r in order}
    shown = [r for r in order if histories[r["name"]]]
    missing = [r["name"] for r in order if not histories[r["name"]]]
    notes = _note(f"no {HISTORY} (no epochs): " + ", ".join(missing)) if missing else ""
    if not shown:
        return _section("Learning curves", _note("No variant has a training history.") + notes)
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    colours = _colours(order)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2 + 0.22 * len(shown)), layout="constrained")
    for ax, key, name in ((axes[0], "val_loss", "validation loss"), (axes[1], "val_auc", "validation ROC AUC")):
        for r in shown:
            h = histories[r["name"]]
            epochs = [e.get("epoch", i) for i, e in enumerate(h, 1)]
            ax.plot(epochs, [e.get(key, math.nan) for e in h], marker="o", markersize=3, color=colours[r["name"]],
                    label=r["name"])
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=min(3, len(shown)),
               fontsize="small")
    return _section("Learning curves", _img(_png(fig), "validation loss and AUC per epoch") + notes)


def _heatmap_section(order: list[dict]) -> str:
    """Validation AUC per label (and the mean), variants ranked top to bottom."""
    shown = [r for r in order if r.get("auc_per_label")]
    if not shown:
        return _section("AUC per label", _note("No variant has per-label validation AUC."))
    labels = list(dict.fromkeys(label for r in shown for label in r["auc_per_label"]))
    columns = labels + (["mean"] if len(labels) > 1 else [])
    values = np.array([[_number(r["auc_per_label"].get(label)) for label in labels]
                       + ([_number(r.get("val_auc"))] if len(labels) > 1 else []) for r in shown])
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.5 + 1.1 * len(columns), 1.4 + 0.4 * len(shown)), layout="constrained")
    low = min(0.5, float(np.nanmin(values))) if np.isfinite(values).any() else 0.5
    image = ax.imshow(np.ma.masked_invalid(values), cmap="viridis", vmin=low, vmax=1.0, aspect="auto")
    for i, j in np.ndindex(values.shape):
        v = values[i, j]
        dark = not math.isnan(v) and (v - low) / max(1.0 - low, 1e-9) < 0.6
        ax.text(j, i, "n/a" if math.isnan(v) else f"{v:.3f}", ha="center", va="center", fontsize=9,
                color="white" if dark else "black")
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(shown)), [f"{i}. {r['name']}" for i, r in enumerate(shown, 1)])
    fig.colorbar(image, ax=ax, label="validation ROC AUC")
    skipped = [r["name"] for r in order if not r.get("auc_per_label")]
    notes = _note("no AUC (not trained or failed): " + ", ".join(skipped)) if skipped else ""
    return _section("AUC per label", _img(_png(fig), "validation AUC per variant and label") + notes)


def roc_curves(frame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """ROC curves (fpr, tpr) of a validation_predictions.csv frame, by panel: one per label
    (binary: its one label; multi-label: each), or 'micro-average' and 'macro-average' of the
    one-vs-rest curves for multi-class (column ``y``). Labels whose validation split holds one
    class only, or without an output column, have no curve."""
    if "y" in frame.columns:
        classes = [c[2:] for c in frame.columns if c.startswith("p_")]
        truth = np.array([[str(y) == c for c in classes] for y in frame["y"]], dtype=int)
        scores = frame[[f"p_{c}" for c in classes]].to_numpy(dtype=float)
        return _averaged(truth, scores)
    curves = {}
    for column in (c for c in frame.columns if c.startswith("y_")):
        label = column[2:]
        if f"p_{label}" in frame.columns and frame[column].nunique() == 2:
            fpr, tpr, _ = roc_curve(frame[column].to_numpy(dtype=int), frame[f"p_{label}"].to_numpy(dtype=float))
            curves[label] = (fpr, tpr)
    return curves


def _averaged(truth: np.ndarray, scores: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Micro- and macro-averaged one-vs-rest ROC curves of a multi-class one-hot ``truth``."""
    present = [j for j in range(truth.shape[1]) if 0 < truth[:, j].sum() < len(truth)]
    if not present:
        return {}
    micro = roc_curve(truth[:, present].ravel(), scores[:, present].ravel())[:2]
    per_class = [roc_curve(truth[:, j], scores[:, j])[:2] for j in present]
    grid = np.unique(np.concatenate([fpr for fpr, _ in per_class]))
    macro_tpr = np.mean([np.interp(grid, fpr, tpr) for fpr, tpr in per_class], axis=0)
    return {"micro-average": micro, "macro-average": (grid, macro_tpr)}


def _best_with_predictions(rows: list[dict]) -> tuple[list[tuple[dict, dict]], list[str]]:
    """The top variants by validation mean AUC that have predictions, with their curves, and
    notes on those passed over."""
    best, notes = [], []
    for r in (r for r in ranked(rows, "val_auc") if not math.isnan(_number(r.get("val_auc")))):
        if len(best) == ROC_VARIANTS:
            break
        path = _file(r, "predictions")
        if path is None:
            notes.append(f"{r['name']}: no {PREDICTIONS}")
            continue
        try:
            curves = roc_curves(pd.read_csv(path))
        except (ValueError, OSError) as exc:  # a damaged or unexpected file
            notes.append(f"{r['name']}: {PREDICTIONS} is unreadable ({exc})")
            continue
        if curves:
            best.append((r, curves))
        else:
            notes.append(f"{r['name']}: no label with both classes in {PREDICTIONS}")
    return best, notes


def _roc_section(rows: list[dict]) -> str:
    """ROC curves of the best variants, one panel per label (or micro/macro for multi-class)."""
    best, skipped = _best_with_predictions(rows)
    notes = "".join(_note(f"skipped {s}") for s in skipped)
    heading = f"ROC curves of the top {ROC_VARIANTS} variants (validation)"
    if not best:
        return _section(heading, _note("No variant has validation predictions to draw ROC curves from.") + notes)
    panels = list(dict.fromkeys(p for _, curves in best for p in curves))
    plt = pyplot()
    colours = _colours(ranked(rows, "val_auc"))
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 4.3 * nrows), squeeze=False, layout="constrained")
    for ax, panel in zip(axes.ravel(), panels, strict=False):
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
        for r, curves in best:
            if panel in curves:
                fpr, tpr = curves[panel]
                ax.plot(fpr, tpr, color=colours[r["name"]], label=f"{r['name']} (AUC {auc(fpr, tpr):.3f})")
        ax.set_title(panel)
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.legend(loc="lower right", fontsize="x-small")
    for ax in axes.ravel()[len(panels):]:
        ax.set_axis_off()
    return _section(heading, _img(_png(fig), "ROC curves of the best variants") + notes)


def _finding_html(f: dict) -> str:
    severity = str(f.get("severity", ""))
    key = f" ({esc(f['key'])})" if f.get("key") else ""
    fix = f'<br><span class="fix">fix: {esc(f["fix"])}</span>' if f.get("fix") else ""
    return (f'<li><b class="sev-{esc(severity)}">{esc(severity)}</b> <code>{esc(f.get("rule", ""))}</code>{key}: '
            f"{esc(f.get('message', ''))}{fix}</li>")


def _doctor_section(order: list[dict]) -> str:
    """The config doctor's findings, variant by variant."""
    parts = []
    for r in order:
        findings = [f for f in r.get("doctor") or [] if isinstance(f, dict)]
        items = ("<ul class=\"findings\">" + "".join(map(_finding_html, findings)) + "</ul>") if findings \
            else _note("no findings")
        parts.append(f"<h3>{esc(r['name'])}</h3>\n{items}")
    return _section("Config doctor", "\n".join(parts) if parts else _note("No variants."))


def _lengths_section(order: list[dict]) -> str:
    """The best variant's histogram of tokens per training text (its lengths.png)."""
    for r in order:
        path = _file(r, "lengths")
        if path:
            return _section("Text lengths", _note(f"from {r['name']}") + _img(path.read_bytes(), "tokens per text"))
    return _section("Text lengths", _note(f"No variant has a {LENGTHS}."))


def _explain_section(order: list[dict]) -> str:
    """Explanations of the best variant that can be explained: per label the tokens that push
    it up most over a sample of validation rows, and a few explained rows."""
    heading = "Explanations"
    notes = []
    for r in order:
        if not r.get("run_dir") or not RunFolder(r["run_dir"]).manifest.is_file():
            continue
        try:
            run = Run.load(r["run_dir"])
            if run.is_ensemble:
                notes.append(f"{r['name']}: an ensemble (explain a member)")
                continue
            return _section(heading, _note(f"from {r['name']}") + _explained(run) + "".join(map(_note, notes)))
        except RnnlabError as exc:  # data or Captum missing, a damaged folder: the page goes without it
            notes.append(f"{r['name']}: {exc}")
    return _section(heading, _note("No variant could be explained.") + "".join(map(_note, notes)))


def _explained(run: Run) -> str:
    validation = load_splits(run.config).validation
    if validation.texts is None:
        raise RnnlabError("its validation rows are token ids without texts")
    rng = np.random.default_rng(0)
    n = len(validation.texts)
    rows = np.sort(rng.choice(n, size=min(EXPLAIN_ROWS, n), replace=False))
    texts = [validation.texts[i] for i in rows]
    found = explain_texts(run, texts, n_steps=EXPLAIN_STEPS)
    for e, i in zip(found, rows.tolist(), strict=True):
        e.id = str(validation.ids[i])
    tables = []
    for label in run.labels:
        if run.is_baseline:
            ranked = [(f"{gram!r}" if kind == "char" else gram, kind, f"{w:+.3f}")
                      for gram, kind, w in top_features(run, label, EXPLAIN_TOP)]
            head = "<tr><th>n-gram</th><th>kind</th><th>weight</th></tr>"
        else:
            ranked = [(t["token"], f"{t['sum']:+.3f}", f"{t['mean']:+.4f}", str(t["count"]))
                      for t in token_summary(found, label, EXPLAIN_TOP)]
            head = "<tr><th>token</th><th>sum</th><th>mean</th><th>rows×times</th></tr>"
        body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in ranked)
        tables.append(f'<table class="tokens"><caption>{esc(label)}</caption>{head}{body}</table>')
    how = ("the n-grams with the largest weight per label (the model's coefficients)" if run.is_baseline else
           f"the tokens whose Integrated Gradients attributions ({EXPLAIN_STEPS} steps) to each label add up "
           f"highest over {len(found)} sampled validation rows")
    shown = sorted(found, key=lambda e: -max(e.outputs.values(), default=0.0))[:EXPLAIN_EXAMPLES]
    examples = "\n".join(explanation_html(e) for e in shown)
    return (f"<h3>Tokens that push each label up</h3>\n{_note(how)}\n{''.join(tables)}\n"
            f"<h3>Explained validation rows (highest outputs)</h3>\n"
            f"{_note('red tokens push the label up, blue ones down; hover a token for its attribution')}\n{examples}")


def _calibration_section(order: list[dict]) -> str:
    """Reliability diagrams and ECE per label (15 equal-width bins, count-weighted) of the best
    variant with validation predictions (the network's own outputs, before any calibration)."""
    for r in order:
        path = _file(r, "predictions")
        if path is None:
            continue
        try:
            frame = pd.read_csv(path)
        except (ValueError, OSError):
            continue
        labels = [c[2:] for c in frame.columns if c.startswith("y_") and f"p_{c[2:]}" in frame.columns]
        if not labels:
            continue
        curves = {label: reliability(frame[f"y_{label}"].to_numpy(), frame[f"p_{label}"].to_numpy())
                  for label in labels}
        plt = pyplot()
        width = min(len(labels), 3)
        fig, axes = plt.subplots((len(labels) + width - 1) // width, width, figsize=(3.3 * width, 3.1 * (
            (len(labels) + width - 1) // width)), squeeze=False)
        for ax, (label, c) in zip(axes.ravel(), curves.items()):
            filled = np.asarray(c["count"]) > 0
            ax.plot([0, 1], [0, 1], color="#999", lw=1, ls="--")
            ax.plot(np.asarray(c["confidence"])[filled], np.asarray(c["frequency"])[filled], marker="o", ms=3)
            ax.set_title(f"{label}  ECE {c['ece']:.4f}", fontsize=9)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_xlabel("mean predicted", fontsize=8)
            ax.set_ylabel("observed positive rate", fontsize=8)
        for ax in axes.ravel()[len(labels):]:
            ax.axis("off")
        eces = ", ".join(f"{esc(label)} {c['ece']:.4f}" for label, c in curves.items())
        text = (f"<p>{esc(r['name'])} (the best variant with {PREDICTIONS}): expected calibration error per label "
                f"({BINS} equal-width bins weighted by row count) on the validation outputs before any "
                f"<code>rnnlab calibrate</code>: {eces}.</p>")
        return _section("Calibration", text + _img(_png(fig), "reliability diagrams per label"))
    return _section("Calibration", _note(f"no variant with {PREDICTIONS} and 0/1 labels"))
