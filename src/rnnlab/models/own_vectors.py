"""Word vectors trained on your own texts with gensim (word2vec or fastText), cached by content.

The texts are tokenized exactly as the model's tokenizer splits them (``text.filters``,
``text.lower``, ``text.split``: :class:`~rnnlab.text.tokenizer.Tokenizer`), every word kept
(``text.num_words`` limits the model's table, not the context the vectors learn from). gensim
trains on that token stream with one worker, the config's seed and a deterministic ``hashfxn``
(:func:`stable_hash`; gensim's default, Python's ``hash``, is salted per process), so the same
texts and settings give byte-identical vectors in any process.

The result is a fastText ``.vec`` text file: a header line ``N D``, then one word and ``D``
numbers (``%.6g``) per line. word2vec writes the words seen at least ``min_count`` times;
fastText also writes every rarer word of the stream, with the vector its character n-grams
give (misspellings and obfuscations such as "stupidd" or "fuckk").

Cache: ``<cache>/vectors/<key>.vec`` and ``<key>.json`` (what was trained, the file's SHA-256),
with ``<cache>`` = ``data.cache_dir``, else ``$RNNLAB_CACHE_DIR``, else ``~/.cache/rnnlab``. The
key is the SHA-256 of the token stream (words and ids), every gensim argument, the gensim version
and :data:`FORMAT`. Both files are written atomically, the ``.json`` last; a second identical
request reads them (after checking the SHA-256) instead of training.

gensim is an optional extra (``pip install "rnnlab[vectors]"``), imported only here, inside
functions.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._io import atomic_path, sha256_file, write_json
from ..config import OwnVectorsConfig, TextConfig
from ..data.download import cache_folder
from ..errors import ConfigError, DataError
from ..text.sequences import Sequences
from ..text.tokenizer import Tokenizer

FORMAT = 1  # the file format and key recipe; a change makes earlier cache entries unused
MAX_WORDS = 10_000  # gensim's MAX_WORDS_IN_BATCH silently cuts longer sentences: they are split instead
FASTTEXT_DEFAULTS = {"min_n": 3, "max_n": 6, "bucket": 2_000_000}
NUMBER = "%.6g"
INSTALL = 'pip install "rnnlab[vectors]"'


def gensim_module():
    """The gensim package, or a one-line ConfigError naming the install command."""
    try:
        import gensim
    except ImportError:
        raise ConfigError("model.embedding.pretrained = {train = ...} trains word vectors with gensim, which is "
                          f"not installed. Install it with: {INSTALL}") from None
    return gensim


def stable_hash(text: str) -> int:
    """gensim's ``hashfxn``, the same in every process (CRC-32 of the UTF-8 text)."""
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


# ----------------------------------------------------------------------------------- the stream
@dataclass
class TokenStream:
    """The texts as the model's tokenizer splits them.

    Attributes:
        words: distinct words, most frequent first (ties: first appearance); id ``i`` is
            ``words[i - 1]``.
        counts: int64 array, the count of each word.
        ids: the token ids of every text.
    """

    words: list[str]
    counts: np.ndarray
    ids: Sequences

    @property
    def tokens(self) -> int:
        """Tokens in all texts."""
        return int(len(self.ids.flat))

    def digest(self) -> str:
        """SHA-256 of the exact stream: the word list and every text's ids."""
        h = hashlib.sha256()
        h.update(json.dumps(self.words, ensure_ascii=False).encode("utf-8", "surrogatepass"))
        h.update(self.ids.flat.astype("<i4").tobytes())
        h.update(self.ids.offsets.astype("<i8").tobytes())
        return h.hexdigest()

    def rare(self, min_count: int) -> list[str]:
        """The words seen fewer than ``min_count`` times (word2vec drops them), most frequent first."""
        return [w for w, c in zip(self.words, self.counts.tolist()) if c < min_count]


def token_stream(texts: list[str], text: TextConfig) -> TokenStream:
    """Split ``texts`` with the model's tokenizer settings (no ``num_words`` limit).

    Args:
        texts: the texts, in order.
        text: the config's ``[text]`` (``filters``, ``lower``, ``split``, ``char_level`` are used).

    Returns:
        The :class:`TokenStream`.
    """
    tok = Tokenizer(filters=text.filters, lower=text.lower, split=text.split, char_level=text.char_level)
    tok.fit_on_texts(texts)
    ids = tok.encode(texts)
    words = list(tok.word_index)
    counts = np.fromiter((tok.word_counts[w] for w in words), dtype=np.int64, count=len(words))
    return TokenStream(words, counts, ids)


class _Sentences:
    """The stream as gensim's restartable corpus: lists of words, at most :data:`MAX_WORDS` each."""

    def __init__(self, stream: TokenStream):
        self.words = np.array([""] + stream.words, dtype=object)
        self.ids = stream.ids

    def __iter__(self):
        flat, offsets = self.ids.flat, self.ids.offsets.tolist()
        for a, b in zip(offsets[:-1], offsets[1:]):
            for start in range(a, b, MAX_WORDS):
                yield self.words[flat[start:min(b, start + MAX_WORDS)]].tolist()


# ----------------------------------------------------------------------------------- training
def gensim_arguments(own: OwnVectorsConfig, dim: int, seed: int) -> dict:
    """The keyword arguments gensim's ``Word2Vec`` / ``FastText`` get (``hashfxn`` aside).

    Args:
        own: the table ``model.embedding.pretrained``.
        dim: the vector size.
        seed: the config's seed (gensim needs it below 2**32: it is taken modulo 2**32).

    Returns:
        gensim's names: ``vector_size``, ``window``, ``min_count``, ``epochs``, ``sg``,
        ``negative``, ``sample``, ``alpha``, ``min_alpha``, ``seed``, ``workers`` (always 1: more
        workers make the result depend on thread timing) and, for fastText, ``min_n``, ``max_n``
        and ``bucket``.
    """
    args = {"vector_size": dim, "window": own.window, "min_count": own.min_count, "epochs": own.epochs,
            "sg": int(own.sg), "negative": own.negative, "sample": own.sample, "alpha": own.alpha,
            "min_alpha": own.min_alpha, "seed": seed % 2**32, "workers": 1}
    if own.train == "fasttext":
        args.update({k: getattr(own, k) or v for k, v in FASTTEXT_DEFAULTS.items()})
    return args


def cache_key(stream: TokenStream, model: str, args: dict, gensim_version: str) -> str:
    """SHA-256 of everything the vectors depend on: the stream, the model, its arguments, gensim."""
    recipe = json.dumps({"format": FORMAT, "model": model, "arguments": args, "gensim": gensim_version,
                         "stream": stream.digest()}, sort_keys=True)
    return hashlib.sha256(recipe.encode("utf-8")).hexdigest()


@contextlib.contextmanager
def _quiet_gensim():
    """gensim's progress logging (and its small-corpus warnings) kept off the console."""
    logger = logging.getLogger("gensim")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def train_vectors(stream: TokenStream, model: str, args: dict) -> tuple[list[str], np.ndarray]:
    """Train word2vec or fastText on the stream.

    Args:
        stream: the tokenized texts.
        model: ``'word2vec'`` or ``'fasttext'``.
        args: :func:`gensim_arguments`.

    Returns:
        (words, float32 matrix): the trained vocabulary (most frequent first), then for fastText
        the rarer words of the stream with their n-gram vectors (words whose n-grams were never
        trained, a zero vector, are left out).

    Raises:
        DataError: no word occurs ``min_count`` times.
    """
    gensim_module()
    from gensim.models import FastText, Word2Vec

    if not any(c >= args["min_count"] for c in stream.counts.tolist()):
        raise DataError(f"No word occurs min_count = {args['min_count']} times in the {stream.tokens:,} tokens to "
                        "train word vectors on; lower model.embedding.pretrained.min_count or add corpus texts.")
    with _quiet_gensim():
        wv = (FastText if model == "fasttext" else Word2Vec)(sentences=_Sentences(stream), hashfxn=stable_hash,
                                                             **args).wv
    words, matrix = list(wv.index_to_key), np.asarray(wv.vectors, dtype=np.float32)
    if model == "fasttext":
        rare = [w for w in stream.rare(args["min_count"]) if w not in wv.key_to_index]
        if rare:
            extra = np.stack([wv.get_vector(w) for w in rare]).astype(np.float32)
            keep = np.flatnonzero(np.any(extra != 0, axis=1))
            words += [rare[i] for i in keep.tolist()]
            matrix = np.concatenate([matrix, extra[keep]])
    return words, matrix


# ----------------------------------------------------------------------------------- the file
def write_vec(path: str | os.PathLike, words: list[str], matrix: np.ndarray) -> None:
    """Write a fastText ``.vec`` text file atomically.

    Args:
        path: the file to write.
        words: the words, in order; none may contain a line break (see :func:`writable`).
        matrix: float32 (len(words), dim), one vector per word.
    """
    dim = matrix.shape[1]
    fmt = " ".join([NUMBER] * dim)
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        out.write(f"{len(words)} {dim}\n".encode())
        for start in range(0, len(words), 4096):
            lines = [f"{w} {fmt % tuple(v)}\n" for w, v in zip(words[start:start + 4096],
                                                                matrix[start:start + 4096].tolist())]
            out.write("".join(lines).encode("utf-8", "surrogatepass"))


def writable(words: list[str], matrix: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The words a line-based file can hold (no line break inside, possible with custom
    ``text.filters``) and their vectors."""
    rows = [i for i, w in enumerate(words) if "\n" not in w and "\r" not in w]
    if len(rows) == len(words):
        return words, matrix
    return [words[i] for i in rows], matrix[rows]


# ----------------------------------------------------------------------------------- cached training
@dataclass
class OwnVectors:
    """Trained (or cached) vectors and what makes them reproducible.

    Attributes:
        path: the ``.vec`` file in the cache.
        record: what ``metrics.json`` keeps under ``pretrained_vectors``: ``source``
            ('word2vec' / 'fasttext'), ``parameters`` (gensim's arguments), ``gensim`` (its
            version), ``cache_key``, ``sha256`` (of the file), ``texts`` (per source), ``tokens``,
            ``words`` (vectors written), ``from_ngrams`` (of them, fastText vectors of words
            below ``min_count``), ``train_seconds`` and ``reused`` (read from the cache).
        ngram_words: the words whose vector comes from character n-grams only.
    """

    path: Path
    record: dict
    ngram_words: set[str] = field(default_factory=set)

    def summary(self) -> str:
        """One line: what was trained, how big, and whether it came from the cache."""
        r = self.record
        ngrams = f" ({r['from_ngrams']:,} from character n-grams only)" if r["source"] == "fasttext" else ""
        how = (f"reused from the cache (trained in {r['train_seconds']:.1f}s)" if r["reused"]
               else f"trained in {r['train_seconds']:.1f}s")
        texts = sum(t["texts"] for t in r["texts"])
        return (f"{r['source']} vectors: {r['words']:,} words{ngrams}, dim {r['parameters']['vector_size']}, "
                f"{r['tokens']:,} tokens of {texts:,} texts; {how}; gensim {r['gensim']}, key {r['cache_key'][:12]}")


def own_vectors(texts: list[str], own: OwnVectorsConfig, *, dim: int, text: TextConfig, seed: int,
                sources: list[dict], cache_dir: str | os.PathLike | None = None) -> OwnVectors:
    """Train word vectors on ``texts`` with gensim, or read them from the cache.

    Args:
        texts: every text to learn from (the training split's, then the corpus's).
        own: the table ``model.embedding.pretrained``.
        dim: the vector size.
        text: the config's ``[text]``: the tokenizer settings.
        seed: the config's seed.
        sources: ``[{"from": ..., "texts": n}, ...]``, where ``texts`` came from (recorded).
        cache_dir: the cache folder; default None = ``$RNNLAB_CACHE_DIR`` or ``~/.cache/rnnlab``.

    Returns:
        The :class:`OwnVectors`.

    Raises:
        ConfigError: gensim is not installed.
        DataError: no word occurs ``min_count`` times.
    """
    gensim = gensim_module()
    stream = token_stream(texts, text)
    args = gensim_arguments(own, dim, seed)
    key = cache_key(stream, own.train, args, gensim.__version__)
    folder = cache_folder(cache_dir) / "vectors"
    path, meta_path = folder / f"{key}.vec", folder / f"{key}.json"
    meta = _cached(path, meta_path, key)
    if meta is None:
        meta = _train_into_cache(stream, own.train, args, key, gensim.__version__, path, meta_path)
    ngram_words = set(stream.rare(own.min_count)) if own.train == "fasttext" else set()
    record = {**{k: meta[k] for k in ("source", "parameters", "gensim", "cache_key", "sha256")}, "path": str(path),
              "reused": meta.get("reused", False), "texts": sources,
              **{k: meta[k] for k in ("tokens", "words", "from_ngrams", "train_seconds")}}
    return OwnVectors(path, record, ngram_words)


def _cached(path: Path, meta_path: Path, key: str) -> dict | None:
    """The record of a complete cache entry whose file still has its SHA-256, else None."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("cache_key") != key or not path.is_file() or sha256_file(path) != meta.get("sha256"):
        return None
    return {**meta, "reused": True}


def _train_into_cache(stream: TokenStream, model: str, args: dict, key: str, version: str, path: Path,
                      meta_path: Path) -> dict:
    """Train, write the ``.vec`` file then its record (both atomically); return the record."""
    t0 = time.perf_counter()
    words, matrix = writable(*train_vectors(stream, model, args))
    seconds = time.perf_counter() - t0
    write_vec(path, words, matrix)
    rare = set(stream.rare(args["min_count"])) if model == "fasttext" else set()
    meta = {"source": model, "parameters": args, "gensim": version, "cache_key": key, "sha256": sha256_file(path),
            "tokens": stream.tokens, "words": len(words), "from_ngrams": sum(w in rare for w in words),
            "train_seconds": round(seconds, 2)}
    write_json(meta_path, meta)
    return meta
