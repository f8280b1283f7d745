"""Small C kernels, compiled on first use and loaded with ctypes.

A kernel is one C file in the package (``models/fused_rnn.c``: the SimpleRNN recurrence;
``text/split_count.c``: the tokenizer's word split and count). :func:`build` compiles it with the
system's C compiler (``$CC``, else ``cc`` or ``gcc``; about a second, no Python or torch headers)
into rnnlab's cache folder (``$XDG_CACHE_HOME/rnnlab/<folder>``, else ``~/.cache/rnnlab``), once
per source and platform, and loads it. Without a compiler, or with ``RNNLAB_COMPILE=off``, every
caller runs its pure-Python / torch / Arrow path instead: the results are the same.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ENV = "RNNLAB_COMPILE"  # 'off' disables every compiled kernel ('auto', the default, uses them)


def enabled() -> bool:
    """False when ``RNNLAB_COMPILE=off`` (or 0 / false / no)."""
    return os.environ.get(ENV, "auto").strip().lower() not in ("off", "0", "false", "no")


def cache_dir(folder: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rnnlab" / folder


def build(source: Path, folder: str) -> tuple[ctypes.CDLL | None, str | None]:
    """(the loaded library, None), or (None, why not) when there is no compiler or the build or
    the load fails. Concurrent builds are safe: each writes a temporary file, then renames it."""
    src = source.read_bytes()
    key = hashlib.sha256(src + sys.platform.encode() + os.uname().machine.encode()).hexdigest()[:16]
    lib = cache_dir(folder) / f"{source.stem}-{key}.so"
    if not lib.exists():
        cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
        if not cc:
            return None, "no C compiler (cc / gcc / $CC) found"
        try:
            lib.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=lib.parent) as tmp:
                out = Path(tmp) / lib.name
                r = subprocess.run([cc, "-O3", "-shared", "-fPIC", "-o", str(out), str(source), "-lm"],
                                   capture_output=True, text=True, timeout=120)
                if r.returncode != 0:
                    return None, f"{cc} failed: {(r.stderr.strip().splitlines() or ['?'])[-1][:200]}"
                os.replace(out, lib)  # atomic: a concurrent build leaves one complete library
        except (OSError, subprocess.SubprocessError) as exc:
            return None, f"cannot build {lib.name}: {exc}"
    try:
        return ctypes.CDLL(str(lib)), None
    except OSError as exc:
        return None, f"cannot load {lib}: {exc}"
