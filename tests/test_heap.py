"""rnnlab._heap: while training, freed large blocks stay in the heap, so the next step's
temporaries are not faulted in again page by page; glibc's defaults come back after."""

from __future__ import annotations

import ctypes
import resource

import pytest

from rnnlab import _heap

needs_glibc = pytest.mark.skipif(_heap._mallopt() is None, reason="the C library has no mallopt (not glibc)")
SIZE = 64 << 20


def _faults_of_reallocating(times: int = 4) -> int:
    """Minor page faults of allocating, touching and freeing SIZE bytes ``times`` times."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(times):
        p = libc.malloc(SIZE)
        ctypes.memset(p, 1, SIZE)
        libc.free(p)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@needs_glibc
def test_freed_blocks_are_reused_inside_and_not_outside(monkeypatch):
    monkeypatch.delenv(_heap.ENV, raising=False)
    outside = _faults_of_reallocating()
    with _heap.keep_freed_memory() as applied:
        assert applied
        _faults_of_reallocating(1)  # the first time faults the block in
        inside = _faults_of_reallocating()
    after = _faults_of_reallocating()
    assert outside >= 4 * (SIZE >> 21)  # each time a fresh mmap: every page again (at least every 2 MB one)
    assert inside * 8 < outside
    assert after * 2 > outside  # the defaults are back


@needs_glibc
def test_nested_and_decorated_uses_restore_once_the_last_ends(monkeypatch):
    monkeypatch.delenv(_heap.ENV, raising=False)
    @_heap.keep_freed_memory()
    def inner():
        return _heap._users

    with _heap.keep_freed_memory():
        assert inner() == 2
        assert _heap._users == 1
        _faults_of_reallocating(1)
        assert _faults_of_reallocating() < (SIZE >> 21)  # still kept after inner ended: not even one per 2 MB
    assert _heap._users == 0


def test_off_leaves_malloc_alone(monkeypatch):
    monkeypatch.setenv(_heap.ENV, "off")
    with _heap.keep_freed_memory() as applied:
        assert applied is False
        assert _heap._users == 0
