"""Unlabelled texts for training word vectors (``model.embedding.pretrained.corpus``).

A corpus entry is one of:

- a ``.txt`` file (optionally ``.gz`` / ``.bz2`` / ``.xz`` / ``.zip``): one text per line;
- a table (``.csv`` / ``.tsv`` / ``.jsonl`` / ``.parquet``, optionally compressed), e.g. Kaggle's
  ``test.csv``: the texts of one column;
- a folder: every ``*.txt`` file directly in it is one text, in name order (e.g. IMDB's
  ``aclImdb/train/unsup``).

Blank texts are skipped: they hold no words.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError, param_error
from .tables import COMPRESSIONS, clean_texts, decode_utf8, read_bytes, read_frame, require_columns

KEY = "model.embedding.pretrained.corpus"


def is_text_file(path: str | Path) -> bool:
    """Whether ``path`` is read as one text per line: its name ends in ``.txt`` before any
    compression suffix."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    while suffixes and suffixes[-1] in (*COMPRESSIONS, ".zip"):
        suffixes.pop()
    return bool(suffixes) and suffixes[-1] == ".txt"


def require_corpus(paths: list[str]) -> None:
    """Check that every corpus entry exists, before any work is done.

    Raises:
        ConfigError: an entry that is neither a file nor a folder (naming its key and index).
    """
    for i, path in enumerate(paths):
        if not Path(path).exists():
            raise param_error(f"{KEY}.{i}", "an existing file or folder", path,
                              hint="No such file; relative paths are from the config file's folder.")


def read_corpus(path: str | Path, column: str) -> list[str]:
    """The non-blank texts of one corpus entry.

    Args:
        path: a ``.txt`` file, a table file or a folder of ``.txt`` files (see the module).
        column: the text column of a table file.

    Returns:
        The texts, in file order.

    Raises:
        DataError: an unreadable file, a table without ``column``, or no text at all.
    """
    path = Path(path)
    if path.is_dir():
        texts = _folder_texts(path)
    elif is_text_file(path):
        texts = _lines(path)
    else:
        frame = read_frame(path)
        require_columns(frame, [column], str(path), f"{KEY}_column")
        texts, _, _ = clean_texts(frame, column, str(path), "drop")
    texts = [t for t in texts if t.strip()]
    if not texts:
        raise DataError(f"The corpus '{path}' has no text; expected one text per line (.txt), a table with "
                        f"a '{column}' column, or a folder of .txt files.")
    return texts


def _lines(path: Path) -> list[str]:
    """The lines of a (compressed) UTF-8 text file, without their line ends."""
    text = decode_utf8(read_bytes(path), str(path))
    return [line.rstrip("\r") for line in text.split("\n")]


def _folder_texts(path: Path) -> list[str]:
    """One text per ``*.txt`` file directly in the folder, by file name."""
    files = sorted(p for p in path.glob("*.txt") if p.is_file())
    if not files:
        raise DataError(f"The corpus folder '{path}' has no .txt files; expected one text per file (e.g. "
                        f"aclImdb/train/unsup).")
    return [decode_utf8(read_bytes(f), str(f)) for f in files]
