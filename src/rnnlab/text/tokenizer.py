"""A tokenizer with exactly the semantics of Keras 2's ``keras.preprocessing.text.Tokenizer``.

Keras's rules, reproduced here (and checked against outputs of the real Keras 2 Tokenizer in
``tests/fixtures/keras/tokenizer.json``):

- a text is lower-cased (``lower=True``), every character of ``filters`` is replaced by
  ``split``, the text is split on ``split`` (a single character, ' ' by default: tabs and
  newlines only separate words because they are in the default filters) and empty pieces
  are dropped;
- ``fit_on_texts`` counts words; the word index orders them by count, ties by first
  appearance, starting at 1 (0 is padding); an ``oov_token`` takes index 1;
- ``texts_to_sequences`` keeps a word only if its index is ``< num_words`` (so ``num_words``
  counts the padding index: ``num_words=500`` keeps 499 words); other and unknown words
  become the OOV index when there is an ``oov_token``, else they are dropped.

Sequences come back as one flat int32 array plus offsets (:class:`Sequences`).
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from ..errors import param_error
from .sequences import Sequences

KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


def text_to_word_sequence(text: str, filters: str = KERAS_FILTERS, lower: bool = True,
                          split: str = " ") -> list[str]:
    """Keras's ``text_to_word_sequence``: lower, map filters to ``split``, split, drop empties."""
    if lower:
        text = text.lower()
    if filters:
        text = text.translate(str.maketrans({c: split for c in filters}))
    return [w for w in text.split(split) if w]


class Tokenizer:
    """Keras 2 ``Tokenizer`` semantics (word level).

    Args:
        num_words: keep words with index < ``num_words``; default None = all words.
        filters: characters replaced by ``split``; default Keras's punctuation + tab + newline.
        lower: lower-case texts first; default True.
        split: the word separator, one character; default ' '.
        oov_token: a token for out-of-vocabulary words (index 1); default None = drop them.
        start_index: an index put in front of every sequence (Keras IMDB's ``start_char``);
            default None. Only used for vocabularies imported with :meth:`from_word_index`.
        oov_index: the OOV index for imported vocabularies (Keras IMDB's ``oov_char``).
        skip_top: with an imported vocabulary, indices below this also become OOV; default 0.
    """

    def __init__(self, num_words: int | None = None, filters: str = KERAS_FILTERS, lower: bool = True,
                 split: str = " ", oov_token: str | None = None, start_index: int | None = None,
                 oov_index: int | None = None, skip_top: int = 0):
        if num_words is not None and (not isinstance(num_words, (int, np.integer)) or isinstance(num_words, bool) or num_words < 1):
            raise param_error("text.num_words", "an int >= 1 or None", num_words)
        if not isinstance(split, str) or len(split) != 1:
            raise param_error("text.split", "a single character", split)
        self.num_words = num_words
        self.filters = filters
        self.lower = lower
        self.split = split
        self.oov_token = oov_token
        self.start_index = start_index
        self._oov_index = oov_index
        self.skip_top = skip_top
        self.word_counts: dict[str, int] = {}
        self.word_index: dict[str, int] = {}
        self.document_count = 0
        self._table = str.maketrans({c: split for c in filters}) if filters else None

    # -- fitting -----------------------------------------------------------------------------
    def _words(self, text: str) -> list[str]:
        if self.lower:
            text = text.lower()
        if self._table is not None:
            text = text.translate(self._table)
        return [w for w in text.split(self.split) if w]

    def fit_on_texts(self, texts: Iterable[str]) -> "Tokenizer":
        """Count the words of ``texts`` (adding to earlier counts) and rebuild the word index."""
        counts: Counter[str] = Counter(self.word_counts)
        n = 0
        for text in texts:
            counts.update(self._words(text))
            n += 1
        self.document_count += n
        self.word_counts = dict(counts)
        ranked = sorted(counts.items(), key=lambda kv: kv[1], reverse=True)  # stable: ties keep first appearance
        vocab = ([self.oov_token] if self.oov_token is not None else []) + [w for w, _ in ranked]
        self.word_index = dict(zip(vocab, range(1, len(vocab) + 1)))
        return self

    @classmethod
    def from_word_index(cls, word_index: dict[str, int], *, num_words: int | None = None,
                        start_index: int | None = None, oov_index: int | None = None,
                        skip_top: int = 0, **kwargs) -> "Tokenizer":
        """A tokenizer over a fixed vocabulary (e.g. Keras IMDB's word index shifted by
        ``index_from``): unknown words and indices outside ``[skip_top, num_words)`` map to
        ``oov_index`` (or are dropped when it is None)."""
        tok = cls(num_words=num_words, start_index=start_index, oov_index=oov_index, skip_top=skip_top, **kwargs)
        tok.word_index = dict(word_index)
        return tok

    # -- encoding ----------------------------------------------------------------------------
    @property
    def oov_index(self) -> int | None:
        """The index unknown words get, or None (they are dropped)."""
        if self._oov_index is not None:
            return self._oov_index
        return self.word_index.get(self.oov_token) if self.oov_token is not None else None

    @property
    def vocab_size(self) -> int:
        """Input dimension a model needs: ``num_words`` when set, else the largest index + 1."""
        biggest = max(self.word_index.values(), default=0)
        for extra in (self.start_index, self._oov_index):
            if extra is not None:
                biggest = max(biggest, extra)
        return self.num_words if self.num_words is not None else biggest + 1

    def encode(self, texts: Sequence[str], chunk: int = 20000) -> Sequences:
        """Token ids of every text, as flat int32 + offsets (the fast path)."""
        get = self.word_index.get
        oov = self.oov_index
        limit = self.num_words
        flats, lengths = [], []
        for start in range(0, len(texts), chunk):
            words_per_text = [self._words(t) for t in texts[start:start + chunk]]
            lens = np.fromiter(map(len, words_per_text), dtype=np.int64, count=len(words_per_text))
            words = list(itertools.chain.from_iterable(words_per_text))
            ids = np.fromiter(map(get, words, itertools.repeat(-1)), dtype=np.int64, count=len(words))
            bad = ids < self.skip_top  # unknown words are -1; skip_top is 0 unless imported
            if limit is not None:
                bad |= ids >= limit
            if bad.any():
                if oov is not None:
                    ids[bad] = oov
                else:
                    owner = np.repeat(np.arange(len(lens)), lens)
                    lens = lens - np.bincount(owner[bad], minlength=len(lens))
                    ids = ids[~bad]
            if self.start_index is not None:
                offs = np.concatenate([[0], np.cumsum(lens)])
                ids = np.insert(ids, offs[:-1], self.start_index)
                lens = lens + 1
            flats.append(ids.astype(np.int32))
            lengths.append(lens)
        lengths_all = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
        offsets = np.zeros(len(lengths_all) + 1, dtype=np.int64)
        np.cumsum(lengths_all, out=offsets[1:])
        flat = np.concatenate(flats) if flats else np.zeros(0, np.int32)
        return Sequences(flat, offsets)

    def texts_to_sequences(self, texts: Sequence[str]) -> list[list[int]]:
        """Keras API: token ids as lists of ints."""
        return self.encode(list(texts)).to_lists()

    # -- persistence -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-ready state. Only words the model can see are kept (index < num_words)."""
        limit = self.num_words
        words = {w: i for w, i in self.word_index.items() if limit is None or i < limit}
        return {
            "num_words": self.num_words, "filters": self.filters, "lower": self.lower,
            "split": self.split, "oov_token": self.oov_token, "start_index": self.start_index,
            "oov_index": self._oov_index, "skip_top": self.skip_top,
            "document_count": self.document_count,
            "vocabulary_size_fitted": len(self.word_index),
            "word_index": words,
            "word_counts": {w: self.word_counts[w] for w in words if w in self.word_counts},
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Tokenizer":
        tok = cls(num_words=d["num_words"], filters=d["filters"], lower=d["lower"], split=d["split"],
                  oov_token=d["oov_token"], start_index=d.get("start_index"),
                  oov_index=d.get("oov_index"), skip_top=d.get("skip_top", 0))
        tok.word_index = {w: int(i) for w, i in d["word_index"].items()}
        tok.word_counts = {w: int(c) for w, c in d.get("word_counts", {}).items()}
        tok.document_count = int(d.get("document_count", 0))
        return tok
