"""Read labelled text tables (CSV / TSV / JSONL / parquet, plain or .gz/.zip/.bz2/.xz) and
validate them before anything trains.

Every problem is one :class:`~rnnlab.errors.DataError` naming the file, the row (rows count
from 1, the header is not a row) and the column, with a hint. Nothing is guessed silently:
what the loader did (e.g. dropped empty texts) is recorded in ``TextDataset.notes``.
"""

from __future__ import annotations

import difflib
import io
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import DataError, param_error
from .dataset import LabelSchema, TextDataset
from .textfiles import COMPRESSIONS, Records, decode_utf8, jsonl_record, read_bytes, require_file

__all__ = ["COMPRESSIONS", "FORMATS", "decode_utf8", "detect_format", "jsonl_record", "load_table", "read_bytes",
           "read_frame", "require_columns", "clean_texts"]

FORMATS = ("csv", "tsv", "jsonl", "parquet")
EMPTY_TEXT_POLICIES = ("keep", "drop", "error")


def detect_format(path: str | Path) -> str:
    """'csv' | 'tsv' | 'jsonl' | 'parquet' from the file name (compression suffix ignored)."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    while suffixes and suffixes[-1] in (*COMPRESSIONS, ".zip"):
        suffixes.pop()
    ext = suffixes[-1] if suffixes else ""
    found = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
             ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet", ".txt": "tsv"}.get(ext)
    if found is None:
        raise DataError(
            f"Cannot tell the format of '{path}' from its name; use a .csv, .tsv, .jsonl or "
            f".parquet file (optionally .gz/.zip/.bz2/.xz), or set data.format.")
    return found


def read_frame(path: str | Path, fmt: str = "auto") -> pd.DataFrame:
    """Read a table into a DataFrame of strings (CSV/TSV) or native types (JSONL/parquet).

    Text files are read the one way of :mod:`.textfiles` (the same rows ``rnnlab predict``
    streams). In CSV/TSV only truly empty fields become missing (None); 'NA' or 'null' stay text."""
    path = require_file(path)  # first: a missing file or a folder is named as such
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt not in FORMATS:
        raise param_error("data.format", f"one of 'auto', {', '.join(map(repr, FORMATS))}", fmt)
    source = str(path)
    if fmt == "parquet":
        raw = read_bytes(path)
        try:
            frame = pd.read_parquet(io.BytesIO(raw))
        except Exception as exc:  # pyarrow raises many types for corrupt files
            raise DataError(f"Cannot read parquet file '{path}': {exc}") from None
    else:
        records = Records(path, fmt)
        rows = [rec for _, rec in records]
        frame = pd.DataFrame.from_records(rows, columns=records.columns) if records.columns is not None \
            else pd.DataFrame.from_records(rows)
    if len(frame) == 0:
        raise DataError(f"'{source}' has a header but no rows.")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def require_columns(frame: pd.DataFrame, columns: Sequence[str], source: str, key: str) -> None:
    """Fail with a did-you-mean hint when a column is missing."""
    have = list(frame.columns)
    for col in columns:
        if col not in have:
            close = difflib.get_close_matches(col, have, n=1, cutoff=0.6)
            lower = [c for c in have if c.lower() == col.lower()]
            hint = f" Did you mean {_quoted((lower or close)[0])}?" if (lower or close) else ""
            raise DataError(f"'{source}' has no column '{col}' (columns: {', '.join(map(_name, have))}).{hint} "
                            f"Fix {key} or the file.")


def _name(column: str) -> str:
    """A column name for a one-line message (odd characters escaped)."""
    return column if column.isprintable() else repr(column)


def _quoted(column: str) -> str:
    return f"'{column}'" if column.isprintable() else repr(column)


def is_missing(v: object) -> bool:
    return v is None or (isinstance(v, (float, np.floating)) and math.isnan(v)) or v is pd.NA


def _rows(rows: list[int]) -> str:
    """Row numbers for a message: the first five, then '...'."""
    return ", ".join(map(str, rows[:5])) + (", ..." if len(rows) > 5 else "")


def texts_of(values: Sequence, source: str, column: str, first_row: int = 1) -> tuple[list[str | None], list[int]]:
    """The cells of a text column as str, None where missing.

    Numbers (and booleans) become their text and are returned so the caller can say so; a list,
    an object or bytes is no text.

    Args:
        values: the cells.
        source: the file, for messages.
        column: the column, for messages.
        first_row: the row number of ``values[0]`` (rows count from 1).

    Returns:
        (texts, the row numbers of the cells that were numbers).

    Raises:
        DataError: a cell that is a list, an object or bytes (naming its row).
    """
    texts: list[str | None] = []
    numbers: list[int] = []
    for i, v in enumerate(values):
        if isinstance(v, str):
            texts.append(v)
        elif is_missing(v):
            texts.append(None)
        elif isinstance(v, (bool, int, float, np.bool_, np.integer, np.floating)):
            texts.append(str(v))
            numbers.append(first_row + i)
        else:
            kind = {list: "a list", tuple: "a list", dict: "an object", bytes: "bytes"}.get(type(v), type(v).__name__)
            if isinstance(v, np.ndarray):
                kind = "a list"
            raise DataError(f"'{source}' row {first_row + i}, column '{column}': {kind} ({_short(v)}), not a text. "
                            f"Put one string per row in the text column.")
    return texts, numbers


def _short(v: object) -> str:
    text = repr(v.tolist() if isinstance(v, np.ndarray) else v)
    return text if len(text) <= 40 else text[:37] + "..."


def numbers_note(numbers: list[int], column: str) -> str:
    """The note that numbers in a text column were read as text."""
    return f"read {len(numbers)} numbers in the text column '{column}' as text (rows {_rows(numbers)})"


def clean_texts(frame: pd.DataFrame, column: str, source: str, policy: str) -> tuple[list[str], np.ndarray, list[str]]:
    """Texts as str; missing/empty texts handled per ``policy``. Returns (texts, kept_rows, notes).

    Raises:
        DataError: a list, object or bytes in the column (:func:`texts_of`), or missing texts
            with ``policy`` 'error'.
    """
    if policy not in EMPTY_TEXT_POLICIES:
        raise param_error("data.empty_text", "one of 'keep', 'drop', 'error'", policy)
    cells, numbers = texts_of(frame[column].tolist(), source, column)
    texts = [t if t is not None else "" for t in cells]
    bad = [i for i, t in enumerate(texts) if not t.strip()]
    keep = np.arange(len(texts))
    notes = [numbers_note(numbers, column)] if numbers else []
    if bad:
        rows = _rows([i + 1 for i in bad])
        if policy == "error":
            raise DataError(f"'{source}' column '{column}': {len(bad)} missing or empty texts (rows {rows}). "
                            f"Fill them, or set data.empty_text = 'keep' or 'drop'.")
        if policy == "drop":
            keep = np.setdiff1d(keep, np.asarray(bad))
            texts = [texts[i] for i in keep]
            notes.append(f"dropped {len(bad)} rows with missing or empty text (rows {rows})")
        else:
            notes.append(f"kept {len(bad)} missing or empty texts as empty strings (rows {rows})")
    return texts, keep, notes


def _binary_column(values: list, source: str, column: str) -> np.ndarray:
    """0/1 labels (ints, floats 0.0/1.0, bools, or the strings '0'/'1'/'true'/'false')."""
    out = np.empty(len(values), dtype=np.float32)
    ok = {"0": 0.0, "1": 1.0, "0.0": 0.0, "1.0": 1.0, "false": 0.0, "true": 1.0}
    for i, v in enumerate(values):
        if is_missing(v):
            raise DataError(f"'{source}' row {i + 1}, column '{column}': the label is missing. "
                            f"Every row needs a 0/1 label.")
        if isinstance(v, (bool, np.bool_)):
            out[i] = float(v)
            continue
        if isinstance(v, (int, np.integer)) and v in (0, 1):
            out[i] = float(v)
            continue
        if isinstance(v, (float, np.floating)) and v in (0.0, 1.0):
            out[i] = float(v)
            continue
        key = str(v).strip().lower()
        if key not in ok:
            raise DataError(f"'{source}' row {i + 1}, column '{column}': label {v!r} is not 0 or 1. "
                            f"Binary and multi-label columns hold 0/1; for several classes in one "
                            f"column use data.task = 'multiclass'.")
        out[i] = ok[key]
    return out


def class_key(v: object) -> str:
    """Class values as strings; 1.0 and 1 and '1' are the same class."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v).strip()


STRAY_ROWS = 5
"""At most this many rows (or 1% of the rows) outside 0/1 in a 0/1 column are taken for a mistake."""


def _refuse_stray_labels(keys: list[str], keep: np.ndarray, source: str, column: str) -> None:
    """A column of 0/1 labels but for a handful of rows is a binary column with mistakes, not a
    multi-class one: an error naming the rows, unless ``data.task = 'multiclass'`` says so."""
    binary = {"0": "0", "1": "1", "false": "0", "true": "1", "0.0": "0", "1.0": "1"}
    stray = [j for j, k in enumerate(keys) if k.lower() not in binary]
    if not stray or len(stray) > max(STRAY_ROWS, len(keys) // 100):
        return
    if {binary[k.lower()] for k in keys if k.lower() in binary} != {"0", "1"}:
        return
    shown = ", ".join(f"row {keep[j] + 1}: {keys[j]!r}" for j in stray[:5]) + (", ..." if len(stray) > 5 else "")
    n_classes = len(set(keys))
    raise DataError(f"'{source}' column '{column}' holds 0/1 labels except in {len(stray)} of {len(keys)} rows "
                    f"({shown}). Fix those rows, or set data.task = 'multiclass' to train {n_classes} classes.")


def _class_order(name: str) -> tuple:
    """Integer-looking classes in numeric order (2 before 10), then the others by name."""
    try:
        return (0, int(name), name)
    except ValueError:
        return (1, 0, name)


def load_table(path: str | Path, *, text_column: str, label_columns: Sequence[str] | None,
               id_column: str | None = None, task: str = "auto", classes: Sequence | None = None,
               positive_class: str | None = None, empty_text: str = "keep", fmt: str = "auto",
               frame: pd.DataFrame | None = None) -> TextDataset:
    """Load and validate one labelled (or, with ``label_columns=None``, unlabelled) table.

    Args:
        path: the file (CSV/TSV/JSONL/parquet, optionally compressed).
        text_column: the column holding the text.
        label_columns: 0/1 columns (binary: one; multi-label: several) or one multi-class column;
            None for unlabelled data. Default None.
        id_column: a column of unique ids; default None = the column 'id' when present, else row
            numbers (from 1).
        task: 'auto' (default; several columns → multilabel, one 0/1 column → binary, else
            multiclass), 'binary', 'multilabel' or 'multiclass'.
        classes: the expected classes of a multi-class column (values outside are an error);
            default None = the values found, sorted.
        positive_class: makes one column of any values binary: 1 where the value equals it.
        empty_text: 'keep' (default; as ''), 'drop' or 'error' for missing/blank texts.
        fmt: 'auto' (default, from the name), 'csv', 'tsv', 'jsonl' or 'parquet'.
        frame: an already-read DataFrame (skips reading ``path``, which then only names it).
    """
    source = str(path)
    if frame is None:
        frame = read_frame(path, fmt)
    label_columns = list(label_columns) if label_columns else []
    if id_column is None and "id" in frame.columns and "id" not in label_columns and text_column != "id":
        id_column = "id"
    require_columns(frame, [text_column], source, "data.text_column")
    require_columns(frame, label_columns, source, "data.label_columns")
    if id_column is not None:
        require_columns(frame, [id_column], source, "data.id_column")
    if task not in ("auto", "binary", "multilabel", "multiclass"):
        raise param_error("data.task", "one of 'auto', 'binary', 'multilabel', 'multiclass'", task)

    texts, keep, notes = clean_texts(frame, text_column, source, empty_text)
    if len(keep) == 0:
        raise DataError(f"'{source}' has no usable rows after dropping empty texts.")
    row_numbers = keep + 1

    if id_column is not None:
        ids_all = frame[id_column].tolist()
        for i in keep:
            if is_missing(ids_all[i]):
                raise DataError(f"'{source}' row {i + 1}, column '{id_column}': the id is missing.")
        ids = np.asarray([class_key(ids_all[i]) for i in keep], dtype=object)
        uniq, first, counts = np.unique(ids.astype(str), return_index=True, return_counts=True)
        if (counts > 1).any():
            dup = uniq[counts > 1][0]
            rows = [str(row_numbers[j]) for j in np.flatnonzero(ids.astype(str) == dup)[:3]]
            raise DataError(f"'{source}' rows {' and '.join(rows)} share the id '{dup}' in column "
                            f"'{id_column}' ({int((counts > 1).sum())} duplicated ids in all). "
                            f"Ids must be unique: remove the duplicates or set data.id_column.")
    else:
        ids = np.asarray([str(r) for r in row_numbers], dtype=object)

    targets = schema = None
    if label_columns:
        targets, schema = _targets(frame, keep, label_columns, task, classes, positive_class, source)
    return TextDataset(ids=ids, texts=texts, targets=targets, schema=schema, source=source, notes=notes,
                       id_column=id_column)


def _targets(frame, keep, label_columns, task, classes, positive_class, source):
    if len(label_columns) > 1:
        if task not in ("auto", "multilabel"):
            raise param_error("data.task", "'multilabel' (or 'auto') with several label columns", task)
        cols = [_binary_column(frame[c].tolist(), source, c) for c in label_columns]
        return np.stack(cols, axis=1)[keep], LabelSchema("multilabel", list(label_columns))
    col = label_columns[0]
    values = frame[col].tolist()
    if positive_class is not None:
        missing = [i for i, v in enumerate(values) if is_missing(v)]
        if missing:
            raise DataError(f"'{source}' row {missing[0] + 1}, column '{col}': the label is missing.")
        keys = [class_key(v) for v in values]
        pos = str(positive_class)
        if pos not in set(keys):
            raise DataError(f"'{source}' column '{col}': data.positive_class {pos!r} never occurs "
                            f"(values: {', '.join(sorted(set(keys))[:10])}).")
        t = np.asarray([k == pos for k in keys], dtype=np.float32)[:, None]
        return t[keep], LabelSchema("binary", [pos], column=col)
    if task in ("auto", "binary"):
        try:
            t = _binary_column(values, source, col)
            return t[:, None][keep], LabelSchema("binary", [col], column=col)
        except DataError:
            if task == "binary":
                raise
    if task == "multilabel":
        t = _binary_column(values, source, col)
        return t[:, None][keep], LabelSchema("multilabel", [col])
    # multiclass
    keys = []
    for i, v in enumerate(values):
        if is_missing(v):
            raise DataError(f"'{source}' row {i + 1}, column '{col}': the label is missing.")
        if isinstance(v, (list, tuple, dict, np.ndarray, bytes)):
            raise DataError(f"'{source}' row {i + 1}, column '{col}': the label {_short(v)} is a "
                            f"{'list' if not isinstance(v, (dict, bytes)) else type(v).__name__}, not a class. "
                            f"Put one class per row (several 0/1 columns for multi-label data).")
        keys.append(class_key(v))
    keys_kept = [keys[i] for i in keep]
    if task == "auto" and classes is None:
        _refuse_stray_labels(keys_kept, keep, source, col)
    if classes is not None:
        expected = [class_key(c) for c in classes]
        allowed = set(expected)
        for j, k in enumerate(keys_kept):
            if k not in allowed:
                raise DataError(f"'{source}' row {keep[j] + 1}, column '{col}': label {k!r} is not one of "
                                f"the expected classes ({', '.join(expected)}). Fix the row or data.classes.")
        names = expected
    else:
        names = sorted(set(keys_kept), key=_class_order)
    if len(names) < 2:
        raise DataError(f"'{source}' column '{col}' has a single class ({names[0]!r}); a classifier "
                        f"needs at least two.")
    index = {n: i for i, n in enumerate(names)}
    t = np.asarray([index[k] for k in keys_kept], dtype=np.int64)
    return t, LabelSchema("multiclass", names, column=col)
