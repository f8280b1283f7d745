"""Keep freed memory for reuse while training (glibc's malloc).

A training step allocates the same large temporaries every time: the embedding's output, each
recurrent layer's gate activations and the gradients of both, tens of MB each at M3's shape
(256 rows x 200 steps x 128 features). glibc serves a block above its mmap threshold (128 kB,
adjusted up to 32 MB) with a fresh ``mmap`` and unmaps it on free, and trims the top of the
heap once 2x that threshold is free, so every step faulted its temporaries in again, page by
page: in the profile, copies into fresh (256, 200, 128) tensors ran at ~2 GB/s. With
``M_MMAP_MAX = 0`` (blocks come from the heap) and a trim threshold of 2 GB (the heap keeps
them), an M3 epoch on one thread took 2.77 s instead of 3.54 s (20 random batches, 2-core AMD
EPYC VM, /work/trials/s14/m3ep.py); a threshold of 32 MB alone gave 3.0 s.

:func:`keep_freed_memory` sets both for the duration of ``fit`` and restores glibc's defaults
after, then gives the kept memory back (``malloc_trim``), so a notebook's process is as before.
It does nothing where the C library has no ``mallopt`` (not glibc) or ``RNNLAB_HEAP=off``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import threading

ENV = "RNNLAB_HEAP"
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's mallopt parameters
KEEP = {M_MMAP_MAX: 0, M_TRIM_THRESHOLD: 2**31 - 1}  # mallopt takes an int: ~2 GB
DEFAULTS = {M_MMAP_MAX: 65536, M_TRIM_THRESHOLD: 128 * 1024}  # glibc's DEFAULT_MMAP_MAX, DEFAULT_TRIM_THRESHOLD
_lock = threading.Lock()
_users = 0
_libc: list = []


def _mallopt():
    """glibc's (mallopt, malloc_trim), or None."""
    if not _libc:
        fns = None
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            fns = (libc.mallopt, libc.malloc_trim)
            fns[0].argtypes, fns[0].restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            fns[1].argtypes, fns[1].restype = [ctypes.c_size_t], ctypes.c_int
        except (OSError, AttributeError):
            fns = None
        _libc.append(fns)
    return _libc[0]


def _set(values: dict) -> bool:
    fns = _mallopt()
    if fns is None:
        return False
    return all(fns[0](param, value) == 1 for param, value in values.items())


@contextlib.contextmanager
def keep_freed_memory():
    """While inside (also as a decorator), freed blocks stay in the heap for the next
    allocation; nested and concurrent uses share one setting, restored when the last ends.

    Yields:
        True when the setting applies (glibc, ``RNNLAB_HEAP`` not "off"), else False.
    """
    global _users
    if os.environ.get(ENV, "").strip().lower() == "off" or _mallopt() is None:
        yield False
        return
    with _lock:
        _users += 1
        applied = _set(KEEP) if _users == 1 else True
    try:
        yield applied
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                _set(DEFAULTS)
                _mallopt()[1](0)
