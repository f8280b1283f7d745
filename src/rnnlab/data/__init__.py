"""Data: read the configured dataset, validate it, split it.

``load_splits(config)`` gives the train / validation (/ test) sets a run trains on (from the
configured files, or from a table in memory: :mod:`.memory`);
``load_for_run(config, path)`` reads another file the way the run reads data (for evaluate,
predict and submission). What differs between datasets lives in :mod:`.sources`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config
from ..errors import ConfigError
from .._io import sha256_file
from .dataset import LabelSchema, TextDataset
from .memory import MemoryTable, attach_data, is_memory_ref
from .sources import SOURCES, Source, source_for
from .split import fold, split
from .tables import load_table

__all__ = ["SOURCES", "LabelSchema", "MemoryTable", "Source", "Splits", "TextDataset", "attach_data", "load_for_run",
           "load_splits", "load_table", "source_for"]


@dataclass
class Splits:
    train: TextDataset
    validation: TextDataset
    test: TextDataset | None = None  # unlabelled test texts (tokenizer fitting / submissions)
    notes: list[str] = field(default_factory=list)
    origin: dict = field(default_factory=dict)  # where the rows came from and their sha256 (metrics.json "data")


def load_splits(cfg: Config, table: MemoryTable | None = None) -> Splits:
    """Load, validate and split the configured data (seeded by ``data.split_seed``, else ``seed``).

    Args:
        cfg: the config; its ``[data]`` names the dataset, the files and the split.
        table: the training table in memory (:func:`~.memory.attach_data`), read instead of
            ``data.path``; default None.

    Returns:
        The train and validation sets (a split, a fold of ``fit.folds``, or
        ``data.validation_path``), the unlabelled test texts when ``data.test_path`` is set,
        and notes on what the loaders did.

    Raises:
        ConfigError: a missing setting, or a validation file with other labels.
        DataError: an unreadable or invalid file (names the file, row and column).
    """
    d = cfg.data
    if table is not None:
        main = SOURCES["table"].read(cfg, table.source, frame=table.frame)
        origin = table.record()
    else:
        main = source_for(d.dataset).load_train(cfg)
        origin = _file_origin(d.path, d.dataset)
    notes = list(main.notes)
    if d.validation_path:
        train = main
        validation = load_for_run(cfg, d.validation_path)
        if validation.schema != train.schema:
            raise ConfigError(f"The validation file '{d.validation_path}' has labels {validation.schema.labels}, "
                              f"the training file {train.schema.labels}; they must match.")
        notes.append(f"validation from {d.validation_path}")
    elif d.fold is not None:
        seed = cfg.seed if d.split_seed is None else d.split_seed
        train, validation, how = fold(main, cfg.fit.folds, d.fold, seed, d.stratify)
        notes.append(f"fold {d.fold} of {cfg.fit.folds} ({len(main):,} rows, seed {seed}, {how})")
    else:
        seed = cfg.seed if d.split_seed is None else d.split_seed
        train, validation, how = split(main, d.validation_split, seed, d.stratify)
        notes.append(f"validation split {d.validation_split:g} of {len(main):,} rows, seed {seed}, {how}")
    test = None
    if d.test_path:
        test = load_for_run(cfg, d.test_path, labelled=False)
    return Splits(train, validation, test, notes, origin)


def _file_origin(path: str | None, dataset: str) -> dict:
    """What metrics.json records about a training file: its path and, for one file, its sha256."""
    if path is None or is_memory_ref(path):
        return {"source": dataset}
    p = Path(path)
    return {"source": str(p), "sha256": sha256_file(p)} if p.is_file() else {"source": str(p)}


def load_for_run(cfg: Config, path: str | Path, labelled: bool = True, labels_path: str | Path | None = None
                 ) -> TextDataset:
    """Read a file the way this config reads data.

    Args:
        cfg: the run's config.
        path: the file (or folder, for datasets that come as folders).
        labelled: default True; False reads texts (and ids) only.
        labels_path: a separate labels file (Kaggle's test_labels.csv for a Jigsaw test.csv)
            giving the scored rows; default None.

    Returns:
        The rows as a :class:`TextDataset`.

    Raises:
        ConfigError: ``labels_path`` for a dataset that has no separate labels file.
    """
    source = source_for(cfg.data.dataset)
    if labels_path is not None and not source.labels_file:
        raise ConfigError(f"--labels '{labels_path}': a separate labels file is read only for a Jigsaw test.csv "
                          f"(Kaggle's test_labels.csv); this run's data.dataset is '{source.name}', whose labels "
                          f"are columns of the data file itself. Drop --labels.")
    return source.read(cfg, path, labelled, labels_path)
