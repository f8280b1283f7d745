"""Download a data file once into a cache folder, verify its checksum, and reuse it afterwards.

The cache folder is ``cache_dir``, else ``$RNNLAB_CACHE_DIR``, else ``~/.cache/rnnlab``.
``RNNLAB_OFFLINE=1`` forbids any network access: only files already cached can be used.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

from rich.console import Console
from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                           TransferSpeedColumn)

from .._io import atomic_path
from ..errors import DataError

CHUNK = 1 << 20
TIMEOUT_S = 30
DEFAULT_HINT = "pass its local path instead"


def cache_folder(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir``, else ``$RNNLAB_CACHE_DIR``, else ``~/.cache/rnnlab``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("RNNLAB_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rnnlab"


def _offline() -> bool:
    return os.environ.get("RNNLAB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def fetch(url: str, *, filename: str, sha256: str | None, md5: str | None = None,
          cache_dir: str | Path | None = None, progress: bool = True,
          hint: str = DEFAULT_HINT) -> Path:
    """Return the cached copy of ``url``, downloading it first when missing or corrupt.

    Args:
        url: where to download the file from.
        filename: its name in the cache folder.
        sha256: expected hex sha256 (no default: None skips the check, and a cached file is
            then trusted as is).
        md5: expected hex md5, for sources that publish only that; default None.
        cache_dir: the cache folder; default None = ``$RNNLAB_CACHE_DIR`` or ``~/.cache/rnnlab``.
        progress: default True = a progress bar on an interactive stderr (else one plain line).
        hint: how to get the file without this download, ending the offline error; default
            "pass its local path instead".
    """
    expected = [(alg, h.lower()) for alg, h in (("sha256", sha256), ("md5", md5)) if h]
    target = cache_folder(cache_dir) / filename
    if target.is_file() and all(_file_digest(target, alg) == h for alg, h in expected):
        return target
    if _offline():
        raise DataError(f"RNNLAB_OFFLINE is set, so {url} is not downloaded (no valid copy in "
                        f"'{target.parent}'): download it elsewhere and {hint}.")
    with atomic_path(target) as tmp:
        digests = _download(url, tmp, target, progress, hint, [alg for alg, _ in expected])
        for alg, want in expected:
            if digests[alg] != want:
                raise DataError(f"The file downloaded from {url} is corrupt: its {alg} is "
                                f"{digests[alg]}, expected {want}. Retry later, or download it "
                                f"elsewhere and {hint}.")
    return target


def _download(url: str, dest: Path, target: Path, progress: bool, hint: str,
              algorithms: list[str]) -> dict[str, str]:
    """Stream ``url`` into ``dest`` (a temporary name of ``target``); return the hex digests of
    what was received."""
    hashes = {alg: hashlib.new(alg) for alg in algorithms}

    def network_error(exc: BaseException) -> DataError:
        if isinstance(exc, urllib.error.HTTPError):
            why = f"the server answered HTTP {exc.code} {exc.reason}"
        else:
            why = str(getattr(exc, "reason", None) or exc) or type(exc).__name__
        return DataError(f"Cannot download {url} ({why}). This machine may be offline: download "
                         f"it elsewhere and {hint}.")

    try:
        resp = urllib.request.urlopen(url, timeout=TIMEOUT_S)
    except (OSError, http.client.HTTPException, ValueError) as exc:  # URLError, HTTPError, timeouts
        raise network_error(exc) from None
    length = resp.headers.get("Content-Length")
    total = int(length) if length and length.isdigit() else None
    with resp, open(dest, "wb") as fh, _Progress(url, target, total, progress) as bar:
        received = 0
        while True:
            try:
                block = resp.read(CHUNK)
            except (OSError, http.client.HTTPException) as exc:
                raise network_error(exc) from None
            if not block:
                break
            fh.write(block)
            for h in hashes.values():
                h.update(block)
            received += len(block)
            bar.advance(len(block))
    if total is not None and received != total:
        raise network_error(ConnectionError(f"connection closed after {received} of {total} bytes"))
    return {alg: h.hexdigest() for alg, h in hashes.items()}


class _Progress:
    """A rich progress bar in bytes on an interactive stderr, else one plain line."""

    def __init__(self, url: str, target: Path, total: int | None, enabled: bool):
        self.url, self.target = url, target
        self.bar = None
        if enabled and sys.stderr.isatty():
            self.bar = Progress(TextColumn("downloading {task.description}"), BarColumn(),
                                DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                                console=Console(stderr=True), transient=False)
            self.task = self.bar.add_task(target.name, total=total)

    def __enter__(self) -> "_Progress":
        if self.bar is None:
            print(f"downloading {self.url} -> {self.target}", file=sys.stderr)
        else:
            self.bar.start()
        return self

    def advance(self, n: int) -> None:
        if self.bar is not None:
            self.bar.advance(self.task, n)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
