"""``dataset = "jigsaw"``: Kaggle's Toxic Comment Classification files (:mod:`rnnlab.data.jigsaw`)."""

from __future__ import annotations

from pathlib import Path

from ...config import Config, DataConfig
from .. import jigsaw
from ..tables import load_table
from .base import Source
from .table import require_path


class JigsawSource(Source):
    name, title = "jigsaw", "Jigsaw"
    labels = tuple(jigsaw.LABELS)
    all_labels_needed = "Kaggle's submission needs all six columns and scores the mean ROC AUC over them"
    labels_file = True

    def load_train(self, cfg: Config):
        return self.read(cfg, require_path(cfg.data))

    def read(self, cfg: Config, path, labelled=True, labels_path=None):
        d = cfg.data
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

    def default_text_column(self, d: DataConfig) -> str:
        return d.text_column or jigsaw.TEXT_COLUMN

    def label_count(self, d: DataConfig) -> int:
        return len(d.label_columns) if d.label_columns else len(jigsaw.LABELS)
