"""``dataset = "imdb"``: the IMDB reviews in any of their forms (:mod:`rnnlab.data.imdb`); the
training file may be absent (``$RNNLAB_IMDB`` or the official download)."""

from __future__ import annotations

from pathlib import Path

from ...config import Config, DataConfig
from .. import imdb
from .base import Source


class ImdbSource(Source):
    name, title = "imdb", "IMDB"
    labels = tuple(imdb.SCHEMA.labels)

    def load_train(self, cfg: Config):
        d = cfg.data
        return imdb.load_imdb(d.path, split="train", num_words=cfg.text.num_words, skip_top=d.imdb_skip_top,
                              maxlen=d.imdb_maxlen, cache_dir=d.cache_dir, download=d.download,
                              empty_text=d.empty_text)

    def read(self, cfg: Config, path, labelled=True, labels_path=None):
        d = cfg.data
        p = Path(path)
        # the aclImdb layout and imdb.npz hold both splits: use the held-out test split
        split = "test" if imdb.detect_source(p) in ("aclimdb", "keras") else "train"
        return imdb.load_imdb(p, split=split, num_words=cfg.text.num_words, skip_top=d.imdb_skip_top,
                              maxlen=d.imdb_maxlen, cache_dir=d.cache_dir, download=False, empty_text="keep")

    def label_count(self, d: DataConfig) -> int:
        return len(imdb.SCHEMA.labels)
