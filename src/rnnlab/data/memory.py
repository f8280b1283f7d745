"""Training data held in memory: a pandas DataFrame or a ``(texts, labels)`` pair given to
``rnnlab.train(config, data=...)`` and :class:`rnnlab.RNNClassifier`.

A table in memory is validated exactly as a file is (:func:`~.tables.load_table` with the
config's ``[data]`` keys): the same errors, notes, ids, labels and split. What a file's path
records, a reference records: the saved config's ``data.path`` becomes
``memory:DataFrame:sha256=<16 hex digits>`` (or ``memory:texts+labels:…``), and ``metrics.json``
holds the table's full sha256, rows and columns (``data``), so a run says which data it saw and
``rnnlab.train(resume=RUN, data=...)`` can check that it is given the same table again.

The checksum covers the column names and every cell in order, as JSON of the Python values
(``Series.tolist()``): the same table gives the same sha256 in any process or session, an
int column and a float column of the same numbers differ.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import MEMORY_PREFIX, Config
from ..errors import ConfigError, DataError, param_error

__all__ = ["MemoryTable", "attach_data", "frame_sha256", "is_memory_ref", "memory_table"]

DATAFRAME, PAIR = "DataFrame", "texts+labels"


def is_memory_ref(path: object) -> bool:
    """True when ``data.path`` names a table that was in memory (no file to read)."""
    return isinstance(path, str) and path.startswith(MEMORY_PREFIX)


def memory_ref_error(path: str) -> ConfigError:
    """The one line for a config whose ``data.path`` is a memory reference but no table is given."""
    return ConfigError(f"data.path = {path!r} names a table that was in memory when the run trained; there is no "
                       f"file to read. Pass the table again (rnnlab.train(config, data=frame)) or set data.path "
                       f"to a file.")


@dataclass(frozen=True)
class MemoryTable:
    """A training table in memory, ready for :func:`~.tables.load_table`.

    Args:
        frame: the rows (a copy of the user's table for pairs; the user's DataFrame itself
            otherwise, never changed).
        kind: 'DataFrame' or 'texts+labels'.
        sha256: hex sha256 of the content (:func:`frame_sha256`).
        text_column: the column of texts.
        label_columns: the label columns.
    """

    frame: pd.DataFrame
    kind: str
    sha256: str
    text_column: str
    label_columns: list[str]

    @property
    def ref(self) -> str:
        """What the saved config's ``data.path`` records: ``memory:<kind>:sha256=<16 hex>``."""
        return f"{MEMORY_PREFIX}{self.kind}:sha256={self.sha256[:16]}"

    @property
    def source(self) -> str:
        """How messages name the table (``'the DataFrame' row 3, column 'label': ...``)."""
        return "the DataFrame" if self.kind == DATAFRAME else "the (texts, labels) data"

    def record(self) -> dict:
        """What ``metrics.json`` records under ``data``."""
        return {"source": self.kind, "ref": self.ref, "rows": int(len(self.frame)),
                "columns": [str(c) for c in self.frame.columns], "sha256": self.sha256}

    def configure(self, cfg: Config) -> Config:
        """``cfg`` reading this table: ``data.path`` = :attr:`ref`, the text and label columns set."""
        return cfg.replace({"data.path": self.ref, "data.text_column": self.text_column,
                            "data.label_columns": list(self.label_columns)})


def frame_sha256(frame: pd.DataFrame) -> str:
    """Hex sha256 of a table's column names and cells (see the module docstring)."""
    h = hashlib.sha256()
    h.update(json.dumps([str(c) for c in frame.columns], ensure_ascii=False).encode("utf-8"))
    for column in frame.columns:
        cells = frame[column].tolist()
        h.update(b"\n")
        h.update(json.dumps(cells, ensure_ascii=False, default=_cell).encode("utf-8"))
    return h.hexdigest()


def _cell(value: object) -> object:
    """A cell JSON cannot write as it is (numpy arrays, timestamps, pd.NA)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return f"{type(value).__name__}:{value}"


def _texts(texts: object) -> list:
    if isinstance(texts, (str, bytes)):
        raise DataError("data = (texts, labels): texts is one string; pass a list of texts (one per row).")
    if isinstance(texts, pd.DataFrame):
        if texts.shape[1] != 1:
            raise DataError(f"data = (texts, labels): texts is a table of {texts.shape[1]} columns; pass one column "
                            f"of texts, or the whole DataFrame as data= with data.text_column and data.label_columns.")
        texts = texts.iloc[:, 0]
    arr = np.asarray(texts, dtype=object)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise DataError(f"data = (texts, labels): texts has shape {arr.shape}; pass a list of texts (one per row).")
    return arr.tolist()


def _labels(labels: object, n: int) -> np.ndarray:
    arr = np.asarray(labels.to_numpy() if isinstance(labels, (pd.Series, pd.DataFrame)) else labels)
    if arr.ndim == 0 or arr.ndim > 2:
        raise DataError(f"data = (texts, labels): labels has shape {arr.shape}; pass one label per text (a list) "
                        f"or an (n, k) array of 0/1 for k labels.")
    if len(arr) != n:
        raise DataError(f"data = (texts, labels): {n:,} texts but {len(arr):,} labels; pass one label (row) per "
                        f"text.")
    return arr


def memory_table(data: object, cfg: Config) -> MemoryTable:
    """The table ``data`` (a DataFrame or a ``(texts, labels)`` pair) with the columns ``cfg`` reads.

    A DataFrame is read with ``data.text_column`` (default 'text') and ``data.label_columns``
    (default ['label'] when the DataFrame has it). A pair becomes a table with the columns
    ``data.text_column`` (default 'text') and, for 1-D labels, ``data.label_columns`` (default
    ['label']); for (n, k) labels, k columns named by ``data.label_columns`` (default
    'label_0' … 'label_<k-1>').

    Raises:
        ConfigError: ``data.dataset`` is not 'table', or the label columns are not known.
        DataError: texts and labels that do not fit together.
    """
    d = cfg.data
    if d.dataset != "table":
        raise ConfigError(f"data= gives rnnlab.train a table in memory, but data.dataset = {d.dataset!r}; set "
                          f"data.dataset = 'table' (with data.text_column and data.label_columns) or pass a path.")
    text_column = d.text_column or "text"
    if isinstance(data, pd.DataFrame):
        if len(data) == 0:
            raise DataError("the DataFrame given as data= has no rows.")
        columns = [str(c) for c in data.columns]
        labels = list(d.label_columns) if d.label_columns else (["label"] if "label" in columns else None)
        if labels is None:
            raise ConfigError(f"data.label_columns is not set and the DataFrame has no column 'label' (columns: "
                              f"{', '.join(columns[:12])}); name the label column(s), e.g. "
                              f"--set data.label_columns=['spam'] or RNNClassifier(data__label_columns=['spam']).")
        frame = data if list(data.columns) == columns else data.rename(columns=str)
        return MemoryTable(frame, DATAFRAME, frame_sha256(frame), text_column, labels)
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise param_error("data", "a pandas DataFrame, a (texts, labels) pair or a path", _kind(data))
    texts = _texts(data[0])
    labels = _labels(data[1], len(texts))
    if len(texts) == 0:
        raise DataError("data = (texts, labels) has no rows.")
    k = 1 if labels.ndim == 1 else labels.shape[1]
    names = list(d.label_columns) if d.label_columns else (["label"] if labels.ndim == 1 else
                                                            [f"label_{j}" for j in range(k)])
    if len(names) != k:
        raise ConfigError(f"data.label_columns names {len(names)} labels but the labels have {k} column(s); name "
                          f"one per column.")
    if text_column in names:
        raise ConfigError(f"data.text_column {text_column!r} is also a label column; give them different names.")
    columns = {text_column: texts}
    if labels.ndim == 1:
        columns[names[0]] = labels.tolist()
    else:
        for j, name in enumerate(names):
            columns[name] = labels[:, j].tolist()
    frame = pd.DataFrame(columns)
    return MemoryTable(frame, PAIR, frame_sha256(frame), text_column, names)


def _kind(data: object) -> str:
    return f"a {type(data).__name__}" + (f" of {len(data)} items" if isinstance(data, (tuple, list)) else "")


def attach_data(cfg: Config, data: object) -> tuple[Config, MemoryTable | None]:
    """``cfg`` reading ``data``: a path sets ``data.path``; a DataFrame or a (texts, labels) pair
    becomes a :class:`MemoryTable` (``data.path`` its reference). None leaves ``cfg`` as it is.

    Returns:
        (the config, the table in memory or None).
    """
    if data is None:
        return cfg, None
    if isinstance(data, (str, os.PathLike)):
        return cfg.replace({"data.path": os.path.abspath(os.path.expanduser(Path(data)))}), None
    table = memory_table(data, cfg)
    return table.configure(cfg), table
