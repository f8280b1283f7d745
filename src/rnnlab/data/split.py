"""Seeded, stratified train/validation split (scikit-learn's ``train_test_split``) and k folds
(``StratifiedKFold``)."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from ..errors import ConfigError
from .dataset import TextDataset


def stratify_labels(ds: TextDataset, stratify: str) -> tuple[np.ndarray | None, str]:
    """The label vector to stratify on, and a description of the choice.

    'auto': the label (binary / multi-class); for multi-label data the RAREST label column
    (fewest positives), so the rare label is present on both sides in its true share.
    'none': no stratification. A label column name: that column."""
    if stratify == "none" or ds.targets is None or ds.schema is None:
        return None, "not stratified"
    schema = ds.schema
    if schema.task == "multiclass":
        if stratify not in ("auto", schema.column):
            raise ConfigError(f"data.stratify = {stratify!r}: a multi-class dataset stratifies on its label "
                              f"column {schema.column!r}; use 'auto' or 'none'.")
        return ds.targets, f"stratified on '{schema.column}'"
    if stratify == "auto":
        positives = ds.targets.sum(0)
        # the rarest label that occurs at all (a label with no positives cannot be stratified on)
        col = int(np.argmin(np.where(positives > 0, positives, np.inf))) if ds.targets.shape[1] > 1 else 0
    elif stratify in schema.labels:
        col = schema.labels.index(stratify)
    elif schema.task == "binary" and stratify == schema.column:  # positive_class: the label's source column
        col = 0
    else:
        raise ConfigError(f"The 'data.stratify' parameter must be 'auto', 'none' or one of the label columns "
                          f"({', '.join(schema.labels)}). Got {stratify!r} instead.")
    label = stratify if stratify == schema.column and stratify not in schema.labels else schema.labels[col]
    why = " (the rarest label)" if stratify == "auto" and ds.targets.shape[1] > 1 else ""
    return ds.targets[:, col].astype(np.int64), f"stratified on '{label}'{why}"


def split(ds: TextDataset, validation_split: float, seed: int, stratify: str = "auto"
          ) -> tuple[TextDataset, TextDataset, str]:
    """(train, validation, how) with ``validation_split`` of the rows held out."""
    n = len(ds)
    n_val = int(np.ceil(n * validation_split))
    if n_val < 1 or n - n_val < 1:
        raise ConfigError(f"data.validation_split = {validation_split} leaves an empty side with {n} rows; "
                          f"use more data or another split.")
    strat, how = stratify_labels(ds, stratify)
    index = np.arange(n)
    try:
        tr, va = train_test_split(index, test_size=validation_split, random_state=seed, stratify=strat)
    except ValueError:
        # a class too small to appear on both sides: fall back to a plain random split
        tr, va = train_test_split(index, test_size=validation_split, random_state=seed)
        how = "not stratified (a class has too few rows to stratify)"
    return ds.subset(np.sort(tr)), ds.subset(np.sort(va)), how


def fold(ds: TextDataset, k: int, i: int, seed: int, stratify: str = "auto") -> tuple[TextDataset, TextDataset, str]:
    """(train, validation, how) for fold ``i`` (1..k) of ``k`` shuffled, seeded, stratified
    folds: every row is validation in exactly one fold."""
    n = len(ds)
    if k > n:
        raise ConfigError(f"fit.folds = {k} needs at least {k} rows; the data has {n}.")
    strat, how = stratify_labels(ds, stratify)
    index = np.arange(n)
    if strat is not None and np.unique(strat, return_counts=True)[1].min() >= k:
        parts = list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(index, strat))
    else:
        parts = list(KFold(n_splits=k, shuffle=True, random_state=seed).split(index))
        how = "not stratified" if strat is None else "not stratified (a class has fewer rows than folds)"
    tr, va = parts[i - 1]
    return ds.subset(np.sort(tr)), ds.subset(np.sort(va)), how
