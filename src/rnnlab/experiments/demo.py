"""``rnnlab demo``: the blog's two IMDB models and a strong BiGRU, trained and compared.

The IMDB train split comes from ``data`` (our CSV, the aclImdb folder or tar.gz, or Keras's
imdb.npz), else ``$RNNLAB_IMDB``, else the official download (cached). Epochs are capped so
the whole demo fits in about 5 minutes on 2 CPU cores; ``full=True`` trains every preset to
its own stopping rule.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from .._io import write_json, write_text
from ..config import load_config, preset_path
from ..engine import format_metric
from ..runs import unique_run_dir
from ..train.progress import Reporter
from ..train.trainer import train

# preset, epoch cap for the quick demo
MODELS = [("imdb_simplernn_onehot", 20), ("imdb_simplernn_embedding", 40), ("imdb_bigru", 2)]


def run_demo(data: str | os.PathLike | None = None, out: str | os.PathLike = "runs/demo", full: bool = False,
             verbose: str = "auto", reporter: Reporter | None = None) -> list[dict]:
    """Train the demo models into ``out``/<preset> and return one comparison row per model.

    Args:
        data: the IMDB train data (our CSV, the aclImdb folder or tar.gz, or imdb.npz); default
            None = ``$RNNLAB_IMDB``, else the official download.
        out: the folder of the run folders and ``comparison.md`` / ``.json``; default runs/demo.
        full: train every preset to its own stopping rule (default False: capped epochs).
        verbose: progress display; default 'auto'.
        reporter: where messages go (default: the console).

    Returns:
        One dict per model: params, epochs, validation loss / accuracy / majority / AUC, seconds.
    """
    rep = reporter or Reporter(verbose)
    out = Path(out)
    rows = []
    for name, cap in MODELS:
        overrides = {"runs_dir": str(out)}
        if data is not None:
            overrides["data.path"] = str(Path(data).resolve())
        cfg = load_config(preset_path(name), overrides)
        capped = not full and cfg.fit.epochs > cap
        if capped:
            cfg = cfg.replace({"fit.epochs": cap})
        note = f" (epochs capped at {cap} for the demo; --full lifts the cap)" if capped else ""
        rep.message(f"\n== {name}{note}")
        run = train(cfg, run_dir=unique_run_dir(out, name), reporter=rep)
        m, info = run.metrics, run.info
        v = m["validation"]
        rows.append({"model": name, "run": str(run.dir),
                     "params": m["params"]["trainable"] + m["params"]["non_trainable"],
                     "epochs": m["epochs_run"], "best_epoch": m["best_epoch"], "status": m["status"],
                     "val_loss": v.get("loss"), "val_accuracy": v.get("accuracy"),
                     "majority_accuracy": v.get("majority_accuracy"), "val_auc": v.get("auc"),
                     "seconds": info.get("duration_seconds"), "seconds_per_epoch": info.get("seconds_per_epoch"),
                     "epochs_capped": capped})
    write_json(out / "comparison.json", rows)
    write_text(out / "comparison.md", comparison_markdown(rows))
    return rows


def comparison_markdown(rows: list[dict]) -> str:
    """The comparison table of :func:`run_demo` as Markdown."""
    _f = format_metric
    buf = io.StringIO()
    buf.write("| model | params | epochs (best) | val loss | val accuracy | majority accuracy | val AUC | seconds |\n")
    buf.write("|---|---:|---:|---:|---:|---:|---:|---:|\n")
    for r in rows:
        buf.write(f"| {r['model']} | {r['params']:,} | {r['epochs']} ({r['best_epoch']}) | {_f(r['val_loss'])} | "
                  f"{_f(r['val_accuracy'])} | {_f(r['majority_accuracy'])} | {_f(r['val_auc'])} | "
                  f"{_f(r['seconds'], 1)} |\n")
    return buf.getvalue()
