"""Keep freed memory for reuse while training (glibc's malloc).

A training step allocates the same large temporaries every time: the embedding's output, each
recurrent layer's gate activations and the gradients of both, tens of MB each at M3's shape
(256 rows x 200 steps x 128 features). glibc serves a block above its mmap threshold (128 kB,
adjusted up to 32 MB) with a fresh ``mmap`` and unmaps it on free, and trims the top of the
heap once 2x that threshold is free, so every step faulted its temporaries in again, page by
page: in the profile, copies into fresh (256, 200, 128) tensors ran at ~2 GB/s.

:func:`keep_freed_memory` raises the trim threshold to ~2 GB (the heap keeps what is freed) and
either serves every block from the heap (``M_MMAP_MAX = 0``: ``large=True``) or only blocks up
to 32 MB (the largest mmap threshold glibc takes). ``fit`` takes the first where rnnlab's fused
kernels train every recurrent layer: their few, regular buffers reuse the same heap space step
after step. Torch's own LSTM allocates many blocks of varying sizes, which fragment a heap that
never unmaps, so it gets the second. Measured on one thread, 2-core AMD EPYC VM, 2026-12-03:

- M3 (BiGRU(64), fused), 20 random batches of 256 (/work/trials/s14/m3mode.py): epoch 3.48 to
  3.53 s with glibc's defaults, 3.20 to 3.31 s with blocks up to 32 MB, 2.88 to 2.90 s with all
  blocks; peak RSS 865, 921 and 964 MB.
- examples/jigsaw_lstm.toml with ``RNNLAB_COMPILE=off`` (torch's LSTM), 8 epochs
  (/work/trials/s14/rss.py): 1.5, 1.4 and 1.2 s per epoch; peak RSS 948, 987 and 1,329 MB.

Both restore glibc's defaults after and give the kept memory back (``malloc_trim``), so a
notebook's process is as before. Nothing happens where the C library has no ``mallopt`` (not
glibc) or ``RNNLAB_HEAP=off``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import threading

ENV = "RNNLAB_HEAP"
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4  # glibc's mallopt parameters
KEEP_ALL = {M_MMAP_MAX: 0, M_TRIM_THRESHOLD: 2**31 - 1}  # mallopt takes an int: ~2 GB
KEEP_UP_TO_32MB = {M_MMAP_THRESHOLD: 32 << 20, M_TRIM_THRESHOLD: 2**31 - 1}
# glibc's DEFAULT_MMAP_MAX, DEFAULT_MMAP_THRESHOLD and DEFAULT_TRIM_THRESHOLD
DEFAULTS = {M_MMAP_MAX: 65536, M_MMAP_THRESHOLD: 128 * 1024, M_TRIM_THRESHOLD: 128 * 1024}
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
def keep_freed_memory(large: bool = True):
    """While inside (also as a decorator), freed blocks stay in the heap for the next
    allocation; nested and concurrent uses share the first one's setting, restored when the
    last ends.

    Args:
        large: also serve blocks above 32 MB from the heap (``M_MMAP_MAX = 0``); False keeps
            those as fresh mmaps; default True.

    Yields:
        True when a setting applies (glibc, ``RNNLAB_HEAP`` not "off"), else False.
    """
    global _users
    if os.environ.get(ENV, "").strip().lower() == "off" or _mallopt() is None:
        yield False
        return
    with _lock:
        _users += 1
        applied = _set(KEEP_ALL if large else KEEP_UP_TO_32MB) if _users == 1 else True
    try:
        yield applied
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                _set(DEFAULTS)
                _mallopt()[1](0)
