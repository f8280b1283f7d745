"""The in-memory form every loader returns: texts (or token ids), labels, ids and a label schema."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..text.sequences import Sequences

Task = Literal["binary", "multilabel", "multiclass"]


@dataclass(frozen=True)
class LabelSchema:
    """What the labels mean.

    - ``binary``: one 0/1 column; ``labels == [column]``; targets shape (n, 1) float32.
    - ``multilabel``: several 0/1 columns; ``labels`` = the columns; targets (n, k) float32.
    - ``multiclass``: one column with K values; ``labels`` = the K class names (as strings, in
      sorted order of the original values); targets (n,) int64 class indices.
    """

    task: Task
    labels: list[str]
    column: str | None = None  # the source column for binary/multiclass

    @property
    def n_outputs(self) -> int:
        return len(self.labels)

    def to_dict(self) -> dict:
        return {"task": self.task, "labels": list(self.labels), "column": self.column}

    @classmethod
    def from_dict(cls, d: dict) -> "LabelSchema":
        return cls(task=d["task"], labels=list(d["labels"]), column=d.get("column"))


@dataclass
class TextDataset:
    """One table of examples.

    Exactly one of ``texts`` / ``sequences`` is set: ``sequences`` only for data that ships as
    token ids (the Keras ``imdb.npz``), with ``word_index`` the vocabulary those ids refer to.
    ``targets`` is None for unlabelled data (e.g. a Kaggle test file).
    """

    ids: np.ndarray  # object array of str, unique
    texts: list[str] | None
    targets: np.ndarray | None
    schema: LabelSchema | None
    source: str  # where the rows came from, for messages
    sequences: Sequences | None = None
    word_index: dict[str, int] | None = None
    notes: list[str] = field(default_factory=list)  # what the loader did (e.g. "dropped 3 empty texts")
    id_column: str | None = None  # the column the ids came from; None: made up (row numbers)

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, index: np.ndarray) -> "TextDataset":
        """The rows in ``index`` (a new object; arrays are copied)."""
        index = np.asarray(index, dtype=np.int64)
        return TextDataset(
            ids=self.ids[index],
            texts=None if self.texts is None else [self.texts[i] for i in index],
            targets=None if self.targets is None else self.targets[index],
            schema=self.schema,
            source=self.source,
            sequences=None if self.sequences is None else self.sequences.take(index),
            word_index=self.word_index,
            notes=list(self.notes),
            id_column=self.id_column,
        )
