"""The interface every dataset source implements."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod

from ...config import Config, DataConfig
from ..dataset import TextDataset


class Source(ABC):
    """One kind of dataset (``data.dataset``).

    Attributes:
        name: the value of ``data.dataset``.
        title: how messages name the dataset.
        labels: the dataset's own label names when they are fixed (Jigsaw's six), else None.
        all_labels_needed: why training only some of ``labels`` is a mistake (the config doctor
            warns with it), or None when it is not.
        labels_file: True when :meth:`read` takes a separate labels file (``labels_path``).
    """

    name: str = ""
    title: str = ""
    labels: tuple[str, ...] | None = None
    all_labels_needed: str | None = None
    labels_file: bool = False

    @abstractmethod
    def load_train(self, cfg: Config) -> TextDataset:
        """The labelled training file of ``cfg`` (before any split)."""

    @abstractmethod
    def read(self, cfg: Config, path: str | os.PathLike, labelled: bool = True,
             labels_path: str | os.PathLike | None = None) -> TextDataset:
        """Another file read the way ``cfg`` reads data: labelled (evaluate, thresholds) or texts
        and ids only (predict, submission); ``labels_path`` is a separate file of labels (Kaggle's
        test_labels.csv) where the source has one."""

    def default_text_column(self, d: DataConfig) -> str:
        """The text column of files given to ``rnnlab predict``."""
        return d.text_column or "text"

    def label_count(self, d: DataConfig) -> int | None:
        """How many outputs the data needs, when the config alone tells; None when only the
        data does."""
        return None
