"""Open a user's text file: the one way every reader of tables and texts does it.

Training tables (:mod:`.tables`), ``rnnlab predict``'s streamed reader, corpus files
(:mod:`.corpus`), evaluation and submission inputs all come through here, so they agree on:

- **compression**: ``.gz`` / ``.bz2`` / ``.xz``, or a ``.zip`` holding exactly one file;
- **encoding**: strict UTF-8, a leading byte-order mark dropped (``utf-8-sig``); a bad byte is a
  :class:`~rnnlab.errors.DataError` naming the line and byte, a NUL byte (a binary or UTF-16
  file) one naming the line;
- **delimiter**: by the file name (``.csv`` comma, ``.tsv`` / ``.tab`` / ``.txt`` tab, TSV without
  quoting), with a check of the header: a ``.csv`` that is really tab-separated (or the other way
  round) is an error saying so and how to fix it, never one long column name;
- **field size**: fields up to :data:`MAX_FIELD_CHARS` characters (``csv.field_size_limit`` is
  set once, here), far above the documented 1 MB texts;
- **JSON**: one object per line; a lone surrogate escape (``"\\ud800"``) is an error naming the
  line, not a crash later.

Rows are streamed (:func:`iter_records`): a reader holds what it keeps, never the whole file.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import csv
import gzip
import json
import lzma
import re
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator

from ..errors import DataError

MAX_TEXT_CHARS = 1_000_000
"""The longest text the documentation promises to read and score (1 MB)."""
MAX_FIELD_CHARS = 16 * MAX_TEXT_CHARS
"""The longest CSV/TSV field read; longer is a DataError (a broken quote, not a text)."""
csv.field_size_limit(MAX_FIELD_CHARS)

COMPRESSIONS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
READ_ERRORS = (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError, zlib.error)
_LONE_CR = re.compile(r"(?<=\r)(?!\n)")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def require_file(path: str | Path, key: str = "data.path") -> Path:
    """``path`` as a Path, or a DataError when it is missing or a folder.

    Args:
        path: the file.
        key: the setting that named it, for the message (default 'data.path').
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"Data file '{path}' does not exist; check {key} (relative paths in a config file are "
                        f"relative to that file's folder).")
    if path.is_dir():
        raise DataError(f"'{path}' is a folder; {key} must name a file.")
    return path


@contextlib.contextmanager
def open_binary(path: str | Path, key: str = "data.path") -> Iterator[BinaryIO]:
    """The file's bytes as a stream, decompressed (.gz, .bz2, .xz, or a .zip holding one file).

    Raises:
        DataError: a missing file, a folder, a zip of several files, or a file that cannot be
            opened or read (also while it is read).
    """
    path = require_file(path, key)
    suffix = path.suffix.lower()
    try:
        with contextlib.ExitStack() as stack:
            if suffix == ".zip":
                zf = stack.enter_context(zipfile.ZipFile(path))
                names = [n for n in zf.namelist() if not n.endswith("/") and not n.startswith("__MACOSX")]
                if len(names) != 1:
                    raise DataError(f"'{path}' holds {len(names)} files ({', '.join(names[:5])}); expected exactly "
                                    f"one. Unzip it and point {key} at the file.")
                fh = stack.enter_context(zf.open(names[0]))
            elif suffix in COMPRESSIONS:
                fh = stack.enter_context(COMPRESSIONS[suffix](path, "rb"))
            else:
                fh = stack.enter_context(open(path, "rb"))
            yield fh
    except READ_ERRORS as exc:
        raise DataError(f"Cannot read '{path}': {exc}. Is the file complete and really "
                        f"{suffix or 'uncompressed'}?") from None


def read_bytes(path: str | Path, key: str = "data.path") -> bytes:
    """The file's whole content, decompressed (see :func:`open_binary`)."""
    with open_binary(path, key) as fh:
        return fh.read()


def _utf8_error(raw: bytes, pos: int, source: str, line: int | None = None) -> DataError:
    if line is None:
        line = raw.count(b"\n", 0, pos) + 1
    col = pos - (raw.rfind(b"\n", 0, pos) + 1) + 1
    bad = raw[pos:pos + 1].hex()
    hint = ("Re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`).")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and line == 1:
        hint = "It is UTF-16 (its byte-order mark): re-save it as UTF-8 (e.g. `iconv -f utf-16 -t utf-8`)."
    return DataError(f"'{source}' line {line}, byte {col}: not valid UTF-8 (byte 0x{bad}). {hint}")


def _nul_error(source: str, line: int) -> DataError:
    return DataError(f"'{source}' line {line}: a NUL byte (0x00); the file is binary or UTF-16, not UTF-8 text. "
                     f"Re-save it as UTF-8 (e.g. `iconv -f utf-16 -t utf-8`).")


def decode_utf8(raw: bytes, source: str) -> str:
    """Strict UTF-8 decode (a leading BOM is dropped); the error names the line and byte, and a
    NUL byte is an error too."""
    start = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
    try:
        text = raw[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _utf8_error(raw, start + exc.start, source) from None
    nul = text.find("\x00")
    if nul >= 0:
        raise _nul_error(source, text.count("\n", 0, nul) + 1)
    return text


def iter_lines(path: str | Path, key: str = "data.path") -> Iterator[str]:
    """The decoded lines of a (compressed) UTF-8 text file, streamed, each with its line end
    (``\\n``, ``\\r\\n`` or a lone ``\\r``, as ``open(newline='')`` splits them); a leading BOM
    is dropped.

    Raises:
        DataError: see :func:`open_binary`, :func:`decode_utf8`.
    """
    source = str(path)
    lineno = 0
    with open_binary(path, key) as fh:
        for raw in fh:
            lineno += 1
            start = len(codecs.BOM_UTF8) if lineno == 1 and raw.startswith(codecs.BOM_UTF8) else 0
            try:
                line = raw[start:].decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _utf8_error(raw, start + exc.start, source, lineno) from None
            if "\x00" in line:
                raise _nul_error(source, lineno)
            if "\r" in line[:-2]:
                yield from (piece for piece in _LONE_CR.split(line) if piece)
            else:
                yield line


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        raise _DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return out


def jsonl_record(line: str, source: str, lineno: int) -> dict:
    """One JSONL line as a dict, or a DataError naming the file and line (also for a string
    holding a lone surrogate escape such as ``"\\ud800"``, which is no character)."""
    try:
        rec = json.loads(line, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        raise DataError(f"'{source}' line {lineno}: the key {exc.args[0]!r} appears twice in one object; keep "
                        f"one (JSON would silently use the last).") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"'{source}' line {lineno}: invalid JSON ({exc.msg} at column {exc.colno}).") from None
    except ValueError as exc:  # e.g. integers too long to convert
        raise DataError(f"'{source}' line {lineno}: invalid JSON ({exc}).") from None
    if not isinstance(rec, dict):
        raise DataError(f"'{source}' line {lineno}: expected a JSON object per line, got {type(rec).__name__}.")
    if _SURROGATE_ESCAPE.search(line):
        try:
            json.dumps(rec, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise DataError(f"'{source}' line {lineno}: a lone surrogate escape ({exc.object[exc.start]!r}) is "
                            f"not a character; write the character itself or its full surrogate pair.") from None
    return rec


def _check_header(header: list[str], fmt: str, source: str) -> None:
    """A ``.csv`` that is tab-separated (or a ``.tsv`` that is comma-separated), and duplicate
    column names, are errors."""
    if len(header) == 1:
        other, name, fix = ("\t", "tab", "tsv") if fmt == "csv" else (",", "comma", "csv")
        if other in header[0]:
            raise DataError(f"'{source}' looks {name}-separated (its header {header[0][:60]!r} has {name}s but no "
                            f"{'commas' if fmt == 'csv' else 'tabs'}), yet it is read as {fmt.upper()}. Rename it to "
                            f".{fix} or set data.format = '{fix}' (predict: --format {fix}).")
    seen: dict[str, int] = {}
    for i, name in enumerate(header, 1):
        if name in seen:
            raise DataError(f"'{source}' columns {seen[name]} and {i} are both named {name!r}; rename one (every "
                            f"column name must be unique).")
        seen[name] = i


class Records:
    """The rows of a CSV / TSV / JSONL file, streamed: iterate for (row, record); rows count
    from 1 (the header is not a row; blank lines are skipped).

    CSV/TSV records map every header column to its field (a string; an empty or absent field is
    None); JSONL records are the line's object. ``columns`` is the CSV/TSV header once the
    iteration has read it (None for JSONL).

    Args:
        path: the file (optionally compressed).
        fmt: 'csv', 'tsv' or 'jsonl'.
        key: the setting that named it, for messages (default 'data.path').

    Raises (while iterating):
        DataError: an unreadable file, bad UTF-8, a NUL byte, invalid JSON, an empty file, a
            wrong delimiter, duplicate column names, a row with more fields than the header, a
            field over :data:`MAX_FIELD_CHARS` or broken quoting.
    """

    def __init__(self, path: str | Path, fmt: str, key: str = "data.path"):
        if fmt not in ("csv", "tsv", "jsonl"):
            raise ValueError(f"Records reads csv, tsv or jsonl, not {fmt!r}")
        self.path, self.fmt, self.key = path, fmt, key
        self.source = str(path)
        self.columns: list[str] | None = None

    def __iter__(self) -> Iterator[tuple[int, dict]]:
        lines = iter_lines(self.path, self.key)
        if self.fmt == "jsonl":
            row = 0
            for lineno, line in enumerate(lines, 1):  # not splitlines(): U+2028 may sit inside strings
                if line.strip():
                    row += 1
                    yield row, jsonl_record(line, self.source, lineno)
            if row == 0:
                raise DataError(f"'{self.source}' is empty: no header and no rows.")
            return
        yield from self._table(lines)

    def _table(self, lines: Iterator[str]) -> Iterator[tuple[int, dict]]:
        fmt, source = self.fmt, self.source
        reader = (csv.reader(lines, delimiter=",", strict=True) if fmt == "csv"
                  else csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))
        header: list[str] | None = None
        row = 0
        try:
            for fields in reader:
                if header is None:
                    if not "".join(fields).strip():
                        continue  # blank lines before the header
                    _check_header(fields, fmt, source)
                    header = self.columns = fields
                    continue
                if not fields:
                    continue  # blank lines
                if len(fields) > len(header):
                    raise DataError(
                        f"'{source}' is not a valid {fmt.upper()} file: line {reader.line_num} has {len(fields)} "
                        f"fields, the header {len(header)} (expected {len(header)}, saw {len(fields)}); a "
                        f"{'comma' if fmt == 'csv' else 'tab'} inside a text must be "
                        f"{'quoted' if fmt == 'csv' else 'removed (TSV has no quoting)'}.")
                row += 1
                yield row, {name: (fields[i] or None) if i < len(fields) else None for i, name in enumerate(header)}
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise DataError(f"'{source}' line {reader.line_num}: a field longer than {MAX_FIELD_CHARS:,} "
                                f"characters (texts up to {MAX_TEXT_CHARS:,} are read); is a quote left open?"
                                ) from None
            raise DataError(f"'{source}' is not a valid {fmt.upper()} file: line {reader.line_num}: {exc}.") from None
        if header is None:
            raise DataError(f"'{source}' is empty: no header and no rows.")
