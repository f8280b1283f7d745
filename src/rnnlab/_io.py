"""Atomic file writes: write to a temporary name in the same folder, fsync, then rename.

A reader never sees a half-written file: either the old content or the new one. Every rename
and removal in a run folder goes through :func:`replace` and :func:`remove` (file events).

Test hook (tests/train/test_crash_consistency.py): with ``RNNLAB_TEST_KILL_AT=N`` in the
environment the process kills itself (SIGKILL) just before its N-th file event — a written
file's temporary copy is complete but not yet renamed — and ``RNNLAB_TEST_EVENTS=FILE`` appends
one line per event to FILE. Unset (always, outside that test), each event costs one lookup.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

from .errors import RnnlabError


KILL_AT, EVENTS = "RNNLAB_TEST_KILL_AT", "RNNLAB_TEST_EVENTS"
_events = {"pid": 0, "count": 0}


def _file_event(op: str, path: Path) -> None:
    """Count a rename or removal for the crash-consistency test hook (see the module docstring)."""
    kill_at, log = os.environ.get(KILL_AT), os.environ.get(EVENTS)
    if not kill_at and not log:
        return
    if _events["pid"] != os.getpid():  # a new (forked) process counts from 1
        _events.update(pid=os.getpid(), count=0)
    _events["count"] += 1
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"{_events['count']} {op} {path}\n")
    if kill_at and _events["count"] == int(kill_at):
        os.kill(os.getpid(), signal.SIGKILL)


def replace(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Rename ``src`` onto ``dst`` (a file, or a folder onto an absent or empty one) in one step."""
    _file_event("rename", Path(dst))
    os.replace(src, dst)


def remove(path: str | os.PathLike) -> None:
    """Remove the file ``path`` if it exists."""
    path = Path(path)
    if path.exists():
        _file_event("remove", path)
        path.unlink(missing_ok=True)


def _umask() -> int:
    """The process's umask (read by setting it, then setting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what a plain open() gives a new file
DIR_MODE = 0o777 & ~_umask()  # what mkdir gives a new folder


class OutputError(RnnlabError):
    """The output location cannot be written (read-only folder, full disk, ...)."""

    exit_code = 1


def _explain(path: Path, exc: OSError) -> OutputError:
    if exc.errno == errno.ENOSPC:
        why = "the disk is full; free some space or choose another output folder"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = "permission denied (read-only folder?); choose a writable output folder"
    else:
        why = exc.strerror or str(exc)
    return OutputError(f"Cannot write '{path}': {why}.")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success fsync it and rename it onto ``path``.

    Use it for writers that want a file name (matplotlib, safetensors, pandas)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, FILE_MODE)  # mkstemp makes 0600 files; results are meant to be shared like any file
        os.close(fd)
    except OSError as exc:
        raise _explain(path, exc) from None
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            # the writer may have replaced the temporary file with its own (safetensors writes a
            # new 0600 file): every result gets the umask mode, like any new file
            os.fchmod(fh.fileno(), FILE_MODE)
            os.fsync(fh.fileno())
        replace(tmp_path, path)
    except OSError as exc:
        tmp_path.unlink(missing_ok=True)
        raise _explain(path, exc) from None
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def temp_dir(path: str | os.PathLike) -> Path:
    """A new empty folder beside ``path`` with a hidden temporary name (``.<name>.*.tmp``),
    readable like any folder; fill it, then :func:`replace` it onto ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        os.chmod(tmp, DIR_MODE)  # mkdtemp makes 0700 folders
    except OSError as exc:
        raise _explain(path, exc) from None
    return tmp


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Atomically write ``data`` to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Atomically write UTF-8 ``text`` to ``path``."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON (NaN becomes null, keys keep their order)."""
    write_text(path, json.dumps(_json_safe(obj), indent=2, ensure_ascii=False) + "\n")


def _json_safe(obj: Any) -> Any:
    """Replace float NaN/inf (not valid JSON) by None, recursively; numpy scalars to Python."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        try:
            obj = obj.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(obj, float) and (obj != obj or obj in (float("inf"), float("-inf"))):
        return None
    return obj


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def pyplot():
    """matplotlib's pyplot: on the file-only Agg backend (no display needed), unless the program
    already uses pyplot: a notebook's inline backend stays, or training in a notebook would stop
    its plots from showing (rnnlab's own figures are closed once written, so none is shown)."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Lay out, write atomically as PNG, and close a matplotlib figure."""
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    pyplot().close(fig)
    return Path(path)
