"""``manifest.json``: sha256 and size of every file loading uses, checked before anything is
loaded, so a modified, shortened, missing or added file is refused by name. The files are read
through the bounded reader of :mod:`.files`: never more bytes than the manifest records, and
never a FIFO, a device or a link out of the folder."""

from __future__ import annotations

import hashlib
import os

from .._io import write_json
from .._version import __version__
from ..errors import RunError
from .files import open_run_file, parse_json, read_run_bytes
from .folder import MANIFEST, PROTECTED, RunFolder

_CHUNK = 1 << 20


def _digest(fh, size: int) -> str:
    """sha256 of the first ``size`` bytes of the open file ``fh``."""
    h = hashlib.sha256()
    left = size
    while left > 0 and (block := fh.read(min(_CHUNK, left))):
        h.update(block)
        left -= len(block)
    return h.hexdigest()


def write_manifest(folder: RunFolder | str | os.PathLike) -> None:
    """Record sha256 and size of every protected file present in ``folder``."""
    folder = RunFolder(folder)
    files = {}
    for name in PROTECTED:
        if (folder.path / name).exists():
            with open_run_file(folder.path / name) as fh:
                size = os.fstat(fh.fileno()).st_size
                files[name] = {"sha256": _digest(fh, size), "bytes": size}
    write_json(folder.manifest, {"rnnlab_version": __version__, "files": files})


def read_manifest(folder: RunFolder | str | os.PathLike) -> dict[str, dict]:
    """The manifest's entries: file name → ``{"sha256": hex, "bytes": int}``.

    Raises:
        RunError: no manifest (an unfinished run), or a damaged one.
    """
    folder = RunFolder(folder)
    path, where = folder.manifest, folder.path
    try:
        data = read_run_bytes(path, 1 << 20)
    except FileNotFoundError:
        raise RunError(f"'{where}' has no {MANIFEST}: training did not finish (resume it with "
                       f"`rnnlab train --resume {where}`) or the folder was not written by rnnlab.") from None
    damaged = RunError(f"'{path}' is damaged (not the JSON rnnlab writes); restore it or retrain.")
    try:
        files = parse_json(data, path)["files"]
    except (RunError, KeyError):
        raise damaged from None
    if not isinstance(files, dict):
        raise damaged
    for name, entry in files.items():
        if (not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str)
                or type(entry.get("bytes")) is not int or entry["bytes"] < 0
                or name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name):
            raise damaged
    return files


def recorded_bytes(folder: RunFolder | str | os.PathLike, name: str) -> int | None:
    """The size the manifest records for the file ``name``; None without a manifest or entry."""
    try:
        entry = read_manifest(folder).get(name)
    except RunError:
        return None
    return entry["bytes"] if entry else None


def verify_manifest(folder: RunFolder | str | os.PathLike) -> dict[str, dict]:
    """Refuse a run folder whose protected files differ from its manifest.

    Returns:
        The manifest's entries (file name → sha256 and size).

    Raises:
        RunError: no manifest (an unfinished run), a damaged manifest, or a protected file
            added, missing, not a regular file, or whose size or sha256 differs.
    """
    folder = RunFolder(folder)
    where = folder.path
    files = read_manifest(folder)
    for name in PROTECTED:
        if ((where / name).exists() or (where / name).is_symlink()) and name not in files:
            raise RunError(f"'{where / name}' is not in {MANIFEST}: the file was added after training; "
                           f"remove it or retrain.")
    for name, entry in files.items():
        file = where / name
        try:
            fh = open_run_file(file, where)
        except FileNotFoundError:
            raise RunError(f"'{file}' is missing (listed in {MANIFEST}); restore it or retrain.") from None
        with fh:
            size, expected = os.fstat(fh.fileno()).st_size, entry["bytes"]
            if size != expected:
                raise RunError(f"'{file}' does not match {MANIFEST} ({size:,} bytes where {MANIFEST} records "
                               f"{expected:,}, so its sha256 differs); restore the original file or retrain. "
                               f"Nothing was loaded.")
            if _digest(fh, size) != entry["sha256"]:
                raise RunError(f"'{file}' does not match {MANIFEST} (same size ({size:,} bytes) but its sha256 "
                               f"differs: the content was modified); restore the original file or retrain. "
                               f"Nothing was loaded.")
    return files
