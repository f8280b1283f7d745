"""Row keys: 64-bit hashes that say whether two tables share rows, without keeping the rows.

A run keeps the keys of its training rows (``runs/files.py``: ``train_rows.safetensors``) so
``rnnlab evaluate`` can warn when it scores rows the model was trained on: by id when both
the training data and the scored data have an id column, else by the text. A key is the first
8 bytes of the BLAKE2b hash of the UTF-8 text (or id), read as a little-endian uint64; token-id
data (Keras imdb.npz) hashes each row's int32 ids. Two different texts share a key with
probability about n·m / 2**64 for n training and m scored rows (1e-9 for a million of each).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from .dataset import TextDataset

__all__ = ["HASH", "Overlap", "RowKeys", "id_keys", "overlap", "row_keys", "text_keys"]

HASH = "blake2b-64"


def _key(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def _keys(items) -> np.ndarray:
    return np.fromiter((_key(b) for b in items), dtype=np.uint64)


def text_keys(data: TextDataset) -> np.ndarray:
    """One uint64 key per row of ``data``: its text's hash (token ids' for token-id data)."""
    if data.texts is not None:
        return _keys(t.encode("utf-8", "surrogatepass") for t in data.texts)
    seqs = data.sequences
    return _keys(np.asarray(seqs[i], dtype="<i4").tobytes() for i in range(len(seqs)))


def id_keys(data: TextDataset) -> np.ndarray | None:
    """One uint64 key per row of ``data``: its id's hash; None when the ids are row numbers."""
    if data.id_column is None:
        return None
    return _keys(str(i).encode("utf-8", "surrogatepass") for i in data.ids)


@dataclass(frozen=True)
class RowKeys:
    """The keys of a set of rows, sorted and unique.

    Args:
        texts: text keys (uint64, sorted, unique).
        ids: id keys, or None when the rows had no id column.
        id_column: the id column's name, or None.
    """

    texts: np.ndarray
    ids: np.ndarray | None = None
    id_column: str | None = None

    def union(self, other: "RowKeys") -> "RowKeys":
        """The rows of both (ids only when both have them)."""
        ids = None if self.ids is None or other.ids is None else np.union1d(self.ids, other.ids)
        return RowKeys(np.union1d(self.texts, other.texts), ids, self.id_column if ids is not None else None)


def row_keys(data: TextDataset) -> RowKeys:
    """The :class:`RowKeys` of every row of ``data``."""
    ids = id_keys(data)
    return RowKeys(np.unique(text_keys(data)), None if ids is None else np.unique(ids), data.id_column)


@dataclass(frozen=True)
class Overlap:
    """How many rows of a scored table are training rows.

    Args:
        rows: scored rows found among the training rows.
        of: scored rows.
        by: 'id' or 'text'.
    """

    rows: int
    of: int
    by: str

    @property
    def fraction(self) -> float:
        return self.rows / self.of if self.of else 0.0

    def to_dict(self) -> dict:
        return {"checked": True, "by": self.by, "rows": self.rows, "of": self.of, "fraction": round(self.fraction, 6)}


def overlap(train: RowKeys, data: TextDataset) -> Overlap:
    """The rows of ``data`` that are among the training rows ``train``: by id when both have
    ids, else by text."""
    ids = id_keys(data) if train.ids is not None else None
    keys, known, by = (ids, train.ids, "id") if ids is not None else (text_keys(data), train.texts, "text")
    if len(known) == 0 or len(keys) == 0:
        return Overlap(0, len(keys), by)
    at = np.minimum(np.searchsorted(known, keys), len(known) - 1)
    return Overlap(int((known[at] == keys).sum()), len(keys), by)
