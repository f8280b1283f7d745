"""Data: read the configured dataset, validate it, split it.

``load_splits(config)`` gives the train / validation (/ test) sets a run trains on;
``load_for_run(config, path)`` reads another file the way the run reads data (for evaluate,
predict and submission).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config, DataConfig
from ..errors import ConfigError
from . import jigsaw
from .dataset import LabelSchema, TextDataset
from .split import fold, split
from .tables import load_table

__all__ = ["LabelSchema", "Splits", "TextDataset", "load_for_run", "load_splits", "load_table"]


@dataclass
class Splits:
    train: TextDataset
    validation: TextDataset
    test: TextDataset | None = None  # unlabelled test texts (tokenizer fitting / submissions)
    notes: list[str] = field(default_factory=list)


def _load_main(d: DataConfig, cfg: Config) -> TextDataset:
    if d.dataset == "imdb":
        from .imdb import load_imdb

        return load_imdb(d.path, split="train", num_words=cfg.text.num_words, skip_top=d.imdb_skip_top,
                         maxlen=d.imdb_maxlen, cache_dir=d.cache_dir, download=d.download,
                         empty_text=d.empty_text)
    if d.path is None:
        raise ConfigError("data.path is not set: name the training file (e.g. --set data.path=train.csv).")
    if d.dataset == "jigsaw":
        return jigsaw.load_train(d.path, label_columns=d.label_columns, text_column=d.text_column,
                                 empty_text=d.empty_text)
    return _table(d, d.path)


def _table(d: DataConfig, path, labelled: bool = True) -> TextDataset:
    if not d.text_column:
        raise ConfigError("data.text_column is not set: name the column that holds the text.")
    return load_table(path, text_column=d.text_column, label_columns=d.label_columns if labelled else None,
                      id_column=d.id_column, task=d.task, classes=d.classes, positive_class=d.positive_class,
                      empty_text=d.empty_text, fmt=d.format)


def load_splits(cfg: Config) -> Splits:
    """Load, validate and split the configured data (seeded by ``cfg.seed``)."""
    d = cfg.data
    main = _load_main(d, cfg)
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
    return Splits(train, validation, test, notes)


def load_for_run(cfg: Config, path: str | Path, labelled: bool = True, labels_path: str | Path | None = None
                 ) -> TextDataset:
    """Read a file the way this config reads data. ``labelled=False`` reads texts (and ids)
    only. For Jigsaw test files, ``labels_path`` (test_labels.csv) gives the scored rows."""
    d = cfg.data
    if d.dataset == "jigsaw":
        p = Path(path)
        if labels_path is not None:  # Kaggle's test.csv + test_labels.csv
            test, scored = jigsaw.load_test(p, labels_path, label_columns=d.label_columns, text_column=d.text_column)
            return scored if labelled else test
        if labelled:
            return jigsaw.load_train(p, label_columns=d.label_columns, text_column=d.text_column,
                                     empty_text=d.empty_text)
        file = jigsaw.find_file(p, "test") if p.is_dir() else p
        return load_table(file, text_column=d.text_column or jigsaw.TEXT_COLUMN, label_columns=None,
                          id_column=jigsaw.ID_COLUMN, empty_text="keep")
    if d.dataset == "imdb":
        from .imdb import detect_source, load_imdb

        p = Path(path)
        # the aclImdb layout and imdb.npz hold both splits: use the held-out test split
        split_name = "test" if detect_source(p) in ("aclimdb", "keras") else "train"
        return load_imdb(p, split=split_name, num_words=cfg.text.num_words, skip_top=d.imdb_skip_top,
                         maxlen=d.imdb_maxlen, cache_dir=d.cache_dir, download=False, empty_text="keep")
    return _table(d, path, labelled=labelled)
