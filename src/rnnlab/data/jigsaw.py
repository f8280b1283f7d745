"""Kaggle Jigsaw Toxic Comment Classification Challenge files, as Kaggle ships them.

``train.csv`` (id, comment_text, six 0/1 labels), ``test.csv`` (id, comment_text),
``test_labels.csv`` (id + six columns; -1 marks rows Kaggle did not score) and
``sample_submission.csv`` — each plain, ``.zip`` or ``.gz``. A folder holding them works too.
The metric is the mean of the six per-column ROC AUCs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from .dataset import LabelSchema, TextDataset
from .tables import load_table, read_frame, require_columns

LABELS = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
TEXT_COLUMN = "comment_text"
ID_COLUMN = "id"


def find_file(path: str | Path, stem: str) -> Path:
    """``path`` itself when it is a file, else ``stem``.csv / .csv.zip / .csv.gz inside the
    folder ``path``."""
    path = Path(path)
    if not path.is_dir():
        return path
    for suffix in (".csv", ".csv.zip", ".csv.gz", ".zip"):
        candidate = path / f"{stem}{suffix}"
        if candidate.exists():
            return candidate
    raise DataError(f"No {stem}.csv (or .csv.zip / .csv.gz) in the folder '{path}'. Point data.path at "
                    f"the Kaggle files (train.csv.zip, test.csv.zip, test_labels.csv.zip).")


def load_train(path: str | Path, *, label_columns: list[str] | None = None, text_column: str | None = None,
               empty_text: str = "keep") -> TextDataset:
    """A labelled file in ``train.csv``'s format; ``label_columns`` default: all six."""
    labels = label_columns or LABELS
    file = find_file(path, "train")
    frame = read_frame(file)
    missing = [c for c in labels if c not in frame.columns]
    if missing and len(missing) == len(labels):
        raise DataError(f"'{file}' has no label columns ({', '.join(labels)}); it looks like Kaggle's test.csv: "
                        f"pass its labels with --labels test_labels.csv.")
    return load_table(file, text_column=text_column or TEXT_COLUMN, label_columns=labels, id_column=ID_COLUMN,
                      task="multilabel" if len(labels) > 1 else "binary", empty_text=empty_text, frame=frame)


def load_test(path: str | Path, labels_path: str | Path | None = None, *, label_columns: list[str] | None = None,
              text_column: str | None = None) -> tuple[TextDataset, TextDataset | None]:
    """``test.csv`` (every row, unlabelled: for predictions and submissions) and, given
    ``test_labels.csv``, the scored rows with their labels (rows marked -1 are left out, as
    Kaggle did). Empty test texts are kept (Kaggle scores every id)."""
    labels = label_columns or LABELS
    test_file = find_file(path, "test")
    test = load_table(test_file, text_column=text_column or TEXT_COLUMN, label_columns=None,
                      id_column=ID_COLUMN, empty_text="keep")
    if labels_path is None:
        if Path(path).is_dir():
            try:
                labels_path = find_file(path, "test_labels")
            except DataError:
                return test, None
        else:
            return test, None
    lab_file = find_file(labels_path, "test_labels")
    frame = read_frame(lab_file)
    require_columns(frame, [ID_COLUMN, *labels], str(lab_file), "data.label_columns")
    values = frame[labels].apply(pd.to_numeric, errors="coerce")
    bad = ~values.isin([-1, 0, 1])
    if bad.to_numpy().any():
        r, c = np.argwhere(bad.to_numpy())[0]
        raise DataError(f"'{lab_file}' row {r + 1}, column '{labels[c]}': {frame[labels[c]].iloc[r]!r} is not "
                        f"-1, 0 or 1.")
    scored = ~(values == -1).any(axis=1).to_numpy()
    lab_ids = frame[ID_COLUMN].astype(str).to_numpy()
    uniq, counts = np.unique(lab_ids, return_counts=True)
    if (counts > 1).any():
        raise DataError(f"'{lab_file}': the id {uniq[counts > 1][0]!r} appears {counts.max()} times; ids must be "
                        f"unique.")
    pos = {i: k for k, i in enumerate(test.ids)}
    missing = [i for i in lab_ids if i not in pos]
    if missing:
        raise DataError(f"'{lab_file}' has {len(missing)} ids that are not in '{test_file}' (first: "
                        f"{missing[0]!r}). Use the test_labels file that belongs to this test file.")
    rows = np.asarray([pos[i] for i in lab_ids[scored]], dtype=np.int64)
    scored_ds = test.subset(rows)
    scored_ds.targets = values.to_numpy(dtype=np.float32)[scored]
    scored_ds.schema = LabelSchema("multilabel" if len(labels) > 1 else "binary", list(labels),
                                   column=labels[0] if len(labels) == 1 else None)
    scored_ds.notes.append(f"{int((~scored).sum()):,} of {len(frame):,} test rows are marked -1 (not scored) "
                           f"and left out")
    return test, scored_ds
