"""Small C kernels, compiled on first use and loaded with ctypes.

A kernel is one C file in the package (``models/fused_rnn.c``: the SimpleRNN recurrence;
``text/split_count.c``: the tokenizer's word split and count; ``train/adam.c``: Adam's update of
a large parameter in one pass). :func:`build` compiles it with the
system's C compiler (``$CC``, else ``cc`` or ``gcc``; about a second, no Python or torch headers)
into rnnlab's cache folder (``$XDG_CACHE_HOME/rnnlab/<folder>``, else ``~/.cache/rnnlab``), once
per source and platform, and loads it. Without a compiler, or with ``RNNLAB_COMPILE=off``, every
caller runs its pure-Python / torch / Arrow path instead: the results are the same.

Where the CPU's feature flags can be read (``/proc/cpuinfo``, Linux) the kernel is built for
this CPU (``-march=native``: AVX2 and FMA where the CPU has them, as XLA compiles for its host;
measured 1.3x on the SimpleRNN forward here) and the flags are part of the cache key, so a cache
folder shared by machines with other CPUs never loads a library built for another; a compiler
that refuses ``-march=native`` gets the portable build.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ENV = "RNNLAB_COMPILE"  # 'off' disables every compiled kernel ('auto', the default, uses them)


def enabled() -> bool:
    """False when ``RNNLAB_COMPILE=off`` (or 0 / false / no)."""
    return os.environ.get(ENV, "auto").strip().lower() not in ("off", "0", "false", "no")


def cache_dir(folder: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rnnlab" / folder


def cpu_flags() -> str:
    """This CPU's feature flags (``flags`` / ``Features`` of /proc/cpuinfo), or "" when unknown."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                name, _, value = line.partition(":")
                if name.strip() in ("flags", "Features"):
                    return value.strip()
    except OSError:
        pass
    return ""


def build(source: Path, folder: str, cflags: tuple[str, ...] = ()) -> tuple[ctypes.CDLL | None, str | None]:
    """(the loaded library, None), or (None, why not) when there is no compiler or the build or
    the load fails. Concurrent builds are safe: each writes a temporary file, then renames it.

    Args:
        source: the C file.
        folder: its cache folder's name under rnnlab's cache.
        cflags: extra compiler flags (part of the cache key). Default: none."""
    src = source.read_bytes()
    flags = cpu_flags()
    key = hashlib.sha256(src + sys.platform.encode() + os.uname().machine.encode()
                         + flags.encode() + " ".join(cflags).encode()).hexdigest()[:16]
    lib = cache_dir(folder) / f"{source.stem}-{key}.so"
    if not lib.exists():
        cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
        if not cc:
            return None, "no C compiler (cc / gcc / $CC) found"
        try:
            lib.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=lib.parent) as tmp:
                out = Path(tmp) / lib.name
                base = [cc, "-O3", *cflags, "-shared", "-fPIC", "-o", str(out), str(source), "-lm"]
                r = subprocess.run(base[:2] + ["-march=native"] + base[2:], capture_output=True, text=True,
                                   timeout=120) if flags else None
                if r is None or r.returncode != 0:
                    r = subprocess.run(base, capture_output=True, text=True, timeout=120)
                if r.returncode != 0:
                    return None, f"{cc} failed: {(r.stderr.strip().splitlines() or ['?'])[-1][:200]}"
                os.replace(out, lib)  # atomic: a concurrent build leaves one complete library
        except (OSError, subprocess.SubprocessError) as exc:
            return None, f"cannot build {lib.name}: {exc}"
    try:
        return ctypes.CDLL(str(lib)), None
    except OSError as exc:
        return None, f"cannot load {lib}: {exc}"


def load(cache: dict, source: Path, folder: str, declare: Callable[[ctypes.CDLL], None],
         cflags: tuple[str, ...] = ()) -> ctypes.CDLL | None:
    """The library of ``source``, built (:func:`build`) and declared once per process: kept in
    ``cache["lib"]`` (None when it cannot be built, with the reason in ``cache["reason"]``).

    Args:
        cache: the caller's module-level dict.
        source: the C file.
        folder: its cache folder's name under rnnlab's cache.
        declare: sets the argtypes / restype of the library's functions.
        cflags: extra compiler flags. Default: none."""
    if "lib" not in cache:
        dll, cache["reason"] = build(source, folder, cflags)
        if dll is not None:
            declare(dll)
        cache["lib"] = dll
    return cache["lib"]
