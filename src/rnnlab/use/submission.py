"""Kaggle submissions: exactly the sample's columns, in its order, every id once, no NaN.

The Jigsaw notebook's submission was rejected for writing ``Toxic`` instead of ``toxic``;
here the label names are checked against the sample before anything is written, and the
written file is checked again before it replaces the output.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from .._io import write_text
from ..data import load_for_run
from ..data.tables import read_frame
from ..errors import DataError
from ..runs import Run


def _read_sample(sample: str | Path) -> pd.DataFrame:
    frame = read_frame(sample)
    if frame.shape[1] < 2:
        raise DataError(f"'{sample}' has {frame.shape[1]} column(s); a sample submission has an id column and "
                        f"one column per label.")
    return frame


def check_submission(path: str | Path, sample: str | Path) -> int:
    """Validate a submission file against the sample: same columns in the same order, the same
    ids each exactly once, probabilities in [0, 1], no missing values. Returns the row count;
    raises DataError naming the first problem."""
    exp = _read_sample(sample)
    got = read_frame(path, "csv")
    if list(got.columns) != list(exp.columns):
        raise DataError(f"'{path}' has columns {list(got.columns)}; the sample has {list(exp.columns)} (same names, "
                        f"same order, case matters).")
    id_col = exp.columns[0]
    ids = got[id_col].astype(str)
    dup = ids[ids.duplicated()]
    if len(dup):
        raise DataError(f"'{path}': id {dup.iloc[0]!r} appears more than once.")
    missing = set(exp[id_col].astype(str)) - set(ids)
    extra = set(ids) - set(exp[id_col].astype(str))
    if missing or extra:
        what = f"{len(missing)} sample ids are missing (e.g. {sorted(missing)[0]!r})" if missing else \
            f"{len(extra)} ids are not in the sample (e.g. {sorted(extra)[0]!r})"
        raise DataError(f"'{path}': {what}.")
    values = got[exp.columns[1:]].apply(pd.to_numeric, errors="coerce")
    if values.isna().to_numpy().any():
        r, c = np.argwhere(values.isna().to_numpy())[0]
        raise DataError(f"'{path}' row {r + 1}, column '{exp.columns[1 + c]}': missing or non-numeric value.")
    if ((values < 0) | (values > 1)).to_numpy().any():
        raise DataError(f"'{path}': values outside [0, 1]; Kaggle expects probabilities.")
    return len(got)


def write_submission(run: Run, test: str | Path, sample: str | Path, out: str | Path,
                     batch_size: int = 1024, raw: bool = False) -> dict:
    """Predict ``test`` with ``run`` and write ``out`` in the exact format of ``sample``.

    Args:
        run: the trained run.
        test: Kaggle's test file (read the way the run reads data, unlabelled).
        sample: Kaggle's sample submission: its columns, order and ids are copied.
        out: the CSV to write (checked against ``sample`` before it replaces ``out``).
        batch_size: rows per forward pass; default 1024.
        raw: the network's own outputs, without the run's stored calibration; default False
            (calibrated). Kaggle's Jigsaw score (mean column-wise ROC AUC) is the same either way:
            a calibration keeps the order of every column's scores.

    Returns:
        {'path', 'rows', 'columns'}.

    Raises:
        DataError: the sample's label names differ from the run's, ids of the sample are
            missing from ``test``, or the model produced NaN/inf.
    """
    exp = _read_sample(sample)
    id_col, label_cols = exp.columns[0], list(exp.columns[1:])
    labels = run.labels
    if label_cols != labels:
        if sorted(label_cols) == sorted(labels):
            order = "in another order"
        else:
            lower = {label.lower(): label for label in labels}
            pairs = [f"'{c}' vs '{lower[c.lower()]}'" for c in label_cols if c not in labels and c.lower() in lower]
            order = "differently" + (f" ({', '.join(pairs)}: case matters)" if pairs else "")
        if sorted(label_cols) != sorted(labels):
            raise DataError(f"The sample '{sample}' expects the columns {', '.join(label_cols)}; the run predicts "
                            f"{', '.join(labels)} — named {order}. Train on the sample's label names.")
    data = load_for_run(run.config, test, labelled=False)
    pos = {i: k for k, i in enumerate(data.ids)}
    sample_ids = exp[id_col].astype(str).tolist()
    missing = [i for i in sample_ids if i not in pos]
    if missing:
        raise DataError(f"{len(missing)} ids of the sample '{sample}' are not in '{test}' (first: {missing[0]!r}); "
                        f"use the test file that belongs to this competition.")
    probs = run.predict(data, batch_size=batch_size, raw=raw)
    if not np.isfinite(probs).all():
        raise DataError(f"The model produced NaN/inf predictions; the run is broken (check its "
                        f"{run.folder.metrics.name}).")
    rows = np.asarray([pos[i] for i in sample_ids], dtype=np.int64)
    frame = pd.DataFrame({id_col: sample_ids})
    for col in label_cols:
        frame[col] = probs[rows, labels.index(col)]
    buf = io.StringIO()
    frame.to_csv(buf, index=False, float_format="%.6g")
    out = Path(out)
    staged = out.with_name(f".{out.name}.partial")
    try:
        write_text(staged, buf.getvalue())
        check_submission(staged, sample)
        staged.replace(out)
    finally:
        staged.unlink(missing_ok=True)
    return {"path": str(out), "rows": len(frame), "columns": list(frame.columns)}
