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

Two engines compute exactly the same words (tests/text/test_tokenizer.py checks one against
the other on tricky and random texts):

- ``"vectorized"`` (the default for 32 texts or more, and for encoding any number of texts
  with the compiled counter): texts are joined with the split
  character and encoded to UTF-8 once per ~8 MB chunk; one 256-entry byte table does the
  ASCII lower-casing and maps every filter character to the split byte (texts with non-ASCII
  characters are lower-cased by Python's ``str.lower`` first, so Unicode rules stay Python's);
  each text (with one separator byte) is an element of an Arrow string array over the mapped
  bytes, split in one compiled pass by Arrow's ``ascii_split_whitespace`` (separators become
  ' '; word bytes Arrow would take for whitespace travel as 0xF8-0xFD, which UTF-8 never holds,
  and are put back in the distinct words), and the words are counted / looked up with Arrow's
  hash kernel
  (``dictionary_encode``: uniques in first-appearance order, as Keras's ``OrderedDict``).
  Chunks run on a thread pool (NumPy and Arrow release the GIL). Where a C compiler is at hand
  (``rnnlab._cc``; not with ``RNNLAB_COMPILE=off``) the split and count are instead one pass of
  ``split_count.c`` per chunk into one hash table for all chunks (word numbers are global, no
  merge), while a second thread maps the next chunk's bytes. ``fit_on_texts`` keeps the
  split words of its texts (4 bytes per word) until the next ``encode``: encoding the very same
  texts (the same string objects, the usual fit-then-transform) only looks them up, in the
  word index itself. Encoding other texts with the compiled counter feeds the word index once
  into a counter of its own and looks every text's words up there in one C pass per chunk
  (:class:`_VocabTable`; for any number of texts, since it has no fixed cost per call). It needs
  ASCII ``filters``
  and ``split``; otherwise, and for texts that are not valid UTF-8 (lone surrogates), the
  reference engine runs;
- ``"python"``: the reference, Keras's own algorithm (``lower``, ``str.translate``,
  ``str.split``, a ``Counter``).

With ``char_level=True`` (Keras's option) every character of the (lower-cased) text is a token,
spaces included, and ``filters`` and ``split`` do not apply, as in Keras; only the Python
engine runs then (counting is ``Counter`` over each string, in C).
"""

from __future__ import annotations

import ctypes
import itertools
import operator
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .._cc import enabled, load
from ..config.choices import KERAS_FILTERS
from ..errors import param_error
from .sequences import Sequences


def text_to_word_sequence(text: str, filters: str = KERAS_FILTERS, lower: bool = True,
                          split: str = " ") -> list[str]:
    """Keras's ``text_to_word_sequence``: lower, map filters to ``split``, split, drop empties."""
    if lower:
        text = text.lower()
    if filters:
        text = text.translate(str.maketrans({c: split for c in filters}))
    return [w for w in text.split(split) if w]


ENGINES = ("auto", "vectorized", "python")
CHUNK_BYTES = 1 << 23  # text per chunk of the vectorized engine (~8 MB): bounds its working memory
AUTO_MIN_TEXTS = 32  # below this, "auto" uses the Python engine (less fixed overhead)


class _Splitter:
    """The vectorized engine for one (filters, lower, split): words of many texts at once."""

    def __init__(self, filters: str, lower: bool, split: str):
        self.lower, self.split, self.sep = lower, split, ord(split)
        low = np.arange(256, dtype=np.uint8)
        if lower:
            low[ord("A"):ord("Z") + 1] += 32
        fmap = np.arange(256, dtype=np.uint8)
        for c in filters or "":
            fmap[ord(c)] = self.sep
        self.lut = fmap[low]  # filters apply after lower-casing, as in Keras
        # Arrow splits on ASCII whitespace (bytes 9-13 and 32): separators become ' ', word bytes
        # that Arrow would take for whitespace become bytes that UTF-8 never holds (0xF8-0xFD),
        # put back in the distinct words only (``restore``)
        arrow = self.lut.copy()
        is_sep = arrow == self.sep
        restore = np.arange(256, dtype=np.uint8)
        for k, b in enumerate((9, 10, 11, 12, 13, 32)):
            hit = ~is_sep & (arrow == b)
            arrow[hit] = 0xF8 + k
            restore[0xF8 + k] = b
        arrow[is_sep] = 32
        self.arrow_lut = arrow
        self.restore = restore if (restore != np.arange(256)).any() else None

    @staticmethod
    def supports(filters: str, split: str) -> bool:
        return split.isascii() and (not filters or (isinstance(filters, str) and filters.isascii()))

    def _mapped(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(the texts' UTF-8 bytes through the byte table, each text followed by one separator
        (byte 32), the byte where each text starts, plus the end). Raises UnicodeEncodeError for
        texts that are not valid UTF-8 (lone surrogates) and TypeError for items that are not strings."""
        ascii_ = np.fromiter(map(str.isascii, texts), dtype=bool, count=len(texts))
        non_ascii = np.flatnonzero(~ascii_).tolist()
        if self.lower and non_ascii:  # Python's Unicode lower-casing; ASCII goes through the table
            texts = list(texts)
            for i in non_ascii:
                texts[i] = texts[i].lower()
        split = self.split
        joined = split.join(texts) + split  # every text ends with one separator
        data = np.frombuffer(joined.encode("utf-8"), dtype=np.uint8)
        nbytes = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        for i in non_ascii:
            nbytes[i] = len(texts[i].encode("utf-8"))
        bounds = np.empty(len(texts) + 1, dtype=np.int64)  # byte where text i starts
        bounds[0] = 0
        np.cumsum(nbytes + 1, out=bounds[1:])
        mapped = self.arrow_lut[data]
        mapped[bounds[1:] - 1] = 32  # the joints separate even when the table lower-cases the split character
        return mapped, bounds

    def words(self, texts: list[str]):
        """(words as an Arrow string array with the empty string marking text edges, words per
        text as int64). Raises UnicodeEncodeError for texts that are not valid UTF-8 (lone
        surrogates) and TypeError for items that are not strings.

        Every text, followed by one separator byte, is one element of an Arrow string array
        over the mapped bytes; Arrow's ``ascii_split_whitespace`` splits them all in one
        compiled pass (runs of separators count once; each list ends with one empty string and
        starts with one when its text starts with a separator)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        mapped, bounds = self._mapped(texts)
        if bounds[-1] < 2**31:
            elements = pa.StringArray.from_buffers(len(texts), pa.py_buffer(bounds.astype(np.int32)),
                                                   pa.py_buffer(mapped))
        else:  # pragma: no cover - chunks hold ~8 MB
            elements = pa.LargeStringArray.from_buffers(len(texts), pa.py_buffer(bounds), pa.py_buffer(mapped))
        lists = pc.ascii_split_whitespace(elements)
        offsets = lists.offsets.to_numpy(zero_copy_only=False)
        edges = 1 + (mapped[bounds[:-1]] == 32)  # empty strings in each list (trailing, leading)
        counts = np.diff(offsets) - edges
        return lists.values, counts

    def unique_words(self, texts: list[str]):
        """(distinct words in first-appearance order, index of every word in them, words per
        text): Arrow's ``ascii_split_whitespace`` and ``dictionary_encode``."""
        import pyarrow as pa
        import pyarrow.compute as pc

        words, counts = self.words(texts)
        enc = pc.dictionary_encode(words)
        idx = enc.indices.to_numpy(zero_copy_only=False)
        uniq = enc.dictionary
        empty = pc.index(uniq, "").as_py()  # there for any text: its list ends with ""
        if empty >= 0:
            idx = idx[idx != empty]
            idx[idx > empty] -= 1
            uniq = pa.concat_arrays([uniq.slice(0, empty), uniq.slice(empty + 1)])
        if self.restore is not None:  # placeholders back to the word bytes they stand for
            uniq = self._restore(uniq)
        return uniq, idx, counts

    def _restore(self, uniq):
        import pyarrow as pa

        uniq = uniq.cast(pa.large_string()) if uniq.type != pa.large_string() else uniq
        _, offs_buf, data_buf = uniq.buffers()
        offs = np.frombuffer(offs_buf, dtype=np.int64)[uniq.offset:uniq.offset + len(uniq) + 1]
        data = np.frombuffer(data_buf, dtype=np.uint8)[offs[0]:offs[-1]] if data_buf is not None else \
            np.zeros(0, np.uint8)
        return pa.LargeStringArray.from_buffers(len(uniq), pa.py_buffer(offs - offs[0]),
                                                pa.py_buffer(self.restore[data]))


_native: dict = {}


def _split_count():
    """The compiled word counter (``split_count.c``), or None: no C compiler, a failed build, or
    ``RNNLAB_COMPILE=off`` (the Arrow path runs then)."""
    if not enabled():
        return None
    return load(_native, Path(__file__).with_name("split_count.c"), "text", _declare_counter)


def _declare_counter(dll: ctypes.CDLL) -> None:
    p, n = ctypes.c_void_p, ctypes.c_long
    dll.counter_new.argtypes, dll.counter_new.restype = [], p
    dll.counter_free.argtypes, dll.counter_free.restype = [p], None
    dll.counter_feed.argtypes, dll.counter_feed.restype = [p, p, p, n, ctypes.c_uint8, p, p], n
    dll.counter_size.argtypes = dll.counter_nbytes.argtypes = [p]
    dll.counter_size.restype = dll.counter_nbytes.restype = n
    dll.counter_export.argtypes, dll.counter_export.restype = [p, p, p], None
    dll.counter_lookup.argtypes, dll.counter_lookup.restype = [p, p, p, n, ctypes.c_uint8, p, p], n


_CACHES = ("_memo", "_table_cache", "_lookup_cache", "_splitter_cache")  # rebuilt on use, never pickled
_WHITESPACE = (9, 10, 11, 12, 13, 32)  # the bytes _Splitter carries inside words as 0xF8-0xFD


class _VocabTable:
    """A word index in the compiled counter, for :meth:`Tokenizer.encode`: the vocabulary's
    words are fed as one chunk, so counter word k is ``words[k]`` with index ``ids[k]``.

    A vocabulary word is stored as texts' words arrive from :meth:`_Splitter._mapped`: its
    whitespace bytes as the placeholders, nothing lower-cased or filtered; a word a text can
    never produce (upper case under ``lower``, a filter or split character) is stored as it is
    and so is never found, as in the reference engine."""

    def __init__(self, lib, word_index: dict, sep: int = 32):
        self.lib, self.counter = lib, None
        lut = np.arange(256, dtype=np.uint8)
        for k, b in enumerate(_WHITESPACE):
            lut[b] = 0xF8 + k
        words = list(word_index)
        encoded = [w.encode("utf-8") for w in words]  # TypeError / UnicodeEncodeError: no table
        nbytes = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        bounds = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum(nbytes + 1, out=bounds[1:])
        flat = lut[np.frombuffer(b"".join(encoded), dtype=np.uint8)]
        data = np.full(int(bounds[-1]), sep, dtype=np.uint8)  # word i starts at bounds[i]: i separators before it
        data[np.arange(len(flat)) + np.repeat(np.arange(len(encoded)), nbytes)] = flat
        self.counter = lib.counter_new()
        if not self.counter:
            raise MemoryError("the word counter could not allocate its table")
        ids = np.empty(len(encoded) + 1, dtype=np.int32)
        per_word = np.empty(len(encoded), dtype=np.int64)
        n = lib.counter_feed(self.counter, data.ctypes.data, bounds.ctypes.data, len(encoded), sep,
                             ids.ctypes.data, per_word.ctypes.data)
        if n < 0:
            raise MemoryError("the word counter ran out of memory")
        # an empty word gives no entry; every other word exactly one (its bytes hold no separator)
        values = np.fromiter(word_index.values(), dtype=np.int64, count=len(words))
        self.ids = values[per_word == 1]

    def __reduce__(self):
        raise TypeError("a compiled vocabulary table cannot be pickled; Tokenizer.to_dict() is its state")

    def __del__(self):
        if getattr(self, "counter", None):
            self.lib.counter_free(ctypes.c_void_p(self.counter))
            self.counter = None

    def encode(self, mapped: np.ndarray, bounds: np.ndarray, sep: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """(the raw index of every word, -1 when unknown; words per text) of mapped texts."""
        found = np.empty(int(bounds[-1]) // 2 + 1, dtype=np.int32)
        per_text = np.empty(len(bounds) - 1, dtype=np.int64)
        n = self.lib.counter_lookup(self.counter, mapped.ctypes.data, bounds.ctypes.data, len(bounds) - 1, sep,
                                    found.ctypes.data, per_text.ctypes.data)
        found = found[:n]
        raw = np.full(n, -1, dtype=np.int64)
        hit = found >= 0
        raw[hit] = self.ids[found[hit]]
        return raw, per_text


def _chunks(texts: list[str], max_bytes: int | None = None) -> list[tuple[int, int]]:
    """Consecutive ranges of texts holding about ``max_bytes`` (default CHUNK_BYTES) characters each."""
    if not texts:
        return []
    max_bytes = max_bytes or CHUNK_BYTES
    ends = np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1)
    cuts = np.searchsorted(ends, np.arange(max_bytes, int(ends[-1]), max_bytes), side="right")
    cuts = np.unique(np.concatenate([[0], cuts, [len(texts)]]))
    return list(zip(cuts[:-1].tolist(), cuts[1:].tolist()))


def _map_chunks(fn, texts: list[str]) -> list:
    ranges = _chunks(texts)
    if len(ranges) <= 1:
        return [fn(texts)]
    workers = min(len(ranges), os.cpu_count() or 1)
    if workers == 1:
        return [fn(texts[a:b]) for a, b in ranges]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda r: fn(texts[r[0]:r[1]]), ranges))


class Tokenizer:
    """Keras 2 ``Tokenizer`` semantics.

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
        char_level: every character is a token (``filters`` and ``split`` are then unused, as
            in Keras); default False.

    The attribute ``engine`` picks the implementation: ``"auto"`` (default: vectorized for 32
    texts or more when ``filters`` and ``split`` are ASCII), ``"vectorized"`` or ``"python"``
    (the reference). Both give identical results.
    """

    engine: str = "auto"

    def __init__(self, num_words: int | None = None, filters: str = KERAS_FILTERS, lower: bool = True,
                 split: str = " ", oov_token: str | None = None, start_index: int | None = None,
                 oov_index: int | None = None, skip_top: int = 0, char_level: bool = False):
        if num_words is not None and (not isinstance(num_words, (int, np.integer)) or isinstance(num_words, bool)
                                      or num_words < 1):
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
        self.char_level = bool(char_level)
        self.word_counts: dict[str, int] = {}
        self.word_index: dict[str, int] = {}
        self.document_count = 0
        self._table = str.maketrans({c: split for c in filters}) if filters else None

    # -- fitting -----------------------------------------------------------------------------
    def _words(self, text: str) -> list[str]:
        if self.lower:
            text = text.lower()
        if self.char_level:
            return list(text)
        if self._table is not None:
            text = text.translate(self._table)
        return [w for w in text.split(self.split) if w]

    def _vectorized(self, n_texts: int) -> bool:
        if self.engine not in ENGINES:
            raise param_error("engine", "one of " + ", ".join(map(repr, ENGINES)), self.engine)
        if self.engine == "python" or self.char_level or not _Splitter.supports(self.filters, self.split):
            return False
        return self.engine == "vectorized" or n_texts >= AUTO_MIN_TEXTS

    def _splitter_key(self) -> tuple:
        return (self.filters, self.lower, self.split)

    def _splitter(self) -> _Splitter:
        key = self._splitter_key()
        cached = getattr(self, "_splitter_cache", None)
        if cached is None or cached[0] != key:
            cached = (key, _Splitter(*key))
            self._splitter_cache = cached
        return cached[1]

    def fit_on_texts(self, texts: Iterable[str]) -> "Tokenizer":
        """Count the words of ``texts`` (adding to earlier counts) and rebuild the word index."""
        texts = texts if isinstance(texts, list) else list(texts)
        self._memo = None
        fitted = None
        if self._vectorized(len(texts)):
            try:
                fitted = self._count_vectorized(texts)
            except (TypeError, UnicodeEncodeError):
                fitted = None  # not strings / not valid UTF-8: the reference decides
        if fitted is None:
            counts: Counter[str] = Counter()
            for text in texts:
                counts.update(text.lower() if self.char_level and self.lower else
                              text if self.char_level else self._words(text))
            words, freq = list(counts), np.fromiter(counts.values(), dtype=np.int64, count=len(counts))
        else:
            words, freq = fitted
        if self.word_counts:  # earlier fits come first (Keras's OrderedDict keeps adding)
            merged = dict(self.word_counts)
            for w, c in zip(words, freq.tolist()):
                merged[w] = merged.get(w, 0) + c
            words, freq = list(merged), np.fromiter(merged.values(), dtype=np.int64, count=len(merged))
        self.document_count += len(texts)
        self.word_counts = dict(zip(words, freq.tolist()))
        ranked = np.argsort(-freq, kind="stable")  # by count, ties keep first appearance
        vocab = ([self.oov_token] if self.oov_token is not None else []) + [words[i] for i in ranked.tolist()]
        self.word_index = dict(zip(vocab, range(1, len(vocab) + 1)))
        return self

    def _count_vectorized(self, texts: list[str]) -> tuple[list[str], np.ndarray]:
        """(distinct words in first-appearance order, their counts). Keeps what encoding the
        same texts needs (see :meth:`encode`)."""
        uniq, parts = self._split_all(texts)
        freq = np.zeros(len(uniq), dtype=np.int64)
        for idx, _ in parts:  # per chunk: small temporaries
            freq += np.bincount(idx, minlength=len(uniq))
        words = uniq.to_pylist()
        self._memo = (self._splitter_key(), tuple(texts), words, parts)
        return words, freq.astype(np.int64)

    def _split_all(self, texts: list[str]):
        """(distinct words of all texts as an Arrow array, per chunk: (index of every word in
        them, words per text)). Chunks run on threads; their distinct words are merged in chunk
        order, which keeps first appearance."""
        import pyarrow as pa
        import pyarrow.compute as pc

        lib = _split_count()
        if lib is not None:
            return self._split_all_native(lib, texts)
        parts = _map_chunks(self._splitter().unique_words, texts)
        if len(parts) == 1:
            return parts[0][0], [(parts[0][1], parts[0][2])]
        enc = pc.dictionary_encode(pa.concat_arrays([u.cast(pa.large_string()) for u, _, _ in parts]))
        cuts = np.cumsum([len(u) for u, _, _ in parts])[:-1]
        to_global = np.split(enc.indices.to_numpy(zero_copy_only=False), cuts)
        return enc.dictionary, [(g[idx], lens) for (_, idx, lens), g in zip(parts, to_global)]

    def _split_all_native(self, lib, texts: list[str]):
        """:meth:`_split_all` with the compiled counter: the chunks' bytes are mapped on a second
        thread while the counter (which releases the GIL) splits and counts the chunk before, in
        one hash table, so word numbers are global and first appearance is kept without a merge."""
        import pyarrow as pa

        splitter = self._splitter()
        ranges = _chunks(texts) or [(0, 0)]
        counter = lib.counter_new()
        if not counter:
            raise MemoryError("the word counter could not allocate its table")
        parts = []
        try:
            with ThreadPoolExecutor(max_workers=1) as pool:
                ahead = pool.submit(splitter._mapped, texts[ranges[0][0]:ranges[0][1]])
                for k in range(len(ranges)):
                    mapped, bounds = ahead.result()
                    if k + 1 < len(ranges):
                        ahead = pool.submit(splitter._mapped, texts[ranges[k + 1][0]:ranges[k + 1][1]])
                    ids = np.empty(int(bounds[-1]) // 2 + 1, dtype=np.int32)
                    per_text = np.empty(len(bounds) - 1, dtype=np.int64)
                    words = lib.counter_feed(counter, mapped.ctypes.data, bounds.ctypes.data, len(bounds) - 1, 32,
                                             ids.ctypes.data, per_text.ctypes.data)
                    if words < 0:
                        raise MemoryError("the word counter ran out of memory")
                    parts.append((ids[:words].copy(), per_text))
            n, nbytes = lib.counter_size(counter), lib.counter_nbytes(counter)
            data = np.empty(max(nbytes, 1), dtype=np.uint8)
            offsets = np.empty(n + 1, dtype=np.int64)
            lib.counter_export(counter, data.ctypes.data, offsets.ctypes.data)
        finally:
            lib.counter_free(ctypes.c_void_p(counter))
        uniq = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data[:nbytes]))
        if splitter.restore is not None:  # placeholders back to the word bytes they stand for
            uniq = splitter._restore(uniq)
        return uniq, parts

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
        texts = texts if isinstance(texts, list) else list(texts)
        parts = None
        if self._vectorized(len(texts)) or self._compiled_table() is not None:
            try:
                parts = self._encode_vectorized(texts)
            except (TypeError, UnicodeEncodeError):
                parts = None
        if parts is None:
            parts = [self._encode_python(texts[start:start + chunk]) for start in range(0, len(texts), chunk)]
        flats = [p[0] for p in parts]
        lengths = [p[1] for p in parts]
        lengths_all = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
        offsets = np.zeros(len(lengths_all) + 1, dtype=np.int64)
        np.cumsum(lengths_all, out=offsets[1:])
        flat = np.concatenate(flats) if flats else np.zeros(0, np.int32)
        return Sequences(flat, offsets)

    def _encode_vectorized(self, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        memo, self._memo = getattr(self, "_memo", None), None
        if (memo is not None and memo[0] == self._splitter_key() and len(memo[1]) == len(texts)
                and all(map(operator.is_, memo[1], texts))):
            words, parts = memo[2], memo[3]  # the texts of the last fit: their words are already split
            index = self.word_index
            ids_of_unique = np.fromiter(map(index.get, words, itertools.repeat(-1)), dtype=np.int64,
                                        count=len(words))
            return [self._apply_rules(ids_of_unique[idx], lens) for idx, lens in parts]
        table = self._compiled_table()
        if table is not None:
            splitter = self._splitter()

            def one(chunk: list[str]) -> tuple[np.ndarray, np.ndarray]:
                mapped, bounds = splitter._mapped(chunk)
                return self._apply_rules(*table.encode(mapped, bounds))

            return _map_chunks(one, texts)
        uniq, parts = self._split_all(texts)
        ids_of_unique = self._lookup(uniq)
        return [self._apply_rules(ids_of_unique[idx], lens) for idx, lens in parts]

    @property
    def compiled(self) -> bool:
        """Whether :meth:`encode` looks words up in the compiled table (any number of texts)."""
        return self._compiled_table() is not None

    def _compiled_table(self) -> _VocabTable | None:
        """The word index in the compiled counter (built once per word index), or None: the
        Python engine is asked for, ``filters`` / ``split`` are not ASCII, no compiled counter,
        or a word that is not a valid string."""
        if self.engine == "python" or self.char_level or not _Splitter.supports(self.filters, self.split):
            return None
        lib = _split_count()
        if lib is None:
            return None
        index = self.word_index
        cached = getattr(self, "_table_cache", None)
        if cached is not None and cached[0] is index and cached[1] == len(index):
            return cached[2]
        try:
            table = _VocabTable(lib, index)
        except (TypeError, AttributeError, UnicodeEncodeError):  # keys that are not (valid) strings
            table = None
        self._table_cache = (index, len(index), table)
        return table

    def _lookup(self, words) -> np.ndarray:
        """Index of every word of an Arrow string array in word_index (-1 when unknown)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        index = self.word_index
        cached = getattr(self, "_lookup_cache", None)  # the vocabulary as Arrow keys: built once per word_index
        if cached is not None and cached[0] is index and cached[1] == len(index):
            keys, values = cached[2], cached[3]
        else:
            try:
                keys = pa.array(list(index), type=pa.large_string())
            except (pa.ArrowInvalid, pa.ArrowTypeError):  # keys that are not strings: plain dict lookups
                keys = None
            values = np.fromiter(index.values(), dtype=np.int64, count=len(index))
            self._lookup_cache = (index, len(index), keys, values)
        if keys is None:
            words = words.to_pylist()
            return np.fromiter(map(index.get, words, itertools.repeat(-1)), dtype=np.int64, count=len(words))
        pos = pc.index_in(words.cast(pa.large_string()), value_set=keys)
        pos = pos.fill_null(-1).to_numpy(zero_copy_only=False)
        return np.where(pos >= 0, values[np.maximum(pos, 0)] if len(values) else -1, -1)

    def _encode_python(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        words_per_text = [self._words(t) for t in texts]
        lens = np.fromiter(map(len, words_per_text), dtype=np.int64, count=len(words_per_text))
        words = list(itertools.chain.from_iterable(words_per_text))
        ids = np.fromiter(map(self.word_index.get, words, itertools.repeat(-1)), dtype=np.int64, count=len(words))
        return self._apply_rules(ids, lens)

    def _apply_rules(self, ids: np.ndarray, lens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """num_words / skip_top / OOV / start_index on the raw ids (-1 = unknown) of texts with
        ``lens`` words each; returns (int32 ids, lengths)."""
        oov = self.oov_index
        limit = self.num_words
        bad = ids < self.skip_top  # unknown words are -1; skip_top is 0 unless imported
        if limit is not None:
            bad |= ids >= limit
        if bad.any():
            if oov is not None:
                ids = ids.copy()
                ids[bad] = oov
            else:
                owner = np.repeat(np.arange(len(lens)), lens)
                lens = lens - np.bincount(owner[bad], minlength=len(lens))
                ids = ids[~bad]
        if self.start_index is not None:
            offs = np.concatenate([[0], np.cumsum(lens)])
            ids = np.insert(ids, offs[:-1], self.start_index)
            lens = lens + 1
        return ids.astype(np.int32), lens

    def __getstate__(self) -> dict:
        """Pickled without what is rebuilt on use (the compiled table cannot be pickled)."""
        return {k: v for k, v in self.__dict__.items() if k not in _CACHES}

    def texts_to_sequences(self, texts: Sequence[str]) -> list[list[int]]:
        """Keras API: token ids as lists of ints."""
        return self.encode(list(texts)).to_lists()

    # -- persistence -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-ready state. Only words the model can see are kept (index < num_words), and the
        OOV token, whose index unknown words get even when it is not below num_words (Keras)."""
        limit = self.num_words
        words = {w: i for w, i in self.word_index.items() if limit is None or i < limit or w == self.oov_token}
        return {
            "num_words": self.num_words, "filters": self.filters, "lower": self.lower,
            "split": self.split, "oov_token": self.oov_token, "start_index": self.start_index,
            "oov_index": self._oov_index, "skip_top": self.skip_top, "char_level": self.char_level,
            "document_count": self.document_count,
            "vocabulary_size_fitted": len(self.word_index),
            "word_index": words,
            "word_counts": {w: self.word_counts[w] for w in words if w in self.word_counts},
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Tokenizer":
        tok = cls(num_words=d["num_words"], filters=d["filters"], lower=d["lower"], split=d["split"],
                  oov_token=d["oov_token"], start_index=d.get("start_index"),
                  oov_index=d.get("oov_index"), skip_top=d.get("skip_top", 0),
                  char_level=bool(d.get("char_level", False)))
        tok.word_index = {w: int(i) for w, i in d["word_index"].items()}
        tok.word_counts = {w: int(c) for w, c in d.get("word_counts", {}).items()}
        tok.document_count = int(d.get("document_count", 0))
        return tok
