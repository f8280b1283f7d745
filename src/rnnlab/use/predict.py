"""Batch scoring (``rnnlab predict``): stream a large input through a run in chunks with
constant memory.

``score_file(run, "comments.csv.gz", "scores.csv")`` reads CSV / TSV / JSONL (plain or
compressed), parquet, or text lines from stdin (``"-"``) chunk by chunk, scores each chunk,
and appends it to a temporary file that replaces the output only when everything was
written — a 1 GB input is never held in memory and a half-written output never appears.
``predict_file`` also takes the datasets that are not tables (IMDB's ``aclImdb`` folder or
archive, Keras's ``imdb.npz``), read whole the way the run reads data.
"""

from __future__ import annotations

import csv
import gzip
import io
import sys
import time
import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from .._io import atomic_path, write_text
from ..data import load_for_run, source_for
from ..data.tables import COMPRESSIONS, detect_format, jsonl_record
from ..errors import ConfigError, DataError
from ..runs import Run

CHUNK_ROWS = 10_000


def _open_text(path: Path):
    suffix = path.suffix.lower()
    if suffix in COMPRESSIONS:
        return COMPRESSIONS[suffix](path, "rt", encoding="utf-8", newline="")
    if suffix == ".zip":
        zf = zipfile.ZipFile(path)
        names = [n for n in zf.namelist() if not n.endswith("/")]
        if len(names) != 1:
            raise DataError(f"'{path}' holds {len(names)} files; expected exactly one.")
        return io.TextIOWrapper(zf.open(names[0]), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _frames(path: Path, fmt: str, chunk_rows: int) -> Iterator[dict[str, list]]:
    """Column → values, chunk by chunk."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
            yield batch.to_pydict()
        return
    with _open_text(path) as fh:
        if fmt == "jsonl":
            records = (jsonl_record(line, str(path), lineno) for lineno, line in enumerate(fh, 1) if line.strip())
        else:
            records = csv.DictReader(fh, delimiter="," if fmt == "csv" else "\t")
        rows: list[dict] = []
        for row in records:
            rows.append(row)
            if len(rows) == chunk_rows:
                yield _columns(rows)
                rows = []
        if rows:
            yield _columns(rows)


def _columns(rows: list[dict]) -> dict[str, list]:
    keys = list(rows[0])
    return {k: [r.get(k) for r in rows] for k in keys}


def iter_chunks(source: str | Path, text_column: str, id_column: str | None = None, fmt: str = "auto",
                chunk_rows: int = CHUNK_ROWS) -> Iterator[tuple[list[str], list[str]]]:
    """(ids, texts) chunk by chunk. ``source`` "-" reads one text per line from stdin (ids are
    line numbers). Ids default to the column 'id' when present, else row numbers from 1."""
    if str(source) == "-":
        buf, start = [], 1
        for line in sys.stdin:
            buf.append(line.rstrip("\n"))
            if len(buf) == chunk_rows:
                yield [str(i) for i in range(start, start + len(buf))], buf
                start, buf = start + len(buf), []
        if buf:
            yield [str(i) for i in range(start, start + len(buf))], buf
        return
    path = Path(source)
    if not path.is_file():
        raise DataError(f"'{path}' does not exist or is not a file.")
    fmt = detect_format(path) if fmt == "auto" else fmt
    first, row = True, 0
    try:
        for cols in _frames(path, fmt, chunk_rows):
            if first:
                if text_column not in cols:
                    raise DataError(f"'{path}' has no column '{text_column}' (columns: {', '.join(cols)}); "
                                    f"pass --text-column.")
                if id_column is None and "id" in cols:
                    id_column = "id"
                elif id_column is not None and id_column not in cols:
                    raise DataError(f"'{path}' has no id column '{id_column}' (columns: {', '.join(cols)}).")
                first = False
            texts = ["" if t is None or (isinstance(t, float) and t != t) else str(t) for t in cols[text_column]]
            n = len(texts)
            ids = [str(i) for i in cols[id_column]] if id_column else [str(i) for i in range(row + 1, row + n + 1)]
            row += n
            yield ids, texts
    except UnicodeDecodeError as exc:
        raise DataError(f"'{path}' is not valid UTF-8 after row {row:,} ({exc.reason}); re-save it as UTF-8.") from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"Cannot read '{path}' after row {row:,}: {exc}.") from None
    if first:
        raise DataError(f"'{path}' is empty: no rows to score.")


def score_file(run: Run, source: str | Path, out: str | Path, *, text_column: str | None = None,
               id_column: str | None = None, fmt: str = "auto", chunk_rows: int = CHUNK_ROWS,
               threshold: float | str | None = None, batch_size: int = 1024, progress: bool = True) -> dict:
    """Score ``source`` into the CSV ``out``, chunk by chunk, written atomically.

    Args:
        run: the trained run.
        source: a CSV / TSV / JSONL file (plain or .gz/.zip/.bz2/.xz), parquet, or "-" for one
            text per line on stdin.
        out: the output CSV: id, one probability column per label, and with ``threshold`` one
            0/1 ``<label>_pred`` column per label (multi-class: a ``predicted`` class column).
        text_column: default None = the run's text column.
        id_column: default None = 'id' when present, else row numbers from 1.
        fmt: 'auto' (default: from the name), 'csv', 'tsv', 'jsonl' or 'parquet'.
        chunk_rows: rows read and scored at a time; default 10,000.
        threshold: a number in [0, 1], "run" (the run's stored per-label thresholds) or None
            (default: no decision columns).
        batch_size: rows per forward pass; default 1024.
        progress: show rows scored on a terminal; default True.

    Returns:
        {'rows', 'path', 'seconds', 'rows_per_second'}.

    Raises:
        ConfigError: ``threshold`` "run" on a run without stored thresholds.
        DataError: an unreadable input, or a missing text / id column.
    """
    _require_thresholds(run, threshold)
    text_column = text_column or source_for(run.config.data.dataset).default_text_column(run.config.data)
    multiclass = run.schema.task == "multiclass"
    header = ["id", *run.labels]
    if multiclass:
        header.append("predicted")
    elif threshold is not None:
        header += [f"{label}_pred" for label in run.labels]
    fixed = None if threshold in (None, "run") else float(threshold)
    t0, rows = time.perf_counter(), 0
    bar = _Progress(progress)
    with atomic_path(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for ids, texts in iter_chunks(source, text_column, id_column, fmt, chunk_rows):
            probs = run.predict(texts, batch_size=batch_size)
            cells = [np.char.mod("%.6g", probs[:, j]) for j in range(probs.shape[1])]
            extra = []
            if multiclass:
                extra = [np.asarray(run.labels)[probs.argmax(1)]]
            elif threshold is not None:
                decided = run.decide(probs, fixed)
                extra = [decided[:, j] for j in range(decided.shape[1])]
            writer.writerows(zip(ids, *cells, *extra))
            rows += len(ids)
            bar.update(rows)
        fh.flush()
    bar.close()
    secs = time.perf_counter() - t0
    return {"rows": rows, "path": str(out), "seconds": round(secs, 2), "rows_per_second": round(rows / max(secs, 1e-9))}


def _require_thresholds(run: Run, threshold) -> None:
    if threshold == "run" and not run.thresholds:
        raise ConfigError(f"--threshold run: '{run.dir}' has no stored thresholds; run `rnnlab thresholds {run.dir}` "
                          f"first or give a number.")


class _Progress:
    """Rows scored and rows/s on a terminal (stderr); silent otherwise."""

    def __init__(self, enabled: bool):
        self.p = None
        self.t0 = time.perf_counter()
        if enabled and sys.stderr.isatty():
            self.p = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                              console=Console(stderr=True), transient=True)
            self.p.start()
            self.task = self.p.add_task("starting", total=None)

    def update(self, rows: int) -> None:
        if self.p is not None:
            rate = rows / max(time.perf_counter() - self.t0, 1e-9)
            self.p.update(self.task, description=f"{rows:,} rows scored, {rate:,.0f} rows/s")

    def close(self) -> None:
        if self.p is not None:
            self.p.stop()


DATASET_SUFFIXES = (".npz", ".tar.gz", ".tgz", ".tar")


def is_dataset(source: str | Path) -> bool:
    """True for inputs that are datasets rather than tables: a folder (IMDB's ``aclImdb``), an
    archive or Keras's ``imdb.npz``."""
    path = Path(source)
    return str(source) != "-" and (path.is_dir() or path.name.endswith(DATASET_SUFFIXES))


def predict_dataset(run: Run, source: str | Path, out: str | Path, batch_size: int = 1024) -> dict:
    """Score a dataset read whole the way the run reads data (unlabelled) into the CSV ``out``
    (id + one column per label), written atomically.

    Returns:
        {'rows', 'path'}.
    """
    ds = load_for_run(run.config, source, labelled=False)
    probs = run.predict(ds, batch_size=batch_size)
    frame = pd.DataFrame({"id": ds.ids})
    for j, label in enumerate(run.labels):
        frame[label] = probs[:, j]
    buf = io.StringIO()
    frame.to_csv(buf, index=False, float_format="%.6g")
    write_text(out, buf.getvalue())
    return {"rows": len(frame), "path": str(out)}


def predict_file(run: Run, source: str | Path, out: str | Path, **options) -> dict:
    """``rnnlab predict``: :func:`predict_dataset` for datasets (:func:`is_dataset`), else
    :func:`score_file` (``options`` are its keyword arguments)."""
    if is_dataset(source):
        _require_thresholds(run, options.get("threshold"))  # score_file checks it for tables
        return predict_dataset(run, source, out, options.get("batch_size", 1024))
    return score_file(run, source, out, **options)
