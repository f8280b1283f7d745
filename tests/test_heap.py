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


@needs_glibc
def test_blocks_above_32mb_stay_mmaps_unless_large(monkeypatch):
    monkeypatch.delenv(_heap.ENV, raising=False)
    with _heap.keep_freed_memory(large=False):
        _faults_of_reallocating(1)
        big = _faults_of_reallocating()  # 64 MB: above glibc's largest mmap threshold
        small = _faults_of_reallocating_size(16 << 20)
    assert big >= 4 * (SIZE >> 21)
    assert small < (16 << 20) >> 21


def _faults_of_reallocating_size(size: int, times: int = 4) -> int:
    global SIZE
    keep, SIZE = SIZE, size
    try:
        _faults_of_reallocating(1)
        return _faults_of_reallocating(times)
    finally:
        SIZE = keep


@pytest.mark.parametrize("layers, compile_env, large", [
    ([{"type": "GRU", "units": 8}, {"type": "Dense"}], "auto", True),
    ([{"type": "LSTM", "units": 8, "bidirectional": True}, {"type": "Dense"}], "auto", False),  # torch's LSTM
    ([{"type": "GRU", "units": 8}, {"type": "Dense"}], "off", False)])
def test_fit_keeps_every_block_only_where_fused_kernels_train_every_recurrent_layer(
        layers, compile_env, large, tmp_path, monkeypatch):
    import contextlib

    import rnnlab
    from helpers import toy_config, write_toy_csv
    from rnnlab.models import fused
    from rnnlab.train import fit as fit_module

    monkeypatch.setenv(fused.ENV, compile_env)
    if compile_env != "off" and fused.library() is None:
        pytest.skip(f"fused kernels unavailable: {fused.status()}")
    seen = []
    monkeypatch.setattr(fit_module, "keep_freed_memory",
                        lambda large=True: seen.append(large) or contextlib.nullcontext(True))
    cfg = toy_config(write_toy_csv(tmp_path / "toy.csv", n=120), tmp_path / "runs", fit__epochs=1,
                     model__layers=layers)
    rnnlab.train(cfg)
    assert seen == [large]
