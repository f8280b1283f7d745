"""``manifest.json``: sha256 and size of every file loading uses, checked before anything is
loaded, so a modified, truncated, missing or added file is refused by name."""

from __future__ import annotations

import json
import os

from .._io import sha256_file, write_json
from .._version import __version__
from ..errors import RunError
from .folder import MANIFEST, PROTECTED, RunFolder


def write_manifest(folder: RunFolder | str | os.PathLike) -> None:
    """Record sha256 and size of every protected file present in ``folder``."""
    folder = RunFolder(folder)
    files = {name: {"sha256": sha256_file(folder.path / name), "bytes": (folder.path / name).stat().st_size}
             for name in PROTECTED if (folder.path / name).exists()}
    write_json(folder.manifest, {"rnnlab_version": __version__, "files": files})


def verify_manifest(folder: RunFolder | str | os.PathLike) -> None:
    """Refuse a run folder whose protected files differ from its manifest.

    Raises:
        RunError: no manifest (an unfinished run), a damaged manifest, or a protected file
            added, missing, truncated or modified.
    """
    folder = RunFolder(folder)
    path, where = folder.manifest, folder.path
    if not path.exists():
        raise RunError(f"'{where}' has no {MANIFEST}: training did not finish (resume it with "
                       f"`rnnlab train --resume {where}`) or the folder was not written by rnnlab.")
    try:
        files = json.loads(path.read_text(encoding="utf-8"))["files"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        raise RunError(f"'{path}' is damaged (not the JSON rnnlab writes); restore it or retrain.") from None
    for name in PROTECTED:
        if (where / name).exists() and name not in files:
            raise RunError(f"'{where / name}' is not in {MANIFEST}: the file was added after training; "
                           f"remove it or retrain.")
    for name, entry in files.items():
        file = where / name
        if not file.exists():
            raise RunError(f"'{file}' is missing (listed in {MANIFEST}); restore it or retrain.")
        size = file.stat().st_size
        if size != entry.get("bytes") or sha256_file(file) != entry.get("sha256"):
            what = "truncated" if size < entry.get("bytes", 0) else "modified"
            raise RunError(f"'{file}' does not match {MANIFEST} (it was {what}: {size:,} bytes, sha256 differs); "
                           f"restore the original file or retrain. Nothing was loaded.")
