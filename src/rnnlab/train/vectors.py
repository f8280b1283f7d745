"""Word vectors trained on the config's own texts: ``model.embedding.pretrained = {train = ...}``
before ``rnnlab train`` builds the model, and ``rnnlab vectors CONFIG --out FILE``.

The texts are the training split's — read and split exactly as ``rnnlab train`` reads them, so
never a validation row — followed by the ``corpus`` entries' (unlabelled texts: Kaggle's
``test.csv``, IMDB's ``unsup`` reviews). :mod:`rnnlab.models.own_vectors` tokenizes them as the
model will, trains gensim and caches the result.
"""

from __future__ import annotations

import gzip
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .._io import atomic_path
from ..config import Config, is_own_vectors, load_vectors_config
from ..data import Splits, load_splits, source_for
from ..data.corpus import read_corpus, require_corpus
from ..errors import ConfigError
from ..models.own_vectors import OwnVectors, gensim_module, own_vectors


def require_own_vectors(cfg: Config) -> None:
    """Check, before any work, that the vectors can be trained: gensim installed, corpus present.

    Raises:
        ConfigError: gensim is missing (naming ``pip install "rnnlab[vectors]"``) or a corpus
            entry does not exist.
    """
    gensim_module()
    require_corpus(cfg.model.embedding.pretrained.corpus)


def vectors_for(cfg: Config, splits: Splits) -> OwnVectors:
    """Train (or reuse from the cache) the vectors ``model.embedding.pretrained`` asks for.

    Args:
        cfg: a config whose ``model.embedding.pretrained`` is the table that trains vectors.
        splits: the config's data, as :func:`rnnlab.data.load_splits` reads it.

    Returns:
        The :class:`~rnnlab.models.own_vectors.OwnVectors` (cache file and record).

    Raises:
        ConfigError: the data has no texts (Keras's ``imdb.npz`` holds token ids), or gensim is
            missing.
        DataError: an unreadable corpus file, or too few words.
    """
    own = cfg.model.embedding.pretrained
    train = splits.train.texts
    if train is None:
        raise ConfigError("model.embedding.pretrained = {train = ...} learns from texts, but this data holds token "
                          "ids (Keras imdb.npz); use the aclImdb folder, its tar.gz or a CSV of reviews.")
    texts, sources = list(train), [{"from": "training split", "texts": len(train)}]
    column = own.corpus_column or source_for(cfg.data.dataset).default_text_column(cfg.data)
    for path in own.corpus:
        corpus = read_corpus(path, column)
        texts += corpus
        sources.append({"from": path, "texts": len(corpus)})
    return own_vectors(texts, own, dim=own.dim or cfg.model.embedding.dim, text=cfg.text, seed=cfg.seed,
                       sources=sources, cache_dir=cfg.data.cache_dir)


@dataclass
class VectorsFile:
    """What ``rnnlab vectors`` wrote.

    Attributes:
        path: the file written.
        vectors: the trained (or cached) vectors.
        seconds: the whole command's time (data, tokenizing, training or cache, writing).
    """

    path: Path
    vectors: OwnVectors
    seconds: float

    def summary(self) -> str:
        """One line: words, dim, seconds, where written."""
        return f"{self.vectors.summary()}; {self.seconds:.1f}s in all; written to {self.path}"


def write_vectors(config: str | os.PathLike | None, out: str | os.PathLike,
                  overrides: list[str] | dict | None = None) -> VectorsFile:
    """Train word vectors on a config's training texts (+ corpus) and write them to ``out``.

    ``model.embedding.pretrained`` of the config gives the settings when it is the table form;
    otherwise (a file, a named source, nothing) word2vec with gensim's defaults is trained.
    ``--set model.embedding.pretrained.train=fasttext`` and the like change them.

    Args:
        config: the TOML config (or None: ``overrides`` alone).
        out: the vectors file to write: fastText ``.vec`` text (``N D`` header, then one word
            and its numbers per line), gzip-compressed when the name ends in ``.gz``. It is
            written under a temporary name and renamed when complete.
        overrides: ``--set`` style overrides; default None.

    Returns:
        The :class:`VectorsFile`; ``model.embedding.pretrained = "<out>"`` then loads it.

    Raises:
        ConfigError: an invalid config, ``fit.folds > 1`` (each fold trains on other rows),
            gensim missing or a corpus entry absent.
        DataError: unreadable data.
    """
    t0 = time.perf_counter()
    cfg = load_vectors_config(config, overrides)
    if not is_own_vectors(cfg.model.embedding.pretrained):  # pragma: no cover - load_vectors_config makes it one
        raise ConfigError("model.embedding.pretrained must be the table that trains vectors.")
    if cfg.fit.folds > 1 and cfg.data.fold is None:
        raise ConfigError(f"fit.folds = {cfg.fit.folds}: each fold trains on other rows, so one file cannot leave "
                          f"every fold's validation rows out. Use the inline form (each fold trains its own "
                          f"vectors) or pick a fold with --set data.fold=1.")
    require_own_vectors(cfg)
    vectors = vectors_for(cfg, load_splits(cfg))
    _copy(vectors.path, Path(out))
    return VectorsFile(Path(out), vectors, time.perf_counter() - t0)


def _copy(src: Path, dest: Path) -> None:
    """Copy the cached file to ``dest`` atomically, gzip-compressed (reproducibly) for ``.gz``."""
    with atomic_path(dest) as tmp, open(src, "rb") as fin, open(tmp, "wb") as raw:
        if dest.name.endswith(".gz"):
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
        else:
            shutil.copyfileobj(fin, raw, 1 << 20)
