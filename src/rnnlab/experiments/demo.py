"""``rnnlab demo``: the blog's two IMDB models and a strong BiGRU, trained and compared.

The IMDB train split comes from ``data`` (our CSV, the aclImdb folder or tar.gz, or Keras's
imdb.npz), else ``$RNNLAB_IMDB``, else the official download (cached). Epochs are capped so
the whole demo fits in about 5 minutes on 2 CPU cores; ``full=True`` trains every preset to
its own stopping rule.

One demo = one folder: its run folders and the comparison of exactly those runs
(``comparison.md`` / ``.json``). Without ``out`` it is ``runs/demo`` (``runs/demo-2``… when taken);
an ``out`` that exists and is not empty is refused, so a comparison never describes other runs.
Ctrl-C ends the whole demo: the model being trained is saved as an ``interrupted`` run (as
``rnnlab train`` does), the models not started are listed as ``not run``, the comparison is written,
and :class:`DemoInterrupted` carries the rows (the CLI exits 130).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from .._io import write_json, write_text
from ..config import load_config, preset_path
from ..engine import format_metric
from ..runs import unique_run_dir
from ..runs.lifecycle import require_new_folder
from ..train.progress import Reporter
from ..train.trainer import train

# preset (a bundled config's name, or a config dict), epoch cap for the quick demo
MODELS = [("imdb_simplernn_onehot", 20), ("imdb_simplernn_embedding", 40), ("imdb_bigru", 2)]
DEFAULT_PARENT, DEFAULT_NAME = "runs", "demo"


class DemoInterrupted(KeyboardInterrupt):
    """Ctrl-C ended the demo; ``rows`` is the comparison written (``interrupted`` / ``not run`` rows
    included) and ``out`` its folder."""

    def __init__(self, rows: list[dict], out: Path):
        super().__init__(f"demo interrupted; comparison in {out}")
        self.rows, self.out = rows, out


def demo_folder(out: str | os.PathLike | None) -> Path:
    """The folder of one demo: ``out`` when it is absent or empty, else refused; without ``out``
    ``runs/demo``, ``runs/demo-2``… (the first one not taken).

    Raises:
        ConfigError: ``out`` is a file or a folder that is not empty.
    """
    if out is None:
        return unique_run_dir(DEFAULT_PARENT, DEFAULT_NAME)
    require_new_folder(out, DEFAULT_PARENT)
    return Path(out)


def run_demo(data: str | os.PathLike | None = None, out: str | os.PathLike | None = None, full: bool = False,
             verbose: str = "auto", reporter: Reporter | None = None, threads: int | str | None = None,
             models: list | None = None) -> list[dict]:
    """Train the demo models into ``out``/<preset> and return one comparison row per model.

    Args:
        data: the IMDB train data (our CSV, the aclImdb folder or tar.gz, or imdb.npz); default
            None = ``$RNNLAB_IMDB``, else the official download.
        out: the folder of this demo's run folders and ``comparison.md`` / ``.json``: absent or empty
            (else refused); default None = ``runs/demo``, ``runs/demo-2``… (the first not taken).
        full: train every preset to its own stopping rule (default False: capped epochs).
        verbose: progress display; default 'auto'.
        reporter: where messages go (default: the console).
        threads: ``fit.threads`` for every model ('auto' or a count); default None = each preset's.
        models: ``(preset name or config dict, epoch cap or None)`` pairs; default None = :data:`MODELS`.

    Returns:
        One dict per model: status, params, epochs, validation loss / accuracy / majority / AUC, seconds.

    Raises:
        DemoInterrupted: Ctrl-C; the comparison of what was trained is written first.
        ConfigError: ``out`` is a file or a folder that is not empty; a bad ``threads``.
    """
    rep = reporter or Reporter(verbose)
    out = demo_folder(out)
    models = MODELS if models is None else models
    rows: list[dict] = []
    try:
        for name, cap in models:
            rows.append(_train_one(name, cap, data, out, full, threads, rep))
            if rows[-1]["status"] == "interrupted":  # Ctrl-C in the epoch loop: training saved the run
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        if not rows or rows[-1]["status"] != "interrupted":  # Ctrl-C outside it (reading data, writing the run)
            current = _name(models[len(rows)][0])
            rows.append(_empty_row(current, "interrupted", out / current))
        rows += [_empty_row(_name(m), "not run") for m, _ in models if _name(m) not in {r["model"] for r in rows}]
        _write_comparison(out, rows)
        rep.message(f"interrupted: the demo stopped; comparison of what was trained in {out}")
        raise DemoInterrupted(rows, out) from None
    _write_comparison(out, rows)
    return rows


def _name(model) -> str:
    return model if isinstance(model, str) else model["name"]


def _train_one(model, cap: int | None, data, out: Path, full: bool, threads, rep: Reporter) -> dict:
    """Train one demo model into ``out``/<name>; its comparison row."""
    name = _name(model)
    overrides: dict = {"runs_dir": str(out)}
    if data is not None:
        overrides["data.path"] = str(Path(data).resolve())
    if threads is not None:
        overrides["fit.threads"] = threads
    cfg = load_config(preset_path(model), overrides) if isinstance(model, str) else load_config(None, overrides,
                                                                                                base=model)
    capped = not full and cap is not None and cfg.fit.epochs > cap
    if capped:
        cfg = cfg.replace({"fit.epochs": cap})
    note = f" (epochs capped at {cap} for the demo; --full lifts the cap)" if capped else ""
    rep.message(f"\n== {name}{note}")
    run = train(cfg, run_dir=unique_run_dir(out, name), reporter=rep)
    m, info = run.metrics, run.info
    v = m["validation"]
    return {"model": name, "run": str(run.dir), "status": m["status"],
            "params": m["params"]["trainable"] + m["params"]["non_trainable"],
            "epochs": m["epochs_run"], "best_epoch": m["best_epoch"],
            "val_loss": v.get("loss"), "val_accuracy": v.get("accuracy"),
            "majority_accuracy": v.get("majority_accuracy"), "val_auc": v.get("auc"),
            "seconds": info.get("duration_seconds"), "seconds_per_epoch": info.get("seconds_per_epoch"),
            "epochs_capped": capped}


def _empty_row(name: str, status: str, run: Path | None = None) -> dict:
    """A model with no finished run: ``interrupted`` before its run was saved, or ``not run``."""
    return {"model": name, "run": str(run) if run is not None and run.exists() else None, "status": status,
            "params": None, "epochs": None, "best_epoch": None, "val_loss": None, "val_accuracy": None,
            "majority_accuracy": None, "val_auc": None, "seconds": None, "seconds_per_epoch": None,
            "epochs_capped": False}


def _write_comparison(out: Path, rows: list[dict]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "comparison.json", rows)
    write_text(out / "comparison.md", comparison_markdown(rows))


def comparison_markdown(rows: list[dict]) -> str:
    """The comparison table of :func:`run_demo` as Markdown."""
    buf = io.StringIO()
    buf.write("| model | status | params | epochs (best) | val loss | val accuracy | majority accuracy | val AUC | "
              "seconds |\n")
    buf.write("|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
    for r in rows:
        _f = format_metric if r["params"] is not None else _blank
        buf.write(f"| {r['model']} | {r['status']} | {_count(r['params'])} | {_epochs(r)} | {_f(r['val_loss'])} | "
                  f"{_f(r['val_accuracy'])} | {_f(r['majority_accuracy'])} | {_f(r['val_auc'])} | "
                  f"{_f(r['seconds'], 1)} |\n")
    return buf.getvalue()


def _count(value) -> str:
    return "" if value is None else f"{value:,}"


def _epochs(row: dict) -> str:
    """``epochs (best)``; empty for a model without a run."""
    if row.get("epochs") is None:
        return ""
    return f"{row['epochs']} ({row['best_epoch'] if row.get('best_epoch') is not None else '-'})"


def _blank(*_args, **_kwargs) -> str:
    return ""
