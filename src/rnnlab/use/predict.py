"""Batch scoring (``rnnlab predict``): stream a large input through a run in chunks with
constant memory.

``score_file(run, "comments.csv.gz", "scores.csv")`` reads CSV / TSV / JSONL (plain or
compressed), parquet, or text lines from stdin (``"-"``) chunk by chunk, scores each chunk,
and appends it to a temporary file that replaces the output only when everything was
written — a 1 GB input is never held in memory and a half-written output never appears.
``predict_file`` also takes the datasets that are not tables (IMDB's ``aclImdb`` folder or
archive, Keras's ``imdb.npz``), read whole the way the run reads data.

``workers=N`` spreads the scoring over N processes (one torch thread each): this process reads
the chunks and writes them in input order, the workers tokenize, score and format them, at most
``2 N`` chunks in flight. A folder of CSV/TSV/JSONL/parquet shards (:func:`is_shards`) is read as
one input, the shards in name order.
"""

from __future__ import annotations

import collections
import csv
import dataclasses
import io
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import torch
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from .._io import atomic_path, write_text
from ..data import load_for_run, source_for
from ..data.tables import FORMATS, class_key, is_missing, detect_format, numbers_note, texts_of
from ..data.textfiles import COMPRESSIONS, Records, read_bytes
from ..errors import ConfigError, DataError, param_error
from ..runs import Run

CHUNK_ROWS = 10_000


def _frames(path: Path, fmt: str, chunk_rows: int) -> Iterator[tuple[dict[str, list], list[str]]]:
    """(column → values, the columns) chunk by chunk, read as training reads the file."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        compressed = path.suffix.lower() in (*COMPRESSIONS, ".zip")  # read as training reads it: decompressed
        try:
            reader = pq.ParquetFile(io.BytesIO(read_bytes(path, "the input")) if compressed else path)
            columns = list(reader.schema_arrow.names)
            for batch in reader.iter_batches(batch_size=chunk_rows):
                yield batch.to_pydict(), columns
        except (OSError, ValueError, pyarrow_errors()) as exc:
            raise DataError(f"Cannot read parquet file '{path}': {exc}") from None
        return
    records = Records(path, fmt, key="the input")
    rows: list[dict] = []
    for _, rec in records:
        rows.append(rec)
        if len(rows) == chunk_rows:
            yield _columns(rows, records.columns), records.columns or list(rows[0])
            rows = []
    if rows:
        yield _columns(rows, records.columns), records.columns or list(rows[0])


def pyarrow_errors() -> type[Exception]:
    """pyarrow's base error (its errors for corrupt files)."""
    import pyarrow

    return pyarrow.ArrowException


def _columns(rows: list[dict], header: list[str] | None) -> dict[str, list]:
    keys = header if header is not None else list(dict.fromkeys(k for r in rows for k in r))
    return {k: [r.get(k) for r in rows] for k in keys}


def iter_chunks(source: str | Path, text_column: str, id_column: str | None = None, fmt: str = "auto",
                chunk_rows: int = CHUNK_ROWS, numbers: list[int] | None = None, numbered_from: int = 0,
                ) -> Iterator[tuple[list[str], list[str]]]:
    """(ids, texts) chunk by chunk, the file read as training reads it (:mod:`rnnlab.data.textfiles`).

    Args:
        source: the file, or "-": one text per line from stdin (ids are line numbers).
        text_column: the column of texts.
        id_column: default None = the column 'id' when present, else row numbers from 1.
        fmt: 'auto' (default: from the name), 'csv', 'tsv', 'jsonl' or 'parquet'.
        chunk_rows: rows per chunk.
        numbers: when given, the row numbers of texts that were numbers (read as their text)
            are appended to it.
        numbered_from: rows before this file (a shard): ids made of row numbers start after
            them; default 0.

    Raises:
        DataError: an unreadable file, a missing column, a text cell that is a list or an
            object, a missing id.
    """
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
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}. Got {fmt!r} instead.")
    first, row = True, 0
    for cols, columns in _frames(path, fmt, chunk_rows):
        if first:
            if text_column not in columns:
                raise DataError(f"'{path}' has no column '{text_column}' (columns: {', '.join(map(repr, columns))}); "
                                f"pass --text-column.")
            if id_column is None and "id" in columns and text_column != "id":
                id_column = "id"
            elif id_column is not None and id_column not in columns:
                raise DataError(f"'{path}' has no id column '{id_column}' (columns: {', '.join(map(repr, columns))}).")
            first = False
        cells, found = texts_of(cols.get(text_column, []), str(path), text_column, row + 1)
        texts = [t if t is not None else "" for t in cells]
        if numbers is not None:
            numbers.extend(found)
        n = len(texts)
        ids = _ids(cols.get(id_column, []), str(path), id_column, row + 1) if id_column \
            else [str(i) for i in range(numbered_from + row + 1, numbered_from + row + n + 1)]
        row += n
        yield ids, texts
    if first:
        raise DataError(f"'{path}' is empty: no rows to score.")


def _ids(values: list, source: str, column: str, first_row: int) -> list[str]:
    """Ids as strings the way training reads them (1.0 and 1 are '1'); a missing id is an error."""
    out = []
    for i, v in enumerate(values):
        if is_missing(v):
            raise DataError(f"'{source}' row {first_row + i}, column '{column}': the id is missing.")
        out.append(class_key(v))
    return out


def score_file(run: Run, source: str | Path, out: str | Path, *, text_column: str | None = None,
               id_column: str | None = None, fmt: str = "auto", chunk_rows: int = CHUNK_ROWS,
               threshold: float | str | None = None, batch_size: int = 1024, progress: bool = True,
               workers: int = 1, raw: bool = False) -> dict:
    """Score ``source`` into the CSV ``out``, chunk by chunk, written atomically.

    Args:
        run: the trained run.
        source: a CSV / TSV / JSONL file (plain or .gz/.zip/.bz2/.xz), parquet, a folder of such
            shards (read in name order), or "-" for one text per line on stdin.
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
        workers: processes that score (one torch thread each); default 1 = this process, with
            the run's thread policy. The output is the same for any count.
        raw: write the network's own outputs, without the run's stored calibration
            (``rnnlab calibrate``); default False. Decisions at the run's thresholds
            (``threshold="run"``) stay those of the calibrated scores the thresholds were
            mapped to; a number is applied to the written (raw) scores.

    Returns:
        {'rows', 'path', 'seconds', 'rows_per_second', 'workers', 'notes'}; the notes say what was
        read in a way the file may not mean (numbers in the text column read as text).

    Raises:
        ConfigError: ``threshold`` "run" on a run without stored thresholds.
        DataError: an unreadable input, or a missing text / id column.
    """
    _require_thresholds(run, threshold)
    text_column = text_column or source_for(run.config.data.dataset).default_text_column(run.config.data)
    if workers < 1:
        raise param_error("workers", "an int >= 1", workers)
    header = ["id", *run.labels]
    if run.schema.task == "multiclass":
        header.append("predicted")
    elif threshold is not None:
        header += [f"{label}_pred" for label in run.labels]
    t0, rows, numbers = time.perf_counter(), 0, []
    bar = None  # started after the workers (forked before the bar's thread exists)
    chunks = iter_source(source, text_column, id_column, fmt, chunk_rows, numbers)
    with atomic_path(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerow(header)
        for n, text in _scored(run, chunks, threshold, batch_size, workers, raw):
            fh.write(text)
            rows += n
            if bar is None:
                bar = _Progress(progress)
                bar.t0 = t0
            bar.update(rows)
        fh.flush()
    if bar is not None:
        bar.close()
    secs = time.perf_counter() - t0
    return {"rows": rows, "path": str(out), "seconds": round(secs, 2), "rows_per_second": round(rows / max(secs, 1e-9)),
            "workers": workers, "notes": [numbers_note(numbers, text_column)] if numbers else []}


def chunk_csv(run: Run, ids: list[str], texts: list[str], threshold: float | str | None = None,
              batch_size: int = 1024, raw: bool = False) -> str:
    """The output CSV lines of one chunk (no header); ``raw``: see :func:`score_file`."""
    probs = run.predict(texts, batch_size=batch_size, raw=raw)
    cells = [np.char.mod("%.6g", probs[:, j]) for j in range(probs.shape[1])]
    extra = []
    if run.schema.task == "multiclass":
        extra = [np.asarray(run.labels)[probs.argmax(1)]]
    elif threshold is not None:
        fixed = None if threshold == "run" else float(threshold)
        decided = run.decide(run.calibrate(probs) if raw and fixed is None else probs, fixed)
        extra = [decided[:, j] for j in range(decided.shape[1])]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(zip(ids, *cells, *extra))
    return buf.getvalue()


_worker: dict = {}


def _start_worker(run_dir: str) -> None:
    """A scoring process: one torch thread (the workers share the cores), the run loaded once
    (inherited when forked)."""
    torch.set_num_threads(1)
    run = _worker.get("run") or Run.load(run_dir)
    run.config = dataclasses.replace(run.config, fit=dataclasses.replace(run.config.fit, threads=1))
    _worker["run"] = run


def _score_in_worker(ids: list[str], texts: list[str], threshold, batch_size: int, raw: bool) -> tuple[int, str]:
    return len(ids), chunk_csv(_worker["run"], ids, texts, threshold, batch_size, raw)


def _scored(run: Run, chunks: Iterator[tuple[list[str], list[str]]], threshold, batch_size: int,
            workers: int, raw: bool = False) -> Iterator[tuple[int, str]]:
    """(rows, CSV text) per chunk, in input order, scored here or by ``workers`` processes."""
    if workers == 1:
        for ids, texts in chunks:
            yield len(ids), chunk_csv(run, ids, texts, threshold, batch_size, raw)
        return
    fork = "fork" in multiprocessing.get_all_start_methods()
    _worker["run"] = run if fork else None  # a forked worker inherits the loaded run
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork" if fork else "spawn"),
                                 initializer=_start_worker, initargs=(str(run.dir),)) as pool:
            pending: collections.deque = collections.deque()
            for ids, texts in chunks:
                pending.append(pool.submit(_score_in_worker, ids, texts, threshold, batch_size, raw))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
    finally:
        _worker.clear()


def is_shards(source: str | Path) -> bool:
    """True for a folder holding only table files (CSV/TSV/JSONL/parquet, plain or compressed)
    and no sub-folders: shards scored as one input."""
    path = Path(source)
    if str(source) == "-" or not path.is_dir():
        return False
    entries = [p for p in path.iterdir() if not p.name.startswith(".")]
    return bool(entries) and all(p.is_file() and _is_table(p) for p in entries)


def _is_table(path: Path) -> bool:
    try:  # not .txt (read as TSV when named): a folder of review files is a dataset
        return detect_format(path) in FORMATS and ".txt" not in [x.lower() for x in path.suffixes]
    except (ConfigError, DataError):
        return False


def iter_source(source: str | Path, text_column: str, id_column: str | None = None, fmt: str = "auto",
                chunk_rows: int = CHUNK_ROWS, numbers: list[int] | None = None,
                ) -> Iterator[tuple[list[str], list[str]]]:
    """:func:`iter_chunks` of a file, or of every shard of a folder in name order (ids made of
    row numbers count on across shards)."""
    if not is_shards(source):
        yield from iter_chunks(source, text_column, id_column, fmt, chunk_rows, numbers)
        return
    before = 0
    for shard in sorted(p for p in Path(source).iterdir() if not p.name.startswith(".")):
        for ids, texts in iter_chunks(shard, text_column, id_column, fmt, chunk_rows, numbers, before):
            before += len(ids)
            yield ids, texts


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


def predict_dataset(run: Run, source: str | Path, out: str | Path, batch_size: int = 1024, raw: bool = False) -> dict:
    """Score a dataset read whole the way the run reads data (unlabelled) into the CSV ``out``
    (id + one column per label; ``raw``: without the stored calibration), written atomically.

    Returns:
        {'rows', 'path'}.
    """
    ds = load_for_run(run.config, source, labelled=False)
    probs = run.predict(ds, batch_size=batch_size, raw=raw)
    frame = pd.DataFrame({"id": ds.ids})
    for j, label in enumerate(run.labels):
        frame[label] = probs[:, j]
    buf = io.StringIO()
    frame.to_csv(buf, index=False, float_format="%.6g")
    write_text(out, buf.getvalue())
    return {"rows": len(frame), "path": str(out)}


def predict_file(run: Run, source: str | Path, out: str | Path, **options) -> dict:
    """``rnnlab predict``: :func:`predict_dataset` for datasets (:func:`is_dataset`), else
    :func:`score_file` (``options`` are its keyword arguments; a folder of shards is a table)."""
    if is_dataset(source) and not is_shards(source):
        _require_thresholds(run, options.get("threshold"))  # score_file checks it for tables
        return predict_dataset(run, source, out, options.get("batch_size", 1024), options.get("raw", False))
    return score_file(run, source, out, **options)
