"""``rnnlab evaluate RUN DATA``: a trained run's metrics on a labelled file, with a warning when
the file holds rows the model was trained on.

The run folder keeps 64-bit keys of its training rows (``train_rows.safetensors``,
:mod:`rnnlab.data.rows`); the scored rows are matched by id when both have an id column, else
by text. Ensembles (blends, k-fold runs) use the union of their members' training rows. A run
written before the keys were kept cannot be checked: the result says so, and nothing fails.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..data import TextDataset, load_for_run
from ..data.rows import Overlap, RowKeys, overlap
from ..runs import Run, read_train_rows

__all__ = ["Evaluation", "evaluate_file", "overlap_line", "training_overlap", "training_rows"]


def training_rows(run: Run) -> RowKeys | None:
    """The keys of the rows ``run`` was trained on; an ensemble's: the union of its members'.
    None when the run (or a member) does not record them (trained before rnnlab kept them)."""
    keys = read_train_rows(run.folder)
    if keys is not None or not run.is_ensemble:
        return keys
    union = None
    for member in run.members:
        part = training_rows(member)
        if part is None:
            return None
        union = part if union is None else union.union(part)
    return union


def training_overlap(run: Run, data: TextDataset) -> Overlap | None:
    """How many rows of ``data`` ``run`` was trained on; None when the run cannot tell."""
    keys = training_rows(run)
    return None if keys is None else overlap(keys, data)


def overlap_line(found: Overlap | None, run: Run) -> str | None:
    """The one line ``rnnlab evaluate`` prints about training rows, or None when there are none."""
    if found is None:
        return (f"note: '{run.dir}' does not record its training rows (trained before rnnlab kept them); "
                f"cannot check whether these rows were used for training.")
    if found.rows == 0:
        return None
    same = "same id" if found.by == "id" else "same text"
    return (f"warning: {found.rows:,} of {found.of:,} rows ({found.fraction:.1%}) are training rows of this run "
            f"({same}); these metrics overstate how it does on new data. Evaluate on rows it was not trained on.")


@dataclass
class Evaluation:
    """What :func:`evaluate_file` found.

    Attributes:
        run: the run.
        data: the scored rows.
        metrics: the metrics JSON: ``loss``, ``accuracy``, ``auc``, ``ece``… (:meth:`Run.scored`), ``data``
            (the file), ``training_overlap`` (``checked``; with ``by``, ``rows``, ``of`` and
            ``fraction`` when checked) and ``overlaps_training`` (true, false, or null when the run
            cannot tell).
        lines: the notes and warning to print before the table.
        outputs: the model's outputs on ``data`` (probabilities, calibrated when the run is).
    """

    run: Run
    data: TextDataset
    metrics: dict
    lines: list[str] = field(default_factory=list)
    outputs: object = None


def evaluate_file(run: str | os.PathLike | Run, data: str | os.PathLike, labels: str | os.PathLike | None = None,
                  batch_size: int = 1024) -> Evaluation:
    """Score a labelled file with a run and check it against the run's training rows.

    Args:
        run: the run folder (or a loaded :class:`~rnnlab.runs.Run`).
        data: the labelled file, read as the run reads data.
        labels: Kaggle's test_labels.csv for a Jigsaw test.csv; default None.
        batch_size: rows per forward pass; default 1024.

    Returns:
        The :class:`Evaluation`.

    Raises:
        RunError: not a finished run folder, or data with other labels.
        DataError: an unreadable or invalid file.
    """
    r = run if isinstance(run, Run) else Run.load(run)
    ds = load_for_run(r.config, data, labelled=True, labels_path=labels)
    m, outputs = r.scored(ds, batch_size=batch_size)
    m["data"] = str(data)
    found = training_overlap(r, ds)
    m["training_overlap"] = found.to_dict() if found is not None else {"checked": False}
    m["overlaps_training"] = None if found is None else found.rows > 0
    lines = [f"note: {note}" for note in ds.notes]
    line = overlap_line(found, r)
    if line is not None:
        lines.append(line)
    return Evaluation(r, ds, m, lines, outputs)
