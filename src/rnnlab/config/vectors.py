"""The header of a word-vector file: its vector size, read from the first non-blank line.

A first line of exactly two integers ``N D`` is a fastText header (``D`` is the vector size);
otherwise the file is GloVe style and the vector size is the number of fields of the first line
minus 1. A name ending in ``.gz`` (or gzip magic bytes) is read through gzip. The config reads
this to fill ``model.embedding.dim``; :mod:`rnnlab.models.pretrained` reads the whole file.
"""

from __future__ import annotations

import gzip
import os

from ..errors import DataError, param_error


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
        path: the word-vector file (``.vec`` / ``.txt``, optionally gzip-compressed).

    Returns:
        The number of values per vector.

    Raises:
        ConfigError: the file does not exist (a ``model.embedding.pretrained`` error).
        DataError: the file is empty or its first line is neither a header nor a vector.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise param_error("model.embedding.pretrained", "an existing word-vector file (fastText .vec or GloVe "
                          ".txt, optionally .gz)", path, hint="No such file; check the path.")
    with _open(path) as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.decode("utf-8", errors="replace").rstrip("\n").rstrip()
            if line:
                return _file_dim(line, path, lineno, None)[0]
    raise DataError(f"'{path}' is empty: expected fastText or GloVe word vectors.")
