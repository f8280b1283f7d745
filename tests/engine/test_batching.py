"""Inference batches: every row once, each bucket of one width, pooled batches of small widths
padded to their longest with each row's own width beside it."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from rnnlab.engine.batching import inference_batches, inference_widths, pooled_batches


@settings(max_examples=200, deadline=None)
@given(lengths=st.lists(st.integers(0, 300), max_size=400), batch_size=st.integers(1, 64),
       pool=st.integers(1, 64), maxlen=st.one_of(st.none(), st.integers(1, 300)))
def test_pooled_batches_cover_every_row_once_at_its_own_width(lengths, batch_size, pool, maxlen):
    lengths = np.array(lengths, dtype=np.int64)
    widths = inference_widths(lengths, maxlen)
    batches = pooled_batches(lengths, batch_size, pool, maxlen)
    rows = np.concatenate([b[0] for b in batches]) if batches else np.zeros(0, dtype=np.int64)
    assert sorted(rows.tolist()) == list(range(len(lengths)))
    for index, width, own in batches:
        assert len(index) >= 1
        if own is None:  # a bucket: one width, at least `pool` rows of it in all, batch_size per pass
            assert len(index) <= batch_size and set(widths[index].tolist()) == {width}
            assert (widths == width).sum() >= pool
        else:  # pooled: widths with fewer than `pool` rows, padded to the longest
            assert len(index) <= pool and np.array_equal(own, widths[index]) and width == own.max()
            assert all((widths == w).sum() < pool for w in set(own.tolist()))


def test_pool_of_one_row_is_the_buckets():
    lengths = np.array([3, 17, 9, 17, 250, 1, 0])
    want = inference_batches(lengths, 2, True, 100)
    got = pooled_batches(lengths, 2, 1, 100)
    assert [(i.tolist(), w) for i, w in want] == [(i.tolist(), w) for i, w, own in got]
    assert all(own is None for *_, own in got)
