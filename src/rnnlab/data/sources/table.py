"""``dataset = "table"``: any CSV / TSV / JSONL / parquet file with a text column and label
columns named in the config."""

from __future__ import annotations

from ...config import Config, DataConfig
from ...errors import ConfigError
from ..memory import is_memory_ref, memory_ref_error
from ..tables import load_table
from .base import Source


def require_path(d: DataConfig) -> str:
    if d.path is None:
        raise ConfigError("data.path is not set: name the training file (e.g. --set data.path=train.csv).")
    if is_memory_ref(d.path):
        raise memory_ref_error(d.path)
    return d.path


class TableSource(Source):
    name, title = "table", "table"

    def load_train(self, cfg: Config):
        return self.read(cfg, require_path(cfg.data))

    def read(self, cfg: Config, path, labelled=True, labels_path=None, frame=None):
        """As :meth:`Source.read`; ``frame``: the table already in memory (``path`` then only
        names it in messages)."""
        d = cfg.data
        if not d.text_column:
            raise ConfigError("data.text_column is not set: name the column that holds the text.")
        if frame is None and is_memory_ref(str(path)):
            raise memory_ref_error(str(path))
        return load_table(path, text_column=d.text_column, label_columns=d.label_columns if labelled else None,
                          id_column=d.id_column, task=d.task, classes=d.classes, positive_class=d.positive_class,
                          empty_text=d.empty_text, fmt=d.format, frame=frame)

    def label_count(self, d: DataConfig) -> int | None:
        if d.label_columns and (len(d.label_columns) > 1 or d.task == "binary" or d.positive_class):
            return len(d.label_columns) if len(d.label_columns) > 1 else 1
        if d.classes:
            return len(d.classes)
        return None
